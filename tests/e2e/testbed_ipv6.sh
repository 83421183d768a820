#!/bin/sh
# IPv6 end to end: topologies/dual6.ini (dual stack, two links) comes up, each IPv6 address
# reaches the server on its own link (per-source routing: a source on l2 sends over l2), the
# server's MPTCP endpoints include its IPv6 addresses, and a TCPLS download over both IPv6
# paths and an MPTCP download over IPv6 complete, content verified.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ip tc ethtool ping
export MPLAB_PREFIX="m6$$"
export MPLAB_RUNDIR="$T_TMP/run"
export MPLAB_CERT_DIR="$T_TMP/certs"
at_exit "$MPLAB topo down --all"
TOPODIR="$(dirname "$0")/../../topologies"

$MPLAB topo up "$TOPODIR/dual6.ini" >/dev/null || fail "topo up dual6.ini"
# the RTT tells the path: 20 ms over l1, 50 ms over l2, 35 ms crossed
for pair in "fd00:0:1::1 fd00:0:1::2 19 25" "fd00:0:2::1 fd00:0:2::2 49 56" "fd00:0:2::1 fd00:0:1::2 34 41"; do
    set -- $pair
    $MPLAB exec --topo dual6 client -- ping -6 -c 1 -W 2 -I $1 $2 >/dev/null 2>&1 # neighbour discovery
    rtt=$($MPLAB exec --topo dual6 client -- ping -6 -n -c 3 -i 0.2 -W 2 -I $1 $2 | sed -n 's|.*= \([0-9.]*\)/.*|\1|p')
    [ -n "$rtt" ] || fail "no IPv6 reply from $2 to $1"
    awk -v r="$rtt" -v lo="$3" -v hi="$4" 'BEGIN { exit !(r >= lo && r <= hi) }' ||
        fail "$1 -> $2: RTT $rtt ms, expected $3..$4 (wrong path?)"
    echo "$1 -> $2: $rtt ms"
done
$MPLAB topo show dual6 --json | grep -q '{"addr":"fd00:0:2::2","id":4,"flags":"signal"}' ||
    fail "server endpoints: $($MPLAB topo show dual6 --json)"

"$MPLAB" cert >/dev/null 2>&1 || fail "mplab cert"
$MPLAB exec --topo dual6 server -- "$MPLAB" serve --proto tcpls --listen '[fd00:0:1::2]:8443' \
    --listen '[fd00:0:2::2]:8443' 2>"$T_TMP/tcpls.log" &
at_exit "kill $!"
wait_for 20 "grep -q 'listening on \[fd00:0:2::2\]:8443' $T_TMP/tcpls.log" || fail "tcpls server: $(cat $T_TMP/tcpls.log)"
out=$($MPLAB exec --topo dual6 client -- "$MPLAB" get --proto tcpls --json --timeout 30 --servername mplab-server \
    --bind fd00:0:1::1 --bind fd00:0:2::1 "https://[fd00:0:1::2]:8443/bytes/10M" 2>"$T_TMP/tcpls.err") ||
    fail "tcpls get: $(cat $T_TMP/tcpls.err)"
echo "$out" | grep -q '"verified":true' || fail "tcpls: not verified: $out"
echo "$out" | grep -q '"remote":"\[fd00:0:2::2\]:8443"' || fail "tcpls: no connection over l2: $out"
echo "tcpls over IPv6: $(echo "$out" | grep -o '"goodput_mbps":[0-9.]*' | head -1)"

if [ "$(sysctl -n net.mptcp.enabled 2>/dev/null)" = 1 ]; then
    $MPLAB exec --topo dual6 server -- "$MPLAB" serve --proto mptcp --listen '[::]:8080' 2>"$T_TMP/mptcp.log" &
    at_exit "kill $!"
    wait_for 10 "grep -q listening $T_TMP/mptcp.log" || fail "mptcp server: $(cat $T_TMP/mptcp.log)"
    out=$($MPLAB exec --topo dual6 client -- "$MPLAB" get --proto mptcp --json --timeout 30 \
        "http://[fd00:0:1::2]:8080/bytes/10M" 2>"$T_TMP/mptcp.err") || fail "mptcp get: $(cat $T_TMP/mptcp.err)"
    echo "$out" | grep -q '"verified":true' || fail "mptcp: not verified: $out"
    echo "$out" | grep -q '"mptcp":true' || fail "mptcp: fell back to TCP: $out"
    echo "$out" | grep -q '"subflows_total":2' || fail "mptcp: no second subflow over IPv6: $out"
    echo "mptcp over IPv6: $(echo "$out" | grep -o '"goodput_mbps":[0-9.]*' | head -1)"
else
    echo "mptcp part skipped: kernel MPTCP is not enabled"
fi
echo "ok"
