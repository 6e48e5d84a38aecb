#!/usr/bin/env bash
# Zap time and cold start on the demo lineup: a real recast with the demo's twelve channels
# (resources/demo/recast-demo.conf, MPEG-TS from the keyframe cache), a guide compiled with
# recast's TS lineup, and Hubris under Xvfb at 1280x720 driven by channel-up keys.
#   bench/hubris/zap.sh     ZAPS=100 SETTLE_MS=1000 COLD_RUNS=5 FORMAT=ts (or hls); BUILD=build/bench-release
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/bench/common.sh"
ZAPS=${ZAPS:-100}
SETTLE_MS=${SETTLE_MS:-1000}
COLD_RUNS=${COLD_RUNS:-5}
FORMAT=${FORMAT:-ts}
# A port nobody uses now (other benches run recast on the machine too).
PORT=${PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
WORK=${WORK:-$BUILD/bench-data/zap}
release_build recast iptv-guide bench_zap
rm -rf "$WORK"; mkdir -p "$WORK"
sed "s/^port=8440/port=$PORT/" "$ROOT/resources/demo/recast-demo.conf" > "$WORK/recast.conf"
"$BUILD/server/recast/recast" --config "$WORK/recast.conf" --data-dir "$WORK/recast" >"$WORK/recast.log" 2>&1 &
recast=$!
pids+=($recast)
until curl -sf "127.0.0.1:$PORT/lineup.m3u" >/dev/null; do
  kill -0 "$recast" 2>/dev/null || { echo "zap.sh: recast did not start" >&2; cat "$WORK/recast.log" >&2; exit 1; }
  sleep 0.2
done
curl -sf "127.0.0.1:$PORT/lineup.m3u" | grep -q 'tvg-id="ch001.demo"' || { echo "zap.sh: port $PORT is not our recast" >&2; exit 1; }
src="$WORK/guide.xml.gz"
"$BUILD/tools/iptv-guide/iptv-guide" generate --channels 12 --days 2 --start today -q -o "$src" >/dev/null
q=""; [ "$FORMAT" = ts ] && q="?format=ts"
curl -sf "127.0.0.1:$PORT/lineup.m3u$q" > "$WORK/lineup.m3u"
"$BUILD/tools/iptv-guide/iptv-guide" compile "$src" --lineup "$WORK/lineup.m3u" -q -o "$WORK/demo.guide" >/dev/null
# Every channel live, with a GOP in its keyframe cache.
for id in $(grep -o 'live/[a-z0-9]*' "$WORK/lineup.m3u" | cut -d/ -f2); do
  until [ "$(curl -s --max-time 2 "127.0.0.1:$PORT/live/$id.ts" 2>/dev/null | head -c 4096 | wc -c)" -ge 4096 ]; do sleep 0.5; done
done
sleep 2

# Process start is taken by the shell that execs bench_zap, inside Xvfb (Xvfb's own start is not counted).
run() {
  xvfb-run -a -s "-screen 0 1280x720x24" bash -c 'ZAP_LAUNCH_NS=$(date +%s%N) exec "$0" "$@"' \
    "$BUILD/bench/hubris/bench_zap" "$WORK/demo.guide" "$@" 2>>"$WORK/bench_zap.log"
}
export QT_LOGGING_RULES="*.debug=false;qt.multimedia.*=false;iptv.*.info=false"
echo "== $(date -u +%Y-%m-%dT%H:%MZ) $(uname -n), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $FORMAT, commit $(git -C "$ROOT" rev-parse --short HEAD)"
for i in $(seq "$COLD_RUNS"); do run 0 | grep '^cold start'; done
run "$ZAPS" "$SETTLE_MS"
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
