#!/usr/bin/env bash
# pipes.sh: fail on a pipeline whose reader may exit before its writer is done (grep -q,
# grep -m/-l/-L, head, sed with a q command, awk with exit, cmp).  Under `set -o pipefail` the
# writer then dies of SIGPIPE at random and the pipeline fails although the reader found what it
# wanted (docs/CONTRIBUTING.md, scripts).  Grep the file, or `grep ... >/dev/null`, or `sed -n 1p`.
#
# Continuation lines (backslash, or a line ending in `|`) are joined first, so a pipeline split
# over lines is seen whole; full-line comments are ignored.  Strings are not parsed: a
# `sh -c "... | grep -q x"` is flagged too, on purpose.
set -euo pipefail

readonly PROG=${0##*/}

usage() {
	cat <<EOF
Usage: $PROG [FILE...]
  Checks FILEs, or by default every tracked shell script (*.sh, *.bash, files with a sh/bash
  shebang), *.mk and Makefile.  Prints each offending pipeline as FILE:LINE: TEXT and exits 1
  if there is any; prints "N passed, N failed" (files) at the end.
EOF
}

case ${1:-} in
-h | --help) usage; exit 0 ;;
esac

files=()
if (($#)); then
	files=("$@")
else
	top=$(git rev-parse --show-toplevel)
	cd "$top"
	while IFS= read -r f; do
		[[ -f $f ]] || continue
		case $f in
		*.sh | *.bash | *.mk | Makefile) files+=("$f") ;;
		*)
			first=
			IFS= read -r first <"$f" || true
			[[ $first =~ ^\#!.*(/|env\ )(ba|da)?sh([[:space:]]|$) ]] && files+=("$f")
			;;
		esac
	done < <(git ls-files)
fi

# One logical line per output line: FILE:FIRSTLINE: TEXT.
join_lines() {
	awk '
	FNR == 1 { if (buf != "") print prev ":" start ": " buf; buf = ""; prev = FILENAME }
	/^[[:space:]]*#/ { next }
	{
		if (buf == "") start = FNR
		line = $0
		if (line ~ /\\$/) { sub(/\\$/, " ", line); buf = buf line; next }
		buf = buf line
		if (line ~ /[^|]\|[[:space:]]*$/) { buf = buf " "; next }
		print FILENAME ":" start ": " buf
		buf = ""
	}
	END { if (buf != "") print prev ":" start ": " buf }
	' "$@"
}

# A single `|` (not `||`) followed by an early-exiting reader.
readonly P='(^|[^|])\|[[:space:]]*'
readonly GREP_EARLY="${P}(e|f|z)?grep([[:space:]]+[^|;&)]*)?[[:space:]]-([A-Za-z]*[qlLm]|-quiet|-silent|-max-count|-files-with)"
readonly HEAD="${P}head([[:space:]]|\$|\))"
readonly SED_Q="${P}sed[[:space:]][^|]*[;{[:space:]'\"0-9\$]q([[:space:]0-9;}'\"]|\$)"
readonly AWK_EXIT="${P}(m|g)?awk[[:space:]]([^|]*|[^']*'[^']*)[^A-Za-z_]exit([^A-Za-z_]|\$)"
readonly CMP="${P}cmp([[:space:]]|\$)"

hits=$(join_lines "${files[@]}" | grep -E -e "$GREP_EARLY" -e "$HEAD" -e "$SED_Q" -e "$AWK_EXIT" -e "$CMP" || true)
nbad=0
if [[ -n $hits ]]; then
	printf '%s\n' "$hits"
	nbad=$(printf '%s\n' "$hits" | cut -d: -f1 | sort -u | wc -l)
	echo "$PROG: early-exit readers in pipelines (SIGPIPE fails them under pipefail): grep the file," \
		"use 'grep ... >/dev/null' or 'sed -n 1p'" >&2
fi
echo "$((${#files[@]} - nbad)) passed, $nbad failed"
((nbad == 0))
