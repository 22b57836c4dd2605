#!/usr/bin/env bash
# Run libFuzzer targets: first over their committed corpus (every input once), then fuzzing for a
# while from a scratch copy, so the committed corpus only changes by hand.  Any crash, leak or
# sanitizer report fails the target; libFuzzer saves the input under the artifact directory.
set -euo pipefail

usage() {
	cat <<'USAGE'
Usage: tests/fuzz/run.sh [options] NAME...
  Runs build-dir/fuzz_NAME for each NAME.
  --bin-dir DIR       where the fuzz_NAME binaries are (required)
  --corpus-dir DIR    committed seed corpora, one directory per NAME (required)
  --work-dir DIR      scratch corpora (new inputs go here; kept between runs) (required)
  --artifact-dir DIR  crash/leak inputs, one directory per NAME (required)
  --time SECONDS      fuzzing time per target after the corpus pass (default 20; 0: corpus only)
  --jobs N            run N targets at the same time (default 1)
  --runs N            also stop a target's fuzzing after N executions (default: time only)
  --summary FILE      write a Markdown table (executions, exec/s, coverage, crashes) to FILE
  --help              show this help
Prints one line per target and a closing "N passed, N failed"; exits 1 if any failed.
USAGE
}

bin_dir="" corpus_dir="" work_dir="" art_dir="" time=20 jobs=1 runs=0 summary=""
while [[ $# -gt 0 ]]; do
	case "$1" in
	--bin-dir) bin_dir="${2:?}"; shift 2 ;;
	--corpus-dir) corpus_dir="${2:?}"; shift 2 ;;
	--work-dir) work_dir="${2:?}"; shift 2 ;;
	--artifact-dir) art_dir="${2:?}"; shift 2 ;;
	--time) time="${2:?}"; shift 2 ;;
	--jobs) jobs="${2:?}"; shift 2 ;;
	--runs) runs="${2:?}"; shift 2 ;;
	--summary) summary="${2:?}"; shift 2 ;;
	--help | -h) usage; exit 0 ;;
	-*) echo "run.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
	*) break ;;
	esac
done
if [[ -z "$bin_dir" || -z "$corpus_dir" || -z "$work_dir" || -z "$art_dir" || $# -eq 0 ]]; then
	usage >&2
	exit 2
fi

# Per-target libFuzzer options (input size limits that fit each decoder).
target_opts() {
	case "$1" in
	frames) echo "-max_len=16384" ;;
	dispatch) echo "-max_len=8192" ;;
	cmdline) echo "-max_len=4096" ;;
	uevent) echo "-max_len=4096" ;;
	json) echo "-max_len=8192" ;;
	copyfile_path) echo "-max_len=1024" ;;
	# proxy: the relay's buffer growth needs tens of KiB, out of reach either way; above 4 KiB
	# an input only adds more trace lines of the same kinds, each costing JSON work.
	proxy) echo "-max_len=4096" ;;
	mount_opts | oci | ctr_user | net) echo "-max_len=4096" ;;
	virtq) echo "-max_len=8192" ;;
	vhost_user) echo "-max_len=4096" ;;
	hybrid) echo "-max_len=64" ;;
	*) echo "" ;;
	esac
}

# One target; its log goes to work_dir/NAME.log.  Returns 0 when clean.
run_one() {
	local name="$1" bin="$bin_dir/fuzz_$1" seeds="$corpus_dir/$1" work="$work_dir/$1"
	local art="$art_dir/$1" log="$work_dir/$1.log" opts
	opts=$(target_opts "$name")
	mkdir -p "$work" "$art"
	: >"$log"
	if [[ ! -x "$bin" ]]; then
		echo "FAIL fuzz_$name: $bin not built" | tee -a "$log"
		return 1
	fi
	# shellcheck disable=SC2086 # opts is a list of options
	if ! "$bin" $opts -runs=0 -artifact_prefix="$art/" "$seeds" >>"$log" 2>&1; then
		echo "| $name | corpus failed | | | | 1 |" >"$status_dir/$name.row"
		echo "FAIL fuzz_$name: corpus $seeds (log: $log)"
		grep -m 8 -E 'ERROR|SUMMARY|assertion|Test unit written' "$log" || true
		return 1
	fi
	local ninputs start status=0 artifacts_before
	ninputs=$(find "$seeds" -type f | wc -l)
	artifacts_before=$(find "$art" -type f | wc -l)
	start=$(date +%s)
	if [[ "$time" -gt 0 ]]; then
		local limit=()
		[[ "$runs" -gt 0 ]] && limit=(-runs="$runs")
		# shellcheck disable=SC2086
		if ! "$bin" $opts -max_total_time="$time" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=1 -artifact_prefix="$art/" "$work" "$seeds" >>"$log" 2>&1; then
			echo "FAIL fuzz_$name: fuzzing (log: $log)"
			grep -m 8 -E 'ERROR|SUMMARY|assertion|Test unit written' "$log" || true
			status=1
		fi
	fi
	local nruns execs cov secs crashes
	secs=$(($(date +%s) - start))
	nruns=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	execs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	crashes=$(($(find "$art" -type f | wc -l) - artifacts_before))
	echo "| $name | ${nruns:-0} | ${execs:-0} | $secs | ${cov:-?} | $crashes |" >"$status_dir/$name.row"
	[[ "$status" -eq 0 ]] || return 1
	echo "ok   fuzz_$name: $ninputs seeds, ${nruns:-0} runs in ${secs}s (${execs:-0}/s), coverage ${cov:-?} edges"
}

mkdir -p "$work_dir" "$art_dir"
passed=0 failed=0
names=()
status_dir=$(mktemp -d)
trap 'rm -rf "$status_dir"' EXIT
for name in "$@"; do
	(
		if run_one "$name"; then
			echo 0 >"$status_dir/$name"
		else
			echo 1 >"$status_dir/$name"
		fi
	) &
	names+=("$name")
	while [[ $(jobs -rp | wc -l) -ge "$jobs" ]]; do
		wait -n || true
	done
done
wait
for name in "${names[@]}"; do
	if [[ "$(cat "$status_dir/$name" 2>/dev/null)" == 0 ]]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
done
if [[ -n "$summary" ]]; then
	{
		echo "Fuzzing campaign, $(date -u '+%Y-%m-%d %H:%M UTC'): up to ${runs} executions or ${time} s per target"
		echo "after its corpus; coverage in edges; crashes = new crash/leak/timeout/oom inputs."
		echo
		echo "| target | executions | exec/s | seconds | coverage | crashes |"
		echo "|---|---|---|---|---|---|"
		for name in "${names[@]}"; do
			cat "$status_dir/$name.row" 2>/dev/null || echo "| $name | not run | | | | |"
		done
	} >"$summary"
	echo "fuzz: summary in $summary"
fi
echo "fuzz: $passed passed, $failed failed"
[[ "$failed" -eq 0 ]]
