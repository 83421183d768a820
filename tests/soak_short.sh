#!/bin/sh
# The short soak (make soak-short; tests/soak.sh): 60 s of TCPLS downloads and uploads over three
# emulated links under at least 30 random faults (down, blackhole, rate, RST), every byte checked.
exec sh "$(dirname "$0")/soak.sh" --seconds "${SOAK_SECONDS:-60}" --min-faults "${SOAK_MIN_FAULTS:-30}" --size 10M
