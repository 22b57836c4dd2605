# Dependencies: Debian packages (scripts/setup.sh) and static libraries built from Debian
# source packages (scripts/build-deps.sh), cached by content in $(KATA_AGENT_C_CACHE).
#
# Provides, for the current ARCH:
#   DEPS_DIR       build/$(ARCH)/deps (include/, lib/, ...)
#   DEPS_STAMP     file that exists once the deps for ARCH are ready (depend on it)
#   AGENT_CC       compiler for the static musl agent
#   AGENT_CPPFLAGS include paths (musl + kernel headers + deps)
#   AGENT_LDFLAGS  -static and library paths
#   AGENT_LIBS     -lnl-route-3 -lnl-3 -lseccomp -lprotobuf-c
#   AGENT_STRIP    strip for ARCH
#   AGENT_CFLAGS_ARCH  size-oriented code generation flags (with --gc-sections in LDFLAGS)
#   Each AGENT_* also exists as AGENT_*_x86_64 and AGENT_*_riscv64, and DEPS_STAMP_<arch>,
#   for rules that build for the other architecture (tests/deps builds both).
#   SETUP_STAMP    build/.setup-done: the Debian packages are installed

DEPS_DIR    := $(BUILD)/deps
DEPS_STAMP  := $(DEPS_DIR)/.ready
SETUP_STAMP := build/.setup-done

$(SETUP_STAMP): scripts/setup.sh
	$(Q)scripts/setup.sh
	$(Q)mkdir -p $(@D) && touch $@

setup: $(SETUP_STAMP)
deps: $(DEPS_STAMP)

DEPS_ARCHES := x86_64 riscv64
$(foreach a,$(DEPS_ARCHES),$(eval DEPS_DIR_$(a) := build/$(a)/deps))
$(foreach a,$(DEPS_ARCHES),$(eval DEPS_STAMP_$(a) := build/$(a)/deps/.ready))

# scripts/build-deps.sh is a no-op when the tree for its cache key is already in place; it
# refreshes the stamp only when it is older than the script or the setup stamp.
$(foreach a,$(DEPS_ARCHES),$(DEPS_STAMP_$(a))): build/%/deps/.ready: $(SETUP_STAMP) scripts/build-deps.sh
	$(Q)scripts/build-deps.sh --arch $* --jobs 2

# x86_64: Debian's musl-gcc.  riscv64: the musl-gcc style wrapper build-deps.sh makes around
# riscv64-linux-gnu-gcc and the musl it built.  Neither has kernel headers of its own.
AGENT_CC_x86_64  := musl-gcc
AGENT_CC_riscv64 := $(TOP)/build/riscv64/deps/bin/riscv64-linux-musl-gcc
AGENT_STRIP_x86_64  := strip
AGENT_STRIP_riscv64 := riscv64-linux-gnu-strip

# libnl installs its headers under include/libnl3 (#include <netlink/...>).  -isystem keeps
# -Werror away from third-party headers.
deps_cppflags = -isystem $(TOP)/build/$(1)/deps/include -isystem $(TOP)/build/$(1)/deps/include/libnl3 \
                -isystem $(TOP)/build/$(1)/deps/kernel-headers
$(foreach a,$(DEPS_ARCHES),$(eval AGENT_CPPFLAGS_$(a) := $(call deps_cppflags,$(a))))
# For size (bench-size; the libraries are built the same way by scripts/build-deps.sh): -Os,
# one section per function and object for --gc-sections, no unwind tables (C only, nothing
# unwinds; they were a tenth of the binary), no PIE code in what is a static non-PIE
# executable anyway, and no page-aligned padding between the text and read-only segments.
$(foreach a,$(DEPS_ARCHES),$(eval AGENT_LDFLAGS_$(a) := -static -no-pie -L$(TOP)/build/$(a)/deps/lib \
	-Wl,--gc-sections -Wl,-z,noseparate-code))
$(foreach a,$(DEPS_ARCHES),$(eval AGENT_CFLAGS_ARCH_$(a) := -Os -ffunction-sections -fdata-sections \
	-fno-asynchronous-unwind-tables -fno-unwind-tables -fno-pie))

AGENT_CC          := $(AGENT_CC_$(ARCH))
AGENT_CPPFLAGS    := $(AGENT_CPPFLAGS_$(ARCH))
AGENT_LDFLAGS     := $(AGENT_LDFLAGS_$(ARCH))
AGENT_LIBS        := -lnl-route-3 -lnl-3 -lseccomp -lprotobuf-c
AGENT_STRIP       := $(AGENT_STRIP_$(ARCH))
AGENT_CFLAGS_ARCH := $(AGENT_CFLAGS_ARCH_$(ARCH))
