# The log port and the debug console: cmocka tests of the log port (ASan+UBSan, unix://
# addresses), and the debug console through the static agent run as a host process.

LOGPORT_T_BIN := $(HOSTBUILD)/tests/console/test_logport

$(LOGPORT_T_BIN): tests/unit/test_logport.c $(SAN_LIB) $(PROTO_H)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(SAN_CFLAGS) $(AGENT_INC) -Wno-missing-prototypes $< \
		$(SAN_LIB) $(SAN_LIBS) -lcmocka -o $@

check-logport: $(LOGPORT_T_BIN)
	$(Q)$(LOGPORT_T_BIN)

check-debug-console: $(AGENT_BIN)
	$(Q)tests/integration/test_debug_console.sh --agent $(AGENT_BIN)

CHECK_TARGETS += check-logport check-debug-console
.PHONY: check-logport check-debug-console
