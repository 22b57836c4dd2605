# kata-agent-c: one entry point.  ARCH=x86_64 (default) or ARCH=riscv64; outputs in build/ARCH/.
# Each component keeps its rules in its own .mk file, included below.

ARCH ?= x86_64
ifeq ($(filter $(ARCH),x86_64 riscv64),)
$(error ARCH must be x86_64 or riscv64, not '$(ARCH)')
endif

TOP       := $(abspath .)
BUILD     := build/$(ARCH)
HOSTBUILD := build/host
GEN       := build/gen
export KATA_AGENT_C_CACHE ?= $(HOME)/.cache/kata-agent-c

VERSION := $(shell cat VERSION)

# Targets that make check runs, in order; components append to it.
CHECK_TARGETS :=

.DEFAULT_GOAL := all
.PHONY: all check check-all check-format deps setup clean format format-check help

include mk/common.mk
include mk/deps.mk
include agent/agent.mk
include vsock/vsock.mk
include initrd/initrd.mk
include rootfs-builder/rootfs.mk
include kernel-configs/kernel.mk
include mk/release.mk
include tests/tests.mk

all: agent host-tools

# docs/CONTRIBUTING.md, style rule 1: `make format` rewrites, CI checks.
check-format: format-check
CHECK_TARGETS += check-format

# Setup first, in its own make run: later makefile parsing (pkg-config, deps) needs the packages.
check:
	$(Q)scripts/setup.sh
	$(Q)$(MAKE) --no-print-directory check-all

check-all: $(CHECK_TARGETS)
	@echo "make check: all suites passed ($(CHECK_TARGETS))"

clean:
	rm -rf build

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')


help:
	@echo "make [ARCH=x86_64|riscv64] [all|agent|host-tools|initrd|rootfs|image|kernel|demo|check|bench|deps|clean]"
