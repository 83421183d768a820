#!/bin/sh
# Experiments end to end, the request workload: one short point (two 20 Mbit/s links, 300 GETs
# of 10 kB at 200/s, 4 in flight) with tcp and tcpls: runs.csv has requests/s and the latency
# percentiles, latency.csv the histograms, the report a latency CDF; nothing is left behind.
# About 20 s.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ip tc gnuplot
export MPLAB_PREFIX="mrq$$"
export MPLAB_RUNDIR="$T_TMP/run"
at_exit "$MPLAB topo down --all"
OUT="$T_TMP/out"
cat >"$T_TMP/rq.ini" <<'INI'
[scenario]
name = rq
protocols = tcp tcpls
workload = requests
size = 10K
requests = 300
concurrency = 4
rate = 200
repeat = 1
timeout = 10s

[topology]
links = 2
rate = 20mbit/20mbit
delay = 2ms
INI

timeout -k 5 120 $MPLAB run "$T_TMP/rq.ini" --out "$OUT" >"$T_TMP/run.log" 2>&1
rc=$?
cat "$T_TMP/run.log"
[ $rc -eq 0 ] || fail "mplab run exited $rc"
for id in $(awk -F, 'NR > 1 { print $1 }' "$OUT/runs.csv"); do
    [ "$(col $id status)" = ok ] || fail "$id: status $(col $id status): $(col $id error)"
    rps=$(col $id requests_per_s)
    p50=$(col $id p50_ms)
    echo "$id: $rps requests/s, p50 $p50 ms"
    [ -n "$rps" ] && [ -n "$p50" ] || fail "$id: no requests_per_s / p50_ms"
    awk -v r="$rps" 'BEGIN { exit !(r > 150) }' || fail "$id: only $rps requests/s of 200"
done
[ "$(awk -F, 'NR > 1' "$OUT/latency.csv" | wc -l)" -gt 0 ] || fail "latency.csv is empty"
ls "$OUT"/plots/latency_cdf_p01.* >/dev/null 2>&1 || fail "no latency CDF plot"
grep -q 'latency_cdf_p01' "$OUT/index.html" || fail "the report does not show the latency CDF"
echo "ok"
