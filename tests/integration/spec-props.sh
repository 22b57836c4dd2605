#!/usr/bin/env bash
# No CreateContainer request can crash the agent: random specs (tests/integration/spec_gen.py)
# with valid, borderline and wrong namespace, mount, device and rlimit entries go to the real
# static agent, as root inside fresh mount and pid namespaces with a private /run.  After every
# request the agent must still be running and answer Health.Check, the request must get a
# status (not a dropped connection), and a container it accepted must start, be waited and be
# removed.  The seed is printed; `--seed S` repeats a run.
set -euo pipefail

usage() {
	cat <<'USAGE'
Usage: tests/integration/spec-props.sh [--agent PATH] [--ctl PATH] [--count N] [--seed S]
USAGE
}

agent=build/x86_64/kata-agent
ctl=build/host/kata-agent-ctl
count=150
seed=${SPEC_PROPS_SEED:-$(date +%s)}
while [ $# -gt 0 ]; do
	case "$1" in
	--agent) agent=$2; shift ;;
	--ctl) ctl=$2; shift ;;
	--count) count=$2; shift ;;
	--seed) seed=$2; shift ;;
	--help | -h) usage; exit 0 ;;
	*) echo "spec-props.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
agent=$(realpath "$agent")
ctl=$(realpath "$ctl")
gen=$(realpath "$(dirname "$0")/spec_gen.py")

if [ "$(id -u)" != 0 ]; then
	echo "spec-props.sh: needs root"
	echo "0 passed, 1 failed"
	exit 1
fi
if [ -z "${KAC_IN_NS:-}" ]; then
	exec unshare --mount --pid --fork --mount-proc --propagation private \
		env KAC_IN_NS=1 "$0" --agent "$agent" --ctl "$ctl" --count "$count" --seed "$seed"
fi

tmp=$(mktemp -d /tmp/kata-props.XXXXXX)
mount -t tmpfs -o mode=755 tmpfs /run
cleanup() {
	kill -9 -1 2>/dev/null || true
	wait 2>/dev/null || true
	sleep 0.2
	for d in /sys/fs/cgroup/*/kata-props /sys/fs/cgroup/kata-props; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	umount -R "$tmp/rootfs" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$tmp/rootfs"/{bin,etc,proc,sys,dev,tmp,mnt}
cp /bin/busybox "$tmp/rootfs/bin/busybox"
for applet in true sh; do ln -s busybox "$tmp/rootfs/bin/$applet"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$tmp/rootfs/etc/passwd"
: >"$tmp/rootfs/etc/hostname"
sleep 100000 &
sleeper=$!

A="unix://$tmp/agent.sock"
"$agent" --server-addr "$A" --cmdline-file /dev/null >"$tmp/agent.log" 2>&1 &
agent_pid=$!
"$ctl" --addr "$A" --connect-timeout 10s --quiet check || { echo "agent did not start"; exit 1; }
call() { "$ctl" --addr "$A" --timeout 30s call "$@"; }
call CreateSandbox '{"hostname":"props","sandbox_id":"props"}' >/dev/null

echo "spec-props: seed $seed, $count requests"
python3 "$gen" "$seed" "$count" "$tmp/rootfs" "$sleeper" >"$tmp/requests"
pass=0 fail=0 accepted=0 refused=0 i=0
declare -A codes=()
while IFS= read -r req; do
	cid="prop$i"
	rc=0
	call CreateContainer "$req" >"$tmp/out" 2>"$tmp/err" || rc=$?
	if ! kill -0 "$agent_pid" 2>/dev/null; then
		echo "FAIL: request $i (seed $seed) killed the agent:"; printf '%s\n' "$req"
		fail=$((fail + 1)); break
	fi
	if ((rc == 0)); then
		accepted=$((accepted + 1))
		st=0
		{ call StartContainer "{\"container_id\":\"$cid\"}" >/dev/null &&
			call WaitProcess "{\"container_id\":\"$cid\",\"exec_id\":\"$cid\"}" >/dev/null; } 2>"$tmp/err" || st=$?
		if ! call RemoveContainer "{\"container_id\":\"$cid\",\"timeout\":0}" >/dev/null 2>>"$tmp/err"; then
			echo "FAIL: request $i (seed $seed): accepted container not removable: $(cat "$tmp/err")"
			fail=$((fail + 1))
		fi
		((st == 0)) || codes[start-failed]=$((${codes[start-failed]:-0} + 1))
	else
		code=$(sed -n 's/^error: \([A-Z_]*\) .*/\1/p' "$tmp/err")
		if [[ -z $code ]]; then
			echo "FAIL: request $i (seed $seed) got no status: $(cat "$tmp/err")"
			printf '%s\n' "$req"
			fail=$((fail + 1))
		else
			refused=$((refused + 1))
			codes[$code]=$((${codes[$code]:-0} + 1))
			sed -n 's/^error: [A-Z_]* ([0-9]*): //p' "$tmp/err" | cut -c1-60 >>"$tmp/reasons"
		fi
	fi
	i=$((i + 1))
done <"$tmp/requests"
if kill -0 "$agent_pid" 2>/dev/null && "$ctl" --addr "$A" --quiet check; then
	pass=$((pass + 1)); echo "ok  : the agent is serving after $i requests"
else
	fail=$((fail + 1)); echo "FAIL: the agent is not serving after $i requests"
fi
if ((accepted + refused == count)); then
	pass=$((pass + 1)); echo "ok  : every request got a status ($accepted accepted, $refused refused)"
else
	fail=$((fail + 1)); echo "FAIL: $((count - accepted - refused)) requests got no status"
fi
for k in "${!codes[@]}"; do echo "      $k: ${codes[$k]}"; done
if [ -f "$tmp/reasons" ]; then
	echo "      most frequent refusals:"
	sort "$tmp/reasons" | uniq -c | sort -rn | sed -n '1,8s/^/      /p'
fi
left=$({ find /sys/fs/cgroup/*/kata-props /sys/fs/cgroup/kata-props -mindepth 1 -type d 2>/dev/null || true; } | wc -l)
if [ "$left" = 0 ]; then pass=$((pass + 1)); echo "ok  : no container cgroup left behind"
else fail=$((fail + 1)); echo "FAIL: $left container cgroups left behind"; fi
if [ "$fail" != 0 ]; then echo "---- agent log (last 20 lines)"; tail -20 "$tmp/agent.log"; fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
