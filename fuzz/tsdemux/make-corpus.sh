#!/usr/bin/env bash
# Makes fuzz_tsdemux's seed corpus from two one-second segments of a recast test-pattern channel
# (160x90, ~20 KB each): the segments as they are, then what broken sources send: a cut, flipped
# bits, lost TS packets, two timelines spliced (a jump) and a clock near 2^33 ticks (a 33-bit wrap,
# made with the ffmpeg program's -output_ts_offset, a developer tool only).
#   fuzz/tsdemux/make-corpus.sh SEG_A.ts SEG_B.ts
set -euo pipefail
a=$1 b=$2
out=$(dirname "$0")/corpus
mkdir -p "$out"
cp "$a" "$out/segment.ts"
cat "$a" "$b" > "$out/two-segments.ts"
head -c 10000 "$a" > "$out/truncated.ts"
python3 - "$a" "$b" "$out" <<'PY'
import random, sys
a = open(sys.argv[1], 'rb').read(); b = open(sys.argv[2], 'rb').read(); out = sys.argv[3]
rnd = random.Random(12)
flipped = bytearray(a)
for _ in range(40):
    i = rnd.randrange(len(flipped)); flipped[i] ^= 1 << rnd.randrange(8)
open(out + '/bitflips.ts', 'wb').write(flipped)
packets = [a[i:i + 188] for i in range(0, len(a), 188)]
open(out + '/lost-packets.ts', 'wb').write(b''.join(p for k, p in enumerate(packets) if k % 7 != 3))
open(out + '/spliced-jump.ts', 'wb').write(b + a + b)
open(out + '/not-ts.ts', 'wb').write(bytes(rnd.randrange(256) for _ in range(3000)))
PY
ffmpeg -v error -y -i "$out/two-segments.ts" -c copy -output_ts_offset 95441.8 -f mpegts "$out/wrap33.ts"
