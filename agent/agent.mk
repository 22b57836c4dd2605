# agent/: the static guest agent.

AGENT_BIN := $(BUILD)/kata-agent

# Protocol: our .proto files; protoc-c generates C at build time into $(GEN)/proto.
PROTO_NAMES := ttrpc health agent oci types csi google/protobuf/empty
PROTO_SRCS  := $(PROTO_NAMES:%=agent/proto/%.proto)
PROTO_C     := $(PROTO_NAMES:%=$(GEN)/proto/%.pb-c.c)
PROTO_H     := $(PROTO_C:.c=.h)

$(GEN)/proto/%.pb-c.c $(GEN)/proto/%.pb-c.h: agent/proto/%.proto | $(SETUP_STAMP)
	$(Q)mkdir -p $(GEN)/proto
	$(Q)protoc-c --proto_path=agent/proto --c_out=$(GEN)/proto $<

proto: $(PROTO_C) $(PROTO_H)
.PHONY: proto agent host-tools

# ---- sources ----
AGENT_SRCS := $(sort $(wildcard agent/src/*.c)) vsock/common/addr.c
AGENT_INC  := -Iagent/src -Ivsock/common -I$(GEN)/proto

# ---- the static agent for ARCH (musl; variables from mk/deps.mk) ----
AGENT_OBJDIR := $(BUILD)/obj
AGENT_OBJS   := $(AGENT_SRCS:%.c=$(AGENT_OBJDIR)/%.o) $(PROTO_C:$(GEN)/%.c=$(AGENT_OBJDIR)/gen/%.o)
AGENT_CFLAGS := $(COMMON_CFLAGS) -DKATA_AGENT_VERSION='"$(VERSION)"' $(AGENT_CFLAGS_ARCH)

$(AGENT_OBJDIR)/%.o: %.c $(PROTO_H) $(DEPS_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)$(AGENT_CC) $(AGENT_CFLAGS) $(AGENT_INC) $(AGENT_CPPFLAGS) -MMD -MP -c $< -o $@

$(AGENT_OBJDIR)/gen/%.o: $(GEN)/%.c $(PROTO_H) $(DEPS_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)$(AGENT_CC) $(AGENT_CFLAGS) -Wno-missing-prototypes $(AGENT_INC) $(AGENT_CPPFLAGS) -c $< -o $@

# The linker map (kata-agent.map) is what `make bench-size` reads for its per-module sizes.
$(BUILD)/kata-agent.unstripped: $(AGENT_OBJS)
	$(Q)$(AGENT_CC) $(AGENT_CFLAGS) $(AGENT_LDFLAGS) -Wl,-Map=$(BUILD)/kata-agent.map -o $@ $^ \
		$(AGENT_LIBS)

$(AGENT_BIN): $(BUILD)/kata-agent.unstripped
	$(Q)$(AGENT_STRIP) -o $@ $<
	@echo "built $@ ($$(stat -c %s $@) bytes, static, stripped)"

agent: $(AGENT_BIN)

-include $(AGENT_OBJS:.o=.d)

# ---- the same modules for the host, with ASan+UBSan, for unit tests ----
SAN_OBJDIR   := $(HOSTBUILD)/san
SAN_SRCS     := $(filter-out agent/src/main.c,$(AGENT_SRCS))
SAN_OBJS     := $(SAN_SRCS:%.c=$(SAN_OBJDIR)/%.o) $(PROTO_C:$(GEN)/%.c=$(SAN_OBJDIR)/gen/%.o)
SAN_LIB      := $(SAN_OBJDIR)/libagent-san.a
SAN_CFLAGS   := $(COMMON_CFLAGS) $(SAN_FLAGS) -DKATA_AGENT_VERSION='"$(VERSION)"' \
                $(shell pkg-config --cflags libnl-route-3.0 2>/dev/null)
SAN_LIBS     := -lprotobuf-c $(shell pkg-config --libs libnl-route-3.0 2>/dev/null) -lseccomp

$(SAN_OBJDIR)/%.o: %.c $(PROTO_H) | $(SETUP_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(SAN_CFLAGS) $(AGENT_INC) -MMD -MP -c $< -o $@

$(SAN_OBJDIR)/gen/%.o: $(GEN)/%.c $(PROTO_H) | $(SETUP_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(SAN_CFLAGS) -Wno-missing-prototypes $(AGENT_INC) -c $< -o $@

$(SAN_LIB): $(SAN_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

# A host build of the whole agent with sanitizers, for integration tests under ASan.
$(HOSTBUILD)/kata-agent-san: $(SAN_OBJDIR)/agent/src/main.o $(SAN_LIB)
	$(Q)$(HOST_CC) $(SAN_CFLAGS) -o $@ $^ $(SAN_LIBS)

-include $(SAN_OBJS:.o=.d)

# The sanitizer agent with allocation failure injection (tests/integration/alloc_fault.c): every
# allocation of the agent's objects and of protobuf-c (linked statically for this) is wrapped;
# KATA_AGENT_FAIL_ALLOC=N fails the Nth one (check-alloc-faults).
ALLOC_WRAP := malloc calloc realloc strdup strndup asprintf vasprintf accept4
$(HOSTBUILD)/kata-agent-allocfail: $(SAN_OBJDIR)/agent/src/main.o $(SAN_OBJDIR)/tests/integration/alloc_fault.o $(SAN_LIB)
	$(Q)$(HOST_CC) $(SAN_CFLAGS) $(foreach f,$(ALLOC_WRAP),-Wl,--wrap=$(f)) -o $@ $^ \
		-Wl,-Bstatic -lprotobuf-c -Wl,-Bdynamic $(filter-out -lprotobuf-c,$(SAN_LIBS))
