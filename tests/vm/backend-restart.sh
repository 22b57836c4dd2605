#!/usr/bin/env bash
# backend-restart.sh: the vhost-user-vsock back-end is killed (SIGKILL) while a container streams
# stdout through ReadStdout (issue 15).  One x86_64 guest under QEMU TCG, its vsock device on a
# PCIe root port so it can be re-plugged:
#
#   1. a container prints a counter without end; the host reads some of it (ReadStdout), keeps a
#      ReadStdout loop running, and kills the back-end in the middle of the stream;
#   2. the guest survives: QEMU runs (QMP query-status), no kernel panic and no "Attempted to
#      kill init" on the serial console, i.e. the agent (PID 1) lives on;
#   3. QEMU does not reconnect: the device's chardev has reconnect=1 and a new back-end listens
#      on the same vhost-user socket; QEMU's socket reconnects, but QEMU 7.2's
#      vhost-user-vsock-pci has no chardev event handler (unlike vhost-user-blk) and never sets
#      the device up again, so the agent stays out of reach through it;
#   4. the recovery a runtime can do instead: a back-end on a new socket, and the device
#      re-plugged through QMP (device_del, DEVICE_DELETED, chardev-remove, chardev-add,
#      device_add on the same root port; the guest CID comes from the back-end's config
#      space).  The guest's virtio vsock transport resets the old connections on removal and
#      probes the new device; the agent's listening sockets stay bound.  Then: Health.Check
#      answers, the container still streams (counters keep increasing past what was read
#      before the kill), an ExecProcess in it runs, the log port can be connected again and
#      carries new lines, PID 1 is still the agent, and the sandbox is torn down as the runtime
#      does (SIGKILL + WaitProcess 137, RemoveContainer, DestroySandbox, power-off).
#
# Prints one line per check and a closing "N passed, N failed".
# shellcheck disable=SC2034,SC2054,SC2153 # VM_* are lib.sh's; commas are QEMU option syntax
set -euo pipefail

readonly PROG=${0##*/}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
readonly REQ=$HERE/requests
# shellcheck source=tests/vm/lib.sh disable=SC1091
source "$HERE/lib.sh"

# The second container of kata-sequence.sh: busybox-rootfs.sh puts a rootfs under its id.
readonly CID=9b1d4f7a2c5e8b0d3f6a9c2e5b8d1f4a7c0e3b6d9f2a5c8e1b4d7f0a3c6e9b2d
readonly EXEC_ID=6d0c3b2a-1f4e-4d5c-9b8a-7e6f5d4c3b2a
readonly LATE_ID=4b3a2918-0f7e-4d6c-8b5a-493827160f5e
boot_timeout=300 rootfs=''
VM_ARCH=x86_64 VM_BOOT=bzimage VM_KERNEL='' VM_INITRD='' VM_WORK='' VM_BACKEND='' VM_CTL=''

usage() {
	cat <<EOF
Usage: $PROG --kernel BZIMAGE --initrd FILE --rootfs DIR --backend FILE --ctl FILE --workdir DIR
             [--boot-timeout S]

  --kernel FILE     our x86_64 bzImage (make kernel)
  --initrd FILE     initrd with our agent as /init (make vm-guest-x86_64)
  --rootfs DIR      the 9p share of busybox-rootfs.sh (holds $CID/rootfs)
  --backend FILE    build/host/vhost-user-vsock
  --ctl FILE        build/host/kata-agent-ctl
  --workdir DIR     scratch directory (recreated): console.log, qemu.log, backend*.log, steps/
  --boot-timeout S  QEMU start -> first Health.Check answer (default $boot_timeout)
EOF
}

die() {
	printf '%s: error: %s\n' "$PROG" "$*" >&2
	exit 2
}

while (($#)); do
	case $1 in
	--kernel) VM_KERNEL=${2:?}; shift 2 ;;
	--initrd) VM_INITRD=${2:?}; shift 2 ;;
	--rootfs) rootfs=${2:?}; shift 2 ;;
	--backend) VM_BACKEND=${2:?}; shift 2 ;;
	--ctl) VM_CTL=${2:?}; shift 2 ;;
	--workdir) VM_WORK=${2:?}; shift 2 ;;
	--boot-timeout) boot_timeout=${2:?}; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown argument '$1'" ;;
	esac
done
[[ -d $rootfs/$CID/rootfs ]] || die "--rootfs DIR must hold $CID/rootfs (busybox-rootfs.sh)"
[[ -n $VM_WORK ]] || die "--workdir is required"
if ! command -v qemu-system-x86_64 >/dev/null; then
	echo "$PROG: SKIPPED: qemu-system-x86_64 is not available on this host"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi

rm -rf "$VM_WORK"
mkdir -p "$VM_WORK/steps"
VM_WORK=$(cd "$VM_WORK" && pwd)
VM_SHARE=$(cd "$rootfs" && pwd)
VM_BOUND=600
VM_APPEND="agent.log_vport=1025 agent.debug_console agent.debug_console_vport=1026"
readonly QMP=$VM_WORK/qmp.sock
# The vsock device on a PCIe root port (q35's root bus takes no hot-unplug), its chardev
# reconnecting once a second (step 3).  With reconnect= the chardev connects in the background,
# and QEMU 7.2's vhost-user-vsock-pci does not wait for that ("Failed to set msg fds",
# "vhost_backend_init failed: Protocol error" when it is on the command line): so QEMU starts
# paused (-S), and the device is added through QMP once the back-end has seen the connection.
VM_QEMU_PRE=(-S -device pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=0x8
	-qmp "unix:$QMP,server=on,wait=off")
VM_VSOCK_CHR_OPTS=,reconnect=1
VM_VSOCK_DEV_OPTS=none

passed=0 failed=0
result() { # STATUS NAME [DETAIL]
	case $1 in
	ok) passed=$((passed + 1)) ;;
	FAIL) failed=$((failed + 1)) ;;
	esac
	printf '%s: %-5s %s%s\n' "$PROG" "$1" "$2" "${3:+ ($3)}"
}
finish() {
	if ((failed)); then
		vm_dump 60
		echo "--- back-ends ---" >&2
		tail -n 5 "$VM_WORK"/backend-*.log >&2 2>/dev/null || true
	fi
	echo "$passed passed, $failed failed"
	((failed == 0))
}
fatal() { # NAME DETAIL: a failure after which nothing else can be checked
	result FAIL "$1" "${2:-}"
	finish || true
	exit 1
}

# call NAME METHOD REQUEST: one RPC that must succeed; its response in $OUT.out.
step=0 OUT=
call() {
	step=$((step + 1))
	OUT=$VM_WORK/steps/$(printf '%02d' "$step")-$2
	if vm_call --timeout 60s "$2" "$3" >"$OUT.out" 2>"$OUT.err"; then
		result ok "$1"
		return 0
	fi
	result FAIL "$1" "$(head -c 300 "$OUT.err")"
	return 1
}

# qmp STEP...: one QMP session; a STEP is a command (JSON) whose reply is printed, or
# "wait EVENT ID SECONDS": wait for that event naming device ID (also one that came earlier in
# the session).  Exits 1 on an error reply or a missed event.
qmp() {
	python3 /dev/fd/3 "$QMP" "$@" 3<<'PY'
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(30)
s.connect(sys.argv[1])
f = s.makefile("rw")
events = []
def message():
    m = json.loads(f.readline())
    if "event" in m:
        events.append(m)
    return m
def reply():
    while True:
        m = message()
        if "return" in m or "error" in m:
            return m
f.readline()  # greeting
f.write(json.dumps({"execute": "qmp_capabilities"}) + "\n"); f.flush()
reply()
for step in sys.argv[2:]:
    if step.startswith("wait "):
        _, name, dev, limit = step.split()
        end = time.monotonic() + float(limit)
        def seen():
            return any(e["event"] == name and e.get("data", {}).get("device") == dev for e in events)
        while not seen() and time.monotonic() < end:
            s.settimeout(max(0.1, end - time.monotonic()))
            try:
                message()
            except (socket.timeout, TimeoutError):
                break
        if not seen():
            print(json.dumps({"missed": name, "device": dev, "after_s": limit}))
            sys.exit(1)
        print(json.dumps({"event": name, "device": dev}))
        continue
    f.write(step + "\n"); f.flush()
    m = reply()
    print(json.dumps(m))
    if "error" in m:
        sys.exit(1)
PY
}

# chardev_state: QEMU's view of the vsock chardev, its filename (prefixed "disconnected:" while
# it has no connection).
chardev_state() {
	qmp '{"execute":"query-chardev"}' | jq -r '.return[] | select(.label == "vsock0") | .filename'
}
wait_chardev() { # up to 10 s for a connected vsock chardev
	local f
	for _ in {1..50}; do
		f=$(chardev_state 2>/dev/null || true)
		[[ -n $f && $f != disconnected:* ]] && return 0
		sleep 0.2
	done
	return 1
}
# wait_log FILE TEXT: up to 10 s for TEXT in FILE.
wait_log() {
	for _ in {1..100}; do
		grep -F "$2" "$1" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
qmp_status() { qmp '{"execute":"query-status"}' | jq -r '.return.status // empty'; }

# read_some EXEC_ID DST N: ReadStdout until DST holds N counter lines (bounded).
read_some() {
	local eid=$1 dst=$2 want=$3 data i
	for ((i = 0; i < 100; i++)); do
		(($(grep -c '^tick-' "$dst" 2>/dev/null || true) >= want)) && return 0
		vm_call --timeout 30s ReadStdout "{\"container_id\":\"$CID\",\"exec_id\":\"$eid\",\"len\":4096}" \
			>"$VM_WORK/steps/read.out" 2>"$VM_WORK/steps/read.err" || return 1
		data=$(jq -r '.data // empty' "$VM_WORK/steps/read.out")
		[[ -n $data ]] || return 1
		base64 -d <<<"$data" >>"$dst"
	done
	return 1
}
# ticks FILE: the counter values, one a line.
ticks() { sed -n 's/^tick-\([0-9][0-9]*\)$/\1/p' "$1"; }
# increasing FILE: every counter line of FILE is greater than the one before.
increasing() {
	ticks "$1" >"$1.ticks"
	awk 'NR > 1 && $1 <= prev { bad = 1 } { prev = $1 } END { exit bad }' "$1.ticks"
}

# start_backend N SOCKET: back-end number N on vhost-user SOCKET; the hybrid socket (the address
# the runtime knows) stays $VM_UDS.  Sets VM_BACKEND_PID (lib.sh stops it at exit).
start_backend() {
	local log=$VM_WORK/backend-$1.log
	rm -f "$2"
	"$VM_BACKEND" --socket "$2" --uds "$VM_UDS" --guest-cid "$VM_GUEST_CID" -vv >"$log" 2>&1 &
	VM_BACKEND_PID=$!
	for _ in {1..100}; do [[ -S $2 ]] && return 0; sleep 0.05; done
	return 1
}

# ---- boot, sandbox, a container printing a counter ---------------------------------------------
t0=$SECONDS
vm_start || fatal "QEMU and the back-end start"
for _ in {1..100}; do [[ -S $QMP ]] && break; sleep 0.1; done
wait_chardev || fatal "QEMU's chardev connects to the back-end" "filename '$(chardev_state 2>&1 || true)'"
qmp '{"execute":"device_add","arguments":{"driver":"vhost-user-vsock-pci","id":"vsock0dev","chardev":"vsock0","bus":"rp0"}}' \
	'{"execute":"cont"}' >"$VM_WORK/steps/coldplug.qmp" 2>&1 ||
	fatal "QMP: the vsock device added before the guest starts" "$(tr '\n' ' ' <"$VM_WORK/steps/coldplug.qmp")"
vm_wait_agent "$boot_timeout" || fatal "the agent answers Health.Check within ${boot_timeout}s"
result ok "guest booted, vsock device on a PCIe root port, agent serving" "$(vm_ready_ms) ms"
"$VM_CTL" --addr "$VM_ADDR" --connect-timeout 30s logs --raw </dev/null >"$VM_WORK/logport-1.out" \
	2>"$VM_WORK/logport-1.err" &
log1_pid=$!
trap 'kill "$log1_pid" 2>/dev/null || true; vm_cleanup' EXIT
call "CreateSandbox (9p share, shm)" CreateSandbox "@$REQ/create-sandbox.json" || fatal "sandbox"
# shellcheck disable=SC2016 # the container's shell expands it
jq '.OCI.Process.Args = ["sh", "-c", "i=0; while :; do i=$((i + 1)); echo tick-$i; sleep 0.05; done"]
	| .OCI.Annotations["io.kubernetes.cri.container-name"] = "counter"' \
	"$REQ/create-container-sleep.json" >"$VM_WORK/create-counter.json"
call "CreateContainer (a shell printing a counter)" CreateContainer "@$VM_WORK/create-counter.json" ||
	fatal "container"
call "StartContainer" StartContainer "{\"container_id\":\"$CID\"}" || fatal "container"
before=$VM_WORK/stdout-before.txt
: >"$before"
if read_some "$CID" "$before" 20 && increasing "$before"; then
	result ok "ReadStdout: the counter streams" "$(ticks "$before" | sed -n '1p;$p' | tr '\n' ' ')"
else
	fatal "ReadStdout: the counter streams" "$(head -c 200 "$before") $(head -c 200 "$VM_WORK/steps/read.err")"
fi
last_before=$(ticks "$before" | tail -n 1)

# pid1: PID 1's executable and start time (clock ticks after boot, /proc/1/stat field 22).
# shellcheck disable=SC2016 # the guest shell expands it
pid1() { vm_guest_sh 'echo "$(readlink /proc/1/exe) $(cut -d" " -f22 /proc/1/stat)"'; }
p1_before=$(pid1)
[[ $p1_before =~ ^/init\ [0-9]+$ ]] || result FAIL "PID 1 is the agent (/init) before the kill" "'$p1_before'"

# A process that prints one line only once the host lets it (a file appearing on the 9p share):
# a ReadStdout of it is parked in the agent when the back-end dies.  After the re-plug the line
# must come to a new ReadStdout, not to the dead connection's parked call.
go_file=$VM_SHARE/$CID/rootfs/kac-late-go
rm -f "$go_file"
# shellcheck disable=SC2016 # the container's shell expands it
jq --arg c "$CID" --arg e "$LATE_ID" '.container_id = $c | .exec_id = $e
	| .process.Args = ["sh", "-c", "while [ ! -e /kac-late-go ]; do sleep 0.1; done; echo late-line"]' \
	"$REQ/exec-echo.json" >"$VM_WORK/exec-late.json"
call "ExecProcess (prints a line when the host lets it)" ExecProcess "@$VM_WORK/exec-late.json" ||
	fatal "exec"
vm_call --timeout 300s ReadStdout "{\"container_id\":\"$CID\",\"exec_id\":\"$LATE_ID\",\"len\":4096}" \
	>"$VM_WORK/steps/late-parked.out" 2>"$VM_WORK/steps/late-parked.err" &
parked_pid=$!
# The back-end's trace shows the request reach the agent (and no answer).
late_sent() {
	grep -F '"type":"request","method":"grpc.AgentService.ReadStdout"' "$VM_TRACE" 2>/dev/null |
		grep -F "\"exec_id\":\"$LATE_ID\"" >/dev/null
}
for _ in {1..100}; do late_sent && break; sleep 0.1; done
if late_sent && kill -0 "$parked_pid" 2>/dev/null; then
	result ok "a ReadStdout of it is parked in the agent (request in the back-end's trace, no answer)"
else
	fatal "a ReadStdout of it is parked in the agent" "$(head -c 200 "$VM_WORK/steps/late-parked.err")"
fi

# ---- 1. SIGKILL the back-end while a ReadStdout loop runs ----------------------------------------
# The runtime's reader: one ReadStdout after the other, into stdout-during.txt, until it fails.
during=$VM_WORK/stdout-during.txt
: >"$during"
(
	while vm_call --timeout 20s ReadStdout "{\"container_id\":\"$CID\",\"exec_id\":\"$CID\",\"len\":4096}" \
		>"$VM_WORK/steps/reader.out" 2>"$VM_WORK/steps/reader.err"; do
		jq -r '.data // empty' "$VM_WORK/steps/reader.out" | base64 -d >>"$during"
	done
) &
reader_pid=$!
n=0
for _ in {1..100}; do
	n=$(grep -c '^tick-' "$during" || true)
	((n >= 10)) && break
	sleep 0.1
done
old_backend=$VM_BACKEND_PID
kill -KILL "$old_backend"
wait "$old_backend" 2>/dev/null || true
t_kill=$SECONDS
if ((n >= 10)); then
	result ok "back-end killed (SIGKILL) while the reader streamed" "$n lines read when the kill was decided"
else
	result FAIL "back-end killed (SIGKILL) while the reader streamed" "the reader had read $n lines in 10 s"
fi
rc=0
timeout 60 tail --pid="$reader_pid" -f /dev/null || rc=$?
kill "$reader_pid" 2>/dev/null || true
wait "$reader_pid" 2>/dev/null || true
if ((rc == 0)); then
	result ok "the host's ReadStdout loop ends with an error" "$(head -c 120 "$VM_WORK/steps/reader.err")"
else
	result FAIL "the host's ReadStdout loop ends with an error" "still running 60 s after the kill"
fi
increasing "$during" || result FAIL "the counter read before the kill increases" "$VM_WORK/stdout-during.txt"
rc=0
timeout 60 tail --pid="$parked_pid" -f /dev/null || rc=$?
wait "$parked_pid" 2>/dev/null && rc=1
if ((rc == 0)) && [[ ! -s $VM_WORK/steps/late-parked.out ]]; then
	result ok "the parked ReadStdout's caller gets an error" "$(head -c 120 "$VM_WORK/steps/late-parked.err")"
else
	result FAIL "the parked ReadStdout's caller gets an error" "rc $rc, answer '$(head -c 100 "$VM_WORK/steps/late-parked.out")'"
	kill "$parked_pid" 2>/dev/null || true
fi
last_during=$(ticks "$during" | tail -n 1)
last_during=${last_during:-$last_before}

# ---- 2. the guest survives ------------------------------------------------------------------------
# (A PID 1 killed by the outage would panic the guest at once; the console is checked again at
# the end.)
sleep 1
st=$(qmp_status || true)
if vm_qemu_alive && [[ $st == running ]]; then
	result ok "QEMU runs on without its back-end (query-status)" "$st"
else
	fatal "QEMU runs on without its back-end (query-status)" "status '$st'"
fi
con=$(tr -d '\r' <"$VM_WORK/console.log")
if [[ $con != *'Kernel panic'* && $con != *'Attempted to kill init'* && $con != *'fatal signal as PID 1'* ]]; then
	result ok "no kernel panic, PID 1 alive (console)"
else
	fatal "no kernel panic, PID 1 alive (console)" "$(grep -m 3 -E 'panic|kill init|fatal' <<<"$con")"
fi

# ---- 3. QEMU does not reconnect the device to a restarted back-end ------------------------------
chr_dead=$(chardev_state || true)
start_backend 2 "$VM_WORK/vu.sock" || fatal "second back-end on $VM_WORK/vu.sock"
t_b2=$(vm_now_ns)
rc=0
wait_chardev || rc=$?
wait_log "$VM_WORK/backend-2.log" 'front-end connected' || rc=$?
if ((rc == 0)); then
	result ok "QEMU's chardev (reconnect=1) connects to a new back-end on the same socket" \
		"after $((($(vm_now_ns) - t_b2) / 1000000)) ms; QMP filename '$chr_dead', then '$(chardev_state || true)'"
else
	result FAIL "QEMU's chardev (reconnect=1) connects to a new back-end on the same socket" \
		"QMP filename '$(chardev_state || true)'"
fi
rc=0
"$VM_CTL" --addr "$VM_ADDR" --timeout 5s check >"$VM_WORK/steps/check-reconnect.out" 2>&1 || rc=$?
# The back-end logs each region of the guest memory table it gets (-vv): none here.
regions() { grep -c '^vhost-user-vsock: region [0-9]' "$1" || true; }
if ((rc != 0)) && (($(regions "$VM_WORK/backend-2.log") == 0)); then
	result ok "... but QEMU does not set the device up again: no memory table, no Health.Check answer" \
		"kata-agent-ctl rc $rc; $(grep -c 'timed out' "$VM_WORK/backend-2.log" || true) back-end connection(s) to the guest timed out"
elif ((rc != 0)); then
	result FAIL "QEMU does not set the device up again" \
		"the new back-end got $(regions "$VM_WORK/backend-2.log") memory regions, yet no Health.Check answer"
else
	result FAIL "QEMU does not reconnect vhost-user-vsock" \
		"Health.Check answered through the restarted back-end: QEMU now reconnects; update tests/vm/README.md"
fi
kill -TERM "$VM_BACKEND_PID" 2>/dev/null || true
wait "$VM_BACKEND_PID" 2>/dev/null || true
VM_BACKEND_PID=

# ---- 4. recovery: a new back-end on a new socket, the device re-plugged --------------------------
t_replug=$SECONDS
start_backend 3 "$VM_WORK/vu2.sock" || fatal "third back-end on $VM_WORK/vu2.sock"
chr=$(jq -nc --arg p "$VM_WORK/vu2.sock" '{execute: "chardev-add", arguments: {id: "vsock1",
	backend: {type: "socket", data: {addr: {type: "unix", data: {path: $p}}, server: false}}}}')
if qmp '{"execute":"device_del","arguments":{"id":"vsock0dev"}}' "wait DEVICE_DELETED vsock0dev 60" \
	'{"execute":"chardev-remove","arguments":{"id":"vsock0"}}' "$chr" \
	'{"execute":"device_add","arguments":{"driver":"vhost-user-vsock-pci","id":"vsock1dev","chardev":"vsock1","bus":"rp0"}}' \
	>"$VM_WORK/steps/replug.qmp" 2>&1; then
	result ok "QMP: device_del, DEVICE_DELETED, chardev-remove, chardev-add, device_add"
else
	fatal "QMP re-plug of the vsock device" "$(tr '\n' ' ' <"$VM_WORK/steps/replug.qmp")"
fi
vm_wait_agent 120 || fatal "Health.Check answers through the re-plugged device" "limit 120 s"
result ok "Health.Check answers through the re-plugged device" \
	"$((SECONDS - t_replug)) s after the re-plug began, $((SECONDS - t_kill)) s after the kill"
n=$(regions "$VM_WORK/backend-3.log")
if ((n > 0)); then
	result ok "... the new device's back-end got the guest memory table" "$n regions"
else
	result FAIL "... the new device's back-end got the guest memory table" "no region in backend-3.log"
fi

after=$VM_WORK/stdout-after.txt
: >"$after"
if read_some "$CID" "$after" 20 && increasing "$after"; then
	first_after=$(ticks "$after" | sed -n 1p)
	if ((first_after > last_during)); then
		result ok "the same container streams on: counters past those read before the kill" \
			"last before $last_during, first after $first_after"
	else
		result FAIL "the same container streams on: counters past those read before the kill" \
			"last before $last_during, first after $first_after"
	fi
else
	result FAIL "ReadStdout of the container after the re-plug" "$(head -c 200 "$after") $(head -c 200 "$VM_WORK/steps/read.err")"
fi
# The parked call died with its connection: the line printed now goes to a new ReadStdout.
touch "$go_file"
rc=0
vm_call --timeout 30s ReadStdout "{\"container_id\":\"$CID\",\"exec_id\":\"$LATE_ID\",\"len\":4096}" \
	>"$VM_WORK/steps/late.out" 2>"$VM_WORK/steps/late.err" || rc=$?
rm -f "$go_file"
late=$(jq -r '.data // empty' "$VM_WORK/steps/late.out" 2>/dev/null | base64 -d 2>/dev/null || true)
if ((rc == 0)) && [[ $late == late-line ]]; then
	result ok "a line printed after the re-plug reaches a new ReadStdout, not the dead parked one"
else
	result FAIL "a line printed after the re-plug reaches a new ReadStdout, not the dead parked one" \
		"rc $rc, got '${late:0:100}': $(head -c 200 "$VM_WORK/steps/late.err")"
fi
if call "WaitProcess (that exec)" WaitProcess "{\"container_id\":\"$CID\",\"exec_id\":\"$LATE_ID\"}"; then
	s=$(jq -r '.status // 0' "$OUT.out")
	((s == 0)) || result FAIL "... status 0" "status $s"
fi
jq --arg c "$CID" --arg e "$EXEC_ID" '.container_id = $c | .exec_id = $e
	| .process.Args = ["sh", "-c", "echo exec-after-restart"]' "$REQ/exec-echo.json" >"$VM_WORK/exec.json"
if call "ExecProcess in the container after the re-plug" ExecProcess "@$VM_WORK/exec.json"; then
	ex=$VM_WORK/exec.out
	: >"$ex"
	vm_call --timeout 30s ReadStdout "{\"container_id\":\"$CID\",\"exec_id\":\"$EXEC_ID\",\"len\":4096}" \
		>"$VM_WORK/steps/exec-read.out" 2>"$VM_WORK/steps/exec-read.err" || true
	jq -r '.data // empty' "$VM_WORK/steps/exec-read.out" | base64 -d >"$ex" || true
	if [[ $(<"$ex") == exec-after-restart ]]; then
		result ok "... its output comes back" "exec-after-restart"
	else
		result FAIL "... its output comes back" "got '$(head -c 100 "$ex")' $(head -c 200 "$VM_WORK/steps/exec-read.err")"
	fi
	if call "WaitProcess (exec)" WaitProcess "{\"container_id\":\"$CID\",\"exec_id\":\"$EXEC_ID\"}"; then
		s=$(jq -r '.status // 0' "$OUT.out")
		((s == 0)) || result FAIL "... status 0" "status $s"
	fi
fi
p1_after=$(pid1)
if [[ -n $p1_before && $p1_after == "$p1_before" ]]; then
	result ok "PID 1 is the same process as before the kill (debug console)" "$p1_after"
else
	result FAIL "PID 1 is the same process as before the kill (debug console)" "before '$p1_before', after '$p1_after'"
fi
# The runtime reconnects to the log port: the agent takes the new connection and writes to it.
kill "$log1_pid" 2>/dev/null || true
wait "$log1_pid" 2>/dev/null || true
"$VM_CTL" --addr "$VM_ADDR" --connect-timeout 30s logs --raw </dev/null >"$VM_WORK/logport-2.out" \
	2>"$VM_WORK/logport-2.err" &
log2_pid=$!
trap 'kill "$log2_pid" 2>/dev/null || true; vm_cleanup' EXIT
call "Health.Check (with the log port connected again)" Check '{}' || true
for _ in {1..50}; do
	grep -F '"name":"kata-agent"' "$VM_WORK/logport-2.out" >/dev/null 2>&1 && break
	sleep 0.1
done
if grep -F '"name":"kata-agent"' "$VM_WORK/logport-2.out" >/dev/null 2>&1; then
	result ok "log port connected again: new agent log lines" "$(grep -c '"name":"kata-agent"' "$VM_WORK/logport-2.out") lines"
else
	result FAIL "log port connected again: new agent log lines" "$(head -c 200 "$VM_WORK/logport-2.err")"
fi

# ---- teardown as the runtime does it ---------------------------------------------------------------
call "SignalProcess (SIGKILL, the container)" SignalProcess \
	"{\"container_id\":\"$CID\",\"exec_id\":\"\",\"signal\":9}" || true
if call "WaitProcess (container init)" WaitProcess "{\"container_id\":\"$CID\",\"exec_id\":\"$CID\"}"; then
	s=$(jq -r '.status // 0' "$OUT.out")
	((s == 137)) || result FAIL "... status 137" "status $s"
fi
call "RemoveContainer" RemoveContainer "{\"container_id\":\"$CID\",\"timeout\":0}" || true
call "DestroySandbox" DestroySandbox '{}' || true
if vm_wait_exit 120; then
	con=$(tr -d '\r' <"$VM_WORK/console.log")
	if [[ $con == *'reboot: Power down'* && $con != *'Kernel panic'* ]]; then
		result ok "guest powered off by itself after DestroySandbox" "QEMU rc $VM_QEMU_RC"
	else
		result FAIL "guest powered off by itself after DestroySandbox" "no clean power-down on the console"
	fi
else
	result FAIL "guest powered off by itself after DestroySandbox" "still running after 120 s"
fi
kill "$log2_pid" 2>/dev/null || true
wait "$log2_pid" 2>/dev/null || true
# The agent logged no error of its own after the kill (its log also goes to the console).
errs=$(tr -d '\r' <"$VM_WORK/console.log" | grep -E '"level":"(error|critical)"' || true)
if [[ -z $errs ]]; then
	result ok "no error in the agent's log"
else
	result FAIL "no error in the agent's log" "$(head -c 400 <<<"$errs")"
fi
echo "$PROG: $((SECONDS - t0)) s in all"
finish
