#!/usr/bin/env bash
# pvm-reference-test.sh: compare our pvm flavour with PVM's published guest config
# (kernel-configs/pvm/reference/pvm-guest-6.12.33.config) symbol by symbol.
#
# Debian's tree has no PVM symbols, so "what our pvm fragments produce" is modelled as:
#   the pvm flavour's fragments merged on the default (mainline 6.12) tree (allnoconfig +
#   fragments + olddefconfig), then every symbol the fragments request overlaid with its
#   requested value (on a PVM tree, build-kernel's verify makes each request exact).
# Every difference from the reference must be explained in pvm/reference/differences.list;
# each entry there must still explain something; every symbol pvm/pvm.conf requests, and the
# PVM-critical symbols, must equal the reference and may not be explained away.
set -euo pipefail

readonly PROG=${0##*/}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly KC=$HERE/..
readonly BK=$KC/build-kernel
# PVM-critical: what a PVM guest needs to boot and run under KVM-PVM (PIE kernel that
# relocates itself, full pvops, KVM guest bits, PVH entry, KPTI, no KASAN/LA57/PV spinlocks).
readonly CRITICAL=(CONFIG_PVM_GUEST CONFIG_X86_PIE CONFIG_RELOCATABLE_UNCOMPRESSED_KERNEL
	CONFIG_EXTENDED_RANDOMIZE_BASE CONFIG_PARAVIRT_XXL CONFIG_PARAVIRT CONFIG_HYPERVISOR_GUEST
	CONFIG_KVM_GUEST CONFIG_PARAVIRT_CLOCK CONFIG_PVH CONFIG_RELOCATABLE CONFIG_RANDOMIZE_BASE
	CONFIG_RANDOMIZE_MEMORY CONFIG_PAGE_TABLE_ISOLATION CONFIG_ARCH_CPUIDLE_HALTPOLL
	CONFIG_KASAN CONFIG_X86_5LEVEL CONFIG_PARAVIRT_SPINLOCKS CONFIG_X86_64 CONFIG_SMP)

ref=$KC/pvm/reference/pvm-guest-6.12.33.config
list=$KC/pvm/reference/differences.list
config=
while (($#)); do
	case $1 in
	--reference) ref=${2:?}; shift 2 ;;
	--differences) list=${2:?}; shift 2 ;;
	--config) config=${2:?}; shift 2 ;; # reuse a merged config (setup output) instead of merging
	-h | --help)
		echo "Usage: $PROG [--reference FILE] [--differences FILE] [--config MERGED-CONFIG]"
		exit 0 ;;
	*) echo "$PROG: unknown argument '$1'" >&2; exit 2 ;;
	esac
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$1"; }
bad() { failed=$((failed + 1)); printf 'FAIL %s\n' "$1"; }

# The pvm flavour's fragments: kata's plus pvm/*.conf (checked against build-kernel's own list).
"$BK" --arch x86_64 --flavour pvm fragments >"$tmp/pvm.list"
extra=()
for f in "$KC"/pvm/*.conf; do extra+=(--extra-fragment "$f"); done
"$BK" --arch x86_64 --flavour kata "${extra[@]}" fragments | sed "s|^$KC/||" >"$tmp/model.list"
if cmp -s "$tmp/pvm.list" "$tmp/model.list"; then ok "model uses exactly the pvm flavour's fragments"
else bad "model uses exactly the pvm flavour's fragments"; diff "$tmp/pvm.list" "$tmp/model.list" || true; fi

if [[ -z $config ]]; then
	"$BK" --arch x86_64 --flavour kata "${extra[@]}" --build-dir "$tmp/build" setup >"$tmp/setup.log" 2>&1 ||
		{ cat "$tmp/setup.log"; echo "$PROG: merge failed" >&2; exit 1; }
	config=$tmp/build/.config
fi

# Requests of the pvm flavour (SYM<TAB>VALUE<TAB>FILE), and pvm.conf's own.
while IFS= read -r f; do
	awk -v f="$f" '/^CONFIG_[A-Za-z0-9_]+=/ { i = index($0, "="); print substr($0, 1, i - 1) "\t" substr($0, i + 1) "\t" f }
		/^# CONFIG_[A-Za-z0-9_]+ is not set$/ { print $2 "\tn\t" f }' "$KC/$f"
done <"$tmp/pvm.list" >"$tmp/want"

# SYM<TAB>REF<TAB>OURS for every symbol that differs ("n" stands for unset and absent).
awk -F'\t' '
	function parse(line, arr) {
		if (line ~ /^CONFIG_[A-Za-z0-9_]+=/) { i = index(line, "="); arr[substr(line, 1, i - 1)] = substr(line, i + 1); all[substr(line, 1, i - 1)] = 1 }
		else if (line ~ /^# CONFIG_[A-Za-z0-9_]+ is not set$/) { split(line, w, " "); arr[w[2]] = "n"; all[w[2]] = 1 }
	}
	FILENAME == ARGV[1] { parse($0, R); next }
	FILENAME == ARGV[2] { parse($0, O); next }
	{ O[$1] = $2; all[$1] = 1 }
	END {
		for (s in all) {
			r = (s in R) ? R[s] : "n"; o = (s in O) ? O[s] : "n"
			if (r != o) print s "\t" r "\t" o
		}
	}' "$ref" "$config" "$tmp/want" | sort >"$tmp/diffs"
awk -F'\t' '/^CONFIG_/ { i = index($0, "="); if (i) print substr($0, 1, i - 1) "\t" substr($0, i + 1); next }
	/^# CONFIG_[A-Za-z0-9_]+ is not set$/ { split($0, w, " "); print w[2] "\tn" }' "$ref" | sort >"$tmp/ref.kv"

refval() { # refval SYM: the reference's value, n when unset or absent
	local v
	v=$(awk -F'\t' -v s="$1" '$1 == s { print $2; exit }' "$tmp/ref.kv")
	printf '%s\n' "${v:-n}"
}

# The explanations.
patterns=() categories=()
n=0
while IFS= read -r line || [[ -n $line ]]; do
	n=$((n + 1))
	[[ $line =~ ^[[:space:]]*(#.*)?$ ]] && continue
	if [[ $line =~ ^(CONFIG_[A-Za-z0-9_*?]+)\ (kata|derived|toolchain|version)\ [^[:space:]] ]]; then
		patterns+=("${BASH_REMATCH[1]}") categories+=("${BASH_REMATCH[2]}")
	else
		bad "differences.list:$n is 'PATTERN kata|derived|toolchain|version REASON': $line"
	fi
done <"$list"

declare -A used=() percat=()
unexplained=() explained_critical=()
total=0
while IFS=$'\t' read -r sym rv ov; do
	total=$((total + 1))
	hit=-1
	for i in "${!patterns[@]}"; do
		# shellcheck disable=SC2053 # the pattern is a glob on purpose
		if [[ $sym == ${patterns[$i]} ]]; then hit=$i; break; fi
	done
	if ((hit < 0)); then
		unexplained+=("$sym (reference $rv, ours $ov)")
		continue
	fi
	used[$hit]=1
	percat[${categories[$hit]}]=$((${percat[${categories[$hit]}]:-0} + 1))
	for c in "${CRITICAL[@]}"; do
		[[ $sym != "$c" ]] || explained_critical+=("$sym by '${patterns[$hit]}'")
	done
done <"$tmp/diffs"

if ((${#unexplained[@]} == 0)); then ok "all $total differences explained"
else
	bad "${#unexplained[@]} of $total differences unexplained (a PVM requirement goes into pvm/pvm.conf, a Kata choice into differences.list):"
	printf '       %s\n' "${unexplained[@]}"
fi
stale=()
for i in "${!patterns[@]}"; do [[ -n ${used[$i]:-} ]] || stale+=("${patterns[$i]}"); done
if ((${#stale[@]} == 0)); then ok "every differences.list entry explains a current difference"
else bad "stale differences.list entries: ${stale[*]}"; fi
if ((${#explained_critical[@]} == 0)); then ok "no PVM-critical symbol differs"
else bad "PVM-critical symbols differ: ${explained_critical[*]}"; fi

# pvm.conf and the critical symbols equal the reference.
for c in "${CRITICAL[@]}"; do
	rv=$(refval "$c")
	wv=$(awk -F'\t' -v s="$c" '$1 == s { v = $2 } END { print v }' "$tmp/want")
	if [[ -z $wv ]]; then
		bad "$c (reference $rv) is requested by a pvm flavour fragment"
	elif [[ $wv == "$rv" ]]; then ok "$c=$wv requested, as in the reference"
	else bad "$c requested $wv, reference $rv"; fi
done
while IFS=$'\t' read -r sym wv f; do
	[[ $f == pvm/* ]] || continue
	rv=$(refval "$sym")
	if [[ $wv == "$rv" ]]; then ok "$f: $sym=$wv as in the reference"
	else bad "$f: $sym=$wv, reference $rv"; fi
done <"$tmp/want"

summary=
for c in kata derived toolchain version; do summary+=" $c ${percat[$c]:-0},"; done
echo "$PROG: $total differences:${summary%,}"
echo "$passed passed, $failed failed"
((failed == 0))
