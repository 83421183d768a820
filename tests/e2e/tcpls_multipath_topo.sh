#!/bin/sh
# TCPLS multipath over an emulated two-link topology (mplab topo, unique MPLAB_PREFIX): the
# server advertises both addresses, the client joins one connection per link, and link l1
# goes down mid-transfer: the download completes over l2, content verified, SHA-256 intact, and
# the carrier loss is noticed through rtnetlink (not the acknowledgment timeout).
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ip tc ethtool
export MPLAB_PREFIX="mtp$$"
export MPLAB_RUNDIR="$T_TMP/run"
export MPLAB_CERT_DIR="$T_TMP/certs"
at_exit "$MPLAB topo down --all"
"$MPLAB" cert >/dev/null 2>&1 || fail "mplab cert"

cat >"$T_TMP/two.ini" <<'INI'
[topology]
name = tp
mptcp = no
[host client]
[host server]
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
"$MPLAB" exec --topo tp server -- "$MPLAB" serve --proto tcpls --listen 10.0.1.2:8443 --listen 10.0.2.2:8443 \
    2>"$T_TMP/srv.log" &
srv=$!
at_exit "kill $srv"
wait_for 20 "grep -q 'listening on 10.0.2.2:8443' $T_TMP/srv.log" || fail "server did not start: $(cat $T_TMP/srv.log)"

"$MPLAB" link --topo tp schedule '2s l1 down' >/dev/null 2>&1 &
sched=$!
at_exit "kill $sched"
# /bytes/30M: about 3 s over both links, 6 s over one
out=$("$MPLAB" exec --topo tp client -- "$MPLAB" get --proto tcpls --json --timeout 20 --servername mplab-server \
    --bind 10.0.1.1 --bind 10.0.2.1 "https://10.0.1.2:8443/bytes/30M" 2>"$T_TMP/cli.err") ||
    fail "get failed: $(cat $T_TMP/cli.err) $(cat $T_TMP/srv.log)"
echo "$out" | grep -q '"verified":true' || fail "not verified: $out"
echo "$out" | grep -q '"bytes":30000000' || fail "bytes: $out"
# sha256 of /bytes/30M (src/xfer/bytesgen.c)
want=$("$MPLAB" exec --topo tp client -- "$MPLAB" get --proto tcpls --json --timeout 20 --servername mplab-server \
    --bind 10.0.2.1 "https://10.0.2.2:8443/bytes/30M" 2>/dev/null | grep -o '"sha256":"[0-9a-f]*"')
[ -n "$want" ] || fail "reference download over l2"
echo "$out" | grep -q "$want" || fail "sha256 differs: $out"
echo "$out" | grep -q '"remote":"10.0.2.2:8443"' || fail "no connection to the second server address: $out"
grep -q 'joined' "$T_TMP/srv.log" || fail "no join: $(cat $T_TMP/srv.log)"
grep -q 'failing over\|closed' "$T_TMP/srv.log" || fail "the server saw no failure: $(cat $T_TMP/srv.log)"
# the carrier loss is noticed at once (rtnetlink), not after the blackhole timeout
grep -q 'interface l1 is down, failing over' "$T_TMP/srv.log" "$T_TMP/cli.err" ||
    fail "carrier loss not noticed: $(cat $T_TMP/srv.log $T_TMP/cli.err)"

"$MPLAB" link --topo tp set l1 up >/dev/null || fail "link up"
"$MPLAB" link --topo tp set l1 blackhole >/dev/null || fail "link blackhole"
t0=$(date +%s)
out=$("$MPLAB" exec --topo tp client -- "$MPLAB" get --proto tcpls --json --timeout 20 --servername mplab-server \
    --bind 10.0.1.1 --bind 10.0.2.1 "https://10.0.2.2:8443/bytes/1M" 2>"$T_TMP/cli2.err") ||
    fail "get with l1 blackholed failed: $(cat $T_TMP/cli2.err)"
echo "$out" | grep -q '"verified":true' || fail "not verified: $out"
grep -q 'connection 0 from 10.0.1.1: .*trying from the next address' "$T_TMP/cli2.err" ||
    fail "connection 0 not tried from 10.0.2.1: $(cat $T_TMP/cli2.err)"
[ $(($(date +%s) - t0)) -le 10 ] || fail "the session took more than 10 s to start"
echo "ok"
