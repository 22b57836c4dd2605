#!/usr/bin/env bash
# vm-bench.sh (make bench-vm): VM-level figures for the agent, printed as one table.
#
#   a. boot to ready: QEMU start -> first Health.Check answer over hybrid vsock, against the same
#      kernel, QEMU command line and initrd (same files, size and compression) with only /init
#      swapped for a program that accepts on vsock port 1024 (the floor, marker-init.c), as a
#      ratio against the 1.05 budget in docs/BUILDING.md; median of --runs boots, per boot path:
#      x86_64 (SeaBIOS, -kernel bzImage), pvh (qboot, -kernel vmlinux: PVM's entry), riscv64
#      (virt, OpenSBI).  Both initrd sizes are printed; the run fails when they disagree.  The
#      agent boots as a runtime boots it, without agent.log (its default level); a third boot per
#      round runs it at agent.log=debug for the phases below and prints what that level costs.
#   b. /init exec -> ttrpc listening, from the agent's own debug log ("listening N ms after
#      start"), guest time, against the 5 ms budget in docs/BUILDING.md ("Performance budgets").
#   e. where the agent's time over the floor goes, in the debug boots, on the guest's
#      CLOCK_MONOTONIC (both /init programs print it: the agent's "startup:" debug line, the
#      marker's KAC-FLOOR-* lines): kernel start -> /init (the initramfs unpacking from the
#      kernel log), then the agent's phases (mounts, listen, event loop), then the host's Check;
#      the uevent listener, cgroup mounts, hostname and lo come after the first Check answer
#      (agent/src/main.c).
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

paths="x86_64 pvh riscv64" runs=5 summary="" execs=1000 work=build/bench-vm
hvsock_wait=build/host/bench-vm/hvsock-wait
VM_BACKEND=build/host/vhost-user-vsock VM_CTL=build/host/kata-agent-ctl
VM_POLL=0.01

usage() {
	cat <<EOF
Usage: $PROG [--paths "x86_64 pvh riscv64"] [--runs N] [--execs N] [--workdir DIR]
             [--backend FILE] [--ctl FILE] [--hvsock-wait FILE] [--summary FILE]

Reads, per ARCH: build/ARCH/kernel/{bzImage,vmlinux,Image}, build/ARCH/kata-agent,
build/ARCH/vm/{initrd.img,initrd-agent.img,floor-initrd.img,share/} (make bench-vm builds them).
  --paths P    boot paths: x86_64 (bzImage), pvh (x86_64 qboot + vmlinux), riscv64 (virt);
               --arches is the same option
  --runs N     boots per measurement, median reported (default $runs)
  --summary F  append the budget rows to F in tests/bench/bench.sh's --summary format
  --execs N    exec rounds between the two RSS readings (default $execs; 0 skips them)
  -h, --help   this text
EOF
}

while (($#)); do
	case $1 in
	--paths | --arches) paths=${2:?}; shift 2 ;;
	--summary) summary=${2:?}; shift 2 ;;
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
for p in $paths; do
	case $p in x86_64 | pvh | riscv64) ;; *) usage >&2; echo "$PROG: unknown boot path $p" >&2; exit 2 ;; esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "$PROG: --runs must be a positive number" >&2; exit 2; }
mkdir -p "$work"
work=$(cd "$work" && pwd)

declare -A R # results: R[metric,path]
notes=() measured=() dead=()
note() { notes+=("$*"); }

median() { sort -n | awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)]}'; }

set_path() { # PATH: x86_64 | pvh | riscv64
	case $1 in
	x86_64) VM_ARCH=x86_64 VM_BOOT=bzimage ;;
	pvh) VM_ARCH=x86_64 VM_BOOT=pvh ;;
	riscv64) VM_ARCH=riscv64 VM_BOOT=virt ;;
	esac
	VM_KERNEL=$(vm_default_kernel "$VM_ARCH" "$VM_BOOT")
}

# Both kinds of boot are timed by the same in-process poller (hvsock-wait.c): QEMU start -> the
# guest accepts a hybrid-vsock CONNECT to port 1024.  For the agent the poller then sends one
# Health.Check on that connection, as the runtime's first call follows its dial: its answer is
# the "ready" figure (no host process is started on the way).  The console cannot serve as the
# floor's clock: under TCG it runs hundreds of ms behind the guest.  Both boots use `quiet`.
# The guest's own figures (CLOCK_MONOTONIC, printed by both /init programs) are read from the
# console afterwards, once the host's clock has stopped.
wait_console() { # PATTERN: up to 10 s for the console to show it
	local i
	for ((i = 0; i < 200; i++)); do
		grep -q -- "$1" "$VM_WORK/console.log" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

console_text() { tr -d '\r' <"$VM_WORK/console.log" 2>/dev/null || true; }

# klog_s PATTERN: the kernel's timestamp (s) of the first KAC-FLOOR-KLOG line matching PATTERN.
klog_s() {
	console_text | sed -n "s/^KAC-FLOOR-KLOG <[0-9]*>\\[ *\\([0-9.]*\\)\\] .*$1.*/\\1/p" | sed -n 1p
}

# One floor boot -> a line "host_ms init_ms listening_ms unpack_ms" ('-' for a figure the console
# did not show): QEMU start -> accept (host), the marker's start on the guest clock, its start ->
# listen, and the kernel's initramfs unpacking (from "Unpacking initramfs" to "Freeing initrd").
floor_once() { # PATH RUN
	local t line start listening u0 u1
	VM_INITRD=build/$VM_ARCH/vm/floor-initrd.img VM_WORK=$work/$1-floor-$2 VM_APPEND=quiet
	vm_start >/dev/null 2>&1 || return 1
	if ! t=$("$hvsock_wait" --uds "$VM_UDS" --timeout-ms 600000); then
		vm_cleanup
		return 1
	fi
	wait_console KAC-FLOOR-MARKER || { vm_cleanup; return 1; }
	wait_console 'KAC-FLOOR-KLOG.*Run /init' || true
	vm_cleanup
	line=$(console_text | sed -n 's/^KAC-FLOOR-MARKER start_us=\([0-9]*\) listening_us=\([0-9]*\)$/\1 \2/p' |
		sed -n 1p)
	read -r start listening <<<"${line:-- -}"
	u0=$(klog_s '\(Unpacking initramfs\|Trying to unpack rootfs\)') u1=$(klog_s 'Freeing initrd memory')
	awk -v h=$(((t - VM_T0_NS) / 1000000)) -v s="$start" -v l="$listening" -v u0="$u0" -v u1="$u1" \
		'BEGIN {
			printf "%d %s %s %s\n", h, s == "-" ? "-" : sprintf("%.3f", s / 1000),
				s == "-" ? "-" : sprintf("%.3f", (l - s) / 1000),
				u0 == "" || u1 == "" ? "-" : sprintf("%.3f", (u1 - u0) * 1000)
		}'
}

# One boot of the agent initrd -> a line "ready_ms accept_ms listening_ms init mounts config loop
# listen uevent serving late" ('-' when missing): QEMU start -> Check answer and -> accept
# (host), the agent's "listening N ms after start", then its "startup:" debug line (main.c):
# /init on the guest clock and each phase's end after /init, and when its late set-up (cgroups,
# hostname, lo, then the uevent listener) was done, after the first Check answer.
# LEVEL is the agent's log level: debug prints those lines on the serial console, which costs
# boot time under TCG; "default" boots without agent.log, as a runtime does unless its
# enable_debug is set, and its line then holds the two host figures only.
ready_once() { # PATH RUN LEVEL
	local t listen phases late
	VM_INITRD=build/$VM_ARCH/vm/initrd.img VM_WORK=$work/$1-ready-$3-$2 VM_APPEND=quiet
	VM_AGENT_LOG=$3
	[[ $3 != default ]] || VM_AGENT_LOG=''
	vm_start >/dev/null 2>&1 || return 1
	if ! t=$("$hvsock_wait" --uds "$VM_UDS" --timeout-ms 600000 --check); then
		vm_cleanup
		return 1
	fi
	if [[ $3 == default ]]; then
		vm_cleanup
		echo "$(((${t#* } - VM_T0_NS) / 1000000)) $(((${t% *} - VM_T0_NS) / 1000000))"
		return 0
	fi
	wait_console '"late set-up (cgroups' || true
	listen=$(vm_agent_log_ms)
	vm_cleanup
	phases=$(console_text | sed -n 's/.*"msg":"startup: \/init at \([0-9.]*\) ms of guest uptime; after start: mounts \([0-9.]*\), config \([0-9.]*\), loop \([0-9.]*\), listening \([0-9.]*\), uevent scan \([0-9.]*\), serving \([0-9.]*\) ms".*/\1 \2 \3 \4 \5 \6 \7/p' |
		sed -n 1p)
	late=$(console_text | sed -n 's/.*"msg":"late set-up (cgroups, hostname, lo) [^:]*: done \([0-9.]*\) ms after start.*/\1/p' |
		sed -n 1p)
	echo "$(((${t#* } - VM_T0_NS) / 1000000)) $(((${t% *} - VM_T0_NS) / 1000000)) ${listen:--} ${phases:-- - - - - - -} ${late:--}"
}

# VmRSS of PID 1 in KiB: debug console first, GetMetrics second; empty if neither works.
agent_rss_kib() {
	local v
	v=$(vm_guest_sh 'grep VmRSS /proc/1/status' 15 2>/dev/null |
		sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB.*/\1/p' | sed -n 1p) || true
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

# col FILE N: the median of column N of FILE, '-' entries left out (empty when none).
col() { awk -v n="$2" '$n != "-" && $n != "" {print $n}' "$1" | median; }

# initrd_cpio_size IMAGE: the uncompressed size build-initrd.sh recorded in IMAGE.list.
initrd_cpio_size() { sed -n 's/^# cpio sha256 [0-9a-f]* size \([0-9]*\)$/\1/p' "$1.list" 2>/dev/null; }

# The floor is only comparable when its initrd is the agent's but for /init: the same cpio size
# (floor-init is padded to the agent's size) and the compressed sizes within 1 %.
check_initrds() { # PATH
	local a=$VM_ARCH ca cf
	R[initrd_bb,$1]=$(stat -c %s "build/$a/vm/initrd.img")
	R[initrd_floor,$1]=$(stat -c %s "build/$a/vm/floor-initrd.img")
	ca=$(initrd_cpio_size "build/$a/vm/initrd.img") cf=$(initrd_cpio_size "build/$a/vm/floor-initrd.img")
	R[cpio_bb,$1]=$ca R[cpio_floor,$1]=$cf
	if [[ -z $ca || $ca != "$cf" ]] || ! awk -v a="${R[initrd_bb,$1]}" -v f="${R[initrd_floor,$1]}" \
		'BEGIN {d = a - f; if (d < 0) d = -d; exit !(d * 100 <= a)}'; then
		dead+=("$1: the floor initrd (${R[initrd_floor,$1]} bytes, cpio ${cf:-?}) is not the agent's (${R[initrd_bb,$1]} bytes, cpio ${ca:-?})")
		return 1
	fi
}

for p in $paths; do
	set_path "$p"
	missing=''
	for f in "$VM_KERNEL" "build/$VM_ARCH/vm/initrd.img" "build/$VM_ARCH/vm/floor-initrd.img"; do
		[[ -f $f ]] || missing+=" $f"
	done
	if [[ -n $missing ]]; then
		note "$p: skipped, missing$missing"
		continue
	fi
	check_initrds "$p" || continue
	: >"$work/$p-floor" && : >"$work/$p-agent" && : >"$work/$p-debug"
	measured+=("$p")
	# Per round: the floor, the agent as a runtime boots it, the agent at agent.log=debug (its
	# phases, and what the debug lines on the serial console cost).
	for ((r = 1; r <= runs; r++)); do
		echo "$PROG: $p boot $r/$runs" >&2
		if v=$(floor_once "$p" "$r"); then echo "$v" >>"$work/$p-floor"; else note "$p: floor boot $r failed"; fi
		if v=$(ready_once "$p" "$r" default); then echo "$v" >>"$work/$p-agent"; else note "$p: agent boot $r failed"; fi
		if v=$(ready_once "$p" "$r" debug); then echo "$v" >>"$work/$p-debug"; else note "$p: agent debug boot $r failed"; fi
	done
	[[ -s $work/$p-floor ]] || dead+=("$p: every floor boot failed")
	[[ -s $work/$p-agent ]] || dead+=("$p: every agent boot failed")
	[[ -s $work/$p-debug ]] || dead+=("$p: every agent boot at agent.log=debug failed")
	for k in floor:1 f_init:2 f_listen:3 f_unpack:4; do R[${k%:*},$p]=$(col "$work/$p-floor" "${k#*:}"); done
	for k in ready:1 accept:2; do R[${k%:*},$p]=$(col "$work/$p-agent" "${k#*:}"); done
	for k in ready_dbg:1 accept_dbg:2 listen:3 a_init:4 a_mounts:5 a_config:6 a_loop:7 a_listen:8 \
		a_uevent:9 a_serving:10 a_late:11; do
		R[${k%:*},$p]=$(col "$work/$p-debug" "${k#*:}")
	done
	R[floor_min,$p]=$(awk '{print $1}' "$work/$p-floor" | sort -n | sed -n 1p)
	R[ready_min,$p]=$(awk '{print $1}' "$work/$p-agent" | sort -n | sed -n 1p)
	[[ $p == x86_64 ]] && rss_run x86_64
	R[agent,$p]=$(stat -c %s "build/$VM_ARCH/kata-agent" 2>/dev/null || true)
	R[initrd_agent,$p]=$(stat -c %s "build/$VM_ARCH/vm/initrd-agent.img" 2>/dev/null || true)
done

ratio() { # A B [SUFFIX]: A/B to two decimals, or n/a
	if [[ -n ${1:-} && -n ${2:-} ]] && awk -v b="$2" 'BEGIN {exit !(b > 0)}'; then
		awk -v a="$1" -v b="$2" -v s="${3:-}" 'BEGIN {printf "%.2f%s", a / b, s}'
	else
		echo n/a
	fi
}
# calc EXPR A B ...: EXPR in awk over a..f (three decimals), or n/a when one is missing.
calc() {
	local expr=$1 v
	shift
	for v in "$@"; do [[ -n $v ]] || { echo n/a; return 0; }; done
	awk -v a="${1:-0}" -v b="${2:-0}" -v c="${3:-0}" -v d="${4:-0}" -v e="${5:-0}" -v f="${6:-0}" \
		"BEGIN {printf \"%.3f\", $expr}"
}
row() { # LABEL FN: one column per boot path, FN PATH prints the cell
	local label=$1 fn=$2 p
	printf '%-56s' "$label"
	for p in $paths; do printf ' %12s' "$("$fn" "$p")"; done
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
c_over() { calc 'a - b' "${R[ready,$1]:-}" "${R[floor,$1]:-}"; }
c_ready_dbg() { get ready_dbg "$1"; }
c_ratio_dbg() { ratio "${R[ready_dbg,$1]:-}" "${R[floor,$1]:-}" x; }
c_dbg_cost() { calc 'a - b' "${R[ready_dbg,$1]:-}" "${R[ready,$1]:-}"; }
c_ib() { get initrd_bb "$1"; }
c_if() { get initrd_floor "$1"; }
c_cb() { get cpio_bb "$1"; }
c_cf() { get cpio_floor "$1"; }
c_listen() { get listen "$1"; }
c_budget() { ratio "${R[listen,$1]:-}" 5 x; }
c_f_unpack() { get f_unpack "$1"; }
c_f_init() { get f_init "$1"; }
c_a_init() { get a_init "$1"; }
c_f_listen() { get f_listen "$1"; }
c_a_mounts() { get a_mounts "$1"; }
c_a_listen() { get a_listen "$1"; }
c_a_config() { get a_config "$1"; }
c_a_loop() { get a_loop "$1"; }
c_a_late() { get a_late "$1"; }
c_a_uevent() { get a_uevent "$1"; }
c_a_serving() { get a_serving "$1"; }
c_check() { calc 'a - b' "${R[ready_dbg,$1]:-}" "${R[accept_dbg,$1]:-}"; }
c_d_kernel() { calc 'a - b' "${R[a_init,$1]:-}" "${R[f_init,$1]:-}"; }
c_d_listen() { calc 'a - b' "${R[a_listen,$1]:-}" "${R[f_listen,$1]:-}"; }
c_d_serve() { calc 'a - b' "${R[a_serving,$1]:-}" "${R[a_listen,$1]:-}"; }
# What the guest phases above leave of the host's figure: the Check round trip (kata-agent-ctl's
# start, the connection, one ttrpc call), the console and the host's noise.
c_d_rest() {
	calc '(a - b) - (c - d) - (e - f)' "${R[ready_dbg,$1]:-}" "${R[floor,$1]:-}" "${R[a_init,$1]:-}" \
		"${R[f_init,$1]:-}" "${R[a_serving,$1]:-}" "${R[f_listen,$1]:-}"
}
c_none() { :; }
c_rss0() { get rss0 "$1"; }
c_rss1() { get rss1 "$1"; }
c_rssr() { ratio "${R[rss1,$1]:-}" "${R[rss0,$1]:-}" x; }
c_execs() { get execs_s "$1"; }
c_agent() { get agent "$1"; }
c_ia() { get initrd_agent "$1"; }
c_iar() { ratio "${R[initrd_agent,$1]:-}" "${R[initrd_floor,$1]:-}" x; }

echo
echo "VM benchmarks: QEMU TCG (no KVM), median of $runs boots (each round boots the floor, the agent,"
echo "and the agent at agent.log=debug),"
echo "$(nproc) host CPUs shared with other work: boot times vary by a few hundred ms between runs"
printf '%-56s' metric
for p in $paths; do printf ' %12s' "$p"; done
echo
row "a. QEMU start -> Health.Check answer (ms)" c_ready
row "   QEMU start -> agent accepts on 1024 (ms)" c_accept
row "   floor: QEMU start -> marker /init accepts (ms)" c_floor
row "   ratio Health.Check answer / floor (budget 1.05)" c_ratio
row "   ratio accept / floor" c_aratio
row "   fastest boot: agent (ms)" c_ready_min
row "   fastest boot: floor (ms)" c_floor_min
row "   ratio of the fastest boots" c_ratio_min
row "   agent cost over the floor (ms)" c_over
row "   agent.log=debug: QEMU start -> Health.Check answer" c_ready_dbg
row "   agent.log=debug: ratio to the floor" c_ratio_dbg
row "   agent.log=debug: cost over the default level (ms)" c_dbg_cost
row "   initrd, gzip: agent's (bytes)" c_ib
row "   initrd, gzip: floor's, same files, marker /init" c_if
row "   initrd, cpio: agent's (bytes)" c_cb
row "   initrd, cpio: floor's (bytes)" c_cf
row "b. /init exec -> listening (ms, guest clock)" c_listen
row "   ratio to the 5 ms budget" c_budget
row "e. guest clock (ms), agent at agent.log=debug:" c_none
row "   kernel unpacks the initramfs: floor" c_f_unpack
row "   kernel start -> /init: floor" c_f_init
row "   kernel start -> /init: agent" c_a_init
row "   /init -> listening: floor" c_f_listen
row "   /init -> mounts done: agent" c_a_mounts
row "   /init -> config read: agent" c_a_config
row "   /init -> event loop, ttrpc server set up: agent" c_a_loop
row "   /init -> listening (and its 2 log lines): agent" c_a_listen
row "   /init -> uevents (PID 1: deferred to the late set-up)" c_a_uevent
row "   /init -> event loop runs: agent" c_a_serving
row "   /init -> cgroups, hostname, lo, uevents (after Check)" c_a_late
row "   host: agent accepts -> Check answer (ms)" c_check
row "   over the floor: kernel -> /init, agent - floor" c_d_kernel
row "   over the floor: /init -> listening, agent - floor" c_d_listen
row "   over the floor: listening -> event loop, agent" c_d_serve
row "   over the floor: rest (Check round trip, console, noise)" c_d_rest
row "c. agent VmRSS after boot (KiB)" c_rss0
row "   agent VmRSS after $execs execs (KiB)" c_rss1
row "   ratio after / before" c_rssr
row "   time for the $execs exec rounds (s)" c_execs
row "d. agent binary (bytes)" c_agent
row "   initrd, agent only, gzip (bytes)" c_ia
row "   ratio agent-only / floor initrd" c_iar
if ((${#notes[@]})); then
	echo "notes:"
	printf '  - %s\n' "${notes[@]}"
fi

# The budget rows, in tests/bench/bench.sh's table and --summary format (make bench).
missed=0
budget_row() { # NAME OURS OTHER BUDGET(<=X)
	local ratio verdict=- name="vm: $1"
	ratio=$(awk -v a="$2" -v b="$3" 'BEGIN { if (b > 0 && a != "") printf "%.3f", a / b; else print "n/a" }')
	if [[ $ratio != n/a ]]; then
		if awk -v r="$ratio" -v b="${4:2}" 'BEGIN { exit !(r <= b) }'; then verdict=ok; else verdict=MISS missed=1; fi
	fi
	printf '%-46s %12s %12s %8s %9s  %s\n' "$name" "${2:-n/a}" "${3:-n/a}" "$ratio" "$4" "$verdict"
	[[ -z $summary ]] ||
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "${2:-n/a}" "${3:-n/a}" "$ratio" "$4" "$verdict" >>"$summary"
}
printf '\n== boot to ready (median of %s boots) ==\n' "$runs"
printf '%-46s %12s %12s %8s %9s  %s\n' name ours peer/limit ratio budget verdict
for p in "${measured[@]}"; do
	budget_row "$p ready vs same-initrd floor (ms)" "${R[ready,$p]:-}" "${R[floor,$p]:-}" "<=1.05"
	budget_row "$p /init -> listening vs 5 ms" "${R[listen,$p]:-}" 5 "<=1.00"
done
((missed == 0)) || echo "$PROG: budget missed (benchmarks report; they do not fail the build)"
# A table of n/a is not a measurement: fail when a boot path had no successful boot of either
# kind, when the floor's initrd was not the agent's, or when nothing could be measured at all.
if ((${#dead[@]})) || ((${#measured[@]} == 0)); then
	printf '%s: FAILED: %s\n' "$PROG" "${dead[*]:-no boot path could be measured}" >&2
	exit 1
fi
