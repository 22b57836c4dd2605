#!/usr/bin/env bash
# `check && ok .. || nok ..` is used on purpose below: ok and nok always succeed.
# shellcheck disable=SC2015
# Tests for the initrd tools: mkcpio (read back by GNU cpio and by our own strict reader),
# build-initrd.sh (both architectures, compressors, byte-identical rebuilds) and check-guest.sh.
set -euo pipefail

usage() {
	echo "Usage: initrd/tests/test-initrd.sh --mkcpio P --cpioread P --standin-x86_64 P --standin-riscv64 P"
}
mkcpio="" cpioread="" sx="" sr=""
while [ $# -gt 0 ]; do
	case "$1" in
	--mkcpio) mkcpio=$(realpath "${2?}"); shift ;;
	--cpioread) cpioread=$(realpath "${2?}"); shift ;;
	--standin-x86_64) sx=$(realpath "${2?}"); shift ;;
	--standin-riscv64) sr=$(realpath "${2?}"); shift ;;
	--help | -h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done
[ -x "$mkcpio" ] && [ -x "$cpioread" ] && [ -f "$sx" ] && [ -f "$sr" ] || { usage >&2; exit 2; }

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build="$top/initrd/build-initrd.sh"
check="$top/initrd/check-guest.sh"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
nok() { fail=$((fail + 1)); echo "FAIL $*"; }
# expect NAME CMD...: the command must succeed
expect() { local n=$1; shift; if "$@" >"$t/out" 2>&1; then ok "$n"; else nok "$n"; sed 's/^/     /' "$t/out"; fi; }
# refuse NAME CMD...: the command must fail
refuse() { local n=$1; shift; if "$@" >"$t/out" 2>&1; then nok "$n (succeeded)"; else ok "$n"; fi; }
same() { # NAME GOT WANT
	if [ "$2" = "$3" ]; then ok "$1"; else nok "$1"; diff <(echo "$3") <(echo "$2") | sed 's/^/     /' || true; fi
}

# --- mkcpio: a manifest exercising every entry type ---------------------------------------
mkdir -p "$t/src"
printf 'hello\n' >"$t/src/hello"
printf '#!/bin/sh\necho x\n' >"$t/src/script"
: >"$t/src/empty"
long=$(printf 'd%.0s' {1..100})        # a 100-char directory name
lpath="/deep/$long/$long/$long"        # 5 + 3 * 101 = 308 characters
cat >"$t/m" <<EOF
# comment and blank lines are ignored

dir /dev 0755
nod /dev/console 0600 c 5 1
nod /dev/null 0666 c 1 3
nod /dev/vda 0660 b 254 0
file /init $t/src/script 0755
dir /etc 0755
file /etc/hello $t/src/hello 0644 /etc/hello-link /zz-link
file /etc/empty $t/src/empty 0600
slink /sbin /usr/sbin 0777
dir /usr 0755
dir /usr/sbin 0755
dir /deep 0755
dir /deep/$long 0755
dir /deep/$long/$long 0755
file $lpath $t/src/hello 0644
dir /tmp 1777
EOF
expect "mkcpio writes the archive" "$mkcpio" --mtime 1234567890 --list "$t/list" -o "$t/a.cpio" "$t/m"
"$cpioread" <"$t/a.cpio" >"$t/read" 2>&1 && ok "strict reader accepts it" || nok "strict reader: $(cat "$t/read")"
# FNV-1a 64 of a file, computed here independently of cpioread.
fnv_of() {
	od -An -tu1 -v "$1" | tr -s ' ' '\n' | grep . | {
		h=$((0xcbf29ce484222325))
		while read -r b; do h=$(((h ^ b) * 0x100000001b3)); done
		printf 'fnv=%016x' "$h"
	}
}
fnv_hello=$(fnv_of "$t/src/hello")
want="1 040755 0 0 2 1234567890 0 0,0 0,0 deep
2 040755 0 0 2 1234567890 0 0,0 0,0 deep/$long
3 040755 0 0 2 1234567890 0 0,0 0,0 deep/$long/$long
4 100644 0 0 1 1234567890 6 0,0 0,0 ${lpath#/} $fnv_hello
5 040755 0 0 2 1234567890 0 0,0 0,0 dev
6 020600 0 0 1 1234567890 0 5,1 0,0 dev/console
7 020666 0 0 1 1234567890 0 1,3 0,0 dev/null
8 060660 0 0 1 1234567890 0 254,0 0,0 dev/vda
9 040755 0 0 2 1234567890 0 0,0 0,0 etc
10 100600 0 0 1 1234567890 0 0,0 0,0 etc/empty fnv=cbf29ce484222325
11 100644 0 0 3 1234567890 0 0,0 0,0 etc/hello fnv=cbf29ce484222325
11 100644 0 0 3 1234567890 0 0,0 0,0 etc/hello-link fnv=cbf29ce484222325
12 100755 0 0 1 1234567890 17 0,0 0,0 init $(fnv_of "$t/src/script")
13 120777 0 0 1 1234567890 9 0,0 0,0 sbin /usr/sbin
14 041777 0 0 2 1234567890 0 0,0 0,0 tmp
15 040755 0 0 2 1234567890 0 0,0 0,0 usr
16 040755 0 0 2 1234567890 0 0,0 0,0 usr/sbin
11 100644 0 0 3 1234567890 6 0,0 0,0 zz-link $fnv_hello"
same "sorted entries, fixed mtime, uid/gid 0, renumbered inodes, body on the last hard link" \
	"$(cat "$t/read")" "$want"
same "FNV-1a of an empty body is the offset basis" "$(fnv_of /dev/null)" fnv=cbf29ce484222325
same "archive padded to 512 bytes" "$(($(stat -c %s "$t/a.cpio") % 512))" 0

# GNU cpio reads the same archive.
LC_ALL=C cpio -itv --quiet <"$t/a.cpio" >"$t/gnu" 2>&1 && ok "GNU cpio lists it" || nok "GNU cpio -t: $(cat "$t/gnu")"
same "GNU cpio sees the same names in the same order" "$(cpio -it --quiet <"$t/a.cpio")" \
	"$(awk '{print $10}' "$t/read")"
grep -Eq '^crw------- +1 root +root +5, +1 .* dev/console$' "$t/gnu" && ok "GNU cpio: /dev/console char 5,1" ||
	nok "GNU cpio: /dev/console: $(grep console "$t/gnu")"
grep -Eq '^brw-rw---- +1 root +root +254, +0 .* dev/vda$' "$t/gnu" && ok "GNU cpio: block device 254,0" ||
	nok "GNU cpio: /dev/vda: $(grep vda "$t/gnu")"
grep -Eq '^drwxrwxrwt .* tmp$' "$t/gnu" && ok "GNU cpio: sticky /tmp" || nok "GNU cpio: /tmp mode"
mkdir "$t/x"
(cd "$t/x" && cpio -id --quiet --no-absolute-filenames --nonmatching 'dev/*' <"$t/a.cpio") &&
	ok "GNU cpio extracts it" || nok "GNU cpio extraction"
expect "extracted long-name file has the source content" cmp "$t/x$lpath" "$t/src/hello"
expect "extracted /init has the source content" cmp "$t/x/init" "$t/src/script"
same "hard links extracted as one inode with 3 names" \
	"$(stat -c '%h %i' "$t/x/etc/hello" "$t/x/etc/hello-link" "$t/x/zz-link" | sort -u)" \
	"$(stat -c '%h %i' "$t/x/etc/hello")"
expect "hard-linked content intact" cmp "$t/x/zz-link" "$t/src/hello"
same "symlink target kept" "$(readlink "$t/x/sbin")" /usr/sbin
same "listing: one line per entry" "$(wc -l <"$t/list")" 18
grep -qx "f 100644 3 6 /zz-link $t/src/hello" "$t/list" && ok "listing names the body's source" ||
	nok "listing: $(grep zz-link "$t/list")"

# mtime: from SOURCE_DATE_EPOCH when --mtime is absent; default 0.
SOURCE_DATE_EPOCH=42 "$mkcpio" "$t/m" | "$cpioread" | awk '{print $6}' | sort -u >"$t/mt"
same "SOURCE_DATE_EPOCH sets every mtime" "$(cat "$t/mt")" 42
env -u SOURCE_DATE_EPOCH "$mkcpio" "$t/m" | "$cpioread" | awk '{print $6}' | sort -u >"$t/mt"
same "mtime 0 by default" "$(cat "$t/mt")" 0
refuse "bad SOURCE_DATE_EPOCH refused" env SOURCE_DATE_EPOCH=yesterday "$mkcpio" "$t/m"

# Manifest order, source mtimes and umask do not change a byte.
tac "$t/m" | grep -v '^#' >"$t/m-rev"
"$mkcpio" --mtime 1234567890 -o "$t/b.cpio" "$t/m-rev"
expect "manifest order does not matter" cmp "$t/a.cpio" "$t/b.cpio"
touch -d @1 "$t/src/hello" "$t/src/script"
(umask 077 && "$mkcpio" --mtime 1234567890 -o "$t/c.cpio" "$t/m")
expect "source mtimes and umask do not matter" cmp "$t/a.cpio" "$t/c.cpio"

# Refusals: each leaves no output file behind.
bad() { # NAME MANIFEST-LINES
	printf 'dir /d 0755\n%s\n' "$2" >"$t/bad"
	rm -f "$t/bad.cpio"
	if "$mkcpio" -o "$t/bad.cpio" "$t/bad" >/dev/null 2>&1 || [ -e "$t/bad.cpio" ]; then
		nok "refuses $1"
	else
		ok "refuses $1"
	fi
}
bad "a duplicate entry" "dir /d 0700"
bad "an entry whose parent is missing" "file /nodir/x $t/src/hello 0644"
bad "an entry whose parent is not a directory" "slink /e /d 0777
file /e/x $t/src/hello 0644"
bad "a relative path" "file d/x $t/src/hello 0644"
bad "a .. component" "file /d/../x $t/src/hello 0644"
bad "a trailing slash" "dir /d/e/ 0755"
bad "a missing source file" "file /d/x $t/src/nonexistent 0644"
bad "a directory as a file source" "file /d/x $t/src 0644"
bad "a bad mode" "file /d/x $t/src/hello 0999"
bad "an unknown kind" "fifo /d/p 0644"
bad "a bad device kind" "nod /d/n 0600 x 1 3"
bad "a name longer than PATH_MAX" "file /d/$(printf 'a%.0s' {1..4100}) $t/src/hello 0644"

# --- build-initrd.sh ---------------------------------------------------------------------
mkdir -p "$t/in1" "$t/in2"
cp "$sx" "$t/in1/agent" && cp /bin/busybox "$t/in1/busybox"
cp "$sx" "$t/in2/agent" && cp /bin/busybox "$t/in2/busybox"
touch -d @1000 "$t/in1/agent" "$t/in1/busybox"
touch -d @2000000000 "$t/in2/agent" "$t/in2/busybox"
export SOURCE_DATE_EPOCH=1700000000
build_x86() { # DIR OUT [more args]
	local d=$1 o=$2
	shift 2
	"$build" --arch x86_64 --agent "$d/agent" --busybox "$d/busybox" --mkcpio "$mkcpio" \
		--output "$o" "$@"
}
expect "build-initrd x86_64 with busybox" build_x86 "$t/in1" "$t/i1.img"
(umask 077 && build_x86 "$t/in2" "$t/i2.img") >/dev/null 2>&1 || nok "second build"
same "byte-identical across builds with other input mtimes and umask" \
	"$(sha256sum <"$t/i2.img")" "$(sha256sum <"$t/i1.img")"
same "gzip header: no name, no mtime (gzip -n)" "$(od -An -tx1 -j3 -N5 "$t/i1.img" | tr -d ' ')" 0000000000
gzip -dc "$t/i1.img" >"$t/i1.cpio"
"$cpioread" <"$t/i1.cpio" >"$t/i1.read" && ok "strict reader accepts the initrd" || nok "strict reader on the initrd"
agent_fnv=$("$cpioread" < <(printf 'file /a %s 0755\n' "$sx" | "$mkcpio" -) | awk '{print $NF}')
grep -q " 100755 0 0 1 1700000000 [0-9]* 0,0 0,0 init $agent_fnv\$" "$t/i1.read" &&
	ok "/init is the agent, 0755, root-owned" || nok "/init entry: $(grep ' init ' "$t/i1.read")"
grep -q ' 120777 .* sbin/init /init$' "$t/i1.read" && ok "/sbin/init -> /init" || nok "/sbin/init link"
grep -q ' 020600 .* 5,1 0,0 dev/console$' "$t/i1.read" && ok "/dev/console in the initrd" || nok "/dev/console"
grep -q ' 020666 .* 1,3 0,0 dev/null$' "$t/i1.read" && ok "/dev/null in the initrd" || nok "/dev/null"
missing=""
for d in proc sys run tmp root etc var; do
	grep -q " 04[0-7]* .* $d\$" "$t/i1.read" || missing+=" /$d"
done
same "the usual directories exist" "$missing" ""
grep -q ' 120777 .* bin/sh /bin/busybox$' "$t/i1.read" && ok "busybox applet links (/bin/sh)" || nok "applet links"
grep -q ' sbin/init /bin/busybox$' "$t/i1.read" && nok "busybox took over /sbin/init" || ok "busybox does not shadow /sbin/init"
"$cpioread" <"$t/i1.cpio" | awk '{print $10}' | LC_ALL=C sort -c && ok "initrd entries sorted" || nok "initrd not sorted"
same "every mtime is SOURCE_DATE_EPOCH" "$(awk '{print $6}' "$t/i1.read" | sort -u)" 1700000000
same "inodes renumbered 1..N" "$(awk '{print $1}' "$t/i1.read" | sort -n | uniq | awk 'NR != $1' | wc -l)" 0
want=$(sha256sum <"$sx")
grep -q "^${want%% *} f 100755 1 [0-9]* /init\$" "$t/i1.img.list" && ok "listing carries the agent's sha256" ||
	nok "listing: $(grep ' /init' "$t/i1.img.list")"
same "listing: every entry" "$(grep -vc '^#' "$t/i1.img.list")" "$(wc -l <"$t/i1.read")"
grep -q "^# image sha256 $(sha256sum <"$t/i1.img" | cut -d' ' -f1) " "$t/i1.img.list" &&
	ok "listing records the image sha256" || nok "listing image sha256"

# Other compressors: the checker decompresses each; the payload is the same cpio.
for c in none zstd lz4; do
	if build_x86 "$t/in1" "$t/i-$c.img" --compress "$c" >/dev/null 2>"$t/err" &&
		"$check" --arch x86_64 --initrd "$t/i-$c.img" --quiet; then
		case $c in none) cat ;; zstd) zstd -dcq ;; lz4) lz4 -dcq ;; esac <"$t/i-$c.img" >"$t/i-$c.cpio"
		if cmp -s "$t/i-$c.cpio" "$t/i1.cpio"; then ok "--compress $c"; else nok "--compress $c: payload differs"; fi
	else
		nok "--compress $c: $(cat "$t/err")"
	fi
done
[ "$(od -An -tx1 -N4 "$t/i-lz4.img" | tr -d ' ')" = 02214c18 ] && ok "lz4 uses the legacy frame the kernel reads" ||
	nok "lz4 frame magic"
refuse "unknown compressor refused" build_x86 "$t/in1" "$t/i-bad.img" --compress bzip2

# riscv64: agent stand-in, no busybox (Debian 12 has no riscv64 busybox).
expect "build-initrd riscv64" "$build" --arch riscv64 --agent "$sr" --busybox none \
	--mkcpio "$mkcpio" --output "$t/r.img"
expect "checker accepts the riscv64 initrd" "$check" --arch riscv64 --initrd "$t/r.img"
refuse "checker rejects the riscv64 initrd as x86_64" "$check" --arch x86_64 --initrd "$t/r.img"
refuse "build-initrd refuses an x86_64 agent for riscv64" "$build" --arch riscv64 --agent "$sx" \
	--mkcpio "$mkcpio" --output "$t/r2.img"
refuse "build-initrd refuses a dynamic agent" "$build" --arch x86_64 --agent /bin/ls \
	--mkcpio "$mkcpio" --output "$t/r3.img"
[ ! -e "$t/r2.img" ] && [ ! -e "$t/r3.img" ] && ok "no output after a refusal" || nok "output left after a refusal"

# Extras and modules land where asked, with normalised modes.
mkdir -p "$t/mods/6.1.0/kernel" && printf 'ko' >"$t/mods/6.1.0/kernel/a.ko"
chmod 0600 "$t/mods/6.1.0/kernel/a.ko"
expect "build with --modules and --extra" "$build" --arch x86_64 --agent "$sx" --mkcpio "$mkcpio" \
	--modules "$t/mods" --extra "$t/src/hello:/opt/x/hello" --compress none --output "$t/e.img"
"$cpioread" <"$t/e.img" >"$t/e.read"
grep -q ' 100644 .* lib/modules/6.1.0/kernel/a.ko ' "$t/e.read" && ok "modules under /lib/modules, mode 0644" ||
	nok "modules: $(grep modules "$t/e.read")"
grep -q ' 040755 .* opt/x$' "$t/e.read" && grep -q ' opt/x/hello ' "$t/e.read" &&
	ok "extra file with its parent directories" || nok "extra file"

# --- check-guest.sh on hand-made broken archives ------------------------------------------
checker_case() { # NAME WANT(ok|fail) MANIFEST-LINES
	printf 'dir /dev 0755\nnod /dev/console 0600 c 5 1\n%s\n' "$3" | "$mkcpio" - >"$t/cc.cpio"
	if "$check" --arch x86_64 --initrd "$t/cc.cpio" >/dev/null 2>&1; then r=ok; else r=fail; fi
	same "checker: $1" "$r" "$2"
}
checker_case "static /init accepted" ok "file /init $sx 0755"
checker_case "missing /init rejected" fail "dir /sbin 0755
file /sbin/init $sx 0755"
checker_case "non-executable /init rejected" fail "file /init $sx 0644"
checker_case "dynamic /init rejected" fail "file /init /bin/ls 0755"
checker_case "riscv64 /init rejected for x86_64" fail "file /init $sr 0755"
checker_case "script /init rejected" fail "file /init $t/src/script 0755"
checker_case "/init symlink followed inside the archive" ok "dir /sbin 0755
file /sbin/agent $sx 0755
slink /init sbin/agent 0777"
checker_case "dangling /init symlink rejected" fail "slink /init /nowhere 0777"
checker_case "/init symlink loop rejected" fail "slink /init /init 0777"
printf 'dir /dev 0755\nfile /init %s 0755\n' "$sx" | "$mkcpio" - >"$t/nc.cpio"
refuse "checker: missing /dev/console rejected" "$check" --arch x86_64 --initrd "$t/nc.cpio"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
