#!/usr/bin/env bash
# verify-test.sh: build-kernel's configure and verify steps on the real kernel tree (Debian's
# 6.1 by default): the shipped fragments must verify for x86_64 and riscv64; a PVM request on
# a non-PVM tree, an impossible symbol, a symbol with unmet dependencies, a conflicting
# duplicate, a header-less fragment and a missing allow-list entry must all fail, each with
# a message that names the cause.  No kernel is built (seconds per case).
set -euo pipefail

readonly PROG=${0##*/}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly BK=$HERE/../build-kernel

usage() {
	cat <<EOF
Usage: $PROG [--src DIR]
  --src DIR   kernel tree to test against (default: build-kernel's default, Debian 6.1)
EOF
}

src_args=()
while (($#)); do
	case $1 in
	--src) src_args=(--src "${2:?}"); shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

passed=0 failed=0
ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$1"; }
bad() {
	failed=$((failed + 1))
	printf 'FAIL %s\n' "$1"
	[[ ! -f $tmp/out ]] || sed 's/^/     | /' "$tmp/out" | tail -n 15
}

# expect_pass NAME ARGS...: build-kernel must succeed.
expect_pass() {
	local name=$1
	shift
	if "$BK" "${src_args[@]}" "$@" >"$tmp/out" 2>&1; then ok "$name"; else bad "$name"; fi
}

# expect_fail NAME 'REGEX...' -- ARGS...: must fail, and the output must match every REGEX.
expect_fail() {
	local name=$1 re res=()
	shift
	while [[ $1 != -- ]]; do res+=("$1"); shift; done
	shift
	if "$BK" "${src_args[@]}" "$@" >"$tmp/out" 2>&1; then
		bad "$name (succeeded)"
		return
	fi
	for re in "${res[@]}"; do
		grep -qE -- "$re" "$tmp/out" || { bad "$name (no '$re' in the output)"; return; }
	done
	ok "$name"
}

frag() { # frag NAME LINES...: a fragment file with a header
	local f=$tmp/$1
	shift
	printf '%s\n' "# test fragment" "$@" >"$f"
	printf '%s\n' "$f"
}

# The shipped fragments.
expect_pass "x86_64 kata: merge + verify" --arch x86_64 --build-dir "$tmp/x86" setup verify
expect_pass "riscv64 kata: merge + verify" --arch riscv64 --build-dir "$tmp/rv" setup verify
for sym in CONFIG_64BIT=y CONFIG_X86_64=y CONFIG_PVH=y CONFIG_KVM_GUEST=y CONFIG_IKCONFIG_PROC=y \
	CONFIG_VIRTIO_VSOCKETS=y CONFIG_VSOCKETS_LOOPBACK=y CONFIG_9P_FS=y CONFIG_RD_ZSTD=y; do
	if grep -qx "$sym" "$tmp/x86/.config"; then ok "x86_64 .config has $sym"; else bad "x86_64 .config has $sym"; fi
done
for sym in CONFIG_64BIT=y CONFIG_SOC_VIRT=y CONFIG_SIFIVE_PLIC=y CONFIG_HVC_RISCV_SBI=y \
	CONFIG_SERIAL_EARLYCON_RISCV_SBI=y CONFIG_SERIAL_OF_PLATFORM=y CONFIG_PCI_HOST_GENERIC=y; do
	if grep -qx "$sym" "$tmp/rv/.config"; then ok "riscv64 .config has $sym"; else bad "riscv64 .config has $sym"; fi
done

# Tags decide which fragments apply.
"$BK" --arch riscv64 fragments >"$tmp/rv.list" 2>/dev/null
"$BK" --arch x86_64 --flavour pvm fragments >"$tmp/pvm.list" 2>/dev/null
if grep -qx common/dax.conf "$tmp/rv.list" || ! grep -qx riscv64/base.conf "$tmp/rv.list"; then
	bad "riscv64 skips '# arch: x86_64' fragments"
else ok "riscv64 skips '# arch: x86_64' fragments"; fi
if grep -qx pvm/pvm.conf "$tmp/pvm.list" && grep -qx common/dax.conf "$tmp/pvm.list"; then
	ok "pvm flavour adds pvm/"
else bad "pvm flavour adds pvm/"; fi

# PVM on a tree without the PVM patches: a clear stop naming the symbols.
expect_fail "pvm on a non-PVM tree stops" 'PVM kernel tree' CONFIG_PVM_GUEST CONFIG_X86_PIE \
	CONFIG_RELOCATABLE_UNCOMPRESSED_KERNEL -- --arch x86_64 --flavour pvm --build-dir "$tmp/pvm" setup verify
expect_fail "pvm verify alone stops too" 'PVM kernel tree' CONFIG_PVM_GUEST -- \
	--arch x86_64 --flavour pvm --build-dir "$tmp/x86" verify

# An impossible symbol and a value Kconfig clamps (LOG_BUF_SHIFT's range is 12..25): each
# mismatch is listed with wanted, got and the fragment it came from.
f=$(frag impossible.conf CONFIG_KAC_NO_SUCH_SYMBOL=y CONFIG_LOG_BUF_SHIFT=99)
expect_fail "impossible symbol and clamped value fail verify" \
	'mismatch: CONFIG_KAC_NO_SUCH_SYMBOL wanted y, got absent \(Linux [0-9.]+ does not define it.*from .*impossible\.conf' \
	'mismatch: CONFIG_LOG_BUF_SHIFT wanted 99, got [0-9]+, from .*impossible\.conf' \
	'2 requested symbol\(s\) not in the final config' -- \
	--arch x86_64 --build-dir "$tmp/imp" --extra-fragment "$f" setup verify
# A real symbol whose dependencies riscv64 6.1 cannot meet.
f=$(frag unmet.conf CONFIG_VIRTIO_MEM=y)
expect_fail "unmet dependencies fail verify" \
	'CONFIG_VIRTIO_MEM wanted y, got absent \(dependencies unmet\), from .*unmet\.conf' -- \
	--arch riscv64 --build-dir "$tmp/unmet" --extra-fragment "$f" setup verify

# Conflicting duplicates fail before anything is configured; equal duplicates are fine.
f=$(frag conflict.conf '# CONFIG_VSOCKETS is not set')
expect_fail "conflicting duplicate fails" \
	'conflicting duplicate: CONFIG_VSOCKETS=y in common/vsock.conf, CONFIG_VSOCKETS=n in .*conflict\.conf' -- \
	--arch x86_64 --build-dir "$tmp/conflict" --extra-fragment "$f" setup verify
if [[ ! -e $tmp/conflict/.config ]]; then ok "conflict stopped before setup"; else bad "conflict stopped before setup"; fi
f=$(frag same.conf CONFIG_VSOCKETS=y)
expect_pass "equal duplicate is accepted" --arch x86_64 --build-dir "$tmp/x86" --extra-fragment "$f" verify

# Every fragment needs its header; lines must be CONFIG_X=v or '# CONFIG_X is not set'.
printf 'CONFIG_VSOCKETS=y\n' >"$tmp/noheader.conf"
expect_fail "fragment without a header comment fails" 'noheader\.conf: the first line must be' -- \
	--arch x86_64 --extra-fragment "$tmp/noheader.conf" key
f=$(frag junk.conf 'VSOCKETS=y')
expect_fail "malformed line fails" 'junk\.conf:2: not a CONFIG_X=v' -- --arch x86_64 --extra-fragment "$f" key

# The allow-list is what lets riscv64 request CONFIG_RISCV_APLIC on 6.1: without it, verify
# fails; with the symbol allow-listed but defined (an entry that is wrong), it fails too.
cp -r "$HERE/.." "$tmp/frags"
rm -rf "$tmp/frags/allow" "$tmp/frags/tests"
expect_fail "riscv64 without the allow-list fails" 'CONFIG_RISCV_APLIC wanted y, got absent \(Linux' -- \
	--arch riscv64 --fragments "$tmp/frags" --build-dir "$tmp/rv" verify
mkdir "$tmp/frags/allow"
v=$(sed -n 's/^VERSION = //p;s/^PATCHLEVEL = //p' "$("$BK" "${src_args[@]}" source)/Makefile" | paste -sd.)
printf '%s\n' CONFIG_RISCV_APLIC CONFIG_KAC_NO_SUCH_SYMBOL CONFIG_VIRTIO_MEM >"$tmp/frags/allow/$v.list"
f=$(frag unmet2.conf CONFIG_VIRTIO_MEM=y CONFIG_KAC_NO_SUCH_SYMBOL=y)
expect_fail "allow-listed but defined symbol still fails" \
	'CONFIG_VIRTIO_MEM wanted y, got absent \(dependencies unmet\); allow-listed' -- \
	--arch riscv64 --fragments "$tmp/frags" --build-dir "$tmp/unmet" --extra-fragment "$f" verify
if grep -q CONFIG_KAC_NO_SUCH_SYMBOL "$tmp/out"; then bad "allow-listed undefined symbol is accepted"
else ok "allow-listed undefined symbol is accepted"; fi

# The cache key follows the fragments' content.
k1=$("$BK" --arch x86_64 key)
f=$(frag extra.conf CONFIG_VSOCKETS=y)
k2=$("$BK" --arch x86_64 --extra-fragment "$f" key)
if [[ $k1 != "$k2" && $k1 =~ -x86_64-kata-[0-9a-f]{16}$ ]]; then ok "key follows fragment content"
else bad "key follows fragment content ($k1 / $k2)"; fi

echo "$passed passed, $failed failed"
((failed == 0))
