// SPDX-License-Identifier: Apache-2.0
/* CopyFile (docs/PROTOCOL.md §6.2): files, directories and symlinks under the shared directory
 * only, resolved so that ".." and symlinks cannot escape it; chunked uploads go to a temp file that
 * is renamed once complete. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct copy_file_req {
	const char *path;
	int64_t file_size;
	uint32_t file_mode;
	uint32_t dir_mode;
	int32_t uid, gid;
	int64_t offset;
	const uint8_t *data;
	size_t len;
};

/* root: the shared directory (SHARED_DIR in the agent; a temp dir in tests), created when
 * missing.  Returns 0 or
 * -errno with *reterr set. */
int copy_file(const char *root, const struct copy_file_req *r, struct agent_err *reterr);
/* "a.txt" -> "a.tmp", "a" -> "a.tmp", ".rc" -> ".rc.tmp" (Rust set_extension).  Exposed for tests.
 */
int copy_file_temp_name(const char *name, char *buf, size_t size);
