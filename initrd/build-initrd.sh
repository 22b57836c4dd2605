#!/usr/bin/env bash
# Build a Kata guest initrd without root: manifest (gen-manifest.sh) -> sorted newc cpio with fixed
# mtimes, uid/gid 0 and renumbered inodes (mkcpio) -> compressor.  Writes the image, a listing
# with the sha256 of every entry (IMAGE.list) and checks the result with check-guest.sh.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
	cat <<'USAGE'
Usage: initrd/build-initrd.sh --arch ARCH --agent PATH --output FILE [options]
  --arch x86_64|riscv64     architecture the agent (and busybox) must be built for
  --agent PATH              static agent; becomes /init (/sbin/init links to it)
  --output FILE             the initrd image; the listing goes to FILE.list
  --busybox PATH|none       static busybox with applet links (default: none)
  --busybox-applets FILE    applet list instead of asking the binary
  --modules DIR             kernel modules, copied under /lib/modules/
  --extra SRC:DEST          extra file or directory (repeatable)
  --hostname NAME           /etc/hostname (default: localhost)
  --compress none|gzip|zstd|lz4
                            default gzip (gzip -n -9).  zstd and lz4 need CONFIG_RD_ZSTD /
                            CONFIG_RD_LZ4 in the guest kernel; lz4 uses the legacy frame the
                            kernel's decompressor expects
  --mkcpio PATH             the mkcpio tool (default: build/host/mkcpio)
  --help                    this text
SOURCE_DATE_EPOCH sets every mtime (default 0).
USAGE
}

die() { echo "build-initrd: $*" >&2; exit 1; }

arch="" agent="" output="" compress=gzip mkcpio="$here/../build/host/mkcpio"
gen_args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--arch) arch=${2?}; shift ;;
	--agent) agent=${2?}; shift ;;
	--output) output=${2?}; shift ;;
	--compress) compress=${2?}; shift ;;
	--mkcpio) mkcpio=${2?}; shift ;;
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
[ -x "$mkcpio" ] || die "mkcpio not found at $mkcpio (make host-tools, or --mkcpio)"
case "$compress" in
none) compressor=(cat) ;;
gzip) compressor=(gzip -n -9 -c) ;;
zstd) compressor=(zstd -q -19 -T1 -c) ;;
lz4) compressor=(lz4 -q -l -9 -c) ;;
*) die "--compress must be none, gzip, zstd or lz4" ;;
esac
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-0}

# The agent must be what Kata boots before we pack it.
"$here/check-guest.sh" --arch "$arch" --binary "$agent" >/dev/null ||
	die "agent $agent is not a static $arch executable"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$(dirname "$output")"

"$here/gen-manifest.sh" --layout initrd --agent "$agent" --workdir "$work/gen" \
	${gen_args[@]+"${gen_args[@]}"} >"$work/manifest"
"$mkcpio" --mtime "$SOURCE_DATE_EPOCH" --list "$work/entries" --output "$work/initrd.cpio" \
	"$work/manifest"
"${compressor[@]}" <"$work/initrd.cpio" >"$work/initrd.img"

# Listing: sha256 (of the body, of the link target, or '-'), type, mode, size, path, detail.
while read -r type mode nlink size path detail; do
	case "$type" in
	f) if [ "$detail" = - ]; then sum=- detail="(hard link, body on a later name)"
	   else sum=$(sha256sum <"$detail") sum=${sum%% *} detail=""; fi ;;
	l) sum=$(printf '%s' "$detail" | sha256sum) sum=${sum%% *} detail="-> $detail" ;;
	*) sum=- ;;
	esac
	printf '%s %s %s %s %s %s %s\n' "$sum" "$type" "$mode" "$nlink" "$size" "$path" "$detail"
done <"$work/entries" | sed 's/ $//' >"$work/initrd.list"
{
	read -r cpio_sum _ < <(sha256sum "$work/initrd.cpio")
	read -r img_sum _ < <(sha256sum "$work/initrd.img")
	echo "# kata-containers initrd for $arch; SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH compress=$compress"
	echo "# cpio sha256 $cpio_sum size $(stat -c %s "$work/initrd.cpio")"
	echo "# image sha256 $img_sum size $(stat -c %s "$work/initrd.img")"
	echo "# sha256 type mode nlink size path detail"
	cat "$work/initrd.list"
} >"$work/list"

"$here/check-guest.sh" --arch "$arch" --initrd "$work/initrd.img" --quiet
mv -f "$work/initrd.img" "$output"
mv -f "$work/list" "$output.list"
echo "build-initrd: $output ($(stat -c %s "$output") bytes, $compress, $(grep -vc '^#' "$output.list") entries)"
