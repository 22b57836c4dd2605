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
