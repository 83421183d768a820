#!/bin/sh
# 'mplab run' / 'mplab report' without a testbed: help, usage errors (exit 2) with the file,
# line and problem, the plan of every shipped scenario (--dry-run), report errors (exit 1),
# and a report rebuilt from hand-made data.
. "$(dirname "$0")/lib.sh"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$T_TMP" || fail "cd"

$MPLAB run --help | grep -q -- "--resume" || fail "run --help"
$MPLAB report --help | grep -q "index.html" || fail "report --help"
$MPLAB run --repeat 0 2>/dev/null; [ $? -eq 2 ] || fail "--repeat 0 is not a usage error"
$MPLAB run --bogus 2>/dev/null; [ $? -eq 2 ] || fail "--bogus is not a usage error"
$MPLAB run no-such-scenario 2>"$T_TMP/e"; [ $? -eq 2 ] || fail "missing scenario is not a usage error"
grep -q "no-such-scenario" "$T_TMP/e" || fail "unclear: $(cat "$T_TMP/e")"
$MPLAB run /nonexistent.ini 2>"$T_TMP/e"; [ $? -eq 2 ] || fail "missing scenario path is not a usage error"
grep -qx "mplab run: error: /nonexistent.ini: no such scenario file" "$T_TMP/e" || fail "unclear: $(cat "$T_TMP/e")"

printf '[scenario]\nname = bad\n[topology]\nsplit = 30/60\n' >bad.ini
$MPLAB run bad.ini --dry-run 2>"$T_TMP/e"; [ $? -eq 2 ] || fail "invalid scenario accepted"
grep -q "bad.ini:4: split: '30/60': split shares must add up to 100" "$T_TMP/e" || fail "unclear: $(cat "$T_TMP/e")"

# every shipped scenario parses and plans (run from the repository: scenarios/NAME.ini)
for f in "$ROOT"/scenarios/*.ini; do
    out=$($MPLAB run "$f" --dry-run --out "$T_TMP/plan") || fail "$f: $out"
    echo "$out" | head -1
    echo "$out" | grep -q "^scenario .* points, [0-9]* runs" || fail "$f: $out"
done
(cd "$ROOT" && $MPLAB run split --dry-run --out "$T_TMP/plan" | grep -q "p05-tcp-l2-r3") || fail "split plan"
(cd "$ROOT" && $MPLAB run --dry-run --out "$T_TMP/plan" | head -1 | grep -q "scenario default") || fail "default plan"

# report: errors, then a report from hand-made data
$MPLAB report "$T_TMP/nothing" 2>/dev/null; [ $? -eq 1 ] || fail "report of a missing directory"
mkdir -p d
cat >d/meta.json <<'JSON'
{"scenario":{"name":"hand","title":"hand-made","client":"client"},"date":"2026-01-01T00:00:00Z",
 "kernel":"Linux test","swept":["split"],"events":[],"failure":{"at_s":3,"link":"l1"}}
JSON
{
    echo "run_id,point,label,rep,proto,path,links,share1_pct,split,rate,delay,loss,backup,fail,cc,size_bytes,status,bytes,seconds,goodput_mbps,verified,cpu_client_s,cpu_server_s,stall_s,recover_s,mptcp,subflows,error,series"
    for p in 1 2; do
        s=$((p * 20 + 10))
        echo "p0$p-tcp-l1-r1,$p,split=$s,1,tcp,1,2,$s,$s/$((100 - s)),100mbit,10ms,0,none,none,cubic,1000,ok,1000,1,$((s - 2)),1,0.1,0.1,0,,-1,0,,tcp@l1"
        echo "p0$p-tcp-l2-r1,$p,split=$s,1,tcp,2,2,$s,$s/$((100 - s)),100mbit,10ms,0,none,none,cubic,1000,ok,1000,1,$((98 - s)),1,0.1,0.1,0,,-1,0,,tcp@l2"
        echo "p0$p-mptcp-r1,$p,split=$s,1,mptcp,0,2,$s,$s/$((100 - s)),100mbit,10ms,0,none,none,cubic,1000,ok,1000,1,$((70 + p * 10)),1,0.1,0.1,0,,1,2,,mptcp"
        echo "p0$p-tcpls-r1,$p,split=$s,1,tcpls,0,2,$s,$s/$((100 - s)),100mbit,10ms,0,none,none,cubic,1000,unavailable,0,,,0,,,,,-1,0,not here,tcpls"
    done
} >d/runs.csv
echo "run_id,source,host,iface,t,rx_mbps,tx_mbps" >d/timeseries.csv
$MPLAB report d >"$T_TMP/out" || fail "report: $(cat "$T_TMP/out")"
cat "$T_TMP/out"
grep -q "mptcp .*80.0 .*96.0 .*0.83 .*off by >10%" "$T_TMP/out" || fail "ratio of point 1 not flagged"
grep -q "mptcp .*90.0 .*96.0 .*0.94" "$T_TMP/out" || fail "ratio of point 2"
grep -q "unavailable" "$T_TMP/out" || fail "tcpls not shown as unavailable"
[ -s d/index.html ] && [ -s d/summary.txt ] || fail "no report files"
if command -v gnuplot >/dev/null 2>&1; then
    [ -s d/plots/goodput_vs_split.png ] && [ -s d/plots/goodput_vs_split.svg ] || fail "no split plot"
    grep -q 'data:image/png;base64,' d/index.html || fail "no embedded plot"
fi
grep -q 'class=flag' d/index.html || fail "flagged row not highlighted"
echo "ok"
