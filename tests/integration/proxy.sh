#!/usr/bin/env bash
# shellcheck disable=SC2016 # jq programs: $names are jq variables
# kata-agent-ctl proxy and replay (docs/DEBUGGING.md): a container sequence runs through the
# proxy, which must change nothing and trace one request/response pair per call; the trace is
# then replayed against a fresh agent and must give the same statuses.  Also: crafted and
# concurrent traffic (ttrpc_probe) through the proxy, the hybrid-vsock listen side, and a
# replay that must notice a changed status.
set -euo pipefail

usage() {
	cat <<'USAGE'
Usage: tests/integration/proxy.sh [--agent PATH] [--ctl PATH] [--probe PATH] [--keep-trace FILE]
  Needs root (containers).  Runs itself again inside `unshare --mount --pid --fork --mount-proc`.
  --keep-trace FILE  copy the container sequence's trace there
USAGE
}

agent=build/x86_64/kata-agent
ctl=build/host/kata-agent-ctl
probe=build/host/tests/ttrpc_probe
keep=
while [ $# -gt 0 ]; do
	case "$1" in
	--agent) agent=$2; shift ;;
	--ctl) ctl=$2; shift ;;
	--probe) probe=$2; shift ;;
	--keep-trace) keep=$2; shift ;;
	--help | -h) usage; exit 0 ;;
	*) echo "proxy.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
agent=$(realpath "$agent")
ctl=$(realpath "$ctl")
probe=$(realpath "$probe")
[ -z "$keep" ] || keep=$(realpath -m "$keep")

if [ "$(id -u)" != 0 ]; then
	echo "proxy.sh: needs root; 0 passed, 0 failed, 1 skipped"
	exit 0
fi
if [ -z "${KAC_IN_NS:-}" ]; then
	exec unshare --mount --pid --fork --mount-proc --propagation private \
		env KAC_IN_NS=1 "$0" --agent "$agent" --ctl "$ctl" --probe "$probe" ${keep:+--keep-trace "$keep"}
fi

tmp=$(mktemp -d /tmp/kata-proxy-it.XXXXXX)
mount -t tmpfs -o mode=755 tmpfs /run
cgroot=kata-px
reset_cgroups() {
	for d in /sys/fs/cgroup/*/"$cgroot" /sys/fs/cgroup/*/"$cgroot"/* /sys/fs/cgroup/"$cgroot"; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	return 0
}
cleanup() {
	kill -9 -1 2>/dev/null || true
	wait 2>/dev/null || true
	sleep 0.2
	reset_cgroups
	[ -n "${KAC_KEEP_TMP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok  : $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# check DESC -- COMMAND...: passes when the command succeeds
check() {
	local d=$1; shift 2
	if "$@" >"$tmp/out" 2>&1; then ok "$d"; else bad "$d"; sed 's/^/      /' "$tmp/out" | sed -n 1,20p; fi
}

# ---- a busybox rootfs ----
mkdir -p "$tmp/rootfs"/{bin,etc,proc,sys,dev,tmp,root}
cp /bin/busybox "$tmp/rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
	[ -e "$tmp/rootfs/bin/$applet" ] || ln -s busybox "$tmp/rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$tmp/rootfs/etc/passwd"
printf 'root:x:0:\n' >"$tmp/rootfs/etc/group"

spec() { # ID ARGS_JSON
	cat <<JSON
{"container_id":"$1","exec_id":"$1","OCI":{"Version":"1.0.2",
 "Process":{"User":{"UID":0,"GID":0},"Args":$2,"Env":["PATH=/bin"],"Cwd":"/"},
 "Root":{"Path":"$tmp/rootfs","Readonly":false},"Hostname":"$1",
 "Mounts":[{"destination":"/proc","source":"proc","type":"proc","options":["nosuid","noexec","nodev"]},
  {"destination":"/dev","source":"tmpfs","type":"tmpfs","options":["nosuid","mode=755"]},
  {"destination":"/dev/pts","source":"devpts","type":"devpts","options":["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620"]}],
 "Linux":{"CgroupsPath":"/$cgroot/$1","Namespaces":[{"Type":"ipc"},{"Type":"uts"},{"Type":"mount"}]}}}
JSON
}
exec_json() { # CID EID ARGS
	printf '{"container_id":"%s","exec_id":"%s","process":{"User":{"UID":0,"GID":0},"Args":%s,"Env":["PATH=/bin"],"Cwd":"/"}}' "$1" "$2" "$3"
}

# A fresh /run for a fresh agent: an agent leaves /run/sandbox-ns and /run/kata-containers behind
fresh_run() {
	umount -R /run
	mount -t tmpfs -o mode=755 tmpfs /run
}
start_agent() { # NAME -> agent at unix://$tmp/NAME.sock
	KATA_AGENT_LOG_LEVEL=debug "$agent" --server-addr "unix://$tmp/$1.sock" --cmdline-file /dev/null \
		>"$tmp/$1.log" 2>&1 &
	"$ctl" --addr "unix://$tmp/$1.sock" --connect-timeout 10s --quiet check
}

# ---- agent, proxy ----
start_agent agent1
"$ctl" proxy --listen "unix://$tmp/proxy.sock" --upstream "unix://$tmp/agent1.sock" \
	--trace "$tmp/trace.jsonl" --bytes-limit 0 2>"$tmp/proxy.err" &
proxy_pid=$!
A="unix://$tmp/proxy.sock"
calls=0 # every ctl call below is one request and one response
# run WANT_REGEX DESC -- METHOD JSON: one call through the proxy; stdout+stderr must match
run() {
	local want=$1 d=$2 out; shift 3
	calls=$((calls + 1))
	out=$("$ctl" --addr "$A" --connect-timeout 5s --timeout 60s call "$@" 2>&1) || true
	if grep -Eq -- "$want" <<<"$out"; then ok "$d"; else bad "$d"; echo "      want /$want/, got: ${out:0:400}"; fi
}
# drain CID EID: ReadStdout until the empty answer (or an eof error); prints the data
drain() {
	local out
	while :; do
		calls=$((calls + 1))
		out=$("$ctl" --addr "$A" --timeout 60s call ReadStdout "{\"container_id\":\"$1\",\"exec_id\":\"$2\",\"len\":4096}" 2>&1) || { [[ $out == *eof* ]] && return 0; echo "$out"; return 1; }
		[ "$out" = "{}" ] && return 0
		printf '%s' "$out" | sed 's/.*"data":"\([^"]*\)".*/\1/' | base64 -d
	done
}

run '^\{"status":"SERVING"\}$' "Health.Check through the proxy" -- grpc.Health.Check '{}'
run '^\{\}$' "CreateSandbox" -- CreateSandbox '{"hostname":"pod-px","sandbox_id":"sb","storages":[{"driver":"ephemeral","source":"shm","fstype":"tmpfs","options":["size=1048576"],"mount_point":"/run/kata-containers/sandbox/shm"}]}'
run '"supports_seccomp"' "GetGuestDetails" -- GetGuestDetails '{"mem_block_size":true}'
# A parked call: it answers DEADLINE_EXCEEDED after 6 s while the sequence goes on.
"$ctl" --addr "$A" --timeout 6s call GetOOMEvent '{}' >"$tmp/oom.out" 2>&1 &
oom_pid=$!
calls=$((calls + 1))
run '^\{\}$' "CreateContainer sb (sleep)" -- CreateContainer "$(spec sb '["sleep","100000"]')"
run '^\{\}$' "StartContainer sb" -- StartContainer '{"container_id":"sb"}'
run '^\{\}$' "CreateContainer c1" -- CreateContainer "$(spec c1 '["sh","-c","echo hello-proxy"]')"
run '^\{\}$' "StartContainer c1" -- StartContainer '{"container_id":"c1"}'
drain c1 c1 >"$tmp/c1.out" || true # not in $(...): calls must count in this shell
out=$(cat "$tmp/c1.out")
if [ "$out" = hello-proxy ]; then ok "c1 output read through the proxy"; else bad "c1 output: '$out'"; fi
run '^\{\}$|"status":0' "WaitProcess c1: 0" -- WaitProcess '{"container_id":"c1","exec_id":"c1"}'
run '^\{\}$' "ExecProcess cat" -- ExecProcess "$(exec_json sb cat '["cat"]')"
# A ReadStdout parked before the WriteStdin that feeds it: replay must not wait for its answer
# before sending the WriteStdin (it would never come).
"$ctl" --addr "$A" --timeout 60s call ReadStdout '{"container_id":"sb","exec_id":"cat","len":4096}' >"$tmp/parked-read.out" 2>&1 &
read_pid=$!
calls=$((calls + 1))
for _ in $(seq 100); do grep -q '"type":"request","method":"grpc.AgentService.ReadStdout"' "$tmp/trace.jsonl" && break; sleep 0.05; done
run '"len":5' "WriteStdin 5 bytes" -- WriteStdin '{"container_id":"sb","exec_id":"cat","data":"text:ping\n"}'
wait "$read_pid" || true
if grep -q '"data":"cGluZwo="' "$tmp/parked-read.out"; then ok "the parked ReadStdout got the written line"; else bad "parked ReadStdout: $(cat "$tmp/parked-read.out")"; fi
run '^\{\}$' "CloseStdin" -- CloseStdin '{"container_id":"sb","exec_id":"cat"}'
drain sb cat >"$tmp/cat.out" || true
if [ ! -s "$tmp/cat.out" ]; then ok "then cat's stdout ends"; else bad "cat output after the line: '$(cat "$tmp/cat.out")'"; fi
run '^\{\}$|"status":0' "WaitProcess cat: 0" -- WaitProcess '{"container_id":"sb","exec_id":"cat"}'
run '^\{\}$' "ExecProcess sleep" -- ExecProcess "$(exec_json sb sl '["sleep","1000"]')"
run '^\{\}$' "SignalProcess SIGKILL" -- SignalProcess '{"container_id":"sb","exec_id":"sl","signal":9}'
run '"status":137' "WaitProcess: 137" -- WaitProcess '{"container_id":"sb","exec_id":"sl"}'
run 'INVALID_ARGUMENT' "WaitProcess unknown container: INVALID_ARGUMENT" -- WaitProcess '{"container_id":"nope","exec_id":"x"}'
run 'NOT_FOUND' "ReadStdout unknown exec: NOT_FOUND" -- ReadStdout '{"container_id":"sb","exec_id":"nope"}'
run 'INTERNAL' "StartContainer unknown: INTERNAL" -- StartContainer '{"container_id":"nope"}'
run '"pids_stats"' "StatsContainer sb" -- StatsContainer '{"container_id":"sb"}'
wait "$oom_pid" || true
if grep -q DEADLINE_EXCEEDED "$tmp/oom.out"; then ok "the parked GetOOMEvent ends in DEADLINE_EXCEEDED"; else bad "parked GetOOMEvent: $(cat "$tmp/oom.out")"; fi
# several calls in flight on one connection
calls=$((calls + 20))
check "20 calls on one connection through the proxy" -- "$ctl" --addr "$A" --repeat 20 --quiet check
run '^\{\}$' "RemoveContainer c1" -- RemoveContainer '{"container_id":"c1","timeout":0}'
run '^\{\}$' "RemoveContainer sb" -- RemoveContainer '{"container_id":"sb","timeout":0}'
run '^\{\}$' "DestroySandbox" -- DestroySandbox '{}'
sleep 0.3
kill -TERM "$proxy_pid"
set +e
wait "$proxy_pid"; rc=$?
set -e
if [ $rc = 0 ]; then ok "proxy exits 0 on SIGTERM"; else bad "proxy exit status $rc"; fi
[ -z "$keep" ] || cp "$tmp/trace.jsonl" "$keep"

# ---- the trace ----
t="$tmp/trace.jsonl"
check "every trace line is a JSON object" -- jq -e 'type == "object"' "$t"
nreq=$(jq -s '[.[] | select(.type == "request")] | length' "$t")
nresp=$(jq -s '[.[] | select(.type == "response")] | length' "$t")
if [ "$nreq" = "$calls" ] && [ "$nresp" = "$calls" ]; then ok "trace: $calls requests and $calls responses for $calls calls"; else bad "trace: $nreq requests, $nresp responses, $calls calls"; fi
check "each request has exactly one response on its connection and stream, same method" -- \
	jq -se '[.[] | select(.type == "request" or .type == "response")] | group_by([.conn, .stream])
		| all(length == 2 and .[0].type == "request" and .[1].type == "response" and .[0].method == .[1].method)' "$t"
check "requests carry decoded payloads (CreateContainer's OCI.Root.Path)" -- \
	jq -se --arg p "$tmp/rootfs" 'any(.[]; .method == "grpc.AgentService.CreateContainer" and .type == "request" and .payload.OCI.Root.Path == $p)' "$t"
check "responses carry status names and latency" -- \
	jq -se 'any(.[]; .type == "response" and .method == "grpc.AgentService.WaitProcess" and .status == "INVALID_ARGUMENT" and .code == 3 and (.latency_us | type) == "number")' "$t"
check "the parked GetOOMEvent's response comes after later requests" -- \
	jq -se '(to_entries | map(select(.value.method == "grpc.AgentService.GetOOMEvent")) | .[1].key) as $r
		| (to_entries | map(select(.value.method == "grpc.AgentService.StartContainer" and .value.type == "request")) | .[0].key) as $s
		| $r > $s' "$t"
check "open and close events for every connection" -- \
	jq -se '([.[] | select(.event == "open")] | length) == ([.[] | select(.event == "close")] | length) and ([.[] | select(.event == "open")] | length) > 20' "$t"
check "summary on exit: WaitProcess 4 calls, 1 error" -- grep -E '^grpc\.AgentService\.WaitProcess +4 +1 ' "$tmp/proxy.err"
check "summary on exit: Health.Check 21 calls" -- grep -E '^grpc\.Health\.Check +21 +0 ' "$tmp/proxy.err"

# ---- replay against a fresh agent ----
reset_cgroups
fresh_run
start_agent agent2
set +e
"$ctl" replay "$t" --addr "unix://$tmp/agent2.sock" --timeout 30s >"$tmp/replay.out" 2>&1; rc=$?
set -e
if [ $rc = 0 ] && grep -q "^$calls calls replayed: $calls same status, 0 differ" "$tmp/replay.out"; then
	ok "replay against a fresh agent: $calls calls, same statuses"
else bad "replay rc=$rc"; sed 's/^/      /' "$tmp/replay.out" | sed -n 1,20p; fi

# A trace whose recorded status is changed must be reported as different.
jq -c 'if .type == "response" and .status == "NOT_FOUND" then .code = 0 | .status = "OK" else . end' "$t" >"$tmp/changed.jsonl"
reset_cgroups
fresh_run
start_agent agent3
set +e
"$ctl" replay "$tmp/changed.jsonl" --addr "unix://$tmp/agent3.sock" --timeout 60s >"$tmp/replay2.out" 2>&1; rc=$?
set -e
if [ $rc = 1 ] && grep -q "^DIFF .*ReadStdout: trace OK, replay NOT_FOUND" "$tmp/replay2.out"; then
	ok "replay reports a status that differs from the trace (exit 1)"
else bad "changed trace: rc=$rc"; sed 's/^/      /' "$tmp/replay2.out" | sed -n 1,20p; fi

# A read that got data in the trace and the end of the stream in the replay (or the other way)
# is the output split into other pieces, not a different outcome: reported as SPLIT, exit 0.
# Staged by recording the first ReadStdout that got data as the old runtimes' end of stream.
first_read=$(jq -r 'select(.type == "response" and .method == "grpc.AgentService.ReadStdout" and .status == "OK"
	and (.payload.data // "") != "") | input_line_number' "$t" | sed -n 1p)
jq -c --argjson n "${first_read:-0}" 'if input_line_number == $n then .code = 13 | .status = "INTERNAL" else . end' \
	"$t" >"$tmp/split.jsonl"
reset_cgroups
fresh_run
start_agent agent6
set +e
"$ctl" replay "$tmp/split.jsonl" --addr "unix://$tmp/agent6.sock" --timeout 60s >"$tmp/replay4.out" 2>&1; rc=$?
set -e
if [[ -n $first_read && $rc == 0 ]] && grep -q "^SPLIT .*ReadStdout: trace INTERNAL, replay OK.*other pieces" "$tmp/replay4.out" &&
	grep -q " 0 differ.*; 1 reads split the output differently" "$tmp/replay4.out"; then
	ok "replay reports a read that split the output differently as SPLIT, not as a difference (exit 0)"
else bad "split trace (line ${first_read:-none}): rc=$rc"; sed 's/^/      /' "$tmp/replay4.out" | sed -n 1,20p; fi

# passfd I/O: a request naming stdio ports had its stdio outside the trace; replay leaves it out
# with every later call on that process, and replays the rest with the same statuses.
jq -c 'if .type == "request" and .method == "grpc.AgentService.ExecProcess" then .payload.stdout_port = 1073741900 else . end' \
	"$t" >"$tmp/passfd.jsonl"
reset_cgroups
fresh_run
start_agent agent5
set +e
"$ctl" replay "$tmp/passfd.jsonl" --addr "unix://$tmp/agent5.sock" --timeout 60s >"$tmp/replay3.out" 2>&1; rc=$?
set -e
summary=$(grep 'calls replayed' "$tmp/replay3.out" || true)
if [[ $rc == 0 && $summary =~ ^([0-9]+)\ calls\ replayed:\ ([0-9]+)\ same\ status,\ 0\ differ.*\;\ ([0-9]+)\ left\ out ]] &&
	((BASH_REMATCH[3] > 0 && BASH_REMATCH[1] + BASH_REMATCH[3] == calls)); then
	ok "replay leaves out passfd execs and their calls (${BASH_REMATCH[3]} of $calls), the rest same"
else bad "passfd trace: rc=$rc"; sed 's/^/      /' "$tmp/replay3.out" | sed -n 1,20p; fi

# ---- crafted and concurrent traffic, hybrid vsock ----
reset_cgroups
fresh_run
# agent4 also serves its log port and debug console, on unix sockets (for logs and console)
echo "agent.debug_console agent.debug_console_vport=1026 agent.log_vport=1025" >"$tmp/cmdline4"
KATA_AGENT_LOG_LEVEL=debug KATA_AGENT_LOG_ADDR="unix://$tmp/log4.sock" KATA_AGENT_DEBUG_CONSOLE_ADDR="unix://$tmp/dbg4.sock" \
	"$agent" --server-addr "unix://$tmp/agent4.sock" --cmdline-file "$tmp/cmdline4" >"$tmp/agent4.log" 2>&1 &
"$ctl" --addr "unix://$tmp/agent4.sock" --connect-timeout 10s --quiet check
"$ctl" --addr "unix://$tmp/log4.sock" --connect-timeout 10s logs >"$tmp/logs.out" 2>&1 &
logs_pid=$!

# ---- kata-agent-ctl exec (tests/vm runs it, logs and console in a guest too) ----
B="unix://$tmp/agent4.sock"
"$ctl" --addr "$B" call CreateSandbox '{"sandbox_id":"sb4"}' >/dev/null
"$ctl" --addr "$B" call CreateContainer "$(spec x1 '["sleep","100000"]')" >/dev/null
"$ctl" --addr "$B" call StartContainer '{"container_id":"x1"}' >/dev/null
set +e
"$ctl" --addr "$B" exec x1 -- sh -c 'echo to-out; echo to-err >&2; exit 7' >"$tmp/x.out" 2>"$tmp/x.err"; rc=$?
set -e
if [ $rc = 7 ] && [ "$(cat "$tmp/x.out")" = to-out ] && [ "$(cat "$tmp/x.err")" = to-err ]; then
	ok "exec: stdout, stderr and the exit status (7) of the process"
else bad "exec: rc=$rc out='$(cat "$tmp/x.out")' err='$(cat "$tmp/x.err")'"; fi
check "exec: our stdin reaches the process, its end closes the process's stdin" -- \
	sh -c "printf 'l1\nl2\n' | '$ctl' --addr '$B' exec x1 -- cat | grep -x l2"
# (the size is set right after the process started: it waits a moment before looking)
check "exec --tty: a terminal of the requested size" -- \
	sh -c "'$ctl' --addr '$B' exec x1 --tty-size 31x97 -- sh -c 'sleep 1; stty size; [ -t 1 ] && echo is-tty' </dev/null | tr -d '\r' | tr '\n' ' ' | grep -x '31 97 is-tty '"
# shellcheck disable=SC2016 # the console's shell expands it: the echoed input cannot match
printf 'echo kac-$((6*7))-con\nexit\n' | "$ctl" --addr "unix://$tmp/dbg4.sock" console >"$tmp/console.out" 2>&1 || true
check "console: a shell command on the debug console" -- grep kac-42-con "$tmp/console.out"
kill "$logs_pid" 2>/dev/null || true
wait "$logs_pid" 2>/dev/null || true
check "logs: the agent's log pretty-printed (TS LEVEL source/subsystem: msg)" -- \
	grep -E '^[^ ]+ info +agent/container: exec ctl-[0-9]+-[0-9]+ in x1' "$tmp/logs.out"
check "logs: no line left as raw JSON" -- sh -c "! grep -F '{\"' '$tmp/logs.out'"

"$ctl" proxy --listen "unix://$tmp/p2.sock" --upstream "unix://$tmp/agent4.sock" --trace "$tmp/t2.jsonl" 2>"$tmp/p2.err" &
p2=$!
for _ in $(seq 50); do [ -S "$tmp/p2.sock" ] && break; sleep 0.1; done
check "ttrpc_probe through the proxy: parked calls, 64x100 calls, bad frames, disconnects" -- \
	"$probe" --addr "unix://$tmp/p2.sock" health parked many bad-input disconnect
check "undecodable frames are traced as raw hex" -- jq -se 'any(.[]; .type == "raw" and (.hex | test("^[0-9a-f]+$")))' "$tmp/t2.jsonl"
kill -TERM "$p2"; wait "$p2" || true

"$ctl" proxy --listen "hvsock://$tmp/hv.sock:1024" --upstream "unix://$tmp/agent4.sock" --trace "$tmp/t3.jsonl" \
	--method Check 2>"$tmp/p3.err" &
p3=$!
for _ in $(seq 50); do [ -S "$tmp/hv.sock" ] && break; sleep 0.1; done
check "hybrid-vsock listen side: CONNECT 1024 reaches the agent" -- "$ctl" --addr "hvsock://$tmp/hv.sock:1024" check
set +e
"$ctl" --addr "hvsock://$tmp/hv.sock:1026" check >/dev/null 2>&1; rc=$?
set -e
if [ $rc = 3 ]; then ok "CONNECT to another port with a unix upstream is refused"; else bad "CONNECT 1026 rc=$rc"; fi
"$ctl" --addr "hvsock://$tmp/hv.sock:1024" call Health.Version '{}' >/dev/null
kill -TERM "$p3"; wait "$p3" || true
# Between a runtime and a VMM's hybrid socket (docs/DEBUGGING.md): hvsock on both sides.
"$probe" hvsock-endpoint --listen "$tmp/vmm.sock" --target "unix://$tmp/agent4.sock" --port 1024 &
for _ in $(seq 50); do [ -S "$tmp/vmm.sock" ] && break; sleep 0.1; done
"$ctl" proxy --listen "hvsock://$tmp/rt.sock:1024" --upstream "hvsock://$tmp/vmm.sock:1024" --trace "$tmp/t4.jsonl" 2>/dev/null &
p4=$!
for _ in $(seq 50); do [ -S "$tmp/rt.sock" ] && break; sleep 0.1; done
check "hvsock to hvsock: a call through the proxy and the VMM's socket" -- "$ctl" --addr "hvsock://$tmp/rt.sock:1024" check
kill -TERM "$p4"; wait "$p4" || true
check "hvsock to hvsock: traced with the CONNECT port" -- \
	jq -se 'any(.[]; .event == "open" and .port == 1024) and any(.[]; .type == "response" and .method == "grpc.Health.Check")' "$tmp/t4.jsonl"
check "--method keeps only that method in the trace" -- \
	jq -se '([.[] | select(.type == "request")] | length) == 1 and all(.[]; .method == null or .method == "grpc.Health.Check")' "$tmp/t3.jsonl"

# ---- backpressure: a stopped agent must not make the proxy buffer what the client sends ----
KATA_AGENT_LOG_LEVEL=info "$agent" --server-addr "unix://$tmp/agent5.sock" --cmdline-file /dev/null >"$tmp/agent5.log" 2>&1 &
agent5=$!
"$ctl" --addr "unix://$tmp/agent5.sock" --connect-timeout 10s --quiet check
"$ctl" proxy --listen "unix://$tmp/p5.sock" --upstream "unix://$tmp/agent5.sock" --trace "$tmp/t5.jsonl" 2>/dev/null &
p5=$!
for _ in $(seq 50); do [ -S "$tmp/p5.sock" ] && break; sleep 0.1; done
kill -STOP "$agent5"
# 64 Health.Check requests of 512 KiB each (32 MiB), sent without reading, then every response.
python3 - "$tmp/p5.sock" >"$tmp/flood.out" 2>&1 <<'PY' &
import socket, struct, sys
def s(field, b):
    n, v = len(b), bytearray()
    while True:
        v.append((n & 127) | (128 if n > 127 else 0)); n >>= 7
        if not n: break
    return bytes([field << 3 | 2]) + bytes(v) + b
c = socket.socket(socket.AF_UNIX); c.connect(sys.argv[1])
inner = s(1, b"x" * (512 << 10))
for i in range(64):
    body = s(1, b"grpc.Health") + s(2, b"Check") + s(3, inner)
    c.sendall(struct.pack(">IIBB", len(body), 2 * i + 1, 1, 0) + body)
got, buf = 0, b""
while got < 64:
    d = c.recv(65536)
    if not d: break
    buf += d
    while len(buf) >= 10 and len(buf) >= 10 + struct.unpack(">I", buf[:4])[0]:
        n = struct.unpack(">I", buf[:4])[0]; buf = buf[10 + n:]; got += 1
print("responses", got)
PY
flood=$!
sleep 3
rss=$(awk '/^VmRSS/{print $2}' /proc/"$p5"/status)
if kill -0 "$flood" 2>/dev/null && [ "$rss" -lt 16384 ]; then
	ok "backpressure: client blocked, proxy RSS ${rss} kB with 32 MiB offered to a stopped agent"
else bad "backpressure: proxy RSS ${rss} kB, client finished: $(cat "$tmp/flood.out")"; fi
kill -CONT "$agent5"
set +e
timeout 60 tail --pid="$flood" -f /dev/null; wait "$flood"
set -e
check "after the agent resumes, all 64 responses arrive" -- grep -x "responses 64" "$tmp/flood.out"
kill -TERM "$p5"; wait "$p5" || true
check "and the trace has the 64 request/response pairs" -- \
	jq -se '[.[] | select(.type == "request" or .type == "response")] | group_by(.stream)
		| length == 64 and all(length == 2 and .[1].type == "response")' "$tmp/t5.jsonl"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
