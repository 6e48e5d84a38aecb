#!/usr/bin/env bash
# ReCast live: pass-through cost, channels per core, latency and channel change (issue 12).
#
#   bench/recast/live.sh                # Release build in build/bench-release
#   PASS_NS="1 20" PATTERN_NS="1 2" MEASURE=20 bench/recast/live.sh
#   SECTIONS=2 PASS_NS=110 PATTERN_NS= bench/recast/live.sh     # only channels per core, one N
#
# 1. Pass-through CPU per channel: a 5 Mbit/s 1080p25 H.264 + AAC MPEG-TS sent over UDP to 127.0.0.1
#    at real time (ffmpeg -re -stream_loop -1 ... -c copy -f mpegts udp://, the feeder, not measured);
#    recast with one channel (ladder=copy) vs `ffmpeg -i udp://... -c copy -f hls` reading it.
#    CPU = user+sys of the process (/proc/PID/stat) over MEASURE s, after 8 s of warm-up.
# 2. Channels per core: recast with N channels of the demo's shape, for each N in PASS_NS
#    (pass-through of the same file, looping, paced by recast) and PATTERN_NS (test pattern, one
#    720p rendition at 2.5 Mbit/s, veryfast, threads=1, AAC 128k); recast's CPU as a fraction of
#    one core and the lowest frame rate any channel kept over the window (frames_out from
#    GET /api/channels before and after). Channels per core = N / CPU fraction; it holds when
#    every channel keeps ~25 frames/s at that N.
# 3. Latency: segment_latency_ms from the API (listed at minus the segment's end on the wall
#    clock) of a 720p channel with 2 s segments, sampled every 2 s; LL-HLS (part_seconds=0.5):
#    hlswatch latency (blocking reloads, arrival minus the part's end from PROGRAM-DATE-TIME).
# 4. Channel change on /live/<id>.ts, with the keyframe cache and without (?cache=0):
#    bench_channelchange, request -> first decoded video frame, COUNT requests at random phases.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/bench/common.sh"
. "$ROOT/bench/recast/common.sh"
PASS_NS=${PASS_NS-"1 20 40 110"}
PATTERN_NS=${PATTERN_NS-"1 2 3"}
MEASURE=${MEASURE:-30}
COUNT=${COUNT:-50}
SECTIONS=${SECTIONS:-"1 2 3"}
PORT=${PORT:-18640}
UDP=${UDP:-18650}
WORK=${WORK:-$(mktemp -d /tmp/iptv-bench-recast-live.XXXXXX)}
mkdir -p "$WORK"
API="http://127.0.0.1:$PORT"

machine_info
echo "== build (Release) in $BUILD =="
release_build recast hlswatch bench_channelchange
HLSWATCH="$BUILD/bench/recast/hlswatch"
CHANGE="$BUILD/bench/recast/bench_channelchange"
IN=$(input_5mbit)
echo "== input: $IN ($(du -k "$IN" | cut -f1) KiB) =="

# cpu_over PID SECONDS -> CPU seconds used in that many seconds of wall clock
cpu_over() {
    local a b
    a=$(cpu_s "$1")
    sleep "$2"
    b=$(cpu_s "$1")
    echo "$b - $a" | bc -l
}
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
min_fps() { curl -sf "$API/api/channels" | jq '[.channels[].stats.output_fps] | min'; }
conf_header() {
    cat <<EOT
[server]
port=$PORT

[defaults]
fps=25
segment_seconds=2
gop_seconds=1
window=6
audio_kbps=128
EOT
}

section() { [[ " $SECTIONS " == *" $1 "* ]]; }

if section 1; then
echo "== 1. pass-through over UDP, one channel, CPU over $MEASURE s =="
"$FFMPEG" -hide_banner -loglevel error -re -stream_loop -1 -i "$IN" -c copy -f mpegts "udp://127.0.0.1:$UDP?pkt_size=1316" &
feeder=$!
pids+=("$feeder")
{ conf_header; printf '\n[channel.pt]\nsource=udp://127.0.0.1:%s\nladder=copy\n' "$UDP"; } >"$WORK/pt.conf"
start_recast "$WORK/pt" "$WORK/pt.conf" "$PORT"
sleep 8
ours_pt=$(cpu_over "$recast" "$MEASURE")
ours_pt_fps=$(min_fps)
stop_pid "$recast"
mkdir -p "$WORK/pt-ref"
"$FFMPEG" -hide_banner -loglevel fatal -nostats -i "udp://127.0.0.1:$UDP?fifo_size=1000000&overrun_nonfatal=1" -c copy \
    -f hls -hls_time 2 -hls_list_size 6 -hls_flags delete_segments "$WORK/pt-ref/index.m3u8" &
ref=$!
pids+=("$ref")
sleep 8
ref_pt=$(cpu_over "$ref" "$MEASURE")
stop_pid "$ref"
stop_pid "$feeder"
printf '  ours %.2f%% of a core (output_fps %s), ffmpeg %.2f%% of a core: ratio %.2f\n' \
    "$(echo "100 * $ours_pt / $MEASURE" | bc -l)" "$ours_pt_fps" "$(echo "100 * $ref_pt / $MEASURE" | bc -l)" "$(echo "$ours_pt / $ref_pt" | bc -l)"
fi

capacity() { # capacity KIND N -> prints a line; KIND pass or pattern
    local kind=$1 n=$2 dir="$WORK/$1-$2" i cpu fps
    mkdir -p "$dir"
    {
        conf_header
        for i in $(seq 1 "$n"); do
            printf '\n[channel.c%03d]\nname=Channel %d\n' "$i" "$i"
            if [ "$kind" = pass ]; then
                printf 'source=file:%s\nladder=copy\n' "$IN"
            else
                printf 'source=pattern:\nladder=720p:1280x720@2500\npreset=veryfast\nthreads=1\ntone_hz=%d\n' $((400 + i))
            fi
        done
    } >"$dir/recast.conf"
    start_recast "$dir" "$dir/recast.conf" "$PORT"
    sleep 10
    curl -sf "$API/api/channels" >"$dir/before.json"
    cpu=$(cpu_over "$recast" "$MEASURE")
    curl -sf "$API/api/channels" >"$dir/channels.json"
    # The lowest frame rate any channel kept over the window (frames_out before and after).
    fps=$(jq -n --slurpfile a "$dir/before.json" --slurpfile b "$dir/channels.json" --argjson s "$MEASURE" \
        '[range(0; $b[0].channels | length) as $i | ($b[0].channels[$i].stats.frames_out - $a[0].channels[$i].stats.frames_out) / $s] | min * 10 | round / 10')
    stop_pid "$recast"
    local frac
    frac=$(echo "$cpu / $MEASURE" | bc -l)
    printf '  %-7s N=%-3d recast %.1f%% of a core (%.2f%% a channel), lowest channel %s frames/s: %.1f channels per core; load %s\n' \
        "$kind" "$n" "$(echo "100 * $frac" | bc -l)" "$(echo "100 * $frac / $n" | bc -l)" "$fps" "$(echo "$n / $frac" | bc -l)" \
        "$(cut -d' ' -f1 /proc/loadavg)"
}
if section 2; then
echo "== 2. channels per core (CPU over $MEASURE s after 10 s) =="
for n in $PASS_NS; do capacity pass "$n"; done
for n in $PATTERN_NS; do capacity pattern "$n"; done
fi

section 3 || exit 0
echo "== 3. latency and 4. channel change =="
mkdir -p "$WORK/lat"
{
    conf_header
    printf '\n[channel.seg]\nname=Segments\nsource=pattern:\nladder=720p:1280x720@2500\npreset=veryfast\nthreads=1\n'
    printf '\n[channel.ll]\nname=Low latency\nsource=pattern:\nladder=720p:1280x720@2500\npreset=veryfast\nthreads=1\npart_seconds=0.5\n'
} >"$WORK/lat/recast.conf"
start_recast "$WORK/lat" "$WORK/lat/recast.conf" "$PORT"
until [ "$(curl -sf "$API/api/channels/ll" | jq .stats.segments)" -ge 2 ] 2>/dev/null; do sleep 0.5; done
"$HLSWATCH" latency --url "$API/live/ll/720p/index.m3u8" --count $((MEASURE * 2)) >"$WORK/ll.json" &
llw=$!
: >"$WORK/seglat"
for _ in $(seq 1 $((MEASURE / 2))); do
    curl -sf "$API/api/channels" | jq -r '.channels[] | "\(.id) \(.stats.segments) \(.stats.segment_latency_ms)"' >>"$WORK/seglat"
    sleep 2
done
wait "$llw"
seg_lat=$(awk '$1 == "seg" && !seen[$2]++ { print $3 }' "$WORK/seglat" | median)
seg_lat_max=$(awk '$1 == "seg" { print $3 }' "$WORK/seglat" | sort -g | tail -1)
llseg_lat=$(awk '$1 == "ll" && !seen[$2]++ { print $3 }' "$WORK/seglat" | median)
printf '  2 s segments: segment_latency_ms median %s (max %s); LL channel segments: median %s ms\n' "$seg_lat" "$seg_lat_max" "$llseg_lat"
printf '  LL-HLS parts of 0.5 s (blocking reload, arrival - part end): p50 %.0f ms, p90 %.0f ms, max %.0f ms (%s answers)\n' \
    "$(jq .p50 "$WORK/ll.json")" "$(jq .p90 "$WORK/ll.json")" "$(jq .max "$WORK/ll.json")" "$(jq .count "$WORK/ll.json")"
"$CHANGE" --url "$API/live/seg.ts" --count "$COUNT" >"$WORK/cc-cache.json"
"$CHANGE" --url "$API/live/seg.ts?cache=0" --count "$COUNT" >"$WORK/cc-nocache.json"
printf '  channel change (request -> first decoded frame, %s requests): cache p50 %.0f ms p90 %.0f ms; ?cache=0 p50 %.0f ms p90 %.0f ms\n' \
    "$COUNT" "$(jq .p50 "$WORK/cc-cache.json")" "$(jq .p90 "$WORK/cc-cache.json")" "$(jq .p50 "$WORK/cc-nocache.json")" "$(jq .p90 "$WORK/cc-nocache.json")"
stop_pid "$recast"
echo "raw results in $WORK"
