#!/bin/sh
# mplab serve/get over TCP: /bytes/N verified by mplab get and by curl (same SHA-256), files
# under --root, HEAD, keep-alive over several URLs, IPv6, --stats on SIGTERM, --interval.
. "$(dirname "$0")/lib.sh"
need_cmd curl sha256sum

port=$(free_port)
mkdir -p "$T_TMP/root/sub"
head -c 300000 /dev/urandom >"$T_TMP/root/sub/file.bin"
echo hello >"$T_TMP/root/index.html"
"$MPLAB" serve --proto tcp --listen "127.0.0.1:$port" --listen "[::1]:$port" --root "$T_TMP/root" \
    --stats "$T_TMP/stats.json" 2>"$T_TMP/srv.log" &
srv=$!
at_exit "kill -9 $srv"
wait_for 10 "[ \$(grep -c 'listening on' $T_TMP/srv.log) -eq 2 ]" || fail "server did not start: $(cat $T_TMP/srv.log)"
grep -q "listening on 127.0.0.1:$port (tcp)" "$T_TMP/srv.log" || fail "bad listening line"

base="http://127.0.0.1:$port"
# mplab get: verified content, JSON fields
out=$("$MPLAB" get --json "$base/bytes/20M") || fail "get failed: $out"
echo "$out"
for f in '"proto":"tcp"' '"bytes":20000000' '"verified":true' '"error":null' '"intervals":\[{' '"cpu_user_s":' \
    '"goodput_mbps":'; do
    echo "$out" | grep -q "$f" || fail "missing $f in JSON"
done
sha=$(echo "$out" | sed -n 's/.*"sha256":"\([0-9a-f]*\)".*/\1/p')
csha=$(curl -sS "$base/bytes/20M" | sha256sum | cut -d' ' -f1)
[ "$sha" = "$csha" ] || fail "sha256 differs: mplab $sha curl $csha"

# a file under --root, via mplab get -o and curl
"$MPLAB" get -q -o "$T_TMP/got.bin" "$base/sub/file.bin" || fail "get file"
cmp "$T_TMP/got.bin" "$T_TMP/root/sub/file.bin" || fail "file differs (mplab get)"
curl -sS -o "$T_TMP/curl.bin" "$base/sub/file.bin" || fail "curl file"
cmp "$T_TMP/curl.bin" "$T_TMP/root/sub/file.bin" || fail "file differs (curl)"
[ "$(curl -sS "$base/")" = hello ] || fail "index.html"

# HEAD: headers only
curl -sS -I "$base/bytes/12345" | grep -qi '^content-length: 12345' || fail "HEAD content-length"

# keep-alive: several URLs on one connection, with curl and with mplab get
n=$(curl -sS -o /dev/null -o /dev/null -w '%{num_connects}\n' "$base/bytes/1000" "$base/bytes/2000" | awk "{s += \$1} END {print s}")
[ "$n" = 1 ] || fail "curl needed $n connections for 2 requests"
out=$("$MPLAB" get --json "$base/bytes/1000" "$base/bytes/2000" "$base/sub/file.bin") || fail "multi get: $out"
echo "$out" | grep -q '"bytes":303000' || fail "multi get bytes: $out"

# IPv6, --interval output
out=$("$MPLAB" get --interval 0.1 "http://[::1]:$port/bytes/5M") || fail "ipv6 get"
echo "$out" | grep -q 'Mbit/s' || fail "no interval/summary lines: $out"
echo "$out" | grep -q 'content verified' || fail "not verified: $out"

# --bind picks the local address (the first of the destination's family)
out=$("$MPLAB" get --json --bind '[::1]' --bind 127.0.0.2 "$base/bytes/1000") || fail "get --bind: $out"
echo "$out" | grep -q '"local":"127.0.0.2:' || fail "--bind not used: $out"
"$MPLAB" get --bind 192.0.2.1 "$base/bytes/1000" 2>"$T_TMP/err" && fail "bind to a foreign address worked"
grep -q "cannot bind" "$T_TMP/err" || fail "bind error: $(cat "$T_TMP/err")"

# HTTP errors: 404 -> exit 1 with one line
"$MPLAB" get "$base/missing" 2>"$T_TMP/err" && fail "404 should fail"
[ "$(wc -l <"$T_TMP/err")" = 1 ] || fail "error is not one line: $(cat "$T_TMP/err")"
grep -q 'HTTP 404' "$T_TMP/err" || fail "no HTTP 404 in error"

# clean stop with stats
kill -TERM $srv
wait $srv
rc=$?
[ $rc = 0 ] || fail "serve exited $rc after SIGTERM"
cat "$T_TMP/stats.json"
for f in cpu_user_s cpu_sys_s bytes_sent bytes_received connections errors; do
    grep -q "\"$f\":" "$T_TMP/stats.json" || fail "stats lacks $f"
done
echo ok
