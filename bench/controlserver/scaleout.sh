#!/usr/bin/env bash
# Scale-out: NODES controlserver nodes on this machine share one PostgreSQL and one Redis and hold
# BOXES simulated boxes together (each node's boxes from its own fleetsim processes, as a load
# balancer would spread them); then one command to all boxes, issued on node 1, must complete.
#
#   bench/controlserver/scaleout.sh              # 6 nodes, 100,000 boxes (Release build in build/bench-release)
#   NODES=2 BOXES=10000 bench/controlserver/scaleout.sh
#
# Prints: time until node 1 sees every box online (its own and, through the cluster's presence,
# the other nodes'), resident memory per node and per box, and the time until the command to all
# has succeeded on every box (the batch's rows in the shared PostgreSQL, polled on node 1's API).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build/bench-release}
NODES=${NODES:-6}
BOXES=${BOXES:-100000}
WORK=${WORK:-$(mktemp -d /tmp/iptv-scaleout.XXXXXX)}
BASE=${BASE:-19000}
# Boxes started per second per node: a fleet powering on over a minute rather than in one
# instant, so first enrollments (two store writes each) do not all queue at once. 0 = at once.
RATE=${RATE:-1000}
LOAD_NICE=${LOAD_NICE:-10} # the simulators yield to the nodes, PostgreSQL and Redis
ulimit -n "$(ulimit -Hn)"
chmod 755 "$WORK"

echo "== $NODES nodes, $BOXES boxes; $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git -C "$ROOT" rev-parse --short HEAD) =="
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DIPTV_BUILD_TESTS=OFF \
    -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
cmake --build "$BUILD" --target controlserver fleetsim -j2 >/dev/null
SERVER="$BUILD/server/controlserver/controlserver"
FLEETSIM="$BUILD/tools/fleetsim/fleetsim"

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -n "${PGBIN:-}" ] && as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -m fast -w stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# PostgreSQL and Redis of our own, on free ports.
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PG_PORT=$((BASE + 900))
REDIS_PORT=$((BASE + 901))
mkdir -p "$WORK/pg" && { [ "$(id -u)" != 0 ] || chown postgres "$WORK/pg"; }
as_pg "$PGBIN/initdb" -D "$WORK/pg" -U iptv -A trust -E UTF8 --no-sync >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg/server.log" -w \
    -o "-p $PG_PORT -k $WORK/pg -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U iptv control
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$WORK/redis.log" 2>&1 &
pids+=($!)

node_pids=()
for n in $(seq 1 "$NODES"); do
    port=$((BASE + n * 10))
    IPTV_CONTROL_ADMIN_PASSWORD=bench-password "$SERVER" --db "postgresql://iptv@127.0.0.1:$PG_PORT/control" \
        --redis "127.0.0.1:$REDIS_PORT" --node "n$n" --data-dir "$WORK/n$n" --box-port "$port" \
        --http-port $((port + 1)) --operator-ws-port $((port + 2)) --auto-approve --hello-rate 100000 \
        >"$WORK/n$n.log" 2>&1 &
    node_pids+=($!)
    pids+=($!)
    until curl -sf "localhost:$((port + 1))/healthz" >/dev/null; do sleep 0.2; done
done
HTTP1=$((BASE + 11))
idle_kb=0
for p in "${node_pids[@]}"; do idle_kb=$((idle_kb + $(rss_kb "$p"))); done

start=$(date +%s.%N)
per=$((BOXES / NODES))
for n in $(seq 1 "$NODES"); do
    port=$((BASE + n * 10))
    procs=$(( (per + 9499) / 9500 ))
    nice -n "$LOAD_NICE" "$FLEETSIM" --server "ws://127.0.0.1:$port/box" --boxes "$per" --first $(( (n - 1) * per )) \
        --processes "$procs" --loopback-spread "$procs" --serial-prefix SCALE --duration 3600 --quiet --json \
        --connect-rate "$RATE" \
        >"$WORK/fleet-n$n.json" 2>"$WORK/fleet-n$n.err" &
    pids+=($!)
done
total=$((per * NODES))
while :; do
    online=$(curl -sf "localhost:$HTTP1/healthz" | jq .boxesOnline)
    printf '\r  node 1 sees %d of %d online' "$online" "$total"
    [ "$online" -ge "$total" ] && break
    sleep 1
done
online_s=$(echo "$(date +%s.%N) - $start" | bc -l)
printf '\n  all %d online (as node 1 sees them) after %.1f s\n' "$total" "$online_s"
sleep 3
busy_kb=0
for n in $(seq 1 "$NODES"); do
    kb=$(rss_kb "${node_pids[$((n - 1))]}")
    busy_kb=$((busy_kb + kb))
    printf '  node %d: %d KiB resident, %s boxes on it\n' "$n" "$kb" "$(curl -sf "localhost:$((BASE + n * 10 + 1))/metrics" | awk '/^controlserver_box_sessions / { print $2 }')"
done
printf '  memory: %.2f KiB a box across the nodes (all of each node'"'"'s fleet table included)\n' "$(echo "($busy_kb - $idle_kb) / $total" | bc -l)"

TOKEN=$(curl -sf "localhost:$HTTP1/api/login" -d '{"account":"admin","password":"bench-password"}' | jq -r .token)
H="Authorization: Bearer $TOKEN"
cstart=$(date +%s.%N)
answer=$(curl -sf -H "$H" "localhost:$HTTP1/api/commands" \
    -d '{"kind":"message","args":{"text":"scale-out","seconds":1},"target":{"all":true},"expiresIn":900}')
batch=$(echo "$answer" | jq .batch)
echo "  command to all issued on node 1: $(echo "$answer" | jq .count) commands, $(echo "$answer" | jq .deliveredNow) on node 1's own sessions"
left() { curl -sf -H "$H" "localhost:$HTTP1/api/commands?batch=$batch&state=$1&limit=1" | jq '.items | length'; }
until [ "$(left queued)" = 0 ] && [ "$(left delivered)" = 0 ] && [ "$(left acknowledged)" = 0 ]; do sleep 0.5; done
done_s=$(echo "$(date +%s.%N) - $cstart" | bc -l)
failed=$(curl -sf -H "$H" "localhost:$HTTP1/api/commands?batch=$batch&state=failed&limit=1000" | jq '.items | length')
expired=$(curl -sf -H "$H" "localhost:$HTTP1/api/commands?batch=$batch&state=expired&limit=1000" | jq '.items | length')
printf '  command to all %d boxes complete after %.1f s (failed %s, expired %s)\n' "$total" "$done_s" "$failed" "$expired"
echo "raw logs in $WORK"
