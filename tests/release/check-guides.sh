#!/usr/bin/env bash
# Check user guides against the tree: every `make` target a guide names is a target of our
# makefiles and every VAR= it passes is used by them; every repository path it names exists;
# every installed path it names (/usr/bin/..., /usr/share/kata-containers/...,
# /usr/share/defaults/kata-containers/kata-agent-c/...) is installed by scripts/install.sh,
# which is run here for x86_64 (with a stand-in pvm kernel) and riscv64 with stand-in kernels
# (<version> in a guide stands for the kernel version).
# Usage: tests/release/check-guides.sh GUIDE.md...
# shellcheck disable=SC2016 # the backticks in single quotes are Markdown, not expansions
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[ $# -gt 0 ] || { echo "Usage: $0 GUIDE.md..." >&2; exit 2; }
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
nok() { fail=$((fail + 1)); echo "FAIL $*"; }

# Targets and variables of our makefiles (-q runs no recipe).
if ! (cd "$top" && make -qp) >"$t/db" 2>/dev/null; then :; fi # -q exits 1: not up to date
awk -F: '/^[a-zA-Z0-9][^$#\/\t=]*:([^=]|$)/ { print $1 }' "$t/db" | tr ' ' '\n' | LC_ALL=C sort -u >"$t/targets"
(cd "$top" && git ls-files 'Makefile' '*.mk' | xargs cat) >"$t/mk"

# Installed trees.
kd() { # DIR IMAGE [pvm]
	mkdir -p "$1"
	echo x >"$1/vmlinux-6.12.9-kata-0123456789abcdef"
	echo x >"$1/$2-6.12.9-kata-0123456789abcdef"
	ln -s vmlinux-6.12.9-kata-0123456789abcdef "$1/vmlinux"
	ln -s "$2-6.12.9-kata-0123456789abcdef" "$1/$2"
	if [ "${3:-}" = pvm ]; then
		echo x >"$1/vmlinux-6.12.9-pvm-0123456789abcdef"
		ln -s vmlinux-6.12.9-pvm-0123456789abcdef "$1/vmlinux.pvm"
	fi
}
kd "$t/kx" bzImage pvm
kd "$t/kr" Image
echo x >"$t/f"
for a in x86_64:kx riscv64:kr; do
	"$top/scripts/install.sh" --arch "${a%%:*}" --kernel-dir "$t/${a#*:}" --initrd "$t/f" \
		--image "$t/f" --ctl "$t/f" --vhost-user-vsock "$t/f" --destdir "$t/root-${a%%:*}" \
		--prefix /usr >/dev/null
done

for guide in "$@"; do
	g=${guide#"$top"/}
	[ -f "$guide" ] || { nok "$g: no such file"; continue; }
	# make commands: in code blocks (lines starting with make) and in `make ...` spans.
	{
		sed -n 's/^make \(.*\)$/\1/p' "$guide"
		grep -o '`make [^`]*`' "$guide" | sed 's/^`make //; s/`$//'
	} | sed 's/#.*//' >"$t/cmds" || true
	n=0 bad=()
	while read -r -a words; do
		for w in "${words[@]}"; do
			case "$w" in
			*=*) v=${w%%=*}
				[[ $v =~ ^[A-Z_]+$ ]] || continue
				n=$((n + 1))
				grep -qw -- "$v" "$t/mk" || bad+=("variable $v") ;;
			-* | '[' | ']' | *'['* | *']'* | *'|'* | *'...'*) ;;
			*) [[ $w =~ ^[a-z][a-z0-9_-]*$ ]] || continue
				n=$((n + 1))
				grep -qxF -- "$w" "$t/targets" || bad+=("target $w") ;;
			esac
		done
	done <"$t/cmds"
	if [ ${#bad[@]} = 0 ] && [ "$n" -gt 0 ]; then ok "$g: $n make targets and variables exist"
	else nok "$g: make: ${bad[*]:-no make command found}"; fi

	# repository paths in backticks
	grep -o '`[^` ]*`' "$guide" | tr -d '`' |
		grep -E '^(agent|vsock|kernel-configs|initrd|rootfs-builder|tests|scripts|docs|mk)/' >"$t/paths" || true
	n=0 bad=()
	while read -r p; do
		n=$((n + 1))
		[ -e "$top/$p" ] || bad+=("$p")
	done <"$t/paths"
	if [ ${#bad[@]} = 0 ] && [ "$n" -gt 0 ]; then ok "$g: $n repository paths exist"
	else nok "$g: repository paths: ${bad[*]:-none named}"; fi

	# installed paths
	grep -oE '/usr/(bin|share/kata-containers|share/defaults/kata-containers/kata-agent-c)/[A-Za-z0-9<>._-]+' \
		"$guide" | sed 's/<version>/6.12.9/g' | LC_ALL=C sort -u >"$t/inst" || true
	n=0 bad=()
	while read -r p; do
		n=$((n + 1))
		[ -e "$t/root-x86_64$p" ] || [ -L "$t/root-x86_64$p" ] || [ -e "$t/root-riscv64$p" ] || bad+=("$p")
	done <"$t/inst"
	if [ ${#bad[@]} = 0 ] && [ "$n" -gt 0 ]; then ok "$g: $n installed paths are installed"
	else nok "$g: installed paths: ${bad[*]:-none named}"; fi
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
