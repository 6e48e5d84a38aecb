#!/usr/bin/env bash
# Screenshots of Cerberus's main views under Xvfb, for docs/screenshots/.
#   scripts/cerberus-screenshots.sh <server-url> <password-file> [out-dir] [build-dir]
# Needs a running controlserver (with boxes, e.g. fleetsim --boxes 200) and xvfb-run + ImageMagick.
# CERBERUS_DIVER=http://127.0.0.1:8430 (diver's URL; CERBERUS_DIVER_TOKEN_FILE its admin token)
# adds the Recordings view.
set -euo pipefail
server=${1:?server URL, e.g. http://127.0.0.1:8421}
password=${2:?file with the admin password}
out=${3:-docs/screenshots}
build=${4:-build/dev}
wait_s=${CERBERUS_SHOT_WAIT:-25}
mkdir -p "$out"
config=$(mktemp -d)
trap 'rm -rf "$config"' EXIT

shot() { # name, extra args...
  local name=$1; shift
  XDG_CONFIG_HOME="$config" xvfb-run -a -s "-screen 0 1600x900x24" bash -c '
    "$1" --server "$2" --account admin --password-file "$3" "${@:6}" &
    pid=$!
    sleep "$5"
    import -window root -crop 1366x768+0+0 +repage "$4"
    kill $pid; wait $pid 2>/dev/null || true
  ' _ "$build/apps/cerberus/cerberus" "$server" "$password" "$out/cerberus-$name.png" "$wait_s" "$@"
  echo "wrote $out/cerberus-$name.png"
}

shot dashboard --view dashboard
shot fleet --view fleet --select-first
shot releases --view releases
shot audit --view audit
if [ -n "${CERBERUS_DIVER:-}" ]; then
  diver_args=(--diver "$CERBERUS_DIVER")
  [ -z "${CERBERUS_DIVER_TOKEN_FILE:-}" ] || diver_args+=(--diver-token-file "$CERBERUS_DIVER_TOKEN_FILE")
  shot recordings --view recordings --select-first "${diver_args[@]}"
fi
