# shellcheck shell=bash disable=SC2054,SC2153,SC2034
# (SC2054: commas belong to QEMU option values; SC2153/SC2034: VM_* are the caller's.)
# tests/vm/lib.sh: boot one Kata guest under QEMU (TCG only) behind our vhost-user-vsock back-end
# and talk to its agent over hybrid vsock.  Sourced by kata-sequence.sh, demo.sh and the VM
# benchmarks; it defines functions and VM_* variables and runs nothing by itself.
#
# Caller sets, then calls vm_start:
#   VM_ARCH     x86_64 | riscv64
#   VM_BOOT     bzimage (x86_64, SeaBIOS, -kernel bzImage)
#               pvh     (x86_64, -bios qboot.rom -kernel vmlinux: the PVH entry PVM guests use)
#               virt    (riscv64 virt machine, OpenSBI fw_dynamic, -kernel Image)
#   VM_KERNEL   the kernel for that boot path;  VM_INITRD  the initrd (agent as /init)
#   VM_WORK     scratch directory (sockets, console.log, qemu.log, backend.log)
#   VM_BACKEND  build/host/vhost-user-vsock;    VM_CTL  build/host/kata-agent-ctl
# Optional:
#   VM_APPEND   extra kernel parameters
#   VM_AGENT_LOG  the agent's log level on the cmdline (default debug; empty: no agent.log, the
#               agent's default level, as a runtime without enable_debug boots it)
#   VM_SHARE    host directory exported over virtio-9p with mount tag kataShared (vm_start
#               exports a fresh copy in VM_WORK/share and points VM_SHARE at it)
#   VM_DISK     our image builder's disk image: its partition 1 (ext4) is attached read-only as
#               a whole virtio-blk disk at PCI slot $VM_DISK_SLOT
#   VM_ROOT_DISK  our image builder's whole disk image (MBR, ext4 in partition 1), attached
#               read-only as virtio-blk at PCI slot $VM_ROOT_DISK_SLOT for booting from it
#               (root=/dev/vda1 in VM_APPEND); VM_INITRD may then be empty
#   VM_IMAGE    our image builder's DAX image as the guest's root instead of the initrd, the way
#               Kata boots kata-containers.img; VM_IMAGE_DEV picks the device (x86_64 q35 only):
#                 nvdimm       -device nvdimm on a read-only file backend (Kata's QEMU default)
#                 virtio-pmem  -device virtio-pmem-pci on a private file mapping (the Cloud
#                              Hypervisor/PVM path); writes stay in the guest's copy
#               root=/dev/pmem0p1 rootflags=dax,... ro is appended; VM_INITRD is not used
#   VM_MEM      guest RAM in MiB (default 512);  VM_BOUND  QEMU lifetime limit in s (default 900)
#   VM_POLL     pause between Health.Check attempts in s (default 0.05)
#   VM_SMP      vCPUs (default 1);  VM_QEMU_EXTRA  array of further QEMU arguments (devices)
#   VM_VSOCK_CHR_OPTS  appended to the vsock device's -chardev (e.g. ,reconnect=1)
#   VM_VSOCK_DEV_OPTS  appended to its -device (e.g. ,id=vsock,bus=rp0: a hot-pluggable place);
#               none: no -device, the caller adds it with QMP (QEMU 7.2's vhost-user-vsock-pci
#               fails to start on a chardev with reconnect= otherwise: it does not wait for the
#               connection the chardev opens in the background)
#   VM_QEMU_PRE array of QEMU arguments before the vsock device (the bus VM_VSOCK_DEV_OPTS names)
#
# Guest RAM is a shared memfd: the back-end maps it from the fds QEMU sends (QEMU 7.2's
# vhost-user-vsock-pci cannot work otherwise).  Every wait is bounded; vm_cleanup (installed as the
# EXIT trap by vm_start) stops QEMU and the back-end even when the caller fails.

readonly VM_QBOOT=/usr/share/qemu/qboot.rom
readonly VM_OPENSBI=/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin
readonly VM_GUEST_CID=3
readonly VM_AGENT_PORT=1024
# The blk rootfs device sits at a fixed slot on the root bus so its PCI path is known ("05").
readonly VM_DISK_SLOT=05
readonly VM_ROOT_DISK_SLOT=06

VM_APPEND=${VM_APPEND:-}
VM_SHARE=${VM_SHARE:-}
VM_DISK=${VM_DISK:-}
VM_ROOT_DISK=${VM_ROOT_DISK:-}
VM_IMAGE=${VM_IMAGE:-}
VM_IMAGE_DEV=${VM_IMAGE_DEV:-nvdimm}
VM_AGENT_LOG=${VM_AGENT_LOG-debug}
VM_MEM=${VM_MEM:-512}
VM_BOUND=${VM_BOUND:-900}
VM_POLL=${VM_POLL:-0.05}
VM_SMP=${VM_SMP:-1}
[[ -n ${VM_QEMU_EXTRA+x} ]] || VM_QEMU_EXTRA=()
[[ -n ${VM_QEMU_PRE+x} ]] || VM_QEMU_PRE=()
VM_VSOCK_CHR_OPTS=${VM_VSOCK_CHR_OPTS:-}
VM_VSOCK_DEV_OPTS=${VM_VSOCK_DEV_OPTS:-}
VM_QEMU_PID=
VM_BACKEND_PID=
VM_T0_NS=
VM_READY_NS=
VM_UDS=
VM_ADDR=
VM_TRACE=
VM_QEMU_RC=

vm_log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

vm_now_ns() { date +%s%N; }

# Kernel parameters per boot path: the serial console the kernel helper documents
# (kernel-configs/tests/boot-test.sh), panic=1 with -no-reboot so a dead guest ends QEMU.
vm_cmdline() {
	# no_timer_check, as Kata's own kernel parameters: under TCG on a busy host the IO-APIC
	# timer check can miss its ticks and panic the guest ("IO-APIC + timer doesn't work").
	local c="console=ttyS0 panic=1 no_timer_check"
	[[ $VM_ARCH == riscv64 ]] && c="console=ttyS0 earlycon=sbi panic=1"
	c+=${VM_AGENT_LOG:+ agent.log=$VM_AGENT_LOG}
	# Kata's kernel parameters for an image root (NVDIMM or virtio-pmem, both with DAX).
	[[ -z $VM_IMAGE ]] || c+=" root=/dev/pmem0p1 rootflags=dax,data=ordered,errors=remount-ro ro rootfstype=ext4"
	printf '%s%s' "$c" "${VM_APPEND:+ $VM_APPEND}"
}

# vm_image_args: QEMU options for VM_IMAGE (sets VM_IMAGE_M, VM_IMAGE_OPTS, VM_IMAGE_MACHINE).
# Memory devices need -m slots/maxmem room for the image; the image size is a 2 MiB multiple.
vm_image_args() {
	local size mib
	size=$(stat -c %s "$VM_IMAGE") || return 1
	mib=$(((size + 1048575) / 1048576))
	VM_IMAGE_M="${VM_MEM}M,slots=2,maxmem=$((VM_MEM + mib + 2))M"
	VM_IMAGE_MACHINE=
	case $VM_ARCH/$VM_IMAGE_DEV in
	x86_64/nvdimm)
		VM_IMAGE_MACHINE=,nvdimm=on
		VM_IMAGE_OPTS=(-object "memory-backend-file,id=img0,mem-path=$VM_IMAGE,size=$size,readonly=on"
			-device nvdimm,id=nv0,memdev=img0,unarmed=on) ;;
	x86_64/virtio-pmem)
		VM_IMAGE_OPTS=(-object "memory-backend-file,id=img0,mem-path=$VM_IMAGE,size=$size,share=off"
			-device virtio-pmem-pci,id=pmem0,memdev=img0) ;;
	*)
		# QEMU 7.2's riscv64 virt has neither nvdimm nor virtio-pmem-pci.
		vm_log "VM_IMAGE_DEV=$VM_IMAGE_DEV is not supported on $VM_ARCH"
		return 1 ;;
	esac
}

vm_qemu_cmd() { # fills the global array VM_QEMU_CMD
	local mem=${VM_MEM}M start size
	local m=$mem mopt=
	VM_IMAGE_OPTS=()
	if [[ -n $VM_IMAGE ]]; then
		vm_image_args || return 1
		m=$VM_IMAGE_M mopt=$VM_IMAGE_MACHINE
	fi
	local common=(-m "$m" -smp "$VM_SMP" -nodefaults -display none -no-reboot -monitor none
		-object "memory-backend-memfd,id=mem,size=$mem,share=on"
		"${VM_QEMU_PRE[@]}"
		-chardev "socket,id=vsock0,path=$VM_WORK/vu.sock$VM_VSOCK_CHR_OPTS"
		-serial "file:$VM_WORK/console.log" -pidfile "$VM_WORK/qemu.pid"
		-kernel "$VM_KERNEL" -append "$(vm_cmdline)")
	[[ $VM_VSOCK_DEV_OPTS == none ]] || common+=(-device "vhost-user-vsock-pci,chardev=vsock0$VM_VSOCK_DEV_OPTS")
	# An image root (VM_IMAGE) replaces the initrd.
	[[ -z $VM_INITRD || -n $VM_IMAGE ]] || common+=(-initrd "$VM_INITRD")
	common+=("${VM_IMAGE_OPTS[@]}")
	if [[ -n $VM_ROOT_DISK ]]; then
		common+=(-blockdev "driver=file,node-name=root0f,filename=$VM_ROOT_DISK,read-only=on"
			-blockdev "driver=raw,node-name=root0,file=root0f,read-only=on"
			-device "virtio-blk-pci,drive=root0,addr=0x$VM_ROOT_DISK_SLOT")
	fi
	if [[ -n $VM_SHARE ]]; then
		common+=(-fsdev "local,id=fs0,path=$VM_SHARE,security_model=none"
			-device virtio-9p-pci,fsdev=fs0,mount_tag=kataShared)
	fi
	if [[ -n $VM_DISK ]]; then
		# Partition 1 of our image (the ext4 filesystem) becomes the whole virtio disk, the way
		# a container rootfs device looks to Kata; QEMU's raw driver takes the window.
		local p1
		p1=$(sfdisk -J "$VM_DISK" | jq -r '.partitiontable.partitions[0] | "\(.start) \(.size)"') ||
			{ vm_log "$VM_DISK has no partition table"; return 1; }
		read -r start size <<<"$p1"
		common+=(-blockdev "driver=file,node-name=disk0f,filename=$VM_DISK,read-only=on"
			-blockdev "driver=raw,node-name=disk0,file=disk0f,read-only=on,offset=$((start * 512)),size=$((size * 512))"
			-device "virtio-blk-pci,drive=disk0,addr=0x$VM_DISK_SLOT")
	fi
	common+=("${VM_QEMU_EXTRA[@]}")
	case $VM_ARCH/$VM_BOOT in
	x86_64/bzimage)
		VM_QEMU_CMD=(qemu-system-x86_64 -machine "q35,accel=tcg,memory-backend=mem$mopt" -cpu max
			"${common[@]}") ;;
	x86_64/pvh)
		VM_QEMU_CMD=(qemu-system-x86_64 -machine "q35,accel=tcg,memory-backend=mem$mopt" -cpu max
			-bios "$VM_QBOOT" "${common[@]}") ;;
	riscv64/virt)
		VM_QEMU_CMD=(qemu-system-riscv64 -machine virt,accel=tcg,memory-backend=mem -cpu rv64
			-bios "$VM_OPENSBI" "${common[@]}") ;;
	*)
		vm_log "unsupported VM_ARCH/VM_BOOT '$VM_ARCH/$VM_BOOT'"
		return 1 ;;
	esac
}

vm_cleanup() {
	local pid
	if [[ -n $VM_QEMU_PID ]] && kill -0 "$VM_QEMU_PID" 2>/dev/null; then
		# $VM_QEMU_PID is timeout(1), which passes SIGTERM on to QEMU.
		kill -TERM "$VM_QEMU_PID" 2>/dev/null || true
		for _ in {1..50}; do kill -0 "$VM_QEMU_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$VM_QEMU_PID" 2>/dev/null || true
		if [[ -s $VM_WORK/qemu.pid ]]; then
			pid=$(<"$VM_WORK/qemu.pid")
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	[[ -z $VM_QEMU_PID ]] || wait "$VM_QEMU_PID" 2>/dev/null || true
	VM_QEMU_PID=
	if [[ -n $VM_BACKEND_PID ]]; then
		kill -TERM "$VM_BACKEND_PID" 2>/dev/null || true
		wait "$VM_BACKEND_PID" 2>/dev/null || true
		VM_BACKEND_PID=
	fi
}

# Starts the back-end and QEMU; records VM_T0_NS just before QEMU is spawned.
vm_start() {
	local v
	local need=(VM_KERNEL VM_BACKEND VM_CTL)
	if [[ -n $VM_ROOT_DISK ]]; then need+=(VM_ROOT_DISK)
	elif [[ -n $VM_IMAGE ]]; then need+=(VM_IMAGE)
	else need+=(VM_INITRD); fi
	for v in VM_ARCH VM_BOOT VM_WORK "${need[@]}"; do
		[[ -n ${!v:-} ]] || { vm_log "vm_start: $v is not set"; return 1; }
	done
	for v in "${need[@]}"; do
		[[ -f ${!v} ]] || { vm_log "vm_start: $v=${!v} does not exist"; return 1; }
	done
	mkdir -p "$VM_WORK"
	VM_WORK=$(cd "$VM_WORK" && pwd)
	rm -f "$VM_WORK"/vu.sock "$VM_WORK"/vsock.sock* "$VM_WORK"/console.log "$VM_WORK"/qemu.pid
	VM_UDS=$VM_WORK/vsock.sock
	# The guest gets its own copy of the 9p share, fresh at every start: guests write into it
	# (CopyFile, the containers' /etc files), and check-vm runs two guests at once.  A few MiB.
	if [[ -n $VM_SHARE ]]; then
		VM_SHARE_SRC=${VM_SHARE_SRC:-$VM_SHARE}
		rm -rf "$VM_WORK/share"
		cp -a "$VM_SHARE_SRC/." "$VM_WORK/share/" || { vm_log "copying the 9p share failed"; return 1; }
		VM_SHARE=$VM_WORK/share
	fi
	VM_ADDR=hvsock://$VM_UDS:$VM_AGENT_PORT
	vm_qemu_cmd || return 1
	trap vm_cleanup EXIT

	# The run's vsock traffic, decoded (docs/DEBUGGING.md): kept in the work directory.
	VM_TRACE=$VM_WORK/vsock-trace.jsonl
	"$VM_BACKEND" --socket "$VM_WORK/vu.sock" --uds "$VM_UDS" --guest-cid "$VM_GUEST_CID" \
		--trace "$VM_TRACE" >"$VM_WORK/backend.log" 2>&1 &
	VM_BACKEND_PID=$!
	for _ in {1..100}; do [[ -S $VM_WORK/vu.sock ]] && break; sleep 0.05; done
	if [[ ! -S $VM_WORK/vu.sock ]]; then
		vm_log "vhost-user-vsock did not create $VM_WORK/vu.sock"
		cat "$VM_WORK/backend.log" >&2
		return 1
	fi
	printf '%q ' "${VM_QEMU_CMD[@]}" >"$VM_WORK/qemu.cmd"
	echo >>"$VM_WORK/qemu.cmd"
	VM_T0_NS=$(vm_now_ns)
	timeout --kill-after=5 "$VM_BOUND" "${VM_QEMU_CMD[@]}" >"$VM_WORK/qemu.log" 2>&1 &
	VM_QEMU_PID=$!
	vm_log "started $VM_ARCH/$VM_BOOT guest (QEMU bound ${VM_BOUND}s, work dir $VM_WORK)"
}

vm_qemu_alive() { [[ -n $VM_QEMU_PID ]] && kill -0 "$VM_QEMU_PID" 2>/dev/null; }

# vm_wait_agent SECONDS: retries Health.Check until it answers SERVING; sets VM_READY_NS to the
# moment the first successful answer came back.  Fails when QEMU dies or time runs out.
vm_wait_agent() {
	local limit=$1 deadline out rc
	deadline=$((SECONDS + limit))
	while ((SECONDS < deadline)); do
		if ! vm_qemu_alive; then
			vm_log "QEMU exited before the agent answered"
			return 1
		fi
		rc=0
		out=$("$VM_CTL" --addr "$VM_ADDR" --timeout 10s check 2>&1) || rc=$?
		if ((rc == 0)) && [[ $out == *SERVING* ]]; then
			VM_READY_NS=$(vm_now_ns)
			return 0
		fi
		if ((rc != 3)); then
			vm_log "Health.Check answered but not SERVING (rc $rc): $out"
			return 1
		fi
		sleep "$VM_POLL"
	done
	vm_log "the agent did not answer Health.Check within ${limit}s"
	return 1
}

# vm_ready_ms: QEMU start to first Health.Check answer.
vm_ready_ms() { echo $(((VM_READY_NS - VM_T0_NS) / 1000000)); }

# vm_call [--timeout DUR] METHOD [JSON|@FILE]: one RPC on its own connection; the response (JSON)
# on stdout, the error text on stderr; the exit status is kata-agent-ctl's (1 = error status).
vm_call() {
	local to=60s
	if [[ $1 == --timeout ]]; then to=$2; shift 2; fi
	"$VM_CTL" --addr "$VM_ADDR" --timeout "$to" call "$@"
}

# vm_wait_exit SECONDS: waits for QEMU to end by itself (guest power-off); VM_QEMU_RC is its
# exit status (124/137 mean the lifetime bound killed it).
vm_wait_exit() {
	local limit=$1 deadline
	deadline=$((SECONDS + limit))
	while vm_qemu_alive && ((SECONDS < deadline)); do sleep 0.2; done
	if vm_qemu_alive; then
		return 1
	fi
	VM_QEMU_RC=0
	wait "$VM_QEMU_PID" 2>/dev/null || VM_QEMU_RC=$?
	VM_QEMU_PID=
	return 0
}

# vm_connect_port PORT SECONDS [PROMPT [UNTIL]]: opens a hybrid-vsock stream to guest PORT and
# prints what the guest sends until it closes the stream or SECONDS pass (for the log and
# debug-console ports).  Input comes from stdin (the script itself comes on fd 3, so a
# here-document does not take stdin's place).  With PROMPT (a regular expression: VM_SH_PROMPT),
# the input is sent only once the output so far (carriage returns dropped) matches it at its
# end: typed at a shell's prompt, as a user types, not ahead of the shell's line editing.  With
# UNTIL, reading stops at the first output line equal to UNTIL: a reader that knows its end
# needs no quiet period, and SECONDS stays a limit, not a wait.
# The guest shell's prompt for vm_connect_port: "# " (root) or "$ ", and after it the cursor
# position query (ESC [ 6 n) that the busybox of Debian's x86_64 guest sends when its line
# editing starts.
VM_SH_PROMPT='[#$] (\x1b\[6n)?'

vm_connect_port() {
	python3 /dev/fd/3 "$VM_UDS" "$1" "$2" "${3:-}" "${4:-}" 3<<'PY'
import re, select, socket, sys, time
uds, port, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
prompt = re.compile((sys.argv[4] + r"\Z").encode()) if sys.argv[4] else None
until = sys.argv[5].encode() if sys.argv[5] else None
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(limit)
s.connect(uds)
s.sendall(b"CONNECT %d\n" % port)
line = b""
while not line.endswith(b"\n"):
    c = s.recv(1)
    if not c:
        sys.exit("no OK from the back-end for port %d" % port)
    line += c
if not line.startswith(b"OK"):
    sys.exit("back-end answered %r" % line)
data = sys.stdin.buffer.read()
seen = b""
def send_input():
    global data
    if data:
        s.sendall(data)
    data = b""
if prompt is None:
    send_input()
start = time.monotonic()
end = start + limit
closed = False
s.setblocking(False)
while time.monotonic() < end:
    r, _, _ = select.select([s], [], [], max(0.0, end - time.monotonic()))
    if not r:
        break
    chunk = s.recv(65536)
    if not chunk:
        closed = True
        break
    sys.stdout.buffer.write(chunk)
    sys.stdout.buffer.flush()
    seen += chunk.replace(b"\r", b"")
    if data and prompt is not None and prompt.search(seen):
        s.setblocking(True)
        send_input()
        s.setblocking(False)
    if until is not None and until in seen.split(b"\n"):
        sys.exit(0)
how = ("the guest closed the stream after %.1f s (%d bytes)" % (time.monotonic() - start, len(seen))
       if closed else "nothing more within %g s" % limit)
if data:
    sys.exit("no prompt: %s" % how)
if until is not None:
    sys.exit("no line %r: %s" % (until.decode(), how))
PY
}

# vm_guest_sh LINE [SECONDS]: runs LINE (one shell line) in the guest's debug console (port
# 1026), typed at the shell's prompt, and prints its output only: what comes between two marker
# lines the guest shell computes, so the echo of the input (by the pty, or by ash's line editing
# as it reads the line) cannot be taken for output.  Reading ends at the closing marker.  Fails
# when the closing marker does not come within SECONDS (default 60), with a note on stderr but
# status 0 (the caller judges the output, which is then empty or cut short; a status would end a
# `set -e` caller's `got=$(...)`).  Raw output and errors stay in $VM_WORK/guest-sh.out and .err.  The riscv64 guest's busybox is small
# (tests/vm/build-busybox.sh): sh, cat, ls, grep, sed, wc, ...; no stat, cut, tr or pidof.
vm_guest_sh() {
	[[ $1 != *$'\n'* ]] || { echo "vm_guest_sh: one line only" >&2; return 1; }
	local rc=0
	# shellcheck disable=SC2016 # expanded by the guest shell
	printf 'printf "KAC%%sB\\n" -; %s; printf "KAC%%sE\\n" -\nexit\n' "$1" |
		vm_connect_port 1026 "${2:-60}" "$VM_SH_PROMPT" KAC-E >"$VM_WORK/guest-sh.out" \
			2>"$VM_WORK/guest-sh.err" || rc=$?
	((rc == 0)) || echo "vm_guest_sh: $(tail -n 1 "$VM_WORK/guest-sh.err") (running: $1)" >&2
	tr -d '\r' <"$VM_WORK/guest-sh.out" | sed -n '/^KAC-B$/,/^KAC-E$/p' | sed '1d;$d'
}

# vm_expect_guest NAME LINE WANT: the guest's output of LINE (vm_guest_sh) must equal WANT;
# reports through the calling script's result STATUS NAME [DETAIL].
vm_expect_guest() {
	local got
	got=$(vm_guest_sh "$2")
	if [[ $got == "$3" ]]; then
		result ok "$1"
	else
		result FAIL "$1" "guest printed '${got:0:300}', want '$3'"
	fi
}

# Guest console (and QEMU's own messages) for failure reports.
vm_dump() {
	local n=${1:-60}
	{
		echo "--- guest console ($VM_WORK/console.log, last $n lines) ---"
		tr -d '\r' <"$VM_WORK/console.log" 2>/dev/null | tail -n "$n" || true
		echo "--- qemu ($VM_WORK/qemu.log) ---"
		cat "$VM_WORK/qemu.log" 2>/dev/null || true
		echo "--- vhost-user-vsock (last 20 lines) ---"
		tail -n 20 "$VM_WORK/backend.log" 2>/dev/null || true
		echo "--- end ---"
	} >&2
}

# vm_agent_log_ms: "listening N ms after start" from the agent's debug log, on the console or (with
# agent.log_vport) in $VM_WORK/logport.out, which kata-sequence.sh fills from port 1025.  The
# emulated UART runs behind the guest under TCG, so the line may take a moment to show up.
vm_agent_log_ms() {
	local v i
	for ((i = 0; i < 50; i++)); do
		v=$({ cat "$VM_WORK/console.log" "$VM_WORK/logport.out" 2>/dev/null || true; } | tr -d '\r' |
			sed -n 's/.*"msg":"listening \([0-9.]*\) ms after start".*/\1/p' | sed -n 1p)
		[[ -z $v ]] || break
		sleep 0.1
	done
	printf '%s\n' "$v"
}

# Default artifact paths for an arch and boot path (relative to the repository root).
vm_default_kernel() { # ARCH BOOT
	case $1/$2 in
	x86_64/bzimage) echo build/x86_64/kernel/bzImage ;;
	x86_64/pvh) echo build/x86_64/kernel/vmlinux ;;
	riscv64/virt) echo build/riscv64/kernel/Image ;;
	esac
}
