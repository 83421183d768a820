#!/bin/sh
# mplab serve/get --proto tcpls on loopback: a 1 GB download verified byte for byte and by
# SHA-256, and the --json fields of TCPLS (connections with record counters).
. "$(dirname "$0")/lib.sh"
export MPLAB_CERT_DIR="$T_TMP/certs"

port=$(free_port)
"$MPLAB" serve --proto tcpls --quiet --listen "127.0.0.1:$port" --stats "$T_TMP/stats.json" 2>"$T_TMP/srv.log" &
srv=$!
at_exit "kill -9 $srv"
wait_for 20 "grep -q 'listening on 127.0.0.1:$port (tcpls)' $T_TMP/srv.log" || fail "server did not start: $(cat $T_TMP/srv.log)"

# sha256 of /bytes/1G (src/xfer/bytesgen.c), the same over tcp, tls and tcpls
want=f7dce24bd8845a70e103193158f638380717c306d44fa4147996540c2ac600d8
out=$("$MPLAB" get --proto tcpls --json --timeout 60 "https://127.0.0.1:$port/bytes/1G") || fail "get: $out"
echo "$out"
echo "$out" | grep -q '"verified":true' || fail "not verified"
echo "$out" | grep -q "\"sha256\":\"$want\"" || fail "sha256 differs"
echo "$out" | grep -q '"proto":"tcpls"' || fail "proto"
echo "$out" | grep -q '"tcpls":true' || fail "TCPLS not negotiated"
echo "$out" | grep -q '"bytes":1000000000' || fail "bytes"
for f in id local remote bytes_sent bytes_received records_sent records_acked; do
    echo "$out" | grep -q "\"connections\":\[{.*\"$f\":" || fail "connections lacks $f"
done
echo "$out" | grep -q '"error":null' || fail "error set"

# a small one with -o: the file matches
"$MPLAB" get --proto tcpls -q -o "$T_TMP/body" "https://localhost:$port/bytes/100k" || fail "get -o"
[ "$(wc -c <"$T_TMP/body")" = 100000 ] || fail "body size"

# verification: another CA or a wrong name fails (exit 1, one line); --insecure and
# --servername work
mkdir -p "$T_TMP/other"
MPLAB_CERT_DIR="$T_TMP/other" "$MPLAB" cert >/dev/null || fail "cert"
"$MPLAB" get --proto tcpls --cacert "$T_TMP/other/ca.pem" "https://127.0.0.1:$port/bytes/10" 2>"$T_TMP/err" &&
    fail "wrong CA accepted"
[ "$(wc -l <"$T_TMP/err")" = 1 ] || fail "more than one error line: $(cat "$T_TMP/err")"
"$MPLAB" get --proto tcpls --servername wrong.example "https://127.0.0.1:$port/bytes/10" 2>/dev/null &&
    fail "wrong name accepted"
"$MPLAB" get --proto tcpls -q --servername mplab-server "https://127.0.0.1:$port/bytes/10" || fail "--servername"
"$MPLAB" get --proto tcpls -q --insecure --cacert "$T_TMP/other/ca.pem" "https://127.0.0.1:$port/bytes/10" ||
    fail "--insecure"

kill -INT $srv
wait_for 10 "! kill -0 $srv" || fail "server did not stop on SIGINT"
# the two refused handshakes are the only errors
errors=$(sed -n 's/.*"errors":\([0-9]*\).*/\1/p' "$T_TMP/stats.json")
[ "${errors:-0}" -le 2 ] || fail "server errors: $(cat "$T_TMP/stats.json")"
grep -q '"connections":6' "$T_TMP/stats.json" || fail "connections: $(cat "$T_TMP/stats.json")"
echo "ok"
