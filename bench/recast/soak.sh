#!/usr/bin/env bash
# ReCast soak (issue 12): relay channels whose inputs go away and come back, every playlist checked.
#
#   bench/recast/soak.sh                     # 30 minutes
#   DURATION=600 bench/recast/soak.sh        # 10 minutes
#
# One recast with 12 channels: six test-pattern channels (360p, ultrafast, threads=1) sending their
# MPEG-TS to 127.0.0.1 over UDP (udp_out), and six relay channels reading those (src1 -> rel1 ...):
# rel1-3 pass-through (EXT-X-DISCONTINUITY when the input comes back), rel4-6 transcoded to 360p
# (a slate while it is away). Every INTERVAL s (30) the next pattern channel is stopped through the
# API for OUTAGE s (15) and started again: each relay loses its input every 6 x INTERVAL s.
# hlswatch checks every media playlist once a second (checkMediaPlaylist: RFC 8216 read literally;
# checkReload: media sequence, URIs and discontinuity sequence across reloads). recast's RSS is
# sampled every 10 s; the slope (least squares, KiB/min) is given over the whole run and over its
# second half (after the buffers and caches have filled).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/bench/common.sh"
. "$ROOT/bench/recast/common.sh"
DURATION=${DURATION:-1800}
INTERVAL=${INTERVAL:-30}
OUTAGE=${OUTAGE:-15}
PORT=${PORT:-18660}
UDP=${UDP:-18670}
WORK=${WORK:-$(mktemp -d /tmp/iptv-bench-recast-soak.XXXXXX)}
mkdir -p "$WORK"
API="http://127.0.0.1:$PORT"

machine_info
echo "== build (Release) in $BUILD =="
release_build recast hlswatch
HLSWATCH="$BUILD/bench/recast/hlswatch"

{
    printf '[server]\nport=%s\n\n[defaults]\nfps=25\nsegment_seconds=2\ngop_seconds=1\nwindow=6\naudio_kbps=64\n' "$PORT"
    printf 'preset=ultrafast\nthreads=1\nread_timeout_ms=2000\n'
    for i in 1 2 3 4 5 6; do
        printf '\n[channel.src%d]\nname=Source %d\nsource=pattern:\nladder=360p:640x360@500\ntone_hz=%d\nudp_out=udp://127.0.0.1:%d?pkt_size=1316\n' \
            "$i" "$i" $((400 + 50 * i)) $((UDP + i))
        printf '\n[channel.rel%d]\nname=Relay %d\nsource=udp://127.0.0.1:%d\n' "$i" "$i" $((UDP + i))
        if [ "$i" -le 3 ]; then printf 'ladder=copy\n'; else printf 'ladder=360p:640x360@500\n'; fi
    done
} >"$WORK/recast.conf"
start_recast "$WORK" "$WORK/recast.conf" "$PORT"
echo "== soak: $DURATION s, an input stopped every $INTERVAL s for $OUTAGE s; recast pid $recast =="
sleep 10 # every channel has a segment

"$HLSWATCH" check --base "$API" --duration "$DURATION" >"$WORK/check.json" 2>"$WORK/check.log" &
watch=$!
pids+=("$watch")
start=$(date +%s)
: >"$WORK/rss"
(
    while kill -0 "$watch" 2>/dev/null; do
        echo "$(($(date +%s) - start)) $(rss_kb "$recast")" >>"$WORK/rss"
        sleep 10
    done
) &
pids+=($!)
i=0 outages=0
while [ $(($(date +%s) - start + INTERVAL)) -le "$DURATION" ]; do
    sleep $((INTERVAL - OUTAGE))
    src=src$((i % 6 + 1))
    curl -sf -X POST "$API/api/channels/$src/stop" >/dev/null || echo "  stopping $src failed"
    sleep "$OUTAGE"
    curl -sf -X POST "$API/api/channels/$src/start" >/dev/null || echo "  starting $src failed"
    i=$((i + 1)) outages=$((outages + 1))
done
wait "$watch" || true
curl -sf "$API/api/channels" >"$WORK/channels.json"
kill -0 "$recast" || { echo "recast died"; tail "$WORK/recast.log"; exit 1; }

slope() { # least squares over "t kb" lines -> KiB/min
    awk '{ n++; sx += $1; sy += $2; sxx += $1 * $1; sxy += $1 * $2 }
         END { d = n * sxx - sx * sx; if (n < 2 || d == 0) print 0; else printf "%.1f", 60 * (n * sxy - sx * sy) / d }'
}
n=$(wc -l <"$WORK/rss")
echo "  outages: $outages ($(jq '[.channels[] | select(.id | startswith("rel")) | .stats.reconnects] | add' "$WORK/channels.json") reconnects counted by the relays)"
echo "  states at the end: $(jq -r '[.channels[] | "\(.id)=\(.state)"] | join(" ")' "$WORK/channels.json")"
echo "  playlists: $(jq -r '"\(.playlists) checked \(.loads) times: \(.invalid) invalid, \(.reloadProblems) bad reloads, \(.unavailable) not available (503 while stopped/starting), \(.discontinuitiesLeft) discontinuities left the window"' "$WORK/check.json")"
jq -r '.examples[]' "$WORK/check.json" | head -5 | sed 's/^/    /'
echo "  RSS: $(head -1 "$WORK/rss" | cut -d' ' -f2) KiB at start, $(tail -1 "$WORK/rss" | cut -d' ' -f2) KiB at the end (max $(cut -d' ' -f2 "$WORK/rss" | sort -n | tail -1));" \
    "slope $(slope <"$WORK/rss") KiB/min over the run, $(tail -n $((n / 2)) "$WORK/rss" | slope) KiB/min over the second half ($n samples)"
echo "  recast CPU: $(cpu_s "$recast") s in $DURATION s"
echo "raw results in $WORK"
