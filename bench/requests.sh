#!/bin/sh
# Request rate and server CPU per request on loopback: tcp, tls and tcpls, one server each.
#   sh bench/requests.sh [RATE] [SECONDS] [SIZE] [CONCURRENCY]
#   (defaults: 10000 requests/s, 3 s, /bytes/10K, 32; env MPLAB=path/to/mplab)
# Per protocol, two runs of 'mplab get --requests' against a fresh 'mplab serve':
#   closed  as fast as it goes (closed loop, CONCURRENCY in flight): the most requests/s
#   open    RATE requests/s for SECONDS (open loop, latency from the scheduled send time):
#           the server keeps up when the achieved rate is RATE and p99 stays small
# Server CPU per request = the server's CPU seconds (serve --stats, user + sys) over the
# requests it answered in that run. Client and server share the machine's cores, so the
# closed-loop figure is the pair's limit, not the server's. A benchmark, not a test: on a
# shared 2-core machine the numbers vary from run to run.
set -u
cd "$(dirname "$0")/.."
MPLAB=${MPLAB:-$(pwd)/build/mplab}
rate=${1:-10000}
secs=${2:-3}
size=${3:-10K}
conc=${4:-32}
tmp=$(mktemp -d /tmp/mplab-bench.XXXXXX)
export MPLAB_CERT_DIR="$tmp/certs"
srv=""
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

port() { echo $((20000 + $(od -An -N2 -tu2 /dev/urandom) % 30000)); }
field() { grep -o "\"$1\":[0-9.e+-]*" | head -n 1 | cut -d: -f2; }
n_open=$(awk "BEGIN { printf \"%d\", $rate * $secs }")
n_closed=$((n_open * 2))

printf '%-6s %-6s %9s %9s %9s %9s %9s %8s %14s\n' proto mode req/s p50_ms p99_ms p999_ms max_ms errors server_us/req
for proto in tcp tls tcpls; do
    for mode in closed open; do
        p=$(port)
        sproto=$proto
        scheme=https
        [ $proto = tcp ] && scheme=http
        "$MPLAB" serve --proto $sproto --quiet --listen "127.0.0.1:$p" --stats "$tmp/stats" 2>"$tmp/srv.log" &
        srv=$!
        for i in $(seq 100); do
            grep -q listening "$tmp/srv.log" 2>/dev/null && break
            sleep 0.05
        done
        if [ $mode = closed ]; then
            args="--requests $n_closed --concurrency $conc"
        else
            args="--requests $n_open --concurrency $conc --rate $rate"
        fi
        # shellcheck disable=SC2086
        out=$("$MPLAB" get --proto $proto --json $args "$scheme://127.0.0.1:$p/bytes/$size" 2>"$tmp/get.err")
        kill -INT $srv
        wait $srv 2>/dev/null
        srv=""
        done_n=$(echo "$out" | field completed)
        [ -n "$done_n" ] || { echo "$proto $mode: get failed: $(cat "$tmp/get.err")" >&2; exit 1; }
        cpu=$(awk -F'[:,}]' '{ for (i = 1; i < NF; i++) { if ($i ~ /cpu_user_s/) u = $(i + 1); if ($i ~ /cpu_sys_s/) s = $(i + 1) } } END { print u + s }' "$tmp/stats")
        lat() { echo "$out" | grep -o "\"latency_ms\":{[^}]*}" | field "$1"; }
        printf '%-6s %-6s %9.0f %9.3f %9.3f %9.3f %9.3f %8s %14.1f\n' $proto $mode "$(echo "$out" | field requests_per_s)" \
            "$(lat p50)" "$(lat p99)" "$(lat p999)" "$(lat max)" "$(echo "$out" | field errors)" \
            "$(awk "BEGIN { print ($done_n > 0 ? $cpu * 1e6 / $done_n : 0) }")"
    done
done
