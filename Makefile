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

# ---- setup first, for every goal -------------------------------------------------------------
# scripts/setup.sh (installs the missing Debian packages; about 0.1 s when none is missing) runs
# before any makefile below is read, because their parse-time $(shell pkg-config ...) already
# needs the packages.  It runs for EVERY goal, plain `make` and any target added later included,
# except those in NO_SETUP_GOALS; not again in sub-makes (KAC_SETUP_DONE is exported), and not
# for -n/-q (no side effects in a dry run) unless SETUP_IN_DRY_RUN=yes.  tests/lint/make-setup.sh
# (make check-lint) proves it goal by goal, with SETUP= naming a stand-in for the script.
SETUP ?= scripts/setup.sh
NO_SETUP_GOALS := help clean
make_letters := $(filter-out --%,$(firstword $(MAKEFLAGS)))
dry_run := $(if $(filter yes,$(SETUP_IN_DRY_RUN)),,$(findstring n,$(make_letters))$(findstring q,$(make_letters)))
ifeq ($(KAC_SETUP_DONE)$(dry_run),)
ifneq ($(filter-out $(NO_SETUP_GOALS),$(or $(MAKECMDGOALS),all)),)
setup_rc := $(shell $(SETUP) >&2; echo $$?)
ifneq ($(setup_rc),0)
$(error $(SETUP) failed (exit status $(setup_rc)); nothing was built)
endif
export KAC_SETUP_DONE := 1
endif
endif

# Targets that make check runs; components append to it.  Those that need a guest kernel, the
# riscv64 toolchain or a VM are also appended to CHECK_GUEST_TARGETS: check-all runs them after
# all the others (mk/check.mk).
CHECK_TARGETS :=
CHECK_GUEST_TARGETS :=

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

# check, check-all and the background prebuild: after every component has added its suites.
include mk/check.mk

clean:
	rm -rf build

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')


# Every public goal, in the first column of a line "  NAME[ NAME...]  description" (two spaces
# before the description; deeper-indented lines continue one).  tests/lint/make-setup.sh checks
# that this column names every .PHONY target except INTERNAL_TARGETS, and only real targets.
INTERNAL_TARGETS += FORCE_VM proto format-check
help:
	@echo 'Usage: make [ARCH=x86_64|riscv64] [V=1] [GOAL...]    (default goal: all)'
	@echo 'Every goal except $(NO_SETUP_GOALS) first runs scripts/setup.sh (installs what is missing).'
	@echo
	@echo 'Build (outputs in build/ARCH/, host tools in build/host/):'
	@echo '  all  the static agent for ARCH and the host tools (the default goal)'
	@echo '  agent  build/ARCH/kata-agent (static, musl, stripped)'
	@echo '  host-tools  kata-agent-ctl, vhost-user-vsock, mkcpio, nsdax'
	@echo '  setup  scripts/setup.sh alone'
	@echo '  deps  static libnl, libseccomp, protobuf-c for ARCH (cached)'
	@echo '  kernel  guest kernel for ARCH [FLAVOUR=kata|pvm] [KERNEL_SRC=DIR] (cached)'
	@echo '  kernel-x86_64 kernel-riscv64  the kata kernel of that architecture'
	@echo '  initrd  kata-containers-initrd.img [AGENT=] [BUSYBOX=] [INITRD_COMPRESS=]'
	@echo '  rootfs  the guest root directory'
	@echo '  image  kata-containers.img [IMAGE_DAX=yes|no] [IMAGE_FREE_MIB=]'
	@echo '  demo  boot a guest, run `date` in a container, check and print it;'
	@echo '        BOOT=bzimage (default) or BOOT=pvh (qboot + vmlinux), or ARCH=riscv64'
	@echo '  install  Kata'"'"'s layout under DESTDIR/PREFIX, runtime drop-ins (mk/release.mk)'
	@echo '  release  build/release/VERSION/ARCH/: artifacts, SHA256SUMS, SPDX SBOM'
	@echo '  vm-guest-x86_64 vm-guest-riscv64  the VM tests'"'"' initrd and 9p share'
	@echo '  vm-image-x86_64 vm-image-riscv64  the VM tests'"'"' blk rootfs image'
	@echo '  vm-default-image-x86_64  the default image (PACKAGES) check-vm-iptables boots'
	@echo
	@echo 'Tests:'
	@echo '  check  every suite of check-all, after setup (the README'"'"'s test command)'
	@echo '  check-all  these suites, in this order (host suites, then guest suites):'
	@for t in $(filter-out check-prebuild-wait,$(CHECK_ORDER)); do echo "  $$t  (check-all)"; done
	@echo '  check-prebuild  the kernels, riscv64 deps and busybox the guest suites need (make check'
	@echo '        runs it in the background during the host suites; CHECK_PREBUILD=no turns that off)'
	@echo '  check-vm-x86_64 check-vm-x86_64-cgroup2 check-vm-pvh check-vm-riscv64 check-vm-image  check-vm'"'"'s'
	@echo '        variants'
	@echo '        (VM_STRICT=no: UNIMPLEMENTED answers are PENDING instead of failures)'
	@echo '  check-vm-parity  sandbox parity in a guest: NIC hot-plug under a parked UpdateInterface, IPv6 off, overlayfs rootfs, cross-container block device (check-vm)'
	@echo '  check-alloc-faults-all  every allocation of check-alloc-faults'"'"' sequence failed in turn (slow, not in check-all)'
	@echo '  check-vm-faults  guests: unusable agent.server_addr (fallback to 1024), no address and a PID 1 crash (power-off, no panic) (check-vm)'
	@echo '  check-vm-backend-restart  a guest whose vhost-user-vsock back-end is killed mid-stream: survives, recovers by re-plugging the device (check-vm)'
	@echo '  check-docs  docs links and citations resolve, nothing points outside the repository'
	@echo '  check-release  two releases byte-identical, SHA256SUMS and the SBOM (not in check-all)'
	@echo '  check-vm-image  the DAX image as root over NVDIMM and virtio-pmem, x86_64 (in check-vm)'
	@echo '  vm-image-dax-x86_64  the DAX image check-vm-image boots'
	@echo '  format  clang-format -i on every C file (check-format checks)'
	@echo
	@echo 'Benchmarks (not tests):'
	@echo '  bench  bench-size, bench-rpc and bench-containers'
	@echo '  bench-size bench-rpc bench-containers  one of them'
	@echo '  bench-vm  boot and exec times of VM guests'
	@echo '  bench-vm-guest-x86_64 bench-vm-guest-riscv64  the bench-vm guests alone'
	@echo '  soak  the container sequence then 10,000 execs (SOAK_EXECS): fd count and RSS flat'
	@echo
	@echo 'Fuzzing:'
	@echo '  fuzz-build  build every fuzz target'
	@echo '  fuzz-campaign  every target to 10 M runs or FUZZ_CAMPAIGN_TIME s; build/fuzz-campaign.md'
	@echo '  fuzz  every target, FUZZ_LONG_TIME seconds each'
	@echo '  $(FUZZ_NAMES:%=fuzz-%)  one target, FUZZ_TIME seconds'
	@echo
	@echo 'Other:'
	@echo '  clean  rm -rf build'
	@echo '  help  this text'
