#!/usr/bin/env bash
# Every ReCast benchmark but the soak, one after the other (issue 12); results in docs/BENCHMARKS.md.
#
#   bench/recast/run.sh                      # ladder.sh (3 runs), then live.sh
#   RUNS=1 MEASURE=20 bench/recast/run.sh
#   DURATION=600 bench/recast/soak.sh        # the soak is run on its own
set -euo pipefail
DIR=$(cd "$(dirname "$0")" && pwd)
"$DIR/ladder.sh"
"$DIR/live.sh"
