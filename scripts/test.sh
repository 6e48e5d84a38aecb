#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds everything and runs the whole test suite through ctest.
#   scripts/test.sh            all tests
#   scripts/test.sh -L unit    only one label (unit, integration, gui, slow, fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
BUILD_DIR=${BUILD_DIR:-build/dev}
cmake --preset dev -B "$BUILD_DIR" >/dev/null
cmake --build "$BUILD_DIR" --parallel "$(nproc)"
ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 600 -j"$(nproc)" "$@"
