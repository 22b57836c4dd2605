#!/usr/bin/env bash
# Check the dependency smoke binaries built by tests/deps/deps.mk: each must be a static ELF
# for its architecture, run (riscv64 under qemu-riscv64-static) and print what the libraries
# must answer for that architecture.  Prints "N passed, N failed"; exits 1 on any failure.
set -euo pipefail

usage() {
	cat <<'USAGE'
Usage: tests/deps/check.sh --binary ARCH=PATH [--binary ARCH=PATH ...] [--help]
  ARCH is x86_64 or riscv64; PATH the smoke binary built from tests/deps/smoke.c.
USAGE
}

binaries=()
while [ $# -gt 0 ]; do
	case "$1" in
	--binary) [ $# -ge 2 ] || { usage >&2; exit 2; }; binaries+=("$2"); shift ;;
	--binary=*) binaries+=("${1#--binary=}") ;;
	--help | -h) usage; exit 0 ;;
	*) echo "check.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
[ ${#binaries[@]} -gt 0 ] || { usage >&2; exit 2; }

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

# expect ARCH: the exact output of smoke for ARCH.  openat is 257 in the x86_64 syscall table
# and 56 in the generic table riscv64 uses; "lo" is ifindex 1 in any network namespace.
expect() {
	local openat
	case "$1" in
	x86_64) openat=257 ;;
	riscv64) openat=56 ;;
	esac
	printf '%s\n' \
		"libnl: link smoke0 mtu 1400" \
		"libnl: lo ifindex 1 loopback" \
		"seccomp: 2.5.4 native $1 openat $openat bpf ok" \
		"protobuf-c: 1.4.1 (1004001)"
}

for spec in "${binaries[@]}"; do
	arch=${spec%%=*}
	bin=${spec#*=}
	case "$arch" in
	x86_64) machine='Advanced Micro Devices X86-64'; runner=() ;;
	riscv64) machine='RISC-V'; runner=(qemu-riscv64-static) ;;
	*) echo "check.sh: unknown arch '$arch'" >&2; exit 2 ;;
	esac

	if [ ! -x "$bin" ]; then
		fail "$arch: $bin missing"
		continue
	fi
	got=$(readelf -h "$bin" | sed -n 's/^ *Machine: *//p')
	if [ "$got" = "$machine" ]; then
		ok "$arch: ELF machine is $machine"
	else
		fail "$arch: ELF machine is '$got', want '$machine'"
	fi
	# Static: no program interpreter and no dynamic section at all.
	if readelf -lW "$bin" | grep 'INTERP\|DYNAMIC' >/dev/null; then
		fail "$arch: not a static executable (has INTERP/DYNAMIC)"
	else
		ok "$arch: static executable (no INTERP, no DYNAMIC)"
	fi

	rc=0
	out=$("${runner[@]}" "$bin" 2>&1) || rc=$?
	if [ "$rc" = 0 ]; then
		ok "$arch: runs${runner:+ under ${runner[*]}}, exit 0"
	else
		fail "$arch: exit status $rc"
	fi
	want=$(expect "$arch")
	if [ "$out" = "$want" ]; then
		ok "$arch: output matches (libnl round trip, seccomp $arch tables, protobuf-c 1.4.1)"
	else
		fail "$arch: unexpected output"
		diff <(echo "$want") <(echo "$out") | sed 's/^/    /' || true
	fi
	echo "    $arch: $(stat -c %s "$bin") bytes unstripped"
done

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
