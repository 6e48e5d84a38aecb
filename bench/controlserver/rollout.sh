#!/usr/bin/env bash
# A staged rollout to BOXES fleetsim boxes with FAIL_PERCENT of installs failing (issue 3): a signed
# bundle is built (iptv-payload), uploaded, and rolled out to the clean channel in groups; the
# error threshold (ERROR_THRESHOLD, a fraction of results) must halt it automatically.
#
#   bench/controlserver/rollout.sh                       # 10,000 boxes, 2 % failing, halt at 1 %
#   BOXES=2000 FAIL_PERCENT=0 bench/controlserver/rollout.sh   # completes instead
#
# Prints when the rollout halted (or completed), how many results it had then and how many had
# failed, and the audit entry of the halt.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/bench/common.sh"
BOXES=${BOXES:-10000}
PROCESSES=${PROCESSES:-2}
FAIL_PERCENT=${FAIL_PERCENT:-2}
ERROR_THRESHOLD=${ERROR_THRESHOLD:-0.01}
GROUP_PERCENTS=${GROUP_PERCENTS:-'[1, 5, 25, 100]'}
WORK=${WORK:-$(mktemp -d /tmp/iptv-bench-rollout.XXXXXX)}
PORT=${PORT:-18820}
ulimit -n "$(ulimit -Hn)"

echo "== rollout to $BOXES boxes, $FAIL_PERCENT % failing, error threshold $ERROR_THRESHOLD; $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git -C "$ROOT" rev-parse --short HEAD) =="
release_build controlserver fleetsim iptv-payload
PAYLOAD="$BUILD/tools/iptv-payload/iptv-payload"

# A key and a small bundle.
"$PAYLOAD" keygen -o "$WORK/release" >/dev/null
mkdir -p "$WORK/src"
printf 'import QtQuick\nItem {}\n' >"$WORK/src/Main.qml"
"$PAYLOAD" build "$WORK/src" --version 1.1.0 --channel clean --min-box-version 1.0.0 --key "$WORK/release.key" \
    -o "$WORK/1.1.0.bundle" -q >/dev/null

start_controlserver "$WORK" "$PORT" --trust-key "$WORK/release.pub"
API="localhost:$((PORT + 1))"
nice -n 10 "$FLEETSIM" --server "ws://127.0.0.1:$PORT/box" --boxes "$BOXES" --processes "$PROCESSES" \
    --loopback-spread "$PROCESSES" --install-fail-percent "$FAIL_PERCENT" --duration 3600 --quiet --json \
    >"$WORK/fleet.json" 2>"$WORK/fleet.err" &
pids+=($!)
until [ "$(curl -sf "$API/healthz" | jq .boxesOnline)" -ge "$BOXES" ]; do sleep 0.5; done
echo "  $BOXES boxes online"

TOKEN=$(curl -sf "$API/api/login" -d '{"account":"admin","password":"bench-password"}' | jq -r .token)
H="Authorization: Bearer $TOKEN"
upload=$(curl -s -w "%{http_code}" -o "$WORK/upload.json" -H "$H" -H "Content-Type: application/octet-stream" --data-binary @"$WORK/1.1.0.bundle" "$API/api/releases")
[ "$upload" = 201 ] || { echo "upload refused: HTTP $upload $(cat "$WORK/upload.json")"; exit 1; }
start=$(date +%s.%N)
rollout=$(curl -sf -H "$H" "$API/api/rollouts" -d "{\"release\": \"1.1.0\", \"channel\": \"clean\",
    \"groups\": {\"percent\": $GROUP_PERCENTS}, \"thresholds\": {\"successThreshold\": 0.95, \"errorThreshold\": $ERROR_THRESHOLD},
    \"start\": true}" | jq -r .rollout.id)
echo "  rollout $rollout started: groups $GROUP_PERCENTS % of the channel"
while :; do
    r=$(curl -sf -H "$H" "$API/api/rollouts/$rollout" | jq -c .rollout)
    state=$(echo "$r" | jq -r .state)
    case "$state" in halted|completed|aborted) break ;; esac
    sleep 0.5
done
took=$(echo "$(date +%s.%N) - $start" | bc -l)
printf '  %s after %.1f s: %s\n' "$state" "$took" "$(echo "$r" | jq -c '{total, succeeded, failed, results: (.succeeded + .failed), reason: (.haltReason // .reason // null)}')"
echo "  groups: $(echo "$r" | jq -c '[.groups[]? | {size, succeeded, failed, state}]')"
echo "  audit: $(curl -sf -H "$H" "$API/api/audit?limit=20" | jq -c '[.items[] | select(.action | test("rollout")) | {action, outcome, detail}] | .[0:3]')"
echo "raw logs in $WORK"
