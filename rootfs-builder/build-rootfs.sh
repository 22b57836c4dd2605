#!/usr/bin/env bash
# Build a Kata guest root directory without root: the agent as /sbin/init, optional busybox,
# the same tree as the initrd (initrd/gen-manifest.sh --layout rootfs) minus device nodes, which
# need mknod; build-image.sh writes those into the ext4 image with debugfs instead.  Modes come
# from the manifest and every timestamp is SOURCE_DATE_EPOCH, so umask and source mtimes do not
# leak into the tree.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
	cat <<'USAGE'
Usage: rootfs-builder/build-rootfs.sh --arch ARCH --agent PATH --output DIR [options]
  --arch x86_64|riscv64     architecture the agent must be built for
  --agent PATH              static agent; becomes /sbin/init
  --output DIR              the root directory (replaced if it exists)
  --busybox PATH|none       static busybox with applet links (default: none)
  --busybox-applets FILE    applet list instead of asking the binary
  --modules DIR             kernel modules, copied under /lib/modules/
  --extra SRC:DEST          extra file or directory (repeatable)
  --hostname NAME           /etc/hostname (default: localhost)
  --debs LIST               Debian packages to unpack, in list order (rootfs-builder/debs.sh)
  --origins FILE            write "PATH PACKAGE VERSION" for every file the packages added
  --help                    this text
SOURCE_DATE_EPOCH sets every timestamp (default 0).
USAGE
}

die() { echo "build-rootfs: $*" >&2; exit 1; }

arch="" agent="" output="" debs="" origins=""
gen_args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--arch) arch=${2?}; shift ;;
	--agent) agent=${2?}; shift ;;
	--output) output=${2?}; shift ;;
	--debs) debs=${2?}; shift ;;
	--origins) origins=${2?}; shift ;;
	--busybox | --busybox-applets | --modules | --extra | --hostname)
		gen_args+=("$1" "${2?}"); shift ;;
	--help | -h) usage; exit 0 ;;
	*) usage >&2; die "unknown argument: $1" ;;
	esac
	shift
done
case "$arch" in x86_64 | riscv64) ;; *) die "--arch must be x86_64 or riscv64" ;; esac
[ -n "$agent" ] || die "--agent is required"
[ -n "$output" ] || die "--output is required"
case "$output" in / | "") die "refusing --output '$output'" ;; esac
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-0}

"$here/../initrd/check-guest.sh" --arch "$arch" --binary "$agent" >/dev/null ||
	die "agent $agent is not a static $arch executable"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$here/../initrd/gen-manifest.sh" --layout rootfs --agent "$agent" --workdir "$work/gen" \
	${gen_args[@]+"${gen_args[@]}"} >"$work/manifest"
# /var/run is /run, as Debian's base-files makes it (excluded here): booted from the image, / is
# read-only and the agent's state under /var/run (sandbox-ns) must land on the /run tmpfs it mounts.
echo "slink /var/run /run 0777" >>"$work/manifest"

rm -rf "$output"
mkdir -p "$output"
chmod 0755 "$output"
# Sorted by path, so every directory comes before its children.  Hard links are made last:
# a link's directory may sort after the file it links to.
: >"$work/links"
while read -r -a f; do
	path=${f[1]}
	case "${f[0]}" in
	dir) mkdir "$output$path" && chmod "${f[2]}" "$output$path" ;;
	file)
		cp "${f[2]}" "$output$path"
		chmod "${f[3]}" "$output$path"
		for l in "${f[@]:4}"; do printf '%s %s\n' "$path" "$l" >>"$work/links"; done
		;;
	slink) ln -s "${f[2]}" "$output$path" ;;
	nod) ;; # written into the image by build-image.sh (debugfs mknod)
	*) die "unexpected manifest line: ${f[*]}" ;;
	esac
done < <(LC_ALL=C sort -k2,2 "$work/manifest")
while read -r path l; do ln "$output$path" "$output$l"; done <"$work/links"

# Debian packages (debs.sh's list), unpacked without root in list order: dpkg-deb -x into a
# staging tree, documentation and glibc's gconv modules dropped (copyright files kept), then
# merged.  A package file
# may replace a busybox applet link; any other clash is an error, as dpkg would refuse it.
# Maintainer scripts are not run; their update-alternatives links are made (below).
: >"$work/origins"
: >"$work/alternatives"
if [ -n "$debs" ]; then
	# shellcheck disable=SC2034 # parch, sha: read for the field positions only
	while read -r name version parch sha deb; do
		st="$work/deb/$name"
		mkdir -p "$st"
		dpkg-deb -x "$deb" "$st" || die "dpkg-deb -x $deb failed"
		# glibc's gconv modules (iconv converters, 8 MiB; the tools a guest execs do not use
		# iconv) go with the documentation.
		rm -rf "$st/usr/share/man" "$st/usr/share/info" "$st/usr/share/lintian" \
			"$st/usr/share/locale" "$st/usr/share/bug" "$st"/usr/lib/*/gconv
		if [ -d "$st/usr/share/doc" ]; then
			find "$st/usr/share/doc" ! -type d ! -name copyright -delete
			find "$st/usr/share/doc" -depth -type d -empty -delete
		fi
		(cd "$st" && find . -mindepth 1 -printf '%y %P\n') | LC_ALL=C sort -k2 >"$work/deb.list"
		if grep -E "^. .*[[:space:]\"'\\]" "$work/deb.list" >"$work/bad" ||
			grep -vE '^[dfl] ' "$work/deb.list" >>"$work/bad"; then
			die "$name: unsupported path or file type: $(head -3 "$work/bad")"
		fi
		while read -r type p; do
			[ -e "$output/$p" ] || [ -L "$output/$p" ] || continue
			if [ "$type" = d ]; then
				[ -d "$output/$p" ] && [ ! -L "$output/$p" ] && continue
			elif [ -L "$output/$p" ] && [ "$(readlink "$output/$p")" = /bin/busybox ]; then
				rm -f "$output/$p"
				continue
			fi
			die "$name $version: /$p already exists in the tree (from another package or the manifest)"
		done <"$work/deb.list"
		(cd "$st" && tar -cf - .) | tar -C "$output" -xf - --no-same-owner
		awk -v n="$name" -v v="$version" '$1 != "d" { print "/" $2, n, v }' "$work/deb.list" \
			>>"$work/origins"
		# update-alternatives --install LINK NAME PATH PRIORITY [--slave LINK NAME PATH]...:
		# the highest priority wins, as in Debian's automatic mode; the link points straight at
		# the chosen path (no /etc/alternatives indirection: the guest never switches).
		if dpkg-deb -I "$deb" postinst >"$work/postinst" 2>/dev/null; then
			sed -e ':a' -e '/\\$/{N;s/\\\n/ /;ba' -e '}' "$work/postinst" |
				awk -v n="$name" -v v="$version" '/update-alternatives/ && / --install / {
					for (i = 1; i <= NF; i++) {
						if ($i == "--install") { grp = $(i + 2); prio = $(i + 4)
							print grp, prio, $(i + 1), $(i + 3), n, v }
						if ($i == "--slave") print grp, prio, $(i + 1), $(i + 3), n, v
					}
				}' >>"$work/alternatives"
		fi
	done <"$debs"
	if [ -s "$work/alternatives" ]; then
		# group priority link path package version: per group the best priority's links.
		awk '{ if (!($1 in best) || $2 > best[$1]) best[$1] = $2; l[NR] = $0 }
			END { for (i = 1; i <= NR; i++) { split(l[i], f, " ")
				if (f[2] == best[f[1]]) print f[3], f[4], f[5], f[6] } }' "$work/alternatives" |
			while read -r link target name version; do
				[ -e "$output$target" ] || [ -L "$output$target" ] || continue
				if [ -L "$output$link" ] && [ "$(readlink "$output$link")" = /bin/busybox ]; then
					rm -f "$output$link"
				fi
				[ -e "$output$link" ] || [ -L "$output$link" ] ||
					{ ln -s "$target" "$output$link" && echo "$link $name $version" >>"$work/origins"; }
			done
	fi
fi
if [ -n "$origins" ]; then
	mkdir -p "$(dirname "$origins")"
	LC_ALL=C sort "$work/origins" >"$origins"
fi
find "$output" -depth -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

"$here/../initrd/check-guest.sh" --arch "$arch" --rootfs "$output" --quiet
echo "build-rootfs: $output ($(find "$output" | wc -l) entries, $(du -sk --apparent-size "$output" | cut -f1) KiB)"
