#!/bin/sh
# mplab get --requests (request latency) on loopback over tcp and tcpls (and tls): closed and
# open loop, every response verified, the --json fields (percentiles, histogram, errors), a
# 404 counted as errors (exit 1), and the usage errors (exit 2).
. "$(dirname "$0")/lib.sh"
export MPLAB_CERT_DIR="$T_TMP/certs"

pt=$(free_port)
"$MPLAB" serve --proto tcp --quiet --listen "127.0.0.1:$pt" 2>"$T_TMP/tcp.log" &
at_exit "kill -9 $!"
ps=$(free_port)
"$MPLAB" serve --proto tcpls --tokens 4 --quiet --listen "127.0.0.1:$ps" 2>"$T_TMP/tcpls.log" &
at_exit "kill -9 $!"
wait_for 20 "grep -q 'listening on 127.0.0.1:$pt (tcp)' $T_TMP/tcp.log" || fail "tcp server: $(cat $T_TMP/tcp.log)"
wait_for 20 "grep -q 'listening on 127.0.0.1:$ps (tcpls)' $T_TMP/tcpls.log" || fail "tcpls server: $(cat $T_TMP/tcpls.log)"

check_json() { # WHAT JSON N
    echo "$2" | grep -q "\"completed\":$3," || fail "$1: completed: $2"
    echo "$2" | grep -q '"errors":0,' || fail "$1: errors: $2"
    echo "$2" | grep -q "\"bytes\":$(($3 * 10000))," || fail "$1: bytes: $2"
    for f in p50 p90 p99 p999 max; do
        echo "$2" | grep -q "\"latency_ms\":{.*\"$f\":[0-9]" || fail "$1: no $f"
    done
    echo "$2" | grep -q '"histogram":{"unit":"us","sub_buckets":32,"buckets":\[\[[0-9]*,[0-9]*,[0-9]*\]' ||
        fail "$1: histogram"
    # the histogram's counts add up to the requests
    sum=$(echo "$2" | sed 's/.*"buckets":\[\(.*\)\]}.*/\1/' | tr -d '[' | tr ']' '\n' |
        awk -F, '{ for (i = 1; i <= NF; i++) if ($i != "") v[++n] = $i } END { for (i = 3; i <= n; i += 3) s += v[i]; print s }')
    [ "$sum" = "$3" ] || fail "$1: histogram counts $sum, not $3"
    echo "$2" | grep -q '"error":null' || fail "$1: error set"
}

out=$("$MPLAB" get --proto tcp --requests 500 --concurrency 8 --json "http://127.0.0.1:$pt/bytes/10K") ||
    fail "tcp closed loop: $out"
check_json "tcp closed loop" "$out" 500
out=$("$MPLAB" get --proto tcp --requests 300 --concurrency 4 --rate 1000 --json "http://127.0.0.1:$pt/bytes/10K") ||
    fail "tcp open loop: $out"
check_json "tcp open loop" "$out" 300
echo "$out" | grep -q '"rate":1000,' || fail "rate: $out"
# 300 requests at 1000/s take about 0.3 s (at least 0.299: the last one is due at 0.299 s)
secs=$(echo "$out" | sed 's/.*"seconds":\([0-9.e-]*\).*/\1/')
awk "BEGIN { exit !($secs >= 0.299 && $secs < 5) }" || fail "open loop took $secs s"

out=$("$MPLAB" get --proto tcpls --requests 500 --concurrency 8 --json "https://127.0.0.1:$ps/bytes/10K") ||
    fail "tcpls closed loop: $out"
check_json "tcpls closed loop" "$out" 500
out=$("$MPLAB" get --proto tcpls --requests 300 --concurrency 4 --rate 1000 --json "https://127.0.0.1:$ps/bytes/10K") ||
    fail "tcpls open loop: $out"
check_json "tcpls open loop" "$out" 300
# tcpls over two connections of the session (127.0.0.1 and 127.0.0.2): both are listed
out=$("$MPLAB" get --proto tcpls --bind 127.0.0.1 --bind 127.0.0.2 --requests 400 --concurrency 8 --json \
    "https://127.0.0.1:$ps/bytes/10K") || fail "tcpls two connections: $out"
check_json "tcpls two connections" "$out" 400
echo "$out" | grep -q '"connections":\[{"id":0,.*},{"id":[0-9]*,"local":"127.0.0.2:' ||
    fail "tcpls: the second connection is missing: $out"
out=$("$MPLAB" get --proto tls --requests 200 --concurrency 4 --json "https://127.0.0.1:$ps/bytes/10K") ||
    fail "tls: $out"
check_json "tls" "$out" 200

# mptcp, when the kernel has it
if [ "$(sysctl -n net.mptcp.enabled 2>/dev/null)" = 1 ]; then
    pm=$(free_port)
    "$MPLAB" serve --proto mptcp --quiet --listen "127.0.0.1:$pm" 2>"$T_TMP/mptcp.log" &
    at_exit "kill -9 $!"
    wait_for 20 "grep -q 'listening on 127.0.0.1:$pm (mptcp)' $T_TMP/mptcp.log" || fail "mptcp server"
    out=$("$MPLAB" get --proto mptcp --requests 200 --concurrency 4 --json "http://127.0.0.1:$pm/bytes/10K") ||
        fail "mptcp: $out"
    check_json "mptcp" "$out" 200
fi

# the text output, wrk-like
txt=$("$MPLAB" get --requests 50 --concurrency 2 "http://127.0.0.1:$pt/bytes/10K") || fail "text: $txt"
echo "$txt"
for w in 'Latency Distribution' ' 50.000%' ' 99.900%' 'Requests/sec:'; do
    echo "$txt" | grep -q "$w" || fail "text lacks '$w'"
done

# failed requests are counted, and make the exit status 1
out=$("$MPLAB" get --requests 20 --concurrency 2 --json "http://127.0.0.1:$pt/nothing-here" 2>"$T_TMP/err") &&
    fail "404s accepted"
echo "$out" | grep -q '"errors":20,' || fail "404 errors: $out"
grep -q 'HTTP status 404' "$T_TMP/err" || fail "404 reason: $(cat "$T_TMP/err")"
# tcpls: the first failed response ends the run, and is not counted as completed
out=$("$MPLAB" get --proto tcpls --requests 20 --concurrency 2 --json "https://127.0.0.1:$ps/nothing-here" \
    2>"$T_TMP/err") && fail "tcpls 404s accepted"
echo "$out" | grep -q '"completed":0,"errors":1,' || fail "tcpls 404 errors: $out"
grep -q 'HTTP status 404' "$T_TMP/err" || fail "tcpls 404 reason: $(cat "$T_TMP/err")"

# usage errors: exit 2 with a clear message
usage() { # EXPECTED-TEXT ARGS...
    want=$1
    shift
    "$MPLAB" get "$@" 2>"$T_TMP/usage" && fail "accepted: $*"
    rc=$?
    [ $rc = 2 ] || fail "exit $rc for: $*"
    grep -q -- "$want" "$T_TMP/usage" || fail "message for $*: $(cat "$T_TMP/usage")"
}
u="http://127.0.0.1:$pt/bytes/10K"
usage "bad --concurrency '0'" --requests 10 --concurrency 0 "$u"
usage "--concurrency 11 is more than --requests 10" --requests 10 --concurrency 11 "$u"
usage "bad --rate '0'" --requests 10 --rate 0 "$u"
usage "bad --rate '-5'" --requests 10 --rate -5 "$u"
usage "bad --requests '0'" --requests 0 "$u"
usage "need --requests" --concurrency 4 "$u"
"$MPLAB" get --help | grep -q -- '--requests N' || fail "--help lacks --requests"
echo "ok"
