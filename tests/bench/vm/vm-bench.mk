# tests/bench/vm: VM benchmarks (tests/bench/vm/vm-bench.sh), one table, then the budget rows.
#   make bench-vm [BENCH_VM_ARGS="--runs 5 --execs 1000 --paths 'x86_64 pvh riscv64'"]
# Included from tests/vm/vm.mk (tests/tests.mk only includes one level deep).

BENCH_VM_DIR  := tests/bench/vm
BENCH_VM_ARGS ?=
MARKER_INIT_CFLAGS := $(COMMON_CFLAGS) -O2 -static

build/x86_64/vm/marker-init: $(BENCH_VM_DIR)/marker-init.c
	$(Q)mkdir -p $(@D)
	$(Q)musl-gcc $(MARKER_INIT_CFLAGS) -o $@ $<

# musl for both, like the agent, so the floor initrd is not inflated by a static glibc.
build/riscv64/vm/marker-init: $(BENCH_VM_DIR)/marker-init.c $(DEPS_STAMP_riscv64)
	$(Q)mkdir -p $(@D)
	$(Q)$(AGENT_CC_riscv64) $(MARKER_INIT_CFLAGS) -o $@ $<

HVSOCK_WAIT := $(HOSTBUILD)/bench-vm/hvsock-wait
$(HVSOCK_WAIT): $(BENCH_VM_DIR)/hvsock-wait.c
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $<

# The floor initrd is the agent's initrd (vm_initrd_args, tests/vm/vm.mk: busybox and all) with
# only /init swapped: floor-init is the marker program followed by the agent's own bytes from
# the marker's length on, so /init keeps the agent's size and nearly its compressed size (the
# bench prints both initrd sizes and fails when they disagree).  The ELF loader maps only the
# marker's segments; the padding is never read.  initrd-agent.img is the agent alone, for the
# size figures.
define bench_vm_rules
build/$(1)/vm/floor-init: build/$(1)/vm/marker-init build/$(1)/vm/.agent
	$(Q)m=$$$$(stat -c %s build/$(1)/vm/marker-init) a=$$$$(stat -c %s build/$(1)/kata-agent) && \
	if [ "$$$$m" -ge "$$$$a" ]; then echo "$$@: the marker ($$$$m bytes) is not smaller than the agent" >&2; exit 1; fi && \
	{ cat build/$(1)/vm/marker-init; tail -c +$$$$((m + 1)) build/$(1)/kata-agent; } >$$@.tmp && \
	chmod 755 $$@.tmp && mv -f $$@.tmp $$@

bench-vm-guest-$(1): vm-guest-$(1) build/$(1)/vm/floor-init
	$(Q)SOURCE_DATE_EPOCH=$$(VM_EPOCH) initrd/build-initrd.sh $(call vm_initrd_args,$(1)) \
		--agent build/$(1)/vm/floor-init --output build/$(1)/vm/floor-initrd.img >/dev/null
	$(Q)SOURCE_DATE_EPOCH=$$(VM_EPOCH) initrd/build-initrd.sh --arch $(1) --agent build/$(1)/kata-agent \
		--busybox none --mkcpio $(MKCPIO) --output build/$(1)/vm/initrd-agent.img >/dev/null
endef
$(eval $(call bench_vm_rules,x86_64))
$(eval $(call bench_vm_rules,riscv64))

bench-vm: kernel-x86_64 kernel-riscv64 bench-vm-guest-x86_64 bench-vm-guest-riscv64 $(VUV_BIN) \
		$(CTL_BIN) $(HVSOCK_WAIT)
	$(Q)$(BENCH_VM_DIR)/vm-bench.sh --backend $(VUV_BIN) --ctl $(CTL_BIN) --hvsock-wait $(HVSOCK_WAIT) \
		--workdir build/bench-vm $(BENCH_VM_ARGS) $(BENCH_SUMMARY_ARG)

.PHONY: bench-vm bench-vm-guest-x86_64 bench-vm-guest-riscv64
# `make bench` runs it too: its budget rows (ready vs the same-initrd floor per boot path,
# /init -> listening) join the summary table (BENCH_SUMMARY, tests/bench/bench.mk).
BENCH_TARGETS += bench-vm
