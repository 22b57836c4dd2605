#!/usr/bin/env bash
# Build a Kata guest root directory without root: the agent as /sbin/init, optional busybox,
# the same tree as the initrd (initrd/gen-manifest.sh --layout rootfs) minus device nodes, which
# need mknod; build-image.sh writes those into the ext4 image with debugfs instead.  Modes come
# from the manifest and every timestamp is SOURCE_DATE_EPOCH, so umask and source mtimes do not
# leak into the tree.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
	cat <<'USAGE'
Usage: rootfs-builder/build-rootfs.sh --arch ARCH --agent PATH --output DIR [options]
  --arch x86_64|riscv64     architecture the agent must be built for
  --agent PATH              static agent; becomes /sbin/init
  --output DIR              the root directory (replaced if it exists)
  --busybox PATH|none       static busybox with applet links (default: none)
  --busybox-applets FILE    applet list instead of asking the binary
  --modules DIR             kernel modules, copied under /lib/modules/
  --extra SRC:DEST          extra file or directory (repeatable)
  --hostname NAME           /etc/hostname (default: localhost)
  --help                    this text
SOURCE_DATE_EPOCH sets every timestamp (default 0).
USAGE
}

die() { echo "build-rootfs: $*" >&2; exit 1; }

arch="" agent="" output=""
gen_args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--arch) arch=${2?}; shift ;;
	--agent) agent=${2?}; shift ;;
	--output) output=${2?}; shift ;;
	--busybox | --busybox-applets | --modules | --extra | --hostname)
		gen_args+=("$1" "${2?}"); shift ;;
	--help | -h) usage; exit 0 ;;
	*) usage >&2; die "unknown argument: $1" ;;
	esac
	shift
done
case "$arch" in x86_64 | riscv64) ;; *) die "--arch must be x86_64 or riscv64" ;; esac
[ -n "$agent" ] || die "--agent is required"
[ -n "$output" ] || die "--output is required"
case "$output" in / | "") die "refusing --output '$output'" ;; esac
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-0}

"$here/../initrd/check-guest.sh" --arch "$arch" --binary "$agent" >/dev/null ||
	die "agent $agent is not a static $arch executable"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$here/../initrd/gen-manifest.sh" --layout rootfs --agent "$agent" --workdir "$work/gen" \
	${gen_args[@]+"${gen_args[@]}"} >"$work/manifest"

rm -rf "$output"
mkdir -p "$output"
chmod 0755 "$output"
# Sorted by path, so every directory comes before its children.  Hard links are made last:
# a link's directory may sort after the file it links to.
: >"$work/links"
while read -r -a f; do
	path=${f[1]}
	case "${f[0]}" in
	dir) mkdir "$output$path" && chmod "${f[2]}" "$output$path" ;;
	file)
		cp "${f[2]}" "$output$path"
		chmod "${f[3]}" "$output$path"
		for l in "${f[@]:4}"; do printf '%s %s\n' "$path" "$l" >>"$work/links"; done
		;;
	slink) ln -s "${f[2]}" "$output$path" ;;
	nod) ;; # written into the image by build-image.sh (debugfs mknod)
	*) die "unexpected manifest line: ${f[*]}" ;;
	esac
done < <(LC_ALL=C sort -k2,2 "$work/manifest")
while read -r path l; do ln "$output$path" "$output$l"; done <"$work/links"
find "$output" -depth -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

"$here/../initrd/check-guest.sh" --arch "$arch" --rootfs "$output" --quiet
echo "build-rootfs: $output ($(find "$output" | wc -l) entries, $(du -sk --apparent-size "$output" | cut -f1) KiB)"
