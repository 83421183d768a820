#!/bin/sh
# The layering of docs/DESIGN.md, checked: every #include "..." of a folder must name what
# that folder may use. Prints each violation as FILE:LINE: FOLDER must not include "X" and
# exits 1 if there is any. System headers (<...>) are free, except <getopt.h>, which only
# src/cmd and src/common (its command-line helpers) may use: the core knows no command line.
set -eu
cd "$(dirname "$0")/.."

# check FILES -- ALLOWED...: each quoted include must start with one of ALLOWED ("lib:" = a
# header of the file's own folder, named without a folder)
check() {
    files=""
    while [ "$1" != "--" ]; do
        [ -f "$1" ] && files="$files $1"
        shift
    done
    shift
    [ -n "$files" ] || return 0
    # shellcheck disable=SC2086
    grep -Hn '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' $files | while IFS= read -r hit; do
        file=${hit%%:*}
        rest=${hit#*:}
        line=${rest%%:*}
        inc=$(printf '%s\n' "$rest" | sed 's/^[^"]*"\([^"]*\)".*/\1/')
        ok=0
        for a in "$@"; do
            case "$a" in
            own:) case "$inc" in */*) ;; *) [ -f "$(dirname "$file")/$inc" ] && ok=1 ;; esac ;;
            *) case "$inc" in "$a"*) ok=1 ;; esac ;;
            esac
        done
        [ $ok -eq 1 ] || echo "$file:$line: $(dirname "$file") must not include \"$inc\""
    done
}

out=$(
    check include/*.h -- own:
    check lib/*.c lib/*.h -- tcpls.h own:
    check src/common/*.c src/common/*.h -- common/
    check src/netinfo/*.c src/netinfo/*.h -- common/ netinfo/
    check src/xfer/*.c src/xfer/*.h -- common/ netinfo/ xfer/ tcpls.h
    check src/testbed/*.c src/testbed/*.h -- common/ testbed/
    check src/exp/*.c src/exp/*.h -- common/ testbed/ exp/
    check src/cmd/*.c src/cmd/*.h -- common/ netinfo/ xfer/ testbed/ exp/ cmd/ tcpls.h
    check src/main.c -- cmd/ common/
    check tests/support/*.c tests/support/*.h -- tcpls.h own: internal.h
    check tests/unit/*.c tests/sim/*.c fuzz/*.c bench/*.c -- common/ netinfo/ xfer/ testbed/ exp/ tcpls.h \
        internal.h session.h ../support/ ../tests/support/ tcpls_test.h own:
)
getopt=$(grep -ln '#[[:space:]]*include[[:space:]]*<getopt.h>' include/*.h lib/*.c lib/*.h src/xfer/* src/netinfo/* \
    src/testbed/* src/exp/* 2>/dev/null || true)
for f in $getopt; do
    out="$out
$f: $(dirname "$f") must not include <getopt.h> (the command line belongs to src/cmd)"
done
out=$(printf '%s\n' "$out" | sed '/^$/d')
if [ -n "$out" ]; then
    printf '%s\n' "$out" >&2
    echo "layering: $(printf '%s\n' "$out" | wc -l) include(s) against docs/DESIGN.md" >&2
    exit 1
fi
