#!/bin/sh
# README's main job. Until the experiment runner lands (issue "Experiments"), it runs the
# loopback comparison of the baseline protocols.
set -eu
cd "$(dirname "$0")/.."
exec ./build/mplab run "$@"
