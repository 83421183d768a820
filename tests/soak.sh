#!/bin/sh
# TCPLS soak test: on a three-link emulated topology, TCPLS downloads and uploads run one after
# the other while a fault injector, from a logged seed, takes links down and up, blackholes
# them, changes their rate, and resets connections (ss -K), at random times. At most two links
# are impaired at once, so a path always exists. Every download is checked byte for byte and
# by SHA-256 against a clean reference, every upload byte for byte by the server (422
# otherwise); a transfer that fails or outlives its timeout counts as lost (one whose first
# connection could not be opened moved no byte: counted apart). At the end: how many faults of
# each kind were injected, transfers ok / lost, and no namespace left behind.
#
#   sh tests/soak.sh [--seconds S] [--min-faults N] [--seed N] [--size BYTES]
#   make soak                 (the full run: 600 s, at least 200 faults)
#   make soak-short           (60 s, at least 30 faults)
#
# Exit status 0 when every transfer completed intact and enough faults were injected.
MPLAB=${MPLAB:-$(cd "$(dirname "$0")/.." && pwd)/build/mplab}
. "$(dirname "$0")/e2e/lib.sh"
SECONDS_TOTAL=600 MIN_FAULTS=200 SEED=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ') SIZE=20M
while [ $# -gt 0 ]; do
    case "$1" in
    --seconds) SECONDS_TOTAL=$2; shift 2 ;;
    --min-faults) MIN_FAULTS=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "soak: unknown option $1 (see --help)"; exit 2 ;;
    esac
done
need_root
need_cmd ip tc ethtool ss awk
export MPLAB_PREFIX="mso$$"
export MPLAB_RUNDIR="$T_TMP/run"
export MPLAB_CERT_DIR="$T_TMP/certs"
OUT=${SOAK_OUT:-build/soak}
mkdir -p "$OUT"
rm -f "$OUT"/lost-*.log
at_exit "$MPLAB topo down --all"
"$MPLAB" cert >/dev/null 2>&1 || fail "mplab cert"
echo "soak: seed $SEED, ${SECONDS_TOTAL}s, transfers of $SIZE, at least $MIN_FAULTS faults (log in $OUT)"

cat >"$T_TMP/three.ini" <<'INI'
[topology]
name = soak
mptcp = no
[host client]
[host server]
[link l1]
a = client
b = server
rate = 40mbit
delay = 5ms
[link l2]
a = client
b = server
rate = 40mbit
delay = 10ms
[link l3]
a = client
b = server
rate = 40mbit
delay = 20ms
INI
"$MPLAB" topo up "$T_TMP/three.ini" >/dev/null || fail "topo up"
"$MPLAB" exec --topo soak server -- "$MPLAB" serve --proto tcpls --tokens 6 \
    --listen 10.0.1.2:8443 --listen 10.0.2.2:8443 --listen 10.0.3.2:8443 2>"$OUT/server.log" &
srv=$!
at_exit "kill $srv"
wait_for 20 "grep -q 'listening on 10.0.3.2:8443' $OUT/server.log" || fail "server did not start: $(cat "$OUT/server.log")"
ss_kill=1
"$MPLAB" exec --topo soak client -- ss -K dst 10.0.9.9 >/dev/null 2>&1 || ss_kill=0

get() { # extra get arguments... (bounded: a hang counts as a lost transfer)
    timeout 60 "$MPLAB" exec --topo soak client -- "$MPLAB" get --proto tcpls --json --timeout 10 \
        --servername mplab-server --bind 10.0.1.1 --bind 10.0.2.1 --bind 10.0.3.1 "$@"
}
# the reference: a download before any fault
ref=$(get "https://10.0.1.2:8443/bytes/$SIZE" 2>"$OUT/ref.err" | grep -o '"sha256":"[0-9a-f]*"') ||
    fail "reference download: $(cat "$OUT/ref.err")"

# ---- the fault injector: a seeded generator, one line per fault in faults.log ----
: >"$OUT/faults.log"
(
    awk -v seed="$SEED" -v total="$SECONDS_TOTAL" -v sskill="$ss_kill" 'BEGIN {
        srand(seed); t = 0.5
        while (t < total - 2) {
            t += 0.15 + rand() * 0.6
            l = 1 + int(rand() * 3); k = rand()
            if (k < 0.25) kind = "down"; else if (k < 0.45) kind = "blackhole";
            else if (k < 0.7) kind = "rate"; else kind = (sskill ? "rst" : "rate")
            dur = 0.3 + rand() * 1.5
            rate = 2 + int(rand() * 60)
            printf "%.2f %s l%d %.2f %dmbit\n", t, kind, l, dur, rate
        }
    }' >"$T_TMP/plan"
    start=$(date +%s.%N)
    impaired="" # links with a fault in force, "l1@END l2@END"
    while read -r at kind link dur rate; do
        now=$(echo "$start $(date +%s.%N)" | awk '{print $2 - $1}')
        wait_s=$(echo "$at $now" | awk '{d = $1 - $2; print (d > 0 ? d : 0)}')
        sleep "$wait_s"
        now=$(echo "$start $(date +%s.%N)" | awk '{print $2 - $1}')
        # restore the faults that ended
        keep=""
        for f in $impaired; do
            l=${f%@*} end=${f#*@}
            if [ "$(echo "$now $end" | awk '{print ($1 >= $2)}')" = 1 ]; then
                "$MPLAB" link --topo soak set "$l" up >/dev/null 2>&1
                "$MPLAB" link --topo soak set "$l" rate 40mbit >/dev/null 2>&1
            else
                keep="$keep $f"
            fi
        done
        impaired=$keep
        case " $impaired " in *" $link@"*) continue ;; esac # already impaired
        [ "$(echo $impaired | wc -w)" -ge 2 ] && [ "$kind" != rst ] && continue
        case $kind in
        down | blackhole) "$MPLAB" link --topo soak set "$link" "$kind" >/dev/null 2>&1 || continue ;;
        rate) "$MPLAB" link --topo soak set "$link" rate "$rate" >/dev/null 2>&1 || continue ;;
        rst) n=${link#l}
            "$MPLAB" exec --topo soak client -- ss -K dst "10.0.$n.2" >/dev/null 2>&1 || continue ;;
        esac
        [ "$kind" = rst ] || impaired="$impaired $link@$(echo "$now $dur" | awk '{print $1 + $2}')"
        echo "$now $kind $link" >>"$OUT/faults.log"
    done <"$T_TMP/plan"
    for l in l1 l2 l3; do "$MPLAB" link --topo soak set "$l" up >/dev/null 2>&1; done
) &
inj=$!
at_exit "kill $inj"

# ---- transfers until the time is up ----
end=$(($(date +%s) + SECONDS_TOTAL))
ok=0 lost=0 n=0 noconn=0
: >"$OUT/transfers.log"
while [ "$(date +%s)" -lt "$end" ]; do
    n=$((n + 1))
    if [ $((n % 2)) = 1 ]; then
        what="download"
        out=$(get "https://10.0.2.2:8443/bytes/$SIZE" 2>"$T_TMP/err") || out=""
    else
        what="upload"
        out=$(get --upload "$SIZE" "https://10.0.2.2:8443/upload" 2>"$T_TMP/err") || out=""
    fi
    good=1
    echo "$out" | grep -q '"error":null' || good=0
    echo "$out" | grep -q '"status":200' || good=0
    if [ "$what" = download ]; then
        echo "$out" | grep -q '"verified":true' || good=0
        echo "$out" | grep -q "$ref" || good=0
    fi
    if [ $good = 0 ] && [ -z "$out" ] && grep -q 'error: cannot connect\|error: TCPLS session not established' "$T_TMP/err"; then
        # no session at all (the first connection's path was down, or reset while connecting or
        # during the handshake): nothing was transferred, so nothing can be lost; counted apart
        noconn=$((noconn + 1))
        echo "$n $what no connection: $(grep 'error' "$T_TMP/err" | head -c 200)" >>"$OUT/transfers.log"
    elif [ $good = 1 ]; then
        ok=$((ok + 1))
        echo "$n $what ok $(echo "$out" | grep -o '"seconds":[0-9.]*')" >>"$OUT/transfers.log"
    else
        lost=$((lost + 1))
        echo "$n $what LOST: $(grep 'error' "$T_TMP/err" | head -c 300) $(echo "$out" | head -c 300)" >>"$OUT/transfers.log"
        cp "$T_TMP/err" "$OUT/lost-$n.log"
    fi
done
wait $inj 2>/dev/null
faults=$(wc -l <"$OUT/faults.log")
echo "soak: seed $SEED: $ok transfers ok, $lost lost or corrupt, $noconn never established a session; $faults faults injected:"
for k in down blackhole rate rst; do
    printf '  %-9s %s\n' "$k" "$(awk -v k=$k '$2 == k' "$OUT/faults.log" | wc -l)"
done
[ "$ss_kill" = 1 ] || echo "  (ss -K is not available here: no connection resets)"
"$MPLAB" topo down --all >/dev/null 2>&1
left=$(ls /run/netns 2>/dev/null | grep -c "^$MPLAB_PREFIX" || true)
echo "soak: namespaces left behind: $left"
[ "$lost" -eq 0 ] || fail "$lost transfers lost (see $OUT/transfers.log)"
[ "$ok" -gt 0 ] || fail "no transfer completed"
[ "$faults" -ge "$MIN_FAULTS" ] || fail "only $faults faults injected (wanted $MIN_FAULTS)"
[ "$left" -eq 0 ] || fail "namespaces left behind"
echo "ok"
