#!/bin/sh
# Experiments end to end, the streams and migration keys: one short point (two 20 Mbit/s
# links, 8 MB as 4 objects, migration to l2 at 1 s) with mptcp and tcpls: runs.csv has the
# object percentiles and the migration metrics, the MP_PRIO command ran, the plot marks the
# migration; nothing is left behind. About 30 s.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ip tc gnuplot
need_mptcp
export MPLAB_PREFIX="ms$$"
export MPLAB_RUNDIR="$T_TMP/run"
at_exit "$MPLAB topo down --all"
OUT="$T_TMP/out"
cat >"$T_TMP/sm.ini" <<'INI'
[scenario]
name = sm
protocols = mptcp tcpls
size = 8M
streams = 4
streams_policy = pin
repeat = 1
interval = 0.05
timeout = 8s
migrate_at = 1s
migrate_to = l2

[topology]
links = 2
rate = 20mbit/20mbit
delay = 2ms
INI

timeout -k 5 90 $MPLAB run "$T_TMP/sm.ini" --out "$OUT" >"$T_TMP/run.log" 2>&1
rc=$?
cat "$T_TMP/run.log"
[ $rc -eq 0 ] || fail "mplab run exited $rc"
for id in p01-mptcp-r1 p01-tcpls-r1; do
    echo "$id: $(col $id status) $(col $id goodput_mbps) Mbit/s objects p50 $(col $id objects_p50_s) p99" \
        "$(col $id objects_p99_s) t90 $(col $id migrate_t90_s) old bytes $(col $id old_path_bytes)"
    [ "$(col $id status)" = ok ] || fail "$id: $(col $id status) ($(col $id error))"
    [ "$(col $id streams)" = 4 ] || fail "$id: streams column"
    [ "$(col $id migrate_mode)" = mbb ] || fail "$id: migrate_mode column"
    awk -v a="$(col $id objects_p50_s)" -v b="$(col $id objects_p99_s)" -v s="$(col $id seconds)" \
        'BEGIN { exit !(a > 0 && a <= b && b <= s + 0.01) }' || fail "$id: object times"
    awk -v o="$(col $id old_path_bytes)" 'BEGIN { exit !(o >= 0 && o < 8e6) }' || fail "$id: old path bytes"
done
[ "$(col p01-tcpls-r1 streams_policy)" = pin ] || fail "tcpls: streams_policy column"
grep -q "endpoint change 10.0.1.1 backup -> exit 0" "$OUT/runs/p01-mptcp-r1.events.log" ||
    fail "no MP_PRIO command: $(cat "$OUT/runs/p01-mptcp-r1.events.log" 2>&1)"
grep -q "migrating to connection" "$OUT/runs/p01-tcpls-r1.get.log" || fail "tcpls did not migrate"
grep -q '"what":"migrate to l2"' "$OUT/meta.json" || fail "meta.json: no migration event"
grep -q "migrate to l2" "$OUT/plots/ts_p01-tcpls-r1.gp" || fail "the plot does not mark the migration"
grep -q "obj_p50" "$OUT/summary.txt" || fail "summary.txt has no object columns"
ls /run/netns 2>/dev/null | grep -q "^$MPLAB_PREFIX-" && fail "namespaces left: $(ls /run/netns | grep "^$MPLAB_PREFIX-")"
echo "ok"
