#!/usr/bin/env bash
# verify-test.sh: build-kernel's configure and verify steps on the real kernel trees (Debian's
# 6.12, the default, and 6.1): the shipped fragments must verify exactly for x86_64 and riscv64
# on both versions; a PVM request on a non-PVM tree, an impossible symbol, a symbol with unmet
# dependencies, a conflicting duplicate, a header-less fragment and a missing allow-list entry
# must all fail, each with a message that names the cause.  The patch series mechanism is
# tested on a hard-linked copy of the 6.12 tree with test-only patches.  No kernel is built.
set -euo pipefail

readonly PROG=${0##*/}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly BK=$HERE/../build-kernel

usage() {
	cat <<EOF
Usage: $PROG
  Runs against Debian's linux-source-6.12 (default) and linux-source-6.1 (scripts/setup.sh).
EOF
}

while (($#)); do
	case $1 in
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done

tmp=$(mktemp -d)
# The patch tests hard-link the unpacked tree: their throw-away cache must share its filesystem.
kcache=${KATA_AGENT_C_CACHE:-$HOME/.cache/kata-agent-c}/kernel
mkdir -p "$kcache"
pcache=$(mktemp -d -p "$kcache" verify-test.XXXXXX)
trap 'rm -rf "$tmp" "$pcache"' EXIT

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
	if "$BK" "$@" >"$tmp/out" 2>&1; then ok "$name"; else bad "$name"; fi
}

# expect_fail NAME 'REGEX...' -- ARGS...: must fail, and the output must match every REGEX.
expect_fail() {
	local name=$1 re res=()
	shift
	while [[ $1 != -- ]]; do res+=("$1"); shift; done
	shift
	if "$BK" "$@" >"$tmp/out" 2>&1; then
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

has_sym() { # has_sym NAME CONFIG SYM=V...
	local name=$1 cfg=$2 sym
	shift 2
	for sym in "$@"; do
		if grep -qx "$sym" "$cfg"; then ok "$name .config has $sym"; else bad "$name .config has $sym"; fi
	done
}

# The shipped fragments, exactly, on both versions (6.12 is the default: no option).
expect_pass "6.12 x86_64 kata: merge + verify" --arch x86_64 --build-dir "$tmp/x86" setup verify
expect_pass "6.12 riscv64 kata: merge + verify" --arch riscv64 --build-dir "$tmp/rv" setup verify
expect_pass "6.1 x86_64 kata: merge + verify" --kernel-version 6.1 --arch x86_64 --build-dir "$tmp/x86-6.1" setup verify
expect_pass "6.1 riscv64 kata: merge + verify" --kernel-version 6.1 --arch riscv64 --build-dir "$tmp/rv-6.1" setup verify
common_x86=(CONFIG_64BIT=y CONFIG_X86_64=y CONFIG_PVH=y CONFIG_KVM_GUEST=y CONFIG_IKCONFIG_PROC=y
	CONFIG_VIRTIO_VSOCKETS=y "# CONFIG_VSOCKETS_LOOPBACK is not set" CONFIG_9P_FS=y CONFIG_RD_ZSTD=y CONFIG_FS_DAX=y)
common_rv=(CONFIG_64BIT=y "# CONFIG_VSOCKETS_LOOPBACK is not set" CONFIG_SIFIVE_PLIC=y CONFIG_SERIAL_EARLYCON_RISCV_SBI=y
	CONFIG_SERIAL_OF_PLATFORM=y CONFIG_PCI_HOST_GENERIC=y)
has_sym "6.12 x86_64" "$tmp/x86/.config" "${common_x86[@]}" CONFIG_MITIGATION_RETPOLINE=y \
	CONFIG_MITIGATION_PAGE_TABLE_ISOLATION=y CONFIG_MHP_DEFAULT_ONLINE_TYPE_ONLINE_AUTO=y
has_sym "6.1 x86_64" "$tmp/x86-6.1/.config" "${common_x86[@]}" CONFIG_RETPOLINE=y \
	CONFIG_PAGE_TABLE_ISOLATION=y CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE=y
has_sym "6.12 riscv64" "$tmp/rv/.config" "${common_rv[@]}" CONFIG_ARCH_VIRT=y CONFIG_RISCV_APLIC=y \
	CONFIG_RISCV_APLIC_MSI=y CONFIG_RISCV_IMSIC=y CONFIG_RISCV_IMSIC_PCI=y
has_sym "6.1 riscv64" "$tmp/rv-6.1/.config" "${common_rv[@]}" CONFIG_SOC_VIRT=y CONFIG_HVC_RISCV_SBI=y
if grep -q '^CONFIG_HVC_RISCV_SBI=y' "$tmp/rv/.config"; then bad "6.12 riscv64 has no HVC_RISCV_SBI"
else ok "6.12 riscv64 has no HVC_RISCV_SBI"; fi

# '# version:' tags: riscv64/hvc-sbi.conf is for 6.1 only.
"$BK" --arch riscv64 fragments >"$tmp/rv612.list" 2>/dev/null
"$BK" --arch riscv64 --kernel-version 6.1 fragments >"$tmp/rv61.list" 2>/dev/null
if grep -qx riscv64/hvc-sbi.conf "$tmp/rv61.list" && ! grep -qx riscv64/hvc-sbi.conf "$tmp/rv612.list"; then
	ok "'# version: 6.1' fragment applies to 6.1 only"
else bad "'# version: 6.1' fragment applies to 6.1 only"; fi
expect_fail "unknown kernel version is refused" "must be one of 6.12 6.1, not '5.10'" -- \
	--kernel-version 5.10 --arch x86_64 key

# Every allow-list entry is requested by some fragment (no stale entries).
for list in "$HERE"/../allow/*.list; do
	stale=
	while read -r sym; do
		grep -rqxE "$sym=.*|# $sym is not set" "$HERE"/../common "$HERE"/../x86_64 "$HERE"/../riscv64 \
			"$HERE"/../pvm || stale+=" $sym"
	done < <(grep -E '^CONFIG_' "$list")
	if [[ -z $stale ]]; then ok "allow/${list##*/} has no stale entry"
	else bad "allow/${list##*/} has no stale entry:$stale"; fi
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

# The allow-lists are what let riscv64 request CONFIG_RISCV_APLIC on 6.1 and CONFIG_SOC_VIRT
# on 6.12: without them, verify fails; with a symbol allow-listed but defined (an entry that is
# wrong), it fails too.  Another architecture's symbol of the same name (arm's ARCH_VIRT) does
# not count as defined for riscv64 6.1.
cp -r "$HERE/.." "$tmp/frags"
rm -rf "$tmp/frags/allow" "$tmp/frags/tests"
expect_fail "6.1 riscv64 without the allow-list fails" 'CONFIG_RISCV_APLIC wanted y, got absent \(Linux' \
	'CONFIG_ARCH_VIRT wanted y, got absent \(Linux 6\.1\.[0-9]+ does not define it' -- \
	--kernel-version 6.1 --arch riscv64 --fragments "$tmp/frags" --build-dir "$tmp/rv-6.1" verify
expect_fail "6.12 riscv64 without the allow-list fails" 'CONFIG_SOC_VIRT wanted y, got absent \(Linux' -- \
	--arch riscv64 --fragments "$tmp/frags" --build-dir "$tmp/rv" verify
mkdir "$tmp/frags/allow"
printf '%s\n' CONFIG_RISCV_APLIC CONFIG_KAC_NO_SUCH_SYMBOL CONFIG_VIRTIO_MEM CONFIG_ARCH_VIRT \
	CONFIG_RISCV_APLIC_MSI CONFIG_RISCV_IMSIC CONFIG_RISCV_IMSIC_PCI >"$tmp/frags/allow/6.1.list"
f=$(frag unmet2.conf CONFIG_VIRTIO_MEM=y CONFIG_KAC_NO_SUCH_SYMBOL=y)
expect_fail "allow-listed but defined symbol still fails" \
	'CONFIG_VIRTIO_MEM wanted y, got absent \(dependencies unmet\); allow-listed' -- \
	--kernel-version 6.1 --arch riscv64 --fragments "$tmp/frags" --build-dir "$tmp/unmet" --extra-fragment "$f" verify
if grep -q CONFIG_KAC_NO_SUCH_SYMBOL "$tmp/out"; then bad "allow-listed undefined symbol is accepted"
else ok "allow-listed undefined symbol is accepted"; fi

# The cache key: version, arch, flavour, compiler version, and a hash that follows the
# fragments' content, the patch series and the toolchain's full version lines.
k1=$("$BK" --arch x86_64 key)
f=$(frag extra.conf CONFIG_VSOCKETS=y)
k2=$("$BK" --arch x86_64 --extra-fragment "$f" key)
if [[ $k1 != "$k2" && $k1 =~ ^6\.12\.[0-9]+-[0-9a-f]{16}-x86_64-kata-gcc[0-9.]+-[0-9a-f]{16}$ ]]; then
	ok "key follows fragment content"
else bad "key follows fragment content ($k1 / $k2)"; fi
k61=$("$BK" --kernel-version 6.1 --arch x86_64 key)
if [[ $k61 =~ ^6\.1\.[0-9]+-[0-9a-f]{16}-x86_64-kata- ]]; then ok "key names the source version ($k61)"
else bad "key names the source version ($k61)"; fi
# A different compiler (same name, other version line) changes the key.
mkdir "$tmp/fakecc"
cat >"$tmp/fakecc/gcc" <<'EOS'
#!/bin/sh
case "$1" in
--version) echo "gcc (KAC test) 99.9.9"; exit 0 ;;
-dumpfullversion) echo 99.9.9; exit 0 ;;
esac
exec /usr/bin/gcc "$@"
EOS
chmod +x "$tmp/fakecc/gcc"
k3=$(PATH=$tmp/fakecc:$PATH "$BK" --arch x86_64 key)
if [[ $k3 == *-x86_64-kata-gcc99.9.9-* && ${k3##*-} != "${k1##*-}" ]]; then ok "key follows the compiler version"
else bad "key follows the compiler version ($k1 / $k3)"; fi

# --- patch series ----------------------------------------------------------------------
# Test-only series for the kata flavour against the real 6.12 tree: 0002 edits the line 0001
# adds, so only in-order application works.  The default-tree path patches a hard-linked copy
# of the unpacked tree (in a throw-away cache whose plain tree is a symlink to the real one);
# the real tree must stay untouched.
real=$("$BK" source)
mkdir -p "$tmp/patches/kata" "$pcache/kernel/src"
ln -s "$real" "$pcache/kernel/src/${real##*/}"
cat >"$tmp/patches/kata/0001-test-add-a-line.patch" <<'EOS'
Test-only: add a line to init/Kconfig's first lines.
--- a/init/Kconfig
+++ b/init/Kconfig
@@ -1,4 +1,5 @@
 # SPDX-License-Identifier: GPL-2.0-only
+# KAC-TEST-PATCH one
 config CC_VERSION_TEXT
 	string
 	default "$(CC_VERSION_TEXT)"
EOS
cat >"$tmp/patches/kata/0002-test-edit-that-line.patch" <<'EOS'
Test-only: change the line 0001 added.
--- a/init/Kconfig
+++ b/init/Kconfig
@@ -1,5 +1,5 @@
 # SPDX-License-Identifier: GPL-2.0-only
-# KAC-TEST-PATCH one
+# KAC-TEST-PATCH two
 config CC_VERSION_TEXT
 	string
 	default "$(CC_VERSION_TEXT)"
EOS
pargs=(--arch x86_64 --patches "$tmp/patches" --cache "$pcache")
psrc=
if "$BK" "${pargs[@]}" source >"$tmp/psrc" 2>"$tmp/out"; then psrc=$(<"$tmp/psrc"); fi
if [[ $psrc == "$pcache/kernel/src/${real##*/}-p"* ]] && grep -qx '# KAC-TEST-PATCH two' "$psrc/init/Kconfig" &&
	grep -q 'applied kata/0002' "$tmp/out"; then
	ok "series applied in order to a patched copy of the 6.12 tree"
else bad "series applied in order to a patched copy of the 6.12 tree ($psrc)"; fi
if grep -q KAC-TEST-PATCH "$real/init/Kconfig"; then bad "the unpacked tree stays unpatched"
else ok "the unpacked tree stays unpatched"; fi
k4=$("$BK" "${pargs[@]}" key 2>/dev/null)
if [[ ${k4##*-} != "${k1##*-}" ]]; then ok "key follows the patch series"; else bad "key follows the patch series"; fi
if [[ -n $psrc ]]; then
	# A tree given with --src is patched in place; applying again finds the patches in.
	expect_pass "series on an already patched tree is a no-op" --src "$psrc" --patches "$tmp/patches" \
		--build-dir "$tmp/pbuild" patch
	if [[ $(grep -c 'already applied' "$tmp/out") == 2 ]]; then ok "both patches reported as already applied"
	else bad "both patches reported as already applied"; fi
	# A patch that does not apply stops with its name and patch(1)'s report.
	cat >"$tmp/patches/kata/0003-test-broken.patch" <<'EOS'
Test-only: context that is not in the tree.
--- a/init/Kconfig
+++ b/init/Kconfig
@@ -1,3 +1,3 @@
 # SPDX-License-Identifier: GPL-2.0-only
-# KAC-NOT-IN-THE-TREE
+# KAC-TEST-PATCH three
 config CC_VERSION_TEXT
EOS
	expect_fail "a patch that does not apply stops the build" \
		'patch kata/0003-test-broken\.patch does not apply to .*\(Linux 6\.12\.[0-9]+\)' 'FAILED' -- \
		--src "$psrc" --patches "$tmp/patches" --build-dir "$tmp/pbuild" all
	if [[ ! -e $tmp/pbuild/.config ]]; then ok "nothing configured after a failed patch"
	else bad "nothing configured after a failed patch"; fi
fi
# The pvm series (patches/pvm/) is applied only to a PVM tree: refused before any copy.
expect_fail "pvm patches refused on a non-PVM tree" 'PVM kernel tree' -- \
	--arch x86_64 --flavour pvm --cache "$pcache" source
copies=0
for d in "$pcache/kernel/src/${real##*/}"-p*; do [[ -d $d ]] && copies=$((copies + 1)); done
if ((copies == 1)); then ok "no pvm-patched copy was made"; else bad "no pvm-patched copy was made ($copies copies)"; fi

echo "$passed passed, $failed failed"
((failed == 0))
