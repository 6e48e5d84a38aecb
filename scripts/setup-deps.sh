#!/usr/bin/env bash
# Installs every Debian 12 package the build, the tests and the demo need.
# Idempotent and quiet when everything is already present.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake ninja-build ccache pkg-config git clang libclang-rt-14-dev
  # Qt 6
  qt6-base-dev qt6-declarative-dev qt6-multimedia-dev qt6-websockets-dev qt6-httpserver-dev
  qt6-charts-dev qt6-qpa-plugins libqt6sql6-sqlite libqt6sql6-psql
  qml6-module-qtquick qml6-module-qtquick-controls qml6-module-qtquick-layouts
  qml6-module-qtquick-window qml6-module-qtquick-templates qml6-module-qtqml-workerscript
  qml6-module-qtmultimedia
  # media
  libavformat-dev libavcodec-dev libavutil-dev libavfilter-dev libavdevice-dev libswscale-dev
  libswresample-dev ffmpeg fonts-dejavu-core
  # formats, crypto, shared state
  libarchive-dev libzstd-dev libsodium-dev libhiredis-dev libsqlite3-dev sqlite3 libpcre2-dev
  # tools used by tests and benchmarks
  zstd xz-utils gzip xvfb xauth imagemagick libgl1-mesa-dri postgresql redis-server
  xmltv-util prometheus
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${#missing[@]} package(s): ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/iptv-setup-apt.log 2>&1 || {
  echo "setup: apt-get install failed, see /tmp/iptv-setup-apt.log" >&2
  tail -20 /tmp/iptv-setup-apt.log >&2
  exit 1
}
echo "setup: done"
