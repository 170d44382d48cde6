#!/usr/bin/env bash
# Builds the Kubernetes binaries the hermetic tiers need (kube-apiserver and
# etcd; more when named) from the lab/ module, through the Go module proxy
# only. Binaries are cached outside the clone, keyed by Kubernetes version,
# because CI runs in a fresh clone and a cold build takes 10-20 minutes.
#
# usage: scripts/build-k8s.sh [binary...]     (default: kube-apiserver etcd)
# prints the directory holding the binaries on its last line.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
version=$(cd "$here/lab" && go list -m -f "{{.Version}}" k8s.io/kubernetes)
[ -n "$version" ] || { echo "build-k8s: cannot read the k8s.io/kubernetes version from lab/go.mod" >&2; exit 1; }
cache=${MESH_CONFORMANCE_CACHE:-$HOME/.cache/mesh-conformance}
out="$cache/kubernetes/$version/bin"
mkdir -p "$out"

bins=("$@")
[ ${#bins[@]} -gt 0 ] || bins=(kube-apiserver etcd)

pkg_of() {
  case "$1" in
    etcd) echo ./cmd/etcd ;;
    *) echo "k8s.io/kubernetes/cmd/$1" ;;
  esac
}

ver=${version#v}
ldflags="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $p.gitVersion=$version -X $p.gitMajor=${ver%%.*} -X $p.gitMinor=$(echo "$ver" | cut -d. -f2)"
  ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done

for b in "${bins[@]}"; do
  if [ -x "$out/$b" ]; then
    continue
  fi
  echo "build-k8s: building $b for Kubernetes $version (cold build: several minutes; cached in $out)" >&2
  start=$SECONDS
  (cd "$here/lab" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out/$b.tmp" "$(pkg_of "$b")")
  mv "$out/$b.tmp" "$out/$b"
  echo "build-k8s: $b built in $((SECONDS - start))s" >&2
done
echo "$out"
