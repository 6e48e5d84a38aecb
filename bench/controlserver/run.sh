#!/usr/bin/env bash
# The control server under a fleet, side by side with mosquitto under the same load (issue 3).
#
#   bench/controlserver/run.sh                 # 19,000 boxes / clients, Release build in build/bench-release
#   BOXES=5000 PROCESSES=1 bench/controlserver/run.sh
#
# Ours (controlserver + tools/fleetsim on loopback, SQLite, one node):
#   1. connect: fleetsim --exit-when-online, enrollment first (cold), then again on the tokens the
#      boxes kept (--tokens), as a fleet reconnects after a server restart
#   2. memory: controlserver RSS with every box online, minus its RSS before, per box
#   3. telemetry: every box floods at --telemetry-interval 0.1 for DURATION s; acked msgs/s (fleetsim)
#   4. command round trip: 300 commands one after another to random online boxes, POST -> the
#      operator WebSocket's acknowledged update (bench_commandrtt); then one command to all boxes
#   5. reconnect storm: every connection dropped at once; time until all are back (fleetsim --storm)
# Reference (mosquitto 2.0 from Debian + bench/controlserver/mqttload, the same clients and QoS 1):
#   connect time, broker RSS per client, acknowledged PUBLISHes/s.
# This machine caps a process at 20,000 descriptors, so clients run in PROCESSES processes.
# Load generators run at nice $LOAD_NICE (10) on both sides: server and broker are what is measured,
# and on 2 shared cores the scheduler would otherwise split the CPU evenly among all processes.
# Both keep WINDOW (8) messages in flight per client: fleetsim --telemetry-window, mqttload --inflight.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/bench/common.sh"
BOXES=${BOXES:-19000}
PROCESSES=${PROCESSES:-2}
DURATION=${DURATION:-15}
WINDOW=${WINDOW:-8}
LOAD_NICE=${LOAD_NICE:-10}
WORK=${WORK:-$(mktemp -d /tmp/iptv-bench-control.XXXXXX)}
BOX_PORT=${BOX_PORT:-18620}
HTTP_PORT=$((BOX_PORT + 1))
WS_PORT=$((BOX_PORT + 2))
MQTT_PORT=$((BOX_PORT + 3))
ulimit -n "$(ulimit -Hn)"

echo "== machine =="
lscpu | awk -F: '/^Model name|^CPU\(s\)/ { gsub(/^ +/, "", $2); print "  " $1 ": " $2 }'
echo "  date: $(date -u '+%Y-%m-%d %H:%M UTC')   commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo -)   fd cap: $(ulimit -Hn)"

echo "== build (Release) in $BUILD =="
release_build controlserver fleetsim mqttload bench_commandrtt
MQTTLOAD="$BUILD/bench/controlserver/mqttload"
RTT="$BUILD/bench/controlserver/bench_commandrtt"
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || apt-get install -y -q mosquitto >/dev/null
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)


echo "== ours: controlserver + fleetsim, $BOXES boxes in $PROCESSES processes =="
start_controlserver "$WORK" "$BOX_PORT" --max-handshakes 20000
idle_kb=$(rss_kb "$server")
sim=(nice -n "$LOAD_NICE" "$FLEETSIM" --telemetry-window "$WINDOW" --server "ws://127.0.0.1:$BOX_PORT/box" --boxes "$BOXES" --processes "$PROCESSES" --loopback-spread "$PROCESSES"
     --tokens "$WORK/tokens" --json --quiet)

"${sim[@]}" --exit-when-online >"$WORK/enroll.json"
enroll_s=$(jq .allOnlineSeconds "$WORK/enroll.json")
"${sim[@]}" --exit-when-online >"$WORK/connect.json"
connect_s=$(jq .allOnlineSeconds "$WORK/connect.json")
echo "  connect: enrollment $enroll_s s, token auth $connect_s s"

# One long fleetsim run: online, then commands, then the telemetry flood is measured by a second run.
"${sim[@]}" --duration 600 >"$WORK/online.json" &
fleet=$!
pids+=("$fleet")
until [ "$(curl -sf "localhost:$HTTP_PORT/healthz" | jq .boxesOnline)" -ge "$BOXES" ]; do sleep 0.5; done
sleep 2
online_kb=$(rss_kb "$server")
per_box=$(echo "($online_kb - $idle_kb) / $BOXES" | bc -l)
printf '  memory: idle %d KiB, %d online %d KiB: %.2f KiB a box\n' "$idle_kb" "$BOXES" "$online_kb" "$per_box"

"$RTT" --http "http://127.0.0.1:$HTTP_PORT" --ws "ws://127.0.0.1:$WS_PORT" --password bench-password \
    --boxes "$BOXES" --count 300 >"$WORK/rtt.json"
rtt_p50=$(jq .acknowledgedMs.p50 "$WORK/rtt.json")
rtt_p99=$(jq .acknowledgedMs.p99 "$WORK/rtt.json")
echo "  command round trip (one box at a time, $BOXES online; POST -> acknowledged): p50 $rtt_p50 ms, p99 $rtt_p99 ms (succeeded p99 $(jq .succeededMs.p99 "$WORK/rtt.json") ms)"

TOKEN=$(curl -sf "localhost:$HTTP_PORT/api/login" -d '{"account":"admin","password":"bench-password"}' | jq -r .token)
H="Authorization: Bearer $TOKEN"
start=$(date +%s.%N)
batch=$(curl -sf -H "$H" "localhost:$HTTP_PORT/api/commands" \
    -d '{"kind":"message","args":{"text":"bench","seconds":1},"target":{"all":true},"expiresIn":600}' | jq .batch)
pending() { curl -sf -H "$H" "localhost:$HTTP_PORT/api/commands?batch=$batch&state=$1&limit=1" | jq '.items | length'; }
until [ "$(pending queued)" = 0 ] && [ "$(pending delivered)" = 0 ] && [ "$(pending acknowledged)" = 0 ]; do sleep 0.2; done
all_s=$(echo "$(date +%s.%N) - $start" | bc -l)
printf '  command to all %d boxes: every one succeeded after %.1f s (API polled every 0.2 s)\n' "$BOXES" "$all_s"
kill "$fleet"; wait "$fleet" 2>/dev/null || true

"${sim[@]}" --telemetry-interval 0.1 --duration "$DURATION" >"$WORK/flood.json"
acked=$(jq .telemetry.ackedPerSecond "$WORK/flood.json")
printf '  telemetry: %.0f acknowledged msgs/s (peak %.0f)\n' "$acked" "$(jq .telemetry.peakAckedPerSecond "$WORK/flood.json")"

"${sim[@]}" --storm --storm-after 3 >"$WORK/storm.json"
storm=$(jq .stormRecoverySeconds "$WORK/storm.json")
echo "  reconnect storm: all $BOXES back in $storm s; server alive: $(curl -sf "localhost:$HTTP_PORT/healthz" | jq -r .status)"
kill "$server"; wait "$server" 2>/dev/null || true

echo "== reference: mosquitto $("$MOSQUITTO" -h | head -1 | awk '{print $3}') + mqttload, $BOXES clients in $PROCESSES processes =="
cat >"$WORK/mosquitto.conf" <<EOF
listener $MQTT_PORT
allow_anonymous true
max_connections -1
persistence false
log_dest none
EOF
"$MOSQUITTO" -c "$WORK/mosquitto.conf" &
broker=$!
pids+=("$broker")
sleep 0.5
broker_idle_kb=$(rss_kb "$broker")
per=$((BOXES / PROCESSES))
loads=()
# All addresses (--spread: 127.0.0.1 ... 127.0.0.N, as fleetsim's --loopback-spread); connects in
# flight kept within mosquitto's listen backlog of 100; every process publishes from 5 s on, so no
# process's flood slows another's connects and the rates cover the same span.
for i in $(seq 1 "$PROCESSES"); do
    nice -n "$LOAD_NICE" "$MQTTLOAD" --inflight "$WINDOW" --port "$MQTT_PORT" --clients "$per" --duration "$DURATION" --id-prefix "p$i" --spread "$PROCESSES" \
        --max-pending $((100 / PROCESSES)) --publish-after 5 >"$WORK/mqtt-$i.json" 2>/dev/null &
    loads+=($!)
done
sleep $((DURATION / 2 + 5))
broker_kb=$(rss_kb "$broker")
for p in "${loads[@]}"; do wait "$p" || true; done
mqtt_connect=$(jq -s 'map(.connectSeconds) | max' "$WORK"/mqtt-*.json)
mqtt_acked=$(jq -s 'map(.ackedPerSecond) | add' "$WORK"/mqtt-*.json)
mqtt_per=$(echo "($broker_kb - $broker_idle_kb) / $BOXES" | bc -l)
printf '  connect %s s, %.2f KiB a client, %.0f acknowledged msgs/s\n' "$mqtt_connect" "$mqtt_per" "$mqtt_acked"

echo "== summary (ours / reference) =="
printf '| connect %d | %s s (enrol %s s) | %s s | %.2f |\n' "$BOXES" "$connect_s" "$enroll_s" "$mqtt_connect" "$(echo "$connect_s / $mqtt_connect" | bc -l)"
printf '| memory a box | %.2f KiB | %.2f KiB | %.2f |\n' "$per_box" "$mqtt_per" "$(echo "$per_box / $mqtt_per" | bc -l)"
printf '| telemetry acked/s | %.0f | %.0f | %.2f |\n' "$acked" "$mqtt_acked" "$(echo "$acked / $mqtt_acked" | bc -l)"
printf '| command RTT p50 / p99 | %s / %s ms | - | - |\n' "$rtt_p50" "$rtt_p99"
printf '| command to all | %.1f s | - | - |\n' "$all_s"
printf '| storm recovery | %s s | - | - |\n' "$storm"
echo "raw results in $WORK"
