#!/usr/bin/env bash
# The debug console and the log port of the static agent, run as a host process.  vsock is not
# usable on the host, so KATA_AGENT_DEBUG_CONSOLE_ADDR and KATA_AGENT_LOG_ADDR put both on unix
# sockets (the cmdline still sets the vports, which the variables override).  A small python3
# client plays the host: shells run commands, each connection is its own session on its own pty,
# shells are reaped when they exit or when the peer goes, and the log port streams the agent's
# JSON log lines, the early ones included.
set -euo pipefail

usage() {
	cat <<'USAGE'
Usage: tests/integration/test_debug_console.sh [--agent PATH]
  Starts the agent with agent.debug_console on unix sockets in a temporary directory and checks
  the debug console and the log port end to end.  The no-shell case runs the agent chrooted in
  an empty directory (needs root; skipped otherwise).
  --agent PATH   the static agent (default build/x86_64/kata-agent)
  --help         this text
USAGE
}

agent=build/x86_64/kata-agent
while (($# > 0)); do
	case $1 in
	--agent)
		agent=$2
		shift
		;;
	--help | -h)
		usage
		exit 0
		;;
	*)
		echo "test_debug_console.sh: unknown argument $1" >&2
		usage >&2
		exit 2
		;;
	esac
	shift
done
[[ -x $agent ]] || {
	echo "test_debug_console.sh: $agent not built" >&2
	exit 1
}
agent=$(realpath "$agent")

tmp=$(mktemp -d /tmp/kata-dbgcon-it.XXXXXX)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

passed=0 failed=0 skipped=0
ok() {
	passed=$((passed + 1))
	echo "ok  : $*"
}
bad() {
	failed=$((failed + 1))
	echo "FAIL: $*"
}
skip() {
	skipped=$((skipped + 1))
	echo "skip: $*"
}

# The host side.  Modes:
#   log SOCK SECONDS              print what the log port sends in SECONDS
#   sessions SOCK                 two concurrent shells: report tty, pid, sid, ppid; exit both
#   halfclose SOCK                send a command, shut down writing: output and EOF expected
#   drop SOCK                     start a shell, report its pid, close without a word
#   once SOCK                     connect and print everything until EOF (5 s limit)
#   limit SOCK N                  open N connections at once, report what the last one got
#   detach SOCK FILE              the shell execs a non-interactive one with no descriptor of
#                                 the terminal, which writes FILE half a second later; wait for
#                                 the end (10 s)
#   piped SOCK N                  N sessions in turn, each as `printf ... | kata-agent-ctl
#                                 console` sends: commands typed ahead at once (the last one
#                                 slow, every other time with no newline), then the end of
#                                 input; each must print its output and end (10 s each)
cat >"$tmp/client.py" <<'PY'
import socket, sys, time, re

def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s

def read_until(s, pattern, limit=10.0):
    """Read until pattern (a regex over the \r-less text) matches or EOF; returns (text, eof)."""
    data, end = b"", time.monotonic() + limit
    while time.monotonic() < end:
        s.settimeout(max(0.01, end - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            return data.decode(errors="replace").replace("\r", ""), True
        data += chunk
        text = data.decode(errors="replace").replace("\r", "")
        if pattern and re.search(pattern, text):
            return text, False
    return data.decode(errors="replace").replace("\r", ""), False

# The shell expands $((...)): the echo of the typed line cannot match the answers.
PROBE = (b"echo hi; tty; echo sid=$(cut -d' ' -f6 /proc/self/stat) pid=$$ ppid=$PPID;"
         b" echo end-$((40+2))\n")

def field(text, name):
    m = re.search(r"\b%s=(\d+)" % name, text)
    return m.group(1) if m else "?"

def line(text, want):
    """want on a line of its own, or after the prompt (typed-ahead input is echoed first)."""
    return re.search(r"(?m)(^|[#$] )%s$" % re.escape(want), text) is not None

mode, path = sys.argv[1], sys.argv[2]
if mode == "log":
    # Written as it comes: the test stops this client with a signal.
    s = connect(path)
    s.settimeout(float(sys.argv[3]))
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
elif mode == "sessions":
    a, b = connect(path), connect(path)
    for i, s in enumerate((a, b)):
        s.sendall(PROBE)
        text, _ = read_until(s, r"end-42\n")
        tty = re.search(r"(/dev/pts/\d+)", text)
        print("s%d hi=%s tty=%s pid=%s sid=%s ppid=%s" % (
            i, "yes" if line(text, "hi") else "no",
            tty.group(1) if tty else "?", field(text, "pid"), field(text, "sid"),
            field(text, "ppid")))
    for i, s in enumerate((a, b)):
        s.sendall(b"exit\n")
        _, eof = read_until(s, None, 5.0)
        print("s%d eof=%s" % (i, "yes" if eof else "no"))
elif mode == "halfclose":
    s = connect(path)
    s.sendall(b"echo half-$((1+1))\n")
    s.shutdown(socket.SHUT_WR)
    text, eof = read_until(s, None, 5.0)
    print("output=%s eof=%s" % ("yes" if line(text, "half-2") else "no",
                                "yes" if eof else "no"))
elif mode == "drop":
    s = connect(path)
    s.sendall(b"echo pid=$$\n")
    text, _ = read_until(s, r"pid=\d+")
    print(field(text, "pid"))
    s.close()
elif mode == "once":
    s = connect(path)
    text, eof = read_until(s, None, 5.0)
    sys.stdout.write(text)
    print("eof=%s" % ("yes" if eof else "no"))
elif mode == "limit":
    n = int(sys.argv[3])
    conns = []
    for _ in range(n):
        conns.append(connect(path))
        time.sleep(0.05)
    text, eof = read_until(conns[-1], None, 3.0)
    # The one before the last is a working shell: ended sessions no longer count.
    conns[-2].sendall(b"echo ok-$((1+1))\n")
    prev, _ = read_until(conns[-2], r"ok-2\n", 5.0)
    print("prev=%s last=%s eof=%s" % ("yes" if line(prev, "ok-2") else "no", text.strip(),
                                      "yes" if eof else "no"))
elif mode == "detach":
    s = connect(path)
    read_until(s, r"[#$] (\x1b\[6n)?$", 5.0)
    # The interactive shell's own /dev/tty is close-on-exec: after this exec no descriptor of the
    # session's refers to its terminal, while the shell still has work to do.
    s.sendall(b"exec sh -c 'sleep 0.5; echo done >%s' </dev/null >/dev/null 2>&1\n"
              % sys.argv[3].encode())
    text, eof = read_until(s, None, 10.0)
    print("eof=%s" % ("yes" if eof else "no"))
elif mode == "piped":
    good = 0
    for i in range(int(sys.argv[3])):
        s = connect(path)
        try:
            # every other session's last line has no newline, as `printf 'cmd'` sends it
            s.sendall(b"echo first-$((1+1))\nsleep 0.2; echo second-$((2+2))" +
                      (b"\n" if i % 2 == 0 else b""))
            s.shutdown(socket.SHUT_WR)
            text, eof = read_until(s, None, 10.0)
        except OSError as e:  # refused (too many sessions): reset before the commands went
            text, eof = str(e), False
        s.close()
        if not (line(text, "first-2") and line(text, "second-4") and eof):
            print("session %d: eof=%s, output ends %r" % (i, "yes" if eof else "no",
                                                          text[-60:]))
            break
        good += 1
    print("ended=%d" % good)
PY
client() { python3 "$tmp/client.py" "$@"; }

# wait_for PATH: until the socket exists (10 s)
wait_for() {
	local i
	for ((i = 0; i < 100; i++)); do
		[[ -S $1 ]] && return 0
		sleep 0.1
	done
	return 1
}

# gone PID: until the process no longer exists, zombies included (5 s)
gone() {
	local i
	for ((i = 0; i < 50; i++)); do
		[[ -e /proc/$1 ]] || return 0
		sleep 0.1
	done
	return 1
}

echo "agent.debug_console agent.debug_console_vport=1026 agent.log_vport=1025" >"$tmp/cmdline"
KATA_AGENT_LOG_LEVEL=debug KATA_AGENT_LOG_ADDR="unix://$tmp/log.sock" \
	KATA_AGENT_DEBUG_CONSOLE_ADDR="unix://$tmp/dbg.sock" \
	"$agent" --server-addr "unix://$tmp/agent.sock" --cmdline-file "$tmp/cmdline" \
	>"$tmp/agent.out" 2>&1 &
agent_pid=$!
pids+=("$agent_pid")
if wait_for "$tmp/dbg.sock" && wait_for "$tmp/log.sock"; then
	ok "agent listens on the debug console and log port addresses from the environment"
else
	bad "agent did not create $tmp/dbg.sock and $tmp/log.sock"
	sed 's/^/      /' "$tmp/agent.out" | tail -20
	echo "$passed passed, $failed failed, $skipped skipped"
	exit 1
fi

# The log port: the first connection gets the lines logged before it came, then the stream.
client log "$tmp/log.sock" 60 >"$tmp/logport.out" &
log_client=$!
pids+=("$log_client")

out=$(client sessions "$tmp/dbg.sock" 2>&1 || true)
while IFS= read -r l; do echo "      $l"; done <<<"$out"
s0=$(echo "$out" | grep '^s0 hi') s1=$(echo "$out" | grep '^s1 hi')
kv() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }
if [[ $(kv "$s0" hi) == yes && $(kv "$s1" hi) == yes ]]; then
	ok "each connection runs shell commands (echo hi)"
else
	bad "echo hi through the debug console"
fi
tty0=$(kv "$s0" tty) tty1=$(kv "$s1" tty)
if [[ $tty0 == /dev/pts/* && $tty1 == /dev/pts/* && $tty0 != "$tty1" ]]; then
	ok "each session has its own pty ($tty0, $tty1)"
else
	bad "ptys: '$tty0' '$tty1'"
fi
pid0=$(kv "$s0" pid) pid1=$(kv "$s1" pid)
if [[ $pid0 =~ ^[0-9]+$ && $pid1 =~ ^[0-9]+$ && $pid0 != "$pid1" && $(kv "$s0" sid) == "$pid0" &&
	$(kv "$s1" sid) == "$pid1" ]]; then
	ok "each shell leads a session of its own (sid = pid: $pid0, $pid1)"
else
	bad "sessions: $s0 / $s1"
fi
if [[ $(kv "$s0" ppid) == "$agent_pid" && $(kv "$s1" ppid) == "$agent_pid" ]]; then
	ok "the shells are children of the agent"
else
	bad "shell parents: $(kv "$s0" ppid) $(kv "$s1" ppid), agent $agent_pid"
fi
if grep -qx 's0 eof=yes' <<<"$out" && grep -qx 's1 eof=yes' <<<"$out"; then
	ok "'exit' ends the session: the connection closes"
else
	bad "no EOF after exit"
fi
if [[ $pid0 =~ ^[0-9]+$ ]] && gone "$pid0" && gone "$pid1"; then
	ok "exited shells are reaped (no zombies)"
else
	bad "shells $pid0 $pid1 still in /proc"
fi

out=$(client halfclose "$tmp/dbg.sock" 2>&1 || true)
if [[ $out == "output=yes eof=yes" ]]; then
	ok "a peer that shuts down writing gets its output, then EOF"
else
	bad "half-close: $out"
fi

pid=$(client drop "$tmp/dbg.sock" 2>&1 || true)
if [[ $pid =~ ^[0-9]+$ ]] && gone "$pid"; then
	ok "a peer that goes away takes its shell with it (pid $pid hung up and reaped)"
else
	bad "shell '$pid' survived its peer"
fi

out=$(client limit "$tmp/dbg.sock" 9 2>&1 || true)
if [[ $out == "prev=yes last="*"too many sessions"*"eof=yes" ]]; then
	ok "8 sessions at once work, the 9th connection is refused with a message"
else
	bad "session limit: $out"
fi

if kill -0 "$agent_pid" 2>/dev/null; then
	ok "agent still running"
else
	bad "agent died"
fi

kill "$log_client" 2>/dev/null || true
wait "$log_client" 2>/dev/null || true
early=$(grep -n '"msg":"listening on unix://.*/agent.sock"' "$tmp/logport.out" | cut -d: -f1 || true)
late=$(grep -n '"msg":"log port listening on unix://' "$tmp/logport.out" | cut -d: -f1 || true)
if [[ -n $early && -n $late ]] && ((early < late)) &&
	grep -q '"msg":"debug console listening on unix://' "$tmp/logport.out"; then
	ok "log port: lines logged before the connection arrive first"
else
	bad "log port: early lines missing"
fi
if [[ $pid0 =~ ^[0-9]+$ ]] && grep -q "\"msg\":\"shell $pid0 (/bin/sh) on /dev/pts/" "$tmp/logport.out" &&
	grep -q "\"msg\":\"shell $pid0 on /dev/pts/[0-9]* ended (exit status 0)\"" "$tmp/logport.out"; then
	ok "log port: streams the lines logged while connected ($(grep -c '"name":"kata-agent"' "$tmp/logport.out") lines)"
else
	bad "log port: session lines missing"
	tail -n 5 "$tmp/logport.out" | sed 's/^/      /'
fi
if python3 -c 'import json, sys
for line in open(sys.argv[1]):
    o = json.loads(line)
    assert {"msg", "level", "ts", "name", "pid", "subsystem"} <= o.keys(), line' "$tmp/logport.out"; then
	ok "log port: every line is a JSON object with msg, level, ts, name, pid, subsystem"
else
	bad "log port: malformed lines"
fi

# No shell in the guest: the agent, chrooted into an empty directory, says so and hangs up.
if ((EUID == 0)); then
	root=$tmp/root
	mkdir -p "$root"
	cp "$agent" "$root/kata-agent"
	echo "agent.debug_console agent.debug_console_vport=1026" >"$root/cmdline"
	KATA_AGENT_DEBUG_CONSOLE_ADDR=unix:///dbg.sock chroot "$root" /kata-agent \
		--server-addr unix:///agent.sock --cmdline-file /cmdline >"$tmp/chroot.out" 2>&1 &
	pids+=($!)
	if wait_for "$root/dbg.sock"; then
		out=$(client once "$root/dbg.sock" 2>&1 || true)
		if [[ $out == "kata-agent-c: no shell in this guest (/bin/sh missing)"$'\n'"eof=yes" ]]; then
			ok "without /bin/sh a connection gets one clear line, then EOF"
		else
			bad "no-shell reply: $out"
		fi
	else
		bad "chrooted agent did not listen"
		tail -n 5 "$tmp/chroot.out" | sed 's/^/      /'
	fi
else
	skip "no-shell case (chroot needs root)"
fi

# The agent holds the pty's slave while the shell runs: a session left with no descriptor of its
# terminal (the shell execs a non-interactive one with 0-2 elsewhere) is not hung up, and
# finishes its work.  Without that reference the master sees the hang-up at once and the agent
# SIGHUPs the shell.  Busybox ash (the guests' shell) in a chroot, with the host's /dev in a
# mount namespace.
if ((EUID == 0)) && [[ ! -x /bin/busybox ]]; then
	bad "detached-shell case: /bin/busybox missing (scripts/setup.sh installs busybox-static)"
elif ((EUID == 0)); then
	bbroot=$tmp/bbroot
	mkdir -p "$bbroot/bin" "$bbroot/dev" "$bbroot/tmp"
	cp /bin/busybox "$bbroot/bin/busybox"
	for a in sh sleep; do ln -s busybox "$bbroot/bin/$a"; done
	cp "$agent" "$bbroot/kata-agent"
	echo "agent.debug_console agent.debug_console_vport=1026" >"$bbroot/cmdline"
	# shellcheck disable=SC2016 # the inner sh expands $1
	KATA_AGENT_LOG_LEVEL=debug unshare -m --propagation private sh -c \
		'mount --rbind /dev "$1/dev" && KATA_AGENT_DEBUG_CONSOLE_ADDR=unix:///dbg.sock exec chroot "$1" \
			/kata-agent --server-addr unix:///agent.sock --cmdline-file /cmdline' sh "$bbroot" \
		>"$tmp/bbroot.out" 2>&1 &
	pids+=($!)
	if wait_for "$bbroot/dbg.sock"; then
		out=$(client detach "$bbroot/dbg.sock" /tmp/detached 2>&1 || true)
		ended=$(sed -n 's/.*"msg":"shell [0-9]* on [^ ]* ended (\([^)]*\))".*/\1/p' "$tmp/bbroot.out")
		if [[ $out == eof=yes && -f $bbroot/tmp/detached && $ended == "exit status 0" ]]; then
			ok "a shell left with no descriptor of its terminal ran on and exited 0 (not hung up)"
		else
			bad "detached shell: client '$out', file $([[ -f $bbroot/tmp/detached ]] && echo written || echo missing), shell ended '${ended:-?}'"
		fi
		# Piped input (printf ... | kata-agent-ctl console): ash switches the line discipline to
		# raw mode for its line editing, so an EOF character typed before it reads would be
		# lost and the shell would wait forever.  More sessions than the limit of 8 open at
		# once: a session that does not end also keeps the next ones out.
		out=$(client piped "$bbroot/dbg.sock" 10 2>&1 || true)
		if [[ $out == ended=10 ]]; then
			ok "piped input: 10 sessions ran their typed-ahead commands (half of them with no last newline) and ended at the end of input (busybox ash)"
		else
			bad "piped input: $(tr '\n' ' ' <<<"$out")"
		fi
	else
		bad "chrooted busybox agent did not listen"
		tail -n 5 "$tmp/bbroot.out" | sed 's/^/      /'
	fi
else
	skip "detached-shell case (chroot and mount namespace need root)"
fi

echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0))
