#!/usr/bin/env bash
# Diver: the CPU of recording a channel over HLS (with its EXT-X-PROGRAM-DATE-TIME read: a
# connection per segment, http_persistent=0, and a reading of the playlist for every segment the
# last reading did not list) against the same channel over MPEG-TS (one HTTP stream), at small
# scale. The headend is recast with N pass-through channels (ladder=copy, 2 s segments) of the
# 5 Mbit/s input, as record.sh runs it; then diver_bench records all N over MPEG-TS
# (/live/cNNN.ts), then all N over HLS (/live/cNNN/<rendition>/index.m3u8), ROUNDS times in turn.
# CPU is getrusage over MEASURE s after WARMUP s, all threads of diver_bench (recast not counted).
#
#   N=10 MEASURE=40 bench/diver/hls-vs-ts.sh
#   RECAST=/path/to/recast DIVER_BENCH=/path/to/diver_bench bench/diver/hls-vs-ts.sh   # other builds
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/bench/common.sh"
. "$ROOT/bench/recast/common.sh"
RECAST=${RECAST_BIN:-$RECAST}
N=${N:-10}
MEASURE=${MEASURE:-40}
WARMUP=${WARMUP:-15}
ROUNDS=${ROUNDS:-2}
PORT=${PORT:-18760}
WORK=${WORK:-$(mktemp -d /tmp/iptv-bench-hlsts.XXXXXX)}
API="http://127.0.0.1:$PORT"
DIVER_BENCH=${DIVER_BENCH:-$BUILD/bench/diver/diver_bench}

machine_info
if [ -z "${SKIP_BUILD:-}" ]; then
    echo "== build (Release) in $BUILD =="
    release_build recast diver_bench
fi
IN=$(input_5mbit)
start_copy_channels "$WORK" "$N" "$PORT" "$IN"
# The media playlist of the pass-through rendition (the master names it).
rendition=$(hls_rendition "$API") || exit 1
echo "== recast: $N channels live; HLS: /live/cNNN/$rendition; load $(cut -d' ' -f1-3 /proc/loadavg) =="

run() { # NAME URL
    "$DIVER_BENCH" --url "$2" --count "$N" --dir "$WORK/$1" --warmup "$WARMUP" --seconds "$MEASURE" --segment 6 \
        >"$WORK/$1.json" 2>"$WORK/$1.log"
    printf '  %-8s CPU a recording %.3f%% of a core; segments %s, gaps %s, reconnects %s (load %s)\n' "$1" \
        "$(jq .cpu_percent_per_recording "$WORK/$1.json")" "$(jq .segments "$WORK/$1.json")" "$(jq .gaps "$WORK/$1.json")" \
        "$(jq .reconnects "$WORK/$1.json")" "$(cut -d' ' -f1-3 /proc/loadavg)"
    rm -rf "${WORK:?}/$1"
}
for round in $(seq 1 "$ROUNDS"); do
    run "ts-$round" "$API/live/c%1.ts"
    run "hls-$round" "$API/live/c%1/$rendition"
done
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
stop_pid "$recast"
rm -rf "$WORK/recast/live" "$WORK/recast/data"
echo "raw results in $WORK"
