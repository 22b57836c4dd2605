# tests/bench: benchmarks against peers measured in the same run (docs/BUILDING.md, "Performance
# budgets").  Benchmarks are not tests: `make bench` prints tables of ours / peer-or-limit /
# ratio / budget / verdict and is not part of `make check`; only check-bench-smoke is, and it
# asserts correctness of the load client and the Go peer, never speed.
#
#   make bench        every benchmark below, and make bench-vm (tests/bench/vm/vm-bench.mk)
#   make bench-size   static agent binary sizes against the 512 KiB limit, and the x86_64
#                     agent's bytes per module (object or library) from its linker map
#   make bench-rpc    Health.Check over a unix socket: our agent vs containerd's Go ttrpc server,
#                     driven by rpc-load and by the Go ttrpc client (ttrpc-peer --load)
#   BENCH_RPC_ARGS="--rounds 5 --duration-ms 3000" make bench-rpc   to tune a run
#   make bench-containers  (root) create+start+wait of /bin/true vs `crun run`, ReadStdout
#                          throughput vs the same-shape relay and a raw copy, 32 KiB reads,
#                          and passfd stdout (the agent's pump into a unix socket) vs the raw copy
#   `make bench` ends with one table of every row of the run (BENCH_SUMMARY collects them).
#   BENCH_CTR_ARGS="--iterations 100 --rounds 5" make bench-containers   to tune a run

BENCH_DIR  := $(HOSTBUILD)/bench
RPC_LOAD   := $(BENCH_DIR)/rpc-load
TTRPC_PEER := $(BENCH_DIR)/ttrpc-peer
BENCH_RPC_ARGS ?=
CTR_BENCH  := $(BENCH_DIR)/ctr-bench
BENCH_CTR_ARGS ?=

# The load client needs only the framing and two generated messages, not all host objects.
RPC_LOAD_OBJS := $(HOST_OBJDIR)/tests/bench/rpc_load.o $(HOST_OBJDIR)/agent/src/ttrpc_frame.o \
                 $(HOST_OBJDIR)/gen/proto/ttrpc.pb-c.o $(HOST_OBJDIR)/gen/proto/health.pb-c.o

$(RPC_LOAD): $(RPC_LOAD_OBJS)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -pthread -o $@ $^ -lprotobuf-c

# The container benchmark client speaks the whole agent API: all the host-side common objects.
$(CTR_BENCH): $(HOST_OBJDIR)/tests/bench/ctr_bench.o $(HOST_OBJDIR)/tests/bench/ctr_bench_stdout.o \
              $(HOST_COMMON_OBJS)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $^ $(HOST_LIBS)

$(TTRPC_PEER): $(wildcard tests/bench/ttrpc-peer/*.go) tests/bench/build-peer.sh | $(SETUP_STAMP)
	$(Q)tests/bench/build-peer.sh --output $@

# Sizes of whichever static agents exist; x86_64 is always built.
BENCH_SIZE_BINS = $(foreach a,x86_64 riscv64,$(if $(wildcard build/$(a)/kata-agent),--binary $(a)=build/$(a)/kata-agent))

# Every bench mode appends its rows here when set; `make bench` sets it and prints them last.
BENCH_SUMMARY ?=
BENCH_SUMMARY_ARG = $(if $(BENCH_SUMMARY),--summary $(BENCH_SUMMARY))

bench-size: $(AGENT_BIN)
	$(Q)tests/bench/bench.sh --mode size $(BENCH_SIZE_BINS) \
		$(if $(filter x86_64,$(ARCH)),--map $(BUILD)/kata-agent.map) $(BENCH_SUMMARY_ARG)

# Always the x86_64 (host) agent: the riscv64 one cannot run natively.
BENCH_AGENT := build/x86_64/kata-agent
ifneq ($(ARCH),x86_64)
.PHONY: $(BENCH_AGENT)
$(BENCH_AGENT):
	$(Q)$(MAKE) --no-print-directory ARCH=x86_64 agent
endif

bench-rpc: $(BENCH_AGENT) $(RPC_LOAD) $(TTRPC_PEER)
	$(Q)tests/bench/bench.sh --mode rpc --agent $(BENCH_AGENT) --peer $(TTRPC_PEER) \
		--load $(RPC_LOAD) $(BENCH_RPC_ARGS) $(BENCH_SUMMARY_ARG)

bench-containers: $(BENCH_AGENT) $(CTR_BENCH)
	$(Q)tests/bench/bench.sh --mode containers --agent $(BENCH_AGENT) --client $(CTR_BENCH) \
		$(BENCH_CTR_ARGS) $(BENCH_SUMMARY_ARG)

# The container part: one iteration of each path, every call and byte count checked (root).
check-bench-smoke: $(BENCH_AGENT) $(RPC_LOAD) $(TTRPC_PEER) $(CTR_BENCH)
	$(Q)tests/bench/bench.sh --mode smoke --agent $(BENCH_AGENT) --peer $(TTRPC_PEER) \
		--load $(RPC_LOAD)
	$(Q)tests/bench/ctr-bench.sh --smoke --agent $(BENCH_AGENT) --client $(CTR_BENCH)

BENCH_TARGETS += bench-size bench-rpc bench-containers
BENCH_RUN_SUMMARY := $(BENCH_DIR)/summary.tsv
bench:
	$(Q)mkdir -p $(BENCH_DIR) && rm -f $(BENCH_RUN_SUMMARY)
	$(Q)$(MAKE) --no-print-directory BENCH_SUMMARY=$(abspath $(BENCH_RUN_SUMMARY)) $(BENCH_TARGETS)
	$(Q)tests/bench/bench.sh --mode summary --summary $(BENCH_RUN_SUMMARY)

.PHONY: bench bench-size bench-rpc bench-containers check-bench-smoke
CHECK_TARGETS += check-bench-smoke

-include $(HOST_OBJDIR)/tests/bench/rpc_load.d $(HOST_OBJDIR)/tests/bench/ctr_bench.d \
         $(HOST_OBJDIR)/tests/bench/ctr_bench_stdout.d
