#!/usr/bin/env bash
# kata-sequence.sh: boot our kernel + initrd (agent as /init) under QEMU TCG behind our
# vhost-user-vsock back-end, then drive the agent over hybrid vsock with kata-agent-ctl through
# the call sequence the Kata Go runtime sends for `ctr run busybox date` (docs/PROTOCOL.md §3):
#
#   Check, Version, [debug console 1026], CreateSandbox (9p kataShared share + ephemeral shm;
#   blk mode: shm only), GetGuestDetails, CreateContainer (tty, `date`; blk mode: a blk Storage
#   for the rootfs disk), OnlineCPUMem, UpdateEphemeralMounts, StartContainer, ReadStdout until
#   EOF, WaitProcess (0), RemoveContainer, RemoveStaleVirtiofsShareMounts; then a second (pod)
#   container running `sleep 600`, because exec needs a running container: ExecProcess
#   `echo exec-ok` + ReadStdout + WaitProcess (0), ExecProcess `sleep 600` + SignalProcess
#   (SIGTERM) + WaitProcess (143), the runtime's stop: SignalProcess (SIGKILL, exec_id "") +
#   WaitProcess (137) + RemoveContainer + RemoveStaleVirtiofsShareMounts; DestroySandbox, after
#   which the guest must power off by itself; and the agent's log must have come out on port 1025.
#
# Then (tests/vm/rpc-extras.sh) the guest-wide RPCs: DNS, GetVolumeStats, CopyFile,
# SetGuestDateTime, ReseedRandomDev, MemHotplugByProbe, AddSwap, AddSwapPath, OnlineCPUMem with
# nb_cpus, WriteStdin closing stdin, CreateSandbox's kernel_modules; and which cgroup hierarchy
# (--cgroup 1|2: v1, or the runtimes' v2 kernel parameters) the agent put the container in.
#
# A step the agent answers with UNIMPLEMENTED (or a port it does not serve) is reported PENDING and
# counted as skipped, unless --strict (make check-vm's default): then it fails.  Any other error,
# or a wrong answer, fails.
# Requests are tests/vm/requests/*.json (proto field names, see agent/proto/).
# shellcheck disable=SC2034 # VM_* variables are read by tests/vm/lib.sh
set -euo pipefail

readonly PROG=${0##*/}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
readonly REQ=$HERE/requests
# shellcheck source=tests/vm/lib.sh disable=SC1091
source "$HERE/lib.sh"
# shellcheck source=tests/vm/rpc-extras.sh disable=SC1091
source "$HERE/rpc-extras.sh"
# shellcheck source=tests/vm/passfd.sh disable=SC1091
source "$HERE/passfd.sh"
# shellcheck source=tests/vm/diag.sh disable=SC1091
source "$HERE/diag.sh"

readonly CID=7a3f5c1e9b2d4c6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6
readonly CID2=9b1d4f7a2c5e8b0d3f6a9c2e5b8d1f4a7c0e3b6d9f2a5c8e1b4d7f0a3c6e9b2d
readonly EXEC_ECHO=0f8e2b7c-3d41-4a6e-9c55-1b2a3c4d5e6f
readonly EXEC_SLEEP=5c9d1e2f-7a8b-4c3d-8e9f-0a1b2c3d4e5f

mode=9p rootfs='' disk='' strict=0 boot_timeout=300 only_boot=0 replay=0 cgroup=1 append=''
VM_ARCH=x86_64 VM_BOOT=bzimage VM_KERNEL='' VM_INITRD='' VM_WORK='' VM_BACKEND='' VM_CTL=''

usage() {
	cat <<EOF
Usage: $PROG --arch x86_64|riscv64 --boot bzimage|pvh|virt --kernel FILE --initrd FILE
             --backend FILE --ctl FILE --workdir DIR
             [--mode 9p|blk] [--rootfs DIR | --disk IMG] [--readers FILE] [--boot-only]
             [--strict] [--cgroup 1|2] [--image IMG --image-dev nvdimm|virtio-pmem]

  --kernel FILE     bzImage (bzimage), vmlinux (pvh) or Image (virt)
  --initrd FILE     initrd with our agent as /init (make initrd)
  --backend FILE    build/host/vhost-user-vsock
  --ctl FILE        build/host/kata-agent-ctl
  --workdir DIR     scratch directory: console.log, qemu.log, backend.log, step outputs
  --mode 9p         container rootfs from --rootfs DIR (busybox-rootfs.sh output) shared over 9p
  --mode blk        container rootfs on --disk IMG (our image builder's ext4 image, partition 1)
                    attached as virtio-blk; the agent's blk storage driver waits for it
  --readers FILE    build/host/tests/stdio_readers: stdio read the way each runtime version
                    reads it (Go before/after 2026-02, runtime-rs); without it that step fails
  --passfd-client FILE  build/host/tests/passfd_client: the host side of passfd I/O
                    (tests/vm/passfd.sh; the guest boots with agent.passfd_listener_port=1027);
                    without it those steps fail
  --image IMG       boot with our DAX image (build-image.sh --dax) as the root filesystem,
                    the agent starting from it as /sbin/init, instead of --initrd; after Version
                    the debug console must show the root mounted from pmem0p1 with DAX (mount
                    option, queue/dax, pfn device, namespace in fsdax mode); the rest of the
                    sequence runs as with the initrd unless --boot-only
  --image-dev DEV   nvdimm (QEMU NVDIMM, Kata's default for images) or virtio-pmem (the Cloud
                    Hypervisor/PVM path); x86_64 only (QEMU 7.2's riscv64 virt has neither)
  --boot-only       stop after Check + Version (still requires the agent to answer)
  --append PARAMS   further kernel parameters (e.g. an agent.* option under test)
  --strict          UNIMPLEMENTED / unserved ports fail instead of being PENDING
  --cgroup 2        boot with cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1 (the Kata
                    runtimes' default) and check the container is in a cgroup v2 hierarchy;
                    1 (default): check it is in the v1 hierarchies
  --boot-timeout S  limit for QEMU start -> first Health.Check answer (default $boot_timeout)
  --replay          then boot a second, fresh guest and replay the run's vsock trace against it
                    with kata-agent-ctl replay: every call must end with the same status
  -h, --help        this text
EOF
}

die() {
	printf '%s: error: %s\n' "$PROG" "$*" >&2
	exit 2
}

while (($#)); do
	case $1 in
	--arch) VM_ARCH=${2:?}; shift 2 ;;
	--boot) VM_BOOT=${2:?}; shift 2 ;;
	--kernel) VM_KERNEL=${2:?}; shift 2 ;;
	--initrd) VM_INITRD=${2:?}; shift 2 ;;
	--backend) VM_BACKEND=${2:?}; shift 2 ;;
	--ctl) VM_CTL=${2:?}; shift 2 ;;
	--workdir) VM_WORK=${2:?}; shift 2 ;;
	--mode) mode=${2:?}; shift 2 ;;
	--rootfs) rootfs=${2:?}; shift 2 ;;
	--disk) disk=${2:?}; shift 2 ;;
	--readers) readers=${2:?}; shift 2 ;;
	--passfd-client) PASSFD_CLIENT=${2:?}; shift 2 ;;
	--boot-only) only_boot=1; shift ;;
	--append) append=${2?}; shift 2 ;;
	--image) VM_IMAGE=${2:?}; shift 2 ;;
	--image-dev) VM_IMAGE_DEV=${2:?}; shift 2 ;;
	--strict) strict=1; shift ;;
	--cgroup) cgroup=${2:?}; shift 2 ;;
	--boot-timeout) boot_timeout=${2:?}; shift 2 ;;
	--replay) replay=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown argument '$1'" ;;
	esac
done
case $mode in
9p) ((only_boot)) || [[ -d $rootfs/$CID/rootfs && -d $rootfs/$CID2/rootfs ]] ||
	die "--rootfs DIR must hold $CID/rootfs and $CID2/rootfs (busybox-rootfs.sh)" ;;
blk) [[ -f $disk ]] || die "--disk IMG is required with --mode blk" ;;
*) die "--mode must be 9p or blk" ;;
esac
[[ $cgroup == 1 || $cgroup == 2 ]] || die "--cgroup must be 1 or 2"
label="$VM_ARCH/$VM_BOOT/$mode"
[[ $cgroup == 2 ]] && label+=/cgroup2
if [[ -n ${VM_IMAGE:-} ]]; then
	[[ -f $VM_IMAGE ]] || die "--image $VM_IMAGE does not exist"
	case $VM_IMAGE_DEV in
	nvdimm | virtio-pmem) ;;
	*) die "--image-dev must be nvdimm or virtio-pmem" ;;
	esac
	[[ $VM_ARCH == x86_64 ]] || die "--image: QEMU 7.2's riscv64 virt has neither nvdimm nor virtio-pmem-pci"
	label="$VM_ARCH/$VM_BOOT/$VM_IMAGE_DEV-root/$mode"
fi

# Skip only when this host genuinely cannot run the variant (scripts/setup.sh installs these).
need=(qemu-system-"$VM_ARCH")
[[ $VM_BOOT == pvh ]] && need+=("$VM_QBOOT")
[[ $VM_BOOT == virt ]] && need+=("$VM_OPENSBI")
for n in "${need[@]}"; do
	if ! command -v "$n" >/dev/null && [[ ! -f $n ]]; then
		echo "$PROG: [$label] SKIPPED: $n is not available on this host"
		echo "0 passed, 0 failed, 1 skipped"
		exit 0
	fi
done
rm -rf "$VM_WORK"
mkdir -p "$VM_WORK/steps"
[[ $mode == 9p && -n $rootfs ]] && VM_SHARE=$(cd "$rootfs" && pwd)
[[ $mode == blk ]] && VM_DISK=$disk
VM_APPEND="agent.log_vport=1025 agent.debug_console agent.debug_console_vport=1026"
[[ $cgroup == 2 ]] && VM_APPEND+=" cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1"
[[ -z $append ]] || VM_APPEND+=" $append"
((only_boot)) || extras_qemu_setup
((only_boot)) || passfd_qemu_setup

passed=0 failed=0 skipped=0 nstep=0
summary=()
result() { # STATUS NAME DETAIL
	case $1 in
	ok) passed=$((passed + 1)) ;;
	FAIL) failed=$((failed + 1)) ;;
	PENDING | SKIP) skipped=$((skipped + 1)) ;;
	esac
	summary+=("$(printf '%-8s %s%s' "$1" "$2" "${3:+ ($3)}")")
	printf '%s: [%s] %-8s %s%s\n' "$PROG" "$label" "$1" "$2" "${3:+ ($3)}"
}
pending() { # NAME DETAIL
	if ((strict)); then result FAIL "$1" "$2 (--strict)"; else result PENDING "$1" "$2"; fi
}

# call NAME TIMEOUT METHOD REQUEST [CHECK_FN]: one RPC; OUT holds the response.  CHECK_FN gets the
# response file and prints a reason on stdout when it is wrong.  Returns 0 only on a good answer.
OUT=
call() {
	local name=$1 to=$2 method=$3 req=$4 check=${5:-} rc=0 why
	nstep=$((nstep + 1))
	OUT=$VM_WORK/steps/$(printf '%02d' "$nstep")-$method
	vm_call --timeout "$to" "$method" "$req" >"$OUT.out" 2>"$OUT.err" || rc=$?
	if ((rc == 0)); then
		if [[ -n $check ]] && ! why=$("$check" "$OUT.out"); then
			result FAIL "$name" "$why; got $(head -c 300 "$OUT.out")"
			return 1
		fi
		result ok "$name"
		return 0
	fi
	if ((rc == 1)) && grep -q 'UNIMPLEMENTED' "$OUT.err"; then
		pending "$name" "agent: $(head -c 200 "$OUT.err")"
		return 1
	fi
	result FAIL "$name" "rc $rc: $(head -c 300 "$OUT.err")"
	guest_gone
	return 1
}

# After a transport failure: if QEMU has gone (guest panic, power-off), every later step would
# fail the same way, so stop here with the console.
guest_gone() {
	vm_qemu_alive && return 0
	[[ $method == DestroySandbox ]] && return 0
	result FAIL "guest still running" "QEMU exited during the sequence"
	dump_and_exit
}

json_field() { # FILE KEY: a scalar field of a one-line JSON response
	jq -r --arg k "$2" '.[$k] // empty' "$1"
}
expect_serving() { [[ $(json_field "$1" status) == SERVING ]] || echo "status is not SERVING"; }
expect_version() { [[ -n $(json_field "$1" agent_version) ]] || echo "no agent_version"; }
# Memory blocks (/sys/devices/system/memory/block_size_bytes) exist only with memory hotplug;
# without it the Rust agent answers 0, so only a hotplug kernel must report a size.
kernel_config=$(dirname "$VM_KERNEL")/config
expect_details() {
	local bs
	bs=$(json_field "$1" mem_block_size_bytes)
	if grep -qx 'CONFIG_MEMORY_HOTPLUG=y' "$kernel_config" 2>/dev/null &&
		{ ! [[ $bs =~ ^[0-9]+$ ]] || ((bs == 0)); }; then
		echo "mem_block_size_bytes missing or 0 (the kernel has CONFIG_MEMORY_HOTPLUG=y)"
		return 1
	fi
	[[ -n $(jq -r '.agent_details.version // empty' "$1") ]] || { echo "no agent_details.version"; return 1; }
	[[ $(jq -r '.agent_details.init_daemon // false' "$1") == true ]] || { echo "init_daemon is not true"; return 1; }
}
WAIT_WANT=0
expect_status() {
	local s
	s=$(jq -r '.status // 0' "$1")
	[[ $s == "$WAIT_WANT" ]] || echo "exit status $s, want $WAIT_WANT"
}

# read_until_eof NAME EXEC_ID OUTFILE [CONTAINER_ID]: ReadStdout until an empty answer (EOF),
# bounded.
read_until_eof() {
	local name=$1 eid=$2 dst=$3 cid=${4:-$CID} i data deadline rc
	: >"$dst"
	deadline=$((SECONDS + 180))
	for ((i = 1; i <= 1000 && SECONDS < deadline; i++)); do
		rc=0
		vm_call --timeout 120s ReadStdout \
			"{\"container_id\":\"$cid\",\"exec_id\":\"$eid\",\"len\":32768}" \
			>"$VM_WORK/steps/read.out" 2>"$VM_WORK/steps/read.err" || rc=$?
		if ((rc != 0)); then
			if ((rc == 1)) && grep -q UNIMPLEMENTED "$VM_WORK/steps/read.err"; then
				pending "$name" "agent: $(head -c 200 "$VM_WORK/steps/read.err")"
			else
				result FAIL "$name" "ReadStdout call $i: rc $rc: $(head -c 300 "$VM_WORK/steps/read.err")"
				method=ReadStdout guest_gone
			fi
			return 1
		fi
		data=$(jq -r '.data // empty' "$VM_WORK/steps/read.out")
		if [[ -z $data ]]; then
			result ok "$name" "EOF after $((i - 1)) chunks, $(stat -c %s "$dst") bytes"
			return 0
		fi
		base64 -d <<<"$data" >>"$dst" || { result FAIL "$name" "data is not base64"; return 1; }
	done
	result FAIL "$name" "no EOF after $((i - 1)) reads"
	return 1
}

dump_and_exit() {
	vm_dump 80
	if [[ -s $VM_WORK/logport.out ]]; then
		echo "--- agent log from port 1025 (last 30 lines) ---" >&2
		tail -n 30 "$VM_WORK/logport.out" >&2
	fi
	echo "$passed passed, $failed failed, $skipped skipped"
	exit 1
}

# ---- boot ------------------------------------------------------------------------------------
vm_start || dump_and_exit
if vm_wait_agent "$boot_timeout"; then
	result ok "boot: Health.Check answered over hybrid vsock" "$(vm_ready_ms) ms after QEMU start"
else
	result FAIL "boot: Health.Check answered over hybrid vsock" "limit ${boot_timeout}s"
	dump_and_exit
fi
# The log port: the agent writes its log to the first connection on 1025 (docs/PROTOCOL.md §6.4).
# Read with `kata-agent-ctl logs --raw` (the lines as they come).
"$VM_CTL" --addr "$VM_ADDR" --connect-timeout 30s logs --raw </dev/null >"$VM_WORK/logport.out" \
	2>"$VM_WORK/logport.err" &
logport_pid=$!
trap 'kill "$logport_pid" 2>/dev/null || true; vm_cleanup' EXIT

call "Health.Check" 30s Check '{}' expect_serving || true
call "Health.Version" 30s Version '{}' expect_version || true
ms=$(vm_agent_log_ms)
if [[ -n $ms ]]; then
	result ok "agent log: /init exec -> listening" "$ms ms guest time"
else
	pending "agent log: /init exec -> listening" "no 'listening N ms after start' line on the console"
fi

# Image root: the agent came up from pmem0p1; DAX must really be in effect on / (reference:
# Kata mounts kata-containers.img with rootflags=dax).  Read through the debug console:
#  - /proc/mounts: / is ext4, ro, with dax (dax=always); ext4 refuses a dax mount on a device
#    without DAX, so the option there means the filesystem got its dax device;
#  - the block queue of pmem0 says dax 1;
#  - pmem0 is the disk of a pfn device (the image's PFN info block gives the pmem struct pages,
#    which fsdax needs; rootfs-builder/nsdax.c writes mode ram: the memmap lives in guest RAM),
#    whose namespace is claimed in fsdax mode ("memory" in sysfs, ndctl's "fsdax").
check_image_root() {
	local out=$VM_WORK/image-root.out rc=0 rootline opts v
	# shellcheck disable=SC2016 # expanded by the guest shell
	printf '%s\n' 'cat /proc/mounts; cat /proc/partitions; b=$(readlink -f /sys/block/pmem0)' \
		'echo blk: $b; echo qdax: $(cat /sys/block/pmem0/queue/dax); p=${b%/block/pmem0}' \
		'echo pfnmode: $(cat $p/mode); echo nsmode: $(cat /sys/bus/nd/devices/$(cat $p/namespace)/mode)' \
		'echo kac-root-end' \
		exit | vm_connect_port 1026 60 "$VM_SH_PROMPT" kac-root-end >"$out" 2>"$VM_WORK/image-root.err" || rc=$?
	tr -d '\r' <"$out" >"$out.txt"
	if ! grep -qx 'kac-root-end' "$out.txt"; then
		result FAIL "image root: read /proc/mounts and sysfs over the debug console" "rc $rc: $(head -c 200 "$VM_WORK/image-root.err")"
		return
	fi
	rootline=$(awk '$2 == "/" && $1 != "rootfs" { l = $0 } END { print l }' "$out.txt")
	opts=
	[[ $rootline =~ ^[^\ ]+\ /\ ext4\ ([^ ]+) ]] && opts=${BASH_REMATCH[1]}
	if [[ ,$opts, == *,ro,* ]]; then
		result ok "image root: / is ext4, read-only" "$rootline"
	else
		result FAIL "image root: / is ext4, read-only" "root line: '$rootline'"
	fi
	if [[ ,$opts, =~ ,dax(=always)?, ]]; then
		result ok "image root: / mounted with dax" "$opts"
	else
		result FAIL "image root: / mounted with dax" "mount options: '$rootline'"
	fi
	if grep -qE '[[:space:]]pmem0p1$' "$out.txt"; then result ok "image root: pmem0p1 present"
	else result FAIL "image root: pmem0p1 present" "$(grep pmem "$out.txt" | tr '\n' ' ')"; fi
	v=$(sed -n 's/^qdax: //p' "$out.txt")
	if [[ $v == 1 ]]; then result ok "image root: pmem0's queue supports DAX" "queue/dax $v"
	else result FAIL "image root: pmem0's queue supports DAX" "queue/dax '$v'"; fi
	# The image's PFN info block makes pmem0 the block device of a pfn (struct page) device,
	# not of the raw namespace (the idle pfnN.0 seed exists either way, so look at pmem0).
	v="$(sed -n 's/^pfnmode: //p' "$out.txt") $(sed -n 's/^nsmode: //p' "$out.txt")"
	if grep -qE '^blk: .*/pfn[0-9]+\.[0-9]+/block/pmem0$' "$out.txt" && [[ $v == 'ram memory' ]]; then
		result ok "image root: pmem0 sits on a pfn device, its namespace in fsdax mode" \
			"$(sed -n 's/^blk: //p' "$out.txt"); pfn mode, namespace mode: $v"
	else
		result FAIL "image root: pmem0 sits on a pfn device, its namespace in fsdax mode" \
			"$(sed -n 's/^blk: //p' "$out.txt"); pfn mode, namespace mode: '$v'"
	fi
}
[[ -z ${VM_IMAGE:-} ]] || check_image_root

if ((only_boot)); then
	kill "$logport_pid" 2>/dev/null || true
	((failed == 0)) || dump_and_exit
	echo "$passed passed, $failed failed, $skipped skipped"
	exit 0
fi

# Debug console: a shell on vsock port 1026 (needs /bin/sh in the initrd).
if grep -qE ' /bin/sh( |$)' "$VM_INITRD.list" 2>/dev/null; then
	rc=0
	# shellcheck disable=SC2016 # the guest shell expands it: the echoed input cannot match
	printf 'echo kac-$((6*7))-dbg\nexit\n' |
		vm_connect_port 1026 60 "$VM_SH_PROMPT" kac-42-dbg >"$VM_WORK/debug-console.out" \
		2>"$VM_WORK/debug-console.err" || rc=$?
	if grep -q 'kac-42-dbg' "$VM_WORK/debug-console.out"; then
		result ok "debug console on port 1026 runs a shell command"
	elif ((rc != 0)); then
		pending "debug console on port 1026" "$(head -c 200 "$VM_WORK/debug-console.err")"
	else
		result FAIL "debug console on port 1026" "connected, but no command output"
	fi
else
	result SKIP "debug console on port 1026" "no /bin/sh in $VM_INITRD"
fi

# The same through `kata-agent-ctl console`.
if grep -qE ' /bin/sh( |$)' "$VM_INITRD.list" 2>/dev/null; then
	rc=0
	# Typed the way a user types: at the shell's prompt.
	rm -f "$VM_WORK/ctl-console.in"
	mkfifo "$VM_WORK/ctl-console.in"
	timeout 60 "$VM_CTL" --addr "$VM_ADDR" console <"$VM_WORK/ctl-console.in" \
		>"$VM_WORK/ctl-console.out" 2>&1 &
	ctl_pid=$!
	exec {ctl_in}>"$VM_WORK/ctl-console.in"
	prompt=no
	for _ in {1..300}; do
		grep -qaP "$VM_SH_PROMPT\$" "$VM_WORK/ctl-console.out" 2>/dev/null && { prompt=yes; break; }
		sleep 0.1
	done
	# shellcheck disable=SC2016 # the guest shell expands it: the echoed input cannot match
	printf 'echo kac-$((6*7))-ctl\nexit\n' >&"$ctl_in"
	exec {ctl_in}>&-
	wait "$ctl_pid" || rc=$?
	if [[ $prompt == no ]]; then
		result FAIL "kata-agent-ctl console runs a shell command" "no shell prompt within 30 s: $(head -c 200 "$VM_WORK/ctl-console.out")"
	elif grep -q 'kac-42-ctl' "$VM_WORK/ctl-console.out"; then
		result ok "kata-agent-ctl console runs a shell command"
	else
		result FAIL "kata-agent-ctl console runs a shell command" "rc $rc: $(head -c 200 "$VM_WORK/ctl-console.out")"
	fi
	# Piped, as scripts use it: the commands and the end of input at once, before the shell
	# has even started.  The agent types the end of input once the shell has read the
	# commands (and again after busybox ash's switch to raw mode), so they run and the session
	# ends: ctl exits 0 when the guest closes.
	rc=0
	# shellcheck disable=SC2016 # the guest shell expands it
	timeout 60 "$VM_CTL" --addr "$VM_ADDR" console <<<'echo kac-$((6*8))-piped' \
		>"$VM_WORK/ctl-piped.out" 2>&1 || rc=$?
	if [[ $rc -eq 0 ]] && grep -q 'kac-48-piped' "$VM_WORK/ctl-piped.out"; then
		result ok "kata-agent-ctl console with piped input runs it and ends"
	else
		result FAIL "kata-agent-ctl console with piped input runs it and ends" "rc $rc$( ((rc == 124)) && echo ' (no end within 60 s)'): $(tail -c 200 "$VM_WORK/ctl-piped.out")"
	fi
fi

# ---- sandbox and container (docs/PROTOCOL.md §3.3, §3.4) ----------------------------------------------
sbreq=$REQ/create-sandbox.json
[[ $mode == 9p ]] || sbreq=$REQ/create-sandbox-blk.json
extras_modules "$sbreq"
call CreateSandbox 60s CreateSandbox "@$sbreq" || true
call GetGuestDetails 60s GetGuestDetails "@$REQ/guest-details.json" expect_details || true

# blk mode: each container's rootfs is the disk at PCI slot 05, mounted (read-only) at its path.
with_blk() { # CID REQUEST -> request with a blk Storage for that container
	jq --slurpfile s "$REQ/storage-blk.json" \
		--arg m "/run/kata-containers/shared/containers/$1/rootfs" \
		'.storages = [$s[0] | .mount_point = $m]' "$2"
}
ccreq=$REQ/create-container.json ccreq2=$REQ/create-container-sleep.json
if [[ $mode == blk ]]; then
	with_blk "$CID" "$ccreq" >"$VM_WORK/create-container-blk.json"
	with_blk "$CID2" "$ccreq2" >"$VM_WORK/create-container-sleep-blk.json"
	ccreq=$VM_WORK/create-container-blk.json ccreq2=$VM_WORK/create-container-sleep-blk.json
fi
call "CreateContainer (tty, date)" 120s CreateContainer "@$ccreq" || true
call OnlineCPUMem 60s OnlineCPUMem "@$REQ/online-cpu-mem.json" || true
# The Go runtime ignores UNIMPLEMENTED here (docs/PROTOCOL.md §3.3 step 8), so both answers pass.
nstep=$((nstep + 1))
rc=0
vm_call --timeout 60s UpdateEphemeralMounts "@$REQ/update-ephemeral-mounts.json" \
	>"$VM_WORK/steps/uem.out" 2>"$VM_WORK/steps/uem.err" || rc=$?
if ((rc == 0)); then
	result ok UpdateEphemeralMounts
elif ((rc == 1)) && grep -q UNIMPLEMENTED "$VM_WORK/steps/uem.err"; then
	result ok UpdateEphemeralMounts "UNIMPLEMENTED, which the runtime tolerates"
else
	result FAIL UpdateEphemeralMounts "rc $rc: $(head -c 300 "$VM_WORK/steps/uem.err")"
fi
call StartContainer 60s StartContainer "@$REQ/start-container.json" || true

if read_until_eof "ReadStdout until EOF (container init)" "$CID" "$VM_WORK/date.out"; then
	out=$(tr -d '\r' <"$VM_WORK/date.out")
	printf '%s: container output: %s\n' "$PROG" "$out"
	if [[ $out =~ ^[A-Z][a-z]{2}\ [A-Z][a-z]{2}\ +[0-9]{1,2}\ [0-9]{2}:[0-9]{2}:[0-9]{2}\ [A-Z]+\ [0-9]{4}$ ]]; then
		result ok "container printed the date"
	else
		result FAIL "container printed the date" "got '$out'"
	fi
fi
WAIT_WANT=0
call "WaitProcess (init, status 0)" 120s WaitProcess \
	"{\"container_id\":\"$CID\",\"exec_id\":\"$CID\"}" expect_status || true
# The exited container is stopped as the runtime does (docs/PROTOCOL.md §3.7).
call "RemoveContainer (date)" 120s RemoveContainer "@$REQ/remove-container.json" || true
call RemoveStaleVirtiofsShareMounts 60s RemoveStaleVirtiofsShareMounts '{}' || true

# ---- exec and signal (docs/PROTOCOL.md §3.6, §3.7) ---------------------------------------------------
# Exec needs a running container, so a second one (a pod container running `sleep 600`) takes them.
call "CreateContainer (second container, sleep 600)" 120s CreateContainer "@$ccreq2" || true
call "StartContainer (second container)" 60s StartContainer "@$REQ/start-container-sleep.json" || true
if call "ExecProcess (echo exec-ok)" 60s ExecProcess "@$REQ/exec-echo.json"; then
	if read_until_eof "ReadStdout until EOF (exec)" "$EXEC_ECHO" "$VM_WORK/exec.out" "$CID2"; then
		if [[ $(<"$VM_WORK/exec.out") == exec-ok ]]; then
			result ok "exec printed exec-ok"
		else
			result FAIL "exec printed exec-ok" "got '$(head -c 100 "$VM_WORK/exec.out")'"
		fi
	fi
	WAIT_WANT=0
	call "WaitProcess (exec, status 0)" 120s WaitProcess \
		"{\"container_id\":\"$CID2\",\"exec_id\":\"$EXEC_ECHO\"}" expect_status || true
fi
# ---- stdout/stderr EOF as each runtime version reads it (docs/PROTOCOL.md) --------------------
# Go before 2026-02 stops only on an error, Go since then and runtime-rs on empty data: every
# reader must end within two calls of EOF, pipe and tty, and WaitProcess comes only after.
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
for rmode in go-2023 go-2026 rs; do
	for tty in false true; do
		eid="eof-$rmode-$tty" name="$rmode reader ends at EOF (exec, tty=$tty)"
		req=$(printf '{"container_id":"%s","exec_id":"%s","process":{"Terminal":%s,"User":{"UID":0,"GID":0},"Args":["sh","-c","echo out-%s; echo err >&2; exit 3"],"Env":["PATH=/bin:/usr/bin"],"Cwd":"/"}}' \
			"$CID2" "$eid" "$tty" "$rmode")
		call "ExecProcess ($rmode reader, tty=$tty)" 60s ExecProcess "$req" || continue
		if [[ -z ${readers:-} ]]; then
			result FAIL "$name" "no --readers given"
			continue
		fi
		targs=(--addr "$VM_ADDR" --cid "$CID2" --eid "$eid" --mode "$rmode")
		[[ $tty == true ]] && targs+=(--tty)
		rout=$(timeout 120 "$readers" "${targs[@]}" 2>&1) || true
		if [[ $rout == *"stdout=$(hex "out-$rmode")"*"status=3 "*"verdict=ok"* ]]; then
			result ok "$name" "${rout##*status=}"
		else
			result FAIL "$name" "$(head -c 300 <<<"$rout")"
		fi
	done
done
if call "ExecProcess (sleep 600)" 60s ExecProcess "@$REQ/exec-sleep.json"; then
	call "SignalProcess (SIGTERM to the exec'd sleep)" 60s SignalProcess \
		"{\"container_id\":\"$CID2\",\"exec_id\":\"$EXEC_SLEEP\",\"signal\":15}" || true
	WAIT_WANT=143
	call "WaitProcess (exec'd sleep, status 143)" 120s WaitProcess \
		"{\"container_id\":\"$CID2\",\"exec_id\":\"$EXEC_SLEEP\"}" expect_status || true
fi

# ---- kata-agent-ctl exec on the same container (docs/DEBUGGING.md) ----
ctl_exec() { timeout 180 "$VM_CTL" --addr "$VM_ADDR" --connect-timeout 10s exec "$CID2" "$@"; }
rc=0
ctl_exec -- sh -c 'echo ctl-out; echo ctl-err >&2; exit 5' </dev/null >"$VM_WORK/ctl-exec.out" \
	2>"$VM_WORK/ctl-exec.err" || rc=$?
if ((rc == 5)) && [[ $(<"$VM_WORK/ctl-exec.out") == ctl-out && $(<"$VM_WORK/ctl-exec.err") == ctl-err ]]; then
	result ok "kata-agent-ctl exec: stdout, stderr and exit status 5"
else
	result FAIL "kata-agent-ctl exec: stdout, stderr and exit status 5" \
		"rc $rc, out '$(head -c 100 "$VM_WORK/ctl-exec.out")', err '$(head -c 200 "$VM_WORK/ctl-exec.err")'"
fi
rc=0
printf 'vm-stdin\n' | ctl_exec -- cat >"$VM_WORK/ctl-exec-stdin.out" 2>&1 || rc=$?
if ((rc == 0)) && [[ $(<"$VM_WORK/ctl-exec-stdin.out") == vm-stdin ]]; then
	result ok "kata-agent-ctl exec: stdin to cat and back, then EOF"
else
	result FAIL "kata-agent-ctl exec: stdin to cat and back, then EOF" "rc $rc: $(head -c 200 "$VM_WORK/ctl-exec-stdin.out")"
fi
rc=0
ctl_exec --tty-size 33x99 -- sh -c 'sleep 2; stty size' </dev/null >"$VM_WORK/ctl-exec-tty.out" 2>&1 || rc=$?
if ((rc == 0)) && [[ $(tr -d '\r' <"$VM_WORK/ctl-exec-tty.out") == "33 99" ]]; then
	result ok "kata-agent-ctl exec --tty: a terminal of the size asked for (TtyWinResize)"
else
	result FAIL "kata-agent-ctl exec --tty: a terminal of the size asked for (TtyWinResize)" \
		"rc $rc: $(head -c 200 "$VM_WORK/ctl-exec-tty.out")"
fi

# ---- only the host talks to the agent (README) -------------------------------------------------
# A container process tries the agent's ports (API, log, debug console) on CID 1 and on the
# guest's own CID: every attempt must be refused or hung up on, while this script (the host)
# keeps its connection.  vsock-probe is in the 9p share (busybox-rootfs.sh) and in the blk image
# (vm.mk's --extra).
rc=0
ctl_exec -- /bin/vsock-probe 1024,1025,1026 1 "$VM_GUEST_CID" </dev/null \
	>"$VM_WORK/vsock-probe.out" 2>&1 || rc=$?
probe_lines=$(grep -c '^cid .* port .*: \(refused\|closed by the peer\)' "$VM_WORK/vsock-probe.out" || true)
if ((rc == 0 && probe_lines == 6)); then
	result ok "a container process cannot reach the agent's vsock ports on the local CIDs" \
		"$(sed -n 1p "$VM_WORK/vsock-probe.out")"
else
	probe_out=$(tr '\n' ';' <"$VM_WORK/vsock-probe.out")
	result FAIL "a container process cannot reach the agent's vsock ports on the local CIDs" \
		"rc $rc: ${probe_out:0:400}"
fi
call "Check after the in-guest probes (the host is still served)" 60s Check '{}' expect_serving || true

# ---- the cgroup hierarchy the agent used, and the guest-wide RPCs (rpc-extras.sh) ------------
# v2: /sys/fs/cgroup is cgroup2 and the container's init (the only sleep) has one "0::/PATH"
# line, PATH a real cgroup holding it.  v1: /sys/fs/cgroup is the tmpfs of the v1 hierarchies
# and the init is in a memory cgroup of its own.
# shellcheck disable=SC2016 # the guest shell expands it
cg=$(vm_guest_sh 'grep " /sys/fs/cgroup " /proc/mounts | sed "s/^[^ ]* [^ ]* \([^ ]*\) .*/fs \1/"; for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = sleep ] && echo "pid ${p#/proc/}" && cat $p/cgroup; done')
cgpid=$(sed -n 's/^pid //p' <<<"$cg")
if [[ $cgroup == 2 ]]; then
	cgpath=$(sed -n 's/^0::\(\/..*\)$/\1/p' <<<"$cg")
	if [[ $(sed -n 1p <<<"$cg") == 'fs cgroup2' && $(grep -c '^[0-9]*:' <<<"$cg") == 1 && -n $cgpath && -n $cgpid ]] &&
		grep -qx "$cgpid" <<<"$(vm_guest_sh "cat /sys/fs/cgroup$cgpath/cgroup.procs")"; then
		result ok "cgroup v2: the container's init is in $cgpath of the unified hierarchy"
	else
		result FAIL "cgroup v2: the container's init is in a cgroup of the unified hierarchy" "$(tr '\n' ';' <<<"$cg")"
	fi
else
	if [[ $(sed -n 1p <<<"$cg") == 'fs tmpfs' && -n $cgpid ]] && grep -Eq '^[0-9]+:memory:/.+' <<<"$cg"; then
		result ok "cgroup v1: the container's init is in a memory cgroup of the v1 hierarchies"
	else
		result FAIL "cgroup v1: the container's init is in a memory cgroup of the v1 hierarchies" "$(tr '\n' ';' <<<"$cg")"
	fi
fi
extras_run "$sbreq"
# passfd I/O and GetDiagnosticData (tests/vm/passfd.sh, tests/vm/diag.sh); both re-use the first
# container's id and rootfs, removed above.
passfd_run
diag_run

# ---- container stop and sandbox teardown (docs/PROTOCOL.md §3.7, §3.8) -------------------------------
call "SignalProcess (SIGKILL, exec_id \"\": the whole container)" 60s SignalProcess \
	"{\"container_id\":\"$CID2\",\"exec_id\":\"\",\"signal\":9}" || true
WAIT_WANT=137
call "WaitProcess (second container init, status 137)" 120s WaitProcess \
	"{\"container_id\":\"$CID2\",\"exec_id\":\"$CID2\"}" expect_status || true
call "RemoveContainer (second container)" 120s RemoveContainer "@$REQ/remove-container-sleep.json" || true
call RemoveStaleVirtiofsShareMounts 60s RemoveStaleVirtiofsShareMounts '{}' || true
if call DestroySandbox 60s DestroySandbox '{}' || ! grep -q UNIMPLEMENTED "$OUT.err"; then
	# Also after a failed DestroySandbox: whether the guest still went down is worth knowing.
	if vm_wait_exit 180; then
		log=$(tr -d '\r' <"$VM_WORK/console.log")
		if [[ $log == *'reboot: Power down'* && $log != *'Kernel panic'* ]]; then
			result ok "guest powered off by itself after DestroySandbox" "QEMU rc $VM_QEMU_RC"
		else
			result FAIL "guest powered off by itself after DestroySandbox" "no clean power-down on the console"
		fi
	else
		result FAIL "guest powered off by itself after DestroySandbox" "still running after 180 s"
	fi
else
	result SKIP "guest power-off" "DestroySandbox is not implemented"
fi

# The log port saw the agent's JSON log lines (taken last: by now it has logged every call).
kill "$logport_pid" 2>/dev/null || true
wait "$logport_pid" 2>/dev/null || true
if grep -q '"name":"kata-agent"' "$VM_WORK/logport.out" 2>/dev/null; then
	result ok "agent log on port 1025" "$(grep -c '"name":"kata-agent"' "$VM_WORK/logport.out") lines"
elif [[ -s $VM_WORK/logport.out ]]; then
	result FAIL "agent log on port 1025" "connected, but no agent JSON log lines"
else
	pending "agent log on port 1025" "$(head -c 200 "$VM_WORK/logport.err")"
fi

# `kata-agent-ctl logs` pretty-prints the same lines: one "TS LEVEL source/subsystem: msg" each.
"$VM_CTL" logs --from "$VM_WORK/logport.out" >"$VM_WORK/logport.pretty" 2>&1 || true
njson=$(grep -c '"name":"kata-agent"' "$VM_WORK/logport.out" || true)
npretty=$(grep -cE '^[^ ]+ (trace|debug|info|warning|error|critical) +agent/[a-z-]+: ' "$VM_WORK/logport.pretty" || true)
if ((njson > 0 && npretty == njson)); then
	result ok "kata-agent-ctl logs pretty-prints the agent's log" "$npretty lines"
else
	result FAIL "kata-agent-ctl logs pretty-prints the agent's log" "$npretty of $njson lines: $(head -c 200 "$VM_WORK/logport.pretty")"
fi

# ---- the back-end's trace of this run (vhost-user-vsock --trace), kept in the work directory ----
# shellcheck disable=SC2016 # jq programs
if ! jq -e 'type == "object"' "$VM_TRACE" >/dev/null 2>&1; then
	result FAIL "vsock trace: JSON lines" "$(head -c 200 "$VM_TRACE")"
else
	nreq=$(jq -s '[.[] | select(.type == "request")] | length' "$VM_TRACE")
	nresp=$(jq -s '[.[] | select(.type == "response")] | length' "$VM_TRACE")
	if ((nreq >= 20 && nreq == nresp)) && jq -se '[.[] | select(.type == "request" or .type == "response")]
		| group_by([.conn, .stream]) | all(length == 2 and .[0].type == "request" and .[1].method == .[0].method)' \
		"$VM_TRACE" >/dev/null; then
		result ok "vsock trace: one response per request" "$nreq calls, $VM_TRACE"
	else
		result FAIL "vsock trace: one response per request" "$nreq requests, $nresp responses"
	fi
	if jq -se 'any(.[]; .method == "grpc.AgentService.CreateSandbox" and .type == "request" and (.payload.sandbox_id | length) > 0)
		and any(.[]; .method == "grpc.AgentService.ExecProcess" and (.payload.exec_id // "" | startswith("ctl-")))' \
		"$VM_TRACE" >/dev/null; then
		result ok "vsock trace: requests decoded (CreateSandbox, the ctl exec)"
	else
		result FAIL "vsock trace: requests decoded (CreateSandbox, the ctl exec)"
	fi
	if jq -se 'any(.[]; .event == "open" and .stream == "log") and any(.[]; .event == "data" and .stream == "log")' \
		"$VM_TRACE" >/dev/null; then
		result ok "vsock trace: the log stream (1025) marked"
	else
		result FAIL "vsock trace: the log stream (1025) marked"
	fi
fi

# ---- replay the run's trace on a fresh guest (--replay; docs/DEBUGGING.md) ----
if ((replay)); then
	trace1=$VM_TRACE
	vm_cleanup
	VM_WORK=$VM_WORK/replay
	rm -rf "$VM_WORK"
	if vm_start && vm_wait_agent "$boot_timeout"; then
		rc=0
		"$VM_CTL" replay "$trace1" --addr "$VM_ADDR" --timeout 600s >"$VM_WORK/replay.out" 2>&1 || rc=$?
		if ((rc == 0)); then
			result ok "replay of this run's trace on a fresh guest: same statuses" "$(tail -n 1 "$VM_WORK/replay.out")"
		else
			result FAIL "replay of this run's trace on a fresh guest: same statuses" \
				"rc $rc: $(grep -m 5 -E '^DIFF|replay:' "$VM_WORK/replay.out" | tr '\n' ';')"
		fi
		vm_wait_exit 180 || true
	else
		result FAIL "replay of this run's trace on a fresh guest" "the second guest did not come up"
	fi
fi

if ((failed)); then
	echo "--- $label summary ---"
	printf '  %s\n' "${summary[@]}"
	dump_and_exit
fi
echo "$passed passed, $failed failed, $skipped skipped"
