#!/bin/sh
# CPU cost of TCPLS multipath (issue 5: at most 15% more CPU per GB than one connection), on
# loopback, side by side in one run: /bytes/SIZE over one connection (--bind 127.0.0.1) and
# over two (--bind 127.0.0.1 --bind 127.0.0.2), alternating, REPS times. CPU = client
# (get's user+sys) + server (its /proc/PID/stat delta during the download), per GB. Prints
# medians and the ratio multi/single. Not a test; a loaded machine gives noisy numbers.
#
#   sh bench/multipath_cpu.sh [SIZE] [REPS]        (defaults: 4G, 3)
set -u
cd "$(dirname "$0")/.."
MPLAB=${MPLAB:-$(pwd)/build/mplab}
SIZE=${1:-4G}
REPS=${2:-3}
[ -x "$MPLAB" ] || { echo "build first: make" >&2; exit 1; }
for c in jq ss awk; do command -v $c >/dev/null 2>&1 || { echo "needs $c" >&2; exit 1; }; done
TMP=$(mktemp -d /tmp/mplab-bench.XXXXXX)
export MPLAB_CERT_DIR=${MPLAB_CERT_DIR:-$TMP/certs}
srv=""
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
while :; do
    port=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 30000))
    ss -Htan "sport = :$port" | grep -q . || break
done
"$MPLAB" serve -q --proto tcpls --listen "127.0.0.1:$port" --listen "127.0.0.2:$port" 2>"$TMP/srv.log" &
srv=$!
i=0
until grep -q "listening on 127.0.0.2:$port" "$TMP/srv.log" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 100 ] && { echo "server did not start" >&2; exit 1; }; sleep 0.1
done
tck=$(getconf CLK_TCK)
st() { awk '{print $14 + $15}' "/proc/$srv/stat"; }
for r in $(seq 1 "$REPS"); do
    for mode in single multi; do
        if [ $mode = single ]; then b="--bind 127.0.0.1"; else b="--bind 127.0.0.1 --bind 127.0.0.2"; fi
        s0=$(st)
        # shellcheck disable=SC2086
        "$MPLAB" get -q --proto tcpls --insecure --no-hash --no-verify $b --json \
            "https://127.0.0.1:$port/bytes/$SIZE" >"$TMP/c.json" 2>/dev/null || { echo "get failed" >&2; exit 1; }
        s1=$(st)
        jq -r --arg m "$mode" --arg srv "$((s1 - s0))" --arg tck "$tck" \
            '"\($m) \(.goodput_mbps / 1000) \((.cpu_user_s + .cpu_sys_s) / (.bytes / 1e9)) \(($srv | tonumber) / ($tck | tonumber) / (.bytes / 1e9)) \(.connections | length)"' \
            "$TMP/c.json" >>"$TMP/rows"
    done
done
echo "loopback, /bytes/$SIZE x $REPS, 2 cores, $(uname -r)"
printf '%-8s %8s %12s %12s %12s %6s\n' mode Gbit/s "client s/GB" "server s/GB" "total s/GB" conns
med() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
for mode in single multi; do
    grep "^$mode " "$TMP/rows" >"$TMP/m"
    g=$(awk '{ print $2 }' "$TMP/m" | med)
    c=$(awk '{ print $3 }' "$TMP/m" | med)
    s=$(awk '{ print $4 }' "$TMP/m" | med)
    t=$(awk '{ print $3 + $4 }' "$TMP/m" | med)
    k=$(awk '{ print $5 }' "$TMP/m" | med)
    printf '%-8s %8.2f %12.3f %12.3f %12.3f %6d\n' "$mode" "$g" "$c" "$s" "$t" "$k"
done | tee "$TMP/med"
awk 'NR == 1 { a = $5 } NR == 2 { b = $5 } END { printf "CPU per GB, multi / single: %.3f (target <= 1.15)\n", b / a }' "$TMP/med"
