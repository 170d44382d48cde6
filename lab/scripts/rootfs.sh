#!/usr/bin/env bash
# Builds a Debian bookworm root filesystem with debootstrap (Debian's
# packages only) and caches it as a tarball keyed by its package list.
# usage: rootfs.sh NAME "pkg1,pkg2,..."   prints the tarball's path
set -euo pipefail
name=$1 pkgs=$2
cache=${MESH_CONFORMANCE_CACHE:-$HOME/.cache/mesh-conformance}/lab/rootfs
key=$(printf '%s bookworm %s' "$name" "$pkgs" | sha256sum | cut -c1-12)
out="$cache/$name-$key.tar"
if [ -s "$out" ]; then echo "$out"; exit 0; fi
command -v debootstrap >/dev/null || { echo "rootfs: debootstrap missing (apt-get install debootstrap)" >&2; exit 1; }
mkdir -p "$cache"
dir=$(mktemp -d "$cache/.$name.XXXX")
trap 'umount -R "$dir"/proc "$dir"/sys 2>/dev/null || true; rm -rf "$dir"' EXIT
echo "rootfs: debootstrap $name ($pkgs), a few minutes once" >&2
debootstrap --variant=minbase --include="$pkgs" bookworm "$dir" http://deb.debian.org/debian >"$cache/$name.log" 2>&1 \
  || { echo "rootfs: debootstrap failed, see $cache/$name.log" >&2; exit 1; }
rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
tar -C "$dir" --numeric-owner -cf "$out.tmp" .
mv "$out.tmp" "$out"
echo "$out"
