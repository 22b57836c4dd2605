# vsock/vhost-user-vsock: vhost-user back-end for QEMU's vhost-user-vsock-pci (host tool).

VUV_DIR  := vsock/vhost-user-vsock
VUV_LIB  := guest_mem virtq ringbuf vsock_core vhost_user
VUV_SRCS := $(VUV_LIB:%=$(VUV_DIR)/%.c)
VUV_HDRS := $(wildcard $(VUV_DIR)/*.h)
VUV_BIN  := $(HOSTBUILD)/vhost-user-vsock
VUV_TBIN := $(HOSTBUILD)/tests/vhost-user-vsock

# --trace decodes ttrpc with the host tools' common objects (vsock/ctl/ctl.mk).
$(VUV_BIN): $(VUV_SRCS) $(VUV_DIR)/main.c $(VUV_DIR)/vsock_trace.c $(VUV_HDRS) $(HOST_COMMON_OBJS)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -I$(VUV_DIR) $(HOST_INC) -o $@ $(VUV_SRCS) $(VUV_DIR)/main.c \
		$(VUV_DIR)/vsock_trace.c $(HOST_COMMON_OBJS) $(HOST_LIBS)

# Unit tests: the same sources with sanitizers, driven by a fake guest in shared memory.
VUV_TESTS := test_virtq test_vsock_core test_vhost_user
VUV_TEST_BINS := $(VUV_TESTS:%=$(VUV_TBIN)/%)

$(VUV_TBIN)/%: $(VUV_DIR)/tests/%.c $(VUV_DIR)/tests/fake_guest.c $(VUV_DIR)/tests/fake_guest.h \
		$(VUV_SRCS) $(VUV_HDRS) $(VUV_DIR)/vsock_trace.c $(HOST_COMMON_OBJS)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(COMMON_CFLAGS) $(SAN_FLAGS) -I$(VUV_DIR) $(HOST_INC) -o $@ $< \
		$(VUV_DIR)/tests/fake_guest.c $(VUV_SRCS) $(VUV_DIR)/vsock_trace.c $(HOST_COMMON_OBJS) \
		-lcmocka $(HOST_LIBS)

check-vhost-user-vsock: $(VUV_TEST_BINS)
	$(Q)set -e; for t in $(VUV_TEST_BINS); do echo "== $$t"; $$t; done

# End-to-end: a real guest kernel under QEMU (TCG) talking through the daemon.
# Outside the test's work directory, which the test wipes.
VUV_GUEST_INIT := $(HOSTBUILD)/vhost-user-vsock-guest-init

$(VUV_GUEST_INIT): $(VUV_DIR)/vm/guest_init.c
	$(Q)mkdir -p $(@D)
	$(Q)musl-gcc -static -Os $(COMMON_CFLAGS) -o $@ $<

# The guest kernel is a prerequisite (kernel-configs/kernel.mk, cached): the test never skips.
check-vhost-user-vsock-vm: kernel-x86_64 $(VUV_BIN) $(VUV_GUEST_INIT)
	$(Q)$(VUV_DIR)/vm/run-vm-test.sh --daemon $(VUV_BIN) --init $(VUV_GUEST_INIT) \
		--workdir $(HOSTBUILD)/vhost-user-vsock-vm --kernel build/x86_64/kernel/bzImage

host-tools: $(VUV_BIN)
CHECK_TARGETS += check-vhost-user-vsock check-vhost-user-vsock-vm
CHECK_GUEST_TARGETS += check-vhost-user-vsock-vm
.PHONY: check-vhost-user-vsock check-vhost-user-vsock-vm
