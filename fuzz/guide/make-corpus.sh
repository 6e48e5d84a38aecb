#!/usr/bin/env bash
# Regenerates the guide fuzzers' seed corpora after a format change:
#
#   fuzz/guide/make-corpus.sh IPTV_GUIDE_BINARY [FUZZ_GUIDEDELTA_BINARY]
#
# corpus/*.guide are whole guide files; corpus-body/*.body are what fuzz_guidebody reads: the
# header's four counts (channels, airings, programmes, strings; u32 little-endian) and then the
# decompressed body. corpus-delta/real.delta is what fuzz_guidedelta reads: a real delta's new
# header and frame, made by that target against its own base (given its binary).
set -euo pipefail

tool=$1
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$tool" compile "$repo/tests/data/xmltv/full.xml" -q --created-at 2026-11-25T00:00:00Z -o "$here/corpus/full.guide" >/dev/null
"$tool" generate --channels 3 --days 1 -q -o "$tmp/generated.xml" >/dev/null
"$tool" compile "$tmp/generated.xml" -q --created-at 2026-11-25T00:00:00Z -o "$here/corpus/generated.guide" >/dev/null

for guide in "$here"/corpus/*.guide; do
    body="$here/corpus-body/$(basename "$guide").body"
    head -c 56 "$guide" | tail -c 16 > "$body"   # header bytes 40..55: the four counts
    tail -c +129 "$guide" | zstd -d -q >> "$body"
done
if [[ $# -ge 2 ]]; then
    mkdir -p "$here/corpus-delta"
    IPTV_FUZZ_WRITE_SEED="$here/corpus-delta/real.delta" "$2" /dev/null >/dev/null
    ls -l "$here"/corpus-delta/real.delta
fi
ls -l "$here"/corpus/*.guide "$here"/corpus-body/*.body
