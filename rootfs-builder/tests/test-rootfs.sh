#!/usr/bin/env bash
# `check && ok .. || nok ..` is used on purpose below: ok and nok always succeed.
# shellcheck disable=SC2015
# Tests for the rootfs builder, the image builder and nsdax: PFN block checksum against known
# vectors and an independent implementation, partition tables read back by sfdisk, the
# filesystem by e2fsck/debugfs/dumpe2fs, byte-identical rebuilds, both architectures.
set -euo pipefail

usage() { echo "Usage: rootfs-builder/tests/test-rootfs.sh --nsdax P --standin-x86_64 P --standin-riscv64 P"; }
nsdax="" sx="" sr=""
while [ $# -gt 0 ]; do
	case "$1" in
	--nsdax) nsdax=$(realpath "${2?}"); shift ;;
	--standin-x86_64) sx=$(realpath "${2?}"); shift ;;
	--standin-riscv64) sr=$(realpath "${2?}"); shift ;;
	--help | -h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done
if [ ! -x "$nsdax" ] || [ ! -f "$sx" ] || [ ! -f "$sr" ]; then usage >&2; exit 2; fi

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
rootfs_sh="$top/rootfs-builder/build-rootfs.sh"
image_sh="$top/rootfs-builder/build-image.sh"
check="$top/initrd/check-guest.sh"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
MIB=1048576

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
nok() { fail=$((fail + 1)); echo "FAIL $*"; }
expect() { local n=$1; shift; if "$@" >"$t/out" 2>&1; then ok "$n"; else nok "$n"; sed 's/^/     /' "$t/out"; fi; }
refuse() { local n=$1; shift; if "$@" >"$t/out" 2>&1; then nok "$n (succeeded)"; else ok "$n"; fi; }
same() {
	if [ "$2" = "$3" ]; then ok "$1"; else nok "$1"; diff <(echo "$3") <(echo "$2") | sed 's/^/     /' || true; fi
}

# --- nsdax: the fletcher64 checksum ---------------------------------------------------------
# Independent implementation: the 1024 little-endian u32 words of a 4 KiB block (read with od,
# which uses host order: this test runs on little-endian hosts), last two zeroed, then
# lo = (lo + w) mod 2^32, hi = hi + lo, result (hi << 32 | lo) mod 2^64.
[ "$(printf '\1\0' | od -An -tu2)" -eq 1 ] || { echo "little-endian host needed"; exit 2; }
fletcher() { # FILE [SKIP-BYTES]
	od -An -tu4 -v -j "${2:-0}" -N 4096 "$1" | tr -s ' ' '\n' | grep . | sed -n 1,1022p | {
		lo=0 hi=0
		while read -r w; do lo=$(((lo + w) & 0xffffffff)); hi=$((hi + lo)); done
		hi=$((hi + 2 * lo)) # the two words of the checksum field, taken as zero
		printf '0x%016x\n' $(((hi << 32) | lo))
	}
}
# Vector 1: word 0 = 1, all else 0.  lo stays 1 for all 1024 words, hi = 1024:
# 1024 << 32 | 1 = 0x0000040000000001.
head -c 4096 /dev/zero >"$t/v1" && printf '\1' | dd of="$t/v1" conv=notrunc status=none
same "checksum vector: word0=1" "$("$nsdax" --checksum "$t/v1")" 0x0000040000000001
# Vector 2: all bytes 0xff, so words 0..1021 are 0xffffffff and the checksum field counts as 0.
# After k words lo = 2^32 - k; the two zero words repeat lo = 2^32 - 1022.
# hi = sum_{k=1}^{1022} (2^32 - k) + 2 (2^32 - 1022) = 1024 * 2^32 - 1022*1023/2 - 2044
#    = 1024 * 2^32 - 522753 - 2044, and only hi mod 2^32 survives the shift:
# 2^32 - 524797 = 0xfff7fe03;  lo = 2^32 - 1022 = 0xfffffc02.
head -c 4096 /dev/zero | tr '\0' '\377' >"$t/v2"
same "checksum vector: all ones, checksum field ignored" "$("$nsdax" --checksum "$t/v2")" 0xfff7fe03fffffc02
same "independent implementation agrees on vector 2" "$(fletcher "$t/v2")" 0xfff7fe03fffffc02
head -c 4096 /dev/urandom >"$t/v3"
same "independent implementation agrees on random data" "$("$nsdax" --checksum "$t/v3")" "$(fletcher "$t/v3")"

# --- nsdax: the PFN info block --------------------------------------------------------------
truncate -s $((16 * MIB)) "$t/n.img"
expect "nsdax writes the block" "$nsdax" --image "$t/n.img"
le() { od -An -tu"$2" -j $((4096 + $1)) -N "$2" "$t/n.img" | tr -d ' '; }
same "signature NVDIMM_PFN_INFO\\0" "$(od -An -c -j 4096 -N 16 "$t/n.img" | tr -d ' ')" 'NVDIMM_PFN_INFO\0'
same "uuid, parent_uuid and flags zero" "$(od -An -tx1 -v -j $((4096 + 16)) -N 36 "$t/n.img" | tr -d ' \n')" \
	"$(printf '0%.0s' {1..72})"
same "version 1.2" "$(le 52 2).$(le 54 2)" 1.2
same "dataoff 2 MiB" "$(le 56 8)" $((2 * MIB))
same "npfns = (size - dataoff) / 4 KiB" "$(le 64 8)" $(((16 - 2) * MIB / 4096))
same "mode PFN_MODE_RAM" "$(le 72 4)" 1
same "start_pad, end_trunc zero; align 2 MiB" "$(le 76 4) $(le 80 4) $(le 84 4)" "0 0 $((2 * MIB))"
same "padding zero" "$(od -An -tx1 -v -j $((4096 + 88)) -N 4000 "$t/n.img" | tr -d ' \n' | tr -d 0)" ""
same "stored checksum = independent fletcher64" \
	"$(printf '0x%016x' "$(od -An -tu8 -j $((4096 + 4088)) -N 8 "$t/n.img" | tr -d ' ')")" \
	"$(fletcher "$t/n.img" 4096)"
same "sectors 0-7 untouched" "$(od -An -tx1 -v -N 4096 "$t/n.img" | tr -d ' \n0')" ""
refuse "nsdax refuses an align that is not a power of two" "$nsdax" --image "$t/n.img" --align 3M
refuse "nsdax refuses a data offset below the block" "$nsdax" --image "$t/n.img" --data-offset 4K --align 4K
truncate -s $((2 * MIB)) "$t/small.img"
refuse "nsdax refuses an image not larger than the data offset" "$nsdax" --image "$t/small.img"

# --- build-rootfs.sh ------------------------------------------------------------------------
mkdir -p "$t/in1" "$t/in2"
for d in in1 in2; do cp "$sx" "$t/$d/agent" && cp /bin/busybox "$t/$d/busybox"; done
touch -d @1000 "$t/in1/agent" "$t/in1/busybox"
touch -d @2000000000 "$t/in2/agent" "$t/in2/busybox"
export SOURCE_DATE_EPOCH=1700000000
rootfs() { "$rootfs_sh" --arch x86_64 --agent "$1/agent" --busybox "$1/busybox" --output "$2"; }
expect "build-rootfs x86_64 with busybox" rootfs "$t/in1" "$t/r1"
(umask 077 && rootfs "$t/in2" "$t/r2") >/dev/null 2>&1 || nok "second rootfs build"
expect "/sbin/init is the agent" cmp "$t/r1/sbin/init" "$sx"
same "modes from the manifest" "$(stat -c '%a %n' "$t/r2/sbin/init" "$t/r2/tmp" "$t/r2/root" "$t/r2/etc/passwd" | sed "s|$t/r2||")" \
	"755 /sbin/init
1777 /tmp
700 /root
644 /etc/passwd"
same "every timestamp is SOURCE_DATE_EPOCH" "$(find "$t/r2" -printf '%T@\n' | sort -u)" 1700000000.0000000000
same "two trees alike (names, types, modes, sizes, link targets)" \
	"$(cd "$t/r2" && find . -printf '%p %y %m %s %l\n' | LC_ALL=C sort)" \
	"$(cd "$t/r1" && find . -printf '%p %y %m %s %l\n' | LC_ALL=C sort)"
same "no device nodes in the directory (no mknod)" "$(find "$t/r1" -type c -o -type b | wc -l)" 0
same "busybox applets link to /bin/busybox" "$(readlink "$t/r1/bin/sh")" /bin/busybox
refuse "build-rootfs refuses a riscv64 agent for x86_64" "$rootfs_sh" --arch x86_64 --agent "$sr" --output "$t/rbad"

# --- build-image.sh -------------------------------------------------------------------------
image() { "$image_sh" --arch x86_64 --rootfs "$1" --output "$2" --nsdax "$nsdax" "${@:3}"; }
expect "build-image with DAX" image "$t/r1" "$t/d1.img"
(umask 077 && image "$t/r2" "$t/d2.img") >/dev/null 2>&1 || nok "second image build"
same "image byte-identical across builds with other input mtimes and umask" \
	"$(sha256sum <"$t/d2.img")" "$(sha256sum <"$t/d1.img")"
size=$(stat -c %s "$t/d1.img")
same "image size a multiple of 2 MiB" $((size % (2 * MIB))) 0
fs_sectors=$(((size - 4 * MIB) / 512))
sfdisk --dump "$t/d1.img" >"$t/dump1" 2>&1 || nok "sfdisk --dump on the image"
grep -q '^label: dos$' "$t/dump1" && grep -q '^label-id: 0x6b617461$' "$t/dump1" &&
	ok "MBR #1: dos label, fixed label id" || nok "MBR #1 label: $(cat "$t/dump1")"
grep -Eq "^[^ ]+1 : start= +8192, size= +$fs_sectors, type=83\$" "$t/dump1" &&
	ok "MBR #1: partition 1 at 4 MiB to the end, Linux" || nok "MBR #1 partition: $(grep start= "$t/dump1")"
same "MBR #1: one partition" "$(grep -c start= "$t/dump1")" 1
dd if="$t/d1.img" of="$t/ns.img" bs=$MIB skip=2 status=none
sfdisk --dump "$t/ns.img" >"$t/dump2" 2>&1 || nok "sfdisk --dump at 2 MiB"
grep -Eq "^[^ ]+1 : start= +4096, size= +$fs_sectors, type=83\$" "$t/dump2" &&
	ok "MBR #2 at 2 MiB: partition 1 at +2 MiB (the pmem0 view)" || nok "MBR #2: $(cat "$t/dump2")"
same "PFN block signature at 4 KiB" "$(od -An -c -j 4096 -N 15 "$t/d1.img" | tr -d ' ')" NVDIMM_PFN_INFO
same "PFN block checksum valid" \
	"$(printf '0x%016x' "$(od -An -tu8 -j $((4096 + 4088)) -N 8 "$t/d1.img" | tr -d ' ')")" \
	"$(fletcher "$t/d1.img" 4096)"
fs="$t/d1.img?offset=$((4 * MIB))"
expect "e2fsck -fn: filesystem clean" e2fsck -fn "$fs"
dumpe2fs -h "$fs" >"$t/sb" 2>/dev/null || nok "dumpe2fs"
grep -q '^Filesystem UUID: *6b617461-2d61-6765-6e74-2d726f6f7466$' "$t/sb" && ok "fixed filesystem UUID" || nok "UUID"
grep -q '^Directory Hash Seed: *6b617461-2d61-6765-6e74-2d726f6f7466$' "$t/sb" && ok "fixed hash seed" || nok "hash seed"
grep -q '^Block size: *4096$' "$t/sb" && ok "4 KiB blocks" || nok "block size"
same "filesystem fills the partition" "$(sed -n 's/^Block count: *//p' "$t/sb")" $((fs_sectors / 8))
same "no reserved blocks" "$(sed -n 's/^Reserved block count: *//p' "$t/sb")" 0
grep -q '^Filesystem created: .*2023$' "$t/sb" && grep -q '^Last write time: .*2023$' "$t/sb" &&
	ok "superblock times are SOURCE_DATE_EPOCH (2023-11-14)" || nok "superblock times: $(grep time "$t/sb")"
debugfs -R "dump /sbin/init $t/init.out" "$fs" 2>/dev/null
expect "debugfs: /sbin/init is the agent" cmp "$t/init.out" "$sx"
debugfs -R "stat /dev/console" "$fs" 2>/dev/null >"$t/console"
grep -q 'Type: character special *Mode: *0600' "$t/console" && grep -q 'Device major/minor number: 05:01' "$t/console" &&
	ok "debugfs: /dev/console char 5,1 mode 0600" || nok "/dev/console: $(head -3 "$t/console")"
debugfs -R "stat /dev/null" "$fs" 2>/dev/null | grep 'Device major/minor number: 01:03' >/dev/null &&
	ok "debugfs: /dev/null char 1,3" || nok "/dev/null"
debugfs -R "stat /etc/passwd" "$fs" 2>/dev/null >"$t/passwd"
same "inode times all pinned (ctime, atime, mtime, crtime)" \
	"$(grep -E '^ *(c|a|m|cr)time:' "$t/passwd" | sed 's/ --.*//; s/.*: //' | sort -u)" "0x6553f100:00000000"
grep -q 'User: *0 *Group: *0' "$t/passwd" && ok "owner 0:0" || nok "owner: $(grep User "$t/passwd")"
expect "checker accepts the image" "$check" --arch x86_64 --image "$t/d1.img"
refuse "checker rejects the image as riscv64" "$check" --arch riscv64 --image "$t/d1.img"
same "command lines" "$(cat "$t/d1.img.cmdline")" \
	"nvdimm: root=/dev/pmem0p1 rootflags=dax,data=ordered,errors=remount-ro ro rootfstype=ext4
virtio-blk: root=/dev/vda1 rootflags=data=ordered,errors=remount-ro ro rootfstype=ext4"

# Without DAX: one MBR, partition at 1 MiB, no PFN block.
expect "build-image --no-dax" image "$t/r1" "$t/p.img" --no-dax --label-id 0x12345678
sfdisk --dump "$t/p.img" >"$t/dump3" 2>&1
grep -q '^label-id: 0x12345678$' "$t/dump3" && grep -Eq '1 : start= +2048,' "$t/dump3" &&
	ok "no-dax: partition at 1 MiB, label id as given" || nok "no-dax table: $(cat "$t/dump3")"
same "no-dax: no PFN block" "$(od -An -tx1 -v -j 4096 -N 16 "$t/p.img" | tr -d ' \n0')" ""
expect "no-dax: e2fsck -fn clean" e2fsck -fn "$t/p.img?offset=$MIB"
grep -q '^nvdimm: root=/dev/pmem0p1 rootflags=data=ordered' "$t/p.img.cmdline" && ok "no-dax: no dax flag" ||
	nok "no-dax cmdline"

# Size is computed: a tree with a large file and many small ones fits, without much waste.
cp -a "$t/r1" "$t/big"
head -c $((24 * MIB)) /dev/urandom >"$t/big/var/blob"
mkdir "$t/big/var/many"
for i in $(seq 1 1500); do printf '%s' "$i" >"$t/big/var/many/file-with-a-longish-name-$i"; done
expect "build-image on a 24 MiB + 1500-file tree" image "$t/big" "$t/big.img" --no-journal
e2fsck -fn "$t/big.img?offset=$((4 * MIB))" 2>&1 | sed -n 's/.* \([0-9]*\)\/\([0-9]*\) blocks$/\1 \2/p' >"$t/use"
read -r used total <"$t/use"
[ $((total - used)) -lt $((total / 8 + 512)) ] && ok "little slack ($used of $total blocks used)" ||
	nok "too much slack: $used of $total blocks"
expect "--free-mib adds free space" image "$t/r1" "$t/free.img" --free-mib 8
e2fsck -fn "$t/free.img?offset=$((4 * MIB))" 2>&1 | sed -n 's/.* \([0-9]*\)\/\([0-9]*\) blocks$/\1 \2/p' >"$t/use"
read -r used total <"$t/use"
[ $((total - used)) -ge 2048 ] && ok "--free-mib 8 leaves >= 8 MiB free" || nok "free: $used of $total"

# Debian packages (--debs): synthetic packages made with dpkg-deb --build, no archive needed.
mkdeb() { # NAME VERSION DIR: DIR holds the tree (and DEBIAN/postinst); writes $t/NAME.deb
	mkdir -p "$3/DEBIAN"
	printf 'Package: %s\nVersion: %s\nArchitecture: amd64\nMaintainer: t <t@example.invalid>\nDescription: t\n' \
		"$1" "$2" >"$3/DEBIAN/control"
	dpkg-deb --root-owner-group -Zgzip --build "$3" "$t/$1.deb" >/dev/null
	echo "$1 $2 amd64 $(sha256sum <"$t/$1.deb" | cut -d' ' -f1) $t/$1.deb"
}
mkdir -p "$t/pa/DEBIAN" "$t/pa/usr/sbin" "$t/pa/usr/share/doc/alpha" "$t/pa/usr/share/man/man8" "$t/pa/usr/bin" \
	"$t/pb/usr/lib" "$t/pc/usr/sbin"
printf '#!/bin/sh\n' >"$t/pa/usr/sbin/alpha-nft" && chmod 0755 "$t/pa/usr/sbin/alpha-nft"
cp "$t/pa/usr/sbin/alpha-nft" "$t/pa/usr/sbin/alpha-legacy"
echo copyright >"$t/pa/usr/share/doc/alpha/copyright"
echo log >"$t/pa/usr/share/doc/alpha/changelog"
echo man >"$t/pa/usr/share/man/man8/alpha.8"
echo wc >"$t/pa/usr/bin/wc" # a busybox applet link in the tree: the package's file wins
cat >"$t/pa/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
update-alternatives --install /usr/sbin/alpha alpha /usr/sbin/alpha-legacy 10 \
  --slave /usr/sbin/alpha-save alpha-save /usr/sbin/alpha-legacy
	update-alternatives \
	  --install /usr/sbin/alpha alpha /usr/sbin/alpha-nft 20 \
	  --slave /usr/sbin/alpha-save alpha-save /usr/sbin/alpha-nft
POSTINST
chmod 0755 "$t/pa/DEBIAN/postinst"
echo lib >"$t/pb/usr/lib/libbeta.so.1"
mkdir -p "$t/pb/usr/lib/x86_64-linux-gnu/gconv" && echo m >"$t/pb/usr/lib/x86_64-linux-gnu/gconv/UTF-7.so"
cp "$t/pa/usr/sbin/alpha-nft" "$t/pc/usr/sbin/alpha-nft"
{ mkdeb alpha 1.0-1 "$t/pa" && mkdeb beta 2:3.4-1 "$t/pb"; } >"$t/debs"
mkdeb gamma 1 "$t/pc" >"$t/debs-conflict"
cat "$t/debs" >>"$t/debs-conflict"
dr() { "$rootfs_sh" --arch x86_64 --agent "$t/in1/agent" --busybox "$t/in1/busybox" --output "$1" "${@:2}"; }
expect "build-rootfs --debs (two packages)" dr "$t/rd" --debs "$t/debs" --origins "$t/origins"
same "update-alternatives: the highest priority wins" \
	"$(readlink "$t/rd/usr/sbin/alpha") $(readlink "$t/rd/usr/sbin/alpha-save")" "/usr/sbin/alpha-nft /usr/sbin/alpha-nft"
[ -f "$t/rd/usr/share/doc/alpha/copyright" ] && [ ! -e "$t/rd/usr/share/doc/alpha/changelog" ] &&
	[ ! -e "$t/rd/usr/share/man" ] && [ ! -e "$t/rd/usr/lib/x86_64-linux-gnu/gconv" ] &&
	ok "documentation and gconv modules dropped, copyright kept" || nok "docs: $(find "$t/rd/usr/share" "$t/rd/usr/lib")"
[ -f "$t/rd/usr/bin/wc" ] && [ ! -L "$t/rd/usr/bin/wc" ] && ok "a package file replaces a busybox applet link" ||
	nok "/usr/bin/wc: $(ls -l "$t/rd/usr/bin/wc")"
same "modes kept" "$(stat -c %a "$t/rd/usr/sbin/alpha-nft")" 755
grep -qxF '/usr/lib/libbeta.so.1 beta 2:3.4-1' "$t/origins" &&
	grep -qxF '/usr/sbin/alpha-nft alpha 1.0-1' "$t/origins" &&
	grep -qxF '/usr/sbin/alpha alpha 1.0-1' "$t/origins" &&
	! grep -q '^/sbin/init ' "$t/origins" && ok "origins: package files and alternatives, nothing else" ||
	nok "origins: $(cat "$t/origins")"
refuse "build-rootfs refuses two packages with the same file" dr "$t/rc" --debs "$t/debs-conflict"
expect "build-image on a tree with packages" image "$t/rd" "$t/rd.img"

# riscv64.
expect "build-rootfs riscv64 (no busybox)" "$rootfs_sh" --arch riscv64 --agent "$sr" --output "$t/rr"
expect "build-image riscv64" "$image_sh" --arch riscv64 --rootfs "$t/rr" --output "$t/rr.img" --nsdax "$nsdax"
expect "checker accepts the riscv64 image" "$check" --arch riscv64 --image "$t/rr.img"
refuse "build-image refuses a tree whose init is for another arch" "$image_sh" --arch x86_64 \
	--rootfs "$t/rr" --output "$t/bad.img" --nsdax "$nsdax"
[ ! -e "$t/bad.img" ] && ok "no image after a refusal" || nok "image left after a refusal"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
