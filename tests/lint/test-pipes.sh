#!/usr/bin/env bash
# test-pipes.sh (make check-lint): pipes.sh passes on the repository, flags every line of
# samples/early-exit.sample and nothing in samples/safe.sample.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
readonly LINT=$HERE/pipes.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

passed=0 failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }

if "$LINT" >"$work/repo.out" 2>&1; then
	ok "no early-exit reader in any tracked script, .mk or Makefile"
else
	bad "early-exit readers in the tree:"
	sed 's/^/      /' "$work/repo.out"
fi

sample=$HERE/samples/early-exit.sample
rc=0
"$LINT" "$sample" >"$work/bad.out" 2>&1 || rc=$?
# Expected: the first line of every pipeline, i.e. each non-comment line that does not continue
# the one before it (after a trailing `\` or `|`).
awk '/^#/ { next } { if (!cont) print FNR; cont = ($0 ~ /(\\|\|)$/) }' "$sample" >"$work/want"
sed -n 's/^[^:]*:\([0-9]*\): .*/\1/p' "$work/bad.out" >"$work/got"
if ((rc == 1)) && cmp -s "$work/want" "$work/got"; then
	ok "all $(wc -l <"$work/want") pipelines of the bad sample are flagged"
else
	bad "bad sample: rc $rc, flagged lines $(tr '\n' ' ' <"$work/got"), want $(tr '\n' ' ' <"$work/want")"
fi

rc=0
"$LINT" "$HERE/samples/safe.sample" >"$work/safe.out" 2>&1 || rc=$?
if ((rc == 0)); then
	ok "nothing flagged in the safe sample"
else
	bad "safe sample flagged (rc $rc):"
	sed 's/^/      /' "$work/safe.out"
fi

echo "$passed passed, $failed failed"
((failed == 0))
