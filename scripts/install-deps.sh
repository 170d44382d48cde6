#!/usr/bin/env bash
# Installs what a tier needs on a fresh Debian machine, from Debian's
# packages only. usage: scripts/install-deps.sh test
set -euo pipefail

need=()
case "${1:-test}" in
  test)
    command -v curl >/dev/null || need+=(curl)          # the probe's client
    command -v unshare >/dev/null || need+=(util-linux)  # hermetic DNS failure case
    command -v git >/dev/null || need+=(git)
    command -v make >/dev/null || need+=(make)
    ;;
  *) echo "install-deps: unknown set '$1' (known: test)" >&2; exit 2 ;;
esac
command -v go >/dev/null || { echo "install-deps: Go is required (https://go.dev/dl); it is not installed from Debian because its Go is too old" >&2; exit 1; }

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing ${need[*]}; run as root or install them: apt-get install ${need[*]}" >&2
    exit 1
  fi
  echo "install-deps: installing ${need[*]} from Debian" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
