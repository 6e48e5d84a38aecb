#!/usr/bin/env bash
# The DVR scheduler benchmark (issue 14): 10,000 series rules over a generated 1,000 channels x 14
# days guide; full evaluation (target <= 1 s) and re-evaluation after a guide delta (<= 50 ms).
# Figures go to docs/BENCHMARKS.md, "Diver (issue 14)" / "Scheduler".
#
#   bench/diver/scheduler.sh                         # Release build in build/bench-release, 5 runs
#   RUNS=3 CHANNELS=200 DAYS=7 RULES=2000 bench/diver/scheduler.sh
#   THREADS=1 bench/diver/scheduler.sh                # rules matched on one thread (default: one per core)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/bench/common.sh"
WORK=${WORK:-$BUILD/bench-data}
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')  commit: $(git -C "$ROOT" rev-parse --short HEAD)  load: $(cut -d' ' -f1-3 /proc/loadavg)"
release_build bench_scheduler
"$BUILD/bench/diver/bench_scheduler" --channels "${CHANNELS:-1000}" --days "${DAYS:-14}" --rules "${RULES:-10000}" \
    --runs "${RUNS:-5}" --nodes "${NODES:-4}" --streams "${STREAMS:-40}" --threads "${THREADS:-0}" --work "$WORK"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
