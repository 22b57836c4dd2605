// SPDX-License-Identifier: Apache-2.0
/* Guest networking over rtnetlink (libnl-route-3): links, addresses, routes, neighbours.
 * Plain C types here; the RPC layer (rpc_network.c) converts from and to the protobuf ones.
 * Every call is a short synchronous netlink exchange with the kernel on one lazily opened
 * socket, which never waits on anything outside the kernel.  Functions return 0 or -errno;
 * the errno is the kernel's own (captured from the netlink error message), not libnl's. */
#pragma once

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define NET_MAC_LEN    6
#define NET_HWADDR_MAX 32 /* MAX_ADDR_LEN */

/* An IP address, or a prefix when prefix < the family's full length. */
struct net_ip {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	unsigned prefix;
};

struct net_link {
	int ifindex;
	char name[IF_NAMESIZE];
	uint8_t hwaddr[NET_HWADDR_MAX];
	size_t hwaddr_len;
	unsigned mtu;
	unsigned flags; /* IFF_* */
};

struct net_addr {
	int ifindex;
	struct net_ip ip; /* prefix = the address's prefix length */
};

struct net_route {
	int family;
	struct net_ip dst; /* prefix 0: default route */
	bool has_gw;
	struct net_ip gw;
	bool has_prefsrc; /* RTA_PREFSRC: preferred source address */
	struct net_ip prefsrc;
	bool has_src; /* RTA_SRC: source prefix (IPv6 source routing) */
	struct net_ip src;
	int ifindex;       /* 0: none */
	unsigned scope;    /* RT_SCOPE_* */
	unsigned flags;    /* rtm_flags */
	unsigned mtu;      /* RTAX_MTU, 0: unset */
	unsigned protocol; /* RTPROT_* (read back only) */
	unsigned table;    /* read back only */
};

struct net_neigh {
	int ifindex;
	struct net_ip dst;
	bool has_lladdr;
	uint8_t lladdr[NET_MAC_LEN];
	unsigned state; /* NUD_*; 0 becomes NUD_PERMANENT */
	unsigned flags; /* NTF_* */
};

/* ---- pure helpers (no netlink) ---- */

/* "aa:bb:cc:dd:ee:ff" (either case; one or two hex digits per byte). -EINVAL otherwise. */
int net_mac_parse(const char *s, uint8_t ret[NET_MAC_LEN]);
/* Lowercase colon-separated hex, as `ip` prints it.  size >= 3 * len suffices. */
void net_hwaddr_format(const uint8_t *a, size_t len, char *buf, size_t size);
/* An IP address without prefix; family AF_UNSPEC accepts both.  ret->prefix = full length. */
int net_ip_parse(const char *s, int family, struct net_ip *ret);
/* A prefix length as a decimal string ("24"); must be <= the family's full length. */
int net_prefix_parse(const char *s, int family, unsigned *ret);
/* "addr" or "addr/len".  Without "/len" the prefix is the full length. */
int net_cidr_parse(const char *s, int family, struct net_ip *ret);
/* The address alone into buf (INET6_ADDRSTRLEN suffices). */
void net_ip_format(const struct net_ip *ip, char *buf, size_t size);
/* "addr/len" (INET6_ADDRSTRLEN + 4 suffices). */
void net_cidr_format(const struct net_ip *ip, char *buf, size_t size);
static inline unsigned net_family_bits(int family)
{
	return family == AF_INET6 ? 128 : 32;
}

/* ---- links ---- */

/* -ENODEV when no link matches. */
int net_link_by_mac(const uint8_t mac[NET_MAC_LEN], struct net_link *ret);
int net_link_by_name(const char *name, struct net_link *ret);
int net_link_by_index(int ifindex, struct net_link *ret);
/* Every link, in ifindex order; *ret is malloc'ed. */
int net_link_list(struct net_link **ret, size_t *ret_n);

/* A change to one link: NULL name / 0 mtu / -1 up or noarp mean "leave as is". */
struct net_link_change {
	const char *name;
	unsigned mtu;
	int up;
	int noarp;
	const uint8_t *mac; /* NET_MAC_LEN bytes, or NULL */
};
int net_link_set(int ifindex, const struct net_link_change *c);

/* ---- addresses ---- */

/* Addresses of one link (ifindex > 0) or of all links (0); *ret is malloc'ed. */
int net_addr_list(int ifindex, struct net_addr **ret, size_t *ret_n);
/* IPv6 addresses are added with IFA_F_NODAD: the guest NIC's address was assigned by the host,
 * and a tentative address could not serve as a route's preferred source right away. */
int net_addr_add(int ifindex, const struct net_ip *ip);
int net_addr_del(int ifindex, const struct net_ip *ip);

/* ---- routes ---- */

/* Routes of the main table, IPv4 then IPv6; *ret is malloc'ed. */
int net_route_list(struct net_route **ret, size_t *ret_n);
/* Add or replace in the main table, as a unicast route of protocol "boot". */
int net_route_replace(const struct net_route *r);
/* Delete the main-table routes a previous update may have left: every one except the kernel's
 * own (protocol "kernel") and those on loopback links.  Returns the number deleted or -errno. */
int net_route_flush(void);

/* ---- neighbours ---- */

/* Add or replace. */
int net_neigh_replace(const struct net_neigh *n);

/* Close the netlink socket (tests; the agent keeps it for its whole life). */
void net_close(void);
