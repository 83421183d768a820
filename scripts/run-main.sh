#!/bin/sh
# README's main job ('make run'): the default comparison of TCP, TLS, MPTCP and TCPLS on two
# emulated links (scenarios/default.ini), under 5 minutes. Extra arguments go to 'mplab run'
# (e.g. 'make run' then 'sh scripts/run-main.sh --repeat 3'). Needs root.
set -eu
cd "$(dirname "$0")/.."
exec ./build/mplab run "$@"
