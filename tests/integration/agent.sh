#!/usr/bin/env bash
# Integration tests of the static agent running as a host process on unix sockets, driven by
# kata-agent-ctl (the CLI users run) and ttrpc_probe (crafted frames, concurrency).
set -euo pipefail

usage() {
	cat <<'USAGE'
Usage: tests/integration/agent.sh [--agent PATH] [--ctl PATH] [--probe PATH] [--arch x86_64|riscv64]
  Starts the agent on unix sockets in a temporary directory and checks it end to end.
  --arch riscv64 runs the riscv64 agent under qemu-riscv64-static (a smoke subset).
USAGE
}

agent=build/x86_64/kata-agent
ctl=build/host/kata-agent-ctl
probe=build/host/tests/ttrpc_probe
arch=x86_64
while [ $# -gt 0 ]; do
	case "$1" in
	--agent) agent=$2; shift ;;
	--ctl) ctl=$2; shift ;;
	--probe) probe=$2; shift ;;
	--arch) arch=$2; shift ;;
	--help | -h) usage; exit 0 ;;
	*) echo "agent.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

runner=()
if [ "$arch" = riscv64 ]; then
	runner=(qemu-riscv64-static)
	command -v qemu-riscv64-static >/dev/null || { echo "agent.sh: qemu-riscv64-static missing" >&2; exit 1; }
fi
for f in "$agent" "$ctl" "$probe"; do
	[ -x "$f" ] || { echo "agent.sh: $f not built" >&2; exit 1; }
done

tmp=$(mktemp -d /tmp/kata-agent-it.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok  : $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# t DESCRIPTION -- COMMAND...: passes when the command succeeds
t() {
	local d=$1; shift 2
	if "$@" >"$tmp/out" 2>"$tmp/err"; then ok "$d"; else bad "$d"; sed 's/^/      /' "$tmp/out" "$tmp/err" | sed -n 1,20p; fi
}

# start_agent NAME ADDR [ARGS...]: start and wait until it answers
start_agent() {
	local name=$1 addr=$2; shift 2
	KATA_AGENT_LOG_LEVEL=debug "${runner[@]}" "$agent" --server-addr "$addr" --cmdline-file /dev/null "$@" \
		>"$tmp/$name.log" 2>&1 &
	pids+=($!)
	echo $! >"$tmp/$name.pid"
	"$ctl" --addr "$addr" --connect-timeout 10s --quiet check
}

sock="unix://$tmp/agent.sock"

t "kata-agent --version names the build" -- sh -c "'${runner[*]:-env}' '$agent' --version | grep kata-agent-c >/dev/null"
t "--list-rpcs lists the 44 RPCs of the API" -- sh -c "test \$('${runner[*]:-env}' '$agent' --list-rpcs | wc -l) -eq 44"
t "agent starts and answers Health.Check over unix" -- start_agent main "$sock"
t "ctl check prints SERVING" -- sh -c "'$ctl' --addr '$sock' check | grep -x '{\"status\":\"SERVING\"}' >/dev/null"
t "ctl call Health.Version returns the agent version" -- \
	sh -c "'$ctl' --addr '$sock' call Health.Version | grep '\"grpc_version\":\"0.0.1\"' >/dev/null"

if [ "$arch" = riscv64 ]; then
	t "riscv64 agent serves 200 Checks on one connection" -- "$ctl" --addr "$sock" --repeat 200 --quiet check
	echo "$pass passed, $fail failed"
	[ "$fail" = 0 ]
	exit
fi

# Every RPC the agent reports as not provided answers UNIMPLEMENTED through the CLI.
unimpl_ok=1
while read -r full state; do
	[ "$state" = unimplemented ] || continue
	m=${full#*/}
	set +e
	"$ctl" --addr "$sock" call "$m" '{}' >/dev/null 2>"$tmp/err"
	rc=$?
	set -e
	if [ $rc -ne 1 ] || ! grep -q "UNIMPLEMENTED" "$tmp/err"; then
		unimpl_ok=0; echo "      $m: rc=$rc $(cat "$tmp/err")"
	fi
done < <("$agent" --list-rpcs)
if [ $unimpl_ok = 1 ]; then ok "every RPC listed as unimplemented answers UNIMPLEMENTED"; else bad "unimplemented RPCs"; fi

# The README's RPC table says the truth: same set, same states.
readme_ok=1
while read -r full state; do
	m=${full#*/}
	want=provided; [ "$state" = unimplemented ] && want=UNIMPLEMENTED
	if ! grep -q "^| \`$m\` | $want |" README.md; then readme_ok=0; echo "      README: $m should be $want"; fi
done < <("$agent" --list-rpcs)
[ "$(grep -c '^| `[A-Za-z]*` | \(provided\|UNIMPLEMENTED\) |' README.md)" -eq 44 ] || readme_ok=0
if [ $readme_ok = 1 ]; then ok "README's RPC table matches the agent (44 rows)"; else bad "README RPC table"; fi

set +e
"$ctl" --addr "$sock" call CreateSandbox '{"hostname": 5}' >/dev/null 2>"$tmp/err"; rc=$?
set -e
if [ $rc -eq 2 ] && grep -q "hostname" "$tmp/err"; then ok "ctl rejects a JSON type error with exit 2, naming the field"; else bad "ctl JSON error (rc=$rc)"; fi

set +e
"$ctl" --addr "$sock" --timeout 300ms call GetOOMEvent >/dev/null 2>"$tmp/err"; rc=$?
set -e
if [ $rc -eq 1 ] && grep -q DEADLINE_EXCEEDED "$tmp/err"; then ok "--timeout sets timeout_nano: a parked GetOOMEvent ends in DEADLINE_EXCEEDED"; else bad "--timeout (rc=$rc: $(cat "$tmp/err"))"; fi

# Abstract socket.
t "agent listens on an abstract unix socket" -- start_agent abstract "unix://@kata-agent-it-$$"

# Hybrid vsock through a CONNECT/OK endpoint.
"$probe" hvsock-endpoint --listen "$tmp/hv.sock" --target "$sock" --port 1024 &
pids+=($!)
for _ in $(seq 50); do [ -S "$tmp/hv.sock" ] && break; sleep 0.1; done
t "ctl talks to the agent over hybrid vsock (hvsock://UDS:1024)" -- \
	sh -c "'$ctl' --addr 'hvsock://$tmp/hv.sock:1024' check | grep SERVING >/dev/null"
set +e
"$ctl" --addr "hvsock://$tmp/hv.sock:9999" check >/dev/null 2>"$tmp/err"; rc=$?
set -e
if [ $rc -eq 3 ]; then ok "hvsock CONNECT to a port nobody serves fails with exit 3"; else bad "hvsock bad port rc=$rc"; fi

# A hostile kernel command line never stops the agent.
printf 'agent.log=shouty agent.hotplug_timeout=x agent.log_vport=1=2 agent.server_addr= agent.debug_console=9 agent.%s\n' \
	"$(head -c 3000 /dev/zero | tr '\0' z)" >"$tmp/cmdline"
KATA_AGENT_LOG_LEVEL=info "$agent" --server-addr "unix://$tmp/bad.sock" --cmdline-file "$tmp/cmdline" >"$tmp/bad.log" 2>&1 &
pids+=($!)
t "agent with a garbage cmdline still serves" -- "$ctl" --addr "unix://$tmp/bad.sock" --connect-timeout 10s --quiet check
t "each bad parameter is reported in the log" -- sh -c "test \$(grep -c '\"level\":\"warning\"' '$tmp/bad.log') -ge 5"

# Protocol-level checks.
t "probe: health, parked requests, 64x100 calls, bad frames, disconnects" -- \
	"$probe" --addr "$sock" --pid "$(cat "$tmp/main.pid")" health parked many bad-input disconnect

t "logs are JSON lines with the documented keys" -- \
	sh -c "sed -n 1p '$tmp/main.log' | grep >/dev/null '^{\"msg\":\".*\",\"level\":\"info\",\"ts\":\".*\",\"pid\":[0-9]*,\"name\":\"kata-agent\",\"source\":\"agent\",\"subsystem\":\"[a-z]*\"}\$'"

main_pid=$(cat "$tmp/main.pid")
kill -TERM "$main_pid"
set +e
wait "$main_pid"; rc=$?
set -e
if [ $rc -eq 0 ]; then ok "SIGTERM (not PID 1): clean exit 0"; else bad "SIGTERM exit status $rc"; fi
# A sanitizer build (kata-agent-san) reports into the logs; the static agent never prints these.
if grep -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$tmp"/*.log >"$tmp/san" 2>/dev/null; then
	bad "sanitizer report in an agent log"; head -5 "$tmp/san"
else
	ok "no sanitizer report in the agent logs"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
