#!/usr/bin/env bash
# The box UI against issue 13's targets (guide open, key to painted focus, grid frame times, search
# per keystroke, resident memory): Hubris under Xvfb at 1280x720 on a generated guide of
# 1,000 channels x 14 days, driven by key events (bench_ui).
#   bench/hubris/ui.sh                 ROUNDS=20; BUILD=build/bench-release
#   BACKEND=software bench/hubris/ui.sh   Qt Quick's software renderer instead of OpenGL (Mesa llvmpipe)
#   BENCH_UI_PHASES=scroll,search ...  only some parts (open, keys, scroll, search)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/bench/common.sh"
ROUNDS=${ROUNDS:-20}
CHANNELS=${CHANNELS:-1000}
DAYS=${DAYS:-14}
WORK=${WORK:-$BUILD/bench-data/ui}
release_build iptv-guide bench_ui
mkdir -p "$WORK"
guide="$WORK/guide-${CHANNELS}x${DAYS}.guide"
if [ ! -f "$guide" ]; then
  # Starts today (UTC): the app pins its clock to 19:20 on the guide's first day.
  "$BUILD/tools/iptv-guide/iptv-guide" generate --channels "$CHANNELS" --days "$DAYS" --start today --seed 1 -q \
    -o "$WORK/guide.xml.gz"
  "$BUILD/tools/iptv-guide/iptv-guide" compile "$WORK/guide.xml.gz" -q -o "$guide" >/dev/null
fi
echo "# $(date -u '+%F %T UTC'), $(git -C "$ROOT" rev-parse --short HEAD), $(nproc) cores, load:$(uptime | sed 's/.*load average://')"
env ${BACKEND:+QT_QUICK_BACKEND=$BACKEND} QT_LOGGING_RULES="*.debug=false;qt.multimedia.*=false" \
  xvfb-run -a -s "-screen 0 1280x720x24" "$BUILD/bench/hubris/bench_ui" "$guide" "$ROUNDS" 2>"$WORK/bench_ui.log"
