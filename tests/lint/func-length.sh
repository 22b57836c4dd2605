#!/usr/bin/env bash
# func-length.sh (make check-lint): no C function of the product code has a body over 80 lines
# (docs/CONTRIBUTING.md, style rule 6).  The body is the lines strictly between the function's
# opening `{` and closing `}`, which the repository's .clang-format (BreakBeforeBraces: Linux)
# puts at column 0; nothing else in this code base opens or closes a brace there.
#
# The product code is every tracked .c and .h file under agent/src, vsock, initrd and
# rootfs-builder, less the tests (any tests/ or vm/ directory: test programs and test guests).
# It prints each offender as FILE:LINE: NAME: N lines.  A function whose `{` ends its signature
# line instead (a line outside any body ending in `) {`) fails too: the lint cannot measure it,
# so a change of layout cannot make it pass by seeing nothing.
#
# First it checks itself: samples/func-81.c.sample (an 81-line function) must be flagged and
# nothing else in it, samples/func-80.c.sample (an 80-line one) must pass, and the function of
# samples/func-brace.c.sample (brace on the signature line) must be flagged as unmeasurable.
set -euo pipefail

readonly PROG=${0##*/}
readonly LIMIT=80
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE

usage() {
	cat <<EOF
Usage: $PROG [FILE...]
  Checks FILEs (after its self-test), or by default the product C code.  Prints each function
  whose body is over $LIMIT lines as FILE:LINE: NAME: N lines and exits 1 if there is any;
  prints "N passed, N failed" (functions and self-test checks) at the end.
EOF
}

case ${1:-} in
-h | --help) usage; exit 0 ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

passed=0 failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }

# Every function of FILEs, one line each: LENGTH FILE:LINE: NAME, LINE being its opening `{`.
# NAME is the identifier before the first `(` of the last line at column 0 that has one (the
# first line of the signature).  An unterminated body is reported with length "open", and a
# function opened by a `{` that is not at column 0 with length "brace".
measure() {
	awk '
	function name_of(sig) {
		if (match(sig, /[A-Za-z_][A-Za-z0-9_]*[[:space:]]*\(/))
			return substr(sig, RSTART, RLENGTH - 1)
		return "?"
	}
	function end_file() {
		if (start > 0) print "open " file ":" start ": " name
	}
	FNR == 1 { end_file(); file = FILENAME; start = 0; prev = "" }
	/^\{/ { start = FNR; name = name_of(prev); prev = ""; next }
	/^\}/ {
		if (start > 0) print FNR - start - 1 " " file ":" start ": " name
		start = 0
		next
	}
	!start && /^[A-Za-z_].*\(/ { prev = $0 }
	!start && !/^#/ && /\)[[:space:]]*\{[[:space:]]*$/ {
		print "brace " file ":" FNR ": " name_of(prev)
		start = -1	# in a body it cannot measure, up to the next } at column 0
	}
	END { end_file() }
	' "$@"
}

# Offenders among measure output: over the limit, unterminated or not measurable.
offenders() {
	awk -v lim="$LIMIT" '$1 !~ /^[0-9]+$/ || $1 > lim' "$1"
}

# Self-test: the 81-line sample function is flagged, with its name and length, and nothing else
# is; the 80-line one is not; the function with its brace on the signature line is flagged.
measure "$HERE/samples/func-81.c.sample" >"$work/s81"
offenders "$work/s81" >"$work/s81.bad"
want="81 $HERE/samples/func-81.c.sample:"
if (($(wc -l <"$work/s81.bad") == 1)) && grep -F -- "$want" "$work/s81.bad" >/dev/null &&
	grep -F ': too_long_by_one' "$work/s81.bad" >/dev/null &&
	(($(wc -l <"$work/s81") > 1)); then
	ok "self-test: the 81-line function of samples/func-81.c.sample is flagged, and only it"
else
	bad "self-test: samples/func-81.c.sample: want exactly its 81-line too_long_by_one flagged, got:"
	sed 's/^/      /' "$work/s81"
fi
measure "$HERE/samples/func-80.c.sample" >"$work/s80"
offenders "$work/s80" >"$work/s80.bad"
if [[ ! -s $work/s80.bad ]] && grep -F -- "80 $HERE/samples/func-80.c.sample:" "$work/s80" >/dev/null; then
	ok "self-test: the 80-line function of samples/func-80.c.sample passes"
else
	bad "self-test: samples/func-80.c.sample: want its 80-line function measured and passed, got:"
	sed 's/^/      /' "$work/s80"
fi

measure "$HERE/samples/func-brace.c.sample" >"$work/sbrace"
offenders "$work/sbrace" >"$work/sbrace.bad"
if grep -Fx -- "brace $HERE/samples/func-brace.c.sample:3: brace_on_signature_line" "$work/sbrace.bad" >/dev/null &&
	(($(wc -l <"$work/sbrace.bad") == 1)); then
	ok "self-test: a function opened by a { that is not at column 0 is flagged (samples/func-brace.c.sample)"
else
	bad "self-test: samples/func-brace.c.sample: want brace_on_signature_line flagged as unmeasurable, got:"
	sed 's/^/      /' "$work/sbrace"
fi

files=()
if (($#)); then
	files=("$@")
else
	top=$(git rev-parse --show-toplevel)
	cd "$top"
	while IFS= read -r f; do
		case $f in
		*/tests/* | */vm/*) ;;
		agent/src/* | vsock/* | initrd/* | rootfs-builder/*)
			if [[ -f $f ]]; then files+=("$f"); fi
			;;
		esac
	done < <(git ls-files '*.c' '*.h')
fi
if ((${#files[@]} == 0)); then
	bad "no C file to check"
	echo "$PROG: $passed passed, $failed failed"
	exit 1
fi

measure "${files[@]}" >"$work/all"
offenders "$work/all" >"$work/bad"
# Each function is a check.
nfunc=$(wc -l <"$work/all")
nbad=$(wc -l <"$work/bad")
while read -r len where; do
	case $len in
	open) bad "$where: no closing } at column 0 before the end of the file" ;;
	brace) bad "$where: a function opened by a { that is not at column 0 (run make format)" ;;
	*) bad "$where: $len lines (limit $LIMIT)" ;;
	esac
done <"$work/bad"
passed=$((passed + nfunc - nbad))
if ((nfunc == 0)); then
	bad "no function found in ${#files[@]} files"
elif ((nbad == 0)); then
	echo "all $nfunc functions in ${#files[@]} files are within $LIMIT lines"
else
	echo "$PROG: split each function over $LIMIT lines into named steps (docs/CONTRIBUTING.md, style rule 6)" >&2
fi
echo "$PROG: $passed passed, $failed failed"
((failed == 0))
