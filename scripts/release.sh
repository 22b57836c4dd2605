#!/usr/bin/env bash
# Assemble a release directory (make release): the kernels under their Kata names, the initrd,
# the disk image, the static agent, the host tools, SHA256SUMS and an SPDX 2.3 JSON SBOM
# (scripts/sbom.py) listing every file of the initrd and the image with its origin.
# Byte-identical for identical inputs: every input is built with SOURCE_DATE_EPOCH from the last
# commit, and nothing here adds a time, a path or an order of its own.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
	cat <<'USAGE'
Usage: scripts/release.sh --arch ARCH --version V --out DIR --kernel-dir DIR --initrd FILE
                          --image FILE --agent FILE --ctl FILE --vhost-user-vsock FILE
                          [--origins FILE --debs FILE] [--busybox PATH|none]
USAGE
}
die() { echo "release: $*" >&2; exit 1; }

arch="" version="" out="" kdir="" initrd="" image="" agent="" ctl="" vuv="" origins="" debs=""
busybox=none
while [ $# -gt 0 ]; do
	case "$1" in
	--arch) arch=${2?}; shift ;;
	--version) version=${2?}; shift ;;
	--out) out=${2?}; shift ;;
	--kernel-dir) kdir=${2?}; shift ;;
	--initrd) initrd=${2?}; shift ;;
	--image) image=${2?}; shift ;;
	--agent) agent=${2?}; shift ;;
	--ctl) ctl=${2?}; shift ;;
	--vhost-user-vsock) vuv=${2?}; shift ;;
	--origins) origins=${2?}; shift ;;
	--debs) debs=${2?}; shift ;;
	--busybox) busybox=${2?}; shift ;;
	--help | -h) usage; exit 0 ;;
	*) usage >&2; die "unknown argument: $1" ;;
	esac
	shift
done
if [ -z "$out" ] || [ -z "$version" ]; then die "--out and --version are required"; fi
[ -f "$agent" ] || die "--agent: '$agent' missing"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-0}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The install layout gives the kernels their Kata names; take the files from there.
"$here/install.sh" --arch "$arch" --kernel-dir "$kdir" --initrd "$initrd" --image "$image" \
	--ctl "$ctl" --vhost-user-vsock "$vuv" --destdir "$work/inst" --prefix /usr \
	--version "$version" >/dev/null
rm -rf "$out"
mkdir -p "$out"
share=$work/inst/usr/share/kata-containers
for f in "$share"/*; do
	[ -L "$f" ] || install -m 0644 "$f" "$out/${f##*/}"
done
install -m 0755 "$agent" "$out/kata-agent"
install -m 0755 "$ctl" "$out/kata-agent-ctl"
install -m 0755 "$vuv" "$out/vhost-user-vsock"

# The image's files, read back from its ext4 partition (no mount, no root).
start=$(sfdisk -J "$image" | jq -r '.partitiontable.partitions[0].start')
size=$(sfdisk -J "$image" | jq -r '.partitiontable.partitions[0].size')
dd if="$image" of="$work/fs.img" bs=512 skip="$start" count="$size" status=none
mkdir "$work/tree"
debugfs -R "rdump / $work/tree" "$work/fs.img" >/dev/null 2>"$work/debugfs.err" ||
	die "debugfs rdump failed: $(cat "$work/debugfs.err")"
sbom_args=(--name kata-agent-c --version "$version" --arch "$arch" --initrd "$initrd"
	--image "$image" --image-tree "$work/tree" --output "$out/kata-agent-c-$version-$arch.spdx.json")
[ -z "$origins" ] || sbom_args+=(--origins "$origins")
[ -z "$debs" ] || sbom_args+=(--debs "$debs")
[ "$busybox" = none ] || sbom_args+=(--host-file "/bin/busybox=$busybox")
"$here/sbom.py" "${sbom_args[@]}"

(cd "$out" && find . -maxdepth 1 -type f ! -name SHA256SUMS -printf '%P\n' | LC_ALL=C sort |
	xargs sha256sum) >"$work/sums"
mv "$work/sums" "$out/SHA256SUMS"
find "$out" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
echo "release: $out ($(wc -l <"$out/SHA256SUMS") files)"
