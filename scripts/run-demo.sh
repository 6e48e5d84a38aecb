#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds the platform and runs it on the bundled demo data:
# a 12-channel, 14-day guide generated for today, the demo lineup, SQLite and local files.
#
#   scripts/run-demo.sh [--headless] [--port 8410]
#
# Today this is iptvNEXT serving the demo guide on http://127.0.0.1:8410 (guide file, JSON API,
# XMLTV export, /healthz, /metrics) and announcing versions on ws://127.0.0.1:8411/events.
# --headless is accepted for the day the Hubris simulator joins the demo; nothing here needs a display.
set -euo pipefail
cd "$(dirname "$0")/.."

port=8410
while [ $# -gt 0 ]; do
  case "$1" in
    --headless) shift ;;
    --port) port="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "run-demo: unknown option $1" >&2; exit 2 ;;
  esac
done

scripts/setup-deps.sh
BUILD_DIR=${BUILD_DIR:-build/dev}
cmake --preset dev -B "$BUILD_DIR" >/dev/null
cmake --build "$BUILD_DIR" --parallel "$(nproc)" --target iptvnext iptv-guide

demo=build/demo
today=$(date -u +%Y-%m-%d)
if [ ! -f "$demo/demo-guide.xml.gz" ] || [ "$(cat "$demo/.day" 2>/dev/null)" != "$today" ]; then
  echo "run-demo: generating the demo guide for $today"
  IPTV_GUIDE="$BUILD_DIR/tools/iptv-guide/iptv-guide" resources/demo/make-demo-guide.sh "$demo" >/dev/null
  echo "$today" > "$demo/.day"
fi

cat <<INFO
run-demo: iptvnext on http://127.0.0.1:$port   (Ctrl-C stops it)
  curl -sI http://127.0.0.1:$port/guide                       # the compact guide, with its ETag
  curl -s  http://127.0.0.1:$port/api/nownext                 # now and next on every channel
  curl -s 'http://127.0.0.1:$port/api/search?q=news&limit=5'  # search
  $BUILD_DIR/tools/iptv-guide/iptv-guide search $demo/demo.guide "news"
INFO
exec "$BUILD_DIR/server/iptvnext/iptvnext" --config resources/config/iptvnext.conf \
  --data-dir "$demo/data" --port "$port" \
  --xmltv "$demo/demo-guide.xml.gz" --lineup resources/demo/demo-lineup.m3u
