# Sourced by the bench scripts (bash): the Release build they measure, processes stopped on exit,
# and a control server started and waited for. Expects ROOT to be set.
#
#   release_build TARGET...                   configures $BUILD (Release, ccache) and builds them
#   pids+=($!)                                 stopped when the script exits
#   start_controlserver WORK BOX_PORT [ARG...] starts it (HTTP on BOX_PORT+1, operator WS on +2,
#                                              admin password bench-password), sets $server, waits
#                                              for /healthz; its log is WORK/controlserver.log
#   rss_kb PID                                 resident memory in KiB

BUILD=${BUILD:-$ROOT/build/bench-release}
SERVER="$BUILD/server/controlserver/controlserver"
FLEETSIM="$BUILD/tools/fleetsim/fleetsim"

release_build() {
    cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DIPTV_BUILD_TESTS=OFF \
        -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
    cmake --build "$BUILD" --target "$@" -j2 >/dev/null
}

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

start_controlserver() {
    local work=$1 port=$2
    shift 2
    IPTV_CONTROL_ADMIN_PASSWORD=bench-password "$SERVER" --data-dir "$work/control" --box-port "$port" \
        --http-port $((port + 1)) --operator-ws-port $((port + 2)) --auto-approve --hello-rate 100000 "$@" \
        >"$work/controlserver.log" 2>&1 &
    server=$!
    pids+=("$server")
    until curl -sf "localhost:$((port + 1))/healthz" >/dev/null; do
        kill -0 "$server" 2>/dev/null || { cat "$work/controlserver.log"; exit 1; }
        sleep 0.2
    done
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
