#!/usr/bin/env bash
# demo.sh (make demo): boot a fresh guest (our kernel, our initrd with the agent as /init) under
# QEMU TCG -- x86_64 through SeaBIOS + bzImage (default) or qboot + vmlinux (PVH, the PVM boot
# path), or riscv64 virt + OpenSBI -- run a busybox container printing `date` through the Kata
# call sequence over hybrid vsock, print its output and the time from QEMU start to agent ready.
# Fails unless the container exited 0 and printed one date line.
# shellcheck disable=SC2034 # VM_* variables are read by tests/vm/lib.sh
set -euo pipefail

readonly PROG=${0##*/}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
readonly REQ=$HERE/requests
# shellcheck source=tests/vm/lib.sh disable=SC1091
source "$HERE/lib.sh"
readonly CID=7a3f5c1e9b2d4c6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6

VM_ARCH=x86_64 VM_BOOT=bzimage VM_KERNEL='' VM_INITRD='' VM_WORK='' VM_BACKEND='' VM_CTL=''
rootfs=''

usage() {
	cat <<EOF
Usage: $PROG [--arch x86_64|riscv64] [--boot bzimage|pvh|virt] --kernel FILE --initrd FILE
             --rootfs DIR --backend FILE --ctl FILE --workdir DIR

  --arch, --boot x86_64 with bzimage (default; --kernel bzImage) or pvh (--kernel vmlinux),
                 riscv64 with virt (--kernel Image)
  --rootfs DIR   9p share root holding $CID/rootfs (busybox-rootfs.sh)
  -h, --help     this text
EOF
}

while (($#)); do
	case $1 in
	--arch) VM_ARCH=${2:?}; shift 2 ;;
	--boot) VM_BOOT=${2:?}; shift 2 ;;
	--kernel) VM_KERNEL=${2:?}; shift 2 ;;
	--initrd) VM_INITRD=${2:?}; shift 2 ;;
	--rootfs) rootfs=${2:?}; shift 2 ;;
	--backend) VM_BACKEND=${2:?}; shift 2 ;;
	--ctl) VM_CTL=${2:?}; shift 2 ;;
	--workdir) VM_WORK=${2:?}; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; printf '%s: error: unknown argument %s\n' "$PROG" "$1" >&2; exit 2 ;;
	esac
done
[[ -d $rootfs/$CID/rootfs ]] || { usage >&2; exit 2; }
rm -rf "$VM_WORK"
mkdir -p "$VM_WORK"
VM_SHARE=$(cd "$rootfs" && pwd)

fail() {
	printf '%s: %s\n' "$PROG" "$*" >&2
	vm_dump 40
	exit 1
}

# step METHOD REQUEST: one call; a failure ends the demo with the guest console.
step() {
	if ! vm_call --timeout 120s "$1" "$2" >"$VM_WORK/$1.out" 2>"$VM_WORK/$1.err"; then
		fail "$1 failed: $(cat "$VM_WORK/$1.err")"
	fi
}

vm_start || fail "could not start the VM"
boot_limit=300
[[ $VM_ARCH == riscv64 ]] && boot_limit=600
vm_wait_agent "$boot_limit" || fail "the agent did not come up"
ready_ms=$(vm_ready_ms)
listen_ms=$(vm_agent_log_ms)
printf '%s: agent ready %s ms after QEMU start (/init -> listening: %s ms guest time)\n' \
	"$PROG" "$ready_ms" "${listen_ms:-?}"

step CreateSandbox "@$REQ/create-sandbox.json"
step GetGuestDetails "@$REQ/guest-details.json"
step CreateContainer "@$REQ/create-container.json"
step StartContainer "@$REQ/start-container.json"
: >"$VM_WORK/stdout"
for ((i = 0; i < 1000; i++)); do
	step ReadStdout "{\"container_id\":\"$CID\",\"exec_id\":\"$CID\",\"len\":32768}"
	data=$(jq -r '.data // empty' "$VM_WORK/ReadStdout.out")
	[[ -n $data ]] || break
	base64 -d <<<"$data" >>"$VM_WORK/stdout"
done
step WaitProcess "{\"container_id\":\"$CID\",\"exec_id\":\"$CID\"}"
status=$(jq -r '.status // 0' "$VM_WORK/WaitProcess.out")
step RemoveContainer "@$REQ/remove-container.json"
# The Go runtime only logs a DestroySandbox error (docs/PROTOCOL.md §3.8); so does the demo.
if ! vm_call --timeout 60s DestroySandbox '{}' >/dev/null 2>"$VM_WORK/DestroySandbox.err"; then
	printf '%s: warning: DestroySandbox: %s\n' "$PROG" "$(cat "$VM_WORK/DestroySandbox.err")" >&2
fi
vm_wait_exit 120 || fail "the guest did not power off after DestroySandbox"

out=$(tr -d '\r' <"$VM_WORK/stdout")
echo "---- container output ($VM_ARCH/$VM_BOOT, busybox date, exit status $status) ----"
printf '%s\n' "$out"
echo "----"
printf 'QEMU start -> agent ready: %s ms (TCG, no KVM)\n' "$ready_ms"
# busybox date: "Mon Dec  7 01:02:03 UTC 2026"
if [[ $status != 0 ]]; then
	printf '%s: FAILED: the container exited with status %s, not 0\n' "$PROG" "$status" >&2
	exit 1
fi
if ! [[ $out =~ ^[A-Z][a-z]{2}\ [A-Z][a-z]{2}\ +[0-9]{1,2}\ [0-9]{2}:[0-9]{2}:[0-9]{2}\ [A-Z]+\ [0-9]{4}$ ]]; then
	printf '%s: FAILED: the container did not print one date line\n' "$PROG" >&2
	exit 1
fi
echo "$PROG: ok: the container printed the date and exited 0"
