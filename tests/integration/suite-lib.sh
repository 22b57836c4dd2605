# shellcheck shell=bash
# suite-lib.sh: the check helpers the container and fault suites share (sourced, not run).
# The sourcing script sets $ctl (kata-agent-ctl) and A (the agent's address) before calling.
# shellcheck disable=SC2154 # ctl and A come from the sourcing script
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok  : $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# expect DESC WANT_REGEX -- command: output (stdout+stderr) must match
expect() {
	local d=$1 want=$2 out; shift 3
	out=$("$@" 2>&1) || true
	if grep -Eq -- "$want" <<<"$out"; then ok "$d"; else bad "$d"; echo "      want /$want/, got: ${out:0:400}"; fi
}
call() { "$ctl" --addr "$A" --timeout 60s call "$@"; }
# status_of METHOD JSON: prints the error code name, or OK
status_of() {
	local err
	if err=$("$ctl" --addr "$A" --timeout 60s call "$1" "$2" 2>&1 >/dev/null); then echo OK; else
		printf '%s\n' "$err" | sed -n 's/^error: \([A-Z_]*\) .*/\1/p'; fi
}
