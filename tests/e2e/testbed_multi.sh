#!/bin/sh
# Testbed end to end: two topologies side by side (client-router-server with MPTCP through
# the router, and one with an [events] schedule), leftovers of a crashed run are cleaned by
# the next 'up', 'down NAME' touches only its own topology, 'down --all' removes the rest.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ip tc ethtool ping tcpdump
export MPLAB_PREFIX="mt$$"
export MPLAB_RUNDIR="$T_TMP/run"
at_exit "$MPLAB topo down --all"
TOPODIR="$(dirname "$0")/../../topologies"
mine() { ls /run/netns 2>/dev/null | grep "^$MPLAB_PREFIX-${1:-}"; }

cat >"$T_TMP/evt.ini" <<'INI'
[topology]
name = evt
mptcp = no
[host c]
[host s]
[link l1]
a = c
b = s
delay = 5ms
[link l2]
a = c
b = s
rate = 20mbit
[events]
1s = l1 delay 40ms
1500ms = l2 down
INI

# a crashed earlier run left a namespace and a state directory behind
ip netns add "$MPLAB_PREFIX-evt-c" || fail "ip netns add"
mkdir -p "$MPLAB_RUNDIR/$MPLAB_PREFIX-evt"
$MPLAB topo up "$T_TMP/evt.ini" --capture "$T_TMP/cap" || fail "up over leftovers"
$MPLAB topo up "$TOPODIR/crs.ini" || fail "up crs next to evt"
[ "$($MPLAB topo show --json | grep -o '"name":"crs"\|"name":"evt"' | sort -u | wc -l)" = 2 ] ||
    fail "show does not list both topologies"
$MPLAB exec c -- true 2>/dev/null && fail "exec without --topo accepted with two topologies up"

# --- client-router-server: both client addresses reach the server through the router
for src in 10.0.1.1 10.0.2.1; do
    $MPLAB exec --topo crs client -- ping -c 2 -i 0.2 -W 2 -q -I $src 10.0.3.2 >/dev/null ||
        fail "crs: no route from $src to the server"
done
$MPLAB exec --topo crs r -- sysctl -n net.ipv4.ip_forward | grep -qx 1 || fail "router does not forward"
if ! $MPLAB get --help 2>&1 | grep -q "not implemented"; then
    $MPLAB exec --topo crs server -- "$MPLAB" serve --proto mptcp --listen 0.0.0.0:8080 2>"$T_TMP/serve.log" &
    at_exit "kill $!"
    wait_for 10 "grep -q listening $T_TMP/serve.log" || fail "serve: $(cat "$T_TMP/serve.log")"
    $MPLAB exec --topo crs client -- "$MPLAB" get --proto mptcp --json --timeout 20 \
        http://10.0.3.2:8080/bytes/8000000 >"$T_TMP/get.json" || fail "get: $(cat "$T_TMP/get.json")"
    for l in c1 c2; do
        # RX bytes of the client's interface (the line after the "RX:" header)
        b=$($MPLAB exec --topo crs client -- ip -s link show dev $l | awk '/RX:/ { getline; print $1; exit }')
        echo "crs link $l router->client: $b bytes"
        [ "$b" -gt 500000 ] || fail "MPTCP through the router did not use link $l"
    done
fi

# --- the [events] schedule of evt
wait_for 5 "$MPLAB exec --topo evt c -- ip link show l2 | grep -q NO-CARRIER" || fail "event 'l2 down' missing"
$MPLAB exec --topo evt c -- ping -c 1 -W 2 -q 10.0.1.2 >/dev/null # ARP
r=$($MPLAB exec --topo evt c -- ping -c 5 -i 0.05 -q 10.0.1.2 | awk -F/ '/^rtt/ {print $5}')
echo "evt: rtt on l1 after the delay event: $r ms"
awk -v r="$r" 'BEGIN { exit !(r >= 79.5 && r < 95) }' || fail "event 'l1 delay 40ms': rtt $r"
grep -q "link l2 down" "$MPLAB_RUNDIR/$MPLAB_PREFIX-evt/events.log" || fail "events.log"
$MPLAB link --topo evt schedule '0.2s l2 up' '0.1s l1 delay 5ms' 2>"$T_TMP/sched.log" || fail "link schedule"
cat "$T_TMP/sched.log"
$MPLAB exec --topo evt c -- ip link show l2 | grep -q NO-CARRIER && fail "schedule 'l2 up' did not act"

# --- down one, the other stays
$MPLAB topo down crs || fail "down crs"
[ -z "$(mine crs-)" ] || fail "down crs left $(mine crs-)"
[ -n "$(mine evt-)" ] || fail "down crs removed evt"
$MPLAB exec --topo evt c -- ping -c 1 -W 2 -q 10.0.1.2 >/dev/null || fail "evt broken by down crs"
# Ctrl-C during 'up': either it finished (then it is complete) or nothing is left
$MPLAB topo up "$TOPODIR/triple.ini" 2>/dev/null &
uppid=$!
sleep 0.3
kill -INT $uppid 2>/dev/null
wait $uppid
if [ -f "$MPLAB_RUNDIR/$MPLAB_PREFIX-triple/ready" ]; then
    echo "up finished before the interrupt"
    [ "$(mine triple- | wc -l)" = 5 ] || fail "complete topology without its 5 namespaces"
else
    [ -z "$(mine triple-)" ] || fail "interrupted up left $(mine triple-)"
    [ ! -e "$MPLAB_RUNDIR/$MPLAB_PREFIX-triple" ] || fail "interrupted up left its state"
    echo "interrupted up left nothing"
fi
$MPLAB topo down --all || fail "down --all"
[ -z "$(mine)" ] || fail "down --all left $(mine)"
# the whole-run capture of evt holds the pings of link l1
n=$(tcpdump -n -r "$T_TMP/cap/l1.pcap" icmp 2>/dev/null | wc -l)
echo "capture of l1: $n ICMP frames"
[ "$n" -ge 4 ] || fail "capture of l1 has $n ICMP frames"
[ -z "$(ls "$MPLAB_RUNDIR")" ] || fail "down --all left state: $(ls "$MPLAB_RUNDIR")"
echo ok
