#!/usr/bin/env bash
# make lab: the offline lab. Real kind cluster, real pods, no registry.
# Installs what it needs from Debian, starts its own Docker engine if none
# runs, builds (cached, keyed by version/content) the Kubernetes binaries, a
# kind node image and the test images, then runs the lab tests, which create
# the cluster through the suite's kind provider and delete it at the end
# (MC_LAB_KEEP=1 keeps it).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cache=${MESH_CONFORMANCE_CACHE:-$HOME/.cache/mesh-conformance}
lbin="$cache/lab/bin"
start=$SECONDS
say() { echo "lab: $*" >&2; }

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v curl >/dev/null || need+=(curl)
command -v flock >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { say "missing ${need[*]}: run as root or apt-get install ${need[*]}"; exit 1; }
  say "installing ${need[*]} from Debian"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# One lab at a time per machine: two runs share one Docker engine and the
# same cluster names, and break each other (docs/testing.md, Offline lab). A second run
# waits up to MC_LAB_LOCK_WAIT seconds, then stops and names the holder.
lock=${MC_LAB_LOCK:-/tmp/mesh-conformance-lab.lock}
exec 9>>"$lock"
if ! flock -n 9; then
  say "another lab run holds $lock: $(cat "$lock.holder" 2>/dev/null || echo 'holder unknown'); waiting up to ${MC_LAB_LOCK_WAIT:-1200}s"
  flock -w "${MC_LAB_LOCK_WAIT:-1200}" 9 || { say "gave up waiting for $lock, held by: $(cat "$lock.holder" 2>/dev/null || echo 'unknown'); stop that run or wait for it"; exit 1; }
fi
echo "pid $$ in $root, started $(date -u +%FT%TZ)" >"$lock.holder"

say "lab tools"
mkdir -p "$lbin"
# Keyed by content, not by mtime: clones and worktrees share this cache, so
# another checkout's older sources may have built a tool after this one's
# sources were last touched. The key holds the sources' hash and the
# binary's, so a binary another checkout wrote is rebuilt too. The tools'
# shared packages (lab/internal) count for every tool.
(cd lab && for c in runc-shim mkimage pause standin netistio; do
  src=$( (cat go.sum; find cmd/$c internal -name '*.go' | sort | xargs cat) | sha256sum | cut -c1-16)
  [ -x "$lbin/$c" ] && [ "$(cat "$lbin/$c.key" 2>/dev/null)" = "$src $(sha256sum <"$lbin/$c" | cut -c1-16)" ] && continue
  CGO_ENABLED=0 go build -trimpath -o "$lbin/$c.tmp" ./cmd/$c && mv "$lbin/$c.tmp" "$lbin/$c"
  echo "$src $(sha256sum <"$lbin/$c" | cut -c1-16)" >"$lbin/$c.key"
done)
[ -x "$lbin/coredns" ] || (cd /tmp && CGO_ENABLED=0 GOBIN="$lbin" go install -trimpath -ldflags='-s -w' github.com/coredns/coredns@v1.12.1)

if ! docker info >/dev/null 2>&1; then
  say "starting a Docker engine for the lab (data in $cache/lab/docker)"
  mkdir -p "$cache/lab/docker"
  # The runc shim drops capabilities this sandbox's bounding set lacks.
  nohup dockerd --data-root "$cache/lab/docker" --exec-root /run/mc-docker --pidfile /run/mc-docker.pid \
    --add-runtime mc-runc="$lbin/runc-shim" --default-runtime mc-runc >"$cache/lab/dockerd.log" 2>&1 9>&- &
  for i in $(seq 1 30); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { say "dockerd did not start: see $cache/lab/dockerd.log"; exit 1; }
fi

say "node image"
node_image=$(bash lab/scripts/node-image.sh)

say "test images"
images="$cache/lab/images"; mkdir -p "$images"
tools_rootfs=$(bash lab/scripts/rootfs.sh tools "curl,ca-certificates,iptables,nftables,conntrack,iproute2,procps")
# The curl client is loaded under the fixtures' image name, so the suites'
# own client manifests apply unchanged; likewise the stand-in answers for
# httpbin. Both are lab images: nothing is pulled.
[ -s "$images/curl.tar" ] && [ "$images/curl.tar" -nt "$tools_rootfs" ] || "$lbin/mkimage" -o "$images/curl.tar" \
  -ref docker.io/curlimages/curl:8.11.1 -ref mesh-conformance.local/curl:lab -base "$tools_rootfs" -entrypoint /bin/sleep -cmd infinity
[ -s "$images/standin.tar" ] && [ "$images/standin.tar" -nt "$lbin/standin" ] || "$lbin/mkimage" -o "$images/standin.tar" \
  -ref mesh-conformance.local/standin:lab -ref docker.io/kennethreitz/httpbin:latest -file "$lbin/standin:/standin" -entrypoint /standin

# The real Istio control plane: istiod and istio-cni built from the
# istio.io/istio module whose charts the suites use (cold: about 13 min,
# then cached by version), packed as the charts name them under a lab hub;
# the lab test hands that hub to the installer through --image, the path a
# user with a mirror registry takes. The ambient profile asks for the
# distroless variant, so each image carries both tags.
say "istio images"
istio_bin=$(bash lab/scripts/istio-bins.sh | tail -1)
istio_hub=mesh-conformance.local/istio istio_tag=lab
[ -s "$images/istio-pilot.tar" ] && [ "$images/istio-pilot.tar" -nt "$istio_bin/pilot-discovery" ] || "$lbin/mkimage" -o "$images/istio-pilot.tar" \
  -ref "$istio_hub/pilot:$istio_tag" -ref "$istio_hub/pilot:$istio_tag-distroless" \
  -file "$istio_bin/pilot-discovery:/usr/local/bin/pilot-discovery" -user 1337:1337 -entrypoint /usr/local/bin/pilot-discovery
# install-cni runs iptables/nft in the host's and the pods' network
# namespaces (the upstream image is Istio's iptables base): the tools rootfs.
[ -s "$images/istio-install-cni.tar" ] && [ "$images/istio-install-cni.tar" -nt "$istio_bin/install-cni" ] \
  && [ "$images/istio-install-cni.tar" -nt "$istio_bin/istio-cni" ] && [ "$images/istio-install-cni.tar" -nt "$tools_rootfs" ] \
  || "$lbin/mkimage" -o "$images/istio-install-cni.tar" -base "$tools_rootfs" \
  -ref "$istio_hub/install-cni:$istio_tag" -ref "$istio_hub/install-cni:$istio_tag-distroless" \
  -file "$istio_bin/install-cni:/usr/local/bin/install-cni" -file "$istio_bin/istio-cni:/opt/cni/bin/istio-cni" \
  -workdir /opt/cni/bin -cmd /usr/local/bin/install-cni

# Knative Serving's real control plane for the KServe suite: the operator
# and Serving's binaries built from knative.dev/operator and
# knative.dev/serving at the suite's pin (lab/scripts/kserve-bins.sh, cached
# by version), packed as <hub>/<name>:<tag>, the names a mirror user gives
# --image knative (docs/running.md, Air-gapped); net-istio, which cannot be
# built, is the netistio stand-in under its two names. The operator reads
# the manifests it installs from its kodata, where ko would put it
# (/var/run/ko, KO_DATA_PATH). Images run as ko's nonroot user: the
# manifests ask runAsNonRoot.
say "knative images"
kstart=$SECONDS
kserve_bin=$(bash lab/scripts/kserve-bins.sh knative kserve | tail -1)
knative_hub=mesh-conformance.local/knative knative_tag=lab
kodata_tar="$images/knative-kodata.tar"
[ -s "$kodata_tar" ] && [ "$kodata_tar" -nt "$kserve_bin/operator-kodata" ] \
  || tar -C "$kserve_bin" --transform 's,^operator-kodata,var/run/ko,' --owner=0 --group=0 -cf "$kodata_tar" operator-kodata
knative_images=()
pack_knative() { # name binary [mkimage args...]
  local name=$1 bin=$2; shift 2
  local out="$images/knative-$name.tar"
  knative_images+=("$out")
  [ -s "$out" ] && [ "$out" -nt "$bin" ] && return 0
  "$lbin/mkimage" -o "$out" -ref "$knative_hub/$name:$knative_tag" -user 65532:65532 \
    -file "$bin:/ko-app/$(basename "$bin")" -entrypoint "/ko-app/$(basename "$bin")" "$@"
}
pack_knative operator "$kserve_bin/operator" -base "$kodata_tar" -env KO_DATA_PATH=/var/run/ko
for b in operator-webhook controller webhook activator autoscaler autoscaler-hpa queue migrate cleanup; do
  pack_knative "$b" "$kserve_bin/$b"
done
pack_knative net-istio-controller "$lbin/netistio"
pack_knative net-istio-webhook "$lbin/netistio" -entrypoint -webhook
say "knative images in $((SECONDS - kstart))s"

# KServe's manager, built from github.com/kserve/kserve at the suite's pin
# (the same script), and the stand-ins for what KServe runs that is not Go
# (docs/testing.md): the storage initializer and the sklearn runtime are
# the stand-in server in its KServe modes, kube-rbac-proxy (its module is
# refused) is the pause binary. Named under a docker.io hub, as KServe's
# own images are: Knative resolves no tag of index.docker.io (the suite's
# KnativeServing exempts it, as KServe's setup does), where a hub it could
# not reach would fail every revision. Nothing is pulled: the images are
# loaded and the installer pulls the manager IfNotPresent.
kserve_hub=docker.io/mesh-conformance-lab kserve_tag=lab
kserve_images=()
pack_kserve() { # name tag binary path [mkimage args...]
  local name=$1 tag=$2 bin=$3 path=$4; shift 4
  local out="$images/kserve-$name.tar"
  kserve_images+=("$out")
  [ -s "$out" ] && [ "$out" -nt "$bin" ] && return 0
  "$lbin/mkimage" -o "$out" -ref "$kserve_hub/$name:$tag" -user 65532:65532 -file "$bin:$path" -entrypoint "$path" "$@"
}
pack_kserve kserve-controller "$kserve_tag" "$kserve_bin/manager" /manager
pack_kserve kube-rbac-proxy "$(sed -n 's/^const KServeRBACProxyTag = "\(.*\)"$/\1/p' tests/install/components.go)" "$lbin/pause" /pause
pack_kserve storage-initializer "$kserve_tag" "$lbin/standin" /standin -entrypoint -storage-initializer
pack_kserve sklearnserver "$kserve_tag" "$lbin/standin" /standin
say "kserve images in $((SECONDS - kstart))s"
say "built in $((SECONDS - start))s"

# -parallel 3: the tests on clusters of their own and the deadline test run
# three at a time, not GOMAXPROCS's two: the deadline test mostly waits
# (150 s) and would hold one of two slots while the clusters' tests queue.
MC_LAB_KNATIVE_IMAGE="$knative_hub:$knative_tag" MC_LAB_KNATIVE_IMAGES="$(IFS=,; echo "${knative_images[*]}")" \
MC_LAB_KSERVE_IMAGE="$kserve_hub:$kserve_tag" MC_LAB_KSERVE_IMAGES="$(IFS=,; echo "${kserve_images[*]}")" \
MC_LAB_ISTIO_IMAGE="$istio_hub:$istio_tag" MC_LAB_ISTIO_IMAGES="$images/istio-pilot.tar,$images/istio-install-cni.tar" \
MC_LAB_NODE_IMAGE="$node_image" MC_LAB_IMAGES="$images/curl.tar,$images/standin.tar" \
  go test -tags lab -count=1 -timeout 30m -parallel 3 ./tests/lab/... "$@"
say "verdict in $((SECONDS - start))s"
