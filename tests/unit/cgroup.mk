# tests/unit/cgroup.mk: the agent's cgroup module (agent/src/cgroup*.c).
#   check-cgroup       cmocka unit tests against fake cgroup trees in a temp dir (ASan+UBSan).
#   check-cgroup-real  root only: the host's real cgroups (v1 hierarchies; v2 via a cgroup2
#                      mount in a private mount namespace).  Skips, saying why, when it can't run.

CG_T_DIR    := $(HOSTBUILD)/tests/cgroup
CG_SRCS     := agent/src/cgroup.c agent/src/cgroup_v1.c agent/src/cgroup_v2.c \
               agent/src/cgroup_path.c agent/src/cgroup_mount.c agent/src/err.c agent/src/log.c \
               agent/src/cgroup_devices.c agent/src/cgroup_devices_bpf.c agent/src/cgroup_extra.c
CG_HDRS     := agent/src/cgroup.h agent/src/cgroup_internal.h agent/src/err.h \
               agent/src/cgroup_devices.h agent/src/cgroup_extra.h
CG_T_CFLAGS  = $(HOST_CFLAGS) $(SAN_FLAGS) -Iagent/src

$(CG_T_DIR)/%: tests/unit/%.c tests/unit/cgroup_fake.h $(CG_SRCS) $(CG_HDRS) | $(SETUP_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(CG_T_CFLAGS) $< $(CG_SRCS) -lcmocka -o $@

$(CG_T_DIR)/test_cgroup_real: tests/integration/test_cgroup_real.c tests/integration/check.h \
		$(CG_SRCS) $(CG_HDRS) \
		| $(SETUP_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(CG_T_CFLAGS) $< $(CG_SRCS) -o $@

check-cgroup: $(CG_T_DIR)/test_cgroup $(CG_T_DIR)/test_cgroup_v2 $(CG_T_DIR)/test_cgroup_devices \
		$(CG_T_DIR)/test_cgroup_extra
	$(CG_T_DIR)/test_cgroup
	$(CG_T_DIR)/test_cgroup_v2
	$(CG_T_DIR)/test_cgroup_devices
	$(CG_T_DIR)/test_cgroup_extra

check-cgroup-real: $(CG_T_DIR)/test_cgroup_real
	$(CG_T_DIR)/test_cgroup_real

.PHONY: check-cgroup check-cgroup-real
CHECK_TARGETS += check-cgroup check-cgroup-real
