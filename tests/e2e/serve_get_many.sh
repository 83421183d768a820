#!/bin/sh
# Many clients at once on one server (tcp and tls), while bad clients misbehave: a TLS
# handshake that never completes, a client that connects and sends nothing, one reset in the
# middle of a download. Also: uploads (get --upload) and --cc on both sides.
. "$(dirname "$0")/lib.sh"
need_cmd curl
export MPLAB_CERT_DIR="$T_TMP/certs"

port=$(free_port)
tport=$(free_port)
"$MPLAB" serve --cc cubic --listen "127.0.0.1:$port" --stats "$T_TMP/stats.json" 2>"$T_TMP/srv.log" &
srv=$!
at_exit "kill -9 $srv"
"$MPLAB" serve --proto tls --listen "127.0.0.1:$tport" 2>"$T_TMP/tsrv.log" &
tsrv=$!
at_exit "kill -9 $tsrv"
wait_for 20 "grep -q 'listening on' $T_TMP/srv.log && grep -q 'listening on' $T_TMP/tsrv.log" ||
    fail "servers did not start"

# bad clients first: they stay connected during the good downloads
timeout 30 curl -sS -m 20 "telnet://127.0.0.1:$port" </dev/null >/dev/null 2>&1 &
timeout 30 curl -sS -m 20 "telnet://127.0.0.1:$tport" </dev/null >/dev/null 2>&1 &
printf '\026\003\001\000\005hello' | timeout 30 curl -sS -m 20 "telnet://127.0.0.1:$tport" >/dev/null 2>&1 &
timeout 30 curl -sS -m 0.3 "http://127.0.0.1:$port/bytes/100G" >/dev/null 2>&1 &

pids=""
i=0
while [ $i -lt 12 ]; do
    "$MPLAB" get -q --cc reno "http://127.0.0.1:$port/bytes/3M" >"$T_TMP/c$i.out" 2>&1 &
    pids="$pids $!"
    "$MPLAB" get -q "https://127.0.0.1:$tport/bytes/2M" >"$T_TMP/t$i.out" 2>&1 &
    pids="$pids $!"
    i=$((i + 1))
done
bad=0
for p in $pids; do wait "$p" || bad=$((bad + 1)); done
[ $bad = 0 ] || fail "$bad of 24 concurrent downloads failed: $(cat "$T_TMP"/*.out)"

# uploads: the server counts the body
out=$("$MPLAB" get --json --upload 20M "http://127.0.0.1:$port/upload") || fail "upload: $out"
echo "$out" | grep -q '"direction":"upload"' || fail "upload direction: $out"
echo "$out" | grep -q '"bytes":20000000' || fail "upload bytes: $out"
out=$("$MPLAB" get --json --upload 1M "https://127.0.0.1:$tport/upload") || fail "tls upload: $out"
"$MPLAB" get --upload 10 "http://127.0.0.1:$port/elsewhere" 2>/dev/null && fail "upload to a wrong path succeeded"
# curl sends "Expect: 100-continue" for large bodies: answered at once (no 1 s wait)
head -c 3000000 /dev/zero >"$T_TMP/up.bin"
out=$(curl -sS -m 10 -w ' %{time_total}' --data-binary @"$T_TMP/up.bin" "http://127.0.0.1:$port/upload") ||
    fail "curl upload"
echo "curl upload: $out"
case "$out" in '{"bytes":3000000,'*) ;; *) fail "curl upload answer: $out" ;; esac

kill -TERM $srv
wait $srv || fail "serve exit code"
grep -q '"bytes_received":2[0-9]\{7\}' "$T_TMP/stats.json" || fail "upload not in stats: $(cat "$T_TMP/stats.json")"
echo ok
