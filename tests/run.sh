#!/bin/sh
# mplab's test driver: runs every test and ends with the line 'N passed, N failed, N skipped'.
#
#   sh tests/run.sh [--only unit|sim|san|e2e|fuzz] [--case NAME] [PATTERN]
#
# PATTERN picks tests by file name (a substring: 'topology', 'cli_usage'); --case NAME runs,
# inside each cmocka binary (unit, sim, san), only the test cases matching NAME ('*' and '?'
# are wildcards), e.g.  sh tests/run.sh --only unit test_ini --case test_load
# (the same as TEST_FILTER=test_load build/tests/unit/test_ini; see tests/test_filter.c).
#
# Kinds: unit  build/tests/unit/test_*     (cmocka, one per module)
#        sim   build/tests/sim/sim_*       (deterministic multipath simulations)
#        san   the same two under ASan+UBSan+LSan (build-san/)
#        e2e   tests/e2e/*.sh              (real processes; exit 77 = skipped, with a reason on stdout)
#        fuzz  build-fuzz/fuzz_*           (libFuzzer, FUZZ_SECONDS each: 30 under CI, else 5; a finding fails)
# Each test's output goes to build/test-logs/; a failure prints the end of its log.
set -u
cd "$(dirname "$0")/.."
only=""
pattern=""
while [ $# -gt 0 ]; do
    case "$1" in
    --only) only="$2"; shift 2 ;;
    --case) export TEST_FILTER="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) pattern="$1"; shift ;;
    esac
done
if [ -n "${CI:-}" ]; then FUZZ_SECONDS=${FUZZ_SECONDS:-30}; else FUZZ_SECONDS=${FUZZ_SECONDS:-5}; fi
TEST_TIMEOUT=${TEST_TIMEOUT:-900}
logs=build/test-logs
mkdir -p "$logs"
passed=0 failed=0 skipped=0 failures=""
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
export MPLAB="${MPLAB:-$(pwd)/build/mplab}"

run_one() { # kind name command...
    kind=$1 name=$2
    shift 2
    case "$name" in *"$pattern"*) ;; *) return 0 ;; esac
    log="$logs/$kind-$(echo "$name" | tr '/' '_').log"
    start=$(date +%s.%N)
    timeout -k 10 "$TEST_TIMEOUT" "$@" >"$log" 2>&1
    rc=$?
    secs=$(echo "$start $(date +%s.%N)" | awk '{printf "%.1f", $2-$1}')
    if [ $rc -eq 0 ]; then
        passed=$((passed + 1))
        echo "PASS  $kind $name (${secs}s)"
    elif [ $rc -eq 77 ]; then
        skipped=$((skipped + 1))
        echo "SKIP  $kind $name: $(tail -n 1 "$log")"
    else
        failed=$((failed + 1))
        failures="$failures $kind:$name"
        [ $rc -eq 124 ] && echo "      (timed out after ${TEST_TIMEOUT}s)" >>"$log"
        echo "FAIL  $kind $name (exit $rc, ${secs}s) — log: $log"
        tail -n 30 "$log" | sed 's/^/      | /'
    fi
}

want() { [ -z "$only" ] || [ "$only" = "$1" ]; }

if want unit; then
    for t in build/tests/unit/test_*; do
        [ -x "$t" ] || continue
        case "$t" in *.o|*.d) continue ;; esac
        run_one unit "$(basename "$t")" "$t"
    done
fi
if want sim; then
    for t in build/tests/sim/sim_*; do
        [ -x "$t" ] || continue
        case "$t" in *.o|*.d) continue ;; esac
        run_one sim "$(basename "$t")" "$t"
    done
fi
if want san; then
    for t in build-san/tests/unit/test_* build-san/tests/sim/sim_*; do
        [ -x "$t" ] || continue
        case "$t" in *.o|*.d) continue ;; esac
        run_one san "$(basename "$t")" "$t"
    done
fi
if want e2e; then
    for t in tests/e2e/*.sh; do
        [ -f "$t" ] || continue
        case "$(basename "$t")" in lib.sh) continue ;; esac
        run_one e2e "$(basename "$t" .sh)" sh "$t"
    done
fi
if want fuzz; then
    for t in build-fuzz/fuzz_*; do
        [ -x "$t" ] || continue
        n=$(basename "$t")
        corpus=fuzz/corpus/${n#fuzz_}
        mkdir -p "$logs/fuzz-work-$n"
        cp -r "$corpus"/. "$logs/fuzz-work-$n"/ 2>/dev/null || true
        run_one fuzz "$n" "$t" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -error_exitcode=1 -timeout_exitcode=1 \
            -artifact_prefix="$logs/$n-" "$logs/fuzz-work-$n"
    done
fi

[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
