#!/usr/bin/env bash
# Tests for scripts/install.sh (make install): the Kata layout under DESTDIR/PREFIX, the kernel
# names taken from the kernel builder's file names, the links Kata's configurations name, and
# the generated drop-ins, parsed as TOML (every path they name must exist in the tree).  Kernels,
# initrd and image are stand-in files (the layout is what is tested; no kernel build needed);
# the host tools are the real ones.
set -euo pipefail

usage() { echo "Usage: tests/release/test-install.sh --ctl FILE --vhost-user-vsock FILE"; }
ctl="" vuv=""
while [ $# -gt 0 ]; do
	case "$1" in
	--ctl) ctl=$(realpath "${2?}"); shift ;;
	--vhost-user-vsock) vuv=$(realpath "${2?}"); shift ;;
	--help | -h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done
if [ ! -x "$ctl" ] || [ ! -x "$vuv" ]; then usage >&2; exit 2; fi

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
nok() { fail=$((fail + 1)); echo "FAIL $*"; }
expect() { local n=$1; shift; if "$@" >"$t/out" 2>&1; then ok "$n"; else nok "$n"; sed 's/^/     /' "$t/out"; fi; }
refuse() { local n=$1; shift; if "$@" >"$t/out" 2>&1; then nok "$n (succeeded)"; else ok "$n"; fi; }

# Stand-in kernel builder output: <image>-<version>-<flavour>-<hash> plus its links.
kdir() { # DIR ARCH [pvm]
	local d=$1 z=bzImage
	[ "$2" = riscv64 ] && z=Image
	mkdir -p "$d"
	echo "vmlinux kata" >"$d/vmlinux-6.12.9-kata-0123456789abcdef"
	echo "$z kata" >"$d/$z-6.12.9-kata-0123456789abcdef"
	ln -s vmlinux-6.12.9-kata-0123456789abcdef "$d/vmlinux"
	ln -s "$z-6.12.9-kata-0123456789abcdef" "$d/$z"
	if [ "${3:-}" = pvm ]; then
		echo "vmlinux pvm" >"$d/vmlinux-6.12.9-pvm-fedcba9876543210"
		ln -s vmlinux-6.12.9-pvm-fedcba9876543210 "$d/vmlinux.pvm"
	fi
}
echo initrd >"$t/initrd.img"
echo image >"$t/image.img"
mkdir -p "$t/docs" && echo "# guide" >"$t/docs/GUIDE.md"
params="cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1 agent.log=info"
run_install() { # ARCH KDIR DESTDIR
	(cd "$t" && "$top/scripts/install.sh" --arch "$1" --kernel-dir "$2" --initrd initrd.img \
		--image image.img --ctl "$ctl" --vhost-user-vsock "$vuv" --destdir "$3" --prefix /usr \
		--kernel-params "$params" --version 9.9.9 --doc "$top/LICENSE" --doc docs/GUIDE.md)
}

# resolves LINK TARGET-NAME: LINK is a relative symlink to TARGET-NAME that exists.
resolves() { [ -L "$1" ] && [ "$(readlink "$1")" = "$2" ] && [ -f "$(dirname "$1")/$2" ]; }

# toml FILE: KEY=VALUE lines of the [hypervisor.*] table (tomllib parses the whole file).
toml() {
	python3 -c '
import sys, tomllib
d = tomllib.load(open(sys.argv[1], "rb"))
(name, t), = d["hypervisor"].items()
print("table=" + name)
for k in sorted(t): print(k + "=" + str(t[k]))' "$1"
}
# dropin FILE TABLE KERNEL IMAGE INITRD [FIRMWARE]: parsed values and every path in DESTDIR.
dropin() {
	local f=$1 want got k v
	want="table=$2"$'\n'
	[ -z "${6:-}" ] || want+="firmware=$6"$'\n'
	want+="image=${4:+/usr/share/kata-containers/$4}"$'\n'"initrd=${5:+/usr/share/kata-containers/$5}"$'\n'
	want+="kernel=/usr/share/kata-containers/$3"$'\n'"kernel_params=$params"
	got=$(toml "$f") || return 1
	[ "$got" = "$want" ] || { diff <(echo "$want") <(echo "$got"); return 1; }
	while IFS='=' read -r k v; do
		case "$k" in kernel | image | initrd) [ -z "$v" ] || [ -e "$D$v" ] || { echo "$k: $D$v missing"; return 1; } ;; esac
	done <<<"$got"
}

# --- x86_64 with a pvm kernel -----------------------------------------------------------
kdir "$t/k-x86" x86_64 pvm
D=$t/root-x86
expect "install x86_64 (kata + pvm kernels)" run_install x86_64 "$t/k-x86" "$D"
S=$D/usr/share/kata-containers
expect "vmlinux-<version>-kata.container is the builder's vmlinux" \
	cmp "$S/vmlinux-6.12.9-kata.container" "$t/k-x86/vmlinux-6.12.9-kata-0123456789abcdef"
expect "vmlinuz-<version>-kata.container is the bzImage" \
	cmp "$S/vmlinuz-6.12.9-kata.container" "$t/k-x86/bzImage-6.12.9-kata-0123456789abcdef"
expect "vmlinux-<version>-pvm.container is the pvm vmlinux" \
	cmp "$S/vmlinux-6.12.9-pvm.container" "$t/k-x86/vmlinux-6.12.9-pvm-fedcba9876543210"
expect "vmlinux.container -> vmlinux-6.12.9-kata.container" resolves "$S/vmlinux.container" vmlinux-6.12.9-kata.container
expect "vmlinuz.container -> vmlinuz-6.12.9-kata.container" resolves "$S/vmlinuz.container" vmlinuz-6.12.9-kata.container
expect "vmlinux-pvm.container -> vmlinux-6.12.9-pvm.container" resolves "$S/vmlinux-pvm.container" vmlinux-6.12.9-pvm.container
expect "kata-containers-initrd.img" cmp "$S/kata-containers-initrd.img" "$t/initrd.img"
expect "kata-containers.img" cmp "$S/kata-containers.img" "$t/image.img"
expect "bin/kata-agent-ctl runs" "$D/usr/bin/kata-agent-ctl" list
expect "bin/vhost-user-vsock is the backend" cmp "$D/usr/bin/vhost-user-vsock" "$vuv"
expect "docs: LICENSE and docs/GUIDE.md" cmp "$D/usr/share/doc/kata-agent-c/docs/GUIDE.md" "$t/docs/GUIDE.md"
expect "docs: LICENSE" cmp "$D/usr/share/doc/kata-agent-c/LICENSE" "$top/LICENSE"
DI=$D/usr/share/defaults/kata-containers/kata-agent-c
expect "qemu.toml: bzImage + image" dropin "$DI/qemu.toml" qemu vmlinuz.container kata-containers.img ""
expect "qemu-initrd.toml: bzImage + initrd" dropin "$DI/qemu-initrd.toml" qemu vmlinuz.container "" kata-containers-initrd.img
expect "clh.toml: vmlinux + image (pmem)" dropin "$DI/clh.toml" clh vmlinux.container kata-containers.img ""
expect "qemu-pvm.toml: qboot + pvm vmlinux" dropin "$DI/qemu-pvm.toml" qemu vmlinux-pvm.container kata-containers.img "" /usr/share/qemu/qboot.rom
expect "clh-pvm.toml: pvm vmlinux + image" dropin "$DI/clh-pvm.toml" clh vmlinux-pvm.container kata-containers.img ""
expect "no path under DESTDIR leaks into a drop-in" bash -c "! grep -rF '$D' '$DI'"
cat >"$t/want.list" <<'LIST'
usr
usr/bin
usr/bin/kata-agent-ctl
usr/bin/vhost-user-vsock
usr/share
usr/share/defaults
usr/share/defaults/kata-containers
usr/share/defaults/kata-containers/kata-agent-c
usr/share/defaults/kata-containers/kata-agent-c/clh-pvm.toml
usr/share/defaults/kata-containers/kata-agent-c/clh.toml
usr/share/defaults/kata-containers/kata-agent-c/qemu-initrd.toml
usr/share/defaults/kata-containers/kata-agent-c/qemu-pvm.toml
usr/share/defaults/kata-containers/kata-agent-c/qemu.toml
usr/share/doc
usr/share/doc/kata-agent-c
usr/share/doc/kata-agent-c/LICENSE
usr/share/doc/kata-agent-c/docs
usr/share/doc/kata-agent-c/docs/GUIDE.md
usr/share/kata-containers
usr/share/kata-containers/kata-containers-initrd.img
usr/share/kata-containers/kata-containers.img
usr/share/kata-containers/vmlinux-6.12.9-kata.container
usr/share/kata-containers/vmlinux-6.12.9-pvm.container
usr/share/kata-containers/vmlinux-pvm.container
usr/share/kata-containers/vmlinux.container
usr/share/kata-containers/vmlinuz-6.12.9-kata.container
usr/share/kata-containers/vmlinuz.container
LIST
(cd "$D" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort) >"$t/got.list"
expect "the tree holds exactly the expected entries" diff "$t/want.list" "$t/got.list"

# --- x86_64 without a pvm kernel, and riscv64 ---------------------------------------------
kdir "$t/k-x86b" x86_64
expect "install x86_64 without a pvm kernel" run_install x86_64 "$t/k-x86b" "$t/root-b"
expect "no pvm drop-ins or link without a pvm kernel" bash -c \
	"[ ! -e '$t/root-b/usr/share/defaults/kata-containers/kata-agent-c/qemu-pvm.toml' ] && [ ! -L '$t/root-b/usr/share/kata-containers/vmlinux-pvm.container' ]"
kdir "$t/k-rv" riscv64
D=$t/root-rv
expect "install riscv64" run_install riscv64 "$t/k-rv" "$D"
expect "riscv64: vmlinuz is the Image" cmp "$D/usr/share/kata-containers/vmlinuz-6.12.9-kata.container" "$t/k-rv/Image-6.12.9-kata-0123456789abcdef"
expect "riscv64: qemu.toml" dropin "$D/usr/share/defaults/kata-containers/kata-agent-c/qemu.toml" qemu vmlinuz.container kata-containers.img ""
expect "riscv64: no Cloud Hypervisor drop-in" test ! -e "$D/usr/share/defaults/kata-containers/kata-agent-c/clh.toml"

# --- refusals ------------------------------------------------------------------------------
mkdir -p "$t/k-none"
refuse "refuses a kernel dir without the builder's links" run_install x86_64 "$t/k-none" "$t/r1"
mkdir -p "$t/k-bad" && echo x >"$t/k-bad/vmlinux-foo" && ln -s vmlinux-foo "$t/k-bad/vmlinux"
refuse "refuses a kernel not named <image>-<version>-<flavour>-<hash>" run_install x86_64 "$t/k-bad" "$t/r2"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
