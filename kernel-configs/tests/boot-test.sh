#!/usr/bin/env bash
# boot-test.sh: boot a guest kernel in QEMU (TCG only) with a one-program initrd and check
# what the agent relies on: /init runs, devtmpfs, 9p over virtio, virtio-blk, vsock (virtio
# transport registered; no loopback transport, so a connection to the local CID is refused),
# and /proc/config.gz equals the installed config.
#
# Boot paths and kernel command lines:
#   x86_64 bzimage  q35, SeaBIOS, -kernel bzImage       console=ttyS0 panic=1
#   x86_64 pvh      q35, -bios qboot.rom -kernel vmlinux  (PVH entry, the way PVM guests boot)
#                                                          console=ttyS0 panic=1
#   riscv64 virt    virt, -bios OpenSBI fw_dynamic, -kernel Image
#                                                          console=ttyS0 earlycon=sbi panic=1
#   riscv64 virt-aia  the same on virt,aia=aplic: the AIA's APLIC in direct mode instead of the
#                   PLIC (6.10+ kernels).
#   riscv64 virt-imsic  virt,aia=aplic-imsic: the IMSIC, and the APLIC in MSI mode in front
#                   of it (6.10+ kernels); the console is a virtio console on PCI, whose
#                   MSI-X messages go straight into the IMSIC
#                          console=hvc0 earlycon=sbi panic=1 initcall_blacklist=goldfish_rtc_init
#                   QEMU 7.2 (Debian 12's) re-pends a level-sensitive wired source on every
#                   write of its number to the MSI-mode APLIC's setipnum_le, whatever the
#                   source's level (fixed upstream by QEMU commit bf31cf06eb, in 9.0); Linux
#                   makes that write when it sets such a source's trigger type (request_irq)
#                   and at each of its EOIs.  So each one requested loops: the UART's
#                   until the kernel disables it as unhandled (100000 times), the goldfish
#                   RTC's for ever (its handler always claims it).  The test keeps both out:
#                   nothing opens ttyS0, and the RTC driver's initcall is not run.  earlycon=sbi
#                   prints the early lines on the UART (polled, through OpenSBI): the kernel
#                   message checks read both logs, the /init checks hvc0's alone.  See
#                   kernel-configs/README.md.
# The pvh path is PVH by construction: QEMU loads an ELF -kernel on x86 only through its PVH
# ELF note ("Error loading uncompressed kernel without PVH ELF Note" otherwise).
# QEMU runs with -no-reboot, so a panic (panic=1) or a failed power-off ends it too.
set -euo pipefail

readonly PROG=${0##*/}
readonly QBOOT=/usr/share/qemu/qboot.rom
readonly OPENSBI=/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin

arch=x86_64
boot=
kernel=
config=
init=
gen_init_cpio=
timeout=300
keep_log=

usage() {
	cat <<EOF
Usage: $PROG --arch x86_64|riscv64 --boot bzimage|pvh|virt|virt-aia|virt-imsic
             --kernel FILE --config FILE
             --init FILE --gen-init-cpio FILE [--timeout SEC] [--log FILE]

  --kernel FILE         bzImage (bzimage), vmlinux (pvh) or Image (virt*)
  --config FILE         the kernel's .config; /proc/config.gz must match it exactly
  --init FILE           static /init (kernel-configs/tests/boot-init.c)
  --gen-init-cpio FILE  the kernel tree's usr/gen_init_cpio, built for the host
  --timeout SEC         wall-clock limit for the whole boot (default $timeout)
  --log FILE            keep the console log here (virt-imsic: the UART's log, then hvc0's)
  -h, --help            this text
EOF
}

die() {
	printf '%s: error: %s\n' "$PROG" "$*" >&2
	exit 1
}

while (($#)); do
	case $1 in
	--arch) arch=${2:?}; shift 2 ;;
	--boot) boot=${2:?}; shift 2 ;;
	--kernel) kernel=${2:?}; shift 2 ;;
	--config) config=${2:?}; shift 2 ;;
	--init) init=${2:?}; shift 2 ;;
	--gen-init-cpio) gen_init_cpio=${2:?}; shift 2 ;;
	--timeout) timeout=${2:?}; shift 2 ;;
	--log) keep_log=${2:?}; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown argument '$1'" ;;
	esac
done
for v in kernel config init gen_init_cpio; do
	[[ -n ${!v} && -f ${!v} ]] || die "--${v//_/-} FILE is required and must exist"
done
case $arch/$boot in
x86_64/bzimage | x86_64/pvh | riscv64/virt | riscv64/virt-aia | riscv64/virt-imsic) ;;
*) die "unsupported --arch/--boot combination '$arch/$boot'" ;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# initrd: /init plus the nodes and mount points it needs; no root, no mknod.
cat >"$tmp/list" <<EOF
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
dir /proc 0755 0 0
dir /sys 0755 0 0
dir /mnt 0755 0 0
file /init $init 0755 0 0
EOF
"$gen_init_cpio" -t 0 "$tmp/list" | gzip -n -9 >"$tmp/initrd.gz"

# Tokens the guest must read back through 9p and virtio-blk.
token9p=9p-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
tokenblk=blk-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
mkdir "$tmp/share"
printf '%s\n' "$token9p" >"$tmp/share/token"
printf '%s\n' "$tokenblk" >"$tmp/disk.img"
truncate -s 1M "$tmp/disk.img"

# shellcheck disable=SC2054 # commas belong to QEMU option values
common=(-m 512 -smp 1 -nodefaults -display none -no-reboot -monitor none
	-serial "file:$tmp/console.log" -initrd "$tmp/initrd.gz"
	-fsdev "local,id=fs0,path=$tmp/share,security_model=none,readonly=on"
	-device virtio-9p-pci,fsdev=fs0,mount_tag=kacshare
	-drive "if=none,id=d0,file=$tmp/disk.img,format=raw,readonly=on"
	-device virtio-blk-pci,drive=d0)
case $boot in
bzimage) cmd=(qemu-system-x86_64 -M q35 -accel tcg -cpu max "${common[@]}" -kernel "$kernel"
	-append "console=ttyS0 panic=1 no_timer_check") ;;
pvh) cmd=(qemu-system-x86_64 -M q35 -accel tcg -cpu max -bios "$QBOOT" "${common[@]}"
	-kernel "$kernel" -append "console=ttyS0 panic=1 no_timer_check") ;;
virt | virt-aia)
	machine=virt
	[[ $boot == virt ]] || machine=virt,aia=aplic
	cmd=(qemu-system-riscv64 -M "$machine" -accel tcg -cpu rv64 -bios "$OPENSBI" "${common[@]}"
		-kernel "$kernel" -append "console=ttyS0 earlycon=sbi panic=1") ;;
virt-imsic)
	# shellcheck disable=SC2054
	cmd=(qemu-system-riscv64 -M virt,aia=aplic-imsic -accel tcg -cpu rv64 -bios "$OPENSBI"
		"${common[@]}" -device virtio-serial-pci -chardev "file,id=hvc0,path=$tmp/hvc0.log"
		-device virtconsole,chardev=hvc0
		-kernel "$kernel"
		-append "console=hvc0 earlycon=sbi panic=1 initcall_blacklist=goldfish_rtc_init") ;;
esac

start=$(date +%s.%N)
rc=0
timeout "$timeout" "${cmd[@]}" >"$tmp/qemu.out" 2>&1 || rc=$?
wall=$(echo "$(date +%s.%N) - $start" | bc)
# log: where /init's lines go; klog: every kernel message (the early ones may be on the UART).
log=$tmp/console.log
klog=$log
if [[ $boot == virt-imsic ]]; then
	touch "$tmp/hvc0.log"
	log=$tmp/hvc0.log
	klog=$tmp/kernel.log
	cat "$tmp/console.log" "$log" >"$klog"
fi
[[ -z $keep_log ]] || cp "$klog" "$keep_log"

passed=0 failed=0
check() { # check NAME COMMAND...
	if "${@:2}"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		printf '%s: FAIL %s (%s %s)\n' "$PROG" "$1" "$arch" "$boot" >&2
	fi
}
has() { tr -d '\r' <"$log" | grep -xF -- "$1" >/dev/null; }
has_re() { tr -d '\r' <"$log" | grep -E -- "$1" >/dev/null; }
dmesg_has() { tr -d '\r' <"$klog" | grep -E -- "$1" >/dev/null; }
dmesg_lacks() { ! dmesg_has "$1"; }

check "qemu exited by itself (rc $rc)" test "$rc" = 0
check "/init ran (KAC-BOOT-MARKER)" has_re '^KAC-BOOT-MARKER uptime=[0-9.]+$'
check "devtmpfs mounted" has 'KAC-CHECK mount-devtmpfs ok '
check "9p registered in /proc/filesystems" has 'KAC-CHECK 9p-fs ok '
check "vsock: no way to the local CID (no loopback transport)" has 'KAC-CHECK vsock-local-refused ok '
check "virtio-vsock transport driver registered" has 'KAC-CHECK virtio-vsock-driver ok '
check "9p share read back" has "KAC-CHECK 9p-share ok $token9p"
check "virtio-blk disk read back" has "KAC-CHECK virtio-blk ok $tokenblk"
check "dmesg: vsock family" dmesg_has 'NET: Registered PF_VSOCK protocol family'
check "dmesg: 9p transport" dmesg_has '9pnet: Installing 9P2000 support'
check "/init finished (KAC-DONE)" has 'KAC-DONE'
# The interrupt controller the machine offers is the one the kernel drives, and the devices'
# interrupts went through it: /init prints /proc/interrupts as "KAC-IRQ <line>" (one CPU:
# "N: count chip hwirq type name").
irq_fired() { # irq_fired CHIP-RE NAME-RE: a line of that chip and action name, count > 0
	tr -d '\r' <"$log" | grep -E -- "^KAC-IRQ +[0-9]+: +[1-9][0-9]* +$1 .* $2\$" >/dev/null
}
irq_none() { ! tr -d '\r' <"$log" | grep -E -- "^KAC-IRQ +[0-9]+: +[0-9]+ +$1 .* $2\$" >/dev/null; }
case $boot in
virt)
	check "dmesg: PLIC driver" dmesg_has 'riscv-plic: .*mapped [0-9]+ interrupts'
	for dev in virtio0 virtio1 ttyS0; do
		check "/proc/interrupts: $dev fired through the PLIC" irq_fired 'SiFive PLIC' "$dev"
	done ;;
virt-aia)
	check "dmesg: APLIC driver, direct mode" dmesg_has 'riscv-aplic .*interrupts directly connected to'
	check "dmesg: no PLIC" dmesg_lacks 'riscv-plic: '
	for dev in virtio0 virtio1 ttyS0; do
		check "/proc/interrupts: $dev fired through the APLIC (direct)" irq_fired 'APLIC-DIRECT' "$dev"
	done ;;
virt-imsic)
	check "dmesg: IMSIC driver" dmesg_has 'riscv-imsic: .*per-CPU IDs [0-9]+ at base address'
	check "dmesg: APLIC driver, MSI mode" dmesg_has 'riscv-aplic .*interrupts forwarded to MSI base'
	check "dmesg: no PLIC" dmesg_lacks 'riscv-plic: '
	check "dmesg: no APLIC in direct mode" dmesg_lacks 'riscv-aplic .*directly connected'
	# virtio-9p, virtio-blk and the virtio console: PCI MSI-X messages into the IMSIC.
	for dev in virtio0 virtio1 virtio2; do
		check "/proc/interrupts: $dev fired as PCI MSI-X (IMSIC)" irq_fired \
			'PCI-MSIX-[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]' "$dev-[a-z.0-9-]+"
	done
	check "/proc/interrupts: no virtio interrupt through the APLIC" irq_none 'APLIC[^ ]*' 'virtio.*'
	check "/proc/interrupts: the UART's interrupt was not requested" irq_none '.*' 'ttyS0' ;;
esac
tr -d '\r' <"$log" | sed -n '/^KAC-CONFIG-BEGIN$/,/^KAC-CONFIG-END$/p' | sed '1d;$d' |
	base64 -d 2>/dev/null | gzip -dc >"$tmp/proc-config" 2>/dev/null || true
check "/proc/config.gz equals the installed config" cmp -s "$tmp/proc-config" "$config"
for sym in CONFIG_VIRTIO_VSOCKETS=y "# CONFIG_VSOCKETS_LOOPBACK is not set" CONFIG_9P_FS=y \
	CONFIG_NET_9P_VIRTIO=y CONFIG_VIRTIO_BLK=y CONFIG_DEVTMPFS=y; do
	check "/proc/config.gz has $sym" grep -qx "$sym" "$tmp/proc-config"
done

uptime=$(tr -d '\r' <"$log" | sed -n 's/^KAC-BOOT-MARKER uptime=//p' | sed -n 1p)
printf '%s: %s %s: /init at %s s guest time, %.1f s wall clock to power-off\n' \
	"$PROG" "$arch" "$boot" "${uptime:-?}" "$wall"
if ((failed)); then
	echo "--- console (last 40 lines) ---" >&2
	sed '/^KAC-CONFIG-BEGIN/,/^KAC-CONFIG-END/d' "$log" | tail -n 40 >&2 || true
	echo "--- qemu ---" >&2
	cat "$tmp/qemu.out" >&2
fi
echo "$passed passed, $failed failed"
((failed == 0))
