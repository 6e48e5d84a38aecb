#!/usr/bin/env bash
# recast's resident memory while N pass-through channels start and run (the headend of
# bench/diver/record.sh: 5 Mbit/s 1080p25 H.264 + AAC MPEG-TS, looping, paced; ladder=copy).
#
#   bench/recast/startmem.sh                  # N=100, HOLD=60 s after all are live
#   N=20 HOLD=30 bench/recast/startmem.sh
#   RECAST=/tmp/old/recast bench/recast/startmem.sh   # another build
#
# Samples VmRSS every second from the start; reports its peak while the channels start and over
# HOLD s once all are live, the seconds until all were live, the longest the server's event loop
# was blocked, and the output backlogs (held at most at once, GOPs dropped, episodes) summed over
# the channels from /metrics; and how many channels' HLS output has no audio with a sample rate
# and channels (ffprobe of each channel's newest segment at the end: the input has AAC, so every
# one should).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RECAST_BIN=${RECAST:-} # before common.sh, which sets RECAST to the build's
. "$ROOT/bench/common.sh"
. "$ROOT/bench/recast/common.sh"
N=${N:-100}
HOLD=${HOLD:-60}
PORT=${PORT:-18760}
WORK=${WORK:-$(mktemp -d /tmp/iptv-bench-recastmem.XXXXXX)}
mkdir -p "$WORK"

machine_info
echo "== build (Release) in $BUILD =="
if [ -z "$RECAST_BIN" ]; then release_build recast; else RECAST=$RECAST_BIN; fi
IN=$(input_5mbit)
echo "== input: $IN ($(du -k "$IN" | cut -f1) KiB); $N channels =="

metric_sum() { curl -sf "127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 ~ "^"m"[{ ]" || $1 == m { s += $2 } END { print s + 0 }'; }
metric_max() { curl -sf "127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 ~ "^"m"[{ ]" || $1 == m { if ($2 > x) x = $2 } END { print x + 0 }'; }

started=$(date +%s.%N)
sampler() {
    while :; do
        pid=$(pgrep -n -f "^$RECAST -c $WORK/recast.conf" || true)
        [ -n "$pid" ] && echo "$(date +%s.%N) $(rss_kb "$pid" 2>/dev/null || echo 0) $(cut -d' ' -f1 /proc/loadavg)"
        sleep 1
    done >"$WORK/rss.log"
}
sampler &
pids+=($!)
# /healthz's answer time every 0.2 s from the launch on (000: no answer yet, or none in 60 s).
prober() {
    while :; do
        echo "$(date +%s.%N) $(curl -s -m 60 -o /dev/null -w '%{http_code} %{time_total}' "127.0.0.1:$PORT/healthz" || true)"
        sleep 0.2
    done >"$WORK/healthz.log"
}
prober &
pids+=($!)
start_copy_channels "$WORK" "$N" "$PORT" "$IN"
live=$(date +%s.%N)
echo "== all $N live after $(awk -v a="$started" -v b="$live" "BEGIN { printf \"%.0f\", b - a }") s; load $(cut -d' ' -f1-3 /proc/loadavg) =="
sleep "$HOLD"
peak_start=$(awk -v t="$live" '$1 <= t { if ($2 > x) x = $2 } END { print x + 0 }' "$WORK/rss.log")
peak_hold=$(awk -v t="$live" '$1 > t { if ($2 > x) x = $2 } END { print x + 0 }' "$WORK/rss.log")
load=$(awk '{ if (min == "" || $3 < min) min = $3; if ($3 > max) max = $3 } END { print min "-" max }' "$WORK/rss.log")
echo "== recast, $N pass-through channels =="
echo "  peak RSS while starting: $((peak_start / 1024)) MiB; over the $HOLD s after: $((peak_hold / 1024)) MiB; at the end: $(( $(rss_kb "$recast") / 1024 )) MiB"
echo "  event loop blocked at most: $(metric_max recast_event_loop_lag_max_seconds) s"
echo "  /healthz: first 200 after $(awk -v t="$started" '$2 == 200 { printf "%.1f", $1 - t; exit }' "$WORK/healthz.log") s;" \
    "slowest answer while starting $(awk -v t="$live" '$1 <= t && $2 == 200 { if ($3 > x) x = $3 } END { printf "%.2f", x }' "$WORK/healthz.log") s"
echo "  output backlogs: peak (largest channel) $(metric_max recast_channel_output_backlog_peak_bytes) bytes, GOPs dropped $(metric_sum recast_channel_output_backlog_dropped_gops_total), episodes $(metric_sum recast_channel_output_backlog_episodes_total)"
echo "  load (1 min) over the run: $load"
kill "$recast" 2>/dev/null || true
wait "$recast" 2>/dev/null || true
no_audio=0
for dir in "$WORK"/recast/live/c*/source; do
    # The last segment listed is the one the stop finished (a fraction of a second, too little
    # audio for ffprobe to find its parameters): the one before it.
    segment=$(grep -v '^#' "$dir/index.m3u8" | tail -2 | head -1)
    rate=$(ffprobe -v error -select_streams a:0 -show_entries stream=sample_rate,channels -of csv=p=0 "$dir/$segment" 2>/dev/null | head -1 || true)
    case "$rate" in 0,* | *,0 | "") no_audio=$((no_audio + 1)); echo "    $(basename "$(dirname "$dir")"): no audio with parameters in $segment (${rate:-no audio stream})" ;; esac
done
echo "  channels whose HLS output has no audio with a sample rate and channels: $no_audio of $N"
echo "  streams probed further at start (first probe cut short or too brief): $(grep -c 'reading on for it' "$WORK/recast/recast.log" || true)" \
    "of which audio left out: $(grep -c 'starting without audio' "$WORK/recast/recast.log" || true)"
rm -rf "$WORK/recast/live" # the segments; the log and rss.log stay
