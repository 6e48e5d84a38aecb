#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds everything and runs the whole test suite through ctest.
#   scripts/test.sh            all tests, then the box gateway's tests under ASan + UBSan
#   scripts/test.sh -L unit    only one label (unit, integration, gui, slow, fuzz); no ASan stage
# SKIP_ASAN=1 skips the ASan stage of a full run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
BUILD_DIR=${BUILD_DIR:-build/dev}
cmake --preset dev -B "$BUILD_DIR" >/dev/null
cmake --build "$BUILD_DIR" --parallel "$(nproc)"
# A failing run ends with each failed check and where it is (the full output above may be cut
# by whoever shows the log: these lines come last so that they are kept).
failures() {
    local log="$1/Testing/Temporary/LastTest.log"
    [[ -f $log ]] || return 0
    echo "=== failed checks (from $log) ==="
    grep -E -A3 '^(FAIL!|XPASS|QFATAL) |Received signal' "$log" | grep -v '^--$' | cut -c1-400 | head -80 || true
}
ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 600 -j"$(nproc)" "$@" || { status=$?; failures "$BUILD_DIR"; exit $status; }

# The box gateway and the lean WebSocket endpoint free sessions and connections while callbacks
# are running; their tests run once more under AddressSanitizer + UBSan (the asan preset, in its
# own build dir, only these targets: about 4 minutes on 2 cores from a cold ccache, 2 warm).
if [[ $# -gt 0 || -n "${SKIP_ASAN:-}" ]]; then
    exit 0
fi
ASAN_TESTS=(tst_wsframe tst_wsserver tst_wsclient tst_controlenroll tst_controladmission tst_controlcommands
            tst_controltls tst_controldrops)
ASAN_BUILD_DIR=${ASAN_BUILD_DIR:-build/asan}
cmake --preset asan -B "$ASAN_BUILD_DIR" >/dev/null
cmake --build "$ASAN_BUILD_DIR" --parallel "$(nproc)" --target "${ASAN_TESTS[@]}"
regex="^($(IFS='|'; echo "${ASAN_TESTS[*]}"))\$"
# Undefined behaviour fails the test instead of only printing a line.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
    ctest --test-dir "$ASAN_BUILD_DIR" -R "$regex" --output-on-failure --timeout 600 -j"$(nproc)" \
    || { status=$?; failures "$ASAN_BUILD_DIR"; exit $status; }
