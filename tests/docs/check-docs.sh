#!/usr/bin/env bash
# The repository explains itself (docs/CONTRIBUTING.md, style rule 13):
#   1. no tracked file outside docs/ points at documents that live outside the repository
#      (the team's old ../shared notes: "../shared", "/work/shared", "reference §N",
#      "STYLE.md rule N", or those documents' file names when no tracked file has that name);
#   2. every relative link in docs/*.md and README.md resolves to a file, and a "#anchor" on a
#      Markdown target names a heading or an explicit id in it;
#   3. every citation "PROTOCOL.md §N" / "§N.M" names a numbered heading of docs/PROTOCOL.md,
#      and every "style rule N" a numbered rule of docs/CONTRIBUTING.md's Style section.
# Prints each offender as FILE:LINE and a closing "N passed, N failed" line.
set -euo pipefail

usage() {
	cat <<'USAGE'
Usage: tests/docs/check-docs.sh [--root DIR] [--self-test]

  --root DIR    repository to check (default: the one holding this script)
  --self-test   check that the checks themselves fail on planted offenders and pass on a
                clean tree (temporary git repositories), then exit
  --help        show this help
USAGE
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
self_test=0
while [[ $# -gt 0 ]]; do
	case "$1" in
	--root) root="${2:?--root needs a value}"; shift 2 ;;
	--self-test) self_test=1; shift ;;
	--help) usage; exit 0 ;;
	*) echo "check-docs.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Strings that always point outside the repository.
fixed_patterns=('../shared' '/work/shared' 'reference §' 'STYLE.md rule')
# Names of the outside documents: an offence only while no tracked file carries the name.
doc_names=(DESIGN.md STYLE.md kata-agent-protocol.md guest-build-tooling.md peers-and-anchors.md)

# check_refs DIR: list offending lines; returns 1 if there are any.
check_refs() {
	local dir=$1 out="$tmp/out.refs" files="$tmp/files" p n
	: >"$out"
	git -C "$dir" ls-files >"$files"
	# This script and its makefile must name the patterns; docs/ may discuss them.
	local -a scope=(-- . ':(exclude)docs/' ':(exclude)tests/docs/')
	for p in "${fixed_patterns[@]}"; do
		git -C "$dir" grep -n -I -F -e "$p" "${scope[@]}" >>"$out" || true
	done
	for n in "${doc_names[@]}"; do
		if grep -x -F -e "$n" "$files" >/dev/null || grep -F -e "/$n" "$files" >/dev/null; then
			continue
		fi
		git -C "$dir" grep -n -I -F -e "$n" "${scope[@]}" >>"$out" || true
	done
	if [[ -s "$out" ]]; then
		sort -u "$out" >"$out.sorted"
		echo "  references to documents outside the repository ($(wc -l <"$out.sorted") lines):"
		sed 's/^/    /' "$out.sorted"
		return 1
	fi
	return 0
}

# slugs FILE: the anchors a Markdown file offers (GitHub heading slugs and explicit ids).
slugs() {
	local f=$1
	awk '/^```/ { fence = !fence; next } !fence && /^#+ / { print }' "$f" |
		sed -e 's/^#* *//' | tr '[:upper:]' '[:lower:]' |
		sed -e 's/[^a-z0-9 _-]//g' -e 's/ /-/g'
	grep -o -E '(id|name)="[^"]+"' "$f" | sed -E 's/^(id|name)="([^"]+)"$/\2/' || true
}

# check_links DIR: every relative link of docs/*.md and README.md resolves.
check_links() {
	local dir=$1 bad="$tmp/out.links" mds="$tmp/mds" md target path anchor base resolved
	: >"$bad"
	git -C "$dir" ls-files -- 'docs/*.md' README.md >"$mds"
	while IFS= read -r md; do
		base=$(dirname "$md")
		# Links outside fenced code blocks: "](target)" with the line number.
		awk '/^```/ { fence = !fence; next } !fence { print NR ":" $0 }' "$dir/$md" >"$tmp/body"
		{ grep -o -E '^[0-9]+:|\]\([^) ]+\)' "$tmp/body" || true; } >"$tmp/tokens"
		local line=0
		while IFS= read -r tok; do
			if [[ "$tok" =~ ^([0-9]+):$ ]]; then
				line=${BASH_REMATCH[1]}
				continue
			fi
			target=${tok#](}
			target=${target%)}
			case "$target" in
			http://* | https://* | mailto:*) continue ;;
			esac
			path=${target%%#*}
			anchor=""
			[[ "$target" == *#* ]] && anchor=${target#*#}
			if [[ -z "$path" ]]; then
				resolved="$dir/$md"
			else
				resolved="$dir/$base/$path"
			fi
			if [[ ! -e "$resolved" ]]; then
				echo "$md:$line: $target: no such file" >>"$bad"
				continue
			fi
			if [[ -n "$anchor" && "$resolved" == *.md ]]; then
				slugs "$resolved" >"$tmp/slugs"
				if ! grep -x -F -e "$anchor" "$tmp/slugs" >/dev/null; then
					echo "$md:$line: $target: no heading or id '$anchor'" >>"$bad"
				fi
			fi
		done <"$tmp/tokens"
	done <"$mds"
	if [[ -s "$bad" ]]; then
		echo "  broken links ($(wc -l <"$bad")):"
		sed 's/^/    /' "$bad"
		return 1
	fi
	return 0
}

# check_cites DIR: cited protocol sections and style rules exist.
check_cites() {
	local dir=$1
	local bad="$tmp/out.cites" proto="$dir/docs/PROTOCOL.md" contrib="$dir/docs/CONTRIBUTING.md"
	local loc ref num
	: >"$bad"
	# Section numbers PROTOCOL.md offers: "## 3. ..." -> 3, "### 3.5 ..." -> 3.5.
	: >"$tmp/sections"
	if [[ -f "$proto" ]]; then
		sed -n -E 's/^#{2,3} ([0-9]+(\.[0-9]+)?)\.? .*/\1/p' "$proto" >"$tmp/sections"
	fi
	# Rule numbers of the Style section: "N. **...".
	: >"$tmp/rules"
	if [[ -f "$contrib" ]]; then
		awk '/^## / { in_style = ($0 == "## Style") } in_style && /^[0-9]+\. \*\*/ { sub(/\..*/, ""); print }' \
			"$contrib" >"$tmp/rules"
	fi
	git -C "$dir" grep -n -I -o -E 'PROTOCOL\.md,? §[0-9]+(\.[0-9]+)?' >"$tmp/pcites" || true
	while IFS= read -r ref; do
		loc=${ref%PROTOCOL.md*}
		num=${ref##*§}
		if ! grep -x -F -e "$num" "$tmp/sections" >/dev/null; then
			echo "${loc%:}: PROTOCOL.md has no section $num" >>"$bad"
		fi
	done <"$tmp/pcites"
	git -C "$dir" grep -n -I -o -E 'style rule [0-9]+' >"$tmp/rcites" || true
	while IFS= read -r ref; do
		loc=${ref%style rule*}
		num=${ref##* }
		if ! grep -x -F -e "$num" "$tmp/rules" >/dev/null; then
			echo "${loc%:}: docs/CONTRIBUTING.md has no style rule $num" >>"$bad"
		fi
	done <"$tmp/rcites"
	if [[ -s "$bad" ]]; then
		echo "  citations of missing sections or rules ($(wc -l <"$bad")):"
		sed 's/^/    /' "$bad"
		return 1
	fi
	return 0
}

# status FUNC ARGS...: run a check in a subshell with errexit in force and leave its exit status
# in $st.  A check must not be called from an `||` list or an `if`: bash turns errexit off
# there, even inside subshells, so an internal error could pass for success.
st=0
status() {
	set +e
	(
		set -e
		"$@"
	)
	st=$?
	set -e
}

pass=0
fail=0
result() { # result NAME STATUS
	if [[ $2 -eq 0 ]]; then
		pass=$((pass + 1))
		echo "ok   $1"
	else
		fail=$((fail + 1))
		echo "FAIL $1"
	fi
}

# A throwaway repository with the given files (pairs of path and content).
make_repo() {
	local d=$1
	shift
	mkdir -p "$d"
	git -C "$d" init -q
	while [[ $# -gt 0 ]]; do
		mkdir -p "$d/$(dirname "$1")"
		printf '%s\n' "$2" >"$d/$1"
		shift 2
	done
	git -C "$d" add -A
}

if [[ $self_test -eq 1 ]]; then
	clean_readme='# x
See [the protocol](docs/PROTOCOL.md#2-rpcs) and [a section](#x).'
	clean_doc='# Protocol
## 2. RPCs
<a id="runtime-versions"></a>
Back to [the README](../README.md), [versions](#runtime-versions).
```
not a link](nowhere.md)
```'
	make_repo "$tmp/clean" README.md "$clean_readme" docs/PROTOCOL.md "$clean_doc" \
		agent/a.c '/* docs/PROTOCOL.md §3.5 */'
	status check_refs "$tmp/clean" >/dev/null
	result "self-test: a clean tree has no outside references" "$st"
	status check_links "$tmp/clean" >/dev/null
	result "self-test: a clean tree's links resolve" "$st"

	i=0
	for bad in '/* reference §3.5 */' '# see ../shared/DESIGN.md' '/* STYLE.md rule 2 */' \
		'# DESIGN.md "Tests"' '// reference/kata-agent-protocol.md §4'; do
		i=$((i + 1))
		make_repo "$tmp/refs$i" README.md "$clean_readme" docs/PROTOCOL.md "$clean_doc" \
			agent/a.c "$bad"
		status check_refs "$tmp/refs$i" >"$tmp/out"
		if [[ $st -ne 0 ]] && grep -F -e 'agent/a.c:1:' "$tmp/out" >/dev/null; then st=0; else st=1; fi
		result "self-test: '$bad' is reported" "$st"
	done
	# A document name is fine once the repository carries that file.
	make_repo "$tmp/named" README.md "$clean_readme" docs/PROTOCOL.md "$clean_doc" \
		agent/a.c '# DESIGN.md' DESIGN.md 'x'
	status check_refs "$tmp/named" >/dev/null
	result "self-test: a name of a tracked document is not an offence" "$st"
	# Outside references inside docs/ are not this check's business.
	make_repo "$tmp/indocs" README.md "$clean_readme" docs/PROTOCOL.md "$clean_doc" \
		docs/NOTES.md 'the old ../shared notes'
	status check_refs "$tmp/indocs" >/dev/null
	result "self-test: docs/ itself is exempt from the reference check" "$st"

	i=0
	for bad in 'See [x](docs/MISSING.md).' 'See [x](docs/PROTOCOL.md#no-such-heading).' \
		'See [x](#nowhere).'; do
		i=$((i + 1))
		make_repo "$tmp/links$i" README.md "$bad" docs/PROTOCOL.md "$clean_doc"
		status check_links "$tmp/links$i" >"$tmp/out"
		if [[ $st -ne 0 ]] && grep -F -e 'README.md:1:' "$tmp/out" >/dev/null; then st=0; else st=1; fi
		result "self-test: broken link '$bad' is reported" "$st"
	done
	contrib='# Contributing
## Style
1. **One.**
2. **Two.**
## Commits'
	make_repo "$tmp/cites" README.md "$clean_readme" docs/PROTOCOL.md "$clean_doc" \
		docs/CONTRIBUTING.md "$contrib" \
		agent/a.c '/* docs/PROTOCOL.md §2, docs/CONTRIBUTING.md, style rule 2 */'
	status check_cites "$tmp/cites" >/dev/null
	result "self-test: existing sections and rules may be cited" "$st"
	i=0
	for bad in '/* docs/PROTOCOL.md §3.5 */' '/* docs/CONTRIBUTING.md, style rule 3 */'; do
		i=$((i + 1))
		make_repo "$tmp/cites$i" README.md "$clean_readme" docs/PROTOCOL.md "$clean_doc" \
			docs/CONTRIBUTING.md "$contrib" agent/a.c "$bad"
		status check_cites "$tmp/cites$i" >"$tmp/out"
		if [[ $st -ne 0 ]] && grep -F -e 'agent/a.c:1:' "$tmp/out" >/dev/null; then st=0; else st=1; fi
		result "self-test: citation '$bad' of a missing section or rule is reported" "$st"
	done
	echo "$pass passed, $fail failed"
	[[ $fail -eq 0 ]]
	exit
fi

status check_refs "$root"
result "no tracked file outside docs/ points at documents outside the repository" "$st"
status check_links "$root"
result "every relative link in docs/*.md and README.md resolves" "$st"
status check_cites "$root"
result "cited PROTOCOL.md sections and style rules exist" "$st"
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
