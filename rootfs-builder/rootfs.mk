# rootfs-builder/: the guest root directory and a raw disk image, without root or loop devices.
#   make rootfs [ARCH=..] [AGENT=path] [BUSYBOX=path|none] [KERNEL_MODULES=dir]
#   make image  [IMAGE_DAX=yes|no] [IMAGE_FREE_MIB=n]
# Outputs: $(BUILD)/rootfs/, $(BUILD)/kata-containers.img and .img.cmdline (the root= lines).
# AGENT, BUSYBOX, KERNEL_MODULES, GUEST_EPOCH and GUEST_ARGS come from initrd/initrd.mk.

NSDAX      := $(HOSTBUILD)/nsdax
ROOTFS_DIR := $(BUILD)/rootfs
IMAGE      := $(BUILD)/kata-containers.img
IMAGE_DAX      ?= yes
IMAGE_FREE_MIB ?= 0

$(NSDAX): rootfs-builder/nsdax.c | $(SETUP_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $<

host-tools: $(NSDAX)

rootfs: $(AGENT)
	$(Q)SOURCE_DATE_EPOCH=$(GUEST_EPOCH) rootfs-builder/build-rootfs.sh $(GUEST_ARGS) --output $(ROOTFS_DIR)

image: rootfs $(NSDAX)
	$(Q)SOURCE_DATE_EPOCH=$(GUEST_EPOCH) rootfs-builder/build-image.sh --arch $(ARCH) --rootfs $(ROOTFS_DIR) --output $(IMAGE) \
		--nsdax $(NSDAX) --free-mib $(IMAGE_FREE_MIB) \
		$(if $(filter yes,$(IMAGE_DAX)),--dax,--no-dax)

check-rootfs: $(GUEST_TEST_DEPS) $(NSDAX)
	$(Q)rootfs-builder/tests/test-rootfs.sh --nsdax $(NSDAX) \
		--standin-x86_64 $(STANDIN_X86_64) --standin-riscv64 $(STANDIN_RISCV)

.PHONY: rootfs image check-rootfs
CHECK_TARGETS += check-rootfs
