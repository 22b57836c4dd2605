# Networking: cmocka unit tests of the pure helpers (tests/unit/test_net.c) and the RPCs against
# the kernel in a private network namespace (tests/integration/test_network*.c, root).
# Both link the sanitizer build of just the modules they exercise, so they do not depend on
# every other module of the agent building.

NET_T_DIR  := $(HOSTBUILD)/tests/network
NET_T_MODS := net rpc_network rpc_iptables rpc_err err ttrpc ttrpc_frame loop log util agent uevent
NET_T_OBJS := $(NET_T_MODS:%=$(SAN_OBJDIR)/agent/src/%.o) \
              $(PROTO_C:$(GEN)/%.c=$(SAN_OBJDIR)/gen/%.o) \
              $(SAN_OBJDIR)/vsock/common/ttrpc_client.o $(SAN_OBJDIR)/vsock/common/addr.o
.SECONDARY: $(NET_T_OBJS)

$(NET_T_DIR)/test_net: tests/unit/test_net.c $(NET_T_OBJS) $(PROTO_H)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(SAN_CFLAGS) $(AGENT_INC) -Wno-missing-prototypes $< $(NET_T_OBJS) \
		$(SAN_LIBS) -lcmocka -o $@

NET_T_SRCS := tests/integration/test_network.c tests/integration/test_network_guest.c \
              tests/integration/network_harness.c

$(NET_T_DIR)/test_network: $(NET_T_SRCS) tests/integration/network_harness.h \
		tests/integration/check.h $(NET_T_OBJS) \
		$(PROTO_H)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(SAN_CFLAGS) $(AGENT_INC) -Itests/integration $(NET_T_SRCS) $(NET_T_OBJS) \
		$(SAN_LIBS) -o $@

check-network: $(NET_T_DIR)/test_net $(NET_T_DIR)/test_network
	$(Q)$(NET_T_DIR)/test_net
	$(Q)$(NET_T_DIR)/test_network tests/integration/test_network.py

CHECK_TARGETS += check-network
.PHONY: check-network
