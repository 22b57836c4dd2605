#!/usr/bin/env bash
# Install the Debian packages kata-agent-c needs, only those missing, and make sure a deb-src
# entry exists so the dependency builder can `apt-get source`.  Idempotent; prints what it does.
set -euo pipefail

usage() {
	cat <<'USAGE'
Usage: scripts/setup.sh [--check] [--help]
  Installs the project's Debian packages when missing (needs root; no sudo is called).
  --check   only list missing packages; exit 1 if any are missing
USAGE
}

check_only=0
while [ $# -gt 0 ]; do
	case "$1" in
	--check) check_only=1 ;;
	--help | -h) usage; exit 0 ;;
	*) echo "setup.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

# One list, one place.  Grouped by what needs them.
PACKAGES=(
	# agent build (static, musl) and protocol code generation
	build-essential musl-tools musl-dev protobuf-c-compiler libprotobuf-c-dev protobuf-compiler
	pkg-config dpkg-dev
	# static libraries rebuilt from Debian sources (libnl, libseccomp) and their build tools
	libnl-3-dev libnl-route-3-dev libseccomp-dev gperf bison flex autoconf automake libtool
	# riscv64 cross toolchain and user-mode emulation for the smoke tests
	gcc-riscv64-linux-gnu linux-libc-dev-riscv64-cross qemu-user-static binfmt-support
	# host tools and tests
	libjson-c-dev libcmocka-dev clang llvm libclang-rt-14-dev shellcheck
	# guest artifacts: initrd, rootfs, image
	busybox-static cpio e2fsprogs fdisk gzip zstd lz4 xz-utils
	# kernels: 6.12 is the default guest kernel, 6.1 stays selectable (KERNEL_VERSION=6.1);
	# Debian 12 ships linux-source-6.12 through bookworm-security (no backports needed)
	linux-source-6.12 linux-source-6.1 bc libelf-dev libssl-dev patch
	# static riscv64 test /init for the kernel boot test (glibc, riscv64-linux-gnu-gcc -static)
	libc6-dev-riscv64-cross
	# VM tests
	qemu-system-x86 qemu-system-misc qemu-system-data opensbi jq
	# containers, benchmarks and peers measured in the same run
	crun golang-go golang-github-containerd-ttrpc-dev iproute2 util-linux procps python3
)

# One dpkg-query for the whole list (about 50 ms when everything is installed); a package dpkg
# has never heard of prints nothing and is missing too.
declare -A installed=()
while read -r name want ok state; do
	[[ "$want $ok $state" == 'install ok installed' ]] && installed[${name%%:*}]=1
done < <(dpkg-query -W -f='${Package} ${Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)
missing=()
for p in "${PACKAGES[@]}"; do
	[[ -n ${installed[$p]:-} ]] || missing+=("$p")
done

if [ "$check_only" = 1 ]; then
	if [ ${#missing[@]} -gt 0 ]; then
		echo "missing packages: ${missing[*]}"
		exit 1
	fi
	echo "all ${#PACKAGES[@]} packages installed"
	exit 0
fi

if [ "$(id -u)" != 0 ] && [ ${#missing[@]} -gt 0 ]; then
	echo "setup.sh: need root to install: ${missing[*]}" >&2
	exit 1
fi

# deb-src entries for `apt-get source` (Debian 12 uses deb822 sources).
need_update=0
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		sed -i 's/^Types: deb$/Types: deb deb-src/' /etc/apt/sources.list.d/debian.sources
	else
		grep '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' > /etc/apt/sources.list.d/kata-agent-c-src.list
	fi
	echo "setup.sh: added deb-src entries"
	need_update=1
fi

if [ ${#missing[@]} -gt 0 ]; then
	echo "setup.sh: installing ${#missing[@]} packages: ${missing[*]}"
	need_update=1
fi
if [ "$need_update" = 1 ]; then
	apt-get update -qq
fi
if [ ${#missing[@]} -gt 0 ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "setup.sh: ${#PACKAGES[@]} packages present"
