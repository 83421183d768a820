#!/bin/sh
# Fidelity of the testbed's link emulation (issue 4). For every rate x one-way delay, one
# link between two hosts: ping RTT error against 2 x delay, one TCP flow's goodput as a
# fraction of the rate (mplab topo check), and the CPU the link's forwarder used during it.
# Targets: RTT (median of 40 pings) within max(0.3 ms, 2 %) of 2 x delay; goodput >= 0.93 x rate up to 500 Mbit/s.
# Note: the maximum TCP goodput over Ethernet framing is 1448/1514 = 0.956 of the link rate.
#
#   sh bench/fidelity.sh [--rates "10 100 500 1000"] [--delays "0 10 50"] [--out FILE.csv]
# Needs root. Numbers measured while other jobs use the CPU are depressed.
set -u
cd "$(dirname "$0")/.."
MPLAB=${MPLAB:-$(pwd)/build/mplab}
rates="10 100 500 1000"
delays="0 10 50"
out=""
while [ $# -gt 0 ]; do
    case "$1" in
    --rates) rates="$2"; shift 2 ;;
    --delays) delays="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }
export MPLAB_PREFIX="mtb$$"
export MPLAB_RUNDIR=$(mktemp -d /tmp/mplab-bench.XXXXXX)
trap '$MPLAB topo down --all >/dev/null 2>&1; rm -rf "$MPLAB_RUNDIR"' EXIT INT TERM
csv=${out:-/dev/null}
echo "rate_mbps,delay_ms,rtt_expected_ms,rtt_min_ms,rtt_median_ms,rtt_err_ms,rtt_ok,tcp_mbps,tcp_ratio,tcp_ok,fwd_cpu_pct" >"$csv"
printf '%6s %6s | %8s %8s %8s %8s %-4s | %8s %6s %-4s | %7s\n' rate delay rtt_exp rtt_min rtt_med err "" tcp ratio "" fwd_cpu
hz=$(getconf CLK_TCK)
for rate in $rates; do
    for delay in $delays; do
        ini="$MPLAB_RUNDIR/f.ini"
        printf '[topology]\nname = fid\nmptcp = no\n[host a]\n[host b]\n[link l1]\na = a\nb = b\nrate = %smbit\ndelay = %sms\n' \
            "$rate" "$delay" >"$ini"
        $MPLAB topo up "$ini" 2>/dev/null || { echo "up failed for $rate/$delay" >&2; continue; }
        $MPLAB exec --topo fid a -- ping -c 1 -W 2 10.0.1.2 >/dev/null 2>&1
        # min and median of 40 pings
        rtt=$($MPLAB exec --topo fid a -- ping -n -c 40 -i 0.025 10.0.1.2 | sed -n 's/.*time=\([0-9.]*\).*/\1/p' |
            sort -n | awk '{ v[NR] = $1 } END { print v[1], (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }')
        pid=$(cat "$MPLAB_RUNDIR/$MPLAB_PREFIX-fid/fwd-l1.pid")
        c0=$(awk '{print $14 + $15}' "/proc/$pid/stat"); t0=$(date +%s.%N)
        json=$($MPLAB topo check fid --json 2>"$MPLAB_RUNDIR/check.err")
        [ -n "$json" ] || cat "$MPLAB_RUNDIR/check.err" >&2
        c1=$(awk '{print $14 + $15}' "/proc/$pid/stat"); t1=$(date +%s.%N)
        tcp=$(echo "$json" | sed -n 's/.*"tcp_mbps":\([0-9.e+-]*\).*/\1/p')
        echo "$rate $delay $rtt $tcp $c0 $c1 $t0 $t1 $hz" | awk -v csv="$csv" '{
            rate = $1; delay = $2; ex = 2 * delay; mn = $3; avg = $4; tcp = $5
            err = avg - ex; tol = (ex * 0.02 > 0.3) ? ex * 0.02 : 0.3
            rok = (err <= tol && err >= -tol) ? "ok" : "MISS"
            ratio = tcp / rate; tok = (rate > 500) ? "-" : (ratio >= 0.93 ? "ok" : "MISS")
            cpu = ($7 - $6) / $10 / ($9 - $8) * 100
            printf "%6d %6d | %8.3f %8.3f %8.3f %8.3f %-4s | %8.1f %6.3f %-4s | %6.1f%%\n", rate, delay, ex, mn, avg, err, rok, tcp, ratio, tok, cpu
            printf "%d,%d,%.3f,%.3f,%.3f,%.3f,%s,%.1f,%.4f,%s,%.1f\n", rate, delay, ex, mn, avg, err, rok, tcp, ratio, tok, cpu >> csv
        }'
        $MPLAB topo down fid
    done
done
