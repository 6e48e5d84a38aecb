#!/usr/bin/env bash
# Diver: the gap a `kill -9` of the recorder leaves in a recording (issue 14's target: gap in the
# recording <= restart time + 2 s).
#
#   bench/diver/killgap.sh                      # ROUNDS=7, Release build in build/bench-release
#   ROUNDS=3 SEGMENT=6 bench/diver/killgap.sh
#
# recast serves one pass-through channel (ladder=copy) of a 5 Mbit/s 1080p25 H.264 + AAC MPEG-TS
# file (2 s segments, a keyframe every second). diver (one node, SQLite, as shipped) records an
# airing of it into SEGMENT-second segments. Each round waits for 3 more segments, kills diver
# with SIGKILL and starts it again at once, then reads:
#   restart: from the new process's start to "diver up on port" (listening) and to "copy N ...
#            resumes in" (its lease taken back, the recorder started on the same folder);
#   gap:     in the recording's index (index.tsv): the start of the first segment written after
#            the restart (flagged "gap") minus the end of the last one written before the kill.
#            The recorder places a connection's first segment on the wall clock by its frames'
#            arrival and timestamps (recast's keyframe cache re-sends the last GOP to a new
#            viewer, so the first frames are up to a GOP old), never before what is recorded: a
#            re-sent GOP that reaches back past the last segment's end shows as 0. The segment in
#            progress at the kill is listed from its journal (synced every second) on restart
#            (journal_ms: how much of it); what came after the last journal entry is lost and
#            counts in the gap. The kill comes at a random point of a segment.
# Prints every round and the medians; the raw logs stay in WORK.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/bench/common.sh"
. "$ROOT/bench/recast/common.sh"
ROUNDS=${ROUNDS:-7}
SEGMENT=${SEGMENT:-2}
PORT=${PORT:-18760}
DPORT=$((PORT + 1))
WORK=${WORK:-$(mktemp -d /tmp/iptv-bench-killgap.XXXXXX)}
mkdir -p "$WORK"
DIVER="$BUILD/server/diver/diver"
GUIDE_TOOL="$BUILD/tools/iptv-guide/iptv-guide"
ms() { date +%s%3N; }

machine_info
echo "== build (Release) in $BUILD =="
release_build recast diver iptv-guide
IN=$(input_5mbit)

start_copy_channels "$WORK" 1 "$PORT" "$IN"

# One airing from a minute ago to three hours ahead, on c001.
now=$(date +%s)
start=$((now - 60))
xmltv_time() { date -u -d "@$1" +'%Y%m%d%H%M%S +0000'; }
cat >"$WORK/guide.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<tv><channel id="c001"><display-name>Channel 1</display-name></channel>
<programme start="$(xmltv_time "$start")" stop="$(xmltv_time $((now + 3 * 3600)))" channel="c001"><title>Bench</title></programme></tv>
EOF
"$GUIDE_TOOL" compile "$WORK/guide.xml" -o "$WORK/bench.guide" --from $((now - 3600)) --days 1 -q >/dev/null

cat >"$WORK/diver.conf" <<EOF
[server]
bind=127.0.0.1
port=$DPORT
data_dir=$WORK/diver
node=bench
admin_token=bench
[guide]
file=$WORK/bench.guide
[recording]
capacity=1
segment_seconds=$SEGMENT
source_template=http://127.0.0.1:$PORT/live/{id}.ts
[storage]
min_free_mb=0
EOF

# Starts diver with its log in $1; sets $diver and $t_start (ms).
start_diver() {
    : >"$1"
    t_start=$(ms)
    QT_LOGGING_RULES="iptv.*.debug=false" "$DIVER" --config "$WORK/diver.conf" >"$1" 2>&1 &
    diver=$!
    pids+=("$diver")
}
wait_log() { # LOG PATTERN: waits for it, echoes the time (ms) it was seen
    until grep -q "$2" "$1"; do
        kill -0 "$diver" 2>/dev/null || { cat "$1"; exit 1; }
        sleep 0.01
    done
    ms
}

start_diver "$WORK/diver-0.log"
wait_log "$WORK/diver-0.log" "diver up on port" >/dev/null
curl -sf -X POST -H "Authorization: Bearer bench" -H "Content-Type: application/json" \
    -d "{\"channel\": \"c001\", \"start\": $start, \"owner\": \"bench\"}" "127.0.0.1:$DPORT/api/recordings" >/dev/null
until INDEX=$(find "$WORK/diver/storage/recordings" -name index.tsv 2>/dev/null | head -1) && [ -n "$INDEX" ]; do sleep 0.2; done
segments() { grep -c '^seg' "$INDEX" || true; }
echo "== diver recording c001 into $(dirname "$INDEX") (segments of ${SEGMENT} s); load $(cut -d' ' -f1-3 /proc/loadavg) =="

printf '%-6s %10s %10s %10s %10s %8s\n' round listen_ms resume_ms journal_ms gap_ms "gap<=resume+2s"
: >"$WORK/rounds"
for round in $(seq 1 "$ROUNDS"); do
    have=$(segments)
    until [ "$(segments)" -ge $((have + 3)) ]; do sleep 0.05; done
    sleep "$(printf '0.%03d' $((RANDOM % 1000)))"
    [ "$SEGMENT" -le 1 ] || sleep $((RANDOM % SEGMENT)) # a random point of the segment in progress
    kill -9 "$diver"
    wait "$diver" 2>/dev/null || true
    before=$(segments)
    log="$WORK/diver-$round.log"
    start_diver "$log"
    t_up=$(wait_log "$log" "diver up on port")
    t_resume=$(wait_log "$log" "resumes in")
    # seg <TAB> sequence <TAB> start ms <TAB> duration ms <TAB> bytes <TAB> file <TAB> gap|-
    # After the restart: the segment in progress at the kill, listed from its journal (no gap
    # flag), then the first segment of the new connection, flagged.
    first_gap_after() { grep '^seg' "$INDEX" | awk -F'\t' -v b="$before" 'NR > b && $7 == "gap" { print NR; exit }'; }
    until [ -n "$(first_gap_after)" ]; do sleep 0.05; done
    n=$(first_gap_after)
    [ "$n" -le $((before + 2)) ] || { echo "round $round: $((n - before - 1)) unflagged segments before the gap" >&2; exit 1; }
    last=$(grep '^seg' "$INDEX" | sed -n "$((n - 1))p")
    next=$(grep '^seg' "$INDEX" | sed -n "${n}p")
    kept=0
    [ "$n" -eq $((before + 1)) ] || kept=$(cut -f4 <<<"$last")
    gap=$(( $(cut -f3 <<<"$next") - $(cut -f3 <<<"$last") - $(cut -f4 <<<"$last") ))
    listen=$((t_up - t_start))
    resume=$((t_resume - t_start))
    ok=$([ "$gap" -le $((resume + 2000)) ] && echo yes || echo NO)
    printf '%-6s %10d %10d %10d %10d %8s\n' "$round" "$listen" "$resume" "$kept" "$gap" "$ok"
    echo "$listen $resume $gap $kept" >>"$WORK/rounds"
done
kill "$diver" 2>/dev/null || true
wait "$diver" 2>/dev/null || true

printf 'median %10s %10s %10s %10s   (load %s)\n' "$(cut -d' ' -f1 "$WORK/rounds" | median)" "$(cut -d' ' -f2 "$WORK/rounds" | median)" \
    "$(cut -d' ' -f4 "$WORK/rounds" | median)" "$(cut -d' ' -f3 "$WORK/rounds" | median)" "$(cut -d' ' -f1-3 /proc/loadavg)"
rm -rf "$WORK/recast/live" "$WORK/recast/data" "$WORK/diver/storage"
echo "raw logs in $WORK"
