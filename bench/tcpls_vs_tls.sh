#!/bin/sh
# TCPLS vs our TLS baseline on loopback, one connection, side by side in one run.
#   sh bench/tcpls_vs_tls.sh [SIZE] [REPS]        (defaults: 2G, 3; env MPLAB=path/to/mplab)
# Both servers run at once; each repetition downloads /bytes/SIZE over tls then over tcpls
# (alternating, so background load hits both alike). Reports the median goodput in Gbit/s,
# CPU seconds per GB (client, server, both) and the ratio TCPLS / TLS. Client-side hashing
# and content checks are off (--no-hash --no-verify) so the numbers are the transports'.
# This is a benchmark, not a test: numbers on a shared 2-core machine vary.
set -u
cd "$(dirname "$0")/.."
MPLAB=${MPLAB:-$(pwd)/build/mplab}
size=${1:-2G}
reps=${2:-3}
tmp=$(mktemp -d /tmp/mplab-bench.XXXXXX)
export MPLAB_CERT_DIR="$tmp/certs"
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

port() { echo $(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 30000 )); }
ptls=$(port)
ptcpls=$((ptls + 1))
"$MPLAB" serve --proto tls --quiet --listen "127.0.0.1:$ptls" --stats "$tmp/tls.stats" 2>"$tmp/tls.log" &
pids="$pids $!"
tls_srv=$!
"$MPLAB" serve --proto tcpls --quiet --listen "127.0.0.1:$ptcpls" --stats "$tmp/tcpls.stats" 2>"$tmp/tcpls.log" &
pids="$pids $!"
tcpls_srv=$!
for i in $(seq 100); do
    grep -q listening "$tmp/tls.log" 2>/dev/null && grep -q listening "$tmp/tcpls.log" 2>/dev/null && break
    sleep 0.05
done

field() { grep -o "\"$1\":[0-9.e+-]*" | head -n 1 | cut -d: -f2; }
r=1
while [ "$r" -le "$reps" ]; do
    for proto in tls tcpls; do
        p=$ptls
        [ $proto = tcpls ] && p=$ptcpls
        out=$("$MPLAB" get --proto $proto --json --no-hash --no-verify --timeout 60 "https://127.0.0.1:$p/bytes/$size") ||
            { echo "get $proto failed: $out" >&2; exit 1; }
        echo "$out" | field seconds >>"$tmp/$proto.secs"
        echo "$out" | field bytes >"$tmp/$proto.bytes"
        echo "$(echo "$out" | field cpu_user_s) $(echo "$out" | field cpu_sys_s)" >>"$tmp/$proto.ccpu"
    done
    r=$((r + 1))
done
kill -INT $tls_srv $tcpls_srv
wait $tls_srv $tcpls_srv 2>/dev/null
pids=""

echo "loopback, /bytes/$size x $reps, one connection, $(nproc) cores, $(uname -r)"
printf '%-6s %10s %14s %14s %14s\n' proto Gbit/s "client s/GB" "server s/GB" "total s/GB"
for proto in tls tcpls; do
    bytes=$(cat "$tmp/$proto.bytes")
    med=$(sort -n "$tmp/$proto.secs" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    gbps=$(awk -v b="$bytes" -v s="$med" 'BEGIN {printf "%.2f", b*8/s/1e9}')
    ccpu=$(awk '{t+=$1+$2} END {print t}' "$tmp/$proto.ccpu")
    scpu=$(sed -n 's/.*"cpu_user_s":\([0-9.e+-]*\).*"cpu_sys_s":\([0-9.e+-]*\).*/\1 \2/p' "$tmp/$proto.stats" |
        awk '{print $1+$2}')
    gb=$(awk -v b="$bytes" -v r="$reps" 'BEGIN {print b*r/1e9}')
    printf '%-6s %10s %14.3f %14.3f %14.3f\n' $proto "$gbps" "$(awk -v c="$ccpu" -v g="$gb" 'BEGIN{print c/g}')" \
        "$(awk -v c="$scpu" -v g="$gb" 'BEGIN{print c/g}')" "$(awk -v c="$ccpu" -v s="$scpu" -v g="$gb" 'BEGIN{print (c+s)/g}')"
    echo "$gbps" >"$tmp/$proto.gbps"
done
awk -v a="$(cat "$tmp/tcpls.gbps")" -v b="$(cat "$tmp/tls.gbps")" 'BEGIN {printf "ratio tcpls/tls goodput: %.3f (target >= 0.9)\n", a/b}'
