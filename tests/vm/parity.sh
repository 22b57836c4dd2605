#!/usr/bin/env bash
# parity.sh: the VM checks of issue 9 (OCI and sandbox parity), in one x86_64 guest booted with
# IPv6 disabled on the kernel command line (ipv6.disable=1) under QEMU TCG:
#
#   1. UpdateInterface naming a NIC by devicePath ("08/00": slot 0 behind the PCIe root port at
#      slot 08) while no such NIC exists: the call must stay parked; then a virtio-net-pci NIC is
#      hot-plugged through QEMU's monitor (QMP device_add); the call must then succeed, and the
#      NIC must carry the MAC, the IPv4 address and MTU asked for, and (IPv6 being off) no IPv6
#      address, though the request had one;
#   2. UpdateRoutes with an IPv4 and an IPv6 route succeeds; the IPv4 route is in the guest's
#      table (ListRoutes and `ip route` in the guest), the IPv6 one skipped;
#   3. an overlayfs storage (lower: the container's rootfs on the 9p share; upper and work on the
#      guest's tmpfs, created by the agent) backs a container's rootfs: the container writes a
#      file, which lands in the upper directory and not on the share;
#   4. two containers, each given its own virtio-blk disk (PCI slots 0a and 0b) the way the Go
#      runtime passes a block volume (Device + linux.devices + a resources.devices allow rule):
#      a container reads its own disk, and a mknod of the other container's disk (it has
#      CAP_MKNOD, as in containerd's default set) gives a node it cannot open (device cgroup).
#
# Prints one line per check and a closing "N passed, N failed, N skipped".
# shellcheck disable=SC2034,SC2054 # VM_* are read by tests/vm/lib.sh; commas are QEMU option syntax
set -euo pipefail

readonly PROG=${0##*/}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
readonly REQ=$HERE/requests
# shellcheck source=tests/vm/lib.sh disable=SC1091
source "$HERE/lib.sh"

# The sandbox id of requests/create-sandbox.json: busybox-rootfs.sh puts a rootfs under it.
readonly SB=7a3f5c1e9b2d4c6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6
readonly OVL_CID=0e1d2c3b4a5968778695a4b3c2d1e0f0e1d2c3b4a5968778695a4b3c2d1e0f0a
readonly NIC_MAC=02:00:00:00:9a:01
readonly NIC_PATH=08/00
readonly BLK_CID_A=1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a
readonly BLK_CID_B=2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b
readonly BLK_SLOTS=(0a 0b)
boot_timeout=300 rootfs='' cgroup=1
VM_ARCH=x86_64 VM_BOOT=bzimage VM_KERNEL='' VM_INITRD='' VM_WORK='' VM_BACKEND='' VM_CTL=''

usage() {
	cat <<EOF
Usage: $PROG --kernel BZIMAGE --initrd FILE --rootfs DIR --backend FILE --ctl FILE --workdir DIR
             [--cgroup 1|2] [--boot-timeout S]

  --kernel FILE     our x86_64 bzImage (make kernel)
  --initrd FILE     initrd with our agent as /init (make vm-guest-x86_64)
  --rootfs DIR      the 9p share of busybox-rootfs.sh (holds $SB/rootfs)
  --backend FILE    build/host/vhost-user-vsock
  --ctl FILE        build/host/kata-agent-ctl
  --workdir DIR     scratch directory (recreated): console.log, qemu.log, step outputs
  --cgroup 2        boot with the Kata runtimes' cgroup v2 parameters (cgroup_no_v1=all
                    systemd.unified_cgroup_hierarchy=1): the device rules are then an eBPF
                    program; 1 (default): the guest's cgroup v1 devices controller
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
	--cgroup) cgroup=${2:?}; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown argument '$1'" ;;
	esac
done
[[ -d $rootfs/$SB/rootfs ]] || die "--rootfs DIR must hold $SB/rootfs (busybox-rootfs.sh)"
[[ -n $VM_WORK ]] || die "--workdir is required"
[[ $cgroup == 1 || $cgroup == 2 ]] || die "--cgroup must be 1 or 2"
if ! command -v qemu-system-x86_64 >/dev/null; then
	echo "$PROG: SKIPPED: qemu-system-x86_64 is not available on this host"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi

rm -rf "$VM_WORK"
mkdir -p "$VM_WORK/steps"
VM_WORK=$(cd "$VM_WORK" && pwd)
VM_SHARE=$(cd "$rootfs" && pwd)
# A parked UpdateInterface waits up to agent.hotplug_timeout: long enough for the device_add
# below and a TCG guest's PCIe hotplug on a busy host.
VM_APPEND="ipv6.disable=1 agent.hotplug_timeout=120 agent.debug_console agent.debug_console_vport=1026"
[[ $cgroup == 2 ]] && VM_APPEND+=" cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1"
# The NIC's back end exists from the start; its device comes later, on a PCIe root port (the
# q35 root bus itself takes no hotplug).  QMP on a socket of the work directory.
readonly QMP=$VM_WORK/qmp.sock
VM_QEMU_EXTRA=(-netdev user,id=hn1,restrict=on
	-device pcie-root-port,id=rp1,bus=pcie.0,chassis=1,addr=0x8
	-qmp "unix:$QMP,server=on,wait=off")
# One small read-only disk per container, its first bytes naming it.
for s in "${BLK_SLOTS[@]}"; do
	truncate -s 1M "$VM_WORK/disk-$s.img"
	printf 'DISK-%s' "$s" | dd of="$VM_WORK/disk-$s.img" conv=notrunc status=none
	VM_QEMU_EXTRA+=(-blockdev "driver=file,node-name=d${s}f,filename=$VM_WORK/disk-$s.img,read-only=on"
		-blockdev "driver=raw,node-name=d$s,file=d${s}f,read-only=on"
		-device "virtio-blk-pci,drive=d$s,addr=0x$s")
done

passed=0 failed=0 skipped=0
result() { # STATUS NAME [DETAIL]
	case $1 in
	ok) passed=$((passed + 1)) ;;
	FAIL) failed=$((failed + 1)) ;;
	SKIP) skipped=$((skipped + 1)) ;;
	esac
	printf '%s: [cgroup v%s] %-5s %s%s\n' "$PROG" "$cgroup" "$1" "$2" "${3:+ ($3)}"
}
finish() {
	if ((failed)); then
		vm_dump 60
	fi
	echo "$passed passed, $failed failed, $skipped skipped"
	((failed == 0))
}

# call NAME METHOD REQUEST: one RPC that must succeed; its response in $VM_WORK/steps/NAME.out.
step=0 OUT=
call() {
	step=$((step + 1))
	OUT=$VM_WORK/steps/$(printf '%02d' "$step")-$2
	if vm_call --timeout 120s "$2" "$3" >"$OUT.out" 2>"$OUT.err"; then
		result ok "$1"
		return 0
	fi
	result FAIL "$1" "$(head -c 300 "$OUT.err")"
	return 1
}

# qmp JSON...: sends each command (after the capabilities handshake); prints the replies.
qmp() {
	python3 /dev/fd/3 "$QMP" "$@" 3<<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(30)
s.connect(sys.argv[1])
f = s.makefile("rw")
def reply():
    while True:
        m = json.loads(f.readline())
        if "return" in m or "error" in m:
            return m
f.readline()  # greeting
f.write(json.dumps({"execute": "qmp_capabilities"}) + "\n"); f.flush()
reply()
for cmd in sys.argv[2:]:
    f.write(cmd + "\n"); f.flush()
    print(json.dumps(reply()))
PY
}

# read_out CID: the init's stdout until EOF (ReadStdout answers empty data), bounded.
read_out() {
	local data dst=$VM_WORK/steps/stdout-$1
	: >"$dst"
	for _ in {1..60}; do
		vm_call --timeout 60s ReadStdout "{\"container_id\":\"$1\",\"exec_id\":\"$1\",\"len\":4096}" \
			>"$dst.chunk" 2>/dev/null || break
		data=$(jq -r '.data // empty' "$dst.chunk")
		[[ -n $data ]] || break
		base64 -d <<<"$data" >>"$dst"
	done
	cat "$dst"
}

vm_start || { result FAIL "QEMU and the back-end start"; finish; exit 1; }
if ! vm_wait_agent "$boot_timeout"; then
	result FAIL "the agent answers Health.Check within ${boot_timeout}s"
	finish
	exit 1
fi
result ok "guest booted with ipv6.disable=1, agent serving" "$(vm_ready_ms) ms"
vm_expect_guest "IPv6 is off in the guest" '[ -e /proc/sys/net/ipv6 ] && echo on || echo off' off
call "CreateSandbox (9p share, shm)" CreateSandbox "@$REQ/create-sandbox.json" || { finish; exit 1; }
# /sys/fs/cgroup: the unified hierarchy itself (v2), or the tmpfs holding the v1 ones.
# shellcheck disable=SC2016 # the guest shell expands it
vm_expect_guest "the guest's cgroup hierarchy is v$cgroup" \
	'grep " /sys/fs/cgroup " /proc/mounts | sed "s/^[^ ]* [^ ]* \([^ ]*\) .*/\1/"' \
	"$([[ $cgroup == 2 ]] && echo cgroup2 || echo tmpfs)"

# ---- 1. NIC hot-plug while UpdateInterface is parked ----
iface_req=$(jq -nc --arg mac "$NIC_MAC" --arg path "$NIC_PATH" '{interface: {
	device: "eth9", name: "eth9", hwAddr: $mac, mtu: 1400, devicePath: $path,
	IPAddresses: [{family: "v4", address: "10.99.0.2", mask: "24"},
	              {family: "v6", address: "fd00:99::2", mask: "64"}]}}')
ui_out=$VM_WORK/steps/update-interface
vm_call --timeout 180s UpdateInterface "$iface_req" >"$ui_out.out" 2>"$ui_out.err" &
ui_pid=$!
# Parked: still waiting after a few seconds, with no NIC at that path.
sleep 4
if kill -0 "$ui_pid" 2>/dev/null; then
	result ok "UpdateInterface for a NIC not yet plugged is parked"
else
	result FAIL "UpdateInterface for a NIC not yet plugged is parked" "it returned: $(cat "$ui_out.out" "$ui_out.err")"
fi
add=$(jq -nc --arg mac "$NIC_MAC" '{execute: "device_add", arguments:
	{driver: "virtio-net-pci", id: "nic9", netdev: "hn1", mac: $mac, bus: "rp1", addr: "0"}}')
qmp_out=$(qmp "$add" 2>&1) || true
if [[ $qmp_out == *'"return": {}'* ]]; then
	result ok "QMP device_add virtio-net-pci on the root port"
else
	result FAIL "QMP device_add virtio-net-pci on the root port" "${qmp_out:0:300}"
fi
ui_rc=0
wait "$ui_pid" || ui_rc=$?
if ((ui_rc == 0)); then
	result ok "the parked UpdateInterface completes once the NIC appeared"
else
	result FAIL "the parked UpdateInterface completes once the NIC appeared" "rc $ui_rc: $(head -c 300 "$ui_out.err")"
fi
call "ListInterfaces" ListInterfaces '{}' || true
nic=$(jq -c --arg mac "$NIC_MAC" '[.Interfaces[]? | select(.hwAddr == $mac)][0] // {}' "$OUT.out" 2>/dev/null || echo '{}')
want='{"name":"eth9","mtu":1400,"addrs":["10.99.0.2/24"]}'
got=$(jq -c '{name, mtu: (.mtu // 0 | tonumber), addrs: [.IPAddresses[]? | "\(.address)/\(.mask)"]}' <<<"$nic")
if [[ $got == "$want" ]]; then
	result ok "the hot-plugged NIC: named, MTU, the IPv4 address only (IPv6 skipped)"
else
	result FAIL "the hot-plugged NIC: named, MTU, the IPv4 address only (IPv6 skipped)" "got $got, want $want"
fi
vm_expect_guest "the guest sees eth9 with the MAC and the IPv4 address" \
	'cat /sys/class/net/eth9/address; ip addr show dev eth9 | sed -n "s/.* inet \([0-9./]*\) .*/\1/p"' \
	"$NIC_MAC"$'\n'"10.99.0.2/24"

# ---- 2. routes: IPv4 applied, IPv6 skipped ----
routes_req='{"routes":{"Routes":[
	{"dest":"10.98.0.0/16","gateway":"10.99.0.1","device":"eth9","family":"v4"},
	{"dest":"fd00:98::/48","gateway":"fd00:99::1","device":"eth9","family":"v6"}]}}'
call "UpdateRoutes with an IPv4 and an IPv6 route" UpdateRoutes "$routes_req" || true
call "ListRoutes" ListRoutes '{}' || true
got=$(jq -c '[.Routes[]? | select(.device == "eth9") | .dest] | sort' "$OUT.out" 2>/dev/null || echo '?')
want='["10.98.0.0/16","10.99.0.0/24"]'
if [[ $got == "$want" ]]; then
	result ok "eth9's routes: the IPv4 one and the subnet's, no IPv6 route"
else
	result FAIL "eth9's routes: the IPv4 one and the subnet's, no IPv6 route" "got $got, want $want"
fi
vm_expect_guest "the guest routes 10.98.0.0/16 via 10.99.0.1" \
	'ip route | sed -n "s/^\(10.98.0.0\/16 via 10.99.0.1 dev eth9\) .*/\1/p"' "10.98.0.0/16 via 10.99.0.1 dev eth9"

# ---- 3. overlayfs storage as a container's rootfs ----
ovl=/run/kata-containers/ovl-$OVL_CID
lower=/run/kata-containers/shared/containers/$SB/rootfs
create=$(jq -c --arg cid "$OVL_CID" --arg ovl "$ovl" --arg lower "$lower" '
	.container_id = $cid | .exec_id = $cid |
	.storages = [{driver: "overlayfs", source: "none", fstype: "overlay",
		options: ["lowerdir=\($lower)", "upperdir=\($ovl)/upper", "workdir=\($ovl)/work"],
		mount_point: "\($ovl)/merged"}] |
	.OCI.Root.Path = "\($ovl)/merged" |
	.OCI.Linux.CgroupsPath = "/default/\($cid)" |
	.OCI.Process.Args = ["sh", "-c", "echo layered > /written && cat /written"]' \
	"$REQ/create-container-sleep.json")
if call "CreateContainer on an overlayfs storage (upper/work created by the agent)" CreateContainer "$create" &&
	call "StartContainer" StartContainer "{\"container_id\":\"$OVL_CID\"}"; then
	out=$(read_out "$OVL_CID")
	if [[ $out == layered ]]; then result ok "the container wrote and read /written"; else
		result FAIL "the container wrote and read /written" "stdout '${out:0:200}'"; fi
	call "WaitProcess: status 0" WaitProcess "{\"container_id\":\"$OVL_CID\",\"exec_id\":\"$OVL_CID\"}" || true
	if [[ $(jq -r '.status // 0' "$OUT.out") == 0 ]]; then result ok "the container exited 0"; else
		result FAIL "the container exited 0" "$(cat "$OUT.out")"; fi
	vm_expect_guest "the write is in the upper directory" "cat $ovl/upper/written" layered
	if [[ -e $VM_SHARE/$SB/rootfs/written ]]; then
		result FAIL "the lower layer (the 9p share) is untouched" "$VM_SHARE/$SB/rootfs/written exists"
	else
		result ok "the lower layer (the 9p share) is untouched"
	fi
	call "RemoveContainer" RemoveContainer "{\"container_id\":\"$OVL_CID\",\"timeout\":0}" || true
	vm_expect_guest "the overlay is unmounted with its container" \
		"grep -c ' $ovl/merged ' /proc/self/mountinfo" 0
fi

# ---- 4. one container cannot open another's block device ----
# blk_create CID SLOT ARGS_JSON: both share the sleeper's rootfs (on the 9p share: the probe
# makes its node on the container's /dev tmpfs, never on the share); the disk at SLOT as
# /dev/kacblk, passed as the Go runtime passes
# a block volume: a Device (PCI path as id), a linux.devices entry with the host's numbers (8:0
# here; the agent patches in the guest's) and containerd's resources.devices: deny all, then
# allow that device.
blk_create() {
	jq -c --arg cid "$1" --arg slot "$2" --argjson args "$3" '
	.container_id = $cid | .exec_id = $cid |
	.devices = [{id: $slot, type: "blk", vm_path: "", container_path: "/dev/kacblk"}] |
	.OCI.Linux.CgroupsPath = "/default/\($cid)" |
	.OCI.Linux.Devices = [{Path: "/dev/kacblk", Type: "b", Major: 8, Minor: 0, FileMode: 432}] |
	.OCI.Linux.Resources = {Devices: [{Allow: false, Access: "rwm"},
		{Allow: true, Type: "b", Major: 8, Minor: 0, Access: "rwm"}]} |
	.OCI.Process.Args = $args' "$REQ/create-container-sleep.json"
}
other=$(vm_guest_sh "cat /sys/bus/pci/devices/0000:00:${BLK_SLOTS[1]}.0/virtio*/block/*/dev")
if [[ $other =~ ^([0-9]+):([0-9]+)$ ]]; then
	maj=${BASH_REMATCH[1]} min=${BASH_REMATCH[2]}
	result ok "the guest has container B's disk" "$other"
	# The control: through these numbers the disk is readable (outside any device cgroup).
	vm_expect_guest "the guest itself reads B's disk through $maj:$min" \
		"rm -f /dev/kacb; mknod /dev/kacb b $maj $min && head -c 7 /dev/kacb; echo; rm -f /dev/kacb" \
		"DISK-${BLK_SLOTS[1]}"
	probe="head -c 7 /dev/kacblk; echo; mknod /dev/other b $maj $min && echo mknod-ok; head -c 7 /dev/other >/dev/null 2>/run/e && echo other-readable || grep -o 'not permitted' /run/e"
	if call "CreateContainer B with its own disk (slot ${BLK_SLOTS[1]})" CreateContainer \
		"$(blk_create "$BLK_CID_B" "${BLK_SLOTS[1]}" '["sleep","600"]')" &&
		call "StartContainer B" StartContainer "{\"container_id\":\"$BLK_CID_B\"}" &&
		call "CreateContainer A with its own disk (slot ${BLK_SLOTS[0]})" CreateContainer \
			"$(blk_create "$BLK_CID_A" "${BLK_SLOTS[0]}" "$(jq -nc --arg p "$probe" '["sh","-c",$p]')")" &&
		call "StartContainer A" StartContainer "{\"container_id\":\"$BLK_CID_A\"}"; then
		out=$(read_out "$BLK_CID_A")
		want="DISK-${BLK_SLOTS[0]}"$'\n'"mknod-ok"$'\n'"not permitted"
		if [[ $out == "$want" ]]; then
			result ok "A reads its own disk; B's disk, mknod'ed in A, cannot be opened"
		else
			result FAIL "A reads its own disk; B's disk, mknod'ed in A, cannot be opened" "stdout '${out:0:300}', want '$want'"
		fi
	fi
	for c in "$BLK_CID_A" "$BLK_CID_B"; do
		call "RemoveContainer ${c:0:4}" RemoveContainer "{\"container_id\":\"$c\",\"timeout\":0}" || true
	done
else
	result FAIL "the guest has container B's disk" "sysfs: '${other:0:200}'"
fi

call "DestroySandbox" DestroySandbox '{}' || true
vm_wait_exit 60 || result FAIL "the guest powers off after DestroySandbox"
finish
