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
#   SETUP_STAMP    build/.setup-done: the Debian packages are installed

DEPS_DIR    := $(BUILD)/deps
DEPS_STAMP  := $(DEPS_DIR)/.ready
SETUP_STAMP := build/.setup-done

$(SETUP_STAMP): scripts/setup.sh
	$(Q)scripts/setup.sh
	$(Q)mkdir -p $(@D) && touch $@

setup: $(SETUP_STAMP)
deps: $(DEPS_STAMP)

# (filled in by the dependency builder work)
