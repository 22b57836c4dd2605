#!/usr/bin/env bash
# Check that a guest artifact has what Kata needs to boot an agent-as-init guest:
#   initrd: /init (what the kernel runs from an initramfs) is an executable, statically linked ELF
#           for ARCH; /dev/console is char 5,1 (the kernel opens it for PID 1's stdio)
#   rootfs directory or disk image: /sbin/init (what the kernel runs after root=) likewise, and
#           the mount points the agent needs on a read-only root exist
#   binary: just the ELF checks
# Symlinks are followed inside the artifact, never on the host.  No root needed.
set -euo pipefail

usage() {
	cat <<'USAGE'
Usage: initrd/check-guest.sh --arch x86_64|riscv64 (--initrd FILE | --rootfs DIR | --image FILE | --binary FILE)
  --initrd FILE   a newc cpio, uncompressed or gzip/zstd/lz4/xz compressed
  --rootfs DIR    a root directory tree
  --image FILE    a raw disk image: MBR, ext4 partition 1 (read with debugfs, no mount)
  --binary FILE   one executable
  --quiet         print only problems
  --help          this text
Exit status 0 when every check passes; each failed check is printed.
USAGE
}

die() { echo "check-guest: $*" >&2; exit 2; }

arch="" mode="" target="" quiet=0
while [ $# -gt 0 ]; do
	case "$1" in
	--arch) arch=${2?}; shift ;;
	--initrd | --rootfs | --image | --binary)
		[ -z "$mode" ] || die "give one of --initrd, --rootfs, --image, --binary"
		mode=${1#--} target=${2?}; shift ;;
	--quiet) quiet=1 ;;
	--help | -h) usage; exit 0 ;;
	*) usage >&2; die "unknown argument: $1" ;;
	esac
	shift
done
case "$arch" in
x86_64) want_machine="Advanced Micro Devices X86-64" ;;
riscv64) want_machine="RISC-V" ;;
*) die "--arch must be x86_64 or riscv64" ;;
esac
[ -n "$mode" ] || die "give one of --initrd, --rootfs, --image, --binary"
[ -e "$target" ] || die "$target: no such file or directory"

failed=0
bad() { echo "check-guest: FAIL: $*" >&2; failed=1; }
ok() { [ "$quiet" = 1 ] || echo "check-guest: ok: $*"; }

# ELF checks on a host file; $2 names it in messages.
check_elf() {
	local f=$1 name=$2 hdr before=$failed
	failed=0
	if ! hdr=$(LC_ALL=C readelf -h -l -d "$f" 2>/dev/null); then
		bad "$name: not an ELF file"
		return
	fi
	grep -q '^ *Class: *ELF64$' <<<"$hdr" || bad "$name: not ELF64"
	grep -q '^ *Data: .*little endian' <<<"$hdr" || bad "$name: not little endian"
	grep -q "^ *Machine: *$want_machine\$" <<<"$hdr" ||
		bad "$name: machine is '$(sed -n 's/^ *Machine: *//p' <<<"$hdr")', want '$want_machine' ($arch)"
	grep -Eq '^ *Type: *(EXEC|DYN)' <<<"$hdr" || bad "$name: not an executable"
	if grep -q '^ *INTERP ' <<<"$hdr"; then
		bad "$name: dynamically linked (has PT_INTERP: $(sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p' <<<"$hdr"))"
	fi
	if grep -q '(NEEDED)' <<<"$hdr"; then bad "$name: needs shared libraries"; fi
	[ "$failed" = 1 ] || ok "$name: static $arch ELF executable"
	[ "$before" = 0 ] || failed=1
}

# Resolve a guest path inside a host directory tree, following symlinks inside it.
resolve_in() {
	local root=$1 path=$2 hops=0 link
	while [ -L "$root$path" ]; do
		hops=$((hops + 1))
		[ "$hops" -le 16 ] || return 1
		link=$(readlink "$root$path")
		case "$link" in /*) path=$link ;; *) path=$(dirname "$path")/$link ;; esac
	done
	printf '%s\n' "$path"
}

check_init_in_tree() {
	local root=$1 init=$2 real
	if ! real=$(resolve_in "$root" "$init"); then
		bad "$init: symlink loop"
		return
	fi
	if [ ! -f "$root$real" ]; then
		bad "$init: missing (resolved to $real)"
		return
	fi
	[ -x "$root$real" ] || bad "$init ($real): not executable"
	if [ "$real" = "$init" ]; then check_elf "$root$real" "$init"; else check_elf "$root$real" "$init -> $real"; fi
}

check_dirs_in_tree() {
	local root=$1 d
	for d in /dev /proc /sys /run /tmp /etc; do
		[ -d "$root$d" ] || bad "$d: missing directory (the agent mounts or uses it)"
	done
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

case "$mode" in
binary)
	check_elf "$target" "$target"
	;;
rootfs)
	[ -d "$target" ] || die "$target: not a directory"
	check_init_in_tree "$target" /sbin/init
	check_dirs_in_tree "$target"
	;;
initrd)
	magic=$(od -An -tx1 -N4 "$target" | tr -d ' \n')
	case "$magic" in
	1f8b*) decomp=(gzip -dc) ;;
	28b52ffd) decomp=(zstd -dcq) ;;
	02214c18 | 04224d18) decomp=(lz4 -dcq) ;;
	fd377a58) decomp=(xz -dc) ;;
	30373037) decomp=(cat) ;;
	*) die "$target: not a cpio archive or a known compression (magic $magic)" ;;
	esac
	"${decomp[@]}" <"$target" >"$work/cpio" || die "$target: decompression failed"
	LC_ALL=C cpio -itv --quiet <"$work/cpio" >"$work/list" 2>"$work/err" ||
		die "$target: cpio cannot read it: $(cat "$work/err")"
	grep -Eq '^c.* 5, +1 .* dev/console$' "$work/list" ||
		bad "/dev/console: missing or not char 5,1"
	# Extract everything but device nodes (no mknod without root).
	mkdir "$work/root"
	(cd "$work/root" && cpio -id --quiet --no-absolute-filenames --nonmatching 'dev/*' \
		<"$work/cpio") || die "$target: extraction failed"
	check_init_in_tree "$work/root" /init
	;;
image)
	dump=$(sfdisk --dump "$target" 2>/dev/null) || die "$target: no partition table"
	start=$(sed -n 's/^[^:]*1 : start= *\([0-9]*\),.*/\1/p' <<<"$dump")
	[ -n "$start" ] || die "$target: no partition 1"
	fs="$target?offset=$((start * 512))"
	path=/sbin/init hops=0
	while :; do
		st=$(debugfs -R "stat \"$path\"" "$fs" 2>/dev/null) || true
		type=$(sed -n 's/.*Type: \([a-z]*\) .*/\1/p' <<<"$st")
		[ "$type" = symlink ] || break
		hops=$((hops + 1))
		[ "$hops" -le 16 ] || { bad "/sbin/init: symlink loop"; break; }
		link=$(sed -n 's/^Fast link dest: "\(.*\)"$/\1/p' <<<"$st")
		case "$link" in /*) path=$link ;; *) path=$(dirname "$path")/$link ;; esac
	done
	if [ "$type" != regular ]; then
		bad "/sbin/init: missing or not a regular file in partition 1"
	else
		mode=$(sed -n 's/.*Mode: *\([0-7]*\) .*/\1/p' <<<"$st")
		[ $((8#$mode & 8#111)) -ne 0 ] || bad "/sbin/init ($path): not executable"
		debugfs -R "dump \"$path\" $work/init" "$fs" >/dev/null 2>&1 ||
			die "$target: cannot read $path"
		check_elf "$work/init" "/sbin/init ($path)"
	fi
	for d in /dev /proc /sys /run /tmp /etc; do
		debugfs -R "stat \"$d\"" "$fs" 2>/dev/null | grep 'Type: directory' >/dev/null ||
			bad "$d: missing directory (the agent mounts or uses it)"
	done
	;;
esac

if [ "$failed" != 0 ]; then
	echo "check-guest: $target: NOT usable as a Kata $arch guest $mode" >&2
	exit 1
fi
ok "$target: usable as a Kata $arch guest $mode"
