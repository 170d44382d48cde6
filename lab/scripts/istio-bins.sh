#!/usr/bin/env bash
# Builds the real Istio control-plane binaries the lab runs: pilot-discovery
# (istiod) and the istio-cni binaries (install-cni, istio-cni), from the
# istio.io/istio module version whose charts the suites already use
# (upstream.IstioModuleVersion), through the Go module proxy only.
#
# Built in a throwaway wrapper module under the cache directory, so no Istio
# code and no Istio dependency enters this repository's go.mod; cached by
# version outside the clone because a cold pilot-discovery build takes about
# 13 minutes on a loaded 2-core machine, and rebuilt only when the version
# moves.
#
# usage: lab/scripts/istio-bins.sh [binary...]  (default: all three)
#            prints the directory holding the binaries on its last line
#        lab/scripts/istio-bins.sh --versions  print the module version built
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
version=$(sed -n 's/^const IstioModuleVersion = "\(.*\)"$/\1/p' "$here/tests/upstream/upstream.go")
[ -n "$version" ] || { echo "istio-bins: cannot read IstioModuleVersion from tests/upstream/upstream.go" >&2; exit 1; }
if [ "${1:-}" = --versions ]; then
  printf 'istio.io/istio %s\n' "$version"
  exit 0
fi
cache=${MESH_CONFORMANCE_CACHE:-$HOME/.cache/mesh-conformance}
root="$cache/lab/istio/$version"
out="$root/bin"
mod="$root/wrapper"
mkdir -p "$out" "$mod"

bins=("$@")
[ ${#bins[@]} -gt 0 ] || bins=(pilot-discovery install-cni istio-cni)

pkg_of() {
  case "$1" in
    pilot-discovery) echo istio.io/istio/pilot/cmd/pilot-discovery ;;
    install-cni) echo istio.io/istio/cni/cmd/install-cni ;;
    istio-cni) echo istio.io/istio/cni/cmd/istio-cni ;;
    *) echo "istio-bins: unknown binary $1" >&2; return 1 ;;
  esac
}

missing=()
for b in "${bins[@]}"; do [ -x "$out/$b" ] || missing+=("$b"); done
if [ ${#missing[@]} -gt 0 ]; then
  # The wrapper module only pins istio.io/istio; go mod tidy resolves the
  # rest from Istio's own go.mod (its requirements are what Istio builds
  # with, since a dependency's replace directives would be ignored anyway).
  if [ ! -s "$mod/go.sum" ] || ! grep -q "istio.io/istio $version" "$mod/go.mod" 2>/dev/null; then
    rm -f "$mod/go.mod" "$mod/go.sum"
    printf 'module mesh-conformance.local/istio-bins\n\ngo 1.26.0\n\nrequire istio.io/istio %s\n' "$version" >"$mod/go.mod"
    {
      echo '//go:build tools'
      echo 'package tools'
      echo 'import ('
      for b in pilot-discovery install-cni istio-cni; do echo "	_ \"$(pkg_of "$b")\""; done
      echo ')'
    } >"$mod/tools.go"
    (cd "$mod" && GOFLAGS=-mod=mod go mod tidy) >&2
  fi
  # The version shows up in istiod's logs and its /version endpoint.
  ldflags="-s -w -X istio.io/istio/pkg/version.buildVersion=$version -X istio.io/istio/pkg/version.buildStatus=Clean"
  for b in "${missing[@]}"; do
    echo "istio-bins: building $b from istio.io/istio@$version (cold: pilot-discovery ~13 min; cached in $out)" >&2
    start=$SECONDS
    (cd "$mod" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out/$b.tmp" "$(pkg_of "$b")")
    mv "$out/$b.tmp" "$out/$b"
    echo "istio-bins: $b built in $((SECONDS - start))s" >&2
  done
fi
echo "$out"
