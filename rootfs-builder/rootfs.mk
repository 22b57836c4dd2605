# rootfs-builder/: the guest root directory and a raw disk image, without root or loop devices.
#   make rootfs [ARCH=..] [AGENT=path] [BUSYBOX=path|none] [KERNEL_MODULES=dir] [PACKAGES="a b"]
#   make image  [IMAGE_DAX=yes|no] [IMAGE_FREE_MIB=n]
# Outputs: $(BUILD)/rootfs/, $(BUILD)/kata-containers.img and .img.cmdline (the root= lines),
# $(BUILD)/rootfs.debs (the Debian packages unpacked: name version arch sha256 .deb) and
# $(BUILD)/rootfs.origins (every file those packages added: path package version).
# PACKAGES: Debian packages unpacked into the tree with their Pre-Depends/Depends closure
# (rootfs-builder/debs.sh; rootfs-builder/debs-exclude.list says what is never included).  The
# default carries iptables on x86_64, for GetIPTables/SetIPTables.  Debian 12 has no riscv64
# port, so riscv64 defaults to none and refuses a non-empty list.
# AGENT, BUSYBOX, KERNEL_MODULES, GUEST_EPOCH and GUEST_ARGS come from initrd/initrd.mk.

NSDAX      := $(HOSTBUILD)/nsdax
ROOTFS_DIR := $(BUILD)/rootfs
IMAGE      := $(BUILD)/kata-containers.img
IMAGE_DAX      ?= yes
IMAGE_FREE_MIB ?= 0
ifeq ($(ARCH),x86_64)
PACKAGES ?= iptables
else
PACKAGES ?=
ifneq ($(strip $(PACKAGES)),)
$(error PACKAGES: Debian 12 (bookworm) has no riscv64 binary packages, so a riscv64 rootfs or image cannot carry '$(strip $(PACKAGES))'; build it with PACKAGES= (README: Distribution packages))
endif
endif
ROOTFS_DEBS    := $(BUILD)/rootfs.debs
ROOTFS_ORIGINS := $(BUILD)/rootfs.origins

$(NSDAX): rootfs-builder/nsdax.c | $(SETUP_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $<

host-tools: $(NSDAX)

rootfs: $(AGENT)
	$(Q)rm -f $(ROOTFS_DEBS)
	$(Q)$(if $(strip $(PACKAGES)),rootfs-builder/debs.sh --arch $(ARCH) --output $(ROOTFS_DEBS) $(PACKAGES),:)
	$(Q)SOURCE_DATE_EPOCH=$(GUEST_EPOCH) rootfs-builder/build-rootfs.sh $(GUEST_ARGS) --output $(ROOTFS_DIR) \
		$(if $(strip $(PACKAGES)),--debs $(ROOTFS_DEBS)) --origins $(ROOTFS_ORIGINS)

image: rootfs $(NSDAX)
	$(Q)SOURCE_DATE_EPOCH=$(GUEST_EPOCH) rootfs-builder/build-image.sh --arch $(ARCH) --rootfs $(ROOTFS_DIR) --output $(IMAGE) \
		--nsdax $(NSDAX) --free-mib $(IMAGE_FREE_MIB) \
		$(if $(filter yes,$(IMAGE_DAX)),--dax,--no-dax)

check-rootfs: $(GUEST_TEST_DEPS) $(NSDAX)
	$(Q)rootfs-builder/tests/test-rootfs.sh --nsdax $(NSDAX) \
		--standin-x86_64 $(STANDIN_X86_64) --standin-riscv64 $(STANDIN_RISCV)

.PHONY: rootfs image check-rootfs
CHECK_TARGETS += check-rootfs
