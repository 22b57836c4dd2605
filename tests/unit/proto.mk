# tests/unit/proto.mk: protocol tests.
#   check-proto   decode golden vectors made by protoc --encode with the protoc-c
#                 generated code, check the fields, re-encode, compare bytes.
#   check-pbjson  the generic JSON <-> protobuf-c converter (vsock/common/pbjson.c).
# Both build for the host with ASan/UBSan.

PROTO_T_DIR    := $(HOSTBUILD)/tests/proto
PROTO_T_NAMES  := agent oci types csi google/protobuf/empty
PROTO_T_OBJS   := $(PROTO_T_NAMES:%=$(PROTO_T_DIR)/gen/%.pb-c.o)
PROTO_T_HDRS   := $(PROTO_T_NAMES:%=$(GEN)/proto/%.pb-c.h)
PROTO_T_CFLAGS  = $(HOST_CFLAGS) $(SAN_FLAGS) -I$(GEN)/proto -Ivsock/common
GOLDEN_SRCS    := $(sort $(wildcard tests/unit/golden/*.txtpb))
GOLDEN_BINS    := $(GOLDEN_SRCS:tests/unit/golden/%.txtpb=$(PROTO_T_DIR)/golden/%.bin)

$(PROTO_T_DIR)/gen/%.pb-c.o: $(GEN)/proto/%.pb-c.c $(PROTO_T_HDRS)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(HOST_CC) $(PROTO_T_CFLAGS) -c $< -o $@

$(PROTO_T_DIR)/golden/%.bin: tests/unit/golden/%.txtpb tests/unit/gen-golden.sh $(PROTO_SRCS)
	$(Q)tests/unit/gen-golden.sh --proto-path agent/proto --root agent.proto --input $< --output $@

$(PROTO_T_DIR)/test_proto_golden: tests/unit/test_proto_golden.c $(PROTO_T_OBJS) $(PROTO_T_HDRS)
	$(Q)$(HOST_CC) $(PROTO_T_CFLAGS) $< $(PROTO_T_OBJS) -lprotobuf-c -lcmocka -o $@

# pbjson is split in two translation units; host tools link both.
PBJSON_SRCS := vsock/common/pbjson.c vsock/common/pbjson_out.c
PBJSON_HDRS := vsock/common/pbjson.h vsock/common/pbjson_internal.h
PBJSON_T_OBJS := $(PBJSON_SRCS:vsock/common/%.c=$(PROTO_T_DIR)/%.o)

$(PBJSON_T_OBJS): $(PROTO_T_DIR)/%.o: vsock/common/%.c $(PBJSON_HDRS)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(HOST_CC) $(PROTO_T_CFLAGS) -c $< -o $@

$(PROTO_T_DIR)/test_pbjson: tests/unit/test_pbjson.c $(PBJSON_T_OBJS) $(PROTO_T_OBJS) $(PROTO_T_HDRS)
	$(Q)$(HOST_CC) $(PROTO_T_CFLAGS) $< $(PBJSON_T_OBJS) $(PROTO_T_OBJS) \
		-ljson-c -lprotobuf-c -lcmocka -o $@

# The real Go runtime client's request frames (tests/fixtures/kata-go-client-2023).
FIXTURE_T_OBJS := $(PROTO_T_OBJS) $(PROTO_T_DIR)/gen/health.pb-c.o $(PROTO_T_DIR)/gen/ttrpc.pb-c.o
$(PROTO_T_DIR)/test_fixtures: tests/unit/test_fixtures.c $(FIXTURE_T_OBJS) $(PROTO_T_HDRS)
	$(Q)$(HOST_CC) $(PROTO_T_CFLAGS) $< $(FIXTURE_T_OBJS) -lprotobuf-c -lcmocka -o $@

check-proto: $(PROTO_T_DIR)/test_proto_golden $(GOLDEN_BINS) $(PROTO_T_DIR)/test_fixtures
	$(PROTO_T_DIR)/test_proto_golden $(PROTO_T_DIR)/golden
	$(PROTO_T_DIR)/test_fixtures tests/fixtures/kata-go-client-2023

check-pbjson: $(PROTO_T_DIR)/test_pbjson
	$(PROTO_T_DIR)/test_pbjson

.PHONY: check-proto check-pbjson
CHECK_TARGETS += check-proto check-pbjson
