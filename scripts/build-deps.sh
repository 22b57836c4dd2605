#!/usr/bin/env bash
# Build the static libraries the musl agent links against, from Debian source packages, into
# build/ARCH/deps/ (include/, lib/, kernel-headers/, and for riscv64 musl/ and bin/).
#
#   x86_64:  Debian's musl-gcc builds protobuf-c (runtime only), libnl-3, libnl-route-3 and
#            libseccomp.
#   riscv64: musl itself is built first, then a musl-gcc style wrapper around
#            riscv64-linux-gnu-gcc builds the same four libraries.
# Both build them for size, like the agent (agent/agent.mk): -Os, one section per function
# and object for --gc-sections, no unwind tables (C only; nothing unwinds), no PIE code (the
# agent is a static non-PIE executable).  Debian's libprotobuf-c.a, which links under musl
# as is, was used on x86_64 before; built here it is about half the size in the agent.
#
# Results are cached in $KATA_AGENT_C_CACHE/deps/ARCH-KEY, KEY being a hash of this script,
# the Debian source versions and the toolchain versions.  A build happens in a temporary
# directory and is renamed into place when complete, so an interrupted build leaves no
# half-filled cache entry.  build/ARCH/deps is then filled from the cache with hard links.
set -euo pipefail

usage() {
	cat <<'USAGE'
Usage: scripts/build-deps.sh [--arch x86_64|riscv64] [--jobs N] [--rebuild] [--print-key] [--help]
  Builds (or reuses from the cache) the agent's static dependencies into build/ARCH/deps.
  --arch ARCH    x86_64 (default) or riscv64
  --jobs N       parallel make jobs (default 2)
  --rebuild      ignore the cache entry for this key and build again
  --print-key    print the cache key for ARCH and exit
  --help         this text
Environment: KATA_AGENT_C_CACHE (default ~/.cache/kata-agent-c).
USAGE
}

arch=x86_64
jobs=2
rebuild=0
print_key=0
while [ $# -gt 0 ]; do
	case "$1" in
	--arch) [ $# -ge 2 ] || { usage >&2; exit 2; }; arch=$2; shift ;;
	--arch=*) arch=${1#--arch=} ;;
	--jobs) [ $# -ge 2 ] || { usage >&2; exit 2; }; jobs=$2; shift ;;
	--jobs=*) jobs=${1#--jobs=} ;;
	--rebuild) rebuild=1 ;;
	--print-key) print_key=1 ;;
	--help | -h) usage; exit 0 ;;
	*) echo "build-deps: unknown argument: $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

case "$arch" in
x86_64 | riscv64) ;;
*) echo "build-deps: --arch must be x86_64 or riscv64, not '$arch'" >&2; exit 2 ;;
esac
case "$jobs" in
'' | *[!0-9]* | 0) echo "build-deps: --jobs needs a positive number, not '$jobs'" >&2; exit 2 ;;
esac

log() { echo "build-deps[$arch]: $*"; }
die() { echo "build-deps[$arch]: error: $*" >&2; exit 1; }

script=$(readlink -f -- "${BASH_SOURCE[0]}")
top=$(dirname -- "$(dirname -- "$script")")
cache_root=${KATA_AGENT_C_CACHE:-$HOME/.cache/kata-agent-c}/deps
out=$top/build/$arch/deps

# Source packages per arch, and the Debian binary packages whose files end up in the result
# or which compile it: their versions are part of the key.
if [ "$arch" = x86_64 ]; then
	src_pkgs=(protobuf-c libnl3 libseccomp)
	tool_pkgs=(musl-tools musl-dev gcc-12 binutils linux-libc-dev gperf)
	cc=musl-gcc
	kernel_include=/usr/include
	kernel_asm=/usr/include/x86_64-linux-gnu/asm
	tools=(musl-gcc gcc ar ranlib gperf flex bison make)
else
	src_pkgs=(musl protobuf-c libnl3 libseccomp)
	tool_pkgs=(gcc-12-riscv64-linux-gnu binutils-riscv64-linux-gnu libgcc-12-dev-riscv64-cross
		linux-libc-dev-riscv64-cross gperf)
	cc=riscv64-linux-gnu-gcc
	kernel_include=/usr/riscv64-linux-gnu/include
	kernel_asm=/usr/riscv64-linux-gnu/include/asm
	tools=(riscv64-linux-gnu-gcc riscv64-linux-gnu-ar riscv64-linux-gnu-ranlib gperf flex bison make)
fi

for t in "${tools[@]}" apt-cache apt-get dpkg-source dpkg-query sha256sum flock; do
	command -v "$t" >/dev/null || die "'$t' not found: run scripts/setup.sh"
done
if [ ! -d "$kernel_include/linux" ] || [ ! -d "$kernel_asm" ]; then
	die "kernel headers missing under $kernel_include: run scripts/setup.sh"
fi

# The version `apt-get source` would pick: the highest one apt-cache knows.
src_version() {
	local best='' v
	while read -r v; do
		if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then
			best=$v
		fi
	done < <(apt-cache showsrc --only-source "$1" 2>/dev/null | sed -n 's/^Version: //p')
	[ -n "$best" ] || die "no source package '$1' known to apt (deb-src entries: run scripts/setup.sh)"
	echo "$best"
}

declare -A src_ver
key_input() {
	local p
	echo "script $(sha256sum <"$script" | cut -d' ' -f1)"
	echo "arch $arch"
	for p in "${src_pkgs[@]}"; do
		echo "source $p ${src_ver[$p]}"
	done
	dpkg-query -W -f='package ${Package} ${Version}\n' "${tool_pkgs[@]}" 2>&1
	echo "cc $("$cc" --version | sed -n 1p)"
}

for p in "${src_pkgs[@]}"; do
	src_ver[$p]=$(src_version "$p")
done
key=$(key_input | sha256sum | cut -c1-16)
if [ "$print_key" = 1 ]; then
	echo "$key"
	exit 0
fi
entry=$cache_root/$arch-$key

mkdir -p "$cache_root" "$top/build/$arch"
# One builder per arch at a time, across work trees sharing the cache.
exec {lock_fd}>"$cache_root/.lock-$arch"
if ! flock -n "$lock_fd"; then
	log "waiting for another build-deps run (lock $cache_root/.lock-$arch)"
	flock "$lock_fd"
fi

# Holding the lock, any temporary tree of this arch is a leftover of a killed run.
rm -rf "$cache_root/.build-$arch-"* "$top/build/$arch/.deps."*

# Fill build/ARCH/deps from the cache entry (hard links when possible), replacing any old tree.
populate() {
	local stage
	stage=$(mktemp -d "$top/build/$arch/.deps.XXXXXX")
	chmod 755 "$stage"
	if ! cp -al "$entry/." "$stage/" 2>/dev/null; then
		rm -rf "$stage" && mkdir "$stage"
		cp -a "$entry/." "$stage/"
	fi
	echo "$key" >"$stage/.ready"
	rm -rf "$out"
	mv -T "$stage" "$out"
}

if [ "$rebuild" = 0 ] && [ -f "$out/.ready" ] && [ "$(cat "$out/.ready")" = "$key" ] && [ -d "$entry" ]; then
	# make runs us when the stamp is older than this script or setup's stamp; refresh it then.
	if [ "$script" -nt "$out/.ready" ] || [ "$top/build/.setup-done" -nt "$out/.ready" ]; then
		touch "$out/.ready"
	fi
	log "up to date (key $key): nothing to do"
	exit 0
fi

if [ "$rebuild" = 0 ] && [ -d "$entry" ]; then
	populate
	log "filled build/$arch/deps from cache $entry"
	exit 0
fi

# ---- cold build --------------------------------------------------------------------------

start=$SECONDS
work=$(mktemp -d "${TMPDIR:-/tmp}/kata-agent-c-deps-$arch.XXXXXX")
dest=$(mktemp -d "$cache_root/.build-$arch-$key.XXXXXX")
chmod 755 "$dest"
keep_work=0
cleanup() {
	rm -rf "$dest"
	if [ "$keep_work" = 1 ]; then
		echo "build-deps[$arch]: work directory kept: $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
case "$dest" in
*[[:space:]]*) die "cache path must not contain whitespace: $dest" ;;
esac
mkdir -p "$dest/include" "$dest/lib" "$dest/kernel-headers" "$work/logs" "$cache_root/src"

# step NAME DIR CMD...: run CMD in DIR with its output in NAME's log; show the log's tail
# and keep the work directory when it fails.
step() {
	local name=$1 dir=$2
	shift 2
	if ! (cd "$dir" && "$@") >>"$work/logs/$name.log" 2>&1; then
		echo "build-deps[$arch]: $name: '$*' failed; last lines of $work/logs/$name.log:" >&2
		tail -n 40 "$work/logs/$name.log" >&2
		keep_work=1
		exit 1
	fi
}

# Download (once, kept in the cache) and unpack a Debian source package with its patches
# into $work/PACKAGE (set as $srcdir).
unpack() {
	local p=$1 v=${src_ver[$1]} dsc
	dsc=$cache_root/src/${p}_${v#*:}.dsc
	if [ ! -f "$dsc" ]; then
		step "$p" "$cache_root/src" apt-get source -qq --download-only \
			-o APT::Sandbox::User="$(id -un)" "$p=$v"
	fi
	# apt-get checked the files against the signed archive index; the .dsc's own signature
	# key is not in a keyring here, so skip dpkg-source's check.
	step "$p" "$work" dpkg-source --no-check -x "$dsc" "$work/$p"
	srcdir=$work/$p
}

# Kernel UAPI headers for musl (which ships none): linux/, the arch's asm/, asm-generic/.
cp -a "$kernel_include/linux" "$kernel_include/asm-generic" "$dest/kernel-headers/"
cp -a "$kernel_asm" "$dest/kernel-headers/asm"

lib_cflags="-Os -pipe -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -fno-unwind-tables -fno-pie"
kh_cppflags="-isystem $dest/kernel-headers"

if [ "$arch" = x86_64 ]; then
	build_cc=musl-gcc
	host_args=()
else
	t0=$SECONDS
	unpack musl
	step musl "$srcdir" ./configure --target=riscv64-linux-gnu CROSS_COMPILE=riscv64-linux-gnu- \
		--prefix="$dest/musl" --disable-shared
	step musl "$srcdir" make -j"$jobs"
	step musl "$srcdir" make install
	# A musl-gcc equivalent that finds musl relative to itself (the tree is moved and
	# hard-linked after the build), through an environment variable read by the specs.
	cat >"$dest/musl/lib/musl-gcc.specs" <<'SPECS'
%rename cpp_options old_cpp_options

*cpp_options:
-nostdinc -isystem %:getenv(KATA_AGENT_C_MUSL /include) -isystem include%s %(old_cpp_options)

*cc1:
%(cc1_cpu) -nostdinc -isystem %:getenv(KATA_AGENT_C_MUSL /include) -isystem include%s

*link_libgcc:
-L%:getenv(KATA_AGENT_C_MUSL /lib) -L .%s

*libgcc:
libgcc.a%s %:if-exists(libgcc_eh.a%s)

*startfile:
%{!shared: %:getenv(KATA_AGENT_C_MUSL /lib/Scrt1.o)} %:getenv(KATA_AGENT_C_MUSL /lib/crti.o) crtbeginS.o%s

*endfile:
crtendS.o%s %:getenv(KATA_AGENT_C_MUSL /lib/crtn.o)

*link:
-nostdlib %{shared:-shared} %{static:-static} %{rdynamic:-export-dynamic}
SPECS
	mkdir -p "$dest/bin"
	cat >"$dest/bin/riscv64-linux-musl-gcc" <<'WRAPPER'
#!/usr/bin/env bash
# musl-gcc for riscv64: riscv64-linux-gnu-gcc with musl's headers, crt files and libc
# (from ../musl, built by scripts/build-deps.sh).  Link with -static.
set -euo pipefail
musl=$(cd -- "$(dirname -- "$(readlink -f -- "$0")")/../musl" && pwd)
case "$musl" in *[[:space:]]*) echo "riscv64-linux-musl-gcc: path has whitespace: $musl" >&2; exit 1 ;; esac
export KATA_AGENT_C_MUSL=$musl
exec "${REALGCC:-riscv64-linux-gnu-gcc}" "$@" -specs "$musl/lib/musl-gcc.specs"
WRAPPER
	chmod 755 "$dest/bin/riscv64-linux-musl-gcc"
	build_cc=$dest/bin/riscv64-linux-musl-gcc
	host_args=(--host=riscv64-linux-gnu AR=riscv64-linux-gnu-ar RANLIB=riscv64-linux-gnu-ranlib
		STRIP=riscv64-linux-gnu-strip)
	log "musl ${src_ver[musl]} built ($((SECONDS - t0)) s)"
fi

t0=$SECONDS
unpack protobuf-c
step protobuf-c "$srcdir" ./configure "${host_args[@]}" CC="$build_cc" \
	CPPFLAGS="$kh_cppflags" CFLAGS="$lib_cflags" LDFLAGS=-static --prefix="$work/prefix" \
	--disable-shared --enable-static --disable-protoc
step protobuf-c "$srcdir" make -j"$jobs" protobuf-c/libprotobuf-c.la
step protobuf-c "$srcdir" make install-data
cp "$srcdir/protobuf-c/.libs/libprotobuf-c.a" "$dest/lib/"
log "protobuf-c ${src_ver[protobuf-c]} built ($((SECONDS - t0)) s)"

t0=$SECONDS
unpack libnl3
step libnl3 "$srcdir" ./configure "${host_args[@]}" CC="$build_cc" CPPFLAGS="$kh_cppflags" \
	CFLAGS="$lib_cflags" LDFLAGS=-static --prefix="$work/prefix" \
	--disable-shared --enable-static --disable-cli --disable-debug
# Only the two libraries the agent uses (not genl, nf, idiag, xfrm, tools or tests).
step libnl3 "$srcdir" make -j"$jobs" lib/libnl-3.la lib/libnl-route-3.la
step libnl3 "$srcdir" make install-data
cp "$srcdir/lib/.libs/libnl-3.a" "$srcdir/lib/.libs/libnl-route-3.a" "$dest/lib/"
log "libnl3 ${src_ver[libnl3]} built ($((SECONDS - t0)) s)"

t0=$SECONDS
unpack libseccomp
step libseccomp "$srcdir" ./configure "${host_args[@]}" CC="$build_cc" CPPFLAGS="$kh_cppflags" \
	CFLAGS="$lib_cflags" LDFLAGS=-static --prefix="$work/prefix" \
	--disable-shared --enable-static --disable-python
# The library only: src/ (tools and tests are not needed).
step libseccomp "$srcdir" make -j"$jobs" -C src libseccomp.la
step libseccomp "$srcdir" make -C include install
cp "$srcdir/src/.libs/libseccomp.a" "$dest/lib/"
log "libseccomp ${src_ver[libseccomp]} built ($((SECONDS - t0)) s)"

# Headers installed by the packages' own install rules: libnl3/netlink/..., seccomp*.h,
# protobuf-c/ (riscv64).
cp -a "$work/prefix/include/." "$dest/include/"
key_input >"$dest/KEY-INPUT"

for a in libnl-3.a libnl-route-3.a libseccomp.a libprotobuf-c.a; do
	[ -s "$dest/lib/$a" ] || die "internal: $a missing from the result"
done

# Publish atomically; a concurrent identical build (other cache user) may have won the race.
rm -rf "$entry.old"
if [ -d "$entry" ]; then
	mv -T "$entry" "$entry.old"
fi
mv -T "$dest" "$entry"
rm -rf "$entry.old"
populate
log "built in $((SECONDS - start)) s; cached in $entry"
