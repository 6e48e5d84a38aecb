#!/usr/bin/env bash
# Zap time on the demo lineup: recast's twelve demo channels (MPEG-TS with the keyframe cache, and
# HLS for comparison), the demo guide compiled with recast's lineup, Hubris driven by channel-up.
#   bench/hubris/zap.sh            ZAPS=100 by default; BUILD=build/bench-release
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/bench/common.sh"
ZAPS=${ZAPS:-100}
PORT=${PORT:-18740}
WORK=${WORK:-$BUILD/bench-data/zap}
release_build recast iptv-guide bench_zap
rm -rf "$WORK"; mkdir -p "$WORK"
sed "s/^port=8440/port=$PORT/" "$ROOT/resources/demo/recast-demo.conf" > "$WORK/recast.conf"
"$BUILD/server/recast/recast" --config "$WORK/recast.conf" --data-dir "$WORK/recast" >"$WORK/recast.log" 2>&1 &
pids+=($!)
until curl -sf "localhost:$PORT/lineup.m3u" >/dev/null; do sleep 0.2; done
src="$WORK/guide.xml.gz"
"$BUILD/tools/iptv-guide/iptv-guide" generate --channels 12 --days 2 --start today -q -o "$src"
sleep 6 # every channel has its first GOPs
for format in ts hls; do
  q=""; [ "$format" = ts ] && q="?format=ts"
  curl -sf "localhost:$PORT/lineup.m3u$q" > "$WORK/lineup-$format.m3u"
  "$BUILD/tools/iptv-guide/iptv-guide" compile "$src" --lineup "$WORK/lineup-$format.m3u" -q -o "$WORK/$format.guide"
  echo "== $format"
  QT_QPA_PLATFORM=offscreen QT_QUICK_BACKEND=software QT_LOGGING_RULES="*.debug=false;qt.multimedia.*=false" \
    "$BUILD/bench/hubris/bench_zap" "$WORK/$format.guide" "$ZAPS" 2>/dev/null | tail -1
done
