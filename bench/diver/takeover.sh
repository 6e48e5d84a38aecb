#!/usr/bin/env bash
# Diver on PostgreSQL: how long after a `kill -9` of the recorder node another node takes its copy
# over, and the gap that leaves in the recording (issue 14: a dead node's recordings are taken over
# by another; with liveness, without waiting for its lease to expire).
#
#   bench/diver/takeover.sh                               # ROUNDS=5, every row
#   ROUNDS=5 ROW='lease 10 s, liveness 1.5 s' bench/diver/takeover.sh
#
# Runs tst_divernodes killedNodeIsTakenOver (the dev build in build/dev: the test and the diver
# binary) ROUNDS times per row. Each run starts a PostgreSQL of its own, recast with one channel,
# and two diver processes (1 s segments) on one database and one storage folder; one airing is
# recorded by one node, which gets SIGKILL after 3 segments. The test logs:
#   takeover: from the kill to the survivor holding the copy's lease (the lease table, polled);
#   gap:      in the copy's index: the survivor's first segment (flagged) minus the end of the
#             last one the victim wrote (its journal's included).
# The rows: "lease 2 s, leases only" and "lease 10 s, leases only" (liveness_grace_ms=0: the
# survivor claims when the victim's lease expires), "lease 10 s, liveness 1.5 s" (the default
# liveness: claimed once the victim's advisory lock has been free for the grace).
# Prints every round and the medians per row. Wall-clock figures: they rise with the load.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build/dev}
ROUNDS=${ROUNDS:-5}
TEST="$BUILD/tests/dvr/tst_divernodes"
ROWS=("lease 2 s, leases only" "lease 10 s, leases only" "lease 10 s, liveness 1.5 s")
[[ -n "${ROW:-}" ]] && ROWS=("$ROW")
WORK=${WORK:-$(mktemp -d /tmp/iptv-bench-takeover.XXXXXX)}
mkdir -p "$WORK"

[[ -x "$TEST" ]] || { echo "build it first: cmake --build $BUILD --target tst_divernodes diver" >&2; exit 1; }
echo "== $(date -u +'%F %T') UTC, load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores, $ROUNDS rounds, logs in $WORK =="

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for row in "${ROWS[@]}"; do
    takeovers=() gaps=()
    for ((i = 1; i <= ROUNDS; i++)); do
        log="$WORK/$(echo "$row" | tr -c 'a-z0-9' '_')-$i.log"
        if ! "$TEST" "killedNodeIsTakenOver:$row" >"$log" 2>&1; then
            echo "$row, round $i: the test failed (see $log)"
            continue
        fi
        took=$(grep -o 'took the copy over [0-9]* ms' "$log" | grep -o '[0-9]*' | head -1)
        gap=$(grep -o 'gap in the recording: [0-9]* ms' "$log" | grep -o '[0-9]*' | head -1)
        echo "$row, round $i: takeover ${took} ms, gap ${gap} ms (load $(cut -d' ' -f1 /proc/loadavg))"
        takeovers+=("$took") gaps+=("$gap")
    done
    echo "== $row: median takeover $(printf '%s\n' "${takeovers[@]}" | median) ms, median gap $(printf '%s\n' "${gaps[@]}" | median) ms (${#takeovers[@]} rounds)"
done
