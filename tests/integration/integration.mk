# Integration tests: the static agent as a host process, driven over ttrpc.

PROBE_BIN := $(HOSTBUILD)/tests/ttrpc_probe
$(PROBE_BIN): $(HOST_OBJDIR)/tests/integration/ttrpc_probe.o $(HOST_COMMON_OBJS)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $^ $(HOST_LIBS)

check-agent-integration: $(AGENT_BIN) $(CTL_BIN) $(PROBE_BIN)
	$(Q)tests/integration/agent.sh --agent $(AGENT_BIN) --ctl $(CTL_BIN) --probe $(PROBE_BIN)

# The riscv64 agent under user-mode emulation (built even when ARCH=x86_64).
check-agent-riscv64: $(CTL_BIN) $(PROBE_BIN)
	$(Q)$(MAKE) --no-print-directory ARCH=riscv64 agent
	$(Q)tests/integration/agent.sh --arch riscv64 --agent build/riscv64/kata-agent --ctl $(CTL_BIN) --probe $(PROBE_BIN)

# Reads stdio the way each Kata runtime version does (containers.sh runs it).
READERS_BIN := $(HOSTBUILD)/tests/stdio_readers
$(READERS_BIN): $(HOST_OBJDIR)/tests/integration/stdio_readers.o $(HOST_COMMON_OBJS)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $^ $(HOST_LIBS)

# The host side of passfd I/O and the ReadStdout reader it is compared with (tests/vm/passfd.sh).
PASSFD_CLIENT_BIN := $(HOSTBUILD)/tests/passfd_client
$(PASSFD_CLIENT_BIN): $(HOST_OBJDIR)/tests/integration/passfd_client.o $(HOST_COMMON_OBJS)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $^ $(HOST_LIBS)

CHECK_TARGETS += check-agent-integration check-agent-riscv64
CHECK_GUEST_TARGETS += check-agent-riscv64
.PHONY: check-agent-integration check-agent-riscv64

# The container lifecycle through the agent, as root in fresh namespaces (1000-exec soak).
check-containers: $(AGENT_BIN) $(CTL_BIN) $(READERS_BIN) $(PASSFD_CLIENT_BIN)
	$(Q)tests/integration/containers.sh --agent $(AGENT_BIN) --ctl $(CTL_BIN) --readers $(READERS_BIN) \
		--passfd-client $(PASSFD_CLIENT_BIN)

CHECK_TARGETS += check-containers
.PHONY: check-containers

# The long soak (not in make check; check-containers is its short variant, 1000 execs): the
# container sequence, then SOAK_EXECS execs into one container; the agent's fd count must not
# grow and its RSS by at most 64 KiB.  The figures are printed ("soak: N execs: fds ...").
SOAK_EXECS ?= 10000
soak: $(AGENT_BIN) $(CTL_BIN) $(READERS_BIN) $(PASSFD_CLIENT_BIN)
	$(Q)tests/integration/containers.sh --agent $(AGENT_BIN) --ctl $(CTL_BIN) --readers $(READERS_BIN) \
		--passfd-client $(PASSFD_CLIENT_BIN) \
		--soak $(SOAK_EXECS)
.PHONY: soak

# The Kata Go runtime's recorded frames, in order, against the agent on the host.
REPLAY_BIN := $(HOSTBUILD)/tests/fixture_replay
$(REPLAY_BIN): $(HOST_OBJDIR)/tests/integration/fixture_replay.o $(HOST_COMMON_OBJS)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $^ $(HOST_LIBS)

check-fixtures: $(AGENT_BIN) $(REPLAY_BIN)
	$(Q)tests/integration/fixtures.sh --agent $(AGENT_BIN) --replay $(REPLAY_BIN)

CHECK_TARGETS += check-fixtures

# The same suites with the ASan+UBSan agent (dynamic, glibc; agent/agent.mk kata-agent-san): any
# sanitizer report, leak at exit or crash fails them.  Its soak is short, and its RSS slack large
# (freed memory sits in ASan's quarantine).
AGENT_SAN_BIN := $(HOSTBUILD)/kata-agent-san
SAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1 \
           UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
check-agent-integration-san: $(AGENT_SAN_BIN) $(CTL_BIN) $(PROBE_BIN)
	$(Q)$(SAN_ENV) tests/integration/agent.sh --agent $(AGENT_SAN_BIN) --ctl $(CTL_BIN) \
		--probe $(PROBE_BIN)
check-containers-san: $(AGENT_SAN_BIN) $(CTL_BIN) $(READERS_BIN) $(PASSFD_CLIENT_BIN)
	$(Q)$(SAN_ENV) tests/integration/containers.sh --agent $(AGENT_SAN_BIN) --ctl $(CTL_BIN) \
		--readers $(READERS_BIN) --passfd-client $(PASSFD_CLIENT_BIN) --soak 100 --rss-slack 65536

CHECK_TARGETS += check-agent-integration-san check-containers-san
.PHONY: check-agent-integration-san check-containers-san
.PHONY: check-fixtures

# No CreateContainer request crashes the agent: random specs (SPEC_PROPS_COUNT, SPEC_PROPS_SEED).
SPEC_PROPS_COUNT ?= 150
check-spec-props: $(AGENT_BIN) $(CTL_BIN)
	$(Q)tests/integration/spec-props.sh --agent $(AGENT_BIN) --ctl $(CTL_BIN) --count $(SPEC_PROPS_COUNT) \
		$(if $(SPEC_PROPS_SEED),--seed $(SPEC_PROPS_SEED))

CHECK_TARGETS += check-spec-props
.PHONY: check-spec-props

# kata-agent-ctl proxy + replay: a container sequence traced through the proxy, replayed on a
# fresh agent (docs/DEBUGGING.md).
check-proxy: $(AGENT_BIN) $(CTL_BIN) $(PROBE_BIN)
	$(Q)tests/integration/proxy.sh --agent $(AGENT_BIN) --ctl $(CTL_BIN) --probe $(PROBE_BIN) \
		--keep-trace $(HOSTBUILD)/proxy-trace.jsonl

CHECK_TARGETS += check-proxy
.PHONY: check-proxy

# Fault injection (issue 15): an unusable server address, fd exhaustion, ENOSPC under CopyFile,
# a host hanging up in the middle of each call of a container sequence.
FAULT_CLIENT_BIN := $(HOSTBUILD)/tests/fault_client
$(FAULT_CLIENT_BIN): $(HOST_OBJDIR)/tests/integration/fault_client.o $(HOST_COMMON_OBJS)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $^ $(HOST_LIBS)

check-faults: $(AGENT_BIN) $(CTL_BIN) $(FAULT_CLIENT_BIN)
	$(Q)tests/integration/faults.sh --agent $(AGENT_BIN) --ctl $(CTL_BIN) --client $(FAULT_CLIENT_BIN)

CHECK_TARGETS += check-faults
.PHONY: check-faults

# Allocation failure at the Nth allocation of a container sequence (kata-agent-allocfail, ASan):
# check-alloc-faults fails ALLOC_FAULT_POINTS (30) allocations spread over the sequence, one run each;
# check-alloc-faults-all every allocation (slow; not in check-all).
ALLOC_FAULT_POINTS ?= 30
ALLOCFAIL_BIN := $(HOSTBUILD)/kata-agent-allocfail
check-alloc-faults: $(ALLOCFAIL_BIN) $(CTL_BIN)
	$(Q)$(SAN_ENV) tests/integration/alloc-faults.sh --agent $(ALLOCFAIL_BIN) --ctl $(CTL_BIN) \
		--points $(ALLOC_FAULT_POINTS)
check-alloc-faults-all: $(ALLOCFAIL_BIN) $(CTL_BIN)
	$(Q)$(SAN_ENV) tests/integration/alloc-faults.sh --agent $(ALLOCFAIL_BIN) --ctl $(CTL_BIN) --every

CHECK_TARGETS += check-alloc-faults
.PHONY: check-alloc-faults check-alloc-faults-all
