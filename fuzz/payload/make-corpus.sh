#!/usr/bin/env bash
# Regenerates the payload fuzzers' seed corpora:
#
#   fuzz/payload/make-corpus.sh IPTV_PAYLOAD_BINARY
#
# Seeds are small bundles signed with the fuzz key (a fixed, public seed shared with
# fuzz_payload.cpp; it protects nothing), so the fuzzer starts past the signature check, plus
# hostile variants re-packed with GNU tar around the same signed manifest: a symlink, a traversal
# name, an extra file, a truncated and an unsigned bundle. corpus-tar/ holds the same bundles
# decompressed, for fuzz_payloadtar (trailing zero blocks trimmed to keep them small).
set -euo pipefail

tool=$1
here=$(cd "$(dirname "$0")" && pwd)
out="$here/corpus"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

seed_b64=$(printf '%s' 'iptv-payload-fuzz-key-not-secret' | base64)
( umask 077; printf 'iptv-ed25519-secret:%s\n' "$seed_b64" > "$tmp/fuzz.key" )
export SOURCE_DATE_EPOCH=1767571200

mkdir -p "$tmp/one/qml" "$tmp/two/bin" "$tmp/two/qml/guide" "$tmp/empty"
printf 'import QtQuick\nItem {}\n' > "$tmp/one/qml/Main.qml"
printf '#!/bin/sh\nexit 0\n' > "$tmp/two/bin/run"; chmod +x "$tmp/two/bin/run"
printf 'Grid {}\n' > "$tmp/two/qml/guide/Grid.qml"
printf 'x' > "$tmp/two/a"
build() { "$tool" build "$tmp/$1" --version "$2" --channel "$3" --min-box-version 1.0 --key "$tmp/fuzz.key" \
          --level 3 -q -o "$out/$1.bundle" >/dev/null; }
rm -f "$out"/*.bundle
build one 1.0.0 clean
build two 2.1.0-rc.1 experimental
build empty 0.1 clean

# Hostile variants around one.bundle's signed manifest.
mkdir "$tmp/x" && tar --zstd -xf "$out/one.bundle" -C "$tmp/x"
repack() { (cd "$tmp/x" && tar --zstd --format=pax --owner=0 --group=0 --mtime=@0 -cf "$out/$1.bundle" "${@:2}"); }
ln -s /etc/passwd "$tmp/x/payload/link"
repack symlink -P MANIFEST.json MANIFEST.sig payload/qml/Main.qml payload/link
rm "$tmp/x/payload/link"
repack traversal -P --transform 's,^payload/qml,payload/../qml,' MANIFEST.json MANIFEST.sig payload/qml/Main.qml
printf 'extra' > "$tmp/x/payload/extra"
repack extra MANIFEST.json MANIFEST.sig payload/qml/Main.qml payload/extra
repack unsigned MANIFEST.json payload/qml/Main.qml
head -c 200 "$out/two.bundle" > "$out/truncated.bundle"

tars="$here/corpus-tar"
mkdir -p "$tars" && rm -f "$tars"/*.tar
for bundle in "$out"/*.bundle; do
    name=$(basename "$bundle" .bundle)
    [ "$name" = truncated ] && continue
    # Keep the two end-of-archive blocks, drop the padding to 10 KiB after them.
    zstd -d -q -c "$bundle" | python3 -c 'import sys; d=sys.stdin.buffer.read(); e=len(d.rstrip(b"\0")); e=(e+511)//512*512+1024; sys.stdout.buffer.write(d[:e])' > "$tars/$name.tar"
done
ls -l "$out" "$tars"
