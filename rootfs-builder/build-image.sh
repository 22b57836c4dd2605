#!/usr/bin/env bash
# Build a raw Kata guest disk image from a root directory without root and without loop devices:
#   1. ext4 on a plain file with `mke2fs -d` (4 KiB blocks, fixed UUID and hash seed, fake time),
#      its size computed from the tree (no trial loops);
#   2. debugfs pins every inode's owner (0:0) and times (SOURCE_DATE_EPOCH), which mke2fs copies
#      from the host, and adds /dev/console and /dev/null (no mknod needed);
#   3. MBR written by sfdisk on the image file (fixed label id), the filesystem copied in;
#   4. optional NVDIMM DAX layout: PFN info block at 4 KiB (nsdax) and a second MBR at the start
#      of the namespace data (2 MiB) describing the same partition.
#
# Layout with --dax (default):
#   0       MBR #1: partition 1 at 4 MiB             (what virtio-blk sees: /dev/vda1)
#   4 KiB   nd_pfn_sb, mode RAM, dataoff = align = 2 MiB
#   2 MiB   MBR #2: partition 1 at +2 MiB of pmem0   (what the NVDIMM driver sees: /dev/pmem0p1)
#   4 MiB   ext4 up to the end of the image; the image size is a multiple of 2 MiB
# Kata's upstream builder puts the filesystem at 3 MiB, i.e. 1 MiB into pmem0, which is not 2 MiB
# aligned inside the namespace, so PMD-sized DAX mappings cannot be used; 4 MiB fixes that.
# Without --dax: one MBR, partition 1 at 1 MiB.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MIB=1048576
BLOCK=4096

usage() {
	cat <<'USAGE'
Usage: rootfs-builder/build-image.sh --arch ARCH --rootfs DIR --output FILE [options]
  --arch x86_64|riscv64  checked against /sbin/init
  --rootfs DIR           root directory (build-rootfs.sh)
  --output FILE          raw image; the kernel command lines go to FILE.cmdline
  --dax | --no-dax       write the NVDIMM PFN/DAX layout (default: --dax)
  --fs-uuid UUID         ext4 UUID and directory hash seed (default: fixed)
  --label-id HEX         MBR disk identifier (default: 0x6b617461, "kata")
  --free-mib N           free space to leave in the filesystem, MiB (default: 0)
  --no-journal           ext4 without a journal (default: 4 MiB journal)
  --nsdax PATH           the nsdax tool (default: build/host/nsdax)
  --help                 this text
SOURCE_DATE_EPOCH sets every timestamp (default 0).  Prints the kernel command line.
USAGE
}

die() { echo "build-image: $*" >&2; exit 1; }

arch="" rootfs="" output="" dax=1 fs_uuid=6b617461-2d61-6765-6e74-2d726f6f7466
label_id=0x6b617461 free_mib=0 journal=1 nsdax="$here/../build/host/nsdax"
while [ $# -gt 0 ]; do
	case "$1" in
	--arch) arch=${2?}; shift ;;
	--rootfs) rootfs=${2?}; shift ;;
	--output) output=${2?}; shift ;;
	--dax) dax=1 ;;
	--no-dax) dax=0 ;;
	--fs-uuid) fs_uuid=${2?}; shift ;;
	--label-id) label_id=${2?}; shift ;;
	--free-mib) free_mib=${2?}; shift ;;
	--no-journal) journal=0 ;;
	--nsdax) nsdax=${2?}; shift ;;
	--help | -h) usage; exit 0 ;;
	*) usage >&2; die "unknown argument: $1" ;;
	esac
	shift
done
case "$arch" in x86_64 | riscv64) ;; *) die "--arch must be x86_64 or riscv64" ;; esac
[ -d "$rootfs" ] || die "--rootfs: '$rootfs' is not a directory"
rootfs=$(cd "$rootfs" && pwd)
[ -n "$output" ] || die "--output is required"
[[ $fs_uuid =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] ||
	die "--fs-uuid: not a lowercase UUID: $fs_uuid"
[[ $label_id =~ ^0x[0-9a-fA-F]{1,8}$ ]] || die "--label-id: want 0x and up to 8 hex digits"
[[ $free_mib =~ ^[0-9]+$ ]] || die "--free-mib: not a number"
[ "$dax" = 0 ] || [ -x "$nsdax" ] || die "nsdax not found at $nsdax (make host-tools, or --nsdax)"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-0}
export E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH # libext2fs uses it for every "now"

"$here/../initrd/check-guest.sh" --arch "$arch" --rootfs "$rootfs" --quiet

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# --- 1. size, computed from the tree --------------------------------------------------------
# Blocks: file data; long symlinks (>= 60 bytes do not fit in the inode); directories (dirent
# records of 8 + name rounded to 4, 12 bytes of checksum tail per block, one more block for the
# htree root of a multi-block directory); inode tables (256-byte inodes); per 32768-block group
# two bitmaps, a superblock and descriptor copy (counted for every group: sparse_super only
# lowers it); lost+found (4 blocks); the journal; 64 blocks + 1/32 slack for extent tree blocks
# and allocator rounding.  No reserved blocks (-m 0) and no resize inode: the image is read-only.
find "$rootfs" -mindepth 1 -printf '%y %s %h/\n%f\n' >"$work/tree" # name on its own line
read -r data_blocks _dirs entries < <(
	awk -v B=$BLOCK -v root="$rootfs/" '
		NR % 2 == 1 { type = $1; size = $2; parent = $0; sub(/^[^ ]+ [^ ]+ /, "", parent); next }
		{
			name = $0; n++
			rec[parent] += int((8 + length(name) + 3) / 4) * 4
			if (type == "f") data += int((size + B - 1) / B)
			else if (type == "l" && size >= 60) data += 1
			else if (type == "d") rec[parent name "/"] += 0
		}
		END {
			rec[root] += 0
			for (d in rec) {
				b = int((24 + rec[d] + B - 13) / (B - 12)); if (b > 1) b++
				data += b; ndirs++
			}
			print data, ndirs, n
		}' "$work/tree"
)
inodes=$((entries + 1 + 11 + 32)) # + root, the reserved inodes and some slack
inodes=$(((inodes + 7) / 8 * 8))
journal_blocks=$((journal ? 1024 : 0))
base=$((data_blocks + (inodes * 256 + BLOCK - 1) / BLOCK + 4 + journal_blocks + free_mib * 256))
blocks=$base
for _ in 1 2 3; do # the group count depends on the size; three rounds settle it
	groups=$(((blocks + 32767) / 32768))
	gdt=$(((groups * 64 + BLOCK - 1) / BLOCK))
	blocks=$((base + groups * (2 + 1 + gdt) + 64 + base / 32))
done
# mke2fs makes the journal before copying files in and wants it to fit twice in the free space.
floor=$(((inodes * 256 + BLOCK - 1) / BLOCK + 2 * journal_blocks + 128))
[ "$blocks" -ge "$floor" ] || blocks=$floor
fs_off=$((dax ? 4 * MIB : MIB))
align=$((2 * MIB)) # image end on a 2 MiB boundary: the kernel maps the pmem in 2 MiB subsections
img_size=$(((fs_off + blocks * BLOCK + align - 1) / align * align))
fs_size=$((img_size - fs_off))

# --- 2. ext4 ---------------------------------------------------------------------------------
journal_opt=(-J size=4)
[ "$journal" = 1 ] || journal_opt=(-O ^has_journal)
truncate -s "$fs_size" "$work/fs.img"
mke2fs -q -F -t ext4 -b $BLOCK -I 256 -N "$inodes" -m 0 -L kata-rootfs -U "$fs_uuid" \
	-O ^resize_inode "${journal_opt[@]}" \
	-E "hash_seed=$fs_uuid,root_owner=0:0,lazy_itable_init=0,nodiscard" \
	-d "$rootfs" "$work/fs.img" >"$work/mke2fs.log" 2>&1 ||
	die "mke2fs failed for a computed size of $fs_size bytes ($blocks blocks):
$(cat "$work/mke2fs.log")"

# mke2fs -d copies atime/ctime and owners from the host; pin them.  Paths never contain blanks
# (gen-manifest.sh refuses them) or quotes.
{
	(cd "$rootfs" && find . -printf '%P\n') | LC_ALL=C sort | while IFS= read -r p; do
		case "$p" in *'"'*) die "path with a quote: $p" ;; esac
		for field in uid gid; do echo "sif \"/$p\" $field 0"; done
		for field in atime ctime mtime crtime; do
			echo "sif \"/$p\" $field @$SOURCE_DATE_EPOCH"
		done
	done
	if [ -d "$rootfs/dev" ]; then
		# name type major minor mode: the nodes the kernel and PID 1 need before devtmpfs.
		while read -r name type major minor mode; do
			[ -e "$rootfs/dev/$name" ] && continue
			# debugfs mknod takes a name in the current directory, not a path
			printf 'cd /dev\nmknod %s %s %s %s\ncd /\n' "$name" "$type" "$major" "$minor"
			case "$type" in c) ifmt=020 ;; *) ifmt=060 ;; esac
			echo "sif /dev/$name mode $ifmt${mode#0}"
			for field in atime ctime mtime crtime; do
				echo "sif /dev/$name $field @$SOURCE_DATE_EPOCH"
			done
		done <<-'NODES'
			console c 5 1 0600
			null c 1 3 0666
		NODES
	fi
} >"$work/fixup.debugfs"
# debugfs echoes each command on stdout and reports problems on stderr, exiting 0 regardless.
debugfs -w -f "$work/fixup.debugfs" "$work/fs.img" >/dev/null 2>"$work/debugfs.err" ||
	die "debugfs failed: $(cat "$work/debugfs.err")"
if grep -v '^debugfs [0-9]' "$work/debugfs.err" >"$work/debugfs.msgs"; then
	die "debugfs reported: $(sed -n 1,5p "$work/debugfs.msgs")"
fi
e2fsck -fn "$work/fs.img" >"$work/fsck.log" 2>&1 || die "e2fsck: $(cat "$work/fsck.log")"

# --- 3. partition table and filesystem -------------------------------------------------------
mbr() { # file start_bytes size_bytes
	printf 'label: dos\nlabel-id: %s\nunit: sectors\nsector-size: 512\n\nstart=%d, size=%d, type=83\n' \
		"$label_id" $(($2 / 512)) $(($3 / 512)) |
		sfdisk --quiet --no-reread --no-tell-kernel --wipe never "$1" >/dev/null
}
rm -f "$work/disk.img"
truncate -s "$img_size" "$work/disk.img"
mbr "$work/disk.img" "$fs_off" "$fs_size"
dd if="$work/fs.img" of="$work/disk.img" bs=$MIB seek=$((fs_off / MIB)) conv=notrunc,sparse \
	status=none

# --- 4. NVDIMM DAX ---------------------------------------------------------------------------
if [ "$dax" = 1 ]; then
	dataoff=$((2 * MIB))
	truncate -s $((img_size - dataoff)) "$work/ns.img"
	mbr "$work/ns.img" $((fs_off - dataoff)) "$fs_size"
	dd if="$work/ns.img" of="$work/disk.img" bs=512 count=1 seek=$((dataoff / 512)) conv=notrunc \
		status=none
	"$nsdax" --image "$work/disk.img" --data-offset $dataoff --align $align
fi

"$here/../initrd/check-guest.sh" --arch "$arch" --image "$work/disk.img" --quiet
mkdir -p "$(dirname "$output")"
mv -f "$work/disk.img" "$output"
chmod 0644 "$output"

common="data=ordered,errors=remount-ro ro rootfstype=ext4"
{
	if [ "$dax" = 1 ]; then
		echo "nvdimm: root=/dev/pmem0p1 rootflags=dax,$common"
	else
		echo "nvdimm: root=/dev/pmem0p1 rootflags=$common"
	fi
	echo "virtio-blk: root=/dev/vda1 rootflags=$common"
} >"$output.cmdline"
free=$(sed -n 's/.*, \([0-9]*\)\/\([0-9]*\) blocks$/\1 \2/p' "$work/fsck.log")
echo "build-image: $output ($img_size bytes, ext4 $fs_size bytes at $fs_off, used/total blocks $free, dax=$dax)"
cat "$output.cmdline"
