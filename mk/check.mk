# make check and check-all.  Included by the top Makefile after every component, so that
# CHECK_TARGETS and CHECK_GUEST_TARGETS are complete.
#
# Order: the host suites first, then the suites that need a guest kernel, the riscv64 toolchain
# or a VM (CHECK_GUEST_TARGETS), each group in the order the components added them.
#
# Cold caches: a fresh machine builds two guest kernels, the riscv64 static deps and the riscv64
# busybox (about 25 core-minutes on 2 cores) before the guest suites can run, while the host
# suites leave one of the two cores mostly idle.  So `make check` starts those builds in the
# background at the lowest CPU priority (check-prebuild, log in build/check-prebuild.log) and
# runs the host suites meanwhile; check-prebuild-wait, between the two groups, waits for them.
# Every one of those builds takes its cache's lock, so nothing is built twice or half-read, and
# a failed background build is simply built again, with its error shown, by the suite that
# needs it.  With warm caches the prebuild is a few seconds of cache checks.
# CHECK_PREBUILD=no turns it off; `make check-all` never starts it.

CHECK_PREBUILD ?= yes
CHECK_PREBUILD_LOG  := build/check-prebuild.log
CHECK_PREBUILD_LOCK := build/.check-prebuild.lock
CHECK_PREBUILD_TARGETS := kernel-x86_64 $(DEPS_STAMP_riscv64) kernel-riscv64 \
                          build/riscv64/vm/busybox

CHECK_ORDER = $(filter-out $(CHECK_GUEST_TARGETS),$(CHECK_TARGETS)) check-prebuild-wait \
              $(filter $(CHECK_GUEST_TARGETS),$(CHECK_TARGETS))

INTERNAL_TARGETS += check-prebuild-wait
.PHONY: check check-all check-prebuild check-prebuild-wait

# The background job runs in its own session (setsid), so that a failed check can stop all of
# it; the lock is taken before `check` goes on, so check-prebuild-wait cannot miss it.
check: $(SETUP_STAMP)
	$(Q)mkdir -p build; rm -f build/.check-prebuild.started build/.check-prebuild.rc; bg=; \
	if [ "$(CHECK_PREBUILD)" = yes ]; then \
		setsid sh -c 'exec 9>"$$1"; flock 9; : >build/.check-prebuild.started; \
			rc=0; nice -n 19 "$$2" --no-print-directory check-prebuild || rc=$$?; \
			echo $$rc >build/.check-prebuild.rc' sh \
			$(CHECK_PREBUILD_LOCK) "$(MAKE)" >$(CHECK_PREBUILD_LOG) 2>&1 </dev/null & bg=$$!; \
		while [ ! -e build/.check-prebuild.started ] && kill -0 $$bg 2>/dev/null; do \
			sleep 0.1; done; \
		echo "make check: cache builds started in the background ($(CHECK_PREBUILD_LOG))"; \
	fi; \
	rc=0; $(MAKE) --no-print-directory check-all || rc=$$?; \
	if [ -n "$$bg" ] && [ $$rc -ne 0 ]; then kill -TERM -- -$$bg 2>/dev/null || true; fi; \
	[ -z "$$bg" ] || wait $$bg 2>/dev/null || true; \
	exit $$rc

check-all: $(CHECK_ORDER)
	@echo "make check: all suites passed ($(filter-out check-prebuild-wait,$(CHECK_ORDER)))"

# The builds the guest suites need that take minutes when the caches are cold.
check-prebuild: $(CHECK_PREBUILD_TARGETS)

# Returns at once when no background prebuild holds the lock.
check-prebuild-wait:
	$(Q)mkdir -p build; t0=$$(date +%s); \
	flock $(CHECK_PREBUILD_LOCK) true; \
	if [ -e build/.check-prebuild.started ]; then \
		echo "make check: waited $$(( $$(date +%s) - t0 )) s for the background cache builds" \
			"(exit status $$(cat build/.check-prebuild.rc 2>/dev/null || echo unknown);" \
			"log: $(CHECK_PREBUILD_LOG))"; \
		rm -f build/.check-prebuild.started; \
	fi
