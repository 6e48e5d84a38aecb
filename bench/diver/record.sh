#!/usr/bin/env bash
# Diver: concurrent recordings on one node (issue 14), next to the ffmpeg program doing the same.
#
#   bench/diver/record.sh                       # N=100 recordings, Release build in build/bench-release
#   N=20 FF_N=20 MEASURE=30 bench/diver/record.sh
#   JOURNAL=0 bench/diver/record.sh             # without the segment-in-progress journal
#   DIVER_BENCH=/tmp/old/diver_bench bench/diver/record.sh   # an older build of ours against ffmpeg
#   BEFORE=/tmp/old/diver_bench FF_N=0 bench/diver/record.sh  # an older build and ours taking turns
#   SOURCE=hls bench/diver/record.sh            # the channels' HLS output instead of their MPEG-TS
#
# The headend is recast with N pass-through channels (ladder=copy) of a 5 Mbit/s 1080p25 H.264 +
# AAC MPEG-TS file, looping, paced by recast (its CPU is not counted). Then, one after the other
# against the same headend:
#   ours:   diver_bench, N Recorders in one process reading /live/cNNN.ts (MPEG-TS over HTTP),
#           6 s segments written and synced with their index lines; CPU (getrusage) over MEASURE
#           s after WARMUP s, resident memory at the window's end; then every recording is checked (gaps, reconnects, segments lost,
#           recorded time against its wall-clock span);
#   ffmpeg: FF_N processes `ffmpeg -i http://…/live/cNNN.ts -c copy -f hls -hls_time 6
#           -hls_list_size 0`, the sum of their CPU (/proc/PID/stat) over the same window.
# CPU per recording = CPU / window / recordings. The recordings are deleted at the end.
#
# SOURCE=hls: both record each channel's HLS output instead (recast's live media playlist of the
# pass-through rendition, /live/cNNN/<rendition>, 2 s segments, a window of 6, dated by
# EXT-X-PROGRAM-DATE-TIME; served on 127.0.0.1): ours reads it with the playlist's dates (a
# connection per playlist and segment), ffmpeg as it does by default (kept-alive connections).
# Also reported: ours' playlist requests per segment, the source segments the demuxers skipped
# (listed, never read: the playlist moved on without them), and how far behind live a recording
# ended (max lag); for ffmpeg the segments its demuxer skipped ("expired from playlists").
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/bench/common.sh"
. "$ROOT/bench/recast/common.sh"
N=${N:-100}
FF_N=${FF_N:-$N}
MEASURE=${MEASURE:-60}
WARMUP=${WARMUP:-15}
PORT=${PORT:-18740}
WORK=${WORK:-$(mktemp -d /tmp/iptv-bench-diver.XXXXXX)}
mkdir -p "$WORK"
API="http://127.0.0.1:$PORT"
DIVER_BENCH=${DIVER_BENCH:-$BUILD/bench/diver/diver_bench} # another build of it: a before/after

machine_info
echo "== build (Release) in $BUILD =="
release_build recast diver_bench
IN=$(input_5mbit)
echo "== input: $IN ($(du -k "$IN" | cut -f1) KiB) =="

stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

start_copy_channels "$WORK" "$N" "$PORT" "$IN"
echo "== recast: $N pass-through channels live; load $(cut -d' ' -f1-3 /proc/loadavg) =="
SOURCE=${SOURCE:-ts}
case "$SOURCE" in
ts) source_of() { echo "$API/live/c$1.ts"; } ;;
hls)
    # The media playlist of the pass-through rendition (the master names it).
    rendition=$(hls_rendition "$API") || exit 1
    source_of() { echo "$API/live/c$1/$rendition"; }
    # A channel is live before its first segment is written; its media playlist answers 503
    # until then. Recordings opened before that start with a reconnect, which is a gap the
    # headend made, not the recorder: wait until every channel's playlist is there.
    for i in $(seq -f %03g 1 "$N"); do
        for _ in $(seq 1 300); do
            curl -sf -o /dev/null "$(source_of "$i")" && break
            sleep 0.2
        done
        curl -sf -o /dev/null "$(source_of "$i")" || { echo "recast has no HLS playlist for c$i after 60 s"; exit 1; }
    done
    echo "== HLS sources: $(source_of NNN) (every playlist answers) =="
    ;;
*) echo "SOURCE is ts or hls, not \"$SOURCE\""; exit 2 ;;
esac

# BEFORE=<an older diver_bench>: it and ours take turns ROUNDS times against the same headend
# (a before/after side by side), then ffmpeg; FF_N=0 leaves ffmpeg out.
run_ours() { # NAME BINARY
    echo "== $1: $N recordings, $WARMUP s warm-up, CPU over $MEASURE s =="
    "$2" --url "$(source_of %1)" --count "$N" --dir "$WORK/$1" --warmup "$WARMUP" --seconds "$MEASURE" \
        --segment 6 --journal "${JOURNAL:-1}" >"$WORK/$1.json" 2>"$WORK/$1.log"
    jq -c . "$WORK/$1.json"
    echo "   load after: $(cut -d' ' -f1-3 /proc/loadavg)"
    rm -rf "${WORK:?}/$1"
}
if [ -n "${BEFORE:-}" ]; then
    for round in $(seq 1 "${ROUNDS:-2}"); do
        run_ours "before-$round" "$BEFORE"
        run_ours "after-$round" "$DIVER_BENCH"
        printf '  round %d: CPU a recording before %.3f%%, after %.3f%%; resident before %.0f MB, after %.0f MB\n' "$round" \
            "$(jq .cpu_percent_per_recording "$WORK/before-$round.json")" "$(jq .cpu_percent_per_recording "$WORK/after-$round.json")" \
            "$(jq .rss_mb "$WORK/before-$round.json")" "$(jq .rss_mb "$WORK/after-$round.json")"
    done
    cp "$WORK/after-1.json" "$WORK/ours.json"
else
    run_ours ours "$DIVER_BENCH"
fi
load_ours=$(cut -d' ' -f1-3 /proc/loadavg)
if [ "$FF_N" -eq 0 ]; then
    stop_pid "$recast"
    rm -rf "$WORK/recast/live" "$WORK/recast/data"
    echo "raw results in $WORK"
    exit 0
fi

echo "== ffmpeg -c copy -f hls: $FF_N processes, $WARMUP s warm-up, CPU over $MEASURE s =="
ff=()
for i in $(seq 1 "$FF_N"); do
    d="$WORK/ff/c$i"
    mkdir -p "$d"
    "$FFMPEG" -hide_banner -loglevel warning -nostats -i "$(source_of "$(printf %03d "$i")")" -c copy -f hls -hls_time 6 \
        -hls_list_size 0 -hls_segment_filename "$d/seg-%d.ts" "$d/index.m3u8" 2>>"$WORK/ff.log" &
    ff+=($!)
    pids+=($!)
done
sleep "$WARMUP"
# CPU seconds of each ffmpeg so far, "-" for one that has exited (the headend dropped it as too
# slow, or its input failed: ffmpeg does not reconnect).
cpu_each() { local p; for p in "${ff[@]}"; do if [ -r "/proc/$p/stat" ]; then cpu_s "$p"; else echo -; fi; done; }
cpu_each >"$WORK/ff-cpu-a"
sleep "$MEASURE"
cpu_each >"$WORK/ff-cpu-b"
# Over the processes that lived through the window.
read -r ff_alive ff_cpu < <(paste "$WORK/ff-cpu-a" "$WORK/ff-cpu-b" | awk '$1 != "-" && $2 != "-" { n++; s += $2 - $1 } END { print n + 0, s + 0 }')
load_ff=$(cut -d' ' -f1-3 /proc/loadavg)
for p in "${ff[@]}"; do stop_pid "$p"; done
ff_segments=$(find "$WORK/ff" -name 'seg-*.ts' | wc -l)
# The HLS demuxer's "skipping N segments ahead, expired from playlists".
ff_skipped=$(grep -o 'skipping [0-9]* segments ahead' "$WORK/ff.log" | awk '{ s += $2 } END { print s + 0 }' || true)
rm -rf "$WORK/ff"
stop_pid "$recast"
rm -rf "$WORK/recast/live" "$WORK/recast/data" # 1.5 GB of the headend's segments

ours_pct=$(jq .cpu_percent_per_recording "$WORK/ours.json")
ff_pct=$(echo "100 * $ff_cpu / $MEASURE / $ff_alive" | bc -l)
printf '  ours: %d recordings, %.1f%% of a core in all, %.3f%% a recording; segments %s, lost %s, gaps %s, reconnects %s, min coverage %.3f, writer waits %s, slowest write %s ms, resident %.0f MB (%.2f MB a recording) (load %s)\n' \
    "$N" "$(jq .cpu_percent_of_core "$WORK/ours.json")" "$ours_pct" "$(jq .segments "$WORK/ours.json")" \
    "$(jq .segments_lost "$WORK/ours.json")" "$(jq .gaps "$WORK/ours.json")" "$(jq .reconnects "$WORK/ours.json")" \
    "$(jq .min_coverage "$WORK/ours.json")" "$(jq .writer_waits "$WORK/ours.json")" "$(jq .slowest_write_ms "$WORK/ours.json")" \
    "$(jq .rss_mb "$WORK/ours.json")" "$(jq ".rss_mb / $N" "$WORK/ours.json")" "$load_ours"
if [ "$SOURCE" = hls ]; then
    printf '  ours, HLS: %s playlist requests for %s source segments (%.2f a segment), %s source segments skipped, %s program-date changes, max lag %.1f s\n' \
        "$(jq .playlist_requests "$WORK/ours.json")" "$(jq .source_segments "$WORK/ours.json")" \
        "$(jq '.playlist_requests / ([.source_segments, 1] | max)' "$WORK/ours.json")" "$(jq .source_segments_skipped "$WORK/ours.json")" \
        "$(jq .program_date_changes "$WORK/ours.json")" "$(jq .max_lag_seconds "$WORK/ours.json")"
fi
printf '  ffmpeg: %d processes (%d lived through the window), %.1f%% of a core for those, %.3f%% a recording; %s segments, %s source segments skipped (load %s)\n' \
    "$FF_N" "$ff_alive" "$(echo "100 * $ff_cpu / $MEASURE" | bc -l)" "$ff_pct" "$ff_segments" "$ff_skipped" "$load_ff"
printf '  CPU per recording, ours/ffmpeg: %.2f\n' "$(echo "$ours_pct / $ff_pct" | bc -l)"
echo "raw results in $WORK"
