#!/bin/sh
# Fidelity of the testbed's link emulation (issue 4). For every rate x one-way delay, one
# link between two hosts: ping RTT error against 2 x delay, one TCP flow's goodput as a
# fraction of the rate (mplab topo check), and the CPU the link's forwarder used during it.
# Targets: RTT (median of 40 pings) within max(0.3 ms, 2 %) of 2 x delay; goodput >= 0.93 x rate up to 500 Mbit/s.
# Note: the maximum TCP goodput over Ethernet framing is 1448/1514 = 0.956 of the link rate.
#
#   sh bench/fidelity.sh [--rates "10 100 500 1000"] [--delays "0 10 50"] [--out FILE.csv] [--no-models]
# Then, unless --no-models, the link models and traces: per case the RTT quantiles and ping loss
# 'topo check' measured against the model's prediction, or a trace's goodput against its mean.
# Needs root. Numbers measured while other jobs use the CPU are depressed.
set -u
cd "$(dirname "$0")/.."
MPLAB=${MPLAB:-$(pwd)/build/mplab}
rates="10 100 500 1000"
delays="0 10 50"
out=""
models=1
while [ $# -gt 0 ]; do
    case "$1" in
    --rates) rates="$2"; shift 2 ;;
    --delays) delays="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --no-models) models=0; shift ;;
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

[ "$models" = 1 ] || exit 0
# ---- link models and traces: the error of each key as 'topo check' measures it
echo
printf '%-34s | %-23s %-23s | %6s %6s | %7s\n' case "rtt 10/50/90 expected" "measured" loss_x loss_m fwd_cpu
src=$(pwd)
for case in "jitter = 2ms" "jitter = 2ms|jitter_dist = normal" "jitter = 2ms|jitter_dist = pareto" \
    "jitter = 3ms|jitter_dist = normal|jitter_corr = 50%" "loss = 2%" "loss = 2%|loss_corr = 50%" \
    "loss_ge = 1% 30%" "reorder = 10%|reorder_gap = 3" "corrupt = 2%" "duplicate = 5%" \
    "trace_b2a = $src/traces/stepped.trace|rate_a2b = 100mbit" "trace_b2a = $src/traces/onoff.trace|rate_a2b = 100mbit"; do
    ini="$MPLAB_RUNDIR/m.ini"
    case "$case" in trace*) rate="" ;; *) rate="rate = 100mbit" ;; esac
    printf '[topology]\nname = fid\nmptcp = no\n[host a]\n[host b]\n[link l1]\na = a\nb = b\n%s\ndelay = 10ms\n%s\n' \
        "$rate" "$(echo "$case" | tr '|' '\n')" >"$ini"
    $MPLAB topo up "$ini" >/dev/null 2>&1 || { echo "up failed for $case" >&2; continue; }
    pid=$(cat "$MPLAB_RUNDIR/$MPLAB_PREFIX-fid/fwd-l1.pid")
    c0=$(awk '{print $14 + $15}' "/proc/$pid/stat"); t0=$(date +%s.%N)
    json=$($MPLAB topo check fid --json 2>/dev/null)
    c1=$(awk '{print $14 + $15}' "/proc/$pid/stat"); t1=$(date +%s.%N)
    cpu=$(echo "$c0 $c1 $t0 $t1 $hz" | awk '{ printf "%.1f%%", ($2 - $1) / $5 / ($4 - $3) * 100 }')
    name=$(echo "$case" | sed "s|$src/||g; s/|/, /g")
    if echo "$case" | grep -q trace; then
        echo "$json" | tr '{' '\n' | grep '"dir":"b2a"' | sed -n 's/.*"rate_mbps":\([0-9.e+-]*\),"tcp_mbps":\([0-9.e+-]*\).*/\1 \2/p' |
            awk -v n="$name" -v c="$cpu" '{ printf "%-34s | trace mean %6.2f Mbit/s, one TCP flow %6.2f (%.3f) | %7s\n", n, $1, $2, $2 / $1, c }'
    else
        echo "$json" | tr '{' '\n' | grep '"dir":"a2b"' | sed -n \
            's/.*"rtt_quantiles_expected_ms":\[\([^]]*\)\],"rtt_quantiles_ms":\[\([^]]*\)\],"ping_loss_expected":\([0-9.e+-]*\),"ping_loss":\([0-9.e+-]*\).*/\1 \2 \3 \4/p' |
            tr ',' ' ' | awk -v n="$name" -v c="$cpu" '{ printf "%-34s | %6.2f %6.2f %6.2f    | %6.2f %6.2f %6.2f    | %5.1f%% %5.1f%% | %7s\n", n, $1, $2, $3, $4, $5, $6, 100 * $7, 100 * $8, c }'
    fi
    $MPLAB topo down fid >/dev/null
done
