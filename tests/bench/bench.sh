#!/bin/bash
# The benchmark driver of tests/bench (docs/BUILDING.md, "Performance budgets").  Speed is judged only
# as a ratio against a peer measured in the same run (or a fixed limit for sizes), never by a
# timed test.  Every mode prints one table: name, ours, peer/limit, ratio, budget, verdict.
#
#   --mode size   static binary sizes against the 512 KiB limit, and with --map the bytes each
#                 module (object file or library) puts into the stripped x86_64 binary, from
#                 the linker map
#   --mode rpc    Health.Check over a unix socket, our agent vs containerd's Go ttrpc server,
#                 both driven by the same load client (rpc-load) with the same settings.  The
#                 servers run alternately (ours, peer, ours, peer, ...) and the table shows
#                 the median of each figure over the rounds, since the machine's cores are
#                 shared with other work.  Each round also drives both servers with the Go
#                 ttrpc client (ttrpc-peer --load: containerd's client, as the Kata Go runtime
#                 uses it) in the runtime's shape, 4 connections with 1 call in flight each.
#   --mode containers  (root) tests/bench/ctr-bench.sh: create+start+wait+remove of /bin/true
#                 through our agent vs `crun run` of the same bundle, alternating, median wall
#                 time per iteration; and ReadStdout throughput (32 KiB reads) vs the
#                 same-shape request/response relay (the protocol's floor) and vs a raw
#                 unix-socket copy of the same writer and chunk size; and passfd stdout (the
#                 agent pumping the same writer's pipe into a unix connection of the client,
#                 read 32 KiB at a time) vs the same raw copy; median of the rounds
#   --mode summary  every row the other modes appended to --summary FILE, as one table
#   --mode smoke  one short round per server and load client (rpc-load, the Go client);
#                 asserts only that calls were answered and every one SERVING with no error
#                 (a test for `make check`, says nothing about speed)
set -euo pipefail

usage() {
	cat <<'EOF'
Usage: tests/bench/bench.sh --mode size|rpc|containers|smoke|summary [OPTIONS]
  --mode MODE        size: binary sizes; rpc: the RPC benchmark; containers: container
                     lifecycle, ReadStdout and passfd stdout throughput; smoke: correctness check;
                     summary: the rows collected in --summary FILE as one table
  --binary NAME=PATH (size) a static agent to measure; repeatable
  --map PATH         (size) the linker map of the x86_64 agent: per-module sizes
  --summary FILE     append every table row to FILE (summary: print them)
  --agent PATH       (rpc, containers, smoke) our agent, run as --server-addr unix://SOCKET
  --peer PATH        (rpc, smoke) the Go ttrpc peer (tests/bench/build-peer.sh); with --load
                     also the Go load client
  --load PATH        (rpc, smoke) the load client (rpc-load)
  --client PATH      (containers) the measuring client (ctr-bench)
  --rounds N         (rpc, containers) rounds per server, alternating (default 5)
  --iterations N     (containers) lifecycle iterations per side (default 50)
  --stdout-mib N     (containers) MiB per ReadStdout / raw-copy round (default 256)
  --duration-ms MS   (rpc) measured window per round (default 2000)
  --warmup-ms MS     (rpc) load before each window (default 300)
  --connections N    (rpc) connections (default 4)
  --depth N          (rpc) requests in flight per connection (default 16)
  --go-connections N (rpc) connections of the Go client (default 4)
  --go-depth N       (rpc) Go client calls in flight per connection (default 1)
  --strict           exit 1 when a budget is missed (default: report only)
  --help             this text
Exit status: 0 ok, 1 a server or call failed (or a budget was missed with --strict), 2 usage.
EOF
}

die() {
	echo "bench.sh: $*" >&2
	exit 1
}

mode="" agent="" peer="" load="" client="" map="" summary=""
rounds=5 duration_ms=2000 warmup_ms=300 connections=4 depth=16 strict=0
go_connections=4 go_depth=1
iterations=50 stdout_mib=256
binaries=()
while [[ $# -gt 0 ]]; do
	case $1 in
	--mode) mode=${2:?}; shift 2 ;;
	--binary) binaries+=("${2:?}"); shift 2 ;;
	--map) map=${2:?}; shift 2 ;;
	--summary) summary=${2:?}; shift 2 ;;
	--agent) agent=${2:?}; shift 2 ;;
	--peer) peer=${2:?}; shift 2 ;;
	--load) load=${2:?}; shift 2 ;;
	--client) client=${2:?}; shift 2 ;;
	--iterations) iterations=${2:?}; shift 2 ;;
	--stdout-mib) stdout_mib=${2:?}; shift 2 ;;
	--rounds) rounds=${2:?}; shift 2 ;;
	--duration-ms) duration_ms=${2:?}; shift 2 ;;
	--warmup-ms) warmup_ms=${2:?}; shift 2 ;;
	--connections) connections=${2:?}; shift 2 ;;
	--depth) depth=${2:?}; shift 2 ;;
	--go-connections) go_connections=${2:?}; shift 2 ;;
	--go-depth) go_depth=${2:?}; shift 2 ;;
	--strict) strict=1; shift ;;
	--help) usage; exit 0 ;;
	*) echo "bench.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
done
for n in "$rounds" "$duration_ms" "$warmup_ms" "$connections" "$depth" "$go_connections" "$go_depth" \
	"$iterations" "$stdout_mib"; do
	[[ $n =~ ^[0-9]+$ && $n -gt 0 ]] || { echo "bench.sh: '$n' is not a positive number" >&2; exit 2; }
done

missed=0
section=""

table_header() {
	section=$2
	printf '\n== %s ==\n' "$1"
	printf '%-44s %12s %12s %8s %9s  %s\n' name ours peer/limit ratio budget verdict
}

# row NAME OURS OTHER BUDGET: BUDGET is "<=X", ">=X" or "-" (report only); ratio = OURS/OTHER.
row() {
	local name=$1 ours=$2 other=$3 budget=$4 ratio verdict
	ratio=$(awk -v a="$ours" -v b="$other" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }')
	verdict=-
	if [[ $budget != - && $ratio != n/a ]]; then
		if awk -v r="$ratio" -v b="${budget:2}" -v op="${budget:0:2}" \
			'BEGIN { exit !((op == "<=" && r <= b) || (op == ">=" && r >= b)) }'; then
			verdict=ok
		else
			verdict=MISS
			missed=1
		fi
	fi
	printf '%-44s %12s %12s %8s %9s  %s\n' "$name" "$ours" "$other" "$ratio" "$budget" "$verdict"
	[[ -z $summary ]] ||
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$section: ${name#"${name%%[! ]*}"}" "$ours" "$other" \
			"$ratio" "$budget" "$verdict" >>"$summary"
}

# map_modules MAP: "bytes module" per input file, largest first, from a GNU ld map: every input
# section the link placed (address not 0) that a stripped binary keeps (not .bss, .tbss,
# .comment, .note*, .debug*); archive members count for their archive.  An input section
# line is " .name 0xADDR 0xSIZE FILE", or " .name" alone with the rest on the next line.
map_modules() {
	awk '
	function hex(s, i, v) {
		v = 0
		for (i = 3; i <= length(s); i++)
			v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
		return v
	}
	/^Linker script and memory map/ { on = 1; next }
	!on { next }
	/^ \.[^ ]+$/ { pend = $1; next }
	{
		if (pend != "" && $1 ~ /^0x/) { name = pend; addr = $1; size = $2; file = $3 }
		else if ($1 ~ /^\./ && $2 ~ /^0x/ && $3 ~ /^0x/) { name = $1; addr = $2; size = $3; file = $4 }
		else { pend = ""; next }
		pend = ""
		if (file == "" || hex(addr) == 0) next
		if (name ~ /^\.(bss|tbss|comment|note|debug)/) next
		sub(/\(.*\)$/, "", file)
		n = split(file, parts, "/")
		bytes[parts[n]] += hex(size)
	}
	END { for (m in bytes) printf "%d %s\n", bytes[m], m }' "$1" | sort -k1,1nr -k2
}

mode_size() {
	[[ ${#binaries[@]} -gt 0 ]] || die "--mode size needs --binary NAME=PATH"
	table_header "static agent binary size (bytes; limit 512 KiB, aim <= 500 KiB)" size
	local b name path
	for b in "${binaries[@]}"; do
		name=${b%%=*} path=${b#*=}
		[[ -f $path ]] || die "$path: no such file"
		row "kata-agent $name, stripped" "$(stat -c %s "$path")" $((512 << 10)) "<=1.00"
	done
	[[ -n $map ]] || return 0
	[[ -f $map ]] || die "$map: no such file"
	local modules bytes module total=0 shown=0 n=0
	modules=$(map_modules "$map")
	[[ -n $modules ]] || die "$map: no placed input sections (not a GNU ld map?)"
	printf '\n== x86_64 agent by module (bytes in the stripped binary, from %s) ==\n' "$map"
	while read -r bytes module; do
		total=$((total + bytes))
		n=$((n + 1))
		if ((n <= 25)); then
			printf '  %8d  %s\n' "$bytes" "$module"
			shown=$((shown + bytes))
		fi
	done <<<"$modules"
	printf '  %8d  (%d more modules)\n  %8d  total of the modules (the rest is ELF headers and padding)\n' \
		$((total - shown)) $((n > 25 ? n - 25 : 0)) "$total"
}

workdir=""
server_pid=""
cleanup() {
	if [[ -n $server_pid ]]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	[[ -z $workdir ]] || rm -rf "$workdir"
}
trap cleanup EXIT

# start_server ours|peer SOCKET: starts it in the background; sets server_pid.
start_server() {
	rm -f "$2"
	case $1 in
	ours) "$agent" --server-addr "unix://$2" --log-level error --cmdline-file /dev/null \
		>"$workdir/ours.log" 2>&1 & ;;
	peer) "$peer" --socket "$2" >"$workdir/peer.log" 2>&1 & ;;
	esac
	server_pid=$!
}

# stop_server ours|peer: fails when the server was no longer running.
stop_server() {
	local alive=0
	kill "$server_pid" 2>/dev/null || alive=1
	wait "$server_pid" 2>/dev/null || true
	server_pid=""
	((alive == 0)) || echo "bench.sh: the $1 server died during the run: $(cat "$workdir/$1.log")" >&2
	return "$alive"
}

# one_round ours|peer DURATION WARMUP [c|go]: sets round_line to the load client's key=value
# line: rpc-load (c, the default) or the Go ttrpc client (go, the peer binary's --load mode).
# Not run in a subshell, so that the EXIT trap can always stop the server.
round_line=""
one_round() {
	local sock=$workdir/$1.sock rc=0 client=${4:-c}
	start_server "$1" "$sock"
	if [[ $client == go ]]; then
		round_line=$("$peer" --load --socket "$sock" --pid "$server_pid" \
			--connections "$go_connections" --depth "$go_depth" --duration-ms "$2" \
			--warmup-ms "$3") || rc=$?
	else
		round_line=$("$load" --socket "$sock" --pid "$server_pid" --connections "$connections" \
			--depth "$depth" --duration-ms "$2" --warmup-ms "$3") || rc=$?
	fi
	stop_server "$1" || rc=1
	if ((rc != 0)); then
		echo "bench.sh: $1: $client load client failed (exit $rc): $round_line" >&2
		return 1
	fi
}

# field KEY LINE: the value of KEY=... in LINE.
field() {
	local kv
	for kv in $2; do
		[[ ${kv%%=*} == "$1" ]] && { echo "${kv#*=}"; return; }
	done
	die "no $1 in '$2'"
}

median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

check_rpc_args() {
	local f
	for f in "$agent" "$peer" "$load"; do
		[[ -n $f && -x $f ]] || die "--agent, --peer and --load must name executables ('$f')"
	done
	workdir=$(mktemp -d)
}

mode_rpc() {
	check_rpc_args
	local -A vals=()
	local r who line key run client keys
	local runs=(ours:c peer:c ours:go peer:go)
	echo "rpc benchmark: Health.Check, unix socket, rpc-load with $connections connections x" \
		"$depth in flight and the Go ttrpc client with $go_connections x $go_depth," \
		"$rounds rounds of ${duration_ms} ms per server and client, alternating"
	for ((r = 1; r <= rounds; r++)); do
		for run in "${runs[@]}"; do
			who=${run%%:*} client=${run#*:}
			one_round "$who" "$duration_ms" "$warmup_ms" "$client" || exit 1
			line=$round_line
			keys=(calls_per_s cpu_ns_per_call p50_us p99_us)
			[[ $client == c ]] || { who=go-$who; keys+=(client_cpu_ns_per_call); }
			printf '  round %d %-7s %s\n' "$r" "$who" "$line"
			for key in "${keys[@]}"; do
				vals[$who.$key]+=" $(field "$key" "$line")"
			done
		done
	done
	local -A med=()
	for key in "${!vals[@]}"; do
		# shellcheck disable=SC2086 # the list is space-separated numbers
		med[$key]=$(median ${vals[$key]})
	done
	table_header "Health.Check: ours = kata-agent, peer = containerd ttrpc (Go), median of $rounds" rpc
	row "calls/s" "${med[ours.calls_per_s]}" "${med[peer.calls_per_s]}" ">=1.50"
	row "server CPU ns/call" "${med[ours.cpu_ns_per_call]}" "${med[peer.cpu_ns_per_call]}" "<=0.25"
	row "latency p50 (us)" "${med[ours.p50_us]}" "${med[peer.p50_us]}" -
	row "latency p99 (us)" "${med[ours.p99_us]}" "${med[peer.p99_us]}" -
	# The runtime's shape: every call waits for its answer, so the client's own cost per call
	# (the same Go client for both servers) is part of every figure.
	local go="Go client, $go_connections conns x $go_depth in flight"
	row "$go: calls/s" "${med[go-ours.calls_per_s]}" "${med[go-peer.calls_per_s]}" ">=1.50"
	row "  Go client: server CPU ns/call" "${med[go-ours.cpu_ns_per_call]}" \
		"${med[go-peer.cpu_ns_per_call]}" -
	row "  Go client: latency p50 (us)" "${med[go-ours.p50_us]}" "${med[go-peer.p50_us]}" -
	row "  Go client: latency p99 (us)" "${med[go-ours.p99_us]}" "${med[go-peer.p99_us]}" -
	row "  Go client: its own CPU ns/call" "${med[go-ours.client_cpu_ns_per_call]}" \
		"${med[go-peer.client_cpu_ns_per_call]}" -
}

mode_containers() {
	local f line
	for f in "$agent" "$client"; do
		[[ -n $f && -x $f ]] || die "--agent and --client must name executables ('$f')"
	done
	echo "container benchmark: $iterations iterations per side, alternating; ReadStdout, relay," \
		"raw copy and passfd: $rounds rounds of $stdout_mib MiB each, rotating"
	line=$("$(dirname "$0")/ctr-bench.sh" --agent "$agent" --client "$client" \
		--iterations "$iterations" --rounds "$rounds" --stdout-mib "$stdout_mib") ||
		die "containers: the benchmark failed"
	if [[ $line != *ours_ms=* ]]; then
		echo "$line"
		return 0
	fi
	echo "  $line"
	table_header "containers: ours = kata-agent over ttrpc, peer = crun run / relay / raw copy" containers
	row "create+start+wait /bin/true (ms)" "$(field ours_ms "$line")" "$(field crun_ms "$line")" "<=0.33"
	row "  fastest iteration (ms)" "$(field ours_min_ms "$line")" "$(field crun_min_ms "$line")" -
	# crun's figure includes starting the crun binary; `crun --version` times that alone.
	row "  vs crun minus its start-up (ms)" "$(field ours_ms "$line")" \
		"$(awk -v a="$(field crun_ms "$line")" -v b="$(field crun_start_ms "$line")" \
			'BEGIN { printf "%.3f", a - b }')" -
	# The floor: the same request/response shape, one 32 KiB read in flight (ctr_bench_stdout.c).
	row "ReadStdout vs same-shape relay" "$(field ours_mib_s "$line")" "$(field relay_mib_s "$line")" ">=0.90"
	row "ReadStdout vs raw copy (MiB/s)" "$(field ours_mib_s "$line")" "$(field raw_mib_s "$line")" -
	row "  relay vs raw copy (MiB/s)" "$(field relay_mib_s "$line")" "$(field raw_mib_s "$line")" -
	# passfd: the agent pumps the container's stdout pipe into a connection of the client's (a
	# unix socket here, vsock in a guest): no RPC per chunk, only the agent's copy.
	row "passfd stdout vs raw copy (MiB/s)" "$(field passfd_mib_s "$line")" \
		"$(field raw_mib_s "$line")" ">=0.50"
	row "  passfd stdout vs ReadStdout (MiB/s)" "$(field passfd_mib_s "$line")" \
		"$(field ours_mib_s "$line")" -
}

# One table of every row the modes of this run appended to --summary.
mode_summary() {
	[[ -n $summary ]] || die "--mode summary needs --summary FILE"
	[[ -s $summary ]] || die "$summary: no rows (run the benchmarks with --summary first)"
	printf '\n== every ratio of this run ==\n'
	printf '%-46s %12s %12s %8s %9s  %s\n' name ours peer/limit ratio budget verdict
	local name ours other ratio budget verdict
	while IFS=$'\t' read -r name ours other ratio budget verdict; do
		printf '%-46s %12s %12s %8s %9s  %s\n' "$name" "$ours" "$other" "$ratio" "$budget" "$verdict"
		[[ $verdict != MISS ]] || missed=1
	done <"$summary"
}

# Correctness only: each server answers every call of each load client SERVING (rpc-load and
# the Go client exit 1 otherwise, and print errors=N).
mode_smoke() {
	check_rpc_args
	local run who client line pass=0 fail=0
	for run in ours:c peer:c ours:go peer:go; do
		who=${run%%:*} client=${run#*:}
		round_line=""
		if one_round "$who" 500 100 "$client" && line=$round_line &&
			(($(field calls "$line") > 0 && $(field errors "$line") == 0)); then
			echo "ok   $who, $client client: $line"
			pass=$((pass + 1))
		else
			echo "FAIL $who, $client client: ${round_line:-no result}"
			fail=$((fail + 1))
		fi
	done
	echo "bench smoke: $pass passed, $fail failed"
	((fail == 0))
}

case $mode in
size) mode_size ;;
rpc) mode_rpc ;;
containers) mode_containers ;;
smoke) mode_smoke ;;
summary) mode_summary ;;
*) echo "bench.sh: --mode must be size, rpc, containers, smoke or summary" >&2; usage >&2; exit 2 ;;
esac
if ((missed)); then
	echo "bench.sh: budget missed (benchmarks report; they do not fail the build without --strict)"
	((strict == 0)) || exit 1
fi
