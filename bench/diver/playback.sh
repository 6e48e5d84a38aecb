#!/usr/bin/env bash
# Diver: playback start with recordings running (issue 14: request to first segment served,
# p99 <= 50 ms with 100 recordings running).
#
#   bench/diver/playback.sh                     # N=100 recordings, ROUNDS=1000 playback starts
#   N=20 ROUNDS=200 bench/diver/playback.sh
#
# The headend is recast with N pass-through channels (ladder=copy) of the 5 Mbit/s 1080p25 file,
# as in record.sh, at nice 5 (HEADEND_NICE=0 to compete on equal terms). diver (the real server process, Release) reads a guide of N channels on that
# headend (bench_playback guide) and records what is on now on every channel, one owner each
# (bench_playback play, as the operator). Once every recording has a segment, bench_playback
# starts playback ROUNDS times, one after the other, on a random recording: its playlist, then
# its first segment whole, over HTTP keep-alive, as a box does. Prints p50/p95/p99/max.
#
# diver's HTTP thread runs real-time ([server] http_priority=realtime, HTTP_PRIORITY=normal to
# compare). The client stands in for a box, which has a CPU of its own: it runs real-time too
# (chrt -r 1), so that its own wait for one of these two cores behind ~300 threads is not counted
# as diver's; CLIENT_PRIORITY=normal makes it compete (both need root or CAP_SYS_NICE).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/bench/common.sh"
. "$ROOT/bench/recast/common.sh"
N=${N:-100}
ROUNDS=${ROUNDS:-1000}
PORT=${PORT:-18760}
DIVER_PORT=${DIVER_PORT:-18770}
WORK=${WORK:-$(mktemp -d /tmp/iptv-bench-playback.XXXXXX)}
mkdir -p "$WORK"
API="http://127.0.0.1:$PORT"
DIVER="$BUILD/server/diver/diver"
BENCH="$BUILD/bench/diver/bench_playback"

machine_info
echo "== build (Release) in $BUILD =="
release_build recast diver bench_playback
IN=$(input_5mbit)

start_copy_channels "$WORK" "$N" "$PORT" "$IN"
# The headend stands in for one on another machine: at nice 5 and the batch policy (each of its
# threads; Linux keeps them per thread) it takes the CPU diver leaves, instead of its 100 channels competing
# with diver's HTTP thread on the same two cores.
for t in /proc/"$recast"/task/*; do
    renice -n "${HEADEND_NICE:-5}" -p "${t##*/}" >/dev/null
    [ "${HEADEND_NICE:-5}" -eq 0 ] || chrt -b -p 0 "${t##*/}" >/dev/null
done
echo "== recast: $N pass-through channels live (nice ${HEADEND_NICE:-5}); load $(cut -d' ' -f1-3 /proc/loadavg) =="

"$BENCH" guide --out "$WORK/guide.bin" --channels "$N" --source "$API/live/c%1.ts"
cat >"$WORK/diver.conf" <<CONF
[server]
port=$DIVER_PORT
bind=127.0.0.1
data_dir=$WORK/diver
node=bench
http_priority=${HTTP_PRIORITY:-realtime}

[guide]
file=$WORK/guide.bin

[recording]
capacity=$((N + 10))
segment_seconds=6

[storage]
min_free_mb=1024
CONF
"$DIVER" -c "$WORK/diver.conf" >"$WORK/diver.log" 2>&1 &
diver=$!
pids+=("$diver")
until curl -sf "127.0.0.1:$DIVER_PORT/healthz" >/dev/null; do
    kill -0 "$diver" 2>/dev/null || { cat "$WORK/diver.log"; exit 1; }
    sleep 0.2
done
client=()
[ "${CLIENT_PRIORITY:-realtime}" = normal ] || client=(chrt -r 1)
echo "== diver up (HTTP thread ${HTTP_PRIORITY:-realtime}); recording $N channels, then $ROUNDS playback starts (client ${CLIENT_PRIORITY:-realtime}) =="
# diver's HTTP thread (its main thread): time on a core and waiting for one (schedstat, ns).
http_sched() { cut -d' ' -f1-2 "/proc/$diver/task/$diver/schedstat"; }
read -r cpu0 wait0 < <(http_sched)
"${client[@]}" "$BENCH" play --diver "http://127.0.0.1:$DIVER_PORT" --channels "$N" --rounds "$ROUNDS" >"$WORK/play.json" 2>"$WORK/play.log" ||
    { tail -5 "$WORK/play.log"; exit 1; }
echo "   load after: $(cut -d' ' -f1-3 /proc/loadavg)"
read -r cpu1 wait1 < <(http_sched)
printf '   diver HTTP thread during bench_playback play (requests, the wait for segments, the starts): %.0f ms on a core, %.0f ms waiting for one (%.2f ms a start)\n' \
    "$(( (cpu1 - cpu0) / 1000000 ))" "$(( (wait1 - wait0) / 1000000 ))" "$(echo "($wait1 - $wait0) / 1000000 / $ROUNDS" | bc -l)"
jq -c 'del(.status)' "$WORK/play.json"
printf '  playback start (playlist + first segment), ms: p50 %.1f  p95 %.1f  p99 %.1f  max %.1f; playlist alone p50 %.1f p99 %.1f\n' \
    "$(jq .start_ms_p50 "$WORK/play.json")" "$(jq .start_ms_p95 "$WORK/play.json")" "$(jq .start_ms_p99 "$WORK/play.json")" \
    "$(jq .start_ms_max "$WORK/play.json")" "$(jq .playlist_ms_p50 "$WORK/play.json")" "$(jq .playlist_ms_p99 "$WORK/play.json")"
printf '  diver: %s recorders active, RSS %s MiB\n' "$(curl -sf "127.0.0.1:$DIVER_PORT/api/status" | jq .recorders)" \
    "$(( $(rss_kb "$diver") / 1024 ))"
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
stop_pid "$diver"
stop_pid "$recast"
rm -rf "$WORK/recast/live" "$WORK/recast/data" "$WORK/diver/storage"
echo "raw results in $WORK"
