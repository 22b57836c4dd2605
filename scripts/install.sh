#!/usr/bin/env bash
# Install the guest artifacts and host tools in the layout the Kata Containers runtime expects,
# under DESTDIR/PREFIX (make install):
#   share/kata-containers/vmlinux-<version>-<flavour>.container   uncompressed kernel (every flavour)
#   share/kata-containers/vmlinuz-<version>-<flavour>.container   bzImage (x86_64) / Image (riscv64)
#   share/kata-containers/vmlinux.container, vmlinuz.container     links to the kata flavour
#   share/kata-containers/vmlinux-pvm.container                    link to the pvm flavour, if built
#   share/kata-containers/kata-containers-initrd.img, kata-containers.img
#   share/defaults/kata-containers/kata-agent-c/*.toml              runtime drop-ins (see below)
#   bin/kata-agent-ctl, bin/vhost-user-vsock
#   share/doc/kata-agent-c/                                        README.md, LICENSE, docs/
# <version> and <flavour> come from the kernel builder's installed names
# (kernel-configs/build-kernel: <image>-<version>-<flavour>-<fragment hash>, linked as <image>
# for the kata flavour and <image>.pvm for pvm).
#
# Drop-ins: Kata reads the files of the config.d/ directory next to its configuration file
# after that file, so one of ours, linked there, points the runtime at these artifacts.  Each is
# for one hypervisor table: qemu.toml (image), qemu-initrd.toml, clh.toml (image as pmem) and,
# when a pvm kernel was built, qemu-pvm.toml (qboot + vmlinux, PVH) and clh-pvm.toml.
set -euo pipefail

usage() {
	cat <<'USAGE'
Usage: scripts/install.sh --arch ARCH --kernel-dir DIR --initrd FILE --image FILE --ctl FILE
                          --vhost-user-vsock FILE [--destdir DIR] [--prefix DIR]
                          [--kernel-params STR] [--qboot PATH] [--doc FILE]... [--version V]
  --kernel-dir DIR     the kernel builder's output (build/ARCH/kernel)
  --destdir DIR        staging root (default: none, i.e. /)
  --prefix DIR         installation prefix (default: /usr)
  --kernel-params STR  kernel_params of every drop-in
  --qboot PATH         qboot firmware on the host for qemu-pvm.toml (default /usr/share/qemu/qboot.rom)
  --doc FILE           documentation file (repeatable; a docs/ path keeps its docs/ prefix)
USAGE
}

die() { echo "install: $*" >&2; exit 1; }

arch="" kdir="" initrd="" image="" ctl="" vuv="" destdir="" prefix=/usr params="" version=""
qboot=/usr/share/qemu/qboot.rom
docs=()
while [ $# -gt 0 ]; do
	case "$1" in
	--arch) arch=${2?}; shift ;;
	--kernel-dir) kdir=${2?}; shift ;;
	--initrd) initrd=${2?}; shift ;;
	--image) image=${2?}; shift ;;
	--ctl) ctl=${2?}; shift ;;
	--vhost-user-vsock) vuv=${2?}; shift ;;
	--destdir) destdir=${2?}; shift ;;
	--prefix) prefix=${2?}; shift ;;
	--kernel-params) params=${2?}; shift ;;
	--qboot) qboot=${2?}; shift ;;
	--doc) docs+=("${2?}"); shift ;;
	--version) version=${2?}; shift ;;
	--help | -h) usage; exit 0 ;;
	*) usage >&2; die "unknown argument: $1" ;;
	esac
	shift
done
case "$arch" in
x86_64) zimage=bzImage ;;
riscv64) zimage=Image ;;
*) die "--arch must be x86_64 or riscv64" ;;
esac
[[ $prefix == /* ]] || die "--prefix must be absolute"
for f in "$initrd" "$image" "$ctl" "$vuv"; do [ -f "$f" ] || die "missing input: '$f'"; done
[ -d "$kdir" ] || die "--kernel-dir: '$kdir' is not a directory"
[[ $params != *'"'* && $params != *\\* ]] || die "--kernel-params must not hold quotes or backslashes"

share=$prefix/share/kata-containers          # as the runtime will see it
dest=$destdir$share
install -d "$dest" "$destdir$prefix/bin" "$destdir$prefix/share/defaults/kata-containers/kata-agent-c" \
	"$destdir$prefix/share/doc/kata-agent-c"

# kernel LINK FLAVOUR NAME: installs the builder's LINK target as NAME-<version>-<flavour>.container;
# prints the installed file name.
kernel() {
	local link=$kdir/$1 flavour=$2 name=$3 target ver
	[ -L "$link" ] || die "$link: not a link made by kernel-configs/build-kernel"
	target=$(readlink "$link")
	[[ $target =~ ^[A-Za-z]+-([0-9]+\.[0-9]+[^/]*)-$flavour-[0-9a-f]+$ ]] ||
		die "$link -> $target: not <image>-<version>-$flavour-<hash>"
	ver=${BASH_REMATCH[1]}
	[ -f "$kdir/$target" ] || die "$kdir/$target missing"
	install -m 0644 "$kdir/$target" "$dest/$name-$ver-$flavour.container"
	echo "$name-$ver-$flavour.container"
}
vmlinux=$(kernel vmlinux kata vmlinux)
vmlinuz=$(kernel "$zimage" kata vmlinuz)
ln -sfn "$vmlinux" "$dest/vmlinux.container"
ln -sfn "$vmlinuz" "$dest/vmlinuz.container"
pvm=""
if [ -L "$kdir/vmlinux.pvm" ]; then
	pvm=$(kernel vmlinux.pvm pvm vmlinux)
	ln -sfn "$pvm" "$dest/vmlinux-pvm.container"
fi
install -m 0644 "$initrd" "$dest/kata-containers-initrd.img"
install -m 0644 "$image" "$dest/kata-containers.img"
install -m 0755 "$ctl" "$destdir$prefix/bin/kata-agent-ctl"
install -m 0755 "$vuv" "$destdir$prefix/bin/vhost-user-vsock"
for d in ${docs[@]+"${docs[@]}"}; do
	case "$d" in
	docs/*) install -D -m 0644 "$d" "$destdir$prefix/share/doc/kata-agent-c/$d" ;;
	*) install -m 0644 "$d" "$destdir$prefix/share/doc/kata-agent-c/${d##*/}" ;;
	esac
done

# --- drop-ins ---------------------------------------------------------------------------
dropins=$destdir$prefix/share/defaults/kata-containers/kata-agent-c
header() { # WHAT
	cat <<-EOF
		# kata-agent-c${version:+ $version}: $1
		# Generated by make install.  Link this file into the config.d/ directory next to the
		# Kata configuration file of the same hypervisor, e.g.
		#   ln -s $prefix/share/defaults/kata-containers/kata-agent-c/NAME.toml \\
		#         /etc/kata-containers/config.d/50-kata-agent-c.toml
		# (only one of our drop-ins at a time: each sets one hypervisor table).
	EOF
}
# table KERNEL IMAGE INITRD [FIRMWARE]: the common keys.  Kata refuses both an image and an
# initrd, so the one not used is set to "" (which overrides the base file's value).
table() {
	echo "kernel = \"$share/$1\""
	echo "image = \"${2:+$share/$2}\""
	echo "initrd = \"${3:+$share/$3}\""
	[ -z "${4:-}" ] || echo "firmware = \"$4\""
	echo "kernel_params = \"$params\""
}
{
	header "QEMU, our kernel and disk image (root on NVDIMM/virtio-blk, chosen by the runtime)"
	echo "[hypervisor.qemu]"
	table vmlinuz.container kata-containers.img ""
} >"$dropins/qemu.toml"
{
	header "QEMU, our kernel and initrd (the agent is /init)"
	echo "[hypervisor.qemu]"
	table vmlinuz.container "" kata-containers-initrd.img
} >"$dropins/qemu-initrd.toml"
if [ "$arch" = x86_64 ]; then
	{
		header "Cloud Hypervisor, our vmlinux and disk image (pmem with DAX, or virtio-blk: the image serves both)"
		echo "[hypervisor.clh]"
		table vmlinux.container kata-containers.img ""
	} >"$dropins/clh.toml"
	if [ -n "$pvm" ]; then
		{
			header "QEMU on a PVM host: qboot firmware and the pvm vmlinux (PVH entry)"
			echo "[hypervisor.qemu]"
			table vmlinux-pvm.container kata-containers.img "" "$qboot"
		} >"$dropins/qemu-pvm.toml"
		{
			header "Cloud Hypervisor (>= 35) on a PVM host: the pvm vmlinux and the image as pmem"
			echo "[hypervisor.clh]"
			table vmlinux-pvm.container kata-containers.img ""
		} >"$dropins/clh-pvm.toml"
	fi
fi
echo "install: $destdir$prefix: kernels $vmlinux $vmlinuz${pvm:+ $pvm}, initrd, image, 2 tools, ${#docs[@]} docs, drop-ins: $(cd "$dropins" && echo *.toml)"
