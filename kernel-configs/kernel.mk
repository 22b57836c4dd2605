# kernel-configs: guest kernels from our config fragments (kernel-configs/build-kernel).
#
#   make kernel ARCH=x86_64|riscv64 [FLAVOUR=kata|pvm] [KERNEL_VERSION=6.12|6.1] [KERNEL_SRC=DIR]
#               [KERNEL_JOBS=N]
#     -> build/ARCH/kernel/{vmlinux,bzImage|Image,config}-<version>-<flavour>-<fragment hash>
#        (+ symlinks vmlinux, bzImage/Image, config; vmlinux.pvm, config.pvm for pvm)
#   make check-kernel-config   merge + verify on the 6.12 and 6.1 trees, patch series, and the
#                              pvm flavour against PVM's published config (no build)
#   make check-kernel-boot     build (cached) and boot x86_64 bzImage, x86_64 qboot+vmlinux
#                              (PVH) and riscv64 virt+OpenSBI (PLIC; AIA: APLIC direct, then
#                              IMSIC + APLIC MSI with a virtio console) under QEMU TCG
#
# Linux 6.12 (Debian's linux-source-6.12) is the default; KERNEL_VERSION=6.1 selects 6.1.
# Builds are cached in $(KATA_AGENT_C_CACHE)/kernel/ keyed by (source version, arch, flavour,
# compiler version, hash of fragments + patch series + toolchain): build-kernel skips configure
# and make when that key is already built, so a fresh clone (CI) only rebuilds when the
# source, a fragment, a patch or the toolchain changed.

FLAVOUR     ?= kata
KERNEL_SRC  ?=
KERNEL_VERSION ?=
# riscv64 builds 6.12 like x86_64 (KERNEL_VERSION_RISCV64=6.1 keeps it on 6.1 alone).
KERNEL_VERSION_RISCV64 ?= 6.12
RISCV64_VERSION_ARG = $(if $(KERNEL_VERSION),,--kernel-version $(KERNEL_VERSION_RISCV64))
KERNEL_JOBS ?= $(shell nproc)
KCONF       := kernel-configs
# The kernel's own make must not see our command-line variables (ARCH, V, ...).
BUILD_KERNEL = env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL $(KCONF)/build-kernel \
	--jobs $(KERNEL_JOBS) $(if $(KERNEL_SRC),--src $(KERNEL_SRC)) \
	$(if $(KERNEL_VERSION),--kernel-version $(KERNEL_VERSION))
KTEST       := $(KCONF)/tests
KTEST_INIT_CFLAGS := $(COMMON_CFLAGS) -O2 -static

.PHONY: kernel kernel-x86_64 kernel-riscv64 check-kernel-config check-kernel-boot

kernel:
	$(BUILD_KERNEL) $(if $(filter riscv64,$(ARCH)),$(RISCV64_VERSION_ARG)) --arch $(ARCH) --flavour $(FLAVOUR) all

kernel-x86_64:
	$(BUILD_KERNEL) --arch x86_64 --flavour kata all

kernel-riscv64:
	$(BUILD_KERNEL) $(RISCV64_VERSION_ARG) --arch riscv64 --flavour kata all

check-kernel-config:
	$(KTEST)/verify-test.sh
	$(KTEST)/pvm-reference-test.sh

# Test /init (static) for each arch, and the kernel tree's cpio writer for the host.
build/x86_64/kernel-test/boot-init: $(KTEST)/boot-init.c
	@mkdir -p $(@D)
	musl-gcc $(KTEST_INIT_CFLAGS) -o $@ $<

build/riscv64/kernel-test/boot-init: $(KTEST)/boot-init.c
	@mkdir -p $(@D)
	riscv64-linux-gnu-gcc $(KTEST_INIT_CFLAGS) -o $@ $<

$(HOSTBUILD)/kernel-test/gen_init_cpio:
	@mkdir -p $(@D)
	$(HOST_CC) -O2 -o $@ "$$($(BUILD_KERNEL) source)/usr/gen_init_cpio.c"

KBOOT = $(KTEST)/boot-test.sh --gen-init-cpio $(HOSTBUILD)/kernel-test/gen_init_cpio

check-kernel-boot: kernel-x86_64 kernel-riscv64 build/x86_64/kernel-test/boot-init \
		build/riscv64/kernel-test/boot-init $(HOSTBUILD)/kernel-test/gen_init_cpio
	$(KBOOT) --arch x86_64 --boot bzimage --kernel build/x86_64/kernel/bzImage \
		--config build/x86_64/kernel/config --init build/x86_64/kernel-test/boot-init
	$(KBOOT) --arch x86_64 --boot pvh --kernel build/x86_64/kernel/vmlinux \
		--config build/x86_64/kernel/config --init build/x86_64/kernel-test/boot-init
	$(KBOOT) --arch riscv64 --boot virt --kernel build/riscv64/kernel/Image \
		--config build/riscv64/kernel/config --init build/riscv64/kernel-test/boot-init
	@# AIA (APLIC direct; IMSIC + APLIC MSI) needs the 6.10+ drivers: a 6.1 kernel is booted on
	@# the PLIC only.
	if grep -qx CONFIG_RISCV_IMSIC=y build/riscv64/kernel/config; then \
		$(KBOOT) --arch riscv64 --boot virt-aia --kernel build/riscv64/kernel/Image \
			--config build/riscv64/kernel/config --init build/riscv64/kernel-test/boot-init && \
		$(KBOOT) --arch riscv64 --boot virt-imsic --kernel build/riscv64/kernel/Image \
			--config build/riscv64/kernel/config --init build/riscv64/kernel-test/boot-init; \
	else echo "check-kernel-boot: riscv64 virt-aia and virt-imsic skipped: the kernel has no AIA drivers (Linux < 6.10)"; fi

CHECK_TARGETS += check-kernel-config check-kernel-boot
CHECK_GUEST_TARGETS += check-kernel-boot
