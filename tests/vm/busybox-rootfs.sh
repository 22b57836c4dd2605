#!/usr/bin/env bash
# busybox-rootfs.sh: lay out busybox container rootfses in a host directory, the way the Kata
# runtime shares them with the guest: SHARE/<container id>/rootfs/ under the 9p (kataShared) export.
# No root needed: plain files, symlinks and directories only (the guest's OCI mounts supply
# /proc, /dev, /sys, /run).
set -euo pipefail

readonly PROG=${0##*/}

usage() {
	cat <<EOF
Usage: $PROG --busybox FILE --output DIR [--container-id ID]... [--extra-bin FILE]...

  --busybox FILE       static busybox for the guest architecture
  --output DIR         the share root; each rootfs goes to DIR/ID/rootfs (DIR is recreated)
  --container-id ID    container id, repeatable (default: the two in tests/vm/requests/*.json)
  --extra-bin FILE     a static program to install as /bin/NAME too (repeatable)
  -h, --help           this text
EOF
}

die() {
	printf '%s: error: %s\n' "$PROG" "$*" >&2
	exit 1
}

busybox='' output=''
cids=() extra=()
while (($#)); do
	case $1 in
	--busybox) busybox=${2:?}; shift 2 ;;
	--output) output=${2:?}; shift 2 ;;
	--container-id) cids+=("${2:?}"); shift 2 ;;
	--extra-bin) extra+=("${2:?}"); shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown argument '$1'" ;;
	esac
done
[[ -n $busybox && -f $busybox ]] || die "--busybox FILE is required and must exist"
[[ -n $output ]] || die "--output DIR is required"
[[ $(file -b "$busybox") == *'statically linked'* ]] || die "$busybox is not statically linked"
((${#cids[@]})) || cids=(7a3f5c1e9b2d4c6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6
	9b1d4f7a2c5e8b0d3f6a9c2e5b8d1f4a7c0e3b6d9f2a5c8e1b4d7f0a3c6e9b2d)

rm -rf "$output"
root=$output/${cids[0]}/rootfs
mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,run,root,var,usr/bin,usr/sbin}
chmod 1777 "$root/tmp"
install -m 0755 "$busybox" "$root/bin/busybox"
for f in "${extra[@]}"; do
	[[ $(file -b "$f") == *'statically linked'* ]] || die "--extra-bin $f is not statically linked"
	install -m 0755 "$f" "$root/bin/${f##*/}"
done

# Applet list: ask the binary (through binfmt_misc/qemu-user for a foreign architecture); the
# few applets the tests run are required either way.
applets=$("$busybox" --list 2>/dev/null || qemu-riscv64-static "$busybox" --list 2>/dev/null || true)
for a in sh date echo sleep cat ls ps; do
	grep -qx "$a" <<<"$applets" || applets+=$'\n'"$a"
done
while read -r a; do
	[[ -n $a && $a != busybox ]] || continue
	[[ -e $root/bin/$a ]] || ln -s busybox "$root/bin/$a"
done <<<"$applets"

printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' \
	>"$root/etc/passwd"
printf 'root:x:0:\ntty:x:5:\nwheel:x:10:root\nnogroup:x:65534:\n' >"$root/etc/group"
echo busybox >"$root/etc/hostname"
# Every container gets its own copy, as each would have its own overlay rootfs.
for cid in "${cids[@]:1}"; do
	mkdir -p "$output/$cid"
	cp -a "$root" "$output/$cid/rootfs"
done
echo "$PROG: ${#cids[@]} rootfs under $output ($(find "$root/bin" -type l | wc -l) applets)"
