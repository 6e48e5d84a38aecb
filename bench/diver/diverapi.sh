#!/usr/bin/env bash
# A box's GET /api/status and GET /api/upcoming with an operator's plan (issue 14): bench_scheduler's
# 10,000 series rules of 3,000 viewers over a 1,000 channels x 14 days guide, planned by an
# in-process diver; p50/p99 latency over 1,000 requests per route from a client thread, then the
# instructions per request under callgrind (the route's own function: the ticket's check and the
# HTTP server around it are the same either way). Figures go to docs/BENCHMARKS.md,
# "Diver (issue 14)" / "Per-box answers".
#
#   bench/diver/diverapi.sh                       # the dev build in build/dev (BUILD=... for another)
#   REQUESTS=200 OWNERS=1000 bench/diver/diverapi.sh
#   CALLGRIND=0 bench/diver/diverapi.sh           # latencies only
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build/dev}
WORK=${WORK:-$BUILD/bench-data}
BIN="$BUILD/bench/diver/bench_diverapi"
ARGS=(--channels "${CHANNELS:-1000}" --days "${DAYS:-14}" --rules "${RULES:-10000}" --owners "${OWNERS:-3000}"
      --box "${BOX:-STB-00001}" --work "$WORK")
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')  commit: $(git -C "$ROOT" rev-parse --short HEAD)  load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p')"
cmake --build "$BUILD" --target bench_diverapi -j2 >/dev/null
"$BIN" "${ARGS[@]}" --requests "${REQUESTS:-1000}"
if [[ "${CALLGRIND:-1}" != 0 ]]; then
    n=${CALLGRIND_REQUESTS:-20}
    for route in status upcoming; do
        out=$(mktemp)
        valgrind --tool=callgrind --callgrind-out-file="$out" \
            --toggle-collect="iptv::diver::DiverServer::${route}Reply*" \
            "$BIN" "${ARGS[@]}" --requests "$n" --only "$route" --no-index >/dev/null 2>&1
        total=$(sed -n 's/^summary: *//p; s/^totals: *//p' "$out" | head -1)
        echo "callgrind: ${route}Reply: $total instructions over $n requests = $((total / n)) per request"
        rm -f "$out"
    done
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
