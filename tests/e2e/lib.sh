# Helpers for end-to-end tests (sourced). Every test:
#   . "$(dirname "$0")/lib.sh"
#   need_root; need_cmd curl          (exit 77 = skip, with the reason as the last line)
#   ns=$(mk_netns a)                  (unique name, removed by the EXIT trap)
#   at_exit "kill $pid"               (more cleanup, run in reverse order)
#   wait_for 10 "ss -ltn | grep -q :$port"   (poll a condition, never a fixed sleep)
set -u
MPLAB=${MPLAB:-$(cd "$(dirname "$0")/../.." && pwd)/build/mplab}
# the same with test hooks (MPLAB_TCPLS_INJECT), built by 'make tests' only
MPLAB_TESTING=${MPLAB_TESTING:-${MPLAB%/*}/mplab-testing}
T_ID="t$$"
T_TMP=$(mktemp -d "/tmp/mplab-e2e-$T_ID.XXXXXX")
_cleanup_cmds=""
_netns=""

at_exit() { _cleanup_cmds="$1
$_cleanup_cmds"; }

_run_cleanup() {
    rc=$?
    set +e
    printf '%s\n' "$_cleanup_cmds" | while IFS= read -r c; do [ -n "$c" ] && eval "$c" >/dev/null 2>&1; done
    # mk_netns usually runs in $(...), a subshell: names are also recorded in a file.
    [ -f "$T_TMP/.netns" ] && _netns="$_netns $(cat "$T_TMP/.netns")"
    for n in $_netns; do
        ip netns pids "$n" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "$n" 2>/dev/null
    done
    rm -rf "$T_TMP"
    exit $rc
}
trap _run_cleanup EXIT
trap 'exit 130' INT TERM

skip() { echo "skipped: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || skip "needs root"; }
need_cmd() { for c in "$@"; do command -v "$c" >/dev/null 2>&1 || skip "needs $c"; done; }
need_testing_build() { [ -x "$MPLAB_TESTING" ] || skip "needs $MPLAB_TESTING (make tests)"; }
# col RUN_ID COLUMN: a cell of $OUT/runs.csv (mplab run's output directory), by column name
col() {
    awk -F, -v id="$1" -v c="$2" 'NR == 1 { for (i = 1; i <= NF; i++) k[$i] = i; next }
                                 $1 == id { print $(k[c]) }' "$OUT/runs.csv"
}
need_mptcp() { [ "$(sysctl -n net.mptcp.enabled 2>/dev/null)" = 1 ] || skip "kernel MPTCP is not enabled"; }

# mk_netns SUFFIX -> prints a unique namespace name (mplt-<pid>-SUFFIX) and registers its removal.
mk_netns() {
    n="mplt-$$-$1"
    ip netns add "$n" || fail "ip netns add $n"
    ip -n "$n" link set lo up
    _netns="$_netns $n"
    echo "$n" >>"$T_TMP/.netns"
    echo "$n"
}

# wait_for SECONDS 'shell condition' : polls every 50 ms; returns 1 on timeout.
wait_for() {
    _deadline=$(( $(date +%s) + $1 ))
    while ! eval "$2" >/dev/null 2>&1; do
        [ "$(date +%s)" -ge "$_deadline" ] && return 1
        sleep 0.05
    done
    return 0
}

# free_port : an unused TCP port on loopback.
free_port() {
    while :; do
        p=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 30000 ))
        ss -Htan "sport = :$p" | grep -q . || { echo "$p"; return; }
    done
}
