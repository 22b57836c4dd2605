#!/usr/bin/env bash
# build-busybox.sh: a static riscv64 busybox for the VM tests' container rootfs (and the riscv64
# debug console).  Debian 12 has no riscv64 binary port, so busybox-static:riscv64 cannot be
# installed; its source package can: fetched with `apt-get source`, built with Debian's
# riscv64-linux-gnu-gcc (-static, glibc) from allnoconfig plus the applets below.
# Cached in $KATA_AGENT_C_CACHE/busybox/<version>-<arch>-<config hash>/busybox.
set -euo pipefail

readonly PROG=${0##*/}
cache=${KATA_AGENT_C_CACHE:-$HOME/.cache/kata-agent-c}/busybox
arch=riscv64
output=
jobs=2

usage() {
	cat <<EOF
Usage: $PROG --output FILE [--arch riscv64] [--jobs N]

  --output FILE   where to copy the static busybox; its applet list goes to FILE.applets
  --arch ARCH     target (riscv64; x86_64 guests use Debian's busybox-static)
  --jobs N        parallel make jobs (default $jobs)
  -h, --help      this text
Cache: $cache
EOF
}

die() {
	printf '%s: error: %s\n' "$PROG" "$*" >&2
	exit 1
}

while (($#)); do
	case $1 in
	--output) output=${2:?}; shift 2 ;;
	--arch) arch=${2:?}; shift 2 ;;
	--jobs) jobs=${2:?}; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown argument '$1'" ;;
	esac
done
[[ -n $output ]] || die "--output FILE is required"
[[ $arch == riscv64 ]] || die "only --arch riscv64 is built from source"
cross=riscv64-linux-gnu-
command -v "${cross}gcc" >/dev/null || die "${cross}gcc not installed (scripts/setup.sh)"

# Applets the tests and the debug console use; everything else stays off (allnoconfig).
config=(
	CONFIG_STATIC=y CONFIG_LFS=y CONFIG_BUSYBOX=y CONFIG_FEATURE_SH_STANDALONE=n
	CONFIG_SHOW_USAGE=y CONFIG_LONG_OPTS=y CONFIG_FEATURE_INSTALLER=y
	CONFIG_ASH=y CONFIG_SH_IS_ASH=y CONFIG_BASH_IS_NONE=y CONFIG_ASH_ECHO=y CONFIG_ASH_PRINTF=y
	CONFIG_ASH_TEST=y CONFIG_ASH_JOB_CONTROL=y CONFIG_ASH_ALIAS=y CONFIG_ASH_GETOPTS=y
	CONFIG_ASH_CMDCMD=y CONFIG_FEATURE_SH_MATH=y CONFIG_FEATURE_EDITING=y CONFIG_FEATURE_EDITING_MAX_LEN=1024
	CONFIG_DATE=y CONFIG_FEATURE_DATE_ISOFMT=y CONFIG_ECHO=y CONFIG_FEATURE_FANCY_ECHO=y
	CONFIG_SLEEP=y CONFIG_FEATURE_FANCY_SLEEP=y CONFIG_CAT=y CONFIG_LS=y CONFIG_PS=y
	CONFIG_GREP=y CONFIG_SED=y CONFIG_HEAD=y CONFIG_TAIL=y CONFIG_WC=y CONFIG_ID=y
	CONFIG_UNAME=y CONFIG_HOSTNAME=y CONFIG_ENV=y CONFIG_PWD=y CONFIG_MKDIR=y CONFIG_RM=y
	CONFIG_TRUE=y CONFIG_FALSE=y CONFIG_KILL=y CONFIG_PRINTF=y CONFIG_TEST=y CONFIG_MOUNT=y
	CONFIG_UMOUNT=y CONFIG_FREE=y CONFIG_UPTIME=y CONFIG_DMESG=y CONFIG_SEQ=y CONFIG_TOUCH=y
	CONFIG_POWEROFF=y CONFIG_REBOOT=y CONFIG_HALT=y CONFIG_STTY=y CONFIG_TTY=y CONFIG_DD=y
)
ver=$(apt-cache showsrc --only-source busybox 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -n1)
[[ -n $ver ]] || die "no busybox source package known to apt (deb-src entries: scripts/setup.sh)"
gccver=$("${cross}gcc" -dumpfullversion)
hash=$(printf '%s\n' "${config[@]}" "$gccver" "$(sha256sum <"$0")" | sha256sum | cut -c1-16)
key=${ver#*:}-$arch-$hash
dir=$cache/$key

if [[ ! -x $dir/busybox ]]; then
	mkdir -p "$cache/src"
	exec 9>"$cache/$key.lock"
	flock 9
	if [[ ! -x $dir/busybox ]]; then
		dsc=$cache/src/busybox_${ver#*:}.dsc
		if [[ ! -f $dsc ]]; then
			(cd "$cache/src" && apt-get source -qq --download-only \
				-o APT::Sandbox::User="$(id -un)" "busybox=$ver") ||
				die "apt-get source busybox=$ver failed"
		fi
		work=$(mktemp -d)
		trap 'rm -rf "$work"' EXIT
		dpkg-source --no-check -x "$dsc" "$work/src" >/dev/null
		mkdir -p "$work/out"
		t0=$SECONDS
		# allnoconfig, then switch on our symbols and let oldconfig settle their dependants
		# (busybox's old kconfig ignores KCONFIG_ALLCONFIG for allnoconfig).
		make -s -C "$work/src" O="$work/out" allnoconfig >"$work/config.log" 2>&1 ||
			{ cat "$work/config.log" >&2; die "allnoconfig failed"; }
		for c in "${config[@]}"; do
			sed -i "/^# ${c%%=*} is not set\$/d; /^${c%%=*}=/d" "$work/out/.config"
			[[ $c == *=n ]] || echo "$c" >>"$work/out/.config"
		done
		{ yes "" || true; } | make -s -C "$work/out" oldconfig >>"$work/config.log" 2>&1 ||
			{ cat "$work/config.log" >&2; die "oldconfig failed"; }
		for c in "${config[@]}"; do
			grep -qx "$c" "$work/out/.config" || [[ $c == *=n ]] ||
				die "$c did not stick in the busybox .config"
		done
		make -C "$work/out" -j"$jobs" CROSS_COMPILE="$cross" SKIP_STRIP=n busybox \
			>"$work/build.log" 2>&1 || { tail -n 40 "$work/build.log" >&2; die "busybox build failed"; }
		[[ $(file -b "$work/out/busybox") =~ RISC-V.*statically\ linked ]] ||
			die "the result is not a static RISC-V executable"
		mkdir -p "$dir.tmp"
		cp "$work/out/busybox" "$work/out/.config" "$dir.tmp/"
		"${cross}strip" "$dir.tmp/busybox"
		rm -rf "$dir"
		mv "$dir.tmp" "$dir"
		echo "$PROG: built busybox $ver for $arch in $((SECONDS - t0)) s" >&2
	fi
fi
mkdir -p "$(dirname "$output")"
cp "$dir/busybox" "$output"
# The applet list, asked through qemu-user (the binary cannot run here natively): the initrd
# builder takes it with --busybox-applets.
qemu-riscv64-static "$output" --list-full >"$output.applets" || die "qemu-riscv64-static $output --list failed"
echo "$PROG: $output (busybox $ver, $(stat -c %s "$output") bytes)"
