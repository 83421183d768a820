#!/bin/sh
# Apply (or with --check, verify) .clang-format on every C file of the project.
set -eu
cd "$(dirname "$0")/.."
files=$(git ls-files -co --exclude-standard -- '*.c' '*.h' | grep -v '^fuzz/corpus/' || true)
[ -n "$files" ] || exit 0
if [ "${1:-}" = "--check" ]; then
    # shellcheck disable=SC2086
    if ! clang-format --dry-run -Werror $files >/tmp/mplab-format.$$ 2>&1; then
        grep -o '^[^:]*\.[ch]' /tmp/mplab-format.$$ | sort -u | sed 's/^/unformatted: /' >&2
        rm -f /tmp/mplab-format.$$
        echo "format-check: run 'make format'" >&2
        exit 1
    fi
    rm -f /tmp/mplab-format.$$
else
    # shellcheck disable=SC2086
    clang-format -i $files
fi
