#!/bin/sh
# mplab serve/get over TLS 1.3: certificates made on first use, mplab get / curl --cacert /
# openssl s_client get the same bytes; wrong CA, wrong name, no TLS on the other side fail
# cleanly; --insecure and --servername work.
. "$(dirname "$0")/lib.sh"
need_cmd curl openssl sha256sum
export MPLAB_CERT_DIR="$T_TMP/certs"

port=$(free_port)
"$MPLAB" serve --proto tls --listen "127.0.0.1:$port" 2>"$T_TMP/srv.log" &
srv=$!
at_exit "kill -9 $srv"
wait_for 20 "grep -q 'listening on' $T_TMP/srv.log" || fail "server did not start: $(cat $T_TMP/srv.log)"
for f in ca.pem ca.key server.pem server.key; do [ -f "$MPLAB_CERT_DIR/$f" ] || fail "no $f"; done
ca="$MPLAB_CERT_DIR/ca.pem"

out=$("$MPLAB" get --json "https://127.0.0.1:$port/bytes/10M") || fail "get: $out"
echo "$out" | grep -q '"verified":true' || fail "not verified: $out"
echo "$out" | grep -q '"proto":"tls"' || fail "proto: $out"
sha=$(echo "$out" | sed -n 's/.*"sha256":"\([0-9a-f]*\)".*/\1/p')
csha=$(curl -sS --cacert "$ca" "https://localhost:$port/bytes/10M" | sha256sum | cut -d' ' -f1)
[ "$sha" = "$csha" ] || fail "curl sha differs"
csha=$(curl -sS --cacert "$ca" "https://127.0.0.1:$port/bytes/10M" | sha256sum | cut -d' ' -f1)
[ "$sha" = "$csha" ] || fail "curl (IP) sha differs"

# openssl s_client: TLS 1.3, verified, HTTP/1.0 request, body after the head
printf 'GET /bytes/100000 HTTP/1.0\r\n\r\n' |
    openssl s_client -quiet -verify_return_error -CAfile "$ca" -servername localhost -alpn http/1.1 \
        -connect "127.0.0.1:$port" >"$T_TMP/sc.out" 2>"$T_TMP/sc.err" || fail "s_client: $(cat "$T_TMP/sc.err")"
# strip the head
sed '1,/^\r$/d' "$T_TMP/sc.out" >"$T_TMP/sc.body"
[ "$(wc -c <"$T_TMP/sc.body")" = 100000 ] || fail "s_client body size $(wc -c <"$T_TMP/sc.body")"
s1=$(sha256sum <"$T_TMP/sc.body" | cut -d' ' -f1)
s2=$("$MPLAB" get --json "https://127.0.0.1:$port/bytes/100000" | sed -n 's/.*"sha256":"\([0-9a-f]*\)".*/\1/p')
[ "$s1" = "$s2" ] || fail "s_client sha differs"

# a different CA: verification fails, one line, exit 1
mkdir -p "$T_TMP/other"
"$MPLAB" cert --dir "$T_TMP/other" --san 10.0.1.2 --san DNS:extra.test >/dev/null || fail "cert"
sans=$(openssl x509 -in "$T_TMP/other/server.pem" -noout -ext subjectAltName)
for n in DNS:localhost DNS:mplab-server 'IP Address:127.0.0.1' 'IP Address:10.0.1.2' DNS:extra.test; do
    echo "$sans" | grep -q "$n" || fail "SAN $n missing: $sans"
done
openssl verify -CAfile "$T_TMP/other/ca.pem" "$T_TMP/other/server.pem" >/dev/null || fail "server cert not signed by CA"
[ "$(stat -c %a "$T_TMP/other/ca.key")" = 600 ] || fail "ca.key is not private"
"$MPLAB" get --cacert "$T_TMP/other/ca.pem" "https://127.0.0.1:$port/bytes/10" 2>"$T_TMP/err" && fail "wrong CA accepted"
cat "$T_TMP/err"
grep -qi 'certif' "$T_TMP/err" || fail "error does not mention the certificate"
[ "$(wc -l <"$T_TMP/err")" = 1 ] || fail "not one line"
# --insecure accepts it
"$MPLAB" get -q --insecure --cacert "$T_TMP/other/ca.pem" "https://127.0.0.1:$port/bytes/10" || fail "--insecure"
# a name not in the certificate fails; mplab-server (a SAN) works
"$MPLAB" get --servername wrong.example "https://127.0.0.1:$port/bytes/10" 2>"$T_TMP/err" && fail "wrong name accepted"
"$MPLAB" get -q --servername mplab-server "https://127.0.0.1:$port/bytes/10" || fail "--servername mplab-server"
# missing CA file
"$MPLAB" get --cacert "$T_TMP/nope.pem" "https://127.0.0.1:$port/bytes/10" 2>"$T_TMP/err"
[ $? = 1 ] || fail "missing CA file: exit code"
# plain HTTP client against the TLS server: the server survives
curl -sS -m 5 "http://127.0.0.1:$port/bytes/10" >/dev/null 2>&1
# TLS client against a plain TCP server: clean failure
tport=$(free_port)
"$MPLAB" serve --proto tcp --listen "127.0.0.1:$tport" 2>"$T_TMP/tsrv.log" &
tsrv=$!
at_exit "kill -9 $tsrv"
wait_for 10 "grep -q 'listening on' $T_TMP/tsrv.log" || fail "tcp server did not start"
timeout 20 "$MPLAB" get --timeout 5 -p tls "https://127.0.0.1:$tport/bytes/10" 2>"$T_TMP/err"
[ $? = 1 ] || fail "TLS to a TCP server: exit code"
cat "$T_TMP/err"
# still serving
"$MPLAB" get -q "https://127.0.0.1:$port/bytes/1M" || fail "server stopped serving"
kill -INT $srv
wait $srv || fail "serve exit code after SIGINT"
echo ok
