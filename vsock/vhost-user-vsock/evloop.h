/* SPDX-License-Identifier: Apache-2.0 */
/* One round of the epoll loop: wait, then hand each ready source to its callback. */
#ifndef VUV_EVLOOP_H
#define VUV_EVLOOP_H

#include <errno.h>
#include <sys/epoll.h>

#include "util.h"

static inline int ev_run_once(int epfd, int timeout_ms)
{
	struct epoll_event evs[32];
	int n = epoll_wait(epfd, evs, (int)ARRAY_SIZE(evs), timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		struct ev_src *s = evs[i].data.ptr;
		s->fn(s, evs[i].events);
	}
	return n;
}

#endif
