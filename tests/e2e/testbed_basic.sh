#!/bin/sh
# Testbed end to end: the seeds' two-host three-link topology comes up, every link has the
# configured RTT, an MPTCP download uses all three links, link events act, and 'down'
# leaves no namespace, state or process behind. Invalid files build nothing.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ip tc ethtool ping
export MPLAB_PREFIX="mt$$"
export MPLAB_RUNDIR="$T_TMP/run"
at_exit "$MPLAB topo down --all"
TOPO="$(dirname "$0")/../../topologies/triple.ini"

leftovers() { ls /run/netns 2>/dev/null | grep "^$MPLAB_PREFIX-"; ls "$MPLAB_RUNDIR" 2>/dev/null; }

# --- an invalid file: file, line and problem; nothing built
printf '[host c]\n[host s]\n[link l1]\na = c\nb = nowhere\n' >"$T_TMP/bad.ini"
out=$($MPLAB topo up "$T_TMP/bad.ini" 2>&1) && fail "invalid topology accepted"
echo "$out" | grep -q "bad.ini:5: link 'l1': unknown host 'nowhere'" || fail "unclear error: $out"
[ -z "$(leftovers)" ] || fail "invalid file left: $(leftovers)"

# --- up
$MPLAB topo up "$TOPO" || fail "topo up"
$MPLAB topo show --json >"$T_TMP/show.json" || fail "topo show"
grep -q '"name":"triple"' "$T_TMP/show.json" || fail "show --json: $(cat "$T_TMP/show.json")"
[ "$(grep -o '"emulator_alive":true' "$T_TMP/show.json" | wc -l)" = 3 ] || fail "forwarders not alive"
$MPLAB topo up "$TOPO" 2>/dev/null && fail "second up of the same topology accepted"

# rtt_ms DEST [-I SRC] : average RTT of 10 pings from the client (after one warm-up)
rtt_ms() {
    $MPLAB exec client -- ping -c 1 -W 2 "$@" >/dev/null 2>&1
    $MPLAB exec client -- ping -c 10 -i 0.05 -W 2 -q "$@" | awk -F/ '/^rtt/ {print $5}'
}
for dst in 10.1.1.4 10.1.2.5 10.1.3.6; do
    r=$(rtt_ms $dst)
    echo "rtt to $dst: $r ms (configured 2 x 10 ms)"
    awk -v r="$r" 'BEGIN { exit !(r >= 19.8 && r < 30) }' || fail "rtt to $dst is '$r' ms"
done

# --- topo check: RTT and TCP rate of every link
$MPLAB topo check --json >"$T_TMP/check.json" || fail "topo check: $(cat "$T_TMP/check.json")"
grep -q '"pass":true' "$T_TMP/check.json" || fail "topo check json: $(cat "$T_TMP/check.json")"

# --- MPTCP download over the three links, watched by the monitor; l3 is blackholed at ~2 s
$MPLAB monitor --hz 20 --duration 5 --csv "$T_TMP/mon.csv" --quiet &
monpid=$!
at_exit "kill $monpid"
# blackhole l3 once the monitor's clock passes 2 s
(wait_for 20 "awk -F, 'NR > 1 && \$1 >= 2.0 { f = 1 } END { exit !f }' $T_TMP/mon.csv" &&
    $MPLAB link set l3 blackhole) &
evpid=$!
if ! $MPLAB get --help 2>&1 | grep -q "not implemented" && ! $MPLAB serve --help 2>&1 | grep -q "not implemented"; then
    $MPLAB exec server -- "$MPLAB" serve --proto mptcp --listen 0.0.0.0:8080 2>"$T_TMP/serve.log" &
    at_exit "kill $!"
    wait_for 10 "grep -q listening $T_TMP/serve.log" || fail "serve did not start: $(cat "$T_TMP/serve.log")"
    $MPLAB exec client -- "$MPLAB" get --proto mptcp --timeout 30 --json http://10.1.1.4:8080/bytes/120000000 \
        >"$T_TMP/get.json" || fail "mptcp download: $(cat "$T_TMP/get.json")"
else
    need_cmd mptcpize iperf3
    $MPLAB exec server -- mptcpize run iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
    wait_for 10 "$MPLAB exec server -- ss -Hltn | grep -q :5201" || fail "iperf3 server"
    $MPLAB exec client -- mptcpize run iperf3 -c 10.1.1.4 -p 5201 -R -t 4 >"$T_TMP/iperf.log" 2>&1 ||
        fail "mptcp download: $(cat "$T_TMP/iperf.log")"
fi
wait $evpid
wait $monpid || fail "monitor failed"
head -1 "$T_TMP/mon.csv" | grep -qx 't,host,iface,rx_bytes,tx_bytes,rx_mbps,tx_mbps' || fail "csv header"
# mean client rx Mbit/s per interface before the blackhole (0.5..2 s) and in the monitor's
# last second (at least 2 s after it)
awk -F, 'NR > 1 && $2 == "client" {
        if ($1 >= 0.5 && $1 < 2.0) { b[$3] += $6; nb[$3]++ }
        if ($1 >= 4.0) { a[$3] += $6; na[$3]++ } }
     END { for (i in b) printf "%s %.1f %.1f\n", i, b[i] / nb[i], (na[i] ? a[i] / na[i] : -1) }' \
    "$T_TMP/mon.csv" | sort >"$T_TMP/mon.txt"
cat "$T_TMP/mon.txt"
for l in l1 l2 l3; do
    grep -q "^$l " "$T_TMP/mon.txt" || fail "monitor has no rows for $l"
    awk -v l=$l '$1 == l && $2 > 5 { ok = 1 } END { exit !ok }' "$T_TMP/mon.txt" ||
        fail "MPTCP download: no traffic on $l before the event"
done
awk '$1 == "l3" && $3 >= 0 && $3 < 0.5 { ok = 1 } END { exit !ok }' "$T_TMP/mon.txt" ||
    fail "monitor still sees traffic on l3 after the blackhole"
$MPLAB link set l3 up || fail "link set up"

# --- link events
$MPLAB link set l2 blackhole || fail "link set blackhole"
$MPLAB exec client -- ping -c 2 -i 0.2 -W 1 -q 10.1.2.5 >/dev/null && fail "blackholed link still answers"
$MPLAB link set l2 up || fail "link set up"
$MPLAB exec client -- ping -c 2 -i 0.2 -W 2 -q 10.1.2.5 >/dev/null || fail "link back up does not answer"
$MPLAB link set l1 delay 30ms || fail "link set delay"
r=$(rtt_ms 10.1.1.4)
echo "rtt after delay 30ms: $r ms"
awk -v r="$r" 'BEGIN { exit !(r >= 59.5 && r < 75) }' || fail "rtt after 'delay 30ms' is '$r' ms"
$MPLAB link set l3 down || fail "link set down"
$MPLAB exec client -- ip link show l3 | grep -q NO-CARRIER || fail "link down: the host still has carrier"
$MPLAB link set l3 up || fail "link set up"
wait_for 5 "! $MPLAB exec client -- ip link show l3 | grep -q NO-CARRIER" || fail "carrier did not return"
$MPLAB link set l9 down 2>/dev/null && fail "unknown link accepted"

# --- down leaves nothing
pids=$(cat "$MPLAB_RUNDIR"/*/*.pid)
$MPLAB topo down triple || fail "topo down"
[ -z "$(leftovers)" ] || fail "down left: $(leftovers)"
for p in $pids; do
    st=$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)
    [ -z "$st" ] || [ "$st" = Z ] || fail "process $p survived down"
done
echo "ok"
