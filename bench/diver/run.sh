#!/usr/bin/env bash
# Every Diver benchmark (issue 14); results in docs/BENCHMARKS.md, section "Diver (issue 14)".
#
#   bench/diver/run.sh                   # record.sh: 100 concurrent recordings next to ffmpeg
#   N=20 MEASURE=30 bench/diver/run.sh
set -euo pipefail
DIR=$(cd "$(dirname "$0")" && pwd)
"$DIR/record.sh"
