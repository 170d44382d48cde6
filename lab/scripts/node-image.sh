#!/usr/bin/env bash
# Builds the offline lab's kind node image with no registry: a Debian
# bookworm base (systemd, containerd 1.6, runc, CNI plugins) with kind's base
# files, the Kubernetes binaries of lab/go.mod, and the control-plane images
# imported into its containerd, as kind's own node-image build does.
# Cached by content; prints the image name.
set -euo pipefail
lab=$(cd "$(dirname "$0")/.." && pwd)
cache=${MESH_CONFORMANCE_CACHE:-$HOME/.cache/mesh-conformance}
kver=$(cd "$lab" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
kbin=$(bash "$lab/../scripts/build-k8s.sh" kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubeadm kubectl etcd | tail -n 1)
lbin="$cache/lab/bin"
kind_dir=$(cd "$lab" && go list -m -f '{{.Dir}}' sigs.k8s.io/kind 2>/dev/null || go mod download -json sigs.k8s.io/kind@v0.33.0 | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
node_rootfs=$(bash "$lab/scripts/rootfs.sh" node "systemd,systemd-sysv,dbus,containerd,runc,containernetworking-plugins,conntrack,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod,libseccomp2,pigz,e2fsprogs,bash,ca-certificates,curl,jq,procps,socat")
tools_rootfs=$(bash "$lab/scripts/rootfs.sh" tools "curl,ca-certificates,iptables,nftables,conntrack,iproute2,procps")

key=$( (cat "$0" "$lab/node/"* ; sha256sum "$node_rootfs" "$kbin"/* "$lbin"/runc-shim "$lbin"/pause "$lbin"/coredns | cut -c1-64) | sha256sum | cut -c1-12)
image="mesh-conformance.local/kind-node:$kver-$key"
if docker image inspect "$image" >/dev/null 2>&1; then echo "$image"; exit 0; fi

work=$(mktemp -d "$cache/lab/.node.XXXX")
container="mc-node-build-$key"
cleanup() { docker rm -f "$container" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

echo "node-image: control-plane images" >&2
imgs="$work/images"; mkdir -p "$imgs"
mk() { "$lbin/mkimage" "$@"; }
for c in kube-apiserver kube-controller-manager kube-scheduler; do
  mk -o "$imgs/$c.tar" -ref "registry.k8s.io/$c:$kver" -file "$kbin/$c:/usr/local/bin/$c"
done
mk -o "$imgs/kube-proxy.tar" -ref "registry.k8s.io/kube-proxy:$kver" -base "$tools_rootfs" -file "$kbin/kube-proxy:/usr/local/bin/kube-proxy"
# kubeadm 1.34.4 asks for etcd 3.6.5-0; the binary is the etcd k8s.io/kubernetes requires.
mk -o "$imgs/etcd.tar" -ref "registry.k8s.io/etcd:3.6.5-0" -file "$kbin/etcd:/usr/local/bin/etcd"
mk -o "$imgs/coredns.tar" -ref "registry.k8s.io/coredns/coredns:v1.12.1" -file "$lbin/coredns:/coredns" -entrypoint /coredns
mk -o "$imgs/pause.tar" -ref "registry.k8s.io/pause:3.10.1" -file "$lbin/pause:/pause" -entrypoint /pause

echo "node-image: base filesystem" >&2
root="$work/root"; mkdir -p "$root"
tar -C "$root" -xf "$node_rootfs"
files="$kind_dir/images/base/files"
install -m 0755 "$files"/usr/local/bin/* "$root/usr/local/bin/"
mkdir -p "$root/kind/bin" "$root/etc/systemd/system/kubelet.service.d" "$root/etc/containerd" "$root/etc/cni/net.d" "$root/etc/kubernetes/manifests" "$root/opt/cni"
install -m 0755 "$files"/kind/bin/* "$root/kind/bin/"
install -m 0644 "$files"/etc/crictl.yaml "$root/etc/"
install -m 0644 "$files"/etc/default/kubelet "$root/etc/default/"
install -m 0644 "$files"/etc/sysctl.d/* "$root/etc/sysctl.d/"
install -m 0644 "$files"/etc/systemd/system/kubelet.service "$files"/etc/systemd/system/kubelet.slice \
  "$files"/etc/systemd/system/containerd.service "$files"/etc/systemd/system/undo-mount-hacks.service "$root/etc/systemd/system/"
install -m 0644 "$files"/etc/systemd/system/kubelet.service.d/* "$root/etc/systemd/system/kubelet.service.d/"
install -m 0644 "$lab/node/containerd-config.toml" "$root/etc/containerd/config.toml"
install -m 0644 "$lab/node/10-mc-bridge.conflist" "$root/etc/cni/net.d/"
ln -sfn /usr/lib/cni "$root/opt/cni/bin"
# kind's units expect containerd and friends in /usr/local/bin.
for b in containerd containerd-shim-runc-v2 ctr; do ln -sf "/usr/bin/$b" "$root/usr/local/bin/$b"; done
install -m 0755 "$lbin/runc-shim" "$root/usr/local/bin/runc-shim"
install -m 0755 "$kbin/kubelet" "$kbin/kubeadm" "$kbin/kubectl" "$root/usr/bin/"
# kind runs "crictl images" when it collects logs: see lab/node/crictl.
install -m 0755 "$lab/node/crictl" "$root/usr/local/bin/crictl"
echo "$kver" > "$root/kind/version"
# kind's systemd clean-up.
rm -f "$root"/lib/systemd/system/multi-user.target.wants/* "$root"/etc/systemd/system/*.wants/* \
  "$root"/lib/systemd/system/local-fs.target.wants/* "$root"/lib/systemd/system/sockets.target.wants/*udev* \
  "$root"/lib/systemd/system/sockets.target.wants/*initctl* "$root"/lib/systemd/system/basic.target.wants/*
find "$root/lib/systemd/system/sysinit.target.wants/" -name "systemd-tmpfiles-setup.service" -delete
echo "ReadKMsg=no" >> "$root/etc/systemd/journald.conf"
ln -sf /usr/lib/systemd/systemd "$root/sbin/init"
chroot "$root" systemctl enable kubelet.service containerd.service undo-mount-hacks.service >/dev/null 2>&1
chroot "$root" systemctl mask systemd-binfmt.service >/dev/null 2>&1
base="mesh-conformance.local/kind-base:$key"
tar -C "$root" --numeric-owner -cf "$work/base-rootfs.tar" .
mk -o "$work/base.tar" -ref "$base" -base "$work/base-rootfs.tar" -env container=docker -stopsignal 'SIGRTMIN+3' \
  -entrypoint /usr/local/bin/entrypoint -entrypoint /sbin/init
docker load -i "$work/base.tar" >/dev/null
rm -f "$work/base-rootfs.tar" "$work/base.tar"

echo "node-image: importing images into the node's containerd" >&2
docker run -d --name "$container" --privileged --tmpfs /run --tmpfs /tmp --security-opt seccomp=unconfined \
  -v /lib/modules:/lib/modules:ro --entrypoint /usr/local/bin/entrypoint "$base" /sbin/init >/dev/null
for i in $(seq 1 60); do
  docker exec "$container" ctr --namespace=k8s.io version >/dev/null 2>&1 && break
  [ "$i" = 60 ] && { docker logs "$container" | tail -20 >&2; echo "node-image: containerd did not start" >&2; exit 1; }
  sleep 1
done
for t in "$imgs"/*.tar; do
  docker exec -i "$container" ctr --namespace=k8s.io images import --all-platforms --digests --snapshotter=overlayfs - < "$t" >/dev/null
done
docker exec "$container" ctr --namespace=k8s.io images ls -q | grep -c registry.k8s.io >&2
docker exec "$container" systemctl stop kubelet containerd >/dev/null 2>&1 || true
docker stop -t 10 "$container" >/dev/null
docker commit "$container" "$image" >/dev/null
docker rmi "$base" >/dev/null 2>&1 || true
echo "$image"
