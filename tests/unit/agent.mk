# Unit tests of the agent core (cmocka, host build with ASan+UBSan against libagent-san.a).

CORE_T_DIR   := $(HOSTBUILD)/tests/core
CORE_T_NAMES := test_ttrpc test_config test_core test_copy_file test_diag test_process test_sandbox \
                test_passfd
CORE_T_BINS  := $(CORE_T_NAMES:%=$(CORE_T_DIR)/%)
CORE_T_EXTRA := $(SAN_OBJDIR)/vsock/common/ttrpc_client.o
.SECONDARY: $(CORE_T_EXTRA)

$(CORE_T_DIR)/%: tests/unit/%.c $(SAN_LIB) $(CORE_T_EXTRA) $(PROTO_H)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(SAN_CFLAGS) $(AGENT_INC) -Wno-missing-prototypes $< $(CORE_T_EXTRA) \
		$(SAN_LIB) $(SAN_LIBS) $(CORE_T_LDFLAGS) -lcmocka -o $@

# test_ttrpc fails the server's buffer growth on demand (__wrap_realloc in the test).
$(CORE_T_DIR)/test_ttrpc: CORE_T_LDFLAGS := -Wl,--wrap=realloc

check-core: $(CORE_T_BINS)
	$(Q)set -e; for t in $(CORE_T_BINS); do $$t; done

CHECK_TARGETS += check-core
.PHONY: check-core
