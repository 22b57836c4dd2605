# Shared compiler settings.

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-unused-parameter \
        -Wmissing-prototypes -Wstrict-prototypes -Wvla
# -Ulinux: GNU C predefines the legacy macro `linux` (=1), which breaks the protoc-c
# generated struct member for the OCI Spec's `Linux` field; code must use __linux__.
COMMON_CFLAGS := -std=gnu11 -D_GNU_SOURCE -Ulinux $(WARN) -fstack-protector-strong -pipe

# Host tools (ctl, proxy, vhost-user-vsock) and the unit-test build: ordinary glibc.
HOST_CC     ?= gcc
HOST_CFLAGS := $(COMMON_CFLAGS) -O2 -g -D_FORTIFY_SOURCE=2
# Unit tests rebuild the agent's modules for the host with sanitizers.
SAN_FLAGS   := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all

Q := $(if $(V),,@)
