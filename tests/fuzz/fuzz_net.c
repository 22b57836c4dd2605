/* Network request translation: the address, prefix and MAC strings of UpdateInterface /
 * UpdateRoutes / AddARPNeighbors (net_ip_parse, net_prefix_parse, net_cidr_parse,
 * net_mac_parse) and Route messages into struct net_route (net_route_from_msg), plus the
 * order routes are applied in (net_order_routes).  Nothing here talks netlink.
 *
 * Input: u8 family selector (0 unspecified, 1 IPv4, 2 IPv6), then NUL-separated strings used
 * as address, CIDR, MAC, and per route (u8 count up to 16) dest, gateway, source, plus u32
 * scope, flags and mtu and a u8 family.
 *
 * Properties: parsed addresses format and re-parse to the same bytes and prefix; prefixes
 * never exceed the family's length; a CIDR without "/" has the full length; MAC strings
 * round-trip through net_hwaddr_format; an accepted route has destination, gateway and
 * source in the route's family (when it names one), a gateway with the full prefix, a
 * preferred source as a host address; net_order_routes is a permutation putting every
 * gateway-less route first, keeping the given order within each group. */
#include <arpa/inet.h>
#include <string.h>

#include "fuzz_common.h"
#include "rpc_network.h"

#define MAX_ROUTES 16

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_logs();
	return 0;
}

static const int families[] = {AF_UNSPEC, AF_INET, AF_INET6};

static void check_ip(const struct net_ip *ip, int family)
{
	FUZZ_ASSERT(ip->family == AF_INET || ip->family == AF_INET6);
	FUZZ_ASSERT(family == AF_UNSPEC || ip->family == family);
	FUZZ_ASSERT(ip->prefix <= net_family_bits(ip->family));
	char buf[INET6_ADDRSTRLEN + 8];
	net_cidr_format(ip, buf, sizeof(buf));
	struct net_ip back;
	FUZZ_ASSERT(net_cidr_parse(buf, ip->family, &back) == 0);
	FUZZ_ASSERT(back.family == ip->family && back.prefix == ip->prefix);
	FUZZ_ASSERT(memcmp(back.addr, ip->addr, ip->family == AF_INET ? 4 : 16) == 0);
}

static void strings(struct fuzz_in *in, int family)
{
	_cleanup_free_ char *addr = fuzz_str(in), *cidr = fuzz_str(in), *mac = fuzz_str(in);
	struct net_ip ip;
	if (net_ip_parse(addr, family, &ip) == 0) {
		check_ip(&ip, family);
		FUZZ_ASSERT(ip.prefix == net_family_bits(ip.family));
		FUZZ_ASSERT(!strchr(addr, '/'));
	}
	if (net_cidr_parse(cidr, family, &ip) == 0) {
		check_ip(&ip, family);
		if (!strchr(cidr, '/'))
			FUZZ_ASSERT(ip.prefix == net_family_bits(ip.family));
	}
	unsigned prefix;
	if (net_prefix_parse(cidr, family, &prefix) == 0)
		FUZZ_ASSERT(prefix <= (family == AF_INET6 ? 128u : 32u));
	uint8_t m[NET_MAC_LEN], back[NET_MAC_LEN];
	if (net_mac_parse(mac, m) == 0) {
		char buf[3 * NET_MAC_LEN];
		net_hwaddr_format(m, NET_MAC_LEN, buf, sizeof(buf));
		FUZZ_ASSERT(strlen(buf) == 17);
		FUZZ_ASSERT(net_mac_parse(buf, back) == 0 && memcmp(m, back, sizeof(m)) == 0);
		FUZZ_ASSERT(strcasecmp(buf, mac) == 0 || strlen(mac) < 17);
	}
}

static bool has_gw(const Types__Route *r)
{
	return r->gateway && *r->gateway;
}

static void routes(struct fuzz_in *in)
{
	size_t n = fuzz_u8(in) % (MAX_ROUTES + 1);
	Types__Route rt[MAX_ROUTES], *in_v[MAX_ROUTES], *out_v[MAX_ROUTES];
	for (size_t i = 0; i < n; i++) {
		Types__Route *r = &rt[i];
		*r = (Types__Route)TYPES__ROUTE__INIT;
		r->dest = fuzz_str(in);
		r->gateway = fuzz_str(in);
		r->source = fuzz_str(in);
		r->scope = fuzz_u32(in);
		r->flags = fuzz_u32(in);
		r->mtu = fuzz_u32(in);
		r->family = (Types__IPFamily)(fuzz_u8(in) % 3);
		in_v[i] = r;
		struct net_route nr;
		struct agent_err err = {0};
		if (net_route_from_msg(r, &nr, &err) < 0) {
			FUZZ_ASSERT(err.msg[0]);
			continue;
		}
		if (*r->dest)
			check_ip(&nr.dst, nr.family == AF_INET6 ? AF_INET6 : nr.family);
		else
			FUZZ_ASSERT(nr.dst.prefix == 0);
		FUZZ_ASSERT(nr.has_gw == has_gw(r));
		if (nr.has_gw) {
			check_ip(&nr.gw, nr.family);
			FUZZ_ASSERT(nr.gw.prefix == net_family_bits(nr.gw.family));
		}
		FUZZ_ASSERT(!(nr.has_src && nr.has_prefsrc));
		if (nr.has_prefsrc)
			FUZZ_ASSERT(nr.prefsrc.prefix == net_family_bits(nr.prefsrc.family));
		if (nr.has_src)
			FUZZ_ASSERT(nr.src.prefix > 0 && strchr(r->source, '/'));
		FUZZ_ASSERT(nr.scope == r->scope && nr.mtu == r->mtu);
	}
	net_order_routes(in_v, n, out_v);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!has_gw(in_v[i]))
			FUZZ_ASSERT(out_v[k++] == in_v[i]);
	for (size_t i = 0; i < n; i++)
		if (has_gw(in_v[i]))
			FUZZ_ASSERT(out_v[k++] == in_v[i]);
	FUZZ_ASSERT(k == n);
	for (size_t i = 0; i < n; i++) {
		free(rt[i].dest);
		free(rt[i].gateway);
		free(rt[i].source);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	int family = families[fuzz_u8(&in) % 3];
	strings(&in, family);
	routes(&in);
	return 0;
}
