// SPDX-License-Identifier: Apache-2.0
/* Networking RPCs (docs/PROTOCOL.md §2.4 rows 19–25, §3.3 step 4):
 * UpdateInterface, UpdateRoutes, ListInterfaces, ListRoutes, AddARPNeighbors over net.c, and
 * GetIPTables/SetIPTables, which run iptables-save/-restore without blocking the loop. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"
#include "net.h"
#include "ttrpc.h"
#include "types.pb-c.h"

void rpc_update_interface(struct ttrpc_call *call, const void *req);
void rpc_update_routes(struct ttrpc_call *call, const void *req);
void rpc_list_interfaces(struct ttrpc_call *call, const void *req);
void rpc_list_routes(struct ttrpc_call *call, const void *req);
void rpc_add_arp_neighbors(struct ttrpc_call *call, const void *req);
void rpc_get_ip_tables(struct ttrpc_call *call, const void *req);
void rpc_set_ip_tables(struct ttrpc_call *call, const void *req);

/* Child-exit handler: true if pid was an iptables child of ours (its status is consumed). */
bool net_child_exited(pid_t pid, int status);

/* Directories searched, in order, for the iptables tools (NULL-terminated); tests point it at
 * fakes.  Default: /usr/sbin, /sbin. */
extern const char *const *net_iptables_dirs;

/* ---- helpers exposed for unit tests ---- */

/* The order UpdateRoutes applies routes in: those without a gateway first (a gateway must be
 * reachable through an on-link route before a route can use it), otherwise as given. */
void net_order_routes(Types__Route *const *in, size_t n, Types__Route **out);

/* A Route message to a net_route (the device is resolved separately).  *reterr says why. */
int net_route_from_msg(const Types__Route *m, struct net_route *ret, struct agent_err *reterr);
