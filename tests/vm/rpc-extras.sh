# shellcheck shell=bash disable=SC2034,SC2016,SC2154
# tests/vm/rpc-extras.sh: the guest-wide RPCs no other test calls, each checked from inside the
# guest (the debug console is a root shell there) or by what a container sees.  Sourced by
# kata-sequence.sh, which provides call/result/read_until_eof, VM_*, REQ and CID2.
#
#   extras_qemu_setup     before vm_start: 2 vCPUs with maxcpus=1 (one offline CPU to online) and
#                         two 8 MiB swap disks at PCI slots 06 and 07 (mkswap'd on the host)
#   extras_modules        before CreateSandbox: kernel_modules is acted on (see below)
#   extras_run            with the second container running: DNS, GetVolumeStats, CopyFile,
#                         SetGuestDateTime, ReseedRandomDev, MemHotplugByProbe, AddSwap,
#                         AddSwapPath, OnlineCPUMem nb_cpus=1, WriteStdin with empty data

readonly EXTRA_SWAP_SLOTS=(06 07)

extras_qemu_setup() {
	local s
	VM_SMP=2
	VM_APPEND+=" maxcpus=1"
	for s in "${EXTRA_SWAP_SLOTS[@]}"; do
		truncate -s 8M "$VM_WORK/swap-$s.img"
		mkswap -L "kacswap$s" "$VM_WORK/swap-$s.img" >/dev/null
		VM_QEMU_EXTRA+=(-drive "if=none,id=swap$s,file=$VM_WORK/swap-$s.img,format=raw"
			-device "virtio-blk-pci,drive=swap$s,addr=0x$s")
	done
}

# expect_error NAME METHOD REQUEST PATTERN: the call must fail (not UNIMPLEMENTED) with an
# error matching PATTERN.
expect_error() {
	local rc=0
	nstep=$((nstep + 1))
	OUT=$VM_WORK/steps/$(printf '%02d' "$nstep")-$2
	vm_call --timeout 60s "$2" "$3" >"$OUT.out" 2>"$OUT.err" || rc=$?
	if ((rc == 1)) && ! grep -q UNIMPLEMENTED "$OUT.err" && grep -Eq -- "$4" "$OUT.err"; then
		result ok "$1"
	else
		result FAIL "$1" "rc $rc, want an error matching /$4/: $(head -c 300 "$OUT.err")"
	fi
}

# Our kernels are built without CONFIG_MODULES, so no module can load in these guests: what is
# checked is that CreateSandbox acts on kernel_modules (looks the module up and fails, naming it,
# before anything else) and that a later CreateSandbox still works.
extras_modules() {
	local req=$1
	jq '.kernel_modules = [{"name": "kac_no_such_module", "parameters": ["x=1"]}]' "$req" \
		>"$VM_WORK/create-sandbox-modules.json"
	expect_error "CreateSandbox with kernel_modules loads them first (missing one: error)" \
		CreateSandbox "@$VM_WORK/create-sandbox-modules.json" 'kac_no_such_module'
}

# exec_in_ctr2 NAME EXEC_ID ARGS_JSON OUTFILE: ExecProcess in the second container, its stdout
# until EOF into OUTFILE, WaitProcess status 0.  Returns 0 when all three went right.
exec_in_ctr2() {
	local name=$1 eid=$2 args=$3 dst=$4
	jq --arg e "$eid" --argjson a "$args" '.exec_id = $e | .process.Args = $a' \
		"$REQ/exec-echo.json" >"$VM_WORK/exec-$eid.json"
	call "ExecProcess ($name)" 60s ExecProcess "@$VM_WORK/exec-$eid.json" || return 1
	read_until_eof "ReadStdout until EOF ($name)" "$eid" "$dst" "$CID2" || return 1
	WAIT_WANT=0
	call "WaitProcess ($name, status 0)" 60s WaitProcess \
		"{\"container_id\":\"$CID2\",\"exec_id\":\"$eid\"}" expect_status
}

expect_volume() {
	local t
	t=$(jq -r '[.usage[] | select(.unit == "BYTES" or .unit == 1)][0].total // 0' "$1")
	[[ $t == 67108864 ]] || echo "BYTES total $t, want 67108864 (the shm storage's size=)"
	[[ $(jq -r '[.usage[] | select(.unit == "INODES" or .unit == 2)] | length' "$1") == 1 ]] ||
		echo "no INODES usage"
}

extras_run() {
	local req=$1 want got

	# CreateSandbox's dns lines: written to the sandbox's resolv.conf.
	want=$(jq -r '.dns[]' "$req")
	vm_expect_guest "CreateSandbox dns: /run/kata-containers/sandbox/resolv.conf holds its lines" \
		'cat /run/kata-containers/sandbox/resolv.conf' "$want"

	call "GetVolumeStats (the 64 MiB shm storage)" 60s GetVolumeStats \
		'{"volume_guest_path":"/run/kata-containers/sandbox/shm"}' expect_volume || true
	expect_error "GetVolumeStats of a missing path fails" GetVolumeStats \
		'{"volume_guest_path":"/no/such/volume"}' 'No such file'

	# CopyFile through its handler: a new directory and file, with modes, in the shared dir.
	call "CopyFile (new dir 0750 + file 0640)" 60s CopyFile \
		'{"path":"/run/kata-containers/shared/containers/kac-copy/d/hello.txt","file_size":10,"file_mode":33184,"dir_mode":16872,"uid":0,"gid":0,"offset":0,"data":"text:hello-copy"}' || true
	vm_expect_guest "CopyFile wrote the file, its mode and its directory's" \
		'd=/run/kata-containers/shared/containers/kac-copy/d; ls -ld $d | sed "s/ .*//"; ls -l $d/hello.txt | sed "s/ .*//"; wc -c <$d/hello.txt; cat $d/hello.txt; echo' \
		$'drwxr-x---\n-rw-r-----\n10\nhello-copy'
	expect_error "CopyFile outside the shared directory is refused" CopyFile \
		'{"path":"/etc/kac-copy","file_size":1,"file_mode":33188,"data":"text:x"}' '.'

	# SetGuestDateTime: the guest clock (and a container's date) jumps to 2030-01-02.
	call "SetGuestDateTime (2030-01-02T00:00:05Z)" 30s SetGuestDateTime \
		'{"Sec":1893542405,"Usec":0}' || true
	if exec_in_ctr2 "date -u +%F" 3f1c2b7a-0000-4000-8000-000000000001 '["date","-u","+%F"]' \
		"$VM_WORK/date2030.out"; then
		got=$(tr -d '\r\n' <"$VM_WORK/date2030.out")
		if [[ $got == 2030-01-02 ]]; then
			result ok "the container sees the date SetGuestDateTime set" "$got"
		else
			result FAIL "the container sees the date SetGuestDateTime set" "got '$got'"
		fi
	fi
	expect_error "SetGuestDateTime rejects usec >= 1000000" SetGuestDateTime \
		'{"Sec":1893542405,"Usec":1000000}' 'usec'

	# ReseedRandomDev: 64 bytes written to /dev/random and credited (RNDADDTOENTCNT needs the
	# guest's CAP_SYS_ADMIN; on failure the call fails).
	call "ReseedRandomDev (64 bytes)" 30s ReseedRandomDev \
		"{\"data\":\"$(head -c 64 /dev/urandom | base64 -w0)\"}" || true

	# MemHotplugByProbe: our kernels have no CONFIG_ARCH_MEMORY_PROBE (the runtime only uses it
	# on such guests), so the probe file is missing and an address must fail, naming it; an
	# empty list has nothing to probe and succeeds.
	call "MemHotplugByProbe (no addresses)" 30s MemHotplugByProbe '{"memHotplugProbeAddr":[]}' || true
	if grep -qx 'CONFIG_ARCH_MEMORY_PROBE=y' "$kernel_config" 2>/dev/null; then
		result SKIP "MemHotplugByProbe of an address" "the kernel has a probe file: probing memory QEMU did not plug is unsafe"
	else
		expect_error "MemHotplugByProbe writes the probe file (absent here: error)" MemHotplugByProbe \
			'{"memHotplugProbeAddr":[4294967296]}' 'probing memory at 0x100000000'
	fi

	# AddSwap (PCI path of the disk at slot 06) and AddSwapPath (the slot-07 disk's /dev node).
	call "AddSwap (virtio-blk at PCI slot 06)" 120s AddSwap '{"PCIPath":[6]}' || true
	local dev07
	dev07=$(vm_guest_sh 'ls /sys/bus/pci/devices/0000:00:07.0/virtio*/block')
	if [[ $dev07 =~ ^vd[a-z]+$ ]]; then
		call "AddSwapPath (/dev/$dev07, slot 07)" 60s AddSwapPath "{\"path\":\"/dev/$dev07\"}" || true
	else
		result FAIL "AddSwapPath" "no block device for PCI slot 07 in the guest: '$dev07'"
	fi
	# shellcheck disable=SC2016 # the guest shell expands it
	got=$(vm_guest_sh 'for s in 06 07; do b=$(ls /sys/bus/pci/devices/0000:00:$s.0/virtio*/block); grep -c "^/dev/$b " /proc/swaps; done')
	if [[ $got == $'1\n1' ]]; then
		result ok "/proc/swaps lists both swap disks"
	else
		result FAIL "/proc/swaps lists both swap disks" "per-disk counts '$got'; /proc/swaps: $(vm_guest_sh 'cat /proc/swaps' | tr '\n' ';')"
	fi

	# OnlineCPUMem nb_cpus=1: the second vCPU, offline since boot (maxcpus=1), comes online.
	vm_expect_guest "one vCPU online before OnlineCPUMem" 'cat /sys/devices/system/cpu/online' 0
	call "OnlineCPUMem (nb_cpus 1)" 60s OnlineCPUMem '{"wait":true,"nb_cpus":1,"cpu_only":true}' || true
	vm_expect_guest "OnlineCPUMem onlined the second vCPU" 'cat /sys/devices/system/cpu/online' 0-1

	# WriteStdin with empty data closes the process's stdin: cat sees EOF and exits 0.
	local eid=3f1c2b7a-0000-4000-8000-000000000002
	jq --arg e "$eid" '.exec_id = $e | .process.Args = ["cat"]' "$REQ/exec-echo.json" >"$VM_WORK/exec-cat.json"
	if call "ExecProcess (cat)" 60s ExecProcess "@$VM_WORK/exec-cat.json"; then
		call "WriteStdin (stdin-ok)" 30s WriteStdin \
			"{\"container_id\":\"$CID2\",\"exec_id\":\"$eid\",\"data\":\"text:stdin-ok\\n\"}" || true
		call "WriteStdin (empty data: closes stdin)" 30s WriteStdin \
			"{\"container_id\":\"$CID2\",\"exec_id\":\"$eid\",\"data\":\"\"}" || true
		if read_until_eof "ReadStdout until EOF (cat, ended by the empty WriteStdin)" "$eid" \
			"$VM_WORK/cat.out" "$CID2"; then
			got=$(<"$VM_WORK/cat.out")
			if [[ $got == stdin-ok ]]; then
				result ok "cat echoed what WriteStdin sent"
			else
				result FAIL "cat echoed what WriteStdin sent" "got '${got:0:100}'"
			fi
		fi
		WAIT_WANT=0
		call "WaitProcess (cat, status 0)" 60s WaitProcess \
			"{\"container_id\":\"$CID2\",\"exec_id\":\"$eid\"}" expect_status || true
	fi
}
