#!/usr/bin/env bash
# Fault injection against the agent on the host (issue 15): a server address it cannot listen
# on, fd exhaustion, a full disk under CopyFile, and a host that hangs up in the middle of each
# call of a container sequence.  As root, in fresh mount and pid namespaces like containers.sh.
set -euo pipefail

usage() {
	cat <<'USAGE'
Usage: tests/integration/faults.sh [--agent PATH] [--ctl PATH] [--hangup PATH]
  Needs root.  Runs itself again inside `unshare --mount --pid --fork --mount-proc`.
  --hangup PATH    the tests/integration/hangup tool (sends one request, then closes)
USAGE
}

agent=build/x86_64/kata-agent
ctl=build/host/kata-agent-ctl
hangup=build/host/tests/hangup
while [ $# -gt 0 ]; do
	case "$1" in
	--agent) agent=$2; shift ;;
	--ctl) ctl=$2; shift ;;
	--hangup) hangup=$2; shift ;;
	--help | -h) usage; exit 0 ;;
	*) echo "faults.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
agent=$(realpath "$agent")
ctl=$(realpath "$ctl")
hangup=$(realpath "$hangup")

if [ "$(id -u)" != 0 ]; then
	echo "faults.sh: needs root; 0 passed, 0 failed, 1 skipped"
	exit 0
fi
if [ -z "${KAC_IN_NS:-}" ]; then
	exec unshare --mount --pid --fork --mount-proc --propagation private \
		env KAC_IN_NS=1 "$0" --agent "$agent" --ctl "$ctl" --hangup "$hangup"
fi

tmp=$(mktemp -d /tmp/kata-faults.XXXXXX)
cgroot=kata-faults-${tmp##*.}
mount -t tmpfs -o mode=755 tmpfs /run
pids=()
cleanup() {
	kill -9 -1 2>/dev/null || true
	wait 2>/dev/null || true
	sleep 0.2
	for d in /sys/fs/cgroup/*/"$cgroot" /sys/fs/cgroup/*/"$cgroot"/* /sys/fs/cgroup/"$cgroot"; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	umount -R "$tmp/rootfs" 2>/dev/null || true
	umount "$tmp/small" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok  : $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# expect DESC WANT_REGEX -- command: output (stdout+stderr) must match
expect() {
	local d=$1 want=$2 out; shift 3
	out=$("$@" 2>&1) || true
	if grep -Eq -- "$want" <<<"$out"; then ok "$d"; else bad "$d"; echo "      want /$want/, got: ${out:0:400}"; fi
}
A=
call() { "$ctl" --addr "$A" --timeout 60s call "$@"; }
# status_of METHOD JSON: prints the error code name, or OK
status_of() {
	local err
	if err=$("$ctl" --addr "$A" --timeout 60s call "$1" "$2" 2>&1 >/dev/null); then echo OK; else
		printf '%s\n' "$err" | sed -n 's/^error: \([A-Z_]*\) .*/\1/p'; fi
}
# start_agent NAME ADDR [ENV=VALUE...]: run the agent in the background, pid in $tmp/NAME.pid
start_agent() {
	local name=$1 addr=$2; shift 2
	env KATA_AGENT_LOG_LEVEL=debug "$@" "$agent" --server-addr "$addr" --cmdline-file /dev/null \
		>"$tmp/$name.log" 2>&1 &
	pids+=($!)
	echo $! >"$tmp/$name.pid"
}

# ---- 1. a server address the agent cannot listen on: fall back, log why, keep serving ----
start_agent nodir "unix://$tmp/no/such/dir/agent.sock" KATA_AGENT_FALLBACK_ADDR="unix://$tmp/fallback.sock"
expect "server_addr in a missing directory: the agent serves on the fallback address" '^\{"status":"SERVING"\}$' -- \
	"$ctl" --addr "unix://$tmp/fallback.sock" --connect-timeout 10s check
expect "... and logs the reason and the address it falls back to" "cannot serve on 'unix://$tmp/no/such/dir/agent.sock' \\(No such file or directory\\); falling back to unix://$tmp/fallback.sock" -- cat "$tmp/nodir.log"
start_agent garbage "frob://1:2" KATA_AGENT_FALLBACK_ADDR="unix://$tmp/fallback2.sock"
expect "server_addr that does not parse: served on the fallback address" '^\{"status":"SERVING"\}$' -- \
	"$ctl" --addr "unix://$tmp/fallback2.sock" --connect-timeout 10s check
start_agent busy1 "unix://@kata-faults-$$"
"$ctl" --addr "unix://@kata-faults-$$" --connect-timeout 10s --quiet check
start_agent busy2 "unix://@kata-faults-$$" KATA_AGENT_FALLBACK_ADDR="unix://$tmp/fallback3.sock"
expect "server_addr already in use: served on the fallback address" '^\{"status":"SERVING"\}$' -- \
	"$ctl" --addr "unix://$tmp/fallback3.sock" --connect-timeout 10s check
expect "... the reason logged is the address in use" 'Address (already )?in use.*falling back' -- cat "$tmp/busy2.log"
# Nothing left to listen on: not PID 1, the agent exits non-zero and says so.
set +e
env KATA_AGENT_FALLBACK_ADDR="unix://$tmp/no/dir/either.sock" "$agent" --server-addr "unix://$tmp/no/such/dir/a.sock" \
	--cmdline-file /dev/null >"$tmp/none.log" 2>&1
rc=$?
set -e
if [ $rc != 0 ] && grep -F "fatal: cannot listen" "$tmp/none.log" >/dev/null; then
	ok "neither address usable: the agent exits ($rc) with 'fatal: cannot listen'"
else
	bad "neither address usable: rc=$rc"; tail -3 "$tmp/none.log"
fi
for n in nodir garbage busy1 busy2; do kill "$(cat "$tmp/$n.pid")" 2>/dev/null || true; done

#SECTIONS

if grep -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$tmp"/*.log >"$tmp/san" 2>/dev/null; then
	bad "sanitizer report in an agent log"; head -5 "$tmp/san"
else
	ok "no sanitizer report in the agent logs"
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
