#!/usr/bin/env bash
# Cerberus end to end (issue 4): the real console under Xvfb against a controlserver that knows
# KNOWN boxes (enrolled in slices, then offline) while ONLINE of them are online and send
# telemetry every INTERVAL seconds; the fleet view is open and the first box's live charts too.
# Prints the console's UI-thread stalls (timer lateness, p50/p99/max) every 10 s and for the whole
# run, its resident memory, and how long the fleet took to load.
#
#   bench/cerberus/e2e-stalls.sh                       # 100,000 known, 19,000 online, 60 s
#   KNOWN=20000 ONLINE=5000 SECONDS_RUN=30 bench/cerberus/e2e-stalls.sh
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/bench/common.sh"
KNOWN=${KNOWN:-100000}
ONLINE=${ONLINE:-19000}
INTERVAL=${INTERVAL:-1}
SECONDS_RUN=${SECONDS_RUN:-60}
WORK=${WORK:-$(mktemp -d /tmp/iptv-cerberus-e2e.XXXXXX)}
PORT=${PORT:-18720}
SLICE=9500
ulimit -n "$(ulimit -Hn)"

echo "== Cerberus end to end: $KNOWN known, $ONLINE online (telemetry every $INTERVAL s), $SECONDS_RUN s; $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git -C "$ROOT" rev-parse --short HEAD) =="
release_build controlserver fleetsim cerberus
CERBERUS="$BUILD/apps/cerberus/cerberus"
start_controlserver "$WORK" "$PORT"

# Enrolled in slices (a process holds at most 20,000 sockets), each slice once online, then gone.
sim=(nice -n 10 "$FLEETSIM" --server "ws://127.0.0.1:$PORT/box" --loopback-spread 2 --tokens "$WORK/tokens" --quiet --json)
for ((first = 0; first < KNOWN; first += 2 * SLICE)); do
    n=$(( KNOWN - first < 2 * SLICE ? KNOWN - first : 2 * SLICE ))
    "${sim[@]}" --boxes "$n" --first "$first" --processes 2 --exit-when-online >/dev/null
    printf '\r  enrolled %d of %d' $((first + n)) "$KNOWN" >&2
done
echo >&2
"${sim[@]}" --boxes "$ONLINE" --processes 2 --telemetry-interval "$INTERVAL" --duration $((SECONDS_RUN + 120)) \
    >"$WORK/online.json" 2>"$WORK/online.err" &
pids+=($!)
until [ "$(curl -sf "localhost:$((PORT + 1))/healthz" | jq .boxesOnline)" -ge "$ONLINE" ]; do sleep 0.5; done
echo "  $ONLINE online; starting Cerberus"

echo bench-password >"$WORK/password"
start=$(date +%s.%N)
XDG_CONFIG_HOME="$WORK/config" QT_QPA_PLATFORM=xcb timeout $((SECONDS_RUN + 60)) xvfb-run -a -s "-screen 0 1600x900x24" \
    "$CERBERUS" --server "http://127.0.0.1:$((PORT + 1))" --account admin --password-file "$WORK/password" \
    --view fleet --select-first --measure-stalls >"$WORK/cerberus.log" 2>&1 &
xvfb=$!
pids+=("$xvfb")
cerb=""
for _ in $(seq 1 100); do
    cerb=$(pgrep -x cerberus | head -1 || true) # the console itself, not timeout or xvfb-run
    [ -n "$cerb" ] && break
    sleep 0.2
done
[ -n "$cerb" ] || { echo "cerberus did not start"; cat "$WORK/cerberus.log"; exit 1; }
sleep "$SECONDS_RUN"
rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$cerb/status")
kill -INT "$cerb" 2>/dev/null || true
wait "$xvfb" 2>/dev/null || true
grep -E "stalls|loaded" "$WORK/cerberus.log" | sed 's/^/  /'
printf '  console resident memory after %d s: %d KiB\n' "$SECONDS_RUN" "$rss"
echo "raw logs in $WORK (started $(date -u -d "@${start%.*}" '+%H:%M:%S UTC'))"
