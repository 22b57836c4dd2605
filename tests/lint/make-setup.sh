#!/usr/bin/env bash
# make-setup.sh (make check-lint): every make goal runs the setup step first, and `make help`
# is complete and true.  Goal by goal, with a stand-in for scripts/setup.sh that prints a marker
# and fails: make must run it and stop before building anything (except for NO_SETUP_GOALS,
# where `help` must work without it).  Then every .PHONY target that is not in
# INTERNAL_TARGETS must be named by `make help`, and every target help names must exist.
set -euo pipefail

readonly PROG=${0##*/}
top=$(git rev-parse --show-toplevel)
cd "$top"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

passed=0 failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }

# A make run as from a fresh shell: no state inherited from an enclosing make check.
fresh_make() { env -u KAC_SETUP_DONE -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory "$@"; }

cat >"$work/fake-setup" <<'EOF'
#!/bin/sh
echo KAC-FAKE-SETUP-RAN
exit 7
EOF
chmod +x "$work/fake-setup"

# The goals allowed to skip the setup: they need no package.  Adding one is a decision this test
# makes visible (it fails until the goal is added here too).
readonly ALLOWED_NO_SETUP='clean help'

# The make database: targets, .PHONY, and the two lists.
fresh_make -pRrq : >"$work/db" 2>/dev/null || true
var() { sed -n "s/^$1 :\?= //p" "$work/db" | tr ' ' '\n' | sed '/^$/d' | sort -u; }
sed -n 's/^\.PHONY: //p' "$work/db" | tr ' ' '\n' | sed '/^$/d' | sort -u >"$work/phony"
var NO_SETUP_GOALS >"$work/nosetup"
var INTERNAL_TARGETS >"$work/internal"
sed -n 's/^\([A-Za-z0-9_./%-][A-Za-z0-9_./%-]*\):.*/\1/p' "$work/db" | sort -u >"$work/targets"
if [[ $(tr '\n' ' ' <"$work/nosetup") != "$ALLOWED_NO_SETUP " ]]; then
	bad "NO_SETUP_GOALS is '$(tr '\n' ' ' <"$work/nosetup")', allowed: '$ALLOWED_NO_SETUP'"
	tr ' ' '\n' <<<"$ALLOWED_NO_SETUP" >"$work/nosetup"
fi
if (($(wc -l <"$work/phony") >= 20)); then
	ok "make database read: $(wc -l <"$work/phony") .PHONY targets, NO_SETUP_GOALS: $(tr '\n' ' ' <"$work/nosetup")"
else
	bad "could not read the make database (.PHONY, NO_SETUP_GOALS)"
	echo "$passed passed, $failed failed"
	exit 1
fi

# Each goal (and plain make) with the failing stand-in, as a dry run (-n, SETUP_IN_DRY_RUN=yes):
# a goal that skipped the setup only prints its commands instead of building.
n=0 missed=()
while IFS= read -r goal; do
	grep -qxF -- "$goal" "$work/nosetup" && continue
	n=$((n + 1))
	rc=0
	fresh_make -n ${goal:+"$goal"} SETUP="$work/fake-setup" SETUP_IN_DRY_RUN=yes >"$work/out" 2>&1 || rc=$?
	# The marker first: a sub-make running the stand-in later does not count.
	if ((rc == 0)) || [[ $(sed -n 1p "$work/out") != KAC-FAKE-SETUP-RAN ]] ||
		! grep -q 'failed (exit status 7); nothing was built' "$work/out"; then
		missed+=("${goal:-(no goal)}")
	fi
done < <(echo; cat "$work/phony")
if ((${#missed[@]} == 0)); then
	ok "all $n goals (plain make and every .PHONY target but $ALLOWED_NO_SETUP) run the setup first and stop when it fails"
else
	bad "goals that do not run the setup first: ${missed[*]}"
fi

rc=0
fresh_make help SETUP="$work/fake-setup" >"$work/help" 2>&1 || rc=$?
if ((rc == 0)) && ! grep -q KAC-FAKE-SETUP-RAN "$work/help"; then
	ok "make help works without the setup"
else
	bad "make help ran the setup or failed (rc $rc)"
fi

# Sub-makes do not repeat it: with KAC_SETUP_DONE=1 (what the top make exports) a goal that
# needs the setup builds without running the stand-in.
rc=0
env -u MAKEFLAGS -u MAKELEVEL KAC_SETUP_DONE=1 make --no-print-directory -s proto SETUP="$work/fake-setup" >"$work/sub" 2>&1 || rc=$?
if ((rc == 0)) && ! grep -q KAC-FAKE-SETUP-RAN "$work/sub"; then
	ok "KAC_SETUP_DONE (exported to sub-makes) skips a second setup"
else
	bad "KAC_SETUP_DONE=1 did not skip the setup"
fi

# help is complete: each public .PHONY target is in its first column.
sed -n 's/^  \([a-z][^ ]*\( [a-z][^ ]*\)*\)  .*/\1/p' "$work/help" | tr ' ' '\n' | sort -u >"$work/named"
unnamed=$(comm -23 "$work/phony" "$work/internal" | comm -23 - "$work/named" | tr '\n' ' ')
if [[ -z $unnamed ]]; then
	ok "make help names every public .PHONY target"
else
	bad "make help does not name: $unnamed(name them, or add them to INTERNAL_TARGETS)"
fi
# ... and true: each name in that column is a target.
unknown=$(comm -23 "$work/named" "$work/targets" | tr '\n' ' ')
if [[ -z $unknown ]] && [[ -s $work/named ]]; then
	ok "every target make help names exists ($(wc -l <"$work/named") names)"
else
	bad "make help names targets that do not exist: $unknown"
fi

echo "$PROG: $passed passed, $failed failed"
((failed == 0))
