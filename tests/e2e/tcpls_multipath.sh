#!/bin/sh
# TCPLS multipath on loopback (127.0.0.1, .2, .3): a download over three joined connections,
# one of them killed mid-transfer with `ss -K` (content verified, SHA-256 as over one path);
# an upload spread over two connections; a priority change (--backup-at); a forged token and a replayed token are refused with
# illegal_parameter while the session they aimed at goes on.
. "$(dirname "$0")/lib.sh"
need_cmd ss
need_testing_build
export MPLAB_CERT_DIR="$T_TMP/certs"

port=$(free_port)
"$MPLAB" serve --proto tcpls --listen "127.0.0.1:$port" --tokens 3 --blackhole-timeout 1s \
    --stats "$T_TMP/stats.json" 2>"$T_TMP/srv.log" &
srv=$!
at_exit "kill -9 $srv"
wait_for 20 "grep -q 'listening on 127.0.0.1:$port (tcpls)' $T_TMP/srv.log" || fail "server did not start: $(cat $T_TMP/srv.log)"
url="https://127.0.0.1:$port/bytes/1G"

# sha256 of /bytes/1G (src/xfer/bytesgen.c), as over tcp, tls and one tcpls connection
ref=f7dce24bd8845a70e103193158f638380717c306d44fa4147996540c2ac600d8

# three paths, connection from 127.0.0.2 killed mid-transfer
"$MPLAB" get --proto tcpls --json --timeout 30 --interval 0.5 --bind 127.0.0.1 --bind 127.0.0.2 --bind 127.0.0.3 \
    "$url" >"$T_TMP/mp.json" 2>"$T_TMP/mp.err" &
cli=$!
at_exit "kill -9 $cli"
wait_for 20 "grep -q 'connection 2 joined' $T_TMP/srv.log" || fail "no joins: $(cat $T_TMP/srv.log $T_TMP/mp.err)"
sleep 0.2
killed=$(ss -K -tn "src 127.0.0.2 and dport = :$port" 2>&1 | grep -c 127.0.0.2)
wait $cli || fail "multipath get failed: $(cat $T_TMP/mp.err)"
out=$(cat "$T_TMP/mp.json")
echo "$out" | grep -q '"verified":true' || fail "not verified: $out"
echo "$out" | grep -q "\"sha256\":\"$ref\"" || fail "sha256 differs from one path: $out"
echo "$out" | grep -q '"bytes":1000000000' || fail "bytes: $out"
n=$(echo "$out" | grep -o '"id":[0-9]*,"local"' | wc -l)
[ "$n" -ge 3 ] || fail "expected 3+ connections, got $n: $out"
echo "$out" | grep -q '"series":\[{"t":' || fail "no per-connection series: $out"
if [ "$killed" -ge 1 ]; then
    echo "$out" | grep -q '"state":"failed"' || fail "no failed connection after ss -K: $out"
    grep -q 'failed' "$T_TMP/mp.err" || fail "client did not report the failure"
    echo "killed one connection mid-transfer; failover kept every byte"
else
    echo "note: ss -K killed nothing (no INET_DIAG_DESTROY, or the transfer had finished)"
fi

# upload over two connections: the client schedules the request body over both
out=$("$MPLAB" get --proto tcpls --json --timeout 20 --bind 127.0.0.1 --bind 127.0.0.2 --upload 2G \
    "https://127.0.0.1:$port/upload" 2>"$T_TMP/up.err") || fail "upload failed: $(cat $T_TMP/up.err)"
echo "$out" | grep -q '"status":200' || fail "upload: no 200: $out"
echo "$out" | grep -q '"bytes":2000000000' || fail "upload: bytes: $out"
echo "$out" | grep -q '"direction":"upload"' || fail "upload: direction: $out"
n=$(echo "$out" | grep -o '"bytes_sent":[0-9]\{6,\}' | wc -l)
[ "$n" -ge 2 ] || fail "upload: expected two connections with 100 kB+ sent each: $out"
# priority change during the session: connection 0 becomes a backup at 0.3 s, then normal
out=$("$MPLAB" get --proto tcpls --json --timeout 20 --no-hash --bind 127.0.0.1 --bind 127.0.0.2 \
    --backup-at 0.3s:127.0.0.1 --normal-at 0.6s:127.0.0.1 "https://127.0.0.1:$port/bytes/1G" 2>"$T_TMP/prio.err") ||
    fail "priority change: get failed: $(cat $T_TMP/prio.err)"
echo "$out" | grep -q '"verified":true' || fail "priority change: not verified: $out"
grep -q 'now a backup' "$T_TMP/prio.err" || fail "priority change not applied: $(cat $T_TMP/prio.err)"
"$MPLAB" get --proto tcpls --bind 127.0.0.1 --backup-at 1s:127.0.0.9 "https://127.0.0.1:$port/bytes/1" 2>"$T_TMP/prio2.err"
[ $? -eq 2 ] && grep -q 'not one of the --bind' "$T_TMP/prio2.err" || fail "bad --backup-at accepted: $(cat $T_TMP/prio2.err)"
# forged token: that join is refused, the download completes on the other connection
out=$(MPLAB_TCPLS_INJECT=forge-token "$MPLAB_TESTING" get --proto tcpls --json --timeout 20 --bind 127.0.0.1 --bind 127.0.0.2 \
    "https://127.0.0.1:$port/bytes/300M" 2>"$T_TMP/forge.err") || fail "forged: get failed: $(cat $T_TMP/forge.err)"
echo "$out" | grep -q '"verified":true' || fail "forged: not verified"
echo "$out" | grep -q '"state":"refused"' || fail "forged: join not refused: $out"
grep -q 'join refused' "$T_TMP/srv.log" || fail "server did not log the refused join"

# replayed token: the replayed ClientHello gets illegal_parameter
MPLAB_TCPLS_INJECT=replay-token "$MPLAB_TESTING" get --proto tcpls --timeout 20 --bind 127.0.0.1 --bind 127.0.0.2 \
    "https://127.0.0.1:$port/bytes/300M" 2>"$T_TMP/replay.err" >/dev/null || fail "replay: get failed: $(cat $T_TMP/replay.err)"
grep -q 'replayed token refused' "$T_TMP/replay.err" || fail "replay not refused: $(cat $T_TMP/replay.err)"
[ "$(grep -c 'join refused' "$T_TMP/srv.log")" -ge 2 ] || fail "server did not log the replay: $(cat $T_TMP/srv.log)"

kill -INT $srv
wait_for 10 "! kill -0 $srv" || fail "server did not stop on SIGINT"
echo "ok"
