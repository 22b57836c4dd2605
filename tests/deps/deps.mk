# tests/deps: smoke test of the static dependencies (build/ARCH/deps) for BOTH architectures,
# whatever ARCH is: a program using libnl-route-3, libseccomp and protobuf-c is linked with each
# arch's AGENT_CC and flags, then tests/deps/check.sh checks the ELF and runs it (riscv64 under
# qemu-riscv64-static).

DEPS_SMOKE_x86_64  := build/x86_64/tests/deps/smoke
DEPS_SMOKE_riscv64 := build/riscv64/tests/deps/smoke

define deps_smoke_rule
$$(DEPS_SMOKE_$(1)): tests/deps/smoke.c $$(DEPS_STAMP_$(1))
	$$(Q)mkdir -p $$(@D)
	$$(Q)$$(AGENT_CC_$(1)) $$(COMMON_CFLAGS) $$(AGENT_CFLAGS_ARCH_$(1)) $$(AGENT_CPPFLAGS_$(1)) \
		-o $$@ $$< $$(AGENT_LDFLAGS_$(1)) $$(AGENT_LIBS)
endef
$(foreach a,$(DEPS_ARCHES),$(eval $(call deps_smoke_rule,$(a))))

check-deps: $(foreach a,$(DEPS_ARCHES),$(DEPS_SMOKE_$(a)))
	$(Q)tests/deps/check.sh $(foreach a,$(DEPS_ARCHES),--binary $(a)=$(DEPS_SMOKE_$(a)))

.PHONY: check-deps
CHECK_TARGETS += check-deps
CHECK_GUEST_TARGETS += check-deps
