#!/usr/bin/env bash
# vm-bench.sh (make bench-vm): VM-level figures for the agent, printed as one table.
#
#   a. boot to ready: QEMU start -> first Health.Check answer over hybrid vsock, against the same
#      kernel and QEMU command line booting an /init that only prints a marker and accepts on
#      vsock port 1024 (the floor, marker-init.c), as a ratio; median of --runs boots, per arch.
#   b. /init exec -> ttrpc listening, from the agent's own debug log ("listening N ms after
#      start"), guest time, against the 5 ms budget in docs/BUILDING.md ("Performance budgets").
#   c. the agent's RSS (VmRSS of PID 1) right after boot and after --execs ExecProcess/ReadStdout/
#      WaitProcess rounds in a running busybox container (x86_64 only: TCG riscv64 is too slow).
#      Read through the debug console (port 1026) or, failing that, GetMetrics.
#   d. sizes: the agent, the initrd with the agent only, with busybox, and the floor's initrd.
#
# A figure the agent cannot produce yet (an RPC still UNIMPLEMENTED, no debug console) is shown as
# n/a with the reason in the notes under the table.
# shellcheck disable=SC2034 # VM_* variables are read by tests/vm/lib.sh
set -euo pipefail

readonly PROG=${0##*/}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
readonly VMT=$HERE/../../vm
readonly REQ=$VMT/requests
# shellcheck source=tests/vm/lib.sh disable=SC1091,SC2034 # VM_* are read by lib.sh
source "$VMT/lib.sh"
# The running `sleep 600` container of requests/create-container-sleep.json.
readonly CID=9b1d4f7a2c5e8b0d3f6a9c2e5b8d1f4a7c0e3b6d9f2a5c8e1b4d7f0a3c6e9b2d

arches="x86_64 riscv64" runs=5 execs=1000 work=build/bench-vm
hvsock_wait=build/host/bench-vm/hvsock-wait
VM_BACKEND=build/host/vhost-user-vsock VM_CTL=build/host/kata-agent-ctl
VM_POLL=0.01

usage() {
	cat <<EOF
Usage: $PROG [--arches "x86_64 riscv64"] [--runs N] [--execs N] [--workdir DIR]
             [--backend FILE] [--ctl FILE] [--hvsock-wait FILE]

Reads, per ARCH: build/ARCH/kernel/{bzImage,Image}, build/ARCH/kata-agent,
build/ARCH/vm/{initrd.img,initrd-agent.img,floor-initrd.img,share/} (make bench-vm builds them).
  --runs N     boots per measurement, median reported (default $runs)
  --execs N    exec rounds between the two RSS readings (default $execs; 0 skips them)
  -h, --help   this text
EOF
}

while (($#)); do
	case $1 in
	--arches) arches=${2:?}; shift 2 ;;
	--runs) runs=${2:?}; shift 2 ;;
	--execs) execs=${2:?}; shift 2 ;;
	--workdir) work=${2:?}; shift 2 ;;
	--backend) VM_BACKEND=${2:?}; shift 2 ;;
	--ctl) VM_CTL=${2:?}; shift 2 ;;
	--hvsock-wait) hvsock_wait=${2:?}; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; printf '%s: error: unknown argument %s\n' "$PROG" "$1" >&2; exit 2 ;;
	esac
done
mkdir -p "$work"
work=$(cd "$work" && pwd)

declare -A R # results: R[metric,arch]
notes=() measured=() dead=()
note() { notes+=("$*"); }

median() { sort -n | awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)]}'; }

set_arch() { # ARCH
	VM_ARCH=$1
	if [[ $1 == x86_64 ]]; then
		VM_BOOT=bzimage VM_KERNEL=build/x86_64/kernel/bzImage
	else
		VM_BOOT=virt VM_KERNEL=build/riscv64/kernel/Image
	fi
}

# Both kinds of boot are timed by the same in-process poller (hvsock-wait.c): QEMU start -> the
# guest accepts a hybrid-vsock CONNECT to port 1024.  For the agent the first Health.Check then
# follows at once (its answer is the "ready" figure).  The console cannot serve as the floor's
# clock: under TCG it runs hundreds of ms behind the guest.  Both boots use `quiet`.
wait_console() { # PATTERN: up to 10 s for the console to show it
	local i
	for ((i = 0; i < 200; i++)); do
		grep -q -- "$1" "$VM_WORK/console.log" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

floor_once() { # ARCH RUN -> accept ms
	local t
	VM_INITRD=build/$1/vm/floor-initrd.img VM_WORK=$work/$1-floor-$2 VM_APPEND=quiet
	vm_start >/dev/null 2>&1 || return 1
	if ! t=$("$hvsock_wait" --uds "$VM_UDS" --timeout-ms 600000); then
		vm_cleanup
		return 1
	fi
	wait_console KAC-FLOOR-MARKER || { vm_cleanup; return 1; }
	vm_cleanup
	echo $(((t - VM_T0_NS) / 1000000))
}

# One boot of the agent initrd -> "accept ms ready ms"; the guest's own exec -> listening figure
# goes to $work/ARCH-listen.
ready_once() { # ARCH RUN
	local t
	VM_INITRD=build/$1/vm/initrd.img VM_WORK=$work/$1-ready-$2 VM_APPEND=quiet
	vm_start >/dev/null 2>&1 || return 1
	if ! t=$("$hvsock_wait" --uds "$VM_UDS" --timeout-ms 600000) || ! vm_wait_agent 60 2>/dev/null; then
		vm_cleanup
		return 1
	fi
	wait_console '"listening [0-9.]* ms after start"' || true
	vm_agent_log_ms >>"$work/$1-listen"
	vm_cleanup
	echo "$(((t - VM_T0_NS) / 1000000)) $(vm_ready_ms)"
}

# VmRSS of PID 1 in KiB: debug console first, GetMetrics second; empty if neither works.
agent_rss_kib() {
	local v
	v=$(printf 'grep VmRSS /proc/1/status\nexit\n' | vm_connect_port 1026 15 2>/dev/null |
		tr -d '\r' | sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB.*/\1/p' | sed -n 1p) || true
	if [[ -n $v ]]; then
		echo "$v"
		return 0
	fi
	v=$(vm_call --timeout 30s GetMetrics '{}' 2>/dev/null | jq -r '.metrics // empty' |
		awk '$1 ~ /(resident_memory_bytes|agent_rss_bytes)$/ && !n++ {printf "%d\n", $2 / 1024}') || true
	[[ -n $v ]] && echo "$v"
}

rpc() { # METHOD REQUEST: quiet call; on failure the error text is in $work/rpc.err
	vm_call --timeout 120s "$1" "$2" >"$work/rpc.out" 2>"$work/rpc.err"
}

rss_run() { # ARCH
	local a=$1 i
	VM_INITRD=build/$a/vm/initrd.img VM_WORK=$work/$a-rss
	VM_APPEND="agent.debug_console agent.debug_console_vport=1026"
	VM_SHARE=$(cd "build/$a/vm/share" && pwd)
	vm_start >/dev/null 2>&1 || { note "$a RSS: VM did not start"; return 0; }
	if ! vm_wait_agent 600 2>/dev/null; then
		note "$a RSS: the agent did not come up"
		vm_cleanup
		return 0
	fi
	R[rss0,$a]=$(agent_rss_kib || true)
	[[ -n ${R[rss0,$a]} ]] || note "$a RSS: neither the debug console (1026) nor GetMetrics gave VmRSS"
	if ((execs > 0)); then
		if ! { rpc CreateSandbox "@$REQ/create-sandbox.json" &&
			rpc CreateContainer "@$REQ/create-container-sleep.json" &&
			rpc StartContainer "@$REQ/start-container-sleep.json"; }; then
			note "$a execs: container setup failed: $(head -c 160 "$work/rpc.err")"
		else
			local t0=$SECONDS ok=1
			for ((i = 1; i <= execs; i++)); do
				if ! { rpc ExecProcess "$(jq -c --arg e "bench-$i" \
					'.exec_id = $e | .process.Args = ["true"]' "$REQ/exec-echo.json")" &&
					rpc ReadStdout "{\"container_id\":\"$CID\",\"exec_id\":\"bench-$i\",\"len\":32768}" &&
					rpc WaitProcess "{\"container_id\":\"$CID\",\"exec_id\":\"bench-$i\"}"; }; then
					note "$a execs: round $i failed: $(head -c 160 "$work/rpc.err")"
					ok=0
					break
				fi
			done
			if ((ok)); then
				R[execs_s,$a]=$((SECONDS - t0))
				R[rss1,$a]=$(agent_rss_kib || true)
			fi
		fi
	fi
	vm_cleanup
	VM_SHARE='' VM_APPEND=''
}

for a in $arches; do
	set_arch "$a"
	missing=''
	for f in "$VM_KERNEL" "build/$a/vm/initrd.img" "build/$a/vm/floor-initrd.img"; do
		[[ -f $f ]] || missing+=" $f"
	done
	if [[ -n $missing ]]; then
		note "$a: skipped, missing$missing"
		continue
	fi
	: >"$work/$a-listen"
	floors=() readys=() accepts=()
	measured+=("$a")
	for ((r = 1; r <= runs; r++)); do
		echo "$PROG: $a boot $r/$runs" >&2
		if v=$(floor_once "$a" "$r"); then floors+=("$v"); else note "$a: floor boot $r failed"; fi
		if v=$(ready_once "$a" "$r"); then
			accepts+=("${v% *}") readys+=("${v#* }")
		else
			note "$a: agent boot $r failed"
		fi
	done
	if ((${#floors[@]})); then
		R[floor,$a]=$(printf '%s\n' "${floors[@]}" | median)
		R[floor_min,$a]=$(printf '%s\n' "${floors[@]}" | sort -n | sed -n 1p)
	fi
	((${#floors[@]})) || dead+=("$a: every floor boot failed")
	((${#readys[@]})) || dead+=("$a: every agent boot failed")
	if ((${#readys[@]})); then
		R[accept,$a]=$(printf '%s\n' "${accepts[@]}" | median)
		R[ready,$a]=$(printf '%s\n' "${readys[@]}" | median)
		R[ready_min,$a]=$(printf '%s\n' "${readys[@]}" | sort -n | sed -n 1p)
	fi
	R[listen,$a]=$(median <"$work/$a-listen")
	[[ $a == x86_64 ]] && rss_run "$a"
	R[agent,$a]=$(stat -c %s "build/$a/kata-agent" 2>/dev/null || true)
	R[initrd_agent,$a]=$(stat -c %s "build/$a/vm/initrd-agent.img" 2>/dev/null || true)
	R[initrd_bb,$a]=$(stat -c %s "build/$a/vm/initrd.img" 2>/dev/null || true)
	R[initrd_floor,$a]=$(stat -c %s "build/$a/vm/floor-initrd.img" 2>/dev/null || true)
done

ratio() { # A B [SUFFIX]: A/B to two decimals, or n/a
	if [[ -n ${1:-} && -n ${2:-} ]] && awk -v b="$2" 'BEGIN {exit !(b > 0)}'; then
		awk -v a="$1" -v b="$2" -v s="${3:-}" 'BEGIN {printf "%.2f%s", a / b, s}'
	else
		echo n/a
	fi
}
row() { # LABEL KEY-or-=EXPR per arch via callback
	local label=$1 fn=$2 a
	printf '%-52s' "$label"
	for a in $arches; do printf ' %14s' "$("$fn" "$a")"; done
	echo
}
get() { echo "${R[$1,$2]:-n/a}"; }
c_floor() { get floor "$1"; }
c_ready() { get ready "$1"; }
c_accept() { get accept "$1"; }
c_aratio() { ratio "${R[accept,$1]:-}" "${R[floor,$1]:-}" x; }
c_ratio() { ratio "${R[ready,$1]:-}" "${R[floor,$1]:-}" x; }
c_ready_min() { get ready_min "$1"; }
c_floor_min() { get floor_min "$1"; }
c_ratio_min() { ratio "${R[ready_min,$1]:-}" "${R[floor_min,$1]:-}" x; }
c_over() {
	if [[ -n ${R[ready,$1]:-} && -n ${R[floor,$1]:-} ]]; then
		echo $((R[ready,$1] - R[floor,$1]))
	else echo n/a; fi
}
c_listen() { get listen "$1"; }
c_budget() { ratio "${R[listen,$1]:-}" 5 x; }
c_rss0() { get rss0 "$1"; }
c_rss1() { get rss1 "$1"; }
c_rssr() { ratio "${R[rss1,$1]:-}" "${R[rss0,$1]:-}" x; }
c_execs() { get execs_s "$1"; }
c_agent() { get agent "$1"; }
c_ia() { get initrd_agent "$1"; }
c_ib() { get initrd_bb "$1"; }
c_if() { get initrd_floor "$1"; }
c_iar() { ratio "${R[initrd_agent,$1]:-}" "${R[initrd_floor,$1]:-}" x; }

echo
echo "VM benchmarks: QEMU TCG (no KVM), median of $runs boots (boots alternate agent/floor),"
echo "$(nproc) host CPUs shared with other work: boot times vary by a few hundred ms between runs"
printf '%-52s' metric
for a in $arches; do printf ' %14s' "$a"; done
echo
row "a. QEMU start -> Health.Check answer (ms)" c_ready
row "   QEMU start -> agent accepts on 1024 (ms)" c_accept
row "   floor: QEMU start -> marker /init accepts (ms)" c_floor
row "   ratio Health.Check answer / floor" c_ratio
row "   ratio accept / floor" c_aratio
row "   fastest boot: agent (ms)" c_ready_min
row "   fastest boot: floor (ms)" c_floor_min
row "   ratio of the fastest boots" c_ratio_min
row "   agent cost over the floor (ms)" c_over
row "b. /init exec -> listening (ms, guest clock)" c_listen
row "   ratio to the 5 ms budget" c_budget
row "c. agent VmRSS after boot (KiB)" c_rss0
row "   agent VmRSS after $execs execs (KiB)" c_rss1
row "   ratio after / before" c_rssr
row "   time for the $execs exec rounds (s)" c_execs
row "d. agent binary (bytes)" c_agent
row "   initrd, agent only, gzip (bytes)" c_ia
row "   initrd, agent + busybox, gzip (bytes)" c_ib
row "   floor initrd, marker /init (bytes)" c_if
row "   ratio agent-only / floor initrd" c_iar
if ((${#notes[@]})); then
	echo "notes:"
	printf '  - %s\n' "${notes[@]}"
fi
# A table of n/a is not a measurement: fail when an arch had no successful boot of either kind,
# or when no arch could be measured at all.
if ((${#dead[@]})) || ((${#measured[@]} == 0)); then
	printf '%s: FAILED: %s\n' "$PROG" "${dead[*]:-no architecture could be measured}" >&2
	exit 1
fi
