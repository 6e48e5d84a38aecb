#!/usr/bin/env bash
# ReCast's ladder throughput side by side with the ffmpeg program doing the same work (issue 12).
#
#   bench/recast/ladder.sh              # 3 runs of each ladder, Release build in build/bench-release
#   RUNS=5 bench/recast/ladder.sh
#
# The input: 30 s of 1080p25 H.264 (8 Mbit/s) + AAC in MPEG-TS, made once by ffmpeg (testsrc2 + sine)
# in $DATA. Both sides decode it once, scale to each rendition (bicubic), encode with libx264
# (preset veryfast, GOP 1 s = 25 frames, closed, no scene cuts, IDR, bitrate with maxrate 1.5x and
# buffer 2x as ReCast sets them), AAC 128 kbit/s stereo 48 kHz, and write HLS with 2 s segments
# to disk, as fast as they can (threads: FFmpeg's default on both sides):
#   ours: recast_bench (one recast Pipeline, pace=false, loop=false, ends at the end of the file)
#   ref:  ffmpeg -i in -filter_complex split+scale ... -var_stream_map ... -f hls
# The ffmpeg program encodes the audio once per variant (var_stream_map needs its own audio stream
# per variant); ReCast encodes it once for all. AAC is about 1% of the work here.
# frames/s = input frames / wall-clock seconds of the process (/usr/bin/time); CPU = user + sys.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/bench/common.sh"
. "$ROOT/bench/recast/common.sh"
RUNS=${RUNS:-3}
PRESET=${PRESET:-veryfast}
WORK=${WORK:-$(mktemp -d /tmp/iptv-bench-recast-ladder.XXXXXX)}
mkdir -p "$WORK"

machine_info
echo "== build (Release) in $BUILD =="
release_build recast_bench
IN=$(input_1080p)
frames=$(ffprobe -v error -select_streams v:0 -count_packets -show_entries stream=nb_read_packets -of csv=p=0 "$IN")
frames=${frames%%[^0-9]*} # ffprobe prints the count once per program too
echo "== input: $IN ($frames frames) =="

# A ladder: "name:WxH@kbps ..." (the first ReCast's way, comma-separated).
ladders=(
    "1080p:1920x1080@5000,720p:1280x720@2800,480p:854x480@1400"
    "720p:1280x720@2800,360p:640x360@800"
)

ref_cmd=()
ffmpeg_ladder() { # ffmpeg_ladder LADDER OUT: sets ref_cmd to the ffmpeg command doing that ladder
    local ladder=$1 out=$2
    local IFS=,
    local -a r=($ladder)
    unset IFS
    local n=${#r[@]} i filter="[0:v]split=${#r[@]}" maps=() opts=() vsm=""
    for ((i = 0; i < n; i++)); do filter+="[s$i]"; done
    for ((i = 0; i < n; i++)); do
        local spec=${r[$i]#*:}
        local size=${spec%@*} kbps=${spec#*@}
        filter+=";[s$i]scale=${size/x/:}:flags=bicubic,format=yuv420p[o$i]"
        maps+=(-map "[o$i]")
        opts+=(-b:v:$i "${kbps}k" -maxrate:v:$i "$((kbps * 3 / 2))k" -bufsize:v:$i "$((kbps * 2))k")
        vsm+="v:$i,a:$i,name:${r[$i]%%:*} "
    done
    for ((i = 0; i < n; i++)); do maps+=(-map 0:a); done
    mkdir -p "$out"
    ref_cmd=("$FFMPEG" -hide_banner -loglevel error -nostats -y -i "$IN" -filter_complex "$filter" "${maps[@]}"
        -c:v libx264 -preset "$PRESET" -g 25 -keyint_min 25 -sc_threshold 0 -forced-idr 1
        -x264-params scenecut=0:open-gop=0:repeat-headers=1 "${opts[@]}"
        -c:a aac -b:a 128k -ac 2 -ar 48000
        -f hls -hls_time 2 -hls_list_size 6 -hls_flags delete_segments+independent_segments
        -master_pl_name index.m3u8 -var_stream_map "${vsm% }" "$out/%v/index.m3u8")
}

timed() { # timed FILE CMD... -> FILE holds "wall user sys"
    local file=$1
    shift
    /usr/bin/time -f '%e %U %S' -o "$file" "$@" >"$WORK/last.out"
}

summary=()
for ladder in "${ladders[@]}"; do
    echo "== ladder $ladder, preset $PRESET =="
    for run in $(seq 1 "$RUNS"); do
        timed "$WORK/ours-$run" "$RECAST_BENCH" --input "$IN" --ladder "$ladder" --preset "$PRESET" --out "$WORK/ours-out" 2>"$WORK/ours.log"
        ffmpeg_ladder "$ladder" "$WORK/ref-out"
        timed "$WORK/ref-$run" "${ref_cmd[@]}"
        read -r ow ou os <"$WORK/ours-$run"
        read -r rw ru rs <"$WORK/ref-$run"
        printf '  run %d: ours %.1f s wall, %.1f s CPU (%.1f fps); ffmpeg %.1f s wall, %.1f s CPU (%.1f fps); load %s\n' \
            "$run" "$ow" "$(echo "$ou + $os" | bc -l)" "$(echo "$frames / $ow" | bc -l)" \
            "$rw" "$(echo "$ru + $rs" | bc -l)" "$(echo "$frames / $rw" | bc -l)" "$(cut -d' ' -f1 /proc/loadavg)"
    done
    ours_fps=$(for f in "$WORK"/ours-[0-9]*; do awk -v n="$frames" '{ print n / $1 }' "$f"; done | median)
    ref_fps=$(for f in "$WORK"/ref-[0-9]*; do awk -v n="$frames" '{ print n / $1 }' "$f"; done | median)
    ours_cpu=$(for f in "$WORK"/ours-[0-9]*; do awk -v n="$frames" '{ print ($2 + $3) * 1000 / n }' "$f"; done | median)
    ref_cpu=$(for f in "$WORK"/ref-[0-9]*; do awk -v n="$frames" '{ print ($2 + $3) * 1000 / n }' "$f"; done | median)
    ls "$WORK/ours-out"/*/ | grep -c '\.ts$' >/dev/null || { echo "no segments written by recast_bench"; exit 1; }
    summary+=("$(printf '| %s | %.1f fps, %.1f ms CPU/frame | %.1f fps, %.1f ms CPU/frame | %.2f |' "${ladder//,/ }" \
        "$ours_fps" "$ours_cpu" "$ref_fps" "$ref_cpu" "$(echo "$ours_fps / $ref_fps" | bc -l)")")
    rm -f "$WORK"/ours-[0-9]* "$WORK"/ref-[0-9]*
done
echo "== summary (medians of $RUNS; ours / ffmpeg = fps ratio) =="
printf '%s\n' "${summary[@]}"
echo "raw results in $WORK"
