// SPDX-License-Identifier: Apache-2.0
/* Shared between storage.c (requests, reference counts) and storage_drivers.c (handlers). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "storage.h"
#include "uevent.h"

/* A request's own copy of one Grpc__Storage. */
struct stor {
	char *driver, *source, *fstype, *mount_point;
	char **options;
	size_t n_options;
	char **driver_options;
	size_t n_driver_options;
	bool has_fs_group, fs_group_on_mismatch, shared;
	unsigned fs_gid;
};

struct stor_driver {
	const char *name;
	/* Synchronous drivers: do everything; *ret_mounted says whether something now needs
	 * unmounting on release (false for local, or virtio-fs found already mounted). */
	int (*mount)(const struct stor *s, bool *ret_mounted, struct agent_err *reterr);
	bool block; /* waits for a uevent first, then stor_mount_block() */
	enum uevent_blk_kind blk_kind;
};

const struct stor_driver *stor_driver_find(const char *name);
/* For block drivers: parse the source into what to wait for. */
int stor_block_spec(const struct stor *s, const struct stor_driver *d, struct uevent_blk *ret,
                    struct agent_err *reterr);
/* Mount the block device of a matched event. */
int stor_mount_block(const struct stor *s, const struct uevent *ev, bool *ret_mounted,
                     struct agent_err *reterr);
/* fs_group: chgrp -R gid, g+rw (g+r when ro), setgid and g+x on directories. */
int stor_fs_group(const char *root, unsigned gid, bool ro, bool only_on_root_mismatch,
                  struct agent_err *reterr);

extern const struct storage_sys *stor_sys;
