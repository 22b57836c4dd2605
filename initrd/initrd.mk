# initrd/: reproducible newc initrd for ARCH, built without root from a manifest.
#   make initrd [ARCH=..] [AGENT=path] [BUSYBOX=path|none] [INITRD_COMPRESS=gzip|zstd|lz4|none]
#               [KERNEL_MODULES=dir] [SOURCE_DATE_EPOCH=n]
# Output: $(BUILD)/kata-containers-initrd.img and .img.list (sha256 of every entry).

MKCPIO     := $(HOSTBUILD)/mkcpio
CPIOREAD   := $(HOSTBUILD)/cpioread
INITRD_IMG := $(BUILD)/kata-containers-initrd.img

# The agent comes from agent/agent.mk ($(AGENT_BIN)); AGENT= points at any other static binary.
AGENT ?= $(AGENT_BIN)
# Busybox: Debian's busybox-static for x86_64.  Debian 12's archive has no riscv64 port (it
# arrived with Debian 13), so there is no busybox-static:riscv64 to apt-get: riscv64 guests are
# built without it unless BUSYBOX= names a static riscv64 busybox.
ifeq ($(ARCH),x86_64)
BUSYBOX ?= /bin/busybox
else
BUSYBOX ?= none
endif
INITRD_COMPRESS ?= gzip
KERNEL_MODULES  ?=
# Timestamps inside every guest artifact: $(SOURCE_DATE_EPOCH) if set, else the last commit's
# time.  Passed to the builders only (not exported to other components' recipes).
GUEST_EPOCH = $(or $(SOURCE_DATE_EPOCH),$(shell git log -1 --format=%ct 2>/dev/null),0)

GUEST_ARGS := --arch $(ARCH) --agent $(AGENT) --busybox $(BUSYBOX) \
              $(if $(KERNEL_MODULES),--modules $(KERNEL_MODULES))

$(MKCPIO): initrd/mkcpio.c | $(SETUP_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $<

$(CPIOREAD): initrd/tests/cpioread.c | $(SETUP_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $<

host-tools: $(MKCPIO)

# Cheap (about a second), so always rebuilt: its inputs include whatever AGENT/BUSYBOX name.
initrd: $(MKCPIO) $(AGENT)
	$(Q)SOURCE_DATE_EPOCH=$(GUEST_EPOCH) initrd/build-initrd.sh $(GUEST_ARGS) --compress $(INITRD_COMPRESS) --mkcpio $(MKCPIO) \
		--output $(INITRD_IMG)

# Test stand-ins for the agent: freestanding static executables for both architectures.
STANDIN_DIR    := $(HOSTBUILD)/guest-test
STANDIN_FLAGS  := -Os -nostdlib -static -ffreestanding -fno-stack-protector -Wall -Wextra -Werror
STANDIN_X86_64 := $(STANDIN_DIR)/standin-x86_64
STANDIN_RISCV  := $(STANDIN_DIR)/standin-riscv64

$(STANDIN_X86_64): initrd/tests/standin.c | $(SETUP_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(STANDIN_FLAGS) -fno-pie -no-pie -o $@ $<

$(STANDIN_RISCV): initrd/tests/standin.c | $(SETUP_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)riscv64-linux-gnu-gcc $(STANDIN_FLAGS) -o $@ $<

GUEST_TEST_DEPS := $(MKCPIO) $(CPIOREAD) $(STANDIN_X86_64) $(STANDIN_RISCV)

check-initrd: $(GUEST_TEST_DEPS)
	$(Q)initrd/tests/test-initrd.sh --mkcpio $(MKCPIO) --cpioread $(CPIOREAD) \
		--standin-x86_64 $(STANDIN_X86_64) --standin-riscv64 $(STANDIN_RISCV)

.PHONY: initrd check-initrd
CHECK_TARGETS += check-initrd
