# tests/fuzz: libFuzzer targets for every host-facing decoder (docs/CONTRIBUTING.md, test layers).
#
#   make fuzz-build          build every target (clang, -fsanitize=fuzzer,address,undefined)
#   make fuzz-NAME           run one target for FUZZ_TIME seconds (default 60) on a scratch copy
#                            of its corpus (new inputs land in build/host/fuzz/work/NAME)
#   make fuzz                every target, FUZZ_LONG_TIME seconds each (default 600)
#   make fuzz-campaign       every target to FUZZ_CAMPAIGN_RUNS executions (default 10 M) or
#                            FUZZ_CAMPAIGN_TIME seconds each (default 3600); a table of
#                            executions, exec/s, coverage and crashes in build/fuzz-campaign.md
#   make check-fuzz-smoke    (part of make check) every target over its committed corpus, then
#                            FUZZ_SMOKE_TIME seconds (default 10) of fuzzing each
#
# A crash, a leak or any sanitizer report fails the run; libFuzzer writes the input to
# build/host/fuzz/artifacts/NAME/ (add it to tests/fuzz/corpus/NAME/ once fixed).
#
# The agent's modules are compiled a third time (besides the musl agent and the gcc ASan unit
# build): clang with -fsanitize=fuzzer-no-link for coverage feedback.  Only the final link adds
# libFuzzer's main.

FUZZ_AGENT_NAMES := frames dispatch cmdline uevent json copyfile_path proxy mount_opts oci \
                    ctr_user net
# vhost-user-vsock (host side, parsing what the guest and QEMU control): its own object set.
FUZZ_VUV_NAMES := virtq vhost_user hybrid
FUZZ_NAMES := $(FUZZ_AGENT_NAMES) $(FUZZ_VUV_NAMES)
FUZZ_DIR   := $(HOSTBUILD)/fuzz
FUZZ_CC    := clang
FUZZ_SAN   := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS := $(COMMON_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
               -DKATA_AGENT_VERSION='"$(VERSION)"' \
               $(shell pkg-config --cflags libnl-route-3.0 2>/dev/null)
FUZZ_LIBS  := -lprotobuf-c -ljson-c -lm $(shell pkg-config --libs libnl-route-3.0 2>/dev/null) -lseccomp
FUZZ_INC   := $(AGENT_INC) -Itests/fuzz

FUZZ_SRCS := $(SAN_SRCS) vsock/common/pbjson.c vsock/common/pbjson_out.c \
             vsock/common/frame_relay.c vsock/common/ttrpc_trace.c
FUZZ_OBJS := $(FUZZ_SRCS:%.c=$(FUZZ_DIR)/obj/%.o) $(PROTO_C:$(GEN)/%.c=$(FUZZ_DIR)/obj/gen/%.o)
FUZZ_LIB  := $(FUZZ_DIR)/libagent-fuzz.a
FUZZ_BINS := $(FUZZ_NAMES:%=$(FUZZ_DIR)/fuzz_%)

$(FUZZ_DIR)/obj/%.o: %.c $(PROTO_H) | $(SETUP_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_INC) -MMD -MP -c $< -o $@

$(FUZZ_DIR)/obj/gen/%.o: $(GEN)/%.c $(PROTO_H) | $(SETUP_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -Wno-missing-prototypes $(FUZZ_INC) -c $< -o $@

# err.c's message helpers pass a caller's format on (gcc accepts it; clang asks for a literal).
$(FUZZ_DIR)/obj/agent/src/err.o: FUZZ_CFLAGS += -Wno-format-nonliteral

$(FUZZ_LIB): $(FUZZ_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard tests/fuzz/*.h) $(FUZZ_LIB) $(PROTO_H)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(FUZZ_INC) $< $(FUZZ_LIB) $(FUZZ_LIBS) -o $@

FUZZ_VUV_OBJS := $(VUV_SRCS:%.c=$(FUZZ_DIR)/obj/%.o)
# vu_msg's payload union holds vu_config with its flexible array (fine for gcc, a clang warning).
$(FUZZ_VUV_OBJS): FUZZ_CFLAGS += -Wno-gnu-variable-sized-type-not-at-end

$(FUZZ_VUV_NAMES:%=$(FUZZ_DIR)/fuzz_%): $(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c \
		tests/fuzz/fuzz_common.h $(FUZZ_VUV_OBJS)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -I$(VUV_DIR) -Itests/fuzz $< \
		$(FUZZ_VUV_OBJS) -o $@

-include $(FUZZ_OBJS:.o=.d) $(FUZZ_VUV_OBJS:.o=.d)

fuzz-build: $(FUZZ_BINS)

FUZZ_TIME       ?= 60
FUZZ_LONG_TIME  ?= 600
FUZZ_SMOKE_TIME ?= 10
FUZZ_RUN        := tests/fuzz/run.sh --bin-dir $(FUZZ_DIR) --corpus-dir tests/fuzz/corpus \
                   --work-dir $(FUZZ_DIR)/work --artifact-dir $(FUZZ_DIR)/artifacts

$(FUZZ_NAMES:%=fuzz-%): fuzz-%: $(FUZZ_DIR)/fuzz_%
	$(Q)$(FUZZ_RUN) --time $(FUZZ_TIME) $*

fuzz: $(FUZZ_BINS)
	$(Q)$(FUZZ_RUN) --time $(FUZZ_LONG_TIME) $(FUZZ_NAMES)

# A long run of every target: each stops after FUZZ_CAMPAIGN_RUNS executions or
# FUZZ_CAMPAIGN_TIME seconds, whichever comes first; the table lands in FUZZ_CAMPAIGN_SUMMARY.
FUZZ_CAMPAIGN_RUNS    ?= 10000000
FUZZ_CAMPAIGN_TIME    ?= 3600
FUZZ_CAMPAIGN_JOBS    ?= 1
FUZZ_CAMPAIGN_TARGETS ?= $(FUZZ_NAMES)
FUZZ_CAMPAIGN_SUMMARY ?= build/fuzz-campaign.md

fuzz-campaign: $(FUZZ_CAMPAIGN_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
	$(Q)mkdir -p $(dir $(FUZZ_CAMPAIGN_SUMMARY))
	$(Q)$(FUZZ_RUN) --jobs $(FUZZ_CAMPAIGN_JOBS) --time $(FUZZ_CAMPAIGN_TIME) \
		--runs $(FUZZ_CAMPAIGN_RUNS) --summary $(FUZZ_CAMPAIGN_SUMMARY) $(FUZZ_CAMPAIGN_TARGETS)

check-fuzz-smoke: $(FUZZ_BINS)
	$(Q)$(FUZZ_RUN) --jobs 2 --time $(FUZZ_SMOKE_TIME) $(FUZZ_NAMES)

CHECK_TARGETS += check-fuzz-smoke
.PHONY: fuzz fuzz-build fuzz-campaign check-fuzz-smoke $(FUZZ_NAMES:%=fuzz-%)
