#!/bin/sh
# Usage errors of every command (no root, no network): a bad flag, a missing argument or a
# missing subcommand gives exactly one line on stderr, nothing on stdout, exit 2. Also: the
# per-subcommand help of 'topo', and (as root, with a private prefix and run directory)
# 'topo down NAME' of a topology that is not up.
. "$(dirname "$0")/lib.sh"
cd "$T_TMP" || fail "cd"

# usage_error EXPECTED_STDERR_REGEX ARGS...: one stderr line matching the regex, exit 2
usage_error() {
    re=$1
    shift
    $MPLAB "$@" >"$T_TMP/out" 2>"$T_TMP/err"
    rc=$?
    [ $rc -eq 2 ] || fail "mplab $*: exit $rc, expected 2: $(cat "$T_TMP/err")"
    [ ! -s "$T_TMP/out" ] || fail "mplab $*: wrote on stdout: $(head -3 "$T_TMP/out")"
    n=$(wc -l <"$T_TMP/err")
    [ "$n" -eq 1 ] || fail "mplab $*: $n lines on stderr, expected 1: $(head -5 "$T_TMP/err")"
    grep -Eq "$re" "$T_TMP/err" || fail "mplab $*: '$(cat "$T_TMP/err")' does not match '$re'"
}

for cmd in serve get cert run report topo link exec monitor; do
    usage_error "^mplab $cmd: error: unrecognized option '--bogus' \(see 'mplab $cmd --help'\)\$" $cmd --bogus
done
for sub in up down show check commands; do
    usage_error "^mplab topo: error: unrecognized option '--bogus' \(see 'mplab topo --help'\)\$" topo $sub --bogus
done
usage_error "unrecognized option '--bogus'" link set --bogus
usage_error "unrecognized option '--bogus'" link schedule --bogus
usage_error "unrecognized option '--bogus'" exec --topo x h1 --bogus

# short options, missing arguments, arguments not taken
usage_error "invalid option '-Z'" get -Z http://127.0.0.1:1/
usage_error "option '--proto' requires an argument" get --proto
usage_error "option '-p' requires an argument" get -p
usage_error "option '--quiet' does not take an argument" get --quiet=1 http://127.0.0.1:1/
usage_error "option '--listen' requires an argument" serve --listen
usage_error "option '--out' requires an argument" run --out
usage_error "option '--hz' requires an argument" monitor --hz
usage_error "option '--topo' requires an argument" link --topo
usage_error "option '--topo' requires an argument" exec --topo
usage_error "option '--name' requires an argument" topo up x.ini --name

# missing subcommands and operands: the line says what is missing
usage_error "no URL given" get
usage_error "missing DIR" report
usage_error "unexpected argument 'b'" report a b
usage_error "missing subcommand \(up, down, show, check, commands\)" topo
usage_error "unknown subcommand 'nosuch'" topo nosuch
usage_error "up: missing FILE" topo up
usage_error "down: missing NAME" topo down
usage_error "commands: missing FILE" topo commands
usage_error "missing subcommand \(set, capture, schedule\)" link
usage_error "unknown subcommand 'nosuch'" link nosuch
usage_error "set: missing LINK and ACTION" link set
usage_error "set: missing ACTION" link set l1
usage_error "capture: missing LINK" link capture
usage_error "capture: missing -w FILE" link capture l1
usage_error "schedule: missing events" link schedule
usage_error "missing HOST and CMD" exec
usage_error "missing CMD to run in host 'h1'" exec h1
usage_error "unexpected argument 'x'" cert x

# help: every command exits 0; 'topo SUB --help' describes SUB
for cmd in serve get cert run report topo link exec monitor; do
    $MPLAB $cmd --help >/dev/null 2>&1 || fail "$cmd --help"
done
$MPLAB topo check --help | grep -q "PASS when every row is ok" || fail "topo check --help: no pass criteria"
$MPLAB topo check --help | grep -q "0.75 and 1.02" || fail "topo check --help: no TCP ratio"
$MPLAB topo down --help | grep -q "not up" || fail "topo down --help"
$MPLAB topo up --help | grep -q "^Usage: mplab topo up FILE" || fail "topo up --help"
$MPLAB topo commands --help | grep -q "^Usage: mplab topo commands FILE" || fail "topo commands --help"
$MPLAB topo --help | grep -q "SUBCOMMAND --help" || fail "topo --help"

# 'topo down NAME' of a topology that is not up: a notice, exit 1; '--all' of nothing: silent
if [ "$(id -u)" = 0 ]; then
    export MPLAB_PREFIX="cu$$" MPLAB_RUNDIR="$T_TMP/run"
    $MPLAB topo down nosuch >"$T_TMP/out" 2>"$T_TMP/err"
    rc=$?
    [ $rc -eq 1 ] || fail "topo down nosuch: exit $rc"
    grep -q "topology 'nosuch' is not up (prefix $MPLAB_PREFIX)" "$T_TMP/err" ||
        fail "topo down nosuch: $(cat "$T_TMP/err")"
    $MPLAB topo down --all >"$T_TMP/out" 2>"$T_TMP/err" || fail "topo down --all of nothing failed"
    [ ! -s "$T_TMP/out" ] && [ ! -s "$T_TMP/err" ] || fail "topo down --all of nothing is not silent"
else
    echo "not root: 'topo down' of a topology that is not up not checked"
fi
echo "ok"
