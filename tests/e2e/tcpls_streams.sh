#!/bin/sh
# mplab serve --proto tcpls: 100 concurrent streams in one session; plain TLS fallback (curl,
# mplab get --proto tls); garbage and tampered records after the handshake end that session
# only, while another session's download goes on.
. "$(dirname "$0")/lib.sh"
export MPLAB_CERT_DIR="$T_TMP/certs"

port=$(free_port)
"$MPLAB" serve --proto tcpls --listen "127.0.0.1:$port" --stats "$T_TMP/stats.json" 2>"$T_TMP/srv.log" &
srv=$!
at_exit "kill -9 $srv"
wait_for 20 "grep -q 'listening on 127.0.0.1:$port (tcpls)' $T_TMP/srv.log" || fail "server did not start: $(cat $T_TMP/srv.log)"
base="https://127.0.0.1:$port"

# 100 streams, sizes 1000..100000 bytes: 5.05 MB in all
urls=""
total=0
i=1
while [ $i -le 100 ]; do
    urls="$urls $base/bytes/$((i * 1000))"
    total=$((total + i * 1000))
    i=$((i + 1))
done
# shellcheck disable=SC2086
out=$("$MPLAB" get --proto tcpls --json $urls) || fail "100 streams: $out"
echo "$out" | grep -q '"verified":true' || fail "100 streams not verified: $out"
echo "$out" | grep -q "\"bytes\":$total," || fail "100 streams: bytes (want $total): $out"

# plain TLS fallback: curl and our TLS client get the same bytes from the tcpls server
if command -v curl >/dev/null 2>&1; then
    n=$(curl -sS --cacert "$MPLAB_CERT_DIR/ca.pem" "https://localhost:$port/bytes/2M" | wc -c)
    [ "$n" = 2000000 ] || fail "curl got $n bytes"
fi
out=$("$MPLAB" get --proto tls --json "$base/bytes/3M") || fail "tls fallback: $out; server: $(tail -n 30 "$T_TMP/srv.log")"
echo "$out" | grep -q '"verified":true' || fail "tls fallback not verified"

# and the other way round: our TCPLS client against a plain TLS server (requests in turn)
tport=$(free_port)
"$MPLAB" serve --proto tls --quiet --listen "127.0.0.1:$tport" 2>"$T_TMP/tls.log" &
at_exit "kill -9 $!"
wait_for 20 "grep -q 'listening on 127.0.0.1:$tport' $T_TMP/tls.log" || fail "tls server did not start"
out=$("$MPLAB" get --proto tcpls --json "https://127.0.0.1:$tport/bytes/1M" "https://127.0.0.1:$tport/bytes/10") ||
    fail "tcpls client vs tls server: $out"
echo "$out" | grep -q '"tcpls":false' || fail "tcpls client vs tls server: not a fallback: $out"
echo "$out" | grep -q '"verified":true' || fail "tcpls client vs tls server: not verified: $out"

# faults in other sessions while a long download runs
"$MPLAB" get --proto tcpls --json --timeout 60 "$base/bytes/300M" >"$T_TMP/long.json" 2>&1 &
long=$!
at_exit "kill -9 $long"
for fault in garbage tamper garbage tamper; do
    MPLAB_TCPLS_INJECT=$fault "$MPLAB_TESTING" get --proto tcpls "$base/bytes/1M" 2>"$T_TMP/fault.err" &&
        fail "$fault: the client should fail"
    grep -q "fatal alert\|failed while sending" "$T_TMP/fault.err" || fail "$fault: $(cat "$T_TMP/fault.err")"
done
wait $long || fail "the other session failed: $(cat "$T_TMP/long.json")"
grep -q '"verified":true' "$T_TMP/long.json" || fail "long download not verified"
grep -q "record authentication failed" "$T_TMP/srv.log" || fail "no tamper detection logged"
grep -q "malformed record\|authentication failed" "$T_TMP/srv.log" || fail "no garbage detection logged"

# still serving
"$MPLAB" get --proto tcpls -q "$base/bytes/1k" || fail "server stopped serving"
kill -INT $srv
wait_for 10 "! kill -0 $srv" || fail "server did not stop"
errors=$(sed -n 's/.*"errors":\([0-9]*\).*/\1/p' "$T_TMP/stats.json")
[ "${errors:-0}" -ge 2 ] || fail "server errors: $(cat "$T_TMP/stats.json") $(cat "$T_TMP/srv.log")"
cat "$T_TMP/stats.json"; echo; echo "ok"
