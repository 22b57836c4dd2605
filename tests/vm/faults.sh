#!/usr/bin/env bash
# tests/vm/faults.sh: the agent as PID 1 of a guest under faults of its configuration (issue 15).
#   1. agent.server_addr names a socket the agent cannot listen on: it logs the reason, serves on
#      the default vsock port 1024 instead, and the whole Kata sequence (kata-sequence.sh) runs.
#   2. no address it can listen on (agent.server_addr and, passed to init as an environment
#      variable by the kernel, KATA_AGENT_FALLBACK_ADDR both unusable): the agent's fatal path
#      syncs and powers the guest off; QEMU exits 0 and the console shows no kernel panic.
#   3. the agent as PID 1 crashes (agent.test_crash, a test-only fault): its fatal-signal
#      handler syncs and powers off the same way, instead of the kernel's "Attempted to kill
#      init!" panic.
set -euo pipefail

PROG=${0##*/}
usage() {
	cat <<USAGE
Usage: $PROG --kernel FILE --initrd FILE --rootfs DIR --backend FILE --ctl FILE --workdir DIR
             -- KATA_SEQUENCE_ARGS...
  x86_64 bzImage guests, 9p rootfs (tests/vm/busybox-rootfs.sh output).  The arguments after
  -- go to kata-sequence.sh as they are (--backend, --ctl, --readers, ... as check-vm passes).
USAGE
}
kernel='' initrd='' rootfs='' backend='' ctl='' workdir=''
seq_args=()
while (($#)); do
	case $1 in
	--kernel) kernel=${2:?}; shift 2 ;;
	--initrd) initrd=${2:?}; shift 2 ;;
	--rootfs) rootfs=${2:?}; shift 2 ;;
	--backend) backend=${2:?}; shift 2 ;;
	--ctl) ctl=${2:?}; shift 2 ;;
	--workdir) workdir=${2:?}; shift 2 ;;
	--) shift; seq_args=("$@"); break ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
for v in kernel initrd rootfs backend ctl workdir; do
	[[ -n ${!v} ]] || { usage >&2; exit 2; }
done
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$workdir"
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "$PROG: ok   $*"; }
bad() { fail=$((fail + 1)); echo "$PROG: FAIL $*"; }
console() { tr -d '\r' <"$1/console.log" 2>/dev/null || true; }

# ---- 1. an unusable agent.server_addr: fallback to vsock port 1024, the sequence runs ----
seq_dir=$workdir/bad-server-addr
rc=0
"$here/kata-sequence.sh" --arch x86_64 --boot bzimage --kernel "$kernel" --initrd "$initrd" \
	"${seq_args[@]}" --mode 9p --rootfs "$rootfs" \
	--workdir "$seq_dir" --append "agent.server_addr=unix:///no/such/dir/agent.sock" \
	>"$workdir/bad-server-addr.out" 2>&1 || rc=$?
tail -n 3 "$workdir/bad-server-addr.out"
if ((rc == 0)); then
	ok "agent.server_addr=unix:///no/such/dir/agent.sock: the Kata sequence runs ($(grep -c ' ok ' "$workdir/bad-server-addr.out" || true) steps ok)"
else
	bad "agent.server_addr=unix:///no/such/dir/agent.sock: kata-sequence.sh failed (rc $rc, $workdir/bad-server-addr.out)"
	grep -E 'FAIL' "$workdir/bad-server-addr.out" >"$workdir/bad-server-addr.fail" || true
	sed -n 1,5p "$workdir/bad-server-addr.fail"
fi
# The agent's log goes to the console and to port 1025 (logport.out); either shows the reason.
if cat "$seq_dir/console.log" "$seq_dir/logport.out" 2>/dev/null | tr -d '\r' |
	grep -F "cannot serve on 'unix:///no/such/dir/agent.sock' (No such file or directory); falling back to vsock://-1:1024" >/dev/null; then
	ok "... the agent logged why it fell back to vsock://-1:1024"
else
	bad "... no fallback reason in the agent's log ($seq_dir/console.log, logport.out)"
fi

# ---- 2-3. fatal paths of PID 1: sync and power off, never a kernel panic ----
# shellcheck source=tests/vm/lib.sh
source "$here/lib.sh"
VM_ARCH=x86_64 VM_BOOT=bzimage VM_KERNEL=$kernel VM_INITRD=$initrd VM_BACKEND=$backend VM_CTL=$ctl
VM_BOUND=300
# expect_poweroff NAME WORKDIR APPEND CONSOLE_LINE: boot with APPEND; the guest must power itself
# off with CONSOLE_LINE (the agent's) on the console, QEMU exit 0, and no kernel panic.
expect_poweroff() {
	local name=$1 want=$4 log
	VM_WORK=$2 VM_APPEND=$3
	rm -rf "$VM_WORK"
	vm_start
	if ! vm_wait_exit 280; then
		bad "$name: the guest still runs after 280 s"
		vm_dump 40
		vm_cleanup
		return
	fi
	log=$(console "$VM_WORK")
	if ((VM_QEMU_RC == 0)); then ok "$name: QEMU exited by itself, status 0"; else bad "$name: QEMU status $VM_QEMU_RC"; fi
	if [[ $log == *"$want"* ]]; then ok "... the agent took its fatal path ('$want' on the console)"; else bad "... no '$want' on the console"; fi
	if [[ $log == *'reboot: Power down'* ]]; then ok "... the kernel powered down ('reboot: Power down')"; else bad "... no 'reboot: Power down' on the console"; fi
	if [[ $log != *'Kernel panic'* ]]; then ok "... no kernel panic on the console"; else bad "... the console shows a kernel panic"; vm_dump 40; fi
	vm_cleanup
}
# No address it can listen on: agent.server_addr and the fallback (KATA_AGENT_FALLBACK_ADDR, which
# the kernel hands to init as an environment variable) both in a missing directory.
expect_poweroff "no usable address" "$workdir/fatal" \
	"agent.server_addr=unix:///no/such/dir/agent.sock KATA_AGENT_FALLBACK_ADDR=unix:///no/such/dir/fallback.sock" \
	'fatal: cannot listen'
# A crash of PID 1 (agent.test_crash: a store to an unmapped page once the agent serves).
expect_poweroff "PID 1 faults (agent.test_crash)" "$workdir/crash" "agent.test_crash" \
	'kata-agent: fatal signal as PID 1: syncing and powering off'
echo "$pass passed, $fail failed"
((fail == 0))
