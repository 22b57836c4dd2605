# kata-agent-ctl and the host-side object files shared by host tools.

HOST_OBJDIR := $(HOSTBUILD)/obj
HOST_INC    := -Iagent/src -Ivsock/common -I$(GEN)/proto
HOST_PROTO_OBJS := $(PROTO_C:$(GEN)/%.c=$(HOST_OBJDIR)/gen/%.o)
# Host-side common code: transports, the ttrpc client, JSON mapping, framing.
HOST_COMMON_OBJS := $(addprefix $(HOST_OBJDIR)/,vsock/common/addr.o vsock/common/ttrpc_client.o \
                      vsock/common/pbjson.o vsock/common/pbjson_out.o vsock/common/frame_relay.o \
                      vsock/common/ttrpc_trace.o agent/src/ttrpc_frame.o) $(HOST_PROTO_OBJS)
HOST_LIBS := -lprotobuf-c -ljson-c -lm

$(HOST_OBJDIR)/%.o: %.c $(PROTO_H) | $(SETUP_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) $(HOST_INC) -MMD -MP -c $< -o $@

$(HOST_OBJDIR)/gen/%.o: $(GEN)/%.c $(PROTO_H) | $(SETUP_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -Wno-missing-prototypes $(HOST_INC) -c $< -o $@

CTL_BIN := $(HOSTBUILD)/kata-agent-ctl
CTL_OBJS := $(addprefix $(HOST_OBJDIR)/vsock/ctl/,ctl.o proxy.o replay.o interactive.o)
$(CTL_BIN): $(CTL_OBJS) $(HOST_COMMON_OBJS)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $^ $(HOST_LIBS)

host-tools: $(CTL_BIN)

-include $(CTL_OBJS:.o=.d) $(HOST_COMMON_OBJS:.o=.d)
