#!/usr/bin/env bash
# The main job: for each suite, create its kind cluster (through the kind
# library, no kind CLI), install the components, run it and write its
# report; then print one table of every run and fail if any failed.
# Extra arguments go to the suites: scripts/e2e.sh --istio-version=1.26.0
# SUITES selects suites by name; MODES selects data-plane modes: empty (each
# suite in the mode its document describes), "all" (every mode each suite
# supports), or a list ("sidecar ambient"). One cluster per suite and mode,
# one after another. E2E_TIMEOUT is each suite binary's -test.timeout (6h).
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
case " $* " in *" --mode="*|*" --mode "*) [ -z "${MODES:-}" ] || die "give the mode once: MODES=... or --mode, not both" ;; esac
for m in ${MODES:-}; do
  case "$m" in all|sidecar|ambient) ;; *) die "MODES: unknown mode '$m' (accepted: all, sidecar, ambient)" ;; esac
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

# Each suite's binary gets this deadline; it checks it against its own time
# budget before it creates anything, and ends itself before it fires.
timeout=${E2E_TIMEOUT:-6h}

# A fresh _output: the summary must count this run's reports only.
[ -d _output ] && { rm -rf _output.prev; mv _output _output.prev; echo "make e2e: the previous _output is in _output.prev"; }
mkdir -p _output
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
failed=0
# Suites run one after another: each needs the whole cluster.
for pkg in "${pkgs[@]}"; do
  s=${pkg##*/}
  go test -tags e2e -c -o "$bin/$s.test" "$pkg"
  supported=$("$bin/$s.test" --list-modes)
  case "${MODES:-}" in
    "") modes=("") ;;                              # the suite's documented mode
    all) modes=(); while read -r m; do [ -n "$m" ] && modes+=("$m"); done <<<"${supported:-}"; [ ${#modes[@]} -gt 0 ] || modes=("") ;;
    *) modes=(); for m in $MODES; do modes+=("$m"); done ;;
  esac
  for m in "${modes[@]}"; do
    out="$PWD/_output"; args=()
    if [ -n "$m" ] && [ -n "$supported" ]; then out="$PWD/_output/$m"; args=(--mode="$m"); fi
    [ -n "$m" ] && [ -z "$supported" ] && [ "$m" != "${modes[0]}" ] && continue  # a suite without modes runs once
    label=${m:-the mode of its document}
    echo "make e2e: $s in $label"
    # ${args[@]+...}: an empty array under set -u, even on bash 3.2 (macOS).
    rc=0
    (cd "suites/$s" && "$bin/$s.test" -test.v -test.timeout "$timeout" --output-dir="$out" ${args[@]+"${args[@]}"} ${1+"$@"}) || rc=$?
    # Interrupted (130 SIGINT, 143 SIGTERM): the suite tore down; stop here
    # rather than create the next cluster.
    if [ "$rc" -ge 128 ]; then echo "make e2e: interrupted (exit $rc)"; exit "$rc"; fi
    [ "$rc" -eq 0 ] || failed=1
  done
done
echo
echo "make e2e: every run (reports under _output):"
go run ./tests/report/cmd/summary _output || failed=1
exit "$failed"
