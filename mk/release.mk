# make install and make release: the guest artifacts and host tools in Kata's layout.
#   make install [DESTDIR=dir] [PREFIX=/usr] [ARCH=..] [KATA_KERNEL_PARAMS="..."] [QBOOT=path]
#     -> DESTDIR/PREFIX/share/kata-containers/ (kernels, initrd, image), bin/, share/doc/,
#        share/defaults/kata-containers/kata-agent-c/*.toml (runtime drop-ins); scripts/install.sh
#   make release [ARCH=..]
#     -> build/release/$(VERSION)/$(ARCH)/: kernels, initrd, image, agent, host tools, SHA256SUMS,
#        SPDX 2.3 SBOM (scripts/release.sh); SOURCE_DATE_EPOCH is the last commit's time
#   make check-install   install into a temporary DESTDIR and check the tree
#   make check-release   two releases must be byte-identical; SHA256SUMS and the SBOM checked
#   make check-guides    docs/PVM.md, docs/RISCV64.md: named targets, paths, installed files exist
# The kernel names come from what kernel-configs/build-kernel installed in build/ARCH/kernel
# (version and flavour are read from its file names), so any kernel version it builds is used.

PREFIX  ?= /usr
DESTDIR ?=
# Kata's runtimes boot x86_64 guests with cgroup v2 (the agent reads the same parameters).
KATA_KERNEL_PARAMS ?= cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1
# Firmware for the PVM drop-in (Debian's qemu-system-data).
QBOOT ?= /usr/share/qemu/qboot.rom
KERNEL_OUT  := $(BUILD)/kernel
RELEASE_DIR := build/release/$(VERSION)/$(ARCH)
INSTALL_DOCS = README.md LICENSE $(sort $(wildcard docs/*.md))

INSTALL_ARGS = --arch $(ARCH) --kernel-dir $(KERNEL_OUT) --initrd $(INITRD_IMG) --image $(IMAGE) \
	--ctl $(CTL_BIN) --vhost-user-vsock $(VUV_BIN) --version $(VERSION)

.PHONY: install release check-install check-release check-guides

# Sequential on purpose: initrd and image each rebuild from the agent.
install: | $(SETUP_STAMP)
	$(Q)$(MAKE) --no-print-directory kernel
	$(Q)$(MAKE) --no-print-directory initrd image host-tools
	$(Q)scripts/install.sh $(INSTALL_ARGS) $(if $(DESTDIR),--destdir $(DESTDIR)) --prefix $(PREFIX) \
		--kernel-params "$(KATA_KERNEL_PARAMS)" --qboot $(QBOOT) $(foreach d,$(INSTALL_DOCS),--doc $(d))

release: | $(SETUP_STAMP)
	$(Q)$(MAKE) --no-print-directory kernel
	$(Q)$(MAKE) --no-print-directory initrd image host-tools
	$(Q)SOURCE_DATE_EPOCH=$(GUEST_EPOCH) scripts/release.sh $(INSTALL_ARGS) --out $(RELEASE_DIR) \
		--agent $(AGENT_BIN) --origins $(ROOTFS_ORIGINS) \
		$(if $(strip $(PACKAGES)),--debs $(ROOTFS_DEBS)) --busybox $(BUSYBOX)

check-install: $(CTL_BIN) $(VUV_BIN)
	$(Q)tests/release/test-install.sh --ctl $(CTL_BIN) --vhost-user-vsock $(VUV_BIN)

check-release:
	$(Q)tests/release/test-release.sh

GUIDES := docs/PVM.md docs/RISCV64.md
check-guides:
	$(Q)tests/release/check-guides.sh $(GUIDES)

CHECK_TARGETS += check-install check-guides
