#!/bin/sh
# TCPLS multipath vs Linux MPTCP on an emulated two-link topology (issue 5), side by side in
# one run. For every split of the links: the two single-path TCP goodputs, MPTCP and TCPLS
# downloads over both links, and aggregation ratio = goodput / (tcp1 + tcp2). Then failover:
# link l1 goes down at 2 s during a download; the longest gap with no application data (from
# --interval 0.05 samples) and the rate after it, for 'down' and 'blackhole' (FAILS="down" to
# run one). Reports numbers; not a test.
#
#   sh bench/multipath.sh [--splits "30/70 50/50 70/30 5/45"] [--delays "10/10 10/40"] [--secs 6]
# Needs root and kernel MPTCP. Numbers measured while other jobs use the CPU are depressed.
set -u
cd "$(dirname "$0")/.."
MPLAB=${MPLAB:-$(pwd)/build/mplab}
splits="30/70 50/50 70/30 5/45"
delays="10/10 10/40"
secs=6
while [ $# -gt 0 ]; do
    case "$1" in
    --splits) splits="$2"; shift 2 ;;
    --delays) delays="$2"; shift 2 ;;
    --secs) secs="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }
export MPLAB_PREFIX="mpb$$"
export MPLAB_RUNDIR=$(mktemp -d /tmp/mplab-bench.XXXXXX)
export MPLAB_CERT_DIR="$MPLAB_RUNDIR/certs"
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null; done
    $MPLAB topo down --all >/dev/null 2>&1
    rm -rf "$MPLAB_RUNDIR"
}
trap cleanup EXIT INT TERM
$MPLAB cert >/dev/null 2>&1

num() { grep -o "\"$1\":[0-9.e+-]*" | head -1 | cut -d: -f2; }
# longest run of intervals with no bytes after t >= 1.9 s, and the mean rate of the last second
gap() { tr '{' '\n' | sed -n 's/^"t":\([0-9.e+-]*\),"bytes":\([0-9]*\),.*/\1 \2/p' | awk -v dt=0.05 '
    $1 >= 1.9 { if ($2 == 0) { run += dt; if (run > g) g = run } else run = 0 }
    { t[NR] = $1; b[NR] = $2 }
    END { s = 0; n = 0; for (i = NR; i > 0 && t[i] > t[NR] - 1; i--) { s += b[i]; n++ }
          printf "%.2f %.1f", g, n ? s * 8 / (n * dt) / 1e6 : 0 }'; }

topo() { # r1 r2 d1 d2
    cat >"$MPLAB_RUNDIR/t.ini" <<EOT
[topology]
name = mpb
[host client]
mptcp_endpoints = none
mptcp_subflows = 2
mptcp_add_addr_accepted = 2
[host server]
mptcp_endpoints = signal
[link l1]
a = client
b = server
rate = $1mbit
delay = $3ms
[link l2]
a = client
b = server
rate = $2mbit
delay = $4ms
EOT
    $MPLAB topo up "$MPLAB_RUNDIR/t.ini" >/dev/null || { echo "topo up failed" >&2; exit 1; }
    $MPLAB exec --topo mpb server -- "$MPLAB" serve --proto tcpls --quiet --listen 10.0.1.2:8443 --listen 10.0.2.2:8443 &
    pids="$pids $!"
    $MPLAB exec --topo mpb server -- "$MPLAB" serve --proto mptcp --quiet --listen 0.0.0.0:8080 &
    pids="$pids $!"
    $MPLAB exec --topo mpb server -- "$MPLAB" serve --proto tcp --quiet --listen 0.0.0.0:8081 &
    pids="$pids $!"
    sleep 1
}
untopo() { for p in $pids; do kill "$p" 2>/dev/null; done; pids=""; sleep 0.3; $MPLAB topo down mpb >/dev/null 2>&1; }
cget() { $MPLAB exec --topo mpb client -- "$MPLAB" get --json --timeout 20 "$@" 2>/dev/null; }

printf '%-7s %-7s | %7s %7s | %7s %6s | %7s %6s | %s\n' split delay tcp1 tcp2 mptcp ratio tcpls ratio "tcpls conn bytes"
for d in $delays; do
    d1=${d%/*}; d2=${d#*/}
    for s in $splits; do
        r1=${s%/*}; r2=${s#*/}
        topo "$r1" "$r2" "$d1" "$d2"
        n1=$(( r1 * secs * 1000000 / 8 )); n2=$(( r2 * secs * 1000000 / 8 )); n=$(( (r1 + r2) * secs * 1000000 / 8 ))
        t1=$(cget --proto tcp --bind 10.0.1.1 "http://10.0.1.2:8081/bytes/$n1" | num goodput_mbps)
        t2=$(cget --proto tcp --bind 10.0.2.1 "http://10.0.2.2:8081/bytes/$n2" | num goodput_mbps)
        m=$(cget --proto mptcp "http://10.0.1.2:8080/bytes/$n" | num goodput_mbps)
        tj=$(cget --proto tcpls --servername mplab-server --bind 10.0.1.1 --bind 10.0.2.1 "https://10.0.1.2:8443/bytes/$n")
        [ -n "${BENCH_DUMP:-}" ] && echo "$tj" >>"$BENCH_DUMP"
        t=$(echo "$tj" | num goodput_mbps)
        cb=$(echo "$tj" | grep -o '"stream_bytes_received":[0-9]*' | cut -d: -f2 | tr '\n' ' ')
        echo "$t1 $t2 $m $t" | awk -v s="$s" -v d="$d" -v cb="$cb" '{ sum = $1 + $2
            printf "%-7s %-7s | %7.1f %7.1f | %7.1f %6.3f | %7.1f %6.3f | %s\n", s, d, $1, $2, $3, sum ? $3 / sum : 0, $4, sum ? $4 / sum : 0, cb }'
        untopo
    done
done

echo
echo "failover: l1 (50 Mbit/s, 10 ms) fails at 2 s (down: the carrier goes; blackhole: silent drops);"
echo "l2 50 Mbit/s 10 ms; longest gap after 2 s, rate in the last second"
for ev in ${FAILS:-down blackhole}; do
    for proto in mptcp tcpls; do
        topo 50 50 10 10
        $MPLAB link --topo mpb schedule "2s l1 $ev" >/dev/null 2>&1 &
        sp=$!
        if [ $proto = mptcp ]; then
            j=$(cget --proto mptcp --interval 0.05 "http://10.0.1.2:8080/bytes/40M")
        else
            j=$(cget --proto tcpls --interval 0.05 --servername mplab-server --bind 10.0.1.1 --bind 10.0.2.1 "https://10.0.1.2:8443/bytes/40M")
        fi
        wait $sp 2>/dev/null
        echo "$ev $proto: goodput $(echo "$j" | num goodput_mbps) Mbit/s, verified $(echo "$j" | sed -n 's/.*"verified":\([a-z]*\).*/\1/p'), gap_s / last_s_mbps: $(echo "$j" | gap)"
        untopo
    done
done
