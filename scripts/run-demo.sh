#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds the platform and runs it on the bundled demo data:
# a 12-channel, 14-day guide generated for today, the demo lineup, SQLite and local files.
#
#   scripts/run-demo.sh [--headless] [--port 8410] [--boxes 50]
#
# Runs, until Ctrl-C (or SIGTERM), which stops everything it started:
#   - recast on http://127.0.0.1:8440: twelve live test-pattern channels (HLS and MPEG-TS) whose
#     tvg-ids match the demo guide; its MPEG-TS lineup (/lineup.m3u?format=ts: each stream starts
#     at a cached keyframe, so a box zaps at once) is iptvnext's channel list;
#   - iptvnext on http://127.0.0.1:8410 (guide file, JSON API, XMLTV export, /healthz, /metrics),
#     announcing guide versions on ws://127.0.0.1:8411/events;
#   - controlserver: boxes on ws://127.0.0.1:8420/box, operator API on http://127.0.0.1:8421,
#     live operator WebSocket on ws://127.0.0.1:8422 (admin password in build/demo/admin-password);
#   - diver on http://127.0.0.1:8430: the network DVR (recordings, series rules, conflicts,
#     timeshift and catch-up of the first two channels); two streams at once, so a third
#     recording at the same time on channels 3-12 is a conflict; boxes show control-server tickets;
#   - fleetsim: --boxes simulated set-top boxes on the real box code, enrolled automatically;
#   - without --headless, when a display is there: Hubris, the set-top-box app, in its simulator
#     (on-screen remote; keys: arrows, Enter, Esc, digits, G guide, I info, M menu, R record, F1-F4 colours), playing
#     recast's channels with iptvnext's guide; and the Cerberus operator console, signed in.
set -euo pipefail
cd "$(dirname "$0")/.."

port=8410
boxes=50
headless=0
while [ $# -gt 0 ]; do
  case "$1" in
    --headless) headless=1; shift ;;
    --port) port="$2"; shift 2 ;;
    --boxes) boxes="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^[^#]/{/^#/p}' "$0"; exit 0 ;;
    *) echo "run-demo: unknown option $1" >&2; exit 2 ;;
  esac
done

scripts/setup-deps.sh
BUILD_DIR=${BUILD_DIR:-build/dev}
cmake --preset dev -B "$BUILD_DIR" >/dev/null
targets=(recast iptvnext iptv-guide controlserver diver fleetsim)
[ "$headless" = 1 ] || targets+=(cerberus hubris)
cmake --build "$BUILD_DIR" --parallel "$(nproc)" --target "${targets[@]}"

demo=build/demo
mkdir -p "$demo"
today=$(date -u +%Y-%m-%d)
if [ ! -f "$demo/demo-guide.xml.gz" ] || [ "$(cat "$demo/.day" 2>/dev/null)" != "$today" ]; then
  echo "run-demo: generating the demo guide for $today"
  IPTV_GUIDE="$BUILD_DIR/tools/iptv-guide/iptv-guide" resources/demo/make-demo-guide.sh "$demo" >/dev/null
  echo "$today" > "$demo/.day"
fi
# The demo's admin password: made once, kept with the demo's data.
if [ ! -s "$demo/admin-password" ]; then
  (umask 077; head -c 12 /dev/urandom | base64 | tr -d '/+=' > "$demo/admin-password")
fi

pids=()
stop_all() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_all EXIT
trap 'exit 0' INT TERM

# recast first: iptvnext reads its lineup at start.
"$BUILD_DIR/server/recast/recast" --config resources/demo/recast-demo.conf --data-dir "$demo/recast" &
pids+=($!)
until curl -sf http://127.0.0.1:8440/lineup.m3u >/dev/null 2>&1; do
  kill -0 "${pids[0]}" 2>/dev/null || { echo "run-demo: recast did not start" >&2; exit 1; }
  sleep 0.2
done
"$BUILD_DIR/server/iptvnext/iptvnext" --config resources/config/iptvnext.conf \
  --data-dir "$demo/data" --port "$port" \
  --xmltv "$demo/demo-guide.xml.gz" --lineup "http://127.0.0.1:8440/lineup.m3u?format=ts" &
pids+=($!)
"$BUILD_DIR/server/controlserver/controlserver" --config resources/config/controlserver.conf \
  --data-dir "$demo/control" --auto-approve --admin-password-file "$demo/admin-password" &
pids+=($!)
until curl -sf http://127.0.0.1:8421/healthz >/dev/null 2>&1; do
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null || { echo "run-demo: a server did not start" >&2; exit 1; }; done
  sleep 0.2
done
# diver and the box start with a guide to read: iptvnext compiles its first one (seconds on a
# busy machine) before /healthz answers 200.
echo "run-demo: waiting for iptvnext's first guide"
until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do
  kill -0 "${pids[1]}" 2>/dev/null || { echo "run-demo: iptvnext stopped before it had a guide" >&2; exit 1; }
  sleep 0.5
done
"$BUILD_DIR/server/diver/diver" --config resources/demo/diver-demo.conf --data-dir "$demo/diver" \
  --guide-server "http://127.0.0.1:$port" --control-server http://127.0.0.1:8421 --archive ch001.demo,ch002.demo &
pids+=($!)
"$BUILD_DIR/tools/fleetsim/fleetsim" --boxes "$boxes" --serial-prefix DEMO --telemetry-interval 5 --quiet &
pids+=($!)
if [ "$headless" = 0 ] && [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  "$BUILD_DIR/apps/hubris/hubris" --simulator --guide-server "http://127.0.0.1:$port" --data-dir "$demo/hubris" \
    --control-server ws://127.0.0.1:8420/box --dvr-server http://127.0.0.1:8430 --serial HUBRIS-DEMO &
  pids+=($!)
  "$BUILD_DIR/apps/cerberus/cerberus" --server http://127.0.0.1:8421 --account admin \
    --password-file "$demo/admin-password" --view fleet &
  pids+=($!)
fi

cat <<INFO
run-demo: running (Ctrl-C stops everything)
  channels  http://127.0.0.1:8440/lineup.m3u    ffplay http://127.0.0.1:8440/live/ch001/index.m3u8
                                                 ffplay http://127.0.0.1:8440/live/ch004.ts   (MPEG-TS, fast start)
  guide     http://127.0.0.1:$port            curl -s  http://127.0.0.1:$port/api/nownext
                                                 curl -s 'http://127.0.0.1:$port/api/search?q=news&limit=5'
  control   http://127.0.0.1:8421            account admin, password in $demo/admin-password
            TOKEN=\$(curl -s localhost:8421/api/login -d "{\"account\":\"admin\",\"password\":\"\$(cat $demo/admin-password)\"}" | jq -r .token)
            curl -s -H "Authorization: Bearer \$TOKEN" localhost:8421/api/fleet/summary
  dvr       http://127.0.0.1:8430            curl -s localhost:8430/api/upcoming   (operator from loopback)
            ffplay "http://127.0.0.1:8430/catchup/ch001.demo/archive-\$((\$(date +%s)-120))-now.m3u8"
  boxes     $boxes simulated (fleetsim), online on ws://127.0.0.1:8420/box
INFO
wait -n "${pids[@]}"
