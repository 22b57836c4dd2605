#!/usr/bin/env bash
# Print the manifest of a Kata guest tree (the format initrd/mkcpio reads) for an agent-as-init
# guest: the agent, /dev/console and /dev/null, the usual empty directories, a minimal /etc,
# optional busybox with its applet links, optional kernel modules and extra files.
# The initrd builder packs it with mkcpio; the rootfs builder materialises it as a directory.
set -euo pipefail

usage() {
	cat <<'USAGE'
Usage: initrd/gen-manifest.sh --agent PATH --workdir DIR [options]
  --layout initrd|rootfs  initrd: agent at /init, /sbin/init -> /init (default)
                          rootfs: agent at /sbin/init
  --agent PATH            the static agent binary (required)
  --workdir DIR           where generated /etc files are written (required)
  --busybox PATH|none     static busybox for /bin/busybox plus applet links (default: none)
  --busybox-applets FILE  applet paths, one a line (default: ask the binary: busybox --list-full,
                          run directly or through qemu-ARCH-static for a foreign binary)
  --modules DIR           copied under /lib/modules/
  --extra SRC:DEST        copy file or directory SRC to absolute DEST (repeatable)
  --hostname NAME         /etc/hostname (default: localhost)
  --help                  this text
Paths in the guest may not contain blanks.  Modes: 0755 for directories and for files with any
execute bit in the source, else 0644; symlinks are kept as they are.
USAGE
}

die() { echo "gen-manifest: $*" >&2; exit 1; }

layout=initrd agent="" workdir="" busybox=none applets="" modules="" hostname=localhost
extras=()
while [ $# -gt 0 ]; do
	case "$1" in
	--layout) layout=${2?}; shift ;;
	--agent) agent=${2?}; shift ;;
	--workdir) workdir=${2?}; shift ;;
	--busybox) busybox=${2?}; shift ;;
	--busybox-applets) applets=${2?}; shift ;;
	--modules) modules=${2?}; shift ;;
	--extra) extras+=("${2?}"); shift ;;
	--hostname) hostname=${2?}; shift ;;
	--help | -h) usage; exit 0 ;;
	*) usage >&2; die "unknown argument: $1" ;;
	esac
	shift
done

[ -n "$agent" ] || die "--agent is required"
[ -n "$workdir" ] || die "--workdir is required"
[ -f "$agent" ] || die "agent $agent: not a regular file"
case "$layout" in initrd | rootfs) ;; *) die "--layout must be initrd or rootfs" ;; esac
case "$hostname" in *[!A-Za-z0-9.-]* | "") die "bad hostname '$hostname'" ;; esac

no_blanks() {
	case "$1" in *[[:space:]]*) die "path with blanks is not supported: '$1'" ;; esac
}

file_mode() {
	if [ -x "$1" ]; then echo 0755; else echo 0644; fi
}

# Directories are emitted once, parents first, whoever asks for them.
declare -A have_dir=()
emit_dir() {
	local d=$1 mode=${2:-0755}
	[ -z "${have_dir[$d]:-}" ] || return 0
	[ "${d%/*}" = "" ] || emit_dir "${d%/*}"
	have_dir[$d]=1
	echo "dir $d $mode"
}

# Everything the tree always has.
for d in /bin /dev /etc /lib /proc /run /sbin /sys /usr /usr/bin /usr/sbin /var; do
	emit_dir "$d"
done
emit_dir /root 0700
emit_dir /tmp 1777
echo "nod /dev/console 0600 c 5 1"
echo "nod /dev/null 0666 c 1 3"

no_blanks "$agent"
if [ "$layout" = initrd ]; then
	echo "file /init $agent 0755"
	echo "slink /sbin/init /init 0777"
else
	echo "file /sbin/init $agent 0755"
fi

mkdir -p "$workdir/etc"
printf '%s\n' "$hostname" >"$workdir/etc/hostname"
: >"$workdir/etc/resolv.conf" # empty: the agent bind-mounts the container's copy over it
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
	>"$workdir/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$workdir/etc/group"
no_blanks "$workdir"
for f in hostname resolv.conf passwd group; do
	echo "file /etc/$f $workdir/etc/$f 0644"
done

# A directory tree under a guest path: directories, files and symlinks, in find order
# (mkcpio sorts; the rootfs builder sorts too).
tree() {
	local src=$1 dest=$2 type rel path
	no_blanks "$src"
	while IFS= read -r -d '' type && IFS= read -r -d '' rel; do
		no_blanks "$rel"
		path="$dest/$rel"
		case "$type" in
		d) emit_dir "$path" ;;
		f) echo "file $path $src/$rel $(file_mode "$src/$rel")" ;;
		l) echo "slink $path $(readlink "$src/$rel") 0777" ;;
		*) die "$src/$rel: unsupported file type '$type'" ;;
		esac
	done < <(find "$src" -mindepth 1 -printf '%y\0%P\0')
}

if [ "$busybox" != none ]; then
	[ -f "$busybox" ] || die "busybox $busybox: not a regular file"
	no_blanks "$busybox"
	echo "file /bin/busybox $busybox 0755"
	if [ -z "$applets" ]; then
		applets="$workdir/busybox.applets"
		if ! "$busybox" --list-full >"$applets" 2>/dev/null; then
			machine=$(readelf -h "$busybox" | sed -n 's/^ *Machine: *//p')
			case "$machine" in
			*RISC-V*) emu=qemu-riscv64-static ;;
			*X86-64*) emu=qemu-x86_64-static ;;
			*) die "cannot list applets of $busybox ($machine); use --busybox-applets" ;;
			esac
			"$emu" "$busybox" --list-full >"$applets" ||
				die "cannot list applets of $busybox; use --busybox-applets"
		fi
	fi
	# Applet links under the standard directories only; never shadow the agent or a fixed entry.
	while IFS= read -r a; do
		a=${a#/}
		case "$a" in sbin/init | bin/busybox) continue ;; esac
		[[ $a =~ ^(bin|sbin|usr/bin|usr/sbin)/[^/]+$ ]] || continue
		no_blanks "$a"
		echo "slink /$a /bin/busybox 0777"
	done <"$applets"
fi

if [ -n "$modules" ]; then
	[ -d "$modules" ] || die "modules $modules: not a directory"
	emit_dir /lib/modules
	tree "$modules" /lib/modules
fi

for x in ${extras[@]+"${extras[@]}"}; do
	src=${x%%:*} dest=${x#*:}
	if [ "$src" = "$x" ] || [ "${dest#/}" = "$dest" ] || [ "$dest" = / ]; then
		die "--extra wants SRC:/ABS/DEST, got '$x'"
	fi
	dest=${dest%/}
	no_blanks "$dest"
	emit_dir "${dest%/*}"
	if [ -d "$src" ]; then
		emit_dir "$dest"
		tree "$src" "$dest"
	elif [ -f "$src" ]; then
		no_blanks "$src"
		echo "file $dest $src $(file_mode "$src")"
	else
		die "extra $src: no such file or directory"
	fi
done
