#!/usr/bin/env bash
# Runs every guide benchmark and prints one table: our figures next to the reference's.
#
#   bench/run-all.sh            # release build in build/bench-release, 1000 x 14 generated guides
#   RUNS=5 CHANNELS=200 DAYS=7 BUILD=/tmp/b bench/run-all.sh
#   REPEATS=0 bench/run-all.sh  # without the guide full of repeats
#
# 1. compile time and peak memory (/usr/bin/time -v iptv-guide compile)   bench/guide/compile-size.sh
# 2. guide size next to gzip -9, xz -9 and zstd -19 of the same XMLTV     bench/guide/compile-size.sh
# 3. box: Guide::open + SearchIndex time and resident memory                bench_guide
# 4. search p50/p99 against SQLite FTS5, window query p99                   bench_guide
# Inputs: the generated guide, the same lineup with REPEATS % of airings re-airing a few thousand
# programmes (iptv-guide generate --repeats; the worst case for work done per airing), and every
# file of the shared sample feeds (XMLTV_DIR).
# Benchmarks are programs, not ctest tests; figures and the machine are recorded in docs/BENCHMARKS.md.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build/bench-release}
WORK=${WORK:-$BUILD/bench-data}
RUNS=${RUNS:-3}
CHANNELS=${CHANNELS:-1000}
DAYS=${DAYS:-14}
SEED=${SEED:-1}
ROUNDS=${ROUNDS:-30}
REPEATS=${REPEATS:-99.3}
XMLTV_DIR=${XMLTV_DIR:-$ROOT/../shared/data/xmltv}

echo "== machine =="
lscpu | awk -F: '/^Model name|^CPU\(s\)/ { gsub(/^ +/, "", $2); print "  " $1 ": " $2 }'
free -h | awk '/^Mem:/ { print "  RAM: " $2 }'
echo "  date: $(date -u '+%Y-%m-%d %H:%M UTC')   commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo -)"

echo "== build (Release) in $BUILD =="
# Release flags without -Werror, so that a warning elsewhere in the tree cannot stop a measurement.
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DIPTV_BUILD_TESTS=OFF \
    -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
cmake --build "$BUILD" --target iptv-guide bench_guide -j2 >/dev/null
TOOL="$BUILD/tools/iptv-guide/iptv-guide"
BENCH="$BUILD/bench/guide/bench_guide"
mkdir -p "$WORK"

generated="$WORK/generated-${CHANNELS}x${DAYS}.xml"
if [ ! -s "$generated" ]; then
    echo "== generating ${CHANNELS} x ${DAYS} (seed $SEED) =="
    "$TOOL" generate --channels "$CHANNELS" --days "$DAYS" --seed "$SEED" -q -o "$generated"
fi

inputs=("$generated")
if [ "$REPEATS" != 0 ]; then
    repeats="$WORK/repeats-${CHANNELS}x${DAYS}.xml"
    if [ ! -s "$repeats" ] || [ "$(cat "$repeats.share" 2>/dev/null)" != "$REPEATS" ]; then
        echo "== generating ${CHANNELS} x ${DAYS} (seed $SEED) with ${REPEATS} % repeats =="
        "$TOOL" generate --channels "$CHANNELS" --days "$DAYS" --seed "$SEED" --repeats "$REPEATS" -q -o "$repeats"
        echo "$REPEATS" > "$repeats.share"
    fi
    inputs+=("$repeats")
fi
if [ -d "$XMLTV_DIR" ]; then
    for f in "$XMLTV_DIR"/*.xml "$XMLTV_DIR"/*.xml.gz "$XMLTV_DIR"/*.xml.xz; do
        [ -e "$f" ] && inputs+=("$f")
    done
fi

results="$WORK/results.txt"
: > "$results"
for input in "${inputs[@]}"; do
    "$ROOT/bench/guide/compile-size.sh" "$TOOL" "$input" "$WORK" "$RUNS" | tee -a "$results"
    name=$(basename "$input"); base=${name%.gz}; base=${base%.xz}; base=${base%.xml}
    # Fresh processes: the box figures are medians over RUNS runs of the benchmark program.
    for ((i = 0; i < RUNS; i++)); do
        "$BENCH" "$WORK/$base.guide" --rounds "$ROUNDS" > "$WORK/$base.bench.$i.txt"
    done
    cat "$WORK/$base.bench.0.txt"
    grep -h '^RESULT guide=' "$WORK/$base".bench.*.txt >> "$results"
done

echo
echo "== summary (medians over $RUNS runs) =="
awk '
function median(key,   n, i, j, t, a) {
    n = split(vals[key], a, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j] + 0 < a[j - 1] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n ? a[int((n + 1) / 2)] : 0
}
/^RESULT/ {
    name = ""
    for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "input" || kv[1] == "guide") { name = kv[2]; sub(/\.guide$/, "", name) } }
    if (!(name in seen)) { seen[name] = 1; order[++count] = name }
    for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] != "input" && kv[1] != "guide") vals[name SUBSEP kv[1]] = vals[name SUBSEP kv[1]] " " kv[2] }
}
END {
    printf "%-24s %9s %8s %8s %9s %9s %8s %9s %9s %9s %8s %9s\n", "input", "compile s", "peak MiB", "guide/xz",
           "open+ix", "(CPU)", "rss MiB", "srch p99", "fts5 p99", "fts5/ours", "win p99", "sqlwin p99"
    for (k = 1; k <= count; k++) {
        n = order[k]
        o = median(n SUBSEP "open_ms") + median(n SUBSEP "index_ms")
        oc = median(n SUBSEP "open_cpu_ms") + median(n SUBSEP "index_cpu_ms")
        sp = median(n SUBSEP "search_p99_us"); fp = median(n SUBSEP "fts_p99_us")
        ratio = sp > 0 ? fp / sp : 0
        printf "%-24s %9.2f %8.1f %8.3f %7.1fms %7.1fms %8.1f %7.0fus %7.0fus %8.1fx %6.1fus %7.1fus\n", n,
               median(n SUBSEP "compile_s"), median(n SUBSEP "peak_mib"), median(n SUBSEP "guide_over_xz"), o, oc,
               median(n SUBSEP "rss_mib"), sp, fp, ratio, median(n SUBSEP "window_p99_us"),
               median(n SUBSEP "sqlwin_p99_us")
    }
    print "search and window latencies: thread CPU time (see bench_guide output for wall clock)"
    print "targets (1000 x 14): compile <= 15 s, <= 1.5 GB; guide <= 0.6 x xz -9; open+index <= 300 ms, <= 150 MB;"
    print "                     search p99 <= 1 ms and >= 10x faster than FTS5; window p99 <= 50 us"
}' "$results"
