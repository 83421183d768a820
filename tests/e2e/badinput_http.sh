#!/bin/sh
# Bad input never crashes or hangs anything: malformed/oversized requests, paths escaping
# --root, unknown protocols, unreachable servers, a server killed mid-transfer. The server
# keeps serving others throughout.
. "$(dirname "$0")/lib.sh"
need_cmd curl

port=$(free_port)
mkdir -p "$T_TMP/root"
echo inside >"$T_TMP/root/a.txt"
echo secret >"$T_TMP/secret.txt"
"$MPLAB" serve --listen "127.0.0.1:$port" --root "$T_TMP/root" --stats "$T_TMP/stats.json" 2>"$T_TMP/srv.log" &
srv=$!
at_exit "kill -9 $srv"
wait_for 10 "grep -q 'listening on' $T_TMP/srv.log" || fail "server did not start"
base="http://127.0.0.1:$port"

# raw bytes through curl's telnet:// (no HTTP on the client side)
raw() { printf "$1" | timeout 10 curl -sS -m 5 "telnet://127.0.0.1:$port" 2>/dev/null; }
raw 'GARBAGE\r\n\r\n' | grep -q '^HTTP/1.1 400' || fail "garbage: no 400"
raw 'BREW /pot HTTP/1.1\r\n\r\n' | grep -q '^HTTP/1.1 501' || fail "unknown method: no 501"
raw 'GET / HTTP/3.0\r\n\r\n' | grep -q '^HTTP/1.1 505' || fail "bad version: no 505"
raw 'POST /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n' | grep -q '^HTTP/1.1 501' || fail "chunked: no 501"
big=$(head -c 20000 /dev/zero | tr '\0' a)
raw "GET / HTTP/1.1\r\nX-Big: $big\r\n\r\n" | grep -q '^HTTP/1.1 431' || fail "oversized: no 431"
raw "GET /$big HTTP/1.1\r\n\r\n" | grep -qE '^HTTP/1.1 (414|431)' || fail "long URI: no 414"
raw 'GET /bytes/12zz HTTP/1.1\r\n\r\n' | grep -q '^HTTP/1.1 400' || fail "bad N: no 400"
# half a request, then the client goes away
raw 'GET /bytes/10 HTT' >/dev/null
# upload is counted
raw 'POST /upload HTTP/1.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello' | grep -q '{"bytes":5,' || fail "upload"

# paths escaping --root
for p in '/../secret.txt' '/%2e%2e/secret.txt' '/a.txt/../../secret.txt' '/..%2fsecret.txt'; do
    body=$(curl -sS --path-as-is "$base$p")
    case "$body" in *secret*) fail "escaped the root with $p" ;; esac
done
[ "$(curl -sS "$base/a.txt")" = inside ] || fail "a.txt"
ln -s "$T_TMP/secret.txt" "$T_TMP/root/link.txt"
case "$(curl -sS "$base/link.txt")" in *secret*) fail "followed a symlink out of the root" ;; esac

# client usage errors: exit 2
"$MPLAB" get --proto quic "$base/bytes/1" 2>/dev/null
[ $? = 2 ] || fail "unknown proto: exit code"
"$MPLAB" serve --proto quic 2>/dev/null
[ $? = 2 ] || fail "serve unknown proto: exit code"
"$MPLAB" get "ftp://127.0.0.1/x" 2>/dev/null
[ $? = 2 ] || fail "bad URL: exit code"
"$MPLAB" get 2>/dev/null
[ $? = 2 ] || fail "no URL: exit code"
"$MPLAB" get --cc no-such-cc "$base/bytes/1" 2>"$T_TMP/err"
[ $? = 1 ] || fail "unknown cc: exit code"
grep -q "no-such-cc" "$T_TMP/err" || fail "cc error: $(cat "$T_TMP/err")"

# unreachable server: refused, one line, exit 1, fast
dead=$(free_port)
timeout 20 "$MPLAB" get "http://127.0.0.1:$dead/bytes/1" 2>"$T_TMP/err"
[ $? = 1 ] || fail "unreachable: exit code"
grep -q "cannot connect" "$T_TMP/err" || fail "unreachable: $(cat "$T_TMP/err")"
[ "$(wc -l <"$T_TMP/err")" = 1 ] || fail "not one line"
out=$(timeout 20 "$MPLAB" get --json "http://127.0.0.1:$dead/bytes/1" 2>/dev/null)
echo "$out" | grep -q '"error":"cannot connect' || fail "JSON error: $out"

# a server that accepts and never answers (iperf3 waits for its own protocol): --timeout
if command -v iperf3 >/dev/null 2>&1; then
    ip3=$(free_port)
    iperf3 -s -1 -p "$ip3" >/dev/null 2>&1 &
    at_exit "kill -9 $!"
    wait_for 10 "ss -Hltn 'sport = :$ip3' | grep -q ." || fail "iperf3 did not start"
    timeout 20 "$MPLAB" get --timeout 1.5 "http://127.0.0.1:$ip3/bytes/1" 2>"$T_TMP/err"
    [ $? = 1 ] || fail "silent server: exit code"
    grep -q "timeout" "$T_TMP/err" || fail "silent server: $(cat "$T_TMP/err")"
fi

# the server still works, in parallel with a stalled client
timeout 10 curl -sS -m 5 "telnet://127.0.0.1:$port" </dev/null >/dev/null 2>&1 &
"$MPLAB" get -q "$base/bytes/1M" || fail "server stopped serving"

# a server killed mid-transfer: the client fails cleanly
port2=$(free_port)
"$MPLAB" serve --listen "127.0.0.1:$port2" 2>"$T_TMP/srv2.log" &
srv2=$!
at_exit "kill -9 $srv2"
wait_for 10 "grep -q 'listening on' $T_TMP/srv2.log" || fail "server 2 did not start"
timeout 60 "$MPLAB" get --timeout 10 "http://127.0.0.1:$port2/bytes/1T" 2>"$T_TMP/err2" &
cli=$!
wait_for 10 "ss -Htn state established '( sport = :$port2 )' | grep -q ." || fail "no connection"
sleep 0.3
kill -9 $srv2
wait $cli
rc=$?
cat "$T_TMP/err2"
[ $rc = 1 ] || fail "mid-transfer close: exit $rc"
grep -qE "closed|reset" "$T_TMP/err2" || fail "mid-transfer message"

kill -TERM $srv
wait $srv || fail "serve exit code"
grep -q '"errors":[1-9]' "$T_TMP/stats.json" || fail "errors not counted: $(cat "$T_TMP/stats.json")"
echo ok
