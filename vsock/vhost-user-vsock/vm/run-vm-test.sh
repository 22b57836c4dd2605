#!/usr/bin/env bash
# End-to-end test of vhost-user-vsock with a real guest kernel under QEMU (TCG): host CONNECT
# through the hybrid socket, echo round trips including 1 MiB (credit flow control), a
# guest-initiated connection, then QEMU killed and a second QEMU served by the same daemon.
set -euo pipefail

usage() {
	cat <<'USAGE'
Usage: run-vm-test.sh --daemon BIN --init BIN --workdir DIR --kernel BZIMAGE [--help]
  --daemon BIN    the vhost-user-vsock binary under test
  --init BIN      static guest /init (vm/guest_init.c)
  --workdir DIR   scratch directory (sockets, initrd, logs)
  --kernel FILE   x86_64 bzImage with virtio-vsock (make kernel-x86_64 builds it; the make
                  target depends on it, so the test never runs without one)
USAGE
}

daemon="" init="" work="" kernel=""
while [ $# -gt 0 ]; do
	case "$1" in
	--daemon) daemon="$2"; shift ;;
	--init) init="$2"; shift ;;
	--workdir) work="$2"; shift ;;
	--kernel) kernel="$2"; shift ;;
	--help | -h) usage; exit 0 ;;
	*) echo "run-vm-test.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
if [ -z "$daemon" ] || [ -z "$init" ] || [ -z "$work" ] || [ -z "$kernel" ]; then
	usage >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)

# No skip: a missing kernel is a failure (the make target builds it first).
if [ ! -f "$kernel" ]; then
	echo "run-vm-test.sh: error: no kernel at $kernel (make kernel-x86_64)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

rm -rf "$work"
mkdir -p "$work/root"
work=$(cd "$work" && pwd)
cp "$init" "$work/root/init"
(cd "$work/root" && echo init | cpio --quiet -o -H newc) >"$work/initrd"

passed=0 failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }

daemon_pid="" qemu_pid=""
cleanup() {
	if [ -n "$qemu_pid" ]; then kill -9 "$qemu_pid" 2>/dev/null || true; fi
	if [ -n "$daemon_pid" ]; then kill -9 "$daemon_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

"$daemon" --socket "$work/vu.sock" --uds "$work/v.sock" --guest-cid 3 -v >"$work/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 50); do [ -S "$work/vu.sock" ] && break; sleep 0.1; done

start_qemu() { # $1: log suffix
	qemu-system-x86_64 -machine q35,accel=tcg -m 256M -smp 1 \
		-object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem \
		-chardev socket,id=c,path="$work/vu.sock" -device vhost-user-vsock-pci,chardev=c \
		-kernel "$kernel" -initrd "$work/initrd" -append "console=ttyS0 panic=-1 quiet" \
		-display none -monitor none -serial file:"$work/console$1.log" -no-reboot \
		>"$work/qemu$1.log" 2>&1 &
	qemu_pid=$!
}

echo "kernel: $kernel"
start_qemu 1
if python3 "$here/hostcheck.py" --uds "$work/v.sock" --listener "$work/v.sock_1025" | tee "$work/check1.log"; then
	ok "first guest: all host checks"
else
	bad "first guest: host checks (see $work/check1.log, console1.log, daemon.log)"
fi

kill -9 "$qemu_pid"
wait "$qemu_pid" 2>/dev/null || true
qemu_pid=""
sleep 0.5
if kill -0 "$daemon_pid" 2>/dev/null; then ok "daemon survives QEMU being killed"; else bad "daemon died with QEMU"; fi

start_qemu 2
if python3 "$here/hostcheck.py" --uds "$work/v.sock" --listener "$work/v.sock_1025" --bytes 65536 | tee "$work/check2.log"; then
	ok "second QEMU on the same daemon: all host checks"
else
	bad "second QEMU: host checks (see $work/check2.log, console2.log, daemon.log)"
fi
kill -9 "$qemu_pid"
wait "$qemu_pid" 2>/dev/null || true
qemu_pid=""

kill -TERM "$daemon_pid"
if wait "$daemon_pid"; then ok "daemon exits 0 on SIGTERM"; else bad "daemon exit status on SIGTERM"; fi
daemon_pid=""
if [ ! -e "$work/vu.sock" ] && [ ! -e "$work/v.sock" ]; then ok "sockets removed on exit"; else bad "sockets left behind"; fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
