#!/usr/bin/env bash
# Compile time, peak memory and guide size of one XMLTV input, next to the reference compressors.
#
#   bench/guide/compile-size.sh IPTV_GUIDE_BINARY INPUT.xml[.gz|.xz] OUTDIR [RUNS]
#
# Compile: `/usr/bin/time -v iptv-guide compile` RUNS times (median wall time and peak RSS).
# Size: the guide file next to gzip -9, xz -9 and zstd -19 of the same (uncompressed) XMLTV.
# Prints a table and one "RESULT ..." line for bench/run-all.sh.
set -euo pipefail

tool=$1
input=$2
outdir=$3
runs=${4:-3}
mkdir -p "$outdir"
name=$(basename "$input")
base=${name%.gz}; base=${base%.xz}; base=${base%.xml}
guide="$outdir/$base.guide"

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else print v[int((NR + 1) / 2)] }'; }

times=(); rss=()
for ((i = 0; i < runs; i++)); do
    log=$(mktemp)
    /usr/bin/time -v "$tool" compile "$input" -q --max-diagnostics 0 -o "$guide" >/dev/null 2>"$log"
    # "Elapsed (wall clock) time (h:mm:ss or m:ss): 0:03.21"
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$log")
    kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$log")
    times+=("$wall"); rss+=("$kb")
    rm -f "$log"
done
wall=$(printf '%s\n' "${times[@]}" | median)
kb=$(printf '%s\n' "${rss[@]}" | median)

# The reference compressors work on the plain XML.
xml="$outdir/$base.xml"
if [ ! "$input" -ef "$xml" ] && { [ ! -s "$xml" ] || [ "$xml" -ot "$input" ]; }; then
    case "$input" in
        *.gz) gzip -dc "$input" > "$xml" ;;
        *.xz) xz -dc "$input" > "$xml" ;;
        *) cp -p "$input" "$xml" ;;
    esac
fi
xml_size=$(stat -c %s "$xml")
guide_size=$(stat -c %s "$guide")
# The reference sizes depend only on the XML (xz -9 and zstd -19 take minutes on a 300 MB guide):
# computed once, two compressors at a time, and kept next to it.
sizes="$outdir/$base.reference-sizes"
if [ ! -s "$sizes" ] || [ "$sizes" -ot "$xml" ]; then
    xz_file=$(mktemp)
    ( xz -9 -T1 -c "$xml" | wc -c > "$xz_file" ) &
    gz_size=$(gzip -9 -c "$xml" | wc -c)
    zst_size=$(zstd -19 -q -c "$xml" | wc -c)
    wait
    xz_size=$(cat "$xz_file"); rm -f "$xz_file"
    echo "$gz_size $xz_size $zst_size" > "$sizes"
fi
read -r gz_size xz_size zst_size < "$sizes"

awk -v n="$base" -v w="$wall" -v kb="$kb" -v x="$xml_size" -v g="$guide_size" -v gz="$gz_size" -v xz="$xz_size" -v zs="$zst_size" 'BEGIN {
    printf "\n== compile %s (median of runs) ==\n", n
    printf "  compile time     %8.2f s     (target <= 15 s for 1000 x 14)\n", w
    printf "  peak memory      %8.1f MiB   (target <= 1.5 GB for 1000 x 14)\n", kb / 1024
    printf "  XMLTV            %12d bytes\n", x
    printf "  gzip -9          %12d bytes  %6.2f%%   guide/gzip %5.3f\n", gz, 100 * gz / x, g / gz
    printf "  xz -9            %12d bytes  %6.2f%%   guide/xz   %5.3f  (target <= 0.6)\n", xz, 100 * xz / x, g / xz
    printf "  zstd -19         %12d bytes  %6.2f%%   guide/zstd %5.3f\n", zs, 100 * zs / x, g / zs
    printf "  guide            %12d bytes  %6.2f%%\n", g, 100 * g / x
    printf "RESULT input=%s compile_s=%.2f peak_mib=%.1f xml=%d gzip9=%d xz9=%d zstd19=%d guide_bytes=%d guide_over_xz=%.3f\n", n, w, kb / 1024, x, gz, xz, zs, g, g / xz
}'
