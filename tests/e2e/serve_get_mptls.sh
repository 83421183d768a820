#!/bin/sh
# mptls (TLS 1.3 over an IPPROTO_MPTCP socket) over an emulated two-link topology (mplab topo,
# unique MPLAB_PREFIX; the server signals its second address): 'mplab get --proto mptls' is
# verified against the project CA, uses two subflows (one per link) whose received bytes add
# up to the body, and curl through mptcpize against 'serve --proto mptls' gets the same SHA-256.
. "$(dirname "$0")/lib.sh"
need_root
need_mptcp
need_cmd ip tc ethtool curl sha256sum
export MPLAB_PREFIX="mtl$$"
export MPLAB_RUNDIR="$T_TMP/run"
export MPLAB_CERT_DIR="$T_TMP/certs"
at_exit "$MPLAB topo down --all"
"$MPLAB" cert >/dev/null 2>&1 || fail "mplab cert"

cat >"$T_TMP/two.ini" <<'INI'
[topology]
name = tl
[host client]
mptcp_endpoints = none
mptcp_subflows = 2
mptcp_add_addr_accepted = 2
[host server]
mptcp_endpoints = signal
[link l1]
a = client
b = server
rate = 40mbit
delay = 5ms
[link l2]
a = client
b = server
rate = 40mbit
delay = 10ms
INI
"$MPLAB" topo up "$T_TMP/two.ini" >/dev/null || fail "topo up"
"$MPLAB" exec --topo tl server -- "$MPLAB" serve --proto mptls --listen 0.0.0.0:8443 2>"$T_TMP/srv.log" &
srv=$!
at_exit "kill $srv"
wait_for 20 "grep -q 'listening on' $T_TMP/srv.log" || fail "server did not start: $(cat $T_TMP/srv.log)"
grep -q '(mptls)' "$T_TMP/srv.log" || fail "server log: $(cat $T_TMP/srv.log)"

# /bytes/20M: about 2 s over both links
out=$("$MPLAB" exec --topo tl client -- "$MPLAB" get --proto mptls --json --timeout 20 \
    --servername mplab-server "https://10.0.1.2:8443/bytes/20M" 2>"$T_TMP/cli.err") ||
    fail "get failed: $(cat $T_TMP/cli.err) $(cat $T_TMP/srv.log)"
echo "$out"
echo "$out" | grep -q '"proto":"mptls"' || fail "proto: $out"
echo "$out" | grep -q '"verified":true' || fail "not verified: $out"
echo "$out" | grep -q '"bytes":20000000' || fail "bytes: $out"
echo "$out" | grep -q '"mptcp":true' || fail "not MPTCP: $out"
echo "$out" | grep -q '"mptcp_info":{' || fail "no mptcp_info: $out"
subs=$(echo "$out" | sed -n 's/.*"subflows":\[\(.*\)\].*/\1/p')
echo "$subs" | grep -q '"remote":"10.0.1.2:8443"' || fail "no subflow on l1: $subs"
echo "$subs" | grep -q '"remote":"10.0.2.2:8443"' || fail "no subflow on l2: $subs"
n=$(echo "$subs" | grep -o '"bytes_received":[0-9]*' | wc -l)
[ "$n" -eq 2 ] || fail "$n subflows listed, expected 2: $subs"
# both carried data, and together at least the body plus the TLS records' overhead
echo "$subs" | grep -o '"bytes_received":[0-9]*' | cut -d: -f2 | while read -r b; do
    [ "$b" -gt 100000 ] || fail "a subflow received only $b bytes: $subs"
done || exit 1
sum=$(echo "$subs" | grep -o '"bytes_received":[0-9]*' | cut -d: -f2 | awk '{s += $1} END {print s}')
[ "$sum" -ge 20000000 ] || fail "subflow bytes add up to $sum"
sha=$(echo "$out" | sed -n 's/.*"sha256":"\([0-9a-f]*\)".*/\1/p')

# curl over MPTCP (mptcpize) against the mptls server: same bytes
if command -v mptcpize >/dev/null 2>&1; then
    csha=$("$MPLAB" exec --topo tl client -- mptcpize run curl -sS -m 30 --cacert "$MPLAB_CERT_DIR/ca.pem" \
        --resolve mplab-server:8443:10.0.1.2 "https://mplab-server:8443/bytes/20M" | sha256sum | cut -d' ' -f1)
    [ "$csha" = "$sha" ] || fail "curl (mptcpize) sha256 $csha differs from $sha"
    echo "curl over mptcpize: sha256 matches"
else
    echo "note: no mptcpize, curl part skipped"
fi
# plain TLS clients reach it too (an MPTCP listener accepts TCP)
"$MPLAB" exec --topo tl client -- "$MPLAB" get -q --proto tls --servername mplab-server \
    "https://10.0.1.2:8443/bytes/1M" || fail "tls client against the mptls server"
kill -INT $srv
wait $srv || fail "serve exit code after SIGINT"
echo ok
