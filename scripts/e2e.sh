#!/usr/bin/env bash
# The main job: create a kind cluster (through the kind library, no kind CLI),
# install the components, run every suite and write the report.
# Extra arguments go to the suites: scripts/e2e.sh --mode=ambient
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "make e2e: $*" >&2; exit 1; }

command -v go >/dev/null || die "Go is not installed: see https://go.dev/dl"
# SUITES selects suites by name (make e2e SUITES="baseline opeaistio").
all=$(cd suites && ls -d */ | tr -d / | tr '\n' ' ')
pkgs=()
for s in ${SUITES:-$all}; do
  [ -d "suites/$s" ] || die "unknown suite '$s': the suites are ${all% }"
  pkgs+=("./suites/$s")
done
if ! grep -q -- '--kubeconfig' <<<"$*"; then
  command -v docker >/dev/null || die "Docker is not installed: kind runs the cluster in Docker containers. Install Docker, or pass --kubeconfig=<file> to use an existing cluster."
  docker info >/dev/null 2>&1 || die "Docker is installed but its engine is not reachable (docker info failed): start dockerd, or pass --kubeconfig=<file> to use an existing cluster."
fi
if [ -z "${MC_SKIP_NETWORK_CHECK:-}" ]; then
  # Charts and images come from these registries; without them every install
  # would time out minutes later. Override sources with --chart-source for
  # air-gapped mirrors and set MC_SKIP_NETWORK_CHECK=1.
  for url in https://ghcr.io/v2/ https://registry-1.docker.io/v2/ https://istio-release.storage.googleapis.com/charts/index.yaml; do
    curl -sS -o /dev/null --max-time 10 "$url" 2>/dev/null || die "cannot reach $url: the network (or a proxy) is missing. Mirror the charts and images, pass --chart-source, and set MC_SKIP_NETWORK_CHECK=1."
  done
fi
mkdir -p _output
# Suites run one after another: each needs the whole cluster.
set -x
go test -p 1 -count=1 -timeout 120m "${pkgs[@]}" -args --output-dir="$PWD/_output" "$@"
