#!/usr/bin/env bash
# Builds KServe's control plane as the lab runs it, from upstream Go modules
# through the module proxy only: the Knative operator (operator, webhook),
# Knative Serving's five binaries (controller, webhook, activator,
# autoscaler, queue) and KServe's manager, at the KServe suite's pins
# (suites/kservemesh/suite.go: Versions.KnativeServing and Versions.KServe).
#
# Two throwaway wrapper modules under the cache directory, because one does
# not build: KServe v0.20.0 requires otelhttp v0.65.0, which removed the
# WithRouteTag that knative.dev/pkg's webhook (the version Serving v0.48.1
# pins) calls. The Knative wrapper pins only the two Knative modules and
# lets their own go.mod decide the rest; the KServe wrapper copies the
# replace directives of KServe's own go.mod (a dependency's replaces are
# ignored), which is how KServe builds its manager. Nothing enters this
# repository's go.mod. Cached by version outside the clone; rebuilt only
# when a pin moves.
#
# usage: lab/scripts/kserve-bins.sh [knative] [kserve]  build what is missing of those
#            parts (default both); print the bin directory last
#        lab/scripts/kserve-bins.sh --versions         print the module versions built, one per line
# The lab builds both (TestKServeControlPlane runs KServe's manager); the
# KServe wrapper is a second cold build of its own (its dependency graph
# shares little with Knative's).
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
suite="$here/suites/kservemesh/suite.go"
knative_release=$(sed -n 's/^[[:space:]]*KnativeServing:[[:space:]]*"\(.*\)",$/\1/p' "$suite")
kserve=$(sed -n 's/^[[:space:]]*KServe:[[:space:]]*"\(.*\)",$/\1/p' "$suite")
[ -n "$knative_release" ] && [ -n "$kserve" ] || { echo "kserve-bins: cannot read Versions.KnativeServing and Versions.KServe from $suite" >&2; exit 1; }
# Knative's Go modules are v0.(minor+27).patch since 1.0 (upstream.KnativeModuleVersion).
IFS=. read -r _ kn_minor kn_patch <<<"${knative_release#v}"
knative="v0.$((kn_minor + 27)).$kn_patch"
if [ "${1:-}" = --versions ]; then
  printf 'knative.dev/serving %s\nknative.dev/operator %s\ngithub.com/kserve/kserve %s\n' "$knative" "$knative" "$kserve"
  exit 0
fi

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(knative kserve)
for p in "${parts[@]}"; do
  case "$p" in knative | kserve) ;; *) echo "kserve-bins: unknown part $p (knative, kserve or --versions)" >&2; exit 2 ;; esac
done
wants() { [[ " ${parts[*]} " == *" $1 "* ]]; }

cache=${MESH_CONFORMANCE_CACHE:-$HOME/.cache/mesh-conformance}
root="$cache/lab/kserve/knative-$knative-kserve-$kserve"
out="$root/bin"
mkdir -p "$out" "$root/knative" "$root/kserve"

# name=package, per wrapper
knative_bins=(
  operator=knative.dev/operator/cmd/operator
  operator-webhook=knative.dev/operator/cmd/webhook
  controller=knative.dev/serving/cmd/controller
  webhook=knative.dev/serving/cmd/webhook
  activator=knative.dev/serving/cmd/activator
  autoscaler=knative.dev/serving/cmd/autoscaler
  queue=knative.dev/serving/cmd/queue
  autoscaler-hpa=knative.dev/serving/cmd/autoscaler-hpa
  migrate=knative.dev/pkg/apiextensions/storageversion/cmd/migrate
  cleanup=knative.dev/serving/pkg/cleanup/cmd/cleanup
)
kserve_bins=(manager=github.com/kserve/kserve/cmd/manager)

wrapper() { # dir module requires-and-replaces pkgs...
  local dir=$1 module=$2 body=$3; shift 3
  local tools
  tools=$({ echo '//go:build tools'; echo; echo 'package tools'; echo; echo 'import ('
    for p in "$@"; do echo "	_ \"$p\""; done; echo ')'; })
  # Tidied again when the list of binaries changes, not only when missing.
  [ -s "$dir/go.sum" ] && [ -s "$dir/go.mod" ] && [ "$(cat "$dir/tools.go" 2>/dev/null)" = "$tools" ] && return 0
  printf 'module %s\n\ngo 1.26.0\n\n%s\n' "$module" "$body" >"$dir/go.mod"
  echo "$tools" >"$dir/tools.go"
  (cd "$dir" && GOFLAGS=-mod=mod go mod tidy) >&2
}

build() { # dir name=pkg...
  local dir=$1; shift
  for b in "$@"; do
    local name=${b%%=*} pkg=${b#*=}
    [ -x "$out/$name" ] && continue
    echo "kserve-bins: building $name from $pkg (cached in $out)" >&2
    local start=$SECONDS
    (cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/$name.tmp" "$pkg")
    mv "$out/$name.tmp" "$out/$name"
    echo "kserve-bins: $name built in $((SECONDS - start))s" >&2
  done
}

pkgs() { for b in "$@"; do echo "${b#*=}"; done; }

if wants knative; then
  wrapper "$root/knative" mesh-conformance.local/knative-bins \
    "require (
	knative.dev/operator $knative
	knative.dev/serving $knative
)" $(pkgs "${knative_bins[@]}")
  build "$root/knative" "${knative_bins[@]}"

  # The operator reads the Serving and net-istio manifests it installs from
  # its kodata (KO_DATA_PATH), which ko would put in its image.
  kodata="$out/operator-kodata"
  if [ ! -d "$kodata" ]; then
    src=$(cd "$root/knative" && go list -m -f '{{.Dir}}' knative.dev/operator)/cmd/operator/kodata
    cp -r "$src" "$kodata.tmp" && chmod -R u+w "$kodata.tmp" && mv "$kodata.tmp" "$kodata"
  fi
fi

if wants kserve; then
  # KServe's own replace directives, read from its go.mod at the pin.
  kserve_mod=$(cd "$root/knative" && go mod download -json "github.com/kserve/kserve@$kserve" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  [ -s "$kserve_mod" ] || { echo "kserve-bins: cannot download github.com/kserve/kserve@$kserve's go.mod" >&2; exit 1; }
  replaces=$(awk '/^replace \($/{b=1; print; next} b{print; if ($0==")") b=0; next} /^replace /{print}' "$kserve_mod")
  wrapper "$root/kserve" mesh-conformance.local/kserve-bins "require github.com/kserve/kserve $kserve

$replaces" $(pkgs "${kserve_bins[@]}")
  build "$root/kserve" "${kserve_bins[@]}"
fi

echo "$out"
