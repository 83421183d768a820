#!/bin/sh
# The short soak of make check (tests/soak_short.sh, tests/soak.sh): 60 s of TCPLS downloads and
# uploads over three emulated links under at least 30 random faults (down, blackhole, rate,
# RST), every byte checked; the seed is in the log (SOAK_ARGS="--seed N" make soak replays it).
exec sh "$(dirname "$0")/../soak_short.sh"
