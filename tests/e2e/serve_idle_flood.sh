#!/bin/sh
# Issue 15 item 7: 'mplab serve' under a flood of idle connections past its descriptor limit
# (ulimit -n 256, 400 connections that never send a byte, from 127.0.0.2-11 so that each
# address stays under the per-address cap) must keep serving a real client at once and must
# not spin (low CPU), over tcp and over tcpls. Loopback only.
. "$(dirname "$0")/lib.sh"
need_cmd python3
export MPLAB_CERT_DIR="$T_TMP/certs"

# flood PORT: opens 400 idle connections and keeps them until killed; prints "open N" when done.
cat >"$T_TMP/flood.py" <<'PY'
import socket, sys, time
port, socks = int(sys.argv[1]), []
for i in range(400):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.bind(("127.0.0.%d" % (2 + i % 10), 0))
        s.connect(("127.0.0.1", port))
        socks.append(s)
    except OSError:
        s.close()
print("open %d" % len(socks), flush=True)
time.sleep(120)
PY

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run_case() {
    proto=$1 scheme=$2
    port=$(free_port)
    log="$T_TMP/srv-$proto.log"
    (ulimit -n 256 && exec "$MPLAB" serve --proto "$proto" --quiet --listen "127.0.0.1:$port") 2>"$log" &
    srv=$!
    at_exit "kill -9 $srv"
    wait_for 20 "grep -q 'listening on 127.0.0.1:$port' $log" || fail "$proto: server did not start: $(cat "$log")"
    "$MPLAB" get --proto "$proto" -q "$scheme://127.0.0.1:$port/bytes/1k" || fail "$proto: get before the flood"

    before=$(cpu_ticks $srv)
    python3 "$T_TMP/flood.py" "$port" >"$T_TMP/flood-$proto.out" &
    flood=$!
    at_exit "kill -9 $flood"
    wait_for 30 "grep -q '^open' $T_TMP/flood-$proto.out" || fail "$proto: flood did not finish"
    cat "$T_TMP/flood-$proto.out"
    sleep 2 # the server holds what it can; a spinning accept loop would burn these seconds
    t0=$(date +%s)
    out=$("$MPLAB" get --proto "$proto" --json --timeout 15 "$scheme://127.0.0.1:$port/bytes/1M") ||
        fail "$proto: get during the flood: $out"
    t1=$(date +%s)
    echo "$out" | grep -q '"verified":true' || fail "$proto: not verified: $out"
    [ $((t1 - t0)) -le 5 ] || fail "$proto: served after $((t1 - t0)) s"
    after=$(cpu_ticks $srv)
    hz=$(getconf CLK_TCK)
    echo "$proto: server CPU $((after - before)) ticks (of $hz a second) during ~$((t1 - t0 + 3)) s of flood"
    # less than a third of one core over the flood window (a spinning loop takes all of it)
    [ $(((after - before) * 3)) -lt $(((t1 - t0 + 2) * hz)) ] || fail "$proto: server CPU too high"
    kill -0 $srv || fail "$proto: server died: $(cat "$log")"
    kill -9 $flood
    kill -TERM $srv
    wait $srv
}

run_case tcp http
run_case tcpls https

# the request-head timeout: a connection that sends nothing is closed after --header-timeout
port=$(free_port)
"$MPLAB" serve --proto tcp --quiet --header-timeout 1 --listen "127.0.0.1:$port" 2>"$T_TMP/ht.log" &
srv=$!
at_exit "kill -9 $srv"
wait_for 20 "grep -q 'listening on 127.0.0.1:$port' $T_TMP/ht.log" || fail "header timeout: server did not start"
cat >"$T_TMP/idle.py" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(10)
t0 = time.time()
try:
    d = s.recv(1)
except OSError:
    d = b""
print("closed after %.1f s" % (time.time() - t0))
PY
r=$(python3 "$T_TMP/idle.py" "$port")
echo "header timeout 1 s: $r"
secs=$(echo "$r" | awk '{print $3}')
[ "$(echo "$secs" | awk '{print ($1 >= 0.8 && $1 < 4)}')" = 1 ] || fail "idle connection: $r"
echo ok
