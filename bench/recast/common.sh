# Sourced by the bench/recast scripts after bench/common.sh: generated inputs (cached), the recast
# server started from a config and waited for, and CPU time of a process.
#
#   bench_input NAME FFMPEG_ARGS...   makes $DATA/NAME with the ffmpeg program unless it exists; echoes the path
#   input_1080p                       30 s 1080p25 H.264 (8 Mbit/s) + AAC in MPEG-TS (testsrc2 + sine)
#   input_5mbit                       60 s 1080p25 H.264 at 5 Mbit/s CBR-ish + AAC in MPEG-TS
#   start_recast WORK CONF PORT       runs recast -c CONF, sets $recast, waits for /healthz
#   start_copy_channels WORK N PORT INPUT
#                                     recast with N pass-through channels c001… (ladder=copy, 2 s
#                                     segments) of INPUT, looping; waits until all are live;
#                                     $SERVER_CONF: more [server] lines (e.g. start_concurrency=1000)
#   hls_rendition API                 echoes the media playlist name recast's master playlist of
#                                     c001 lists (the pass-through rendition); fails after 20 s
#   cpu_s PID                         user+sys CPU seconds of PID (and its threads) so far
#   machine_info                      lscpu model, cores, date, commit, load

RECAST="$BUILD/server/recast/recast"
RECAST_BENCH="$BUILD/bench/recast/recast_bench"
DATA=${DATA:-$BUILD/bench-data}
FFMPEG=${FFMPEG:-ffmpeg}

bench_input() {
    local name=$1
    shift
    mkdir -p "$DATA"
    if [ ! -s "$DATA/$name" ]; then
        "$FFMPEG" -hide_banner -loglevel error -y "$@" "$DATA/$name.tmp.ts" && mv "$DATA/$name.tmp.ts" "$DATA/$name"
    fi
    echo "$DATA/$name"
}

input_1080p() {
    bench_input 1080p25-30s.ts -f lavfi -i testsrc2=size=1920x1080:rate=25 -f lavfi -i sine=frequency=1000:sample_rate=48000 \
        -t 30 -pix_fmt yuv420p -c:v libx264 -preset veryfast -b:v 8M -g 50 -c:a aac -b:a 128k -f mpegts
}

input_5mbit() {
    bench_input 1080p25-60s-5mbit.ts -f lavfi -i testsrc2=size=1920x1080:rate=25 -f lavfi -i sine=frequency=1000:sample_rate=48000 \
        -t 60 -pix_fmt yuv420p -c:v libx264 -preset veryfast -b:v 5M -maxrate 5M -bufsize 5M -g 50 -c:a aac -b:a 128k -f mpegts
}

hls_rendition() {
    local rendition=
    for _ in $(seq 1 100); do
        rendition=$(curl -sf "$1/live/c001/index.m3u8" | grep -v '^#' | head -1 || true)
        [ -n "$rendition" ] && { echo "$rendition"; return 0; }
        sleep 0.2
    done
    echo "recast lists no HLS rendition of c001" >&2
    return 1
}

start_copy_channels() {
    local work=$1 n=$2 port=$3 input=$4 i
    mkdir -p "$work"
    {
        printf '[server]\nport=%s\n%s\n[defaults]\nfps=25\nsegment_seconds=2\ngop_seconds=1\nwindow=6\n' "$port" "${SERVER_CONF:-}"
        for i in $(seq 1 "$n"); do
            printf '\n[channel.c%03d]\nname=Channel %d\nsource=file:%s\nladder=copy\n' "$i" "$i" "$input"
        done
    } >"$work/recast.conf"
    start_recast "$work/recast" "$work/recast.conf" "$port"
    until [ "$(curl -sf "127.0.0.1:$port/api/channels" | jq '[.channels[] | select(.state == "live")] | length')" -ge "$n" ] 2>/dev/null; do
        # recast gone (killed: out of memory) is no reason to wait for ever.
        kill -0 "$recast" 2>/dev/null || { echo "recast exited while its channels started:"; tail -5 "$work/recast/recast.log"; exit 1; }
        sleep 0.5
    done
}

start_recast() {
    local work=$1 conf=$2 port=$3
    mkdir -p "$work"
    "$RECAST" -c "$conf" --port "$port" --bind 127.0.0.1 --data-dir "$work/data" --output-dir "$work/live" \
        >"$work/recast.log" 2>&1 &
    recast=$!
    pids+=("$recast")
    until curl -sf "127.0.0.1:$port/healthz" >/dev/null; do
        kill -0 "$recast" 2>/dev/null || { cat "$work/recast.log"; exit 1; }
        sleep 0.2
    done
}

cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"; }

machine_info() {
    echo "== machine =="
    lscpu | awk -F: '/^Model name|^CPU\(s\)/ { gsub(/^ +/, "", $2); print "  " $1 ": " $2 }'
    echo "  date: $(date -u '+%Y-%m-%d %H:%M UTC')   commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo -)   load: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "  $("$FFMPEG" -version | head -1 | cut -d' ' -f1-3), $(dpkg-query -W -f='libx264 ${Version}' libx264-164 2>/dev/null || true)"
}

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
