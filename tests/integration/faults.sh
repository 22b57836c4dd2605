#!/usr/bin/env bash
# Fault injection against the agent on the host (issue 15): a server address it cannot listen
# on, fd exhaustion (at the ttrpc server, the log port, the debug console and the passfd
# listener), a full disk under CopyFile, and a host that hangs up in the middle of each call of a
# container sequence.  As root, in fresh mount and pid namespaces like containers.sh.
set -euo pipefail

usage() {
	cat <<'USAGE'
Usage: tests/integration/faults.sh [--agent PATH] [--ctl PATH] [--client PATH]
  Needs root.  Runs itself again inside `unshare --mount --pid --fork --mount-proc`.
  --client PATH    tests/integration/fault_client (mid-call hang-ups, one-connection sessions)
USAGE
}

agent=build/x86_64/kata-agent
ctl=build/host/kata-agent-ctl
client=build/host/tests/fault_client
while [ $# -gt 0 ]; do
	case "$1" in
	--agent) agent=$2; shift ;;
	--ctl) ctl=$2; shift ;;
	--client) client=$2; shift ;;
	--help | -h) usage; exit 0 ;;
	*) echo "faults.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
agent=$(realpath "$agent")
ctl=$(realpath "$ctl")
client=$(realpath "$client")

if [ "$(id -u)" != 0 ]; then
	echo "faults.sh: needs root; 0 passed, 0 failed, 1 skipped"
	exit 0
fi
if [ -z "${KAC_IN_NS:-}" ]; then
	exec unshare --mount --pid --fork --mount-proc --propagation private \
		env KAC_IN_NS=1 "$0" --agent "$agent" --ctl "$ctl" --client "$client"
fi

tmp=$(mktemp -d /tmp/kata-faults.XXXXXX)
cgroot=kata-faults-${tmp##*.}
mount -t tmpfs -o mode=755 tmpfs /run
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

# shellcheck source=tests/integration/suite-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/suite-lib.sh"
A=
# start_agent NAME ADDR [ENV=VALUE...]: run the agent in the background, pid in $tmp/NAME.pid;
# it reads the kernel command line from $cmdline
cmdline=/dev/null
start_agent() {
	local name=$1 addr=$2; shift 2
	env KATA_AGENT_LOG_LEVEL=debug "$@" "$agent" --server-addr "$addr" --cmdline-file "$cmdline" \
		>"$tmp/$name.log" 2>&1 &
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

# ---- a busybox rootfs, the sandbox and a long-running container (sections 2-4) ----
mkdir -p "$tmp/rootfs"/{bin,etc,proc,sys,dev,tmp,root}
cp /bin/busybox "$tmp/rootfs/bin/busybox"
for applet in sh sleep cat echo true; do ln -s busybox "$tmp/rootfs/bin/$applet"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$tmp/rootfs/etc/passwd"
printf 'root:x:0:\n' >"$tmp/rootfs/etc/group"
# spec ID ARGS_JSON: a CreateContainer request on one line
spec() {
	printf '{"container_id":"%s","exec_id":"%s","OCI":{"Version":"1.0.2","Process":{"User":{"UID":0,"GID":0},"Args":%s,"Env":["PATH=/bin"],"Cwd":"/"},' "$1" "$1" "$2"
	printf '"Root":{"Path":"%s","Readonly":false},"Hostname":"%s","Mounts":[{"destination":"/proc","source":"proc","type":"proc"}],' "$tmp/rootfs" "$1"
	printf '"Linux":{"CgroupsPath":"/%s/%s","Namespaces":[{"Type":"ipc"},{"Type":"uts"},{"Type":"mount"}]}}}\n' "$cgroot" "$1"
}
exec_json() { # CID EID ARGS
	printf '{"container_id":"%s","exec_id":"%s","process":{"User":{"UID":0,"GID":0},"Args":%s,"Env":["PATH=/bin"],"Cwd":"/"}}' "$1" "$2" "$3"
}
# read_stream CID EID: stdout until EOF
read_stream() {
	local chunk
	while :; do
		chunk=$(call ReadStdout "{\"container_id\":\"$1\",\"exec_id\":\"$2\",\"len\":32768}") || return 1
		[ "$chunk" = "{}" ] && return 0
		printf '%s' "$chunk" | sed 's/.*"data":"\([^"]*\)".*/\1/' | base64 -d
	done
}
A="unix://$tmp/agent.sock"
# Every listener of the agent on a unix socket: the log port, the debug console, passfd I/O.
echo "agent.debug_console" >"$tmp/cmdline"
cmdline=$tmp/cmdline
start_agent main "$A" KATA_AGENT_LOG_ADDR="unix://$tmp/log.sock" \
	KATA_AGENT_DEBUG_CONSOLE_ADDR="unix://$tmp/dbg.sock" KATA_AGENT_PASSFD_ADDR="unix://$tmp/passfd.sock"
agent_pid=$(cat "$tmp/main.pid")
"$ctl" --addr "$A" --connect-timeout 10s --quiet check || { echo "agent did not start"; cat "$tmp/main.log"; exit 1; }
mkdir -p /run/kata-containers/shared/containers
expect "CreateSandbox" '^\{\}$' -- call CreateSandbox '{"hostname":"faults","sandbox_id":"sb"}'
expect "CreateContainer ctr (long-running)" '^\{\}$' -- call CreateContainer "$(spec ctr '["sleep","100000"]')"
expect "StartContainer ctr" '^\{\}$' -- call StartContainer '{"container_id":"ctr"}'

# One connection kept open across the faults: session lines in, one answer line each out.
mkfifo "$tmp/sess.in"
"$client" session "$A" <"$tmp/sess.in" >"$tmp/sess.out" 2>&1 &
sess_pid=$!
exec 3>"$tmp/sess.in"
# sess METHOD JSON: the session's answer ("OK", "CODE message", "TRANSPORT ...")
sess() {
	local n
	n=$(wc -l <"$tmp/sess.out")
	printf '%s %s\n' "$1" "${2:-{\}}" >&3
	for _ in $(seq 1200); do
		[ "$(wc -l <"$tmp/sess.out")" -gt "$n" ] && break
		sleep 0.05
	done
	sed -n "$((n + 1))p" "$tmp/sess.out"
}
expect "a session connection answers Check" '^OK$' -- sess Check

# ---- 2. RLIMIT_NOFILE lowered until accept and pipe fail ----
cpu_ticks() { awk '{print $14 + $15}' "/proc/$agent_pid/stat"; }
clk_tck=$(getconf CLK_TCK)
# cpu_share: the agent's CPU time (utime + stime) over about 1 s of wall time, into cpu_ms,
# wall_ms and cpu_pct (percent of the wall time)
cpu_share() {
	local t0 t1 w0 w1
	t0=$(cpu_ticks) w0=$(date +%s%N)
	sleep 1
	t1=$(cpu_ticks) w1=$(date +%s%N)
	cpu_ms=$(((t1 - t0) * 1000 / clk_tck)) wall_ms=$(((w1 - w0) / 1000000))
	cpu_pct=$((cpu_ms * 100 / wall_ms))
}
# The host side of a connection the agent cannot accept yet:
#   queued.py log|dbg|passfd SOCK   connect (dbg: and type a command; passfd: from an abstract
#   name ending in ":4242", the agent's key for unix peers), print "queued", then wait up to 30 s
#   to be served: "served" once the log port streams or the shell answers.  passfd sends
#   nothing back: its client only holds the connection (the agent's log says it was taken).
cat >"$tmp/queued.py" <<'PY'
import os, socket, sys, time
mode, path = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
if mode == "passfd":
    s.bind("\0kata-faults-%d:4242" % os.getpid())
s.connect(path)
if mode == "dbg":
    s.sendall(b"echo served-$((40+2))\n")
print("queued", flush=True)
want = {"log": b"log connection on", "dbg": b"served-42", "passfd": None}[mode]
data, end = b"", time.monotonic() + 30
while time.monotonic() < end:
    s.settimeout(max(0.01, end - time.monotonic()))
    try:
        chunk = s.recv(65536)
    except socket.timeout:
        break
    if not chunk:
        break
    data += chunk
    if want and want in data:
        print("served", flush=True)
        break
PY
nofile=$(awk '/^Max open files/{print $4}' "/proc/$agent_pid/limits")
# The limit bounds fd numbers: set it to the lowest free one, so no new fd can be made.
lowest_free_fd() {
	local n=0
	while [ -e "/proc/$agent_pid/fd/$n" ]; do n=$((n + 1)); done
	echo "$n"
}
nfds=$(lowest_free_fd)
prlimit --pid "$agent_pid" --nofile="$nfds:"
echo "      agent RLIMIT_NOFILE soft limit $nofile -> $nfds (its lowest free fd)"
expect "no fd left: Health.Check on the open connection still answers" '^OK$' -- sess Check
expect "no fd left: ExecProcess (pipes) fails with RESOURCE_EXHAUSTED or INTERNAL" '^(RESOURCE_EXHAUSTED|INTERNAL) .*(Too many open files|EMFILE)' -- \
	sess ExecProcess "$(exec_json ctr e0 '["echo","x"]')"
expect "no fd left: CopyFile fails with RESOURCE_EXHAUSTED or INTERNAL" '^(RESOURCE_EXHAUSTED|INTERNAL) ' -- \
	sess CopyFile '{"path":"/run/kata-containers/shared/containers/f","file_size":2,"file_mode":33188,"data":"text:hi"}'
t0=$(cpu_ticks)
set +e
"$ctl" --addr "$A" --timeout 1s check >"$tmp/emfile.out" 2>&1
rc=$?
set -e
t1=$(cpu_ticks)
if [ $rc = 3 ]; then ok "no fd left: a new connection waits unserved (ctl exit 3 after its timeout)"; else bad "new connection with no fd left: rc=$rc $(cat "$tmp/emfile.out")"; fi
pauses=$(grep -c 'pausing new connections' "$tmp/main.log" || true)
echo "      while out of fds for 2 s: agent CPU $((t1 - t0)) ticks, $pauses accept pauses logged"
if [ $((t1 - t0)) -le 40 ] && [ "$pauses" -ge 1 ] && [ "$pauses" -le 40 ]; then
	ok "accept failing with EMFILE: the agent rests instead of spinning (CPU and log bounded)"
else
	bad "accept with EMFILE: $((t1 - t0)) CPU ticks, $pauses pauses logged"
fi
# The other listeners, one after the other, each with a connection it cannot accept: the agent
# rests each (a pause logged by its subsystem) instead of spinning on the readable fd.
declare -A qpid
for q in log:logport dbg:debug-console passfd:passfd; do
	name=${q%%:*} sub=${q#*:}
	python3 "$tmp/queued.py" "$name" "$tmp/$name.sock" >"$tmp/queued-$name.out" 2>&1 &
	qpid[$name]=$!
	for _ in $(seq 100); do
		grep -x queued "$tmp/queued-$name.out" >/dev/null && break
		sleep 0.05
	done
	cpu_share
	pauses=$(grep -c "pausing new connections.*\"subsystem\":\"$sub\"" "$tmp/main.log" || true)
	echo "      $sub connection queued, no fd left: agent CPU $cpu_ms ms in $wall_ms ms ($cpu_pct%), $pauses $sub accept pauses logged"
	if grep -x queued "$tmp/queued-$name.out" >/dev/null && [ "$cpu_pct" -lt 30 ] && [ "$pauses" -ge 1 ]; then
		ok "no fd left, a $sub connection queued: the agent rests instead of spinning (CPU $cpu_pct% < 30%)"
	else
		bad "no fd left, a $sub connection queued: CPU $cpu_pct%, $pauses pauses; client: $(cat "$tmp/queued-$name.out")"
	fi
done
expect "connections queued at all four listeners: Health.Check on the open connection answers" '^OK$' -- sess Check
expect "... the agent is alive, its open connection answers" '^OK$' -- sess Check
prlimit --pid "$agent_pid" --nofile="$nofile:"
expect "fds back: a new connection is served" '^\{"status":"SERVING"\}$' -- "$ctl" --addr "$A" --timeout 10s check
wait "${qpid[log]}" || true
expect "fds back: the queued log port connection is served (the stream comes)" '^served$' -- sed -n 2p "$tmp/queued-log.out"
wait "${qpid[dbg]}" || true
expect "fds back: the queued debug console connection is served (its shell answers)" '^served$' -- sed -n 2p "$tmp/queued-dbg.out"
taken() { # until the agent logs the passfd connection from port 4242 (10 s)
	for _ in $(seq 200); do
		grep -F '"msg":"connection from host port 4242"' "$tmp/main.log" && return 0
		sleep 0.05
	done
	return 1
}
expect "fds back: the queued passfd connection is taken" 'host port 4242' -- taken
kill "${qpid[passfd]}" 2>/dev/null || true
wait "${qpid[passfd]}" 2>/dev/null || true
expect "fds back: ExecProcess on the old connection succeeds" '^OK$' -- sess ExecProcess "$(exec_json ctr e1 '["echo","exec-after-emfile"]')"
expect "... and its output is read" '^exec-after-emfile$' -- read_stream ctr e1
expect "... and it is waited for" '"status":0|^\{\}$' -- call WaitProcess '{"container_id":"ctr","exec_id":"e1"}'
expect "fds back: the failed exec left no record (e0 NOT_FOUND)" '^NOT_FOUND$' -- status_of WaitProcess '{"container_id":"ctr","exec_id":"e0"}'

# ---- 3. the host hangs up in the middle of each call of a container sequence ----
# hang METHOD JSON: send the call, close the connection 50 ms later without reading the answer
# (a parking call is parked by then).  The next step, on a new connection, must find the state
# the hung-up call left and finish the sequence.
hang() { "$client" hangup "$A" "$1" "$2" 50 || bad "the hang-up client could not send $1"; }
parked_after_close() { sed -n 's/.*connection closed ([0-9]* left, \([0-9]*\) calls parked).*/\1/p' "$tmp/main.log" | tail -1; }
# shellcheck disable=SC2016 # $x is the container shell's
hang CreateContainer "$(spec hup '["sh","-c","read x; echo in:$x; exec sleep 100000"]')"
expect "hang-up in CreateContainer: the container exists (a second create is refused)" '^INTERNAL$' -- \
	status_of CreateContainer "$(spec hup '["true"]')"
hang StartContainer '{"container_id":"hup"}'
expect "hang-up in StartContainer: the init runs (WriteStdin reaches it)" '"len":5' -- \
	call WriteStdin '{"container_id":"hup","exec_id":"hup","data":"text:init\n"}'
expect "... its output is whole" '"data":"aW46aW5pdAo="' -- call ReadStdout '{"container_id":"hup","exec_id":"hup","len":1024}'
# shellcheck disable=SC2016 # $x is the container shell's
hang ExecProcess "$(exec_json hup ex '["sh","-c","read x; echo out:$x; read y; exit 7"]')"
expect "hang-up in ExecProcess: the exec exists (a second one with its id is refused)" '^INTERNAL$' -- \
	status_of ExecProcess "$(exec_json hup ex '["true"]')"
hang ReadStdout '{"container_id":"hup","exec_id":"ex","len":1024}'
hang WaitProcess '{"container_id":"hup","exec_id":"ex"}'
hang GetOOMEvent '{}'
expect "three parked calls hung up: freed (0 calls parked after their connections closed)" '^0$' -- parked_after_close
hang WriteStdin '{"container_id":"hup","exec_id":"ex","data":"text:ping\n"}'
expect "hang-up in WriteStdin: the data went in, the abandoned ReadStdout did not take the output" '"data":"b3V0OnBpbmcK"' -- \
	call ReadStdout '{"container_id":"hup","exec_id":"ex","len":1024}'
hang CloseStdin '{"container_id":"hup","exec_id":"ex"}'
expect "hang-up in CloseStdin: the exec saw EOF; the abandoned WaitProcess left its status to this one" '"status":7' -- \
	call WaitProcess '{"container_id":"hup","exec_id":"ex"}'
expect "GetOOMEvent after a hung-up one: parks again and ends in DEADLINE_EXCEEDED" 'DEADLINE_EXCEEDED' -- \
	"$ctl" --addr "$A" --timeout 300ms call GetOOMEvent
hang SignalProcess '{"container_id":"hup","exec_id":"hup","signal":9}'
expect "hang-up in SignalProcess: the init was killed (status 137)" '"status":137' -- call WaitProcess '{"container_id":"hup","exec_id":"hup"}'
hang RemoveContainer '{"container_id":"hup","timeout":0}'
expect "hang-up in RemoveContainer: the container is gone (a second remove is refused)" '^INTERNAL$' -- \
	status_of RemoveContainer '{"container_id":"hup","timeout":0}'
expect "... its cgroup too" '^0$' -- bash -c "find /sys/fs/cgroup/*/$cgroot /sys/fs/cgroup/$cgroot -type d -name hup 2>/dev/null | wc -l"
expect "the sequence again on a new connection: CreateContainer hup" '^\{\}$' -- call CreateContainer "$(spec hup '["echo","again"]')"
expect "... StartContainer" '^\{\}$' -- call StartContainer '{"container_id":"hup"}'
expect "... ReadStdout" '^again$' -- read_stream hup hup
expect "... WaitProcess" '"status":0|^\{\}$' -- call WaitProcess '{"container_id":"hup","exec_id":"hup"}'
expect "... RemoveContainer" '^\{\}$' -- call RemoveContainer '{"container_id":"hup","timeout":0}'
expect "the session connection opened before every hang-up still answers" '^OK$' -- sess Check

# ---- 4. ENOSPC during CopyFile: the old file intact, no temp file left, a clear error ----
small=/run/kata-containers/shared/containers/small
mkdir -p "$small"
mount -t tmpfs -o size=64k tmpfs "$small"
copy_req() { # NAME SIZE OFFSET DATA_B64
	printf '{"path":"%s/%s","file_size":%s,"file_mode":33188,"offset":%s,"data":"%s"}' "$small" "$1" "$2" "$3" "$4"
}
expect "CopyFile of the old file into a 64 KiB tmpfs" '^\{\}$' -- call CopyFile "$(copy_req f.conf 12 0 "$(printf 'old-content\n' | base64)")"
copy_req f.conf 100000 0 "$(head -c 100000 /dev/zero | tr '\0' x | base64 -w0)" >"$tmp/big.json"
expect "CopyFile of 100 kB over it: ENOSPC, a clear status naming the file" '^error: INTERNAL .*f\.conf.*No space left on device' -- \
	call CopyFile "@$tmp/big.json"
expect "... the old file is intact" '^old-content$' -- cat "$small/f.conf"
expect "... no temp file is left" '^f\.conf $' -- bash -c "ls -A '$small' | tr '\n' ' '"
chunk=$(head -c 32768 /dev/zero | tr '\0' y | base64 -w0)
expect "chunked CopyFile: the first 32 KiB chunk fits" '^\{\}$' -- call CopyFile "$(copy_req f.conf 98304 0 "$chunk")"
expect "... the second fails with ENOSPC" '^error: INTERNAL .*No space left on device' -- call CopyFile "$(copy_req f.conf 98304 32768 "$chunk")"
expect "... the old file is intact, the temp file of the first chunk is gone" '^old-content f\.conf$' -- \
	bash -c "echo \$(cat '$small/f.conf') \$(ls -A '$small')"
expect "... and the space is free again: a CopyFile that fits replaces the file" '^new$' -- \
	bash -c "'$ctl' --addr '$A' call CopyFile '$(copy_req f.conf 4 0 "$(printf 'new\n' | base64)")' >/dev/null && cat '$small/f.conf'"
umount "$small"

# The session ends at the end of its input.
exec 3>&-
wait "$sess_pid" || bad "the session client exited with an error"

if grep -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$tmp"/*.log >"$tmp/san" 2>/dev/null; then
	bad "sanitizer report in an agent log"; head -5 "$tmp/san"
else
	ok "no sanitizer report in the agent logs"
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
