#!/usr/bin/env bash
# Server memory per WebSocket connection, lean server against QWebSocketServer (bench_wsmemory).
#   bench/controlserver/wsmemory.sh [N]   (default 5000; BUILD=build dir with bench_wsmemory)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build/bench-release}
N=${1:-5000}
BIN=$BUILD/bench/controlserver/bench_wsmemory
[ -x "$BIN" ] || { cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DIPTV_BUILD_TESTS=OFF \
    -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null && cmake --build "$BUILD" --target bench_wsmemory -j2 >/dev/null; }
ulimit -n "$(ulimit -Hn)"
port=18990
for kind in lean qt; do
    "$BIN" server "$kind" "$N" "$port" & server=$!
    sleep 0.3
    "$BIN" client "$N" "$port" 2>/dev/null & client=$!
    wait "$server"
    kill "$client" 2>/dev/null || true
    wait "$client" 2>/dev/null || true
    port=$((port + 1))
done
