# tests/vm: end-to-end VM tests.  QEMU (TCG only) boots our kernel + our initrd (agent as /init)
# behind our vhost-user-vsock back-end; kata-agent-ctl drives the Kata call sequence over hybrid
# vsock (tests/vm/kata-sequence.sh).
#
#   make check-vm            all variants below
#   make check-vm-x86_64     x86_64 -kernel bzImage: 9p busybox rootfs, then virtio-blk rootfs
#   make check-vm-pvh        x86_64 -bios qboot.rom -kernel vmlinux (PVH, the PVM boot path), 9p
#   make check-vm-riscv64    riscv64 virt + OpenSBI: 9p, then virtio-blk (busybox built from
#                            Debian's source)
#   make check-vm-image      x86_64: our DAX image as the guest root, as Kata boots
#                            kata-containers.img: NVDIMM (root=/dev/pmem0p1 rootflags=dax), the
#                            whole sequence with 9p container rootfs; then virtio-pmem-pci (the
#                            Cloud Hypervisor/PVM path), boot, Check/Version; both check DAX is in
#                            effect on / (riscv64: QEMU 7.2's virt has neither device)
#   make demo [BOOT=pvh]     boot a guest and run `date` in a busybox container, checked
#   make demo ARCH=riscv64   (tests/vm/demo.sh); BOOT=bzimage (x86_64 default), pvh (qboot +
#                            vmlinux, PVM's boot path) or virt (riscv64)
#   make check-vm-x86_64-cgroup2  x86_64 bzImage, 9p, with the runtimes' cgroup v2 kernel parameters,
#                            then its vsock trace replayed on a fresh guest (--replay)
#   VM_STRICT=no             steps the agent answers UNIMPLEMENTED are PENDING instead of failing
#                            (default yes: make check is strict)
#
# Everything a variant needs is built by these rules (kernels through kernel-configs, cached);
# guest artifacts of the VM tests live in build/ARCH/vm/ so concurrent `make initrd`/`make image`
# runs with other agents or stand-ins do not race with them.

VM_TDIR   := tests/vm
VM_SEQ    := $(VM_TDIR)/kata-sequence.sh
VM_STRICT ?= yes
VM_SEQ_ARGS = --backend $(VUV_BIN) --ctl $(CTL_BIN) --readers $(READERS_BIN) \
	--passfd-client $(PASSFD_CLIENT_BIN) $(if $(filter yes,$(VM_STRICT)),--strict)
VM_EPOCH   = $(GUEST_EPOCH)

check-vm-x86_64 check-vm-x86_64-cgroup2 check-vm-pvh check-vm-riscv64 check-vm-image: $(READERS_BIN) \
	$(PASSFD_CLIENT_BIN)

.PHONY: check-vm check-vm-x86_64 check-vm-x86_64-cgroup2 check-vm-pvh check-vm-riscv64 check-vm-image vm-image-dax-x86_64 demo \
	vm-guest-x86_64 vm-guest-riscv64 vm-image-x86_64 vm-image-riscv64

# The agent for either architecture, whatever ARCH this make runs with.
build/x86_64/vm/.agent build/riscv64/vm/.agent: FORCE_VM
	$(Q)$(MAKE) --no-print-directory ARCH=$(word 2,$(subst /, ,$@)) agent
	$(Q)mkdir -p $(@D) && touch $@
.PHONY: FORCE_VM
FORCE_VM:

build/riscv64/vm/busybox: $(VM_TDIR)/build-busybox.sh | $(SETUP_STAMP)
	$(Q)$(VM_TDIR)/build-busybox.sh --arch riscv64 --output $@ --jobs 2

# initrd (agent + busybox, so the debug console has a shell) and the 9p share holding the
# container's busybox rootfs.  Both cheap: rebuilt every run from the current agent.
vm_busybox = $(if $(filter x86_64,$(1)),/bin/busybox,build/riscv64/vm/busybox)
# vsock-probe: in the container rootfs, it tries the agent's ports from inside the guest.
VM_PROBE_CFLAGS := $(COMMON_CFLAGS) -O2 -static
build/x86_64/vm/vsock-probe: $(VM_TDIR)/vsock-probe.c | $(SETUP_STAMP)
	@mkdir -p $(@D)
	musl-gcc $(VM_PROBE_CFLAGS) -o $@ $<
build/riscv64/vm/vsock-probe: $(VM_TDIR)/vsock-probe.c | $(SETUP_STAMP)
	@mkdir -p $(@D)
	riscv64-linux-gnu-gcc $(VM_PROBE_CFLAGS) -o $@ $<

# Everything of the initrd but its /init (the VM bench's floor initrd swaps only that).
vm_initrd_args = --arch $(1) --busybox $(call vm_busybox,$(1)) \
	$(if $(filter riscv64,$(1)),--busybox-applets build/riscv64/vm/busybox.applets) --mkcpio $(MKCPIO)
define vm_guest_rules
vm-guest-$(1): build/$(1)/vm/.agent $(MKCPIO) build/$(1)/vm/vsock-probe $(if $(filter riscv64,$(1)),build/riscv64/vm/busybox)
	$(Q)SOURCE_DATE_EPOCH=$$(VM_EPOCH) initrd/build-initrd.sh $(call vm_initrd_args,$(1)) \
		--agent build/$(1)/kata-agent --output build/$(1)/vm/initrd.img
	$(Q)$(VM_TDIR)/busybox-rootfs.sh --busybox $(call vm_busybox,$(1)) --output build/$(1)/vm/share \
		--extra-bin build/$(1)/vm/vsock-probe
endef
$(eval $(call vm_guest_rules,x86_64))
$(eval $(call vm_guest_rules,riscv64))

# Our image builder's guest image (ext4 in partition 1, busybox inside): the blk rootfs disk.
define vm_image_rules
vm-image-$(1): vm-guest-$(1)
	$(Q)SOURCE_DATE_EPOCH=$$(VM_EPOCH) rootfs-builder/build-rootfs.sh --arch $(1) \
		--agent build/$(1)/kata-agent --busybox $(call vm_busybox,$(1)) \
		--extra build/$(1)/vm/vsock-probe:/bin/vsock-probe \
		$(if $(filter riscv64,$(1)),--busybox-applets build/riscv64/vm/busybox.applets) \
		--output build/$(1)/vm/image-rootfs
	$(Q)SOURCE_DATE_EPOCH=$$(VM_EPOCH) rootfs-builder/build-image.sh --arch $(1) --no-dax \
		--rootfs build/$(1)/vm/image-rootfs --output build/$(1)/vm/rootfs.img >/dev/null
endef
$(eval $(call vm_image_rules,x86_64))
$(eval $(call vm_image_rules,riscv64))

VM_X86 = --arch x86_64 --initrd build/x86_64/vm/initrd.img $(VM_SEQ_ARGS)

# Both rootfs modes run even when the first fails; the target fails if either did.
check-vm-x86_64: kernel-x86_64 vm-guest-x86_64 vm-image-x86_64 $(VUV_BIN) $(CTL_BIN)
	$(Q)rc=0; \
	$(VM_SEQ) $(VM_X86) --boot bzimage --kernel build/x86_64/kernel/bzImage \
		--mode 9p --rootfs build/x86_64/vm/share --workdir build/x86_64/vm/run-bzimage-9p || rc=1; \
	$(VM_SEQ) $(VM_X86) --boot bzimage --kernel build/x86_64/kernel/bzImage \
		--mode blk --disk build/x86_64/vm/rootfs.img --workdir build/x86_64/vm/run-bzimage-blk || rc=1; \
	exit $$rc

# The Kata runtimes' default on x86_64: cgroup v2 only (the build hosts here have v1).  This
# variant also replays its own vsock trace on a second, fresh guest (kata-agent-ctl replay).
check-vm-x86_64-cgroup2: kernel-x86_64 vm-guest-x86_64 $(VUV_BIN) $(CTL_BIN)
	$(Q)$(VM_SEQ) $(VM_X86) --boot bzimage --kernel build/x86_64/kernel/bzImage --cgroup 2 --replay \
		--mode 9p --rootfs build/x86_64/vm/share --workdir build/x86_64/vm/run-bzimage-9p-cgroup2

check-vm-pvh: kernel-x86_64 vm-guest-x86_64 $(VUV_BIN) $(CTL_BIN)
	$(Q)$(VM_SEQ) $(VM_X86) --boot pvh --kernel build/x86_64/kernel/vmlinux \
		--mode 9p --rootfs build/x86_64/vm/share --workdir build/x86_64/vm/run-pvh-9p

VM_RV = --arch riscv64 --initrd build/riscv64/vm/initrd.img $(VM_SEQ_ARGS) \
	--boot virt --kernel build/riscv64/kernel/Image --boot-timeout 600

check-vm-riscv64: kernel-riscv64 vm-guest-riscv64 vm-image-riscv64 $(VUV_BIN) $(CTL_BIN)
	$(Q)rc=0; \
	$(VM_SEQ) $(VM_RV) --mode 9p --rootfs build/riscv64/vm/share \
		--workdir build/riscv64/vm/run-virt-9p || rc=1; \
	$(VM_SEQ) $(VM_RV) --mode blk --disk build/riscv64/vm/rootfs.img \
		--workdir build/riscv64/vm/run-virt-blk || rc=1; \
	exit $$rc

# The same rootfs as the blk image, with the NVDIMM DAX layout (PFN block, second MBR).
vm-image-dax-x86_64: vm-image-x86_64 $(NSDAX)
	$(Q)SOURCE_DATE_EPOCH=$(VM_EPOCH) rootfs-builder/build-image.sh --arch x86_64 --dax --nsdax $(NSDAX) \
		--rootfs build/x86_64/vm/image-rootfs --output build/x86_64/vm/rootfs-dax.img >/dev/null

# The container part runs once (NVDIMM, Kata's QEMU default); virtio-pmem only boots, to keep
# the added time small (its whole sequence passes as well: drop --boot-only to run it).
check-vm-image: kernel-x86_64 vm-guest-x86_64 vm-image-dax-x86_64 $(VUV_BIN) $(CTL_BIN)
	$(Q)rc=0; \
	$(VM_SEQ) $(VM_X86) --boot bzimage --kernel build/x86_64/kernel/bzImage \
		--image build/x86_64/vm/rootfs-dax.img --image-dev nvdimm \
		--mode 9p --rootfs build/x86_64/vm/share --workdir build/x86_64/vm/run-bzimage-nvdimm || rc=1; \
	$(VM_SEQ) $(VM_X86) --boot bzimage --kernel build/x86_64/kernel/bzImage --boot-only \
		--image build/x86_64/vm/rootfs-dax.img --image-dev virtio-pmem \
		--workdir build/x86_64/vm/run-bzimage-virtio-pmem || rc=1; \
	exit $$rc
VM_CHECKS_EXTRA += check-vm-image

# Issue 9's VM checks (tests/vm/parity.sh): a guest with ipv6.disable=1; a NIC hot-plugged with
# QMP device_add while an UpdateInterface naming its devicePath is parked (address, MTU, routes;
# IPv6 skipped); an overlayfs storage as a container's rootfs; one container cannot open another's
# virtio-blk disk while its own works (device cgroup).  Twice: cgroup v1, then the runtimes' v2
# kernel parameters (device rules as an eBPF program).
check-vm-parity: kernel-x86_64 vm-guest-x86_64 $(VUV_BIN) $(CTL_BIN)
	$(Q)rc=0; for cg in 1 2; do \
		$(VM_TDIR)/parity.sh --kernel build/x86_64/kernel/bzImage --initrd build/x86_64/vm/initrd.img \
			--rootfs build/x86_64/vm/share --backend $(VUV_BIN) --ctl $(CTL_BIN) --cgroup $$cg \
			--workdir build/x86_64/vm/run-parity-cgroup$$cg || rc=1; \
	done; exit $$rc
.PHONY: check-vm-parity
VM_CHECKS_EXTRA += check-vm-parity

# VM_JOBS guests at a time (default 2: a TCG guest with one vCPU keeps one core busy, so two at
# once halve check-vm on two cores).  Two guests at once once exposed reads of the debug console
# that typed their input ahead of the shell's line editing (lost input, a read cut short); every
# such read now waits for the shell's prompt and ends at its own end marker (vm_connect_port,
# vm_guest_sh in tests/vm/lib.sh).  VM_JOBS=1 runs them one at a time.
# Each target's output is printed whole when it ends (--output-sync); every variant runs (-k)
# and check-vm fails if any did.  Each guest works on its own copy of the 9p share
# (tests/vm/lib.sh), so guests running at once do not see each other's writes.
# The slowest (riscv64) starts first.
VM_JOBS ?= 2
VM_CHECKS = check-vm-riscv64 check-vm-x86_64 check-vm-x86_64-cgroup2 check-vm-pvh $(VM_CHECKS_EXTRA)
# The agents are built first, one at a time: two agent sub-makes would share build/gen.
check-vm:
	$(Q)$(MAKE) --no-print-directory build/x86_64/vm/.agent build/riscv64/vm/.agent
	$(Q)$(MAKE) --no-print-directory -k -j$(VM_JOBS) --output-sync=target $(VM_CHECKS) || \
		{ echo "check-vm: failed (the targets make reported above)"; exit 1; }

BOOT ?= $(if $(filter riscv64,$(ARCH)),virt,bzimage)
DEMO_KERNEL_x86_64_bzimage := build/x86_64/kernel/bzImage
DEMO_KERNEL_x86_64_pvh     := build/x86_64/kernel/vmlinux
DEMO_KERNEL_riscv64_virt   := build/riscv64/kernel/Image
DEMO_KERNEL := $(DEMO_KERNEL_$(ARCH)_$(BOOT))

demo: kernel-$(ARCH) vm-guest-$(ARCH) $(VUV_BIN) $(CTL_BIN)
	$(Q)$(if $(DEMO_KERNEL),,echo "demo: BOOT=$(BOOT) is not a boot path for ARCH=$(ARCH) (x86_64: bzimage, pvh; riscv64: virt)" >&2; exit 2;) \
	$(VM_TDIR)/demo.sh --arch $(ARCH) --boot $(BOOT) --kernel $(DEMO_KERNEL) \
		--initrd build/$(ARCH)/vm/initrd.img --rootfs build/$(ARCH)/vm/share \
		--backend $(VUV_BIN) --ctl $(CTL_BIN) --workdir build/$(ARCH)/vm/demo-$(BOOT)

CHECK_TARGETS += check-vm
CHECK_GUEST_TARGETS += check-vm

# The default image (make image: the agent as /sbin/init plus PACKAGES, iptables by default),
# built by the image rule itself into build/x86_64/vm/default/, booted with root on virtio-blk
# and no initrd; tests/vm/iptables.sh calls SetIPTables and GetIPTables through the agent.
VM_DEFAULT_DIR := build/x86_64/vm/default
VM_DEFAULT_IMG := $(VM_DEFAULT_DIR)/kata-containers.img
.PHONY: vm-default-image-x86_64 check-vm-iptables check-rootfs-iptables
vm-default-image-x86_64: build/x86_64/vm/.agent
	$(Q)$(MAKE) --no-print-directory ARCH=x86_64 image IMAGE=$(VM_DEFAULT_IMG) \
		ROOTFS_DIR=$(VM_DEFAULT_DIR)/rootfs ROOTFS_DEBS=$(VM_DEFAULT_DIR)/rootfs.debs \
		ROOTFS_ORIGINS=$(VM_DEFAULT_DIR)/rootfs.origins >/dev/null

check-vm-iptables: kernel-x86_64 vm-default-image-x86_64 $(VUV_BIN) $(CTL_BIN)
	$(Q)$(VM_TDIR)/iptables.sh --kernel build/x86_64/kernel/bzImage --image $(VM_DEFAULT_IMG) \
		--backend $(VUV_BIN) --ctl $(CTL_BIN) --workdir build/x86_64/vm/run-iptables
# The same calls without a VM: the default image's tree, its agent chrooted in new network and
# mount namespaces on the host (seconds; needs no guest kernel).
check-rootfs-iptables: vm-default-image-x86_64 $(CTL_BIN)
	$(Q)$(VM_TDIR)/iptables.sh --host-rootfs $(VM_DEFAULT_DIR)/rootfs --ctl $(CTL_BIN) \
		--workdir build/x86_64/vm/run-rootfs-iptables
# Both run in make check: the host variant first (seconds), then the guest booted from the image.
CHECK_TARGETS += check-rootfs-iptables check-vm-iptables
CHECK_GUEST_TARGETS += check-vm-iptables
include tests/bench/vm/vm-bench.mk

# Faults of the guest's configuration (tests/vm/faults.sh): an agent.server_addr the agent cannot
# listen on (fallback to port 1024, the Kata sequence runs), no usable address at all, and a
# crash of PID 1 (agent.test_crash): both fatal paths power off, no kernel panic.  Three x86_64
# guests; run by check-vm.
check-vm-faults: kernel-x86_64 vm-guest-x86_64 $(VUV_BIN) $(CTL_BIN) $(READERS_BIN) $(PASSFD_CLIENT_BIN)
	$(Q)$(VM_TDIR)/faults.sh --kernel build/x86_64/kernel/bzImage --initrd build/x86_64/vm/initrd.img \
		--rootfs build/x86_64/vm/share --backend $(VUV_BIN) --ctl $(CTL_BIN) \
		--workdir build/x86_64/vm/run-faults -- $(VM_SEQ_ARGS)
.PHONY: check-vm-faults
VM_CHECKS_EXTRA += check-vm-faults

# The vhost-user-vsock back-end SIGKILLed while a container streams stdout (tests/vm/
# backend-restart.sh): the guest survives; QEMU 7.2 does not reconnect vhost-user-vsock-pci to a
# restarted back-end (seen with reconnect=1); re-plugging the device through QMP on a new socket
# recovers: the agent answers, the container streams on, a ReadStdout parked on the dead
# connection does not take later output, the sandbox tears down.  One x86_64 guest, 20-55 s.
check-vm-backend-restart: kernel-x86_64 vm-guest-x86_64 $(VUV_BIN) $(CTL_BIN)
	$(Q)$(VM_TDIR)/backend-restart.sh --kernel build/x86_64/kernel/bzImage \
		--initrd build/x86_64/vm/initrd.img --rootfs build/x86_64/vm/share --backend $(VUV_BIN) \
		--ctl $(CTL_BIN) --workdir build/x86_64/vm/run-backend-restart
.PHONY: check-vm-backend-restart
VM_CHECKS_EXTRA += check-vm-backend-restart
