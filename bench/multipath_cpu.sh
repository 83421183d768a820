#!/bin/sh
# CPU cost of TCPLS multipath (issue 5: at most 15% more CPU per GB than one connection), on
# loopback, side by side in one run: /bytes/SIZE over one connection (--bind 127.0.0.1) and
# over two (--bind 127.0.0.1 --bind 127.0.0.2), alternating, REPS times. CPU = client
# (get's user+sys) + server (its /proc/PID/stat delta during the download), per GB. Prints
# medians and the ratio multi/single. Not a test; a loaded machine gives noisy numbers.
# As root with kernel MPTCP, also mptls (TLS over MPTCP, mplab serve/get --proto mptls) with two
# subflows (127.0.0.1 and a 'subflow' endpoint 127.0.0.2) in a private namespace, and the ratio
# of its CPU per GB to TCPLS over two connections.
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
ns=""
msrv=""
cleanup() {
    [ -n "$srv" ] && kill "$srv" 2>/dev/null
    [ -n "$msrv" ] && kill "$msrv" 2>/dev/null
    [ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
    rm -rf "$TMP"
}
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
modes="single multi"
if [ "$(id -u)" = 0 ] && [ "$(sysctl -n net.mptcp.enabled 2>/dev/null)" = 1 ] && ip netns add "mplb-$$" 2>/dev/null; then
    ns="mplb-$$"
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add 127.0.0.2/8 dev lo
    ip -n "$ns" mptcp limits set subflows 2 add_addr_accepted 2 &&
        ip -n "$ns" mptcp endpoint add 127.0.0.2 dev lo subflow &&
        "$MPLAB" cert >/dev/null 2>&1 &&
        { ip netns exec "$ns" "$MPLAB" serve -q --proto mptls --listen "127.0.0.1:$port" 2>"$TMP/msrv.log" &
            msrv=$!; } &&
        i=0 && until grep -q "listening on" "$TMP/msrv.log" 2>/dev/null; do
            i=$((i + 1)); [ $i -gt 100 ] && break; sleep 0.1
        done
    grep -q "listening on" "$TMP/msrv.log" 2>/dev/null && modes="single multi mptls"
fi
[ "$modes" = "single multi" ] && echo "(mptls skipped: needs root and kernel MPTCP)" >&2
tck=$(getconf CLK_TCK)
st() { awk '{print $14 + $15}' "/proc/$1/stat"; }
for r in $(seq 1 "$REPS"); do
    for mode in $modes; do
        if [ $mode = mptls ]; then
            s0=$(st "$msrv")
            ip netns exec "$ns" "$MPLAB" get -q --proto mptls --no-hash --no-verify --json \
                "https://127.0.0.1:$port/bytes/$SIZE" >"$TMP/c.json" 2>/dev/null || { echo "mptls get failed" >&2; exit 1; }
            s1=$(st "$msrv")
            jq -r --arg m "$mode" --arg srv "$((s1 - s0))" --arg tck "$tck" \
                '"\($m) \(.goodput_mbps / 1000) \((.cpu_user_s + .cpu_sys_s) / (.bytes / 1e9)) \(($srv | tonumber) / ($tck | tonumber) / (.bytes / 1e9)) \(.subflows | length)"' \
                "$TMP/c.json" >>"$TMP/rows"
            continue
        fi
        if [ $mode = single ]; then b="--bind 127.0.0.1"; else b="--bind 127.0.0.1 --bind 127.0.0.2"; fi
        s0=$(st "$srv")
        # shellcheck disable=SC2086
        "$MPLAB" get -q --proto tcpls --insecure --no-hash --no-verify $b --json \
            "https://127.0.0.1:$port/bytes/$SIZE" >"$TMP/c.json" 2>/dev/null || { echo "get failed" >&2; exit 1; }
        s1=$(st "$srv")
        jq -r --arg m "$mode" --arg srv "$((s1 - s0))" --arg tck "$tck" \
            '"\($m) \(.goodput_mbps / 1000) \((.cpu_user_s + .cpu_sys_s) / (.bytes / 1e9)) \(($srv | tonumber) / ($tck | tonumber) / (.bytes / 1e9)) \(.connections | length)"' \
            "$TMP/c.json" >>"$TMP/rows"
    done
done
echo "loopback, /bytes/$SIZE x $REPS, 2 cores, $(uname -r)"
printf '%-8s %8s %12s %12s %12s %6s\n' mode Gbit/s "client s/GB" "server s/GB" "total s/GB" conns
med() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
for mode in $modes; do
    grep "^$mode " "$TMP/rows" >"$TMP/m"
    g=$(awk '{ print $2 }' "$TMP/m" | med)
    c=$(awk '{ print $3 }' "$TMP/m" | med)
    s=$(awk '{ print $4 }' "$TMP/m" | med)
    t=$(awk '{ print $3 + $4 }' "$TMP/m" | med)
    k=$(awk '{ print $5 }' "$TMP/m" | med)
    printf '%-8s %8.2f %12.3f %12.3f %12.3f %6d\n' "$mode" "$g" "$c" "$s" "$t" "$k"
done | tee "$TMP/med"
awk 'NR == 1 { a = $5 } NR == 2 { b = $5 } NR == 3 { c = $5 }
    END { printf "CPU per GB, multi / single: %.3f (target <= 1.15)\n", b / a
          if (c > 0) printf "CPU per GB, mptls (2 subflows) / tcpls multi (2 connections): %.3f\n", c / b }' "$TMP/med"
