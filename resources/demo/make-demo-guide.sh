#!/usr/bin/env bash
# Makes the demo guide of the README walkthrough: 12 generated channels x 14 days starting today
# (midnight UTC), compiled with demo-lineup.m3u so the box sees the lineup's numbers and order.
#
#   resources/demo/make-demo-guide.sh [OUTDIR]      (IPTV_GUIDE=path/to/iptv-guide to pick a build)
#
# The XMLTV is kept next to the guide (demo-guide.xml.gz) so iptvnext can ingest the same data.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tool=${IPTV_GUIDE:-$root/build/dev/tools/iptv-guide/iptv-guide}
out=${1:-$here/out}
seed=${SEED:-1}
if [ ! -x "$tool" ]; then
    echo "make-demo-guide: $tool not found; build it (cmake --build build/dev --target iptv-guide) or set IPTV_GUIDE" >&2
    exit 1
fi
mkdir -p "$out"
"$tool" generate --channels 12 --days 14 --start today --seed "$seed" -q -o "$out/demo-guide.xml.gz"
"$tool" compile "$out/demo-guide.xml.gz" --lineup "$here/demo-lineup.m3u" -q -o "$out/demo.guide"
"$tool" inspect "$out/demo.guide"
