#!/bin/bash
# The container benchmarks' environment (tests/bench): as root, in fresh mount and pid
# namespaces with a private /run, builds a busybox bundle, starts our static agent on a unix
# socket (its passfd listener on an abstract unix socket, KATA_AGENT_PASSFD_ADDR) and runs the
# measuring client (ctr-bench, tests/bench/ctr_bench.c and ctr_bench_stdout.c), which drives both
# the agent and `crun run` of the same bundle in the same namespaces.  Prints the client's
# key=value line; tests/bench/bench.sh --mode containers turns it into the table.
#
# --smoke: one iteration of each path with byte-content checks, asserting that every call
# succeeded and that no container cgroup was left behind (a test for `make check`).
set -euo pipefail

usage() {
	cat <<'EOF'
Usage: tests/bench/ctr-bench.sh --agent PATH --client PATH [OPTIONS]
  --agent PATH        our static agent (build/x86_64/kata-agent)
  --client PATH       the measuring client (build/host/bench/ctr-bench)
  --crun PATH         crun (default: crun from PATH)
  --iterations N      lifecycle iterations per side (default 50)
  --warmup N          untimed lifecycle iterations per side (default 2)
  --rounds N          ReadStdout / relay / raw-copy / passfd rounds (default 3)
  --stdout-mib N      MiB per throughput round (default 256)
  --smoke             correctness run: 1 iteration, 8 MiB, contents checked; prints
                      "N passed, N failed"
  --help              this text
Needs root (skips with a note otherwise).  Runs itself again inside
`unshare --mount --pid --fork --mount-proc`; cgroups go under a per-run parent and are removed.
Exit status: 0 ok (or skipped), 1 a call or check failed, 2 usage.
EOF
}

agent="" client="" crun=crun smoke=0
iterations=50 warmup=2 rounds=3 stdout_mib=256
while [[ $# -gt 0 ]]; do
	case $1 in
	--agent) agent=${2:?}; shift 2 ;;
	--client) client=${2:?}; shift 2 ;;
	--crun) crun=${2:?}; shift 2 ;;
	--iterations) iterations=${2:?}; shift 2 ;;
	--warmup) warmup=${2:?}; shift 2 ;;
	--rounds) rounds=${2:?}; shift 2 ;;
	--stdout-mib) stdout_mib=${2:?}; shift 2 ;;
	--smoke) smoke=1; shift ;;
	--help) usage; exit 0 ;;
	*) echo "ctr-bench.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
done
for f in "$agent" "$client"; do
	[[ -n $f && -x $f ]] || { echo "ctr-bench.sh: --agent and --client must name executables ('$f')" >&2; exit 2; }
done
if ((smoke)); then
	iterations=1 warmup=0 rounds=1 stdout_mib=8
fi

if [[ $(id -u) != 0 ]]; then
	echo "ctr-bench.sh: needs root (namespaces, cgroups, crun); skipped"
	((smoke == 0)) || echo "ctr bench smoke: 0 passed, 0 failed, 1 skipped"
	exit 0
fi
crun_path=$(command -v "$crun") || { echo "ctr-bench.sh: no crun ('$crun'); run scripts/setup.sh" >&2; exit 1; }
[[ -x /bin/busybox ]] || { echo "ctr-bench.sh: no /bin/busybox; run scripts/setup.sh" >&2; exit 1; }

if [[ -z ${CTR_BENCH_IN_NS:-} ]]; then
	args=(--agent "$(realpath "$agent")" --client "$(realpath "$client")" --crun "$crun_path"
		--iterations "$iterations" --warmup "$warmup" --rounds "$rounds" --stdout-mib "$stdout_mib")
	((smoke == 0)) || args+=(--smoke)
	exec unshare --mount --pid --fork --mount-proc --propagation private \
		env CTR_BENCH_IN_NS=1 "$0" "${args[@]}"
fi

# From here on we are PID 1 of a private pid namespace with a private mount namespace.
tmp=$(mktemp -d /tmp/ctr-bench.XXXXXX)
cgparent=${tmp##*/}
# Private /run: the agent's /run/kata-containers and crun's state (/run/crun) live there.
mount -t tmpfs -o mode=755 tmpfs /run
# crun refuses a hybrid layout whose cgroup2 hierarchy has controllers ("cgroups in hybrid mode
# not supported"; on this host: hugetlb), even with --cgroup-manager=disabled.  Hide the cgroup2
# mount in this mount namespace only: crun then works on the v1 hierarchies, as the agent does.
if [[ -n $(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null) ]]; then
	mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup/unified
fi

# cgroup_dirs MINDEPTH: the cgroups under our parent, in every hierarchy (not the plain
# directories crun makes in the tmpfs over /sys/fs/cgroup/unified, see below).
cgroup_dirs() {
	find /sys/fs/cgroup/*/"$cgparent" /sys/fs/cgroup/"$cgparent" -mindepth "$1" -type d \
		\( -fstype cgroup -o -fstype cgroup2 \) 2>/dev/null || true
}
cleanup() {
	# Take every process of this namespace down with us (agent, containers, writers).
	kill -9 -1 2>/dev/null || true
	wait 2>/dev/null || true
	local d
	for d in $(cgroup_dirs 0 | sort -r); do
		rmdir "$d" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

# ---- the bundle: a busybox rootfs with relative applet links (true, head, ...) ----
rootfs=$tmp/bundle/rootfs
mkdir -p "$rootfs"/{bin,dev,proc,sys,tmp,etc}
cp /bin/busybox "$rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
	[[ -e $rootfs/bin/$applet ]] || ln -s busybox "$rootfs/bin/$applet"
done

# ---- the agent ----
sock=$tmp/agent.sock
# passfd I/O on the host: a unix listener instead of vsock (docs/PROTOCOL.md, "passfd stdio").
passfd_addr=unix://@$cgparent-passfd
KATA_AGENT_PASSFD_ADDR=$passfd_addr "$agent" --server-addr "unix://$sock" --log-level error --cmdline-file /dev/null \
	>"$tmp/agent.log" 2>&1 &
agent_pid=$!
# Not a job of ours: the cleanup's SIGKILL must not print "Killed" into the results.
disown "$agent_pid"
for _ in $(seq 500); do
	[[ -S $sock ]] && break
	kill -0 "$agent_pid" 2>/dev/null || break
	sleep 0.02
done
[[ -S $sock ]] || { echo "ctr-bench.sh: the agent did not start: $(cat "$tmp/agent.log")" >&2; exit 1; }

client_args=(--socket "$sock" --passfd-addr "$passfd_addr" --bundle "$tmp/bundle" --crun "$crun_path"
	--cgroup-parent "$cgparent" --iterations "$iterations" --warmup "$warmup"
	--rounds "$rounds" --stdout-mib "$stdout_mib")
((smoke == 0)) || client_args+=(--verify)
rc=0
out=$("$client" "${client_args[@]}") || rc=$?
alive=1
kill -0 "$agent_pid" 2>/dev/null || alive=0
if ((rc != 0 || alive == 0)); then
	echo "ctr-bench.sh: client exit $rc, agent running: $alive; agent log:" >&2
	tail -20 "$tmp/agent.log" >&2
fi

if ((smoke == 0)); then
	((rc == 0 && alive == 1)) || exit 1
	echo "$out"
	exit 0
fi

pass=0 fail=0
# check DESC COMMAND...: the command's status decides.
check() {
	local desc=$1
	shift
	if "$@"; then
		pass=$((pass + 1))
		echo "ok   $desc"
	else
		fail=$((fail + 1))
		echo "FAIL $desc"
	fi
}
# Per lifecycle iteration: 4 agent calls + 1 crun run; the throughput round: Create, Start,
# the full read, Wait, Remove, the same-shape relay, the raw copy, and passfd's Create, Start,
# full read, Wait, Remove.
check "client: every call succeeded ($out)" test "$rc" = 0
check "client: 17 checked operations counted" grep -q ' calls=17$' <<<"$out"
check "passfd stdout: all $stdout_mib MiB arrived, once" \
	grep -q " passfd_bytes=$((stdout_mib << 20)) " <<<"$out"
check "agent still running after the client" test "$alive" = 1
check "no container cgroup left under $cgparent" test -z "$(cgroup_dirs 1)"
check "no crun state left in /run/crun" test -z "$(ls -A /run/crun 2>/dev/null)"
echo "ctr bench smoke: $pass passed, $fail failed"
((fail == 0))
