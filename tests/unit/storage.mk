# tests/unit/storage.mk: storage drivers, uevent listener, device waits, mount option words.
#   check-storage       cmocka unit tests (ASan+UBSan, against libagent-san.a): uevent parsing and
#                       matchers, waiters with synthetic events, option words, refcounts and
#                       async ordering with an injected mount function (no root needed).
#   check-storage-real  root only: real mounts in a private mount namespace and a real uevent
#                       from a new loop device.  Skips, saying why, when it can't run.

ST_T_DIR  := $(HOSTBUILD)/tests/storage
ST_T_BINS := $(ST_T_DIR)/test_uevent $(ST_T_DIR)/test_storage

$(ST_T_DIR)/%: tests/unit/%.c $(SAN_LIB) $(PROTO_H)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(SAN_CFLAGS) $(AGENT_INC) -Wno-missing-prototypes $< $(SAN_LIB) \
		$(SAN_LIBS) -lcmocka -o $@

$(ST_T_DIR)/test_storage_real: tests/integration/test_storage_real.c tests/integration/check.h \
		$(SAN_LIB) $(PROTO_H)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(SAN_CFLAGS) $(AGENT_INC) -Wno-missing-prototypes $< $(SAN_LIB) \
		$(SAN_LIBS) -o $@

check-storage: $(ST_T_BINS)
	$(Q)set -e; for t in $(ST_T_BINS); do $$t; done

check-storage-real: $(ST_T_DIR)/test_storage_real
	$(Q)$(ST_T_DIR)/test_storage_real

.PHONY: check-storage check-storage-real
CHECK_TARGETS += check-storage check-storage-real
