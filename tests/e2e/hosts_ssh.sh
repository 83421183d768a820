#!/bin/sh
# Real hosts over OpenSSH, without a VM: a two-host topology comes up, each host runs its own
# sshd (keys made for the test), and the client namespace drives both hosts through a hosts
# file: 'hosts check', a verified download between processes started with 'exec --hosts', and
# 'hosts snapshot' -> changes -> 'hosts restore' (also after the ssh master was killed) gives
# back the state from before. Only the test's namespaces are reached (the client's own
# loopback and the server's link address).
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ip tc ssh ssh-keygen
[ -x /usr/sbin/sshd ] || skip "no sshd (/usr/sbin/sshd; apt-get install openssh-server)"
export MPLAB_PREFIX="mh$$"
export MPLAB_RUNDIR="$T_TMP/run"
at_exit "$MPLAB topo down --all"

cat >"$T_TMP/topo.ini" <<EOF
[topology]
name = hs
[host client]
[host server]
[link l1]
a = client
b = server
[link l2]
a = client
b = server
EOF
$MPLAB topo up "$T_TMP/topo.ini" || fail "topo up"

# sshd's privilege separation directory
if [ ! -d /run/sshd ]; then
    mkdir -p /run/sshd && chmod 755 /run/sshd
    at_exit "rmdir /run/sshd"
fi
ssh-keygen -q -t ed25519 -N '' -f "$T_TMP/id" || fail "ssh-keygen"
ssh-keygen -q -t ed25519 -N '' -f "$T_TMP/hostkey" || fail "ssh-keygen (host key)"
cp "$T_TMP/id.pub" "$T_TMP/authorized_keys"
chmod 700 "$T_TMP"

# start_sshd HOST ADDR : sshd -D inside HOST, listening on ADDR:22 only
start_sshd() {
    cat >"$T_TMP/sshd-$1.conf" <<EOF
ListenAddress $2:22
HostKey $T_TMP/hostkey
PidFile $T_TMP/sshd-$1.pid
AuthorizedKeysFile $T_TMP/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
EOF
    $MPLAB exec "$1" -- /usr/sbin/sshd -D -f "$T_TMP/sshd-$1.conf" -E "$T_TMP/sshd-$1.log" &
    at_exit "kill $!"
    wait_for 10 "$MPLAB exec $1 -- ss -Hltn | grep -q '$2:22 '" || fail "sshd in $1: $(cat "$T_TMP/sshd-$1.log")"
}
start_sshd client 127.0.0.1
start_sshd server 10.0.1.2

H="$T_TMP/hosts.ini"
for h in client server; do
    addr=127.0.0.1
    [ $h = server ] && addr=10.0.1.2
    cat >>"$H" <<EOF
[host $h]
ssh = root@$addr
identity = $T_TMP/id
ssh_options = UserKnownHostsFile=$T_TMP/known_hosts StrictHostKeyChecking=accept-new
mplab = $MPLAB
state_dir = $T_TMP/state
l1 = l1
l2 = l2
EOF
done
# every 'mplab hosts' and 'exec --hosts' runs in the client namespace: the controller
in_client() { $MPLAB exec client -- "$MPLAB" "$@"; }
at_exit "$MPLAB exec client -- $MPLAB hosts close $H"

# --- check
in_client hosts check "$H" >"$T_TMP/check.txt" 2>&1
rc=$?
cat "$T_TMP/check.txt"
if [ $rc != 0 ]; then
    # a kernel without MPTCP or netem fails those checks, and only those
    grep FAIL "$T_TMP/check.txt" | grep -Ev ' (mptcp|netem) ' | grep -q . && fail "hosts check"
fi
in_client hosts check "$H" --json >"$T_TMP/check.json"
grep -q '"check":"reachable","ok":true' "$T_TMP/check.json" || fail "check --json: $(cat "$T_TMP/check.json")"
[ "$(grep -o '"check":"interface","ok":true' "$T_TMP/check.json" | wc -l)" = 4 ] || fail "interfaces: $(cat "$T_TMP/check.json")"
sed 's/^l2 = l2$/l2 = nosuch0/' "$H" >"$T_TMP/bad.ini"
in_client hosts check "$T_TMP/bad.ini" >"$T_TMP/bad.txt" 2>&1 && fail "missing interface accepted"
grep -q "l2 = nosuch0: no such interface" "$T_TMP/bad.txt" || fail "unclear: $(cat "$T_TMP/bad.txt")"

# --- exec --hosts: exit status and quoting pass through
in_client exec --hosts "$H" server -- sh -c 'exit 7'
[ $? = 7 ] || fail "exit status not passed through"
out=$(in_client exec --hosts "$H" server -- printf '%s|' "a b" "it's" '$HOME')
[ "$out" = "a b|it's|\$HOME|" ] || fail "arguments changed on the way: $out"
in_client exec --hosts "$H" nohost -- true 2>/dev/null && fail "unknown host accepted"

# --- a verified download between processes started over ssh
in_client exec --hosts "$H" server -- sh -c "echo \$\$ >$T_TMP/serve.pid; exec $MPLAB serve --proto tcp --listen 10.0.1.2:8080" \
    2>"$T_TMP/serve.log" &
at_exit "kill \$(cat $T_TMP/serve.pid)"
wait_for 10 "grep -q listening $T_TMP/serve.log" || fail "serve over ssh: $(cat "$T_TMP/serve.log")"
in_client exec --hosts "$H" client -- "$MPLAB" get --json http://10.0.1.2:8080/bytes/20000000 >"$T_TMP/get.json" ||
    fail "get over ssh: $(cat "$T_TMP/get.json")"
grep -q '"verified":true' "$T_TMP/get.json" || fail "not verified: $(cat "$T_TMP/get.json")"
kill "$(cat "$T_TMP/serve.pid")"

# --- snapshot, change, restore
state() { # HOST: what restore must give back
    $MPLAB exec "$1" -- sh -c 'ip rule; ip route show table all | grep -v "^local\|^broadcast\|table local" | sort;
        ip -6 rule; ip mptcp endpoint show; ip mptcp limits show;
        for i in l1 l2; do tc qdisc show dev $i | sed "s/ refcnt [0-9]*//"; done'
}
state client >"$T_TMP/client.before"
state server >"$T_TMP/server.before"
in_client hosts snapshot "$H" || fail "snapshot"
in_client hosts snapshot "$H" | grep -q "kept" || fail "second snapshot did not keep the first record"
change() {
    $MPLAB exec client -- ip mptcp endpoint add 10.0.2.1 id 42 dev l2 subflow &&
        $MPLAB exec client -- ip mptcp limits set subflows 5 add_addr_accepted 3 &&
        $MPLAB exec client -- ip rule add from 10.0.2.1 lookup 123 pref 1234 &&
        $MPLAB exec client -- ip route add 10.9.9.0/24 dev l2 table 123 &&
        $MPLAB exec server -- tc qdisc replace dev l1 root tbf rate 10mbit burst 32kbit latency 50ms &&
        $MPLAB exec server -- ip route add 10.8.8.0/24 dev l1
}
change || fail "changing the hosts"
state client | cmp -s - "$T_TMP/client.before" && fail "the change did not change the client"
in_client hosts restore "$H" || fail "restore"
state client | diff "$T_TMP/client.before" - || fail "client not restored"
state server | diff "$T_TMP/server.before" - || fail "server not restored"
in_client topo down --hosts "$H" | grep -q "nothing to restore" || fail "second restore (topo down --hosts) not idempotent"

# --- the ssh master dies between snapshot and restore
in_client hosts snapshot "$H" || fail "snapshot (2)"
change || fail "changing the hosts (2)"
masters=$(ps -eo pid=,args= | grep "$MPLAB_RUNDIR/ssh/" | grep '\[mux\]' | awk '{print $1}')
[ -n "$masters" ] || fail "no ssh master under $MPLAB_RUNDIR/ssh"
for p in $masters; do kill -9 "$p"; done
in_client hosts restore "$H" || fail "restore after the master was killed"
state client | diff "$T_TMP/client.before" - || fail "client not restored (2)"
state server | diff "$T_TMP/server.before" - || fail "server not restored (2)"
[ -z "$(ls "$T_TMP/state")" ] || fail "records left: $(ls "$T_TMP/state")"
echo "ok"
