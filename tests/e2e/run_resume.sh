#!/bin/sh
# Experiments: Ctrl-C (SIGINT) stops 'mplab run' cleanly — exit 130, finished runs kept, no
# namespace left — and '--resume' does only the missing runs.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ip tc
for c in topo get serve; do
    $MPLAB $c --help 2>&1 | grep -q "not implemented" && skip "mplab $c is not on this branch yet"
done
export MPLAB_PREFIX="mq$$"
export MPLAB_RUNDIR="$T_TMP/run"
at_exit "$MPLAB topo down --all"
OUT="$T_TMP/out"
cat >"$T_TMP/resume.ini" <<'INI'
[scenario]
name = resume
protocols = tcp
size = 4M
repeat = 3
interval = 0.1
timeout = 20s
[topology]
links = 1
rate = 20mbit
delay = 1ms
INI

$MPLAB run "$T_TMP/resume.ini" --out "$OUT" 2>"$T_TMP/run1.log" &
pid=$!
at_exit "kill -9 $pid"
wait_for 60 "[ \$(wc -l <'$OUT/runs.csv') -ge 2 ]" || fail "no run finished: $(cat "$T_TMP/run1.log")"
kill -INT $pid
wait $pid
rc=$?
cat "$T_TMP/run1.log"
[ $rc -eq 130 ] || fail "interrupted run exited $rc, not 130"
n1=$(($(wc -l <"$OUT/runs.csv") - 1))
[ $n1 -ge 1 ] && [ $n1 -lt 3 ] || fail "$n1 runs kept after the interrupt"
ls /run/netns 2>/dev/null | grep -q "^$MPLAB_PREFIX-" && fail "namespaces left after Ctrl-C"
grep -q "resume" "$T_TMP/run1.log" || fail "no hint to resume"
[ -s "$OUT/index.html" ] || fail "no report after the interrupt"
grep -q "Partial results" "$OUT/index.html" || fail "the report of an interrupted run does not say it is partial"
grep -q "partial results" "$OUT/summary.txt" || fail "summary.txt of an interrupted run does not say it is partial"

$MPLAB run "$T_TMP/resume.ini" --out "$OUT" 2>"$T_TMP/run2.log" && fail "a second run into the same directory was accepted"
$MPLAB run "$T_TMP/resume.ini" --out "$OUT" --resume 2>"$T_TMP/run2.log" || fail "resume: $(cat "$T_TMP/run2.log")"
cat "$T_TMP/run2.log"
[ "$(wc -l <"$OUT/runs.csv")" -eq 4 ] || fail "after resume: $(cat "$OUT/runs.csv")"
[ "$(cut -d, -f1 "$OUT/runs.csv" | sort | uniq -d)" = "" ] || fail "a run was done twice"
grep -c ",ok," "$OUT/runs.csv" | grep -q 3 || fail "not all runs ok: $(cat "$OUT/runs.csv")"
grep -q "Partial results" "$OUT/index.html" && fail "the report of a completed run says it is partial"
ls /run/netns 2>/dev/null | grep -q "^$MPLAB_PREFIX-" && fail "namespaces left"
echo "ok"
