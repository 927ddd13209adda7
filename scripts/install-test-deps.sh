#!/bin/sh
# Installs the Debian packages that building cbox and running its tests need (as root, Debian 12).
# .ci/run and the README's test command both start here.
set -eu

packages="
gcc gcc-aarch64-linux-gnu
busybox-static musl musl-tools
uidmap util-linux passwd iproute2
nftables iptables slirp4netns
curl wget openssl perl dash
qemu-system-x86 qemu-utils debootstrap e2fsprogs
qemu-user-static libc6:arm64 musl:arm64 musl-dev:arm64 qemu-system-arm
libc6-dev linux-libc-dev libc6-dev-arm64-cross
docker-registry umoci skopeo podman apache2-utils attr
containerd docker.io
"
# gcc, gcc-aarch64-linux-gnu: the C shim for x64 and arm64 (scripts/shim-lib.ts)
# busybox-static, musl, musl-tools: the test rootfs (rootfs/build.sh)
# uidmap: newuidmap/newgidmap for rootless ranges; util-linux: setpriv, unshare, nsenter;
#   passwd: useradd for the rootless tests; iproute2: the tests' own network namespaces
# nftables, iptables: the bridge's NAT and published ports (both drivers are tested);
#   slirp4netns: rootless containers' network
# curl, wget, openssl, perl (shasum), dash: install.sh's tests try each tool and shell
# qemu-system-x86, qemu-utils, debootstrap, e2fsprogs: the test server (scripts/test-server.ts)
# qemu-user-static, libc6:arm64: the arm64 executable run on this x86_64 host
#   (test/integration/arm64-user.test.ts);
#   musl:arm64, musl-dev:arm64 (aarch64-linux-musl-gcc), qemu-system-arm: the arm64 test server
#   and its rootfs (busybox-static:arm64 cannot sit beside the host's: it is downloaded, not
#   installed)
# docker-registry (distribution 2.8), apache2-utils (htpasswd): the registries pulls are tested
#   against; umoci, skopeo: the test images and docker archives made from the test rootfs;
#   podman: the same images run by a peer, the pull benchmark, and an engine on cbox-runtime;
#   attr (getfattr): opaque folders' xattrs checked
# containerd (1.6, with ctr and the runc v2 shim), docker.io (dockerd 20.10): the engines run on
#   cbox-runtime (the path a Kubernetes node takes, and docker's --add-runtime)
# libc6-dev, linux-libc-dev, libc6-dev-arm64-cross: both architectures' kernel and libc headers,
#   which test/unit/abi-headers.test.ts checks cbox's per-architecture numbers against

export DEBIAN_FRONTEND=noninteractive
# arm64 packages (the libc that runs the arm64 executable under qemu, the arm64 test rootfs)
# come from the same mirror as the host's.
[ "$(dpkg --print-architecture)" = arm64 ] || dpkg --add-architecture arm64
apt-get update -qq
# shellcheck disable=SC2086 # the list is words
apt-get install -y -qq $packages >/dev/null
