/* What test_network's cases share (network_harness.c).  Every case runs in the test's own
 * network namespace, against the handlers behind an in-process server. */
#ifndef KAC_NETWORK_HARNESS_H
#define KAC_NETWORK_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "agent.pb-c.h"
#include "ttrpc_client.h"

extern const char *matcher; /* test_network.py: matches `ip -j` output against a pattern */
extern struct ttrpc_client cl;

#include "check.h"

#define MAC_A "02:00:00:00:00:01"
#define MAC_B "02:00:00:00:00:11"

/* system(3) of the formatted command: its exit status, -1 when it did not exit */
__attribute__((format(printf, 1, 2))) int sh(const char *fmt, ...);
/* `ip -j ARGS` output matches (ip_has) or does not match (ip_lacks) the pattern */
bool ip_has(const char *args, const char *pattern);
bool ip_lacks(const char *args, const char *pattern);
long count_lines(const char *cmd);

/* The handlers behind a ttrpc server on a socketpair; cl is its client end. */
void server_start(void);
void server_stop(void);
int call(const char *method, const ProtobufCMessage *req, const ProtobufCMessageDescriptor *out,
         ProtobufCMessage **ret_resp, char **ret_msg);
int call_msg(const char *method, const ProtobufCMessage *req, char **ret_msg);
bool contains(const char *msg, const char *s);

Types__IPAddress *ipaddr(Types__IPAddress *a, int v6, const char *addr, const char *mask);
int update_iface(const char *mac, const char *name, unsigned mtu, uint32_t flags,
                 Types__IPAddress **ips, size_t nips, Types__Interface **ret, char **ret_msg);
Types__Route *route(Types__Route *r, int v6, const char *dest, const char *gw, const char *dev,
                    const char *src, unsigned scope, unsigned mtu);
int update_routes(Types__Route **rs, size_t n, Grpc__Routes **ret, char **ret_msg);
const Types__Route *find_route(const Grpc__Routes *rs, const char *dest, const char *dev);

/* test_network_guest.c: cases that depend on the guest's state */
void test_iptables(void);
void test_ipv6_disabled(void);
void test_device_path_wait(void);
void test_template_restore(void);

#endif
