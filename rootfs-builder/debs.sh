#!/usr/bin/env bash
# Resolve Debian packages for the guest and fetch their .deb files, without root:
#   1. the dependency closure: `apt-cache depends --recurse --important` (Pre-Depends and Depends
#      only; no Recommends/Suggests), walked from the requested packages.  Of alternatives
#      (a | b) the first one that is not excluded is taken; a virtual package is replaced by its
#      first provider.  Packages listed in rootfs-builder/debs-exclude.list are dropped with
#      everything only they pull in (the file gives the reason for each);
#   2. the candidate version of each, from `apt-cache show` (the host's configured archive);
#   3. `apt-get download NAME=VERSION` into $KATA_AGENT_C_CACHE/debs/, keyed by name, version and
#      architecture, and checked against the archive index's SHA256; a cached file is reused.
# Output (--output FILE): one line per package, sorted by name: NAME VERSION ARCH SHA256 DEB.
# This order is the order build-rootfs.sh unpacks them in.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
	cat <<'USAGE'
Usage: rootfs-builder/debs.sh --arch x86_64|riscv64 --output FILE [--cache DIR] PACKAGE...
  --arch ARCH      guest architecture (riscv64 is refused: Debian 12 has no riscv64 port)
  --output FILE    the resolved list: NAME VERSION ARCH SHA256 DEB-PATH, sorted by name
  --cache DIR      .deb cache (default: $KATA_AGENT_C_CACHE/debs or ~/.cache/kata-agent-c/debs)
  --exclude FILE   packages never installed (default: rootfs-builder/debs-exclude.list)
  --help           this text
USAGE
}

die() { echo "debs: $*" >&2; exit 1; }

arch="" output="" cache="${KATA_AGENT_C_CACHE:-$HOME/.cache/kata-agent-c}/debs"
exclude="$here/debs-exclude.list"
roots=()
while [ $# -gt 0 ]; do
	case "$1" in
	--arch) arch=${2?}; shift ;;
	--output) output=${2?}; shift ;;
	--cache) cache=${2?}; shift ;;
	--exclude) exclude=${2?}; shift ;;
	--help | -h) usage; exit 0 ;;
	-*) usage >&2; die "unknown argument: $1" ;;
	*) roots+=("$1") ;;
	esac
	shift
done
[ -n "$output" ] || die "--output is required"
case "$arch" in
x86_64) debarch=amd64 ;;
riscv64) die "riscv64: Debian 12 (bookworm) has no riscv64 binary packages; build the guest without PACKAGES (PACKAGES=) or bring a static tool with --extra" ;;
*) die "--arch must be x86_64 or riscv64" ;;
esac
[ "$(dpkg --print-architecture)" = "$debarch" ] ||
	die "the host's dpkg architecture is $(dpkg --print-architecture), not $debarch: foreign-architecture guests are not supported"
[ ${#roots[@]} -gt 0 ] || die "no packages given"
for p in "${roots[@]}"; do
	[[ $p =~ ^[a-z0-9][a-z0-9.+-]+$ ]] || die "not a Debian package name: '$p'"
done
[ -f "$exclude" ] || die "$exclude: no such file"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# --- 1. closure --------------------------------------------------------------------------
sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$exclude" | LC_ALL=C sort -u >"$work/exclude"
for p in "${roots[@]}"; do
	grep -qxF -- "$p" "$work/exclude" >/dev/null && die "$p is in $exclude (see the reason there)"
done
# Package lists may be missing (a fresh container clears them): refresh once, as root.
if ! apt-cache show --no-all-versions "${roots[@]}" >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ]; then
		echo "debs: no candidate for ${roots[*]} in the package lists: apt-get update" >&2
		apt-get update -qq || die "apt-get update failed"
	fi
fi
LC_ALL=C apt-cache depends --recurse --important "${roots[@]}" >"$work/graph" 2>"$work/graph.err" ||
	die "apt-cache depends failed: $(cat "$work/graph.err")"
# Graph lines: "PKG" (a block), "  Depends: X" / "  PreDepends: X", " |Depends: X" (X or the
# next one), "<virtual>" blocks and deps whose providers follow indented by four spaces.
# Walk it: print the closure, one package per line.
awk -v roots="${roots[*]}" '
	FILENAME == ARGV[1] { excluded[$0] = 1; next }
	/^[^ ]/ { cur = $1; next }
	/^ ( |[|])(Pre)?Depends: / {
		alt = ($1 ~ /^[|]/)
		dep = $2
		if (!(cur in open)) { ngroups[cur] = 0; open[cur] = 1 }
		if (!cont[cur]) { ngroups[cur]++; nalt[cur, ngroups[cur]] = 0 }
		nalt[cur, ngroups[cur]]++
		a[cur, ngroups[cur], nalt[cur, ngroups[cur]]] = dep
		cont[cur] = alt
		lastdep = dep
		next
	}
	# the first provider that is not excluded
	/^    [^ ]/ { if (!((lastdep) in provider) && !($1 in excluded)) provider[lastdep] = $1; next }
	END {
		n = split(roots, stack, " ")
		while (n > 0) {
			p = stack[n--]
			if (p ~ /^<.*>$/) { v = p; p = provider[v]; if (p == "") { print "virtual " v " has no provider" > "/dev/stderr"; bad = 1; continue } }
			if (p in seen || p in excluded) continue
			seen[p] = 1
			print p
			for (g = 1; g <= ngroups[p]; g++) {
				pick = ""
				for (i = 1; i <= nalt[p, g]; i++) {
					c = a[p, g, i]
					if (c ~ /^<.*>$/) c2 = provider[c]; else c2 = c
					if (c2 != "" && !(c2 in excluded)) { pick = c2; break }
				}
				if (pick != "") stack[++n] = pick
			}
		}
		exit bad
	}' "$work/exclude" "$work/graph" | LC_ALL=C sort -u >"$work/closure" ||
	die "could not resolve the dependency closure of: ${roots[*]}"

# --- 2. versions ---------------------------------------------------------------------------
mapfile -t pkgs <"$work/closure"
LC_ALL=C apt-cache show --no-all-versions "${pkgs[@]}" >"$work/show" 2>"$work/show.err" ||
	die "apt-cache show failed: $(cat "$work/show.err")"
awk '
	/^Package: / { p = $2 } /^Version: / { v = $2 } /^Architecture: / { a = $2 }
	/^SHA256: / { s = $2 }
	/^$/ { if (p != "") print p, v, a, s; p = v = a = s = "" }
	END { if (p != "") print p, v, a, s }' "$work/show" | LC_ALL=C sort -k1,1 -u >"$work/versions"
cut -d' ' -f1 "$work/versions" >"$work/versions.names"
cmp -s "$work/versions.names" "$work/closure" ||
	die "no candidate version for: $(cut -d' ' -f1 "$work/versions" | comm -13 - "$work/closure" | tr '\n' ' ')"

# --- 3. fetch ------------------------------------------------------------------------------
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
: >"$work/out"
while read -r name version parch sha; do
	[[ $parch == "$debarch" || $parch == all ]] || die "$name $version is for $parch"
	deb="$cache/${name}_${version//:/%3a}_$parch.deb"
	if [ ! -f "$deb" ] || [ "$(sha256sum <"$deb" | cut -d' ' -f1)" != "$sha" ]; then
		rm -rf "$work/dl" && mkdir "$work/dl"
		(cd "$work/dl" && apt-get download -q "$name=$version" >"$work/dl.log" 2>&1) ||
			die "apt-get download $name=$version failed: $(cat "$work/dl.log")"
		got=("$work"/dl/*.deb)
		if [ ${#got[@]} != 1 ] || [ ! -f "${got[0]}" ]; then die "apt-get download $name=$version: no .deb"; fi
		[ "$(sha256sum <"${got[0]}" | cut -d' ' -f1)" = "$sha" ] ||
			die "$name $version: downloaded file does not match the archive's SHA256"
		mv -f "${got[0]}" "$deb.tmp" && mv -f "$deb.tmp" "$deb"
		echo "debs: fetched $name $version" >&2
	fi
	echo "$name $version $parch $sha $deb" >>"$work/out"
done <"$work/versions"
exec 9>&-
mkdir -p "$(dirname "$output")"
mv -f "$work/out" "$output"
echo "debs: ${#pkgs[@]} packages for ${roots[*]} -> $output" >&2
