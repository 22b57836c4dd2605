#!/usr/bin/env bash
# The Kata Go runtime's recorded request frames (tests/fixtures/kata-go-client-2023) against the
# real static agent on the host, in their recorded order, on one connection, parked calls left
# parked: each frame's status must be what the runtime needs.  Runs as root inside fresh mount
# and pid namespaces with a private /run; the container rootfs and bind sources are created at
# the paths the frames name, so the frames go out unchanged, except CreateSandbox's 9p share
# (no virtio transport on the host).  Frames that would change the host itself are left out:
# 003-005 (network: tests/integration/network.sh covers them in a netns) and 008 (the clock).
set -euo pipefail

usage() {
	cat <<'USAGE'
Usage: tests/integration/fixtures.sh [--agent PATH] [--replay PATH] [--fixtures DIR]
USAGE
}

agent=build/x86_64/kata-agent
replay=build/host/tests/fixture_replay
fixtures=tests/fixtures/kata-go-client-2023
while [ $# -gt 0 ]; do
	case "$1" in
	--agent) agent=$2; shift ;;
	--replay) replay=$2; shift ;;
	--fixtures) fixtures=$2; shift ;;
	--help | -h) usage; exit 0 ;;
	*) echo "fixtures.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
agent=$(realpath "$agent")
replay=$(realpath "$replay")
fixtures=$(realpath "$fixtures")

if [ "$(id -u)" != 0 ]; then
	echo "fixtures.sh: needs root"
	echo "0 passed, 1 failed"
	exit 1
fi
if [ -z "${KAC_IN_NS:-}" ]; then
	exec unshare --mount --pid --fork --mount-proc --propagation private \
		env KAC_IN_NS=1 "$0" --agent "$agent" --replay "$replay" --fixtures "$fixtures"
fi

tmp=$(mktemp -d /tmp/kata-fixtures.XXXXXX)
mount -t tmpfs -o mode=755 tmpfs /run
cleanup() {
	kill -9 -1 2>/dev/null || true
	wait 2>/dev/null || true
	sleep 0.2
	for d in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok  : $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

P=7a3f5c1e9b2d4c6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6
C=9b1d4f7a2c5e8b0d3f6a9c2e5b8d1f4a7c0e3b6d9f2a5c8e1b4d7f0a3c6e9b2d
shared=/run/kata-containers/shared/containers
# CreateSandbox wipes /run/kata-containers, so the frames go in two halves on the same agent:
# the sandbox ones first, then, once the rootfs and bind sources exist, the containers'.
mkrootfs() {
	local r=$1
	mkdir -p "$r"/{bin,etc,proc,sys,dev,tmp,root}
	cp /bin/busybox "$r/bin/busybox"
	for applet in $(/bin/busybox --list); do
		[ -e "$r/bin/$applet" ] || ln -s busybox "$r/bin/$applet"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$r/etc/passwd"
	printf 'root:x:0:\nwheel:x:10:root\n' >"$r/etc/group"
	: >"$r/etc/hostname"
}

KATA_AGENT_LOG_LEVEL=debug "$agent" --server-addr "unix://$tmp/agent.sock" --cmdline-file /dev/null \
	>"$tmp/agent.log" 2>&1 &
for _ in $(seq 100); do [ -S "$tmp/agent.sock" ] && break; sleep 0.05; done

# Phase 1: up to GetOOMEvent; phase 2: the containers, on the same agent.
"$replay" --addr "unix://$tmp/agent.sock" --dir "$fixtures" --drop-9p \
	--skip 003,004,005,008,010,011,012,013,014,015,016,017,018,019,020,021,022,023,024,025,026,027,028,029,030,031 \
	--settle 2000 >"$tmp/phase1.out" 2>&1 || true
for id in $P $C; do
	mkrootfs "$shared/$id/rootfs"
	printf 'kreplay-pod\n' >"$shared/$id-0123456789abcdef-hostname"
done
mkdir -p /run/kata-containers/sandbox/shm
# The pause container asks for OOMScoreAdj -998; lowering it needs CAP_SYS_RESOURCE, which a
# guest's PID 1 has but some build hosts' root has not (bit 24 of CapEff).
adapt=()
capeff=$(awk '/^CapEff/{print $2}' /proc/self/status)
if (((16#$capeff >> 24 & 1) == 0)); then
	echo "note: this host's root lacks CAP_SYS_RESOURCE: CreateContainer's OOMScoreAdj is sent as 0"
	adapt+=(--drop-oom-adj)
fi
"$replay" --addr "unix://$tmp/agent.sock" --dir "$fixtures" "${adapt[@]}" \
	--skip 001,002,003,004,005,006,007,008,009 --settle 3000 >"$tmp/phase2.out" 2>&1 || true
cat "$tmp/phase1.out" "$tmp/phase2.out" | grep -v ' skipped$' | sort -u >"$tmp/all.out" || true
cat "$tmp/all.out"

# expect NNN STATUS_REGEX WHY
expect() {
	local line
	line=$(grep "^$1 " "$tmp/all.out" || true)
	if [[ $line =~ ^$1\ [A-Za-z]+\ $2$ ]]; then ok "$line ($3)"; else bad "frame $1: want /$2/ ($3), got '$line'"; fi
}
expect 001 OK "Health.Check"
expect 002 OK "Health.Version"
expect 006 OK "CreateSandbox: hostname, DNS, shm ephemeral storage"
expect 007 OK "GetGuestDetails"
expect 009 parked "GetOOMEvent stays parked while nothing is OOM-killed"
expect 010 OK "CreateContainer, pause-like"
expect 011 OK "OnlineCPUMem with nothing to online"
expect 012 OK "StartContainer"
expect 013 OK "ReadStdout of the pause container: EOF once DestroySandbox kills it"
expect 014 OK "ReadStderr likewise"
expect 015 OK "CreateContainer (second, prints and exits 3)"
expect 016 OK "OnlineCPUMem, second shape"
expect 017 OK "WaitProcess of the never-started container: parked until 018's SIGKILL"
expect 018 OK "SignalProcess SIGKILL, exec_id \"\": the whole container"
expect 019 'NOT_FOUND: .*' "WaitProcess again: the record went with 017's answer"
expect 020 OK "RemoveContainer"
expect 021 OK "RemoveStaleVirtiofsShareMounts"
expect 022 OK "ExecProcess cat /etc/hostname"
expect 023 OK "ExecProcess with a tty"
expect 024 OK "TtyWinResize"
expect 025 'OK|NOT_FOUND: .*' "SignalProcess SIGKILL of an exec"
expect 026 OK "StatsContainer"
expect 027 OK "PauseContainer"
expect 028 OK "ResumeContainer"
expect 029 OK "UpdateContainer: 256 MiB, quota 50000/100000"
expect 030 OK "GetMetrics"
expect 031 OK "DestroySandbox"
if [ "$fail" != 0 ]; then echo "---- agent log (last 30 lines)"; tail -30 "$tmp/agent.log"; fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
