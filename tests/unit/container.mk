# tests/unit/container.mk: the container runtime library (agent/src/container.c, ctr_*.c).
#   check-container  unit tests (cmocka, ASan/UBSan): ids, name tables, mount options,
#                    passwd/group parsing, seccomp translation, spec errors.
#   check-spawn      integration (root): a busybox rootfs, real namespaces and mounts, run
#                    inside `unshare --mount --propagation private` so nothing leaks.

CTR_T_DIR  := $(HOSTBUILD)/tests/container
CTR_MODS   := container ctr_spawn ctr_child ctr_cwd ctr_mount ctr_caps ctr_user ctr_seccomp err util log
CTR_T_OBJS := $(CTR_MODS:%=$(SAN_OBJDIR)/agent/src/%.o) $(SAN_OBJDIR)/gen/proto/oci.pb-c.o
CTR_T_CFLAGS = $(SAN_CFLAGS) $(AGENT_INC)
CTR_T_LIBS := -lseccomp -lprotobuf-c

CTR_UNIT_SRCS := $(sort $(wildcard tests/unit/test_container*.c tests/unit/test_ctr_*.c))
CTR_UNIT_BINS := $(CTR_UNIT_SRCS:tests/unit/%.c=$(CTR_T_DIR)/%)

$(CTR_UNIT_BINS): $(CTR_T_DIR)/%: tests/unit/%.c $(CTR_T_OBJS)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(CTR_T_CFLAGS) $< $(CTR_T_OBJS) $(CTR_T_LIBS) -lcmocka -o $@

CTR_SPAWN_SRCS := $(addprefix tests/integration/,test_spawn.c test_spawn_ns.c spawn_harness.c)

$(CTR_T_DIR)/test_spawn: $(CTR_SPAWN_SRCS) tests/integration/spawn_harness.h \
		tests/integration/check.h $(CTR_T_OBJS)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(CTR_T_CFLAGS) $(CTR_SPAWN_SRCS) $(CTR_T_OBJS) $(CTR_T_LIBS) -o $@

check-container: $(CTR_UNIT_BINS)
	$(Q)set -e; for t in $(CTR_UNIT_BINS); do $$t; done

check-spawn: $(CTR_T_DIR)/test_spawn
	$(Q)unshare --mount --propagation private $(CTR_T_DIR)/test_spawn

.PHONY: check-container check-spawn
CHECK_TARGETS += check-container check-spawn
