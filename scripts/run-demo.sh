#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds the platform and runs it on the bundled demo data:
# a 12-channel, 14-day guide generated for today, the demo lineup, SQLite and local files.
#
#   scripts/run-demo.sh [--headless] [--port-base 8410] [--port 8410] [--demo-dir build/demo] [--boxes 50]
#
# --port-base B moves every server's port (so two demos can run side by side): iptvnext on B and
# B+1, the control server on B+10..B+12, diver on B+20, recast on B+30; the ports below are those
# of the default base 8410. --port moves iptvnext's alone. --demo-dir keeps the demo's data (guide,
# databases, recordings, admin password) elsewhere than build/demo.
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

base=8410
port=
demo=build/demo
boxes=50
headless=0
while [ $# -gt 0 ]; do
  case "$1" in
    --headless) headless=1; shift ;;
    --port-base) base="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    --demo-dir) demo="$2"; shift 2 ;;
    --boxes) boxes="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^[^#]/{/^#/p}' "$0"; exit 0 ;;
    *) echo "run-demo: unknown option $1" >&2; exit 2 ;;
  esac
done
case "$base" in ''|*[!0-9]*) echo "run-demo: --port-base takes a number" >&2; exit 2 ;; esac
if [ "$base" -lt 1024 ] || [ "$base" -gt 65500 ]; then echo "run-demo: --port-base must be 1024..65500" >&2; exit 2; fi
port=${port:-$base}
box_port=$((base + 10)) control_port=$((base + 11)) operator_ws_port=$((base + 12))
diver_port=$((base + 20)) recast_port=$((base + 30))

scripts/setup-deps.sh
BUILD_DIR=${BUILD_DIR:-build/dev}
cmake --preset dev -B "$BUILD_DIR" >/dev/null
targets=(recast iptvnext iptv-guide controlserver diver fleetsim)
[ "$headless" = 1 ] || targets+=(cerberus hubris)
cmake --build "$BUILD_DIR" --parallel "$(nproc)" --target "${targets[@]}"

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
"$BUILD_DIR/server/recast/recast" --config resources/demo/recast-demo.conf --data-dir "$demo/recast" --port "$recast_port" &
pids+=($!)
until curl -sf http://127.0.0.1:$recast_port/lineup.m3u >/dev/null 2>&1; do
  kill -0 "${pids[0]}" 2>/dev/null || { echo "run-demo: recast did not start" >&2; exit 1; }
  sleep 0.2
done
"$BUILD_DIR/server/iptvnext/iptvnext" --config resources/config/iptvnext.conf \
  --data-dir "$demo/data" --port "$port" \
  --xmltv "$demo/demo-guide.xml.gz" --lineup "http://127.0.0.1:$recast_port/lineup.m3u?format=ts" &
pids+=($!)
"$BUILD_DIR/server/controlserver/controlserver" --config resources/config/controlserver.conf \
  --data-dir "$demo/control" --box-port "$box_port" --http-port "$control_port" \
  --operator-ws-port "$operator_ws_port" --auto-approve --admin-password-file "$demo/admin-password" &
pids+=($!)
until curl -sf http://127.0.0.1:$control_port/healthz >/dev/null 2>&1; do
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
# diver records recast's channels from its first minute: recast listens at once (the lineup above)
# and starts its channels a few at a time; /readyz answers 200 once every one has tried its source.
until curl -sf "http://127.0.0.1:$recast_port/readyz" >/dev/null 2>&1; do
  kill -0 "${pids[0]}" 2>/dev/null || { echo "run-demo: recast stopped while its channels started" >&2; exit 1; }
  sleep 0.2
done
"$BUILD_DIR/server/diver/diver" --config resources/demo/diver-demo.conf --data-dir "$demo/diver" --port "$diver_port" \
  --guide-server "http://127.0.0.1:$port" --control-server http://127.0.0.1:$control_port --archive ch001.demo,ch002.demo &
pids+=($!)
"$BUILD_DIR/tools/fleetsim/fleetsim" --server "ws://127.0.0.1:$box_port/box" --boxes "$boxes" --serial-prefix DEMO --telemetry-interval 5 --quiet &
pids+=($!)
if [ "$headless" = 0 ] && [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  "$BUILD_DIR/apps/hubris/hubris" --simulator --guide-server "http://127.0.0.1:$port" --data-dir "$demo/hubris" \
    --control-server ws://127.0.0.1:$box_port/box --dvr-server http://127.0.0.1:$diver_port --serial HUBRIS-DEMO &
  pids+=($!)
  "$BUILD_DIR/apps/cerberus/cerberus" --server http://127.0.0.1:$control_port --account admin \
    --password-file "$demo/admin-password" --diver "http://127.0.0.1:$diver_port" --view fleet &
  pids+=($!)
fi

cat <<INFO
run-demo: running (Ctrl-C stops everything)
  channels  http://127.0.0.1:$recast_port/lineup.m3u    ffplay http://127.0.0.1:$recast_port/live/ch001/index.m3u8
                                                 ffplay http://127.0.0.1:$recast_port/live/ch004.ts   (MPEG-TS, fast start)
  guide     http://127.0.0.1:$port            curl -s  http://127.0.0.1:$port/api/nownext
                                                 curl -s 'http://127.0.0.1:$port/api/search?q=news&limit=5'
  control   http://127.0.0.1:$control_port            account admin, password in $demo/admin-password
            TOKEN=\$(curl -s localhost:$control_port/api/login -d "{\"account\":\"admin\",\"password\":\"\$(cat $demo/admin-password)\"}" | jq -r .token)
            curl -s -H "Authorization: Bearer \$TOKEN" localhost:$control_port/api/fleet/summary
  dvr       http://127.0.0.1:$diver_port            curl -s localhost:$diver_port/api/upcoming   (operator from loopback)
            ffplay "http://127.0.0.1:$diver_port/catchup/ch001.demo/archive-\$((\$(date +%s)-120))-now.m3u8"
  boxes     $boxes simulated (fleetsim), online on ws://127.0.0.1:$box_port/box
INFO
wait -n "${pids[@]}"
