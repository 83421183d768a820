#!/bin/sh
# Checks, without installing anything, that what one build step needs is there; on a miss it
# names the Debian packages and 'make deps' (scripts/install-deps.sh), and exits 1.
# Usage: scripts/check-deps.sh build|tests|fuzz   (CC: the compiler of 'build', default cc)
#   build  the compiler, pkg-config, OpenSSL (libssl, libcrypto) and libmnl headers and libraries
#   tests  the above and cmocka
#   fuzz   the above and clang with libFuzzer
set -u
missing=""
need() { # PACKAGE COMMAND...: PACKAGE is missing unless COMMAND succeeds
    pkg=$1
    shift
    "$@" >/dev/null 2>&1 || missing="$missing $pkg"
}
build() {
    need gcc command -v "${CC:-cc}"
    need pkg-config command -v pkg-config
    need libssl-dev pkg-config --exists libssl libcrypto
    need libmnl-dev pkg-config --exists libmnl
}
case "${1:-}" in
build) build ;;
tests)
    build
    need libcmocka-dev pkg-config --exists cmocka
    ;;
fuzz)
    build
    need libcmocka-dev pkg-config --exists cmocka
    need clang command -v clang
    need libclang-rt-14-dev sh -c 'echo "int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }" |
        clang -fsanitize=fuzzer -x c - -o /dev/null'
    ;;
*)
    echo "usage: $0 build|tests|fuzz" >&2
    exit 2
    ;;
esac
if [ -n "$missing" ]; then
    echo "mplab: missing Debian packages:$missing; install them with 'make deps' (as root)" >&2
    exit 1
fi
