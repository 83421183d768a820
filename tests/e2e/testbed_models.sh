#!/bin/sh
# Link models end to end: topologies/lossy.ini (jitter with a normal distribution and
# correlation, Gilbert-Elliott loss on l1, uniform jitter on l2) comes up, 'topo check'
# passes (RTT quantiles and ping loss against the model's own), 'link set' changes a model at
# run time, and a TCPLS and an MPTCP download over both links complete, content verified.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ip tc ethtool ping
export MPLAB_PREFIX="mm$$"
export MPLAB_RUNDIR="$T_TMP/run"
export MPLAB_CERT_DIR="$T_TMP/certs"
at_exit "$MPLAB topo down --all"
TOPODIR="$(dirname "$0")/../../topologies"

$MPLAB topo up "$TOPODIR/lossy.ini" >/dev/null || fail "topo up lossy.ini"
$MPLAB topo show lossy --json >"$T_TMP/show.json" || fail "topo show"
grep -q '"jitter_dist":"normal"' "$T_TMP/show.json" || fail "show: no jitter_dist: $(cat "$T_TMP/show.json")"
grep -q '"loss_ge":{"p":0.5,"r":40,"1-h":100,"1-k":0}' "$T_TMP/show.json" || fail "show: no loss_ge"
$MPLAB topo check lossy >"$T_TMP/check.txt" 2>&1 || fail "topo check: $(cat "$T_TMP/check.txt")"
cat "$T_TMP/check.txt"

# a run-time change of a model shows in 'show' (the forwarder reads it at its next frame)
$MPLAB link --topo lossy set l2 jitter 3ms dir a2b || fail "link set jitter"
$MPLAB link --topo lossy set l2 duplicate 1% || fail "link set duplicate"
$MPLAB link --topo lossy set l2 jitter_dist gauss 2>/dev/null && fail "link set accepted a bad distribution"
$MPLAB topo show lossy | grep -q 'netem delay 15000us 3000us duplicate 1%' || fail "show after link set: $($MPLAB topo show lossy)"
$MPLAB link --topo lossy set l2 duplicate 0 || fail "link set duplicate 0"

# TCPLS over both links
"$MPLAB" cert >/dev/null 2>&1 || fail "mplab cert"
$MPLAB exec --topo lossy server -- "$MPLAB" serve --proto tcpls --listen 10.0.1.2:8443 --listen 10.0.2.2:8443 \
    2>"$T_TMP/tcpls.log" &
at_exit "kill $!"
wait_for 20 "grep -q 'listening on 10.0.2.2:8443' $T_TMP/tcpls.log" || fail "tcpls server: $(cat $T_TMP/tcpls.log)"
out=$($MPLAB exec --topo lossy client -- "$MPLAB" get --proto tcpls --json --timeout 30 --servername mplab-server \
    --bind 10.0.1.1 --bind 10.0.2.1 "https://10.0.1.2:8443/bytes/10M" 2>"$T_TMP/tcpls.err") ||
    fail "tcpls get: $(cat $T_TMP/tcpls.err)"
echo "$out" | grep -q '"verified":true' || fail "tcpls: not verified: $out"
echo "$out" | grep -q '"bytes":10000000' || fail "tcpls: bytes: $out"
echo "tcpls: $(echo "$out" | grep -o "\"goodput_mbps\":[0-9.]*" | head -1)"

# MPTCP over both links (the server signals its second address)
if [ "$(sysctl -n net.mptcp.enabled 2>/dev/null)" = 1 ]; then
    $MPLAB exec --topo lossy server -- "$MPLAB" serve --proto mptcp --listen 0.0.0.0:8080 2>"$T_TMP/mptcp.log" &
    at_exit "kill $!"
    wait_for 10 "grep -q listening $T_TMP/mptcp.log" || fail "mptcp server: $(cat $T_TMP/mptcp.log)"
    out=$($MPLAB exec --topo lossy client -- "$MPLAB" get --proto mptcp --json --timeout 30 \
        http://10.0.1.2:8080/bytes/10M 2>"$T_TMP/mptcp.err") || fail "mptcp get: $(cat $T_TMP/mptcp.err)"
    echo "$out" | grep -q '"verified":true' || fail "mptcp: not verified: $out"
    echo "$out" | grep -q '"mptcp":true' || fail "mptcp: fell back to TCP: $out"
    echo "mptcp: $(echo "$out" | grep -o "\"goodput_mbps\":[0-9.]*" | head -1)"
else
    echo "mptcp part skipped: kernel MPTCP is not enabled"
fi

# corruption: one flipped bit per corrupted frame; the checksums catch every one (the content
# arrives intact, the frames were corrupted: the forwarder counted them)
$MPLAB link --topo lossy set l2 corrupt 2% || fail "link set corrupt"
$MPLAB exec --topo lossy server -- "$MPLAB" serve --proto tcp --listen 10.0.2.2:8081 2>"$T_TMP/tcp.log" &
at_exit "kill $!"
wait_for 10 "grep -q listening $T_TMP/tcp.log" || fail "tcp server: $(cat $T_TMP/tcp.log)"
out=$($MPLAB exec --topo lossy client -- "$MPLAB" get --proto tcp --json --timeout 30 --bind 10.0.2.1 \
    http://10.0.2.2:8081/bytes/5M 2>"$T_TMP/tcp.err") || fail "tcp get over corrupting l2: $(cat $T_TMP/tcp.err)"
echo "$out" | grep -q '"verified":true' || fail "corrupted content got through: $out"
corrupted=$($MPLAB topo show lossy --json | tr '{' '\n' | grep '"corrupted"' | sed -n 's/.*"corrupted":\([0-9]*\).*/\1/p' |
    awk '{ s += $1 } END { print s + 0 }')
[ "$corrupted" -gt 20 ] || fail "the forwarder corrupted only $corrupted frames"
echo "corrupt 2%: $corrupted frames corrupted, download verified"

# trace-driven links: topologies/traced.ini comes up, 'topo check' measures each trace's mean
$MPLAB topo down lossy >/dev/null || fail "topo down lossy"
$MPLAB topo up "$TOPODIR/traced.ini" >/dev/null || fail "topo up traced.ini"
$MPLAB topo show traced | grep -q 'trace .*onoff.trace (mean 16.008 Mbit/s' || fail "show: no trace: $($MPLAB topo show traced)"
$MPLAB topo check traced >"$T_TMP/check2.txt" 2>&1 || fail "topo check traced: $(cat "$T_TMP/check2.txt")"
cat "$T_TMP/check2.txt"
echo "ok"
