// SPDX-License-Identifier: Apache-2.0
/* rtnetlink through libnl-route-3.  See net.h.
 *
 * libnl folds kernel errors into its own NLE_* codes (ENETUNREACH and most others become
 * "unspecific failure"), so the socket carries an error callback that keeps the kernel's errno
 * of the last request; callers get that, and only fall back to a mapping of the NLE_* code when
 * libnl failed on its own. */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <netlink/route/rtnl.h>
#include <netlink/socket.h>

#include "util.h"

/* ---- pure helpers ---- */

int net_mac_parse(const char *s, uint8_t ret[NET_MAC_LEN])
{
	uint8_t mac[NET_MAC_LEN];
	for (size_t i = 0; i < NET_MAC_LEN; i++) {
		int hi = hex_digit(*s++);
		if (hi < 0)
			return -EINVAL;
		int lo = hex_digit(*s);
		if (lo >= 0) {
			mac[i] = (uint8_t)(hi << 4 | lo);
			s++;
		} else {
			mac[i] = (uint8_t)hi;
		}
		if (i + 1 < NET_MAC_LEN && *s++ != ':')
			return -EINVAL;
	}
	if (*s)
		return -EINVAL;
	memcpy(ret, mac, sizeof(mac));
	return 0;
}

void net_hwaddr_format(const uint8_t *a, size_t len, char *buf, size_t size)
{
	size_t off = 0;
	if (size)
		buf[0] = '\0';
	for (size_t i = 0; i < len; i++) {
		size_t need = (i ? 3 : 2) + 1;
		if (off + need > size)
			break;
		off += (size_t)snprintf(buf + off, size - off, "%s%02x", i ? ":" : "", a[i]);
	}
}

int net_ip_parse(const char *s, int family, struct net_ip *ret)
{
	struct net_ip ip = {0};
	if ((family == AF_UNSPEC || family == AF_INET) && inet_pton(AF_INET, s, ip.addr) == 1)
		ip.family = AF_INET;
	else if ((family == AF_UNSPEC || family == AF_INET6) &&
	         inet_pton(AF_INET6, s, ip.addr) == 1)
		ip.family = AF_INET6;
	else
		return -EINVAL;
	ip.prefix = net_family_bits(ip.family);
	*ret = ip;
	return 0;
}

int net_prefix_parse(const char *s, int family, unsigned *ret)
{
	unsigned v = 0;
	if (!*s || strlen(s) > 3)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(*s - '0');
	}
	if (v > net_family_bits(family == AF_INET6 ? AF_INET6 : AF_INET))
		return -EINVAL;
	*ret = v;
	return 0;
}

int net_cidr_parse(const char *s, int family, struct net_ip *ret)
{
	char buf[INET6_ADDRSTRLEN + 8];
	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	char *slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	struct net_ip ip;
	int r = net_ip_parse(buf, family, &ip);
	if (r < 0)
		return r;
	if (slash) {
		r = net_prefix_parse(slash + 1, ip.family, &ip.prefix);
		if (r < 0)
			return r;
	}
	*ret = ip;
	return 0;
}

void net_ip_format(const struct net_ip *ip, char *buf, size_t size)
{
	if (!inet_ntop(ip->family, ip->addr, buf, (socklen_t)size) && size)
		buf[0] = '\0';
}

void net_cidr_format(const struct net_ip *ip, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];
	net_ip_format(ip, a, sizeof(a));
	snprintf(buf, size, "%s/%u", a, ip->prefix);
}

/* ---- libnl plumbing ---- */

DEFINE_CLEANUP_FUNC(struct nl_addr, nl_addr_put)
DEFINE_CLEANUP_FUNC(struct nl_cache, nl_cache_free)
DEFINE_CLEANUP_FUNC(struct rtnl_link, rtnl_link_put)
DEFINE_CLEANUP_FUNC(struct rtnl_addr, rtnl_addr_put)
DEFINE_CLEANUP_FUNC(struct rtnl_route, rtnl_route_put)
DEFINE_CLEANUP_FUNC(struct rtnl_neigh, rtnl_neigh_put)
#define _cleanup_nladdr_ _cleanup_(nl_addr_putp)
#define _cleanup_cache_  _cleanup_(nl_cache_freep)

static struct nl_sock *sock;

/* The kernel's errno from an NLMSG_ERROR, into the int the current request gave get_sock. */
static int on_nl_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	*(int *)arg = -e->error;
	return NL_STOP;
}

/* The shared socket, with its error callback pointed at the caller's *kerr (zeroed): every
 * request goes through here first, so the callback never writes into a finished frame. */
static int get_sock(struct nl_sock **ret, int *kerr)
{
	if (!sock) {
		struct nl_sock *s = nl_socket_alloc();
		if (!s)
			return -ENOMEM;
		int r = nl_connect(s, NETLINK_ROUTE);
		if (r < 0) {
			nl_socket_free(s);
			return r == -NLE_NOMEM ? -ENOMEM : -EPROTONOSUPPORT;
		}
		sock = s;
	}
	nl_socket_modify_err_cb(sock, NL_CB_CUSTOM, on_nl_error, kerr);
	*kerr = 0;
	*ret = sock;
	return 0;
}

void net_close(void)
{
	if (sock) {
		nl_socket_free(sock);
		sock = NULL;
	}
}

/* A libnl result as -errno, preferring what the kernel said (kerr, 0 if nothing). */
static int nlerr(int r, int kerr)
{
	static const struct {
		int nle, err;
	} map[] = {
	    {NLE_NOMEM, ENOMEM},         {NLE_EXIST, EEXIST},
	    {NLE_OBJ_NOTFOUND, ENOENT},  {NLE_NODEV, ENODEV},
	    {NLE_INVAL, EINVAL},         {NLE_PERM, EPERM},
	    {NLE_BUSY, EBUSY},           {NLE_RANGE, ERANGE},
	    {NLE_NOADDR, EADDRNOTAVAIL}, {NLE_AGAIN, EAGAIN},
	    {NLE_OPNOTSUPP, EOPNOTSUPP}, {NLE_NOACCESS, EACCES},
	    {NLE_MSGSIZE, EMSGSIZE},     {NLE_AF_NOSUPPORT, EAFNOSUPPORT},
	    {NLE_MISSING_ATTR, EINVAL},  {NLE_NOATTR, EINVAL},
	};
	if (r >= 0)
		return 0;
	if (kerr > 0)
		return -kerr;
	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if (map[i].nle == -r)
			return -map[i].err;
	return -EIO;
}

static int to_nladdr(const struct net_ip *ip, struct nl_addr **ret)
{
	struct nl_addr *a = nl_addr_build(ip->family, ip->addr, ip->family == AF_INET6 ? 16 : 4);
	if (!a)
		return -ENOMEM;
	nl_addr_set_prefixlen(a, (int)ip->prefix);
	*ret = a;
	return 0;
}

/* false when the address is absent or not an IP address. */
static bool from_nladdr(struct nl_addr *a, int family, struct net_ip *ret)
{
	if (!a)
		return false;
	unsigned len = nl_addr_get_len(a);
	unsigned want = family == AF_INET6 ? 16 : 4;
	*ret = (struct net_ip){.family = family, .prefix = (unsigned)nl_addr_get_prefixlen(a)};
	if (len == want)
		memcpy(ret->addr, nl_addr_get_binary_addr(a), want);
	else if (len != 0) /* absent RTA_DST (default route): all zeroes */
		return false;
	return true;
}

/* ---- links ---- */

static void link_fill(struct rtnl_link *l, struct net_link *ret)
{
	*ret = (struct net_link){.ifindex = rtnl_link_get_ifindex(l),
	                         .mtu = rtnl_link_get_mtu(l),
	                         .flags = rtnl_link_get_flags(l)};
	const char *name = rtnl_link_get_name(l);
	if (name)
		snprintf(ret->name, sizeof(ret->name), "%s", name);
	struct nl_addr *a = rtnl_link_get_addr(l);
	if (a && nl_addr_get_len(a) <= NET_HWADDR_MAX) {
		ret->hwaddr_len = nl_addr_get_len(a);
		memcpy(ret->hwaddr, nl_addr_get_binary_addr(a), ret->hwaddr_len);
	}
}

/* Walk the link dump; match() picks one (stop at the first) or NULL collects all. */
static int link_walk(bool (*match)(const struct net_link *l, const void *key), const void *key,
                     struct net_link **ret, size_t *ret_n)
{
	struct nl_sock *sk;
	int kerr = 0;
	int r = get_sock(&sk, &kerr);
	if (r < 0)
		return r;
	_cleanup_cache_ struct nl_cache *cache = NULL;
	r = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache);
	if (r < 0)
		return nlerr(r, kerr);
	size_t n = 0, cap = (size_t)nl_cache_nitems(cache);
	_cleanup_free_ struct net_link *v = calloc(cap ? cap : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (struct nl_object *o = nl_cache_get_first(cache); o && n < cap;
	     o = nl_cache_get_next(o)) {
		link_fill((struct rtnl_link *)o, &v[n]);
		if (!match) {
			n++;
		} else if (match(&v[n], key)) {
			n++;
			break;
		}
	}
	if (match && n == 0)
		return -ENODEV;
	*ret = TAKE_PTR(v);
	*ret_n = n;
	return 0;
}

static int link_find(bool (*match)(const struct net_link *l, const void *key), const void *key,
                     struct net_link *ret)
{
	_cleanup_free_ struct net_link *v = NULL;
	size_t n;
	int r = link_walk(match, key, &v, &n);
	if (r < 0)
		return r;
	*ret = v[0];
	return 0;
}

static bool match_mac(const struct net_link *l, const void *key)
{
	return l->hwaddr_len == NET_MAC_LEN && memcmp(l->hwaddr, key, NET_MAC_LEN) == 0;
}
static bool match_name(const struct net_link *l, const void *key)
{
	return strcmp(l->name, key) == 0;
}
static bool match_index(const struct net_link *l, const void *key)
{
	return l->ifindex == *(const int *)key;
}

int net_link_by_mac(const uint8_t mac[NET_MAC_LEN], struct net_link *ret)
{
	return link_find(match_mac, mac, ret);
}

int net_link_by_name(const char *name, struct net_link *ret)
{
	return link_find(match_name, name, ret);
}

int net_link_by_index(int ifindex, struct net_link *ret)
{
	return link_find(match_index, &ifindex, ret);
}

static int link_cmp(const void *a, const void *b)
{
	const struct net_link *x = a, *y = b;
	return (x->ifindex > y->ifindex) - (x->ifindex < y->ifindex);
}

int net_link_list(struct net_link **ret, size_t *ret_n)
{
	struct net_link *v;
	size_t n;
	int r = link_walk(NULL, NULL, &v, &n);
	if (r < 0)
		return r;
	qsort(v, n, sizeof(*v), link_cmp);
	*ret = v;
	*ret_n = n;
	return 0;
}

int net_link_set(int ifindex, const struct net_link_change *c)
{
	struct nl_sock *sk;
	int kerr = 0;
	int r = get_sock(&sk, &kerr);
	if (r < 0)
		return r;
	_cleanup_(rtnl_link_putp) struct rtnl_link *orig = NULL;
	r = rtnl_link_get_kernel(sk, ifindex, NULL, &orig);
	if (r < 0)
		return r == -NLE_OBJ_NOTFOUND || kerr == ENODEV ? -ENODEV : nlerr(r, kerr);
	_cleanup_(rtnl_link_putp) struct rtnl_link *ch = rtnl_link_alloc();
	if (!ch)
		return -ENOMEM;
	if (c->name) {
		if (strlen(c->name) >= IF_NAMESIZE || !*c->name)
			return -EINVAL;
		rtnl_link_set_name(ch, c->name);
	}
	if (c->mtu)
		rtnl_link_set_mtu(ch, c->mtu);
	_cleanup_nladdr_ struct nl_addr *mac = NULL;
	if (c->mac) {
		if (!(mac = nl_addr_build(AF_LLC, c->mac, NET_MAC_LEN)))
			return -ENOMEM;
		rtnl_link_set_addr(ch, mac);
	}
	if (c->up > 0)
		rtnl_link_set_flags(ch, IFF_UP);
	else if (c->up == 0)
		rtnl_link_unset_flags(ch, IFF_UP);
	if (c->noarp > 0)
		rtnl_link_set_flags(ch, IFF_NOARP);
	else if (c->noarp == 0)
		rtnl_link_unset_flags(ch, IFF_NOARP);
	kerr = 0;
	r = rtnl_link_change(sk, orig, ch, 0);
	return nlerr(r, kerr);
}

/* ---- addresses ---- */

int net_addr_list(int ifindex, struct net_addr **ret, size_t *ret_n)
{
	struct nl_sock *sk;
	int kerr = 0;
	int r = get_sock(&sk, &kerr);
	if (r < 0)
		return r;
	_cleanup_cache_ struct nl_cache *cache = NULL;
	r = rtnl_addr_alloc_cache(sk, &cache);
	if (r < 0)
		return nlerr(r, kerr);
	size_t n = 0, cap = (size_t)nl_cache_nitems(cache);
	_cleanup_free_ struct net_addr *v = calloc(cap ? cap : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (struct nl_object *o = nl_cache_get_first(cache); o && n < cap;
	     o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		int fam = rtnl_addr_get_family(a);
		if (ifindex > 0 && rtnl_addr_get_ifindex(a) != ifindex)
			continue;
		if (fam != AF_INET && fam != AF_INET6)
			continue;
		if (!from_nladdr(rtnl_addr_get_local(a), fam, &v[n].ip))
			continue;
		v[n].ip.prefix = (unsigned)rtnl_addr_get_prefixlen(a);
		v[n].ifindex = rtnl_addr_get_ifindex(a);
		n++;
	}
	*ret = TAKE_PTR(v);
	*ret_n = n;
	return 0;
}

static int addr_build(int ifindex, const struct net_ip *ip, struct rtnl_addr **ret)
{
	_cleanup_(rtnl_addr_putp) struct rtnl_addr *a = rtnl_addr_alloc();
	_cleanup_nladdr_ struct nl_addr *local = NULL;
	if (!a)
		return -ENOMEM;
	int r = to_nladdr(ip, &local);
	if (r < 0)
		return r;
	rtnl_addr_set_ifindex(a, ifindex);
	rtnl_addr_set_family(a, ip->family);
	r = rtnl_addr_set_local(a, local);
	if (r < 0)
		return nlerr(r, 0);
	rtnl_addr_set_prefixlen(a, (int)ip->prefix);
	*ret = TAKE_PTR(a);
	return 0;
}

int net_addr_add(int ifindex, const struct net_ip *ip)
{
	struct nl_sock *sk;
	int kerr = 0;
	int r = get_sock(&sk, &kerr);
	if (r < 0)
		return r;
	_cleanup_(rtnl_addr_putp) struct rtnl_addr *a = NULL;
	r = addr_build(ifindex, ip, &a);
	if (r < 0)
		return r;
	if (ip->family == AF_INET6)
		rtnl_addr_set_flags(a, IFA_F_NODAD);
	kerr = 0;
	r = rtnl_addr_add(sk, a, 0);
	return nlerr(r, kerr);
}

int net_addr_del(int ifindex, const struct net_ip *ip)
{
	struct nl_sock *sk;
	int kerr = 0;
	int r = get_sock(&sk, &kerr);
	if (r < 0)
		return r;
	_cleanup_(rtnl_addr_putp) struct rtnl_addr *a = NULL;
	r = addr_build(ifindex, ip, &a);
	if (r < 0)
		return r;
	kerr = 0;
	r = rtnl_addr_delete(sk, a, 0);
	return nlerr(r, kerr);
}

/* ---- routes ---- */

static bool route_fill(struct rtnl_route *rt, struct net_route *ret)
{
	int fam = rtnl_route_get_family(rt);
	if (fam != AF_INET && fam != AF_INET6)
		return false;
	*ret = (struct net_route){.family = fam,
	                          .scope = rtnl_route_get_scope(rt),
	                          .flags = rtnl_route_get_flags(rt),
	                          .protocol = rtnl_route_get_protocol(rt),
	                          .table = rtnl_route_get_table(rt)};
	if (!from_nladdr(rtnl_route_get_dst(rt), fam, &ret->dst))
		ret->dst = (struct net_ip){.family = fam};
	struct net_ip ip;
	if (from_nladdr(rtnl_route_get_pref_src(rt), fam, &ip)) {
		ret->has_prefsrc = true;
		ret->prefsrc = ip;
		ret->prefsrc.prefix = net_family_bits(fam);
	}
	struct nl_addr *src = rtnl_route_get_src(rt);
	if (src && nl_addr_get_len(src) && from_nladdr(src, fam, &ip)) {
		ret->has_src = true;
		ret->src = ip;
	}
	uint32_t mtu;
	if (rtnl_route_get_metric(rt, RTAX_MTU, &mtu) == 0)
		ret->mtu = mtu;
	if (rtnl_route_get_nnexthops(rt) > 0) {
		struct rtnl_nexthop *nh = rtnl_route_nexthop_n(rt, 0);
		ret->ifindex = rtnl_route_nh_get_ifindex(nh);
		struct nl_addr *gw = rtnl_route_nh_get_gateway(nh);
		if (gw && nl_addr_get_len(gw) && from_nladdr(gw, fam, &ip)) {
			ret->has_gw = true;
			ret->gw = ip;
			ret->gw.prefix = net_family_bits(fam);
		}
	}
	return true;
}

/* The routes of every table, one object per kernel message.  Not a libnl cache: its objects
 * are keyed by (family, tos, table, dst, priority), so routes that differ only in their device
 * (every link's fe80::/64) would collapse into one. */
struct route_set {
	struct rtnl_route **v;
	size_t n, cap;
	int err;
};

static void route_set_free(struct route_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		rtnl_route_put(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

static int on_route_msg(struct nl_msg *msg, void *arg)
{
	struct route_set *s = arg;
	struct rtnl_route *rt = NULL;
	if (s->err)
		return NL_SKIP;
	int r = rtnl_route_parse(nlmsg_hdr(msg), &rt);
	if (r < 0) {
		s->err = r == -NLE_NOMEM ? -ENOMEM : -EPROTO;
		return NL_SKIP;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		struct rtnl_route **v = realloc(s->v, cap * sizeof(*v));
		if (!v) {
			rtnl_route_put(rt);
			s->err = -ENOMEM;
			return NL_SKIP;
		}
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = rt;
	return NL_OK;
}

static int route_dump(struct nl_sock *sk, struct route_set *ret, int *kerr)
{
	struct route_set s = {0};
	struct nl_cb *own = nl_socket_get_cb(sk); /* takes a reference */
	struct nl_cb *cb = nl_cb_clone(own);
	nl_cb_put(own);
	if (!cb)
		return -ENOMEM;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_route_msg, &s);
	*kerr = 0;
	int r = nl_rtgen_request(sk, RTM_GETROUTE, AF_UNSPEC, NLM_F_DUMP);
	if (r >= 0)
		r = nl_recvmsgs(sk, cb);
	nl_cb_put(cb);
	r = r < 0 ? nlerr(r, *kerr) : s.err;
	if (r < 0) {
		route_set_free(&s);
		return r;
	}
	*ret = s;
	return 0;
}

static int route_family_cmp(const void *a, const void *b)
{
	const struct net_route *x = a, *y = b;
	return (x->family > y->family) - (x->family < y->family);
}

int net_route_list(struct net_route **ret, size_t *ret_n)
{
	struct nl_sock *sk;
	int kerr = 0;
	int r = get_sock(&sk, &kerr);
	if (r < 0)
		return r;
	_cleanup_(route_set_free) struct route_set set = {0};
	r = route_dump(sk, &set, &kerr);
	if (r < 0)
		return r;
	size_t n = 0;
	_cleanup_free_ struct net_route *v = calloc(set.n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < set.n; i++) {
		struct rtnl_route *rt = set.v[i];
		if (rtnl_route_get_table(rt) != RT_TABLE_MAIN)
			continue;
		if (route_fill(rt, &v[n]))
			n++;
	}
	/* The dump order within a family is the kernel's; keep it, but IPv4 first. */
	qsort(v, n, sizeof(*v), route_family_cmp);
	*ret = TAKE_PTR(v);
	*ret_n = n;
	return 0;
}

int net_route_replace(const struct net_route *r)
{
	struct nl_sock *sk;
	int kerr = 0;
	int rc = get_sock(&sk, &kerr);
	if (rc < 0)
		return rc;
	_cleanup_(rtnl_route_putp) struct rtnl_route *rt = rtnl_route_alloc();
	if (!rt)
		return -ENOMEM;
	rtnl_route_set_family(rt, (uint8_t)r->family);
	rtnl_route_set_table(rt, RT_TABLE_MAIN);
	rtnl_route_set_type(rt, RTN_UNICAST);
	rtnl_route_set_protocol(rt, RTPROT_BOOT);
	rtnl_route_set_scope(rt, (uint8_t)r->scope);
	/* Only ONLINK makes sense on a new route; the host copies its own route's rtm_flags, and
	 * the kernel refuses DEAD/LINKDOWN. */
	if (r->flags & RTNH_F_ONLINK)
		rtnl_route_set_flags(rt, RTNH_F_ONLINK);

	_cleanup_nladdr_ struct nl_addr *dst = NULL, *gw = NULL, *src = NULL, *prefsrc = NULL;
	if ((rc = to_nladdr(&r->dst, &dst)) < 0)
		return rc;
	if ((rc = rtnl_route_set_dst(rt, dst)) < 0)
		return nlerr(rc, kerr);
	if (r->has_src) {
		if ((rc = to_nladdr(&r->src, &src)) < 0)
			return rc;
		if ((rc = rtnl_route_set_src(rt, src)) < 0)
			return nlerr(rc, kerr);
	}
	if (r->has_prefsrc) {
		if ((rc = to_nladdr(&r->prefsrc, &prefsrc)) < 0)
			return rc;
		if ((rc = rtnl_route_set_pref_src(rt, prefsrc)) < 0)
			return nlerr(rc, kerr);
	}
	if (r->mtu && (rc = rtnl_route_set_metric(rt, RTAX_MTU, r->mtu)) < 0)
		return nlerr(rc, kerr);

	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	if (!nh)
		return -ENOMEM;
	rtnl_route_nh_set_ifindex(nh, r->ifindex);
	if (r->has_gw) {
		if ((rc = to_nladdr(&r->gw, &gw)) < 0) {
			rtnl_route_nh_free(nh);
			return rc;
		}
		rtnl_route_nh_set_gateway(nh, gw);
	}
	rtnl_route_add_nexthop(rt, nh); /* the route owns it now */
	kerr = 0;
	rc = rtnl_route_add(sk, rt, NLM_F_REPLACE);
	return nlerr(rc, kerr);
}

int net_route_flush(void)
{
	struct nl_sock *sk;
	int kerr = 0;
	int r = get_sock(&sk, &kerr);
	if (r < 0)
		return r;
	_cleanup_(route_set_free) struct route_set set = {0};
	r = route_dump(sk, &set, &kerr);
	if (r < 0)
		return r;
	_cleanup_free_ struct net_link *links = NULL;
	size_t nlinks;
	r = link_walk(NULL, NULL, &links, &nlinks);
	if (r < 0)
		return r;
	int deleted = 0;
	for (size_t i = 0; i < set.n; i++) {
		struct rtnl_route *rt = set.v[i];
		struct net_route nr;
		if (rtnl_route_get_table(rt) != RT_TABLE_MAIN || !route_fill(rt, &nr))
			continue;
		if (nr.protocol == RTPROT_KERNEL || nr.ifindex <= 0)
			continue;
		bool loopback = false;
		for (size_t k = 0; k < nlinks; k++)
			if (links[k].ifindex == nr.ifindex)
				loopback = links[k].flags & IFF_LOOPBACK;
		if (loopback)
			continue;
		kerr = 0;
		r = rtnl_route_delete(sk, rt, 0);
		/* Deleting a route can take dependent ones with it: ESRCH is no failure. */
		if (r < 0 && kerr != ESRCH)
			return nlerr(r, kerr);
		if (r >= 0)
			deleted++;
	}
	return deleted;
}

/* ---- neighbours ---- */

int net_neigh_replace(const struct net_neigh *n)
{
	struct nl_sock *sk;
	int kerr = 0;
	int r = get_sock(&sk, &kerr);
	if (r < 0)
		return r;
	_cleanup_(rtnl_neigh_putp) struct rtnl_neigh *ne = rtnl_neigh_alloc();
	_cleanup_nladdr_ struct nl_addr *dst = NULL, *ll = NULL;
	if (!ne)
		return -ENOMEM;
	struct net_ip d = n->dst;
	d.prefix = net_family_bits(d.family);
	if ((r = to_nladdr(&d, &dst)) < 0)
		return r;
	rtnl_neigh_set_ifindex(ne, n->ifindex);
	rtnl_neigh_set_family(ne, d.family);
	if ((r = rtnl_neigh_set_dst(ne, dst)) < 0)
		return nlerr(r, kerr);
	if (n->has_lladdr) {
		ll = nl_addr_build(AF_LLC, n->lladdr, NET_MAC_LEN);
		if (!ll)
			return -ENOMEM;
		rtnl_neigh_set_lladdr(ne, ll);
	}
	rtnl_neigh_set_state(ne, n->state ? (int)n->state : NUD_PERMANENT);
	if (n->flags)
		rtnl_neigh_set_flags(ne, n->flags);
	kerr = 0;
	r = rtnl_neigh_add(sk, ne, NLM_F_CREATE | NLM_F_REPLACE);
	return nlerr(r, kerr);
}
