#!/bin/sh
# mplab serve/get over MPTCP on loopback: TCP_IS_MPTCP says MPTCP, subflows are listed,
# 'mptcpize run curl' gets the same bytes, and a TCP-only server shows the fallback.
. "$(dirname "$0")/lib.sh"
need_cmd curl sha256sum
need_mptcp

port=$(free_port)
"$MPLAB" serve --proto mptcp --listen "127.0.0.1:$port" 2>"$T_TMP/srv.log" &
srv=$!
at_exit "kill -9 $srv"
wait_for 10 "grep -q 'listening on' $T_TMP/srv.log" || fail "server did not start: $(cat $T_TMP/srv.log)"
grep -q "(mptcp)" "$T_TMP/srv.log" || fail "listening line"

out=$("$MPLAB" get --proto mptcp --json "http://127.0.0.1:$port/bytes/20M") || fail "get: $out"
echo "$out"
for f in '"mptcp":true' '"subflows":\[{"local":"127.0.0.1:' '"verified":true' '"bytes_received":'; do
    echo "$out" | grep -q "$f" || fail "missing $f"
done
sha=$(echo "$out" | sed -n 's/.*"sha256":"\([0-9a-f]*\)".*/\1/p')
if command -v mptcpize >/dev/null 2>&1; then
    csha=$(mptcpize run curl -sS "http://127.0.0.1:$port/bytes/20M" | sha256sum | cut -d' ' -f1)
    [ "$sha" = "$csha" ] || fail "mptcpize curl sha differs"
fi
# plain curl (TCP) against the MPTCP server works too (the server falls back)
csha=$(curl -sS "http://127.0.0.1:$port/bytes/20M" | sha256sum | cut -d' ' -f1)
[ "$sha" = "$csha" ] || fail "tcp curl sha differs"

# MPTCP client against a TCP server: falls back, reported
tport=$(free_port)
"$MPLAB" serve --proto tcp --listen "127.0.0.1:$tport" 2>"$T_TMP/tsrv.log" &
tsrv=$!
at_exit "kill -9 $tsrv"
wait_for 10 "grep -q 'listening on' $T_TMP/tsrv.log" || fail "tcp server did not start"
out=$("$MPLAB" get --proto mptcp --json "http://127.0.0.1:$tport/bytes/1M") || fail "fallback get: $out"
echo "$out" | grep -q '"mptcp":false' || fail "fallback not reported: $out"
out=$("$MPLAB" get --proto mptcp "http://127.0.0.1:$tport/bytes/1M") || fail "fallback get (human)"
echo "$out" | grep -q 'fell back' || fail "human fallback line: $out"
# --cc: applied to the subflows; an unknown algorithm is an error (MPTCP sockets would take it)
"$MPLAB" get -q --proto mptcp --cc reno "http://127.0.0.1:$port/bytes/1M" || fail "--cc reno"
"$MPLAB" get --proto mptcp --cc no-such-cc "http://127.0.0.1:$port/bytes/1M" 2>"$T_TMP/err"
[ $? = 1 ] || fail "unknown cc accepted for mptcp"
grep -q no-such-cc "$T_TMP/err" || fail "cc error: $(cat "$T_TMP/err")"
kill -TERM $srv
wait $srv || fail "serve exit code"
echo ok
