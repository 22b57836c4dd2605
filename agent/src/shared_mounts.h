// SPDX-License-Identifier: Apache-2.0
/* CreateContainerRequest.shared_mounts: a path of one container bind-mounted into another. */
#pragma once

#include <stddef.h>

#include "agent.pb-c.h"
#include "err.h"

/* The destination spec's mounts plus one bind per shared mount aimed at this container. */
struct shared_mounts {
	Grpc__Mount **all; /* the spec's mounts, then the added ones; NULL: none added */
	size_t n_all;
	Grpc__Mount *extra;
	char **paths; /* staging points under the bundle */
	size_t n;
};

/* Stage every shared mount whose dst_ctr is the container being created (its bundle given);
 * fills *ret (all == NULL when there is none).  Errors: -EINVAL for a bad name, a missing source
 * container or a relative dst_path. */
int shared_mounts_prepare(const Grpc__CreateContainerRequest *req, const char *bundle,
                          struct shared_mounts *ret, struct agent_err *reterr);
void shared_mounts_free(struct shared_mounts *s);
/* Unmount and remove the staging points of a container being destroyed. */
void shared_mounts_release(const char *bundle);
