#!/bin/sh
# MPTCP with two subflows (an extra 'subflow' endpoint, in a private namespace): get --json
# lists both subflows with their addresses, and their received bytes add up to the body.
. "$(dirname "$0")/lib.sh"
need_root
need_mptcp
need_cmd ip
ns=$(mk_netns mp)
ip -n "$ns" addr add 127.0.0.2/8 dev lo || fail "addr"
ip -n "$ns" mptcp limits set subflows 4 add_addr_accepted 4 || skip "no MPTCP path manager control (ip mptcp)"
ip -n "$ns" mptcp endpoint add 127.0.0.2 dev lo subflow || fail "endpoint"
ip netns exec "$ns" "$MPLAB" serve --proto mptcp --listen 127.0.0.1:8080 2>"$T_TMP/srv.log" &
wait_for 10 "grep -q 'listening on' $T_TMP/srv.log" || fail "server did not start"
out=$(ip netns exec "$ns" "$MPLAB" get --proto mptcp --json http://127.0.0.1:8080/bytes/50M) || fail "get: $out"
echo "$out"
echo "$out" | grep -q '"mptcp":true' || fail "not MPTCP"
echo "$out" | grep -q '"local":"127.0.0.2:' || fail "no subflow from 127.0.0.2"
echo "$out" | grep -q '"subflows_total":2' || echo "note: no subflows_total (kernel < 6.6?)"
n=$(echo "$out" | grep -o '"bytes_received":[0-9]*' | wc -l)
[ "$n" -ge 2 ] || fail "$n subflows listed"
sum=$(echo "$out" | grep -o '"bytes_received":[0-9]*' | cut -d: -f2 | awk "{s += \$1} END {print s}")
[ "$sum" -ge 50000000 ] || fail "subflow bytes add up to $sum"
echo ok
