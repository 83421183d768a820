#!/bin/sh
# Several URLs at once over tcp and tls: get --parallel (one connection per URL) and
# --pipeline (every request on one connection up front) fetch and verify every /bytes/N body,
# and --json's objects_s gives each URL's completion time; a failing URL (404) fails the
# whole get; tcpls and --upload refuse the options (usage error). tcpls over two loopback
# addresses with --streams-policy pin: every stream verified, both connections carry data.
. "$(dirname "$0")/lib.sh"
need_cmd jq
export MPLAB_CERT_DIR="$T_TMP/certs"

port=$(free_port)
tport=$(free_port)
"$MPLAB" serve --listen "127.0.0.1:$port" --quiet 2>"$T_TMP/srv.log" &
at_exit "kill -9 $!"
"$MPLAB" serve --proto tls --listen "127.0.0.1:$tport" --quiet 2>"$T_TMP/tsrv.log" &
at_exit "kill -9 $!"
wait_for 20 "grep -q 'listening on' $T_TMP/srv.log && grep -q 'listening on' $T_TMP/tsrv.log" ||
    fail "servers did not start"

for base in "http://127.0.0.1:$port" "https://127.0.0.1:$tport"; do
    for mode in --parallel --pipeline; do
        out=$("$MPLAB" get $mode --json -q "$base/bytes/3M" "$base/bytes/1M" "$base/bytes/2M" "$base/bytes/5k") ||
            fail "$base $mode: $out"
        [ "$(echo "$out" | jq -r '.bytes, .verified, (.objects_s | length)' | tr '\n' ' ')" = "6005000 true 4 " ] ||
            fail "$base $mode: $out"
        echo "$out" | jq -e '[.objects_s[] | select(. > 0 and . <= 30)] | length == 4' >/dev/null ||
            fail "$base $mode objects_s: $out"
        if [ "$mode" = --pipeline ]; then # responses in order: completion times increase
            echo "$out" | jq -e '.objects_s as $o | ($o[0] <= $o[1] and $o[1] <= $o[2] and $o[2] <= $o[3])' \
                >/dev/null || fail "pipelined responses out of order: $out"
        fi
    done
    "$MPLAB" get --parallel -q "$base/bytes/1M" "$base/missing" >"$T_TMP/e.out" 2>&1 && fail "404 not reported"
    grep -q "HTTP 404" "$T_TMP/e.out" || fail "404: $(cat "$T_TMP/e.out")"
done
"$MPLAB" get --proto tcpls --parallel "https://127.0.0.1:$tport/bytes/1M" >/dev/null 2>&1
[ $? = 2 ] || fail "tcpls --parallel should be a usage error"
"$MPLAB" get --pipeline --upload 1M "http://127.0.0.1:$port/upload" >/dev/null 2>&1
[ $? = 2 ] || fail "--pipeline --upload should be a usage error"
# tcpls, streams pinned to the two connections
lport=$(free_port)
"$MPLAB" serve --proto tcpls --listen "127.0.0.1:$lport" --listen "127.0.0.2:$lport" --quiet 2>"$T_TMP/lsrv.log" &
at_exit "kill -9 $!"
wait_for 20 "[ \$(grep -c 'listening on' $T_TMP/lsrv.log) = 2 ]" || fail "tcpls server did not start"
u="https://127.0.0.1:$lport/bytes"
out=$("$MPLAB" get --proto tcpls --bind 127.0.0.1 --bind 127.0.0.2 --streams-policy pin --json -q \
    "$u/20M" "$u/20M" "$u/20M" "$u/20M") || fail "tcpls pin: $out"
[ "$(echo "$out" | jq -r '.bytes, .verified, (.objects_s | length)' | tr '\n' ' ')" = "80000000 true 4 " ] ||
    fail "tcpls pin: $out"
echo "$out" | jq -e '[.connections[] | select(.stream_bytes_received > 10000000)] | length == 2' >/dev/null ||
    fail "tcpls pin: both connections should carry streams: $(echo "$out" | jq -c '.connections')"
echo "ok"
