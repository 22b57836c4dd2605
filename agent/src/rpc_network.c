// SPDX-License-Identifier: Apache-2.0
/* UpdateInterface, UpdateRoutes, ListInterfaces, ListRoutes, AddARPNeighbors.
 *
 * Behaviour follows the Rust agent (src/agent/src/netlink.rs): links are found by MAC (or, when
 * no link has the MAC, by the requested name, whose MAC is then set: a guest restored from a VM
 * template still carries the template's MAC); an interface update takes the link down, replaces its
 * addresses, renames it (moving a link that already holds the name out of the way), sets MTU and
 * NOARP and brings it up; a route update removes the routes a previous update left (all but the
 * kernel's and loopback's), then adds the new ones, gateway-less first.  Errors for a missing link
 * say "Link not found": the Go runtime retries UpdateInterface on exactly that text
 * (docs/PROTOCOL.md §6.3). */
#include "rpc_network.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "agent.pb-c.h"
#include "log.h"
#include "rpc.h"
#include "uevent.h"
#include "util.h"

static int family_of(Types__IPFamily f)
{
	return f == TYPES__IPFAMILY__v6 ? AF_INET6 : AF_INET;
}

static Types__IPFamily family_msg(int family)
{
	return family == AF_INET6 ? TYPES__IPFAMILY__v6 : TYPES__IPFAMILY__v4;
}

/* An IPAddress message.  The address decides the family (the family field is advisory: a
 * mismatch is not worth failing a sandbox start over); an empty mask means a host address. */
static int ip_from_msg(const Types__IPAddress *m, struct net_ip *ret, struct agent_err *reterr)
{
	struct net_ip ip;
	if (!m->address || net_ip_parse(m->address, AF_UNSPEC, &ip) < 0) {
		return err_msg(reterr, -EINVAL, "invalid IP address '%s'",
		               m->address ? m->address : "");
	}
	if (m->mask && *m->mask && net_prefix_parse(m->mask, ip.family, &ip.prefix) < 0) {
		return err_msg(reterr, -EINVAL, "invalid prefix length '%s' for %s", m->mask,
		               m->address);
	}
	*ret = ip;
	return 0;
}

/* ---- UpdateInterface ---- */

/* Up to this many addresses per interface (a NIC from the host has a handful). */
#define MAX_IFACE_ADDRS 256

/* The link that carries the requested MAC.  When none does but the request names a link that
 * exists, this is a guest restored from a VM template: its NIC still has the template's MAC.
 * Upstream then takes the link of that name; *ret_restore says to give it the requested MAC
 * (iface_update does, with the link down).  ret_restore NULL: by MAC only. */
static int find_iface_link(const Types__Interface *in, struct net_link *ret,
                           uint8_t ret_restore_mac[NET_MAC_LEN], bool *ret_restore,
                           struct agent_err *reterr)
{
	int r;
	if (ret_restore)
		*ret_restore = false;
	if (in->hwaddr && *in->hwaddr) {
		uint8_t mac[NET_MAC_LEN];
		if (net_mac_parse(in->hwaddr, mac) < 0) {
			return err_msg(reterr, -EINVAL, "Failed to parse MAC address: %s",
			               in->hwaddr);
		}
		r = net_link_by_mac(mac, ret);
		if (r == -ENODEV && ret_restore && in->name && *in->name &&
		    net_link_by_name(in->name, ret) == 0 && ret->hwaddr_len == NET_MAC_LEN &&
		    !(ret->flags & IFF_LOOPBACK)) {
			memcpy(ret_restore_mac, mac, NET_MAC_LEN);
			*ret_restore = true;
			return 0;
		}
		if (r == -ENODEV)
			err_msg(reterr, r, "Link not found (Address: %s)", in->hwaddr);
	} else {
		/* No MAC: the interface can only be named. */
		r = net_link_by_name(in->name ? in->name : "", ret);
		if (r == -ENODEV)
			err_msg(reterr, r, "Link not found (Name: %s)", in->name ? in->name : "");
	}
	if (r < 0 && r != -ENODEV)
		err_msg(reterr, r, "listing links: %s", strerror(-r));
	return r;
}

static int replace_addrs(const struct net_link *l, const struct net_ip *ips, size_t n,
                         struct agent_err *reterr)
{
	_cleanup_free_ struct net_addr *old = NULL;
	size_t nold;
	int r = net_addr_list(l->ifindex, &old, &nold);
	if (r < 0) {
		return err_msg(reterr, r, "listing addresses of %s: %s", l->name, strerror(-r));
	}
	for (size_t i = 0; i < nold; i++) {
		r = net_addr_del(l->ifindex, &old[i].ip);
		/* Deleting a v4 primary address drops its secondaries too: ENOENT/EADDRNOTAVAIL. */
		if (r < 0 && r != -EADDRNOTAVAIL && r != -ENOENT) {
			char a[INET6_ADDRSTRLEN + 8];
			net_cidr_format(&old[i].ip, a, sizeof(a));
			return err_msg(reterr, r, "deleting address %s of %s: %s", a, l->name,
			               strerror(-r));
		}
	}
	for (size_t i = 0; i < n; i++) {
		r = net_addr_add(l->ifindex, &ips[i]);
		if (r < 0 && r != -EEXIST) {
			char a[INET6_ADDRSTRLEN + 8];
			net_cidr_format(&ips[i], a, sizeof(a));
			return err_msg(reterr, r, "Failed to add address %s to %s: %s", a, l->name,
			               strerror(-r));
		}
	}
	return 0;
}

/* A guest booted with ipv6.disable=1 (or built without IPv6) has no /proc/sys/net/ipv6, and
 * disable_ipv6=1 turns it off per namespace; either way the kernel refuses IPv6 addresses and
 * routes.  Upstream's agent has skipped them since 2025-05 instead of failing the whole
 * request, and so do we, saying so in the log. */
static bool ipv6_disabled(void)
{
	char v = '0';
	int fd = open("/proc/sys/net/ipv6/conf/all/disable_ipv6", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;
	bool off = read(fd, &v, 1) == 1 && v == '1';
	close(fd);
	return off;
}

/* Drop the IPv6 entries of ips (in place) when IPv6 is off; returns how many are left. */
static size_t keep_usable_ips(struct net_ip *ips, size_t n)
{
	if (!ipv6_disabled())
		return n;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (ips[i].family == AF_INET6) {
			char a[INET6_ADDRSTRLEN] = "";
			inet_ntop(AF_INET6, ips[i].addr, a, sizeof(a));
			log_info("network",
			         "IPv6 is disabled in this guest: skipping address %s/%u", a,
			         ips[i].prefix);
			continue;
		}
		ips[k++] = ips[i];
	}
	return k;
}

/* The requested addresses, parsed (at most MAX_IFACE_ADDRS, checked by the caller). */
static int ips_from_msgs(const Types__Interface *in, struct net_ip **ret_ips,
                         struct agent_err *reterr)
{
	_cleanup_free_ struct net_ip *ips = calloc(in->n_ipaddresses + 1, sizeof(*ips));
	if (!ips)
		return -ENOMEM;
	for (size_t i = 0; i < in->n_ipaddresses; i++) {
		int r = ip_from_msg(in->ipaddresses[i], &ips[i], reterr);
		if (r < 0)
			return r;
	}
	*ret_ips = TAKE_PTR(ips);
	return 0;
}

/* The link goes down for the change; when it was found by a VM template's MAC (restore), it
 * gets the requested MAC first. */
static int take_down_and_set_mac(const struct net_link *link, const Types__Interface *in,
                                 const uint8_t *mac, bool restore, struct agent_err *reterr)
{
	int r;
	if (link->flags & IFF_UP) {
		r = net_link_set(link->ifindex, &(struct net_link_change){.up = 0, .noarp = -1});
		if (r < 0) {
			return err_msg(reterr, r, "taking %s down: %s", link->name, strerror(-r));
		}
	}
	if (restore) {
		char had[3 * NET_HWADDR_MAX];
		net_hwaddr_format(link->hwaddr, link->hwaddr_len, had, sizeof(had));
		r = net_link_set(link->ifindex,
		                 &(struct net_link_change){.up = -1, .noarp = -1, .mac = mac});
		if (r < 0) {
			return err_msg(reterr, r,
			               "setting the MAC of %s (VM template restore) to %s: %s",
			               link->name, in->hwaddr, strerror(-r));
		}
		log_info("network", "no link has MAC %s: %s (MAC %s, a VM template's) takes it",
		         in->hwaddr, link->name, had);
	}
	return 0;
}

/* Names the link (name: NULL keeps its own), sets its MTU and NOARP flag and brings it up. */
static int rename_and_bring_up(const struct net_link *link, const Types__Interface *in,
                               const char *name, struct agent_err *reterr)
{
	int r;
	/* Another link may hold the name already (say eth0 from the kernel's own numbering): move
	 * it to a temporary name, and give it ours once ours is free. */
	struct net_link other;
	bool swap = false;
	if (name && strcmp(link->name, name) != 0 && net_link_by_name(name, &other) == 0) {
		char tmp[IF_NAMESIZE];
		snprintf(tmp, sizeof(tmp), "%.10s_temp", other.name);
		r = net_link_set(other.ifindex,
		                 &(struct net_link_change){.name = tmp, .up = 0, .noarp = -1});
		if (r < 0) {
			return err_msg(reterr, r, "renaming %s out of the way: %s", other.name,
			               strerror(-r));
		}
		swap = true;
	}
	struct net_link_change ch = {
	    .name = name,
	    .mtu = in->mtu > 0xffffffffu ? 0xffffffffu : (unsigned)in->mtu,
	    .up = 1,
	    .noarp = (in->raw_flags & IFF_NOARP) ? 1 : 0,
	};
	r = net_link_set(link->ifindex, &ch);
	if (r < 0) {
		return err_msg(reterr, r, "updating link %s (name %s, mtu %llu): %s", link->name,
		               name ? name : link->name, (unsigned long long)in->mtu, strerror(-r));
	}
	if (swap) {
		struct net_link_change back = {.name = link->name, .up = 1, .noarp = -1};
		r = net_link_set(other.ifindex, &back);
		if (r < 0) {
			return err_msg(reterr, r, "renaming %s's previous holder to %s: %s", name,
			               link->name, strerror(-r));
		}
	}
	return 0;
}

static int iface_update(const Types__Interface *in, struct agent_err *reterr)
{
	if (in->n_ipaddresses > MAX_IFACE_ADDRS) {
		return err_msg(reterr, -E2BIG, "too many addresses (%zu)", in->n_ipaddresses);
	}
	const char *name = in->name && *in->name ? in->name : NULL;
	if (name && strlen(name) >= IF_NAMESIZE) {
		return err_msg(reterr, -EINVAL, "invalid interface name '%s'", name);
	}
	/* Validate everything before changing anything. */
	_cleanup_free_ struct net_ip *ips = NULL;
	int r = ips_from_msgs(in, &ips, reterr);
	if (r < 0)
		return r;
	struct net_link link;
	uint8_t mac[NET_MAC_LEN];
	bool restore;
	r = find_iface_link(in, &link, mac, &restore, reterr);
	if (r < 0)
		return r;
	r = take_down_and_set_mac(&link, in, mac, restore, reterr);
	if (r < 0)
		return r;
	r = replace_addrs(&link, ips, keep_usable_ips(ips, in->n_ipaddresses), reterr);
	if (r < 0)
		return r;
	return rename_and_bring_up(&link, in, name, reterr);
}

static void update_and_reply(struct ttrpc_call *call, const Grpc__UpdateInterfaceRequest *rq)
{
	struct agent_err err = {0};
	int r = iface_update(rq->interface, &err);
	if (r < 0) {
		rpc_fail_err(call, TTRPC_INTERNAL, r, &err);
		return;
	}
	/* As the Rust agent: the interface as requested, which is now what the guest has.  The
	 * call frees its request before packing the reply, so keep the request alive until then. */
	ProtobufCMessage *own = call->req == &rq->base ? TAKE_PTR(call->req) : NULL;
	ttrpc_reply(call, &rq->interface->base);
	if (own)
		protobuf_c_message_free_unpacked(own, NULL);
}

/* A NIC named by its guest PCI path may still be on its way (hot-plugged as the sandbox
 * starts, slowly on TCG or riscv64): since 2024-06 upstream's agent waits, up to the hotplug
 * timeout, for the net uevent under that path before configuring it.  runtime-rs retries
 * UpdateInterface for only about a second, so the agent has to be the one that waits. */
struct iface_wait {
	struct uevent_waiter w;
	struct uevent_pci_path pci;
	struct ttrpc_call *call;
	const Grpc__UpdateInterfaceRequest *rq;
};

static void iface_appeared(struct uevent_waiter *w, int err, const struct uevent *ev)
{
	struct iface_wait *iw = container_of(w, struct iface_wait, w);
	struct ttrpc_call *call = iw->call;
	const Grpc__UpdateInterfaceRequest *rq = iw->rq;
	free(iw);
	if (err < 0) {
		/* "Link not found" is what the Go runtime retries on. */
		ttrpc_fail(
		    call, TTRPC_INTERNAL,
		    "Link not found: no network interface appeared at PCI path %.64s in %u s",
		    rq->interface->devicepath, agent.cfg.hotplug_timeout_s);
		return;
	}
	log_info("network", "%s appeared at PCI path %s", ev->devpath, rq->interface->devicepath);
	update_and_reply(call, rq);
}

static void iface_wait_cancel(struct ttrpc_call *call, void *data)
{
	struct iface_wait *iw = data;
	uevent_wait_cancel(&iw->w);
	free(iw);
}

/* True when the request names a NIC by PCI path that the guest does not have yet. */
static bool iface_missing(const Types__Interface *in, struct uevent_pci_path *ret_pci)
{
	if (!in->devicepath || !*in->devicepath ||
	    uevent_pci_path_parse(in->devicepath, ret_pci) < 0)
		return false; /* no path, or not a PCI one (CCW): configure as before */
	/* By MAC only: while a hot-plugged NIC is awaited, another link may hold the name it
	 * will get. */
	struct net_link l;
	return find_iface_link(in, &l, NULL, NULL, NULL) == -ENODEV;
}

void rpc_update_interface(struct ttrpc_call *call, const void *req)
{
	const Grpc__UpdateInterfaceRequest *rq = req;
	if (!rq->interface) {
		ttrpc_fail(call, TTRPC_INVALID_ARGUMENT, "empty update interface request");
		return;
	}
	struct uevent_pci_path pci;
	if (!iface_missing(rq->interface, &pci)) {
		update_and_reply(call, rq);
		return;
	}
	struct iface_wait *iw = calloc(1, sizeof(*iw));
	if (!iw) {
		ttrpc_fail(call, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	iw->pci = pci;
	iw->call = call;
	iw->rq = rq;
	iw->w.match = uevent_match_pci_net;
	iw->w.arg = &iw->pci;
	iw->w.cb = iface_appeared;
	iw->w.rescan_ns = ms_to_ns(1000);
	struct uevent found;
	int r = uevent_wait(&iw->w, ms_to_ns(agent.cfg.hotplug_timeout_s * 1000ull), &found);
	if (r != 0) {
		free(iw);
		if (r < 0) /* no uevent listener: nothing to wait with */
			ttrpc_fail(call, TTRPC_INTERNAL, "Link not found (PCI path %.64s): %s",
			           rq->interface->devicepath, strerror(-r));
		else
			update_and_reply(call, rq);
		return;
	}
	if (ttrpc_park(call, iface_wait_cancel, iw) < 0) { /* the call was failed */
		uevent_wait_cancel(&iw->w);
		free(iw);
	}
}

/* ---- routes ---- */

void net_order_routes(Types__Route *const *in, size_t n, Types__Route **out)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!in[i]->gateway || !*in[i]->gateway)
			out[k++] = in[i];
	for (size_t i = 0; i < n; i++)
		if (in[i]->gateway && *in[i]->gateway)
			out[k++] = in[i];
}

int net_route_from_msg(const Types__Route *m, struct net_route *ret, struct agent_err *reterr)
{
	struct net_route r = {
	    .family = family_of(m->family), .scope = m->scope, .flags = m->flags, .mtu = m->mtu};
	const char *dest = m->dest ? m->dest : "";
	if (*dest) {
		if (net_cidr_parse(dest, r.family, &r.dst) < 0) {
			return err_msg(reterr, -EINVAL, "invalid route destination '%s'", dest);
		}
	} else {
		r.dst = (struct net_ip){.family = r.family, .prefix = 0};
	}
	if (m->gateway && *m->gateway) {
		if (net_ip_parse(m->gateway, r.family, &r.gw) < 0) {
			return err_msg(reterr, -EINVAL, "invalid route gateway '%s'", m->gateway);
		}
		r.has_gw = true;
	}
	if (m->source && *m->source) {
		/* A bare address is the preferred source (what the Go runtime sends, from the
		 * host route's Src); "addr/len" with len > 0 is a source prefix. */
		struct net_ip s;
		if (net_cidr_parse(m->source, r.family, &s) < 0) {
			return err_msg(reterr, -EINVAL, "invalid route source '%s'", m->source);
		}
		if (strchr(m->source, '/') && s.prefix > 0) {
			r.has_src = true;
			r.src = s;
		} else {
			r.has_prefsrc = true;
			r.prefsrc = s;
			r.prefsrc.prefix = net_family_bits(s.family);
		}
	}
	*ret = r;
	return 0;
}

/* The text of one listed route, owned by the reply being built. */
struct route_out {
	Types__Route msg;
	char dest[INET6_ADDRSTRLEN + 8], gw[INET6_ADDRSTRLEN], src[INET6_ADDRSTRLEN + 8];
	char dev[IF_NAMESIZE];
};

static const char *link_name(const struct net_link *links, size_t n, int ifindex)
{
	for (size_t i = 0; i < n; i++)
		if (links[i].ifindex == ifindex)
			return links[i].name;
	return "";
}

static void route_to_msg(const struct net_route *r, const struct net_link *links, size_t nlinks,
                         struct route_out *o)
{
	o->msg = (Types__Route)TYPES__ROUTE__INIT;
	if (r->dst.prefix > 0)
		net_cidr_format(&r->dst, o->dest, sizeof(o->dest));
	if (r->has_gw)
		net_ip_format(&r->gw, o->gw, sizeof(o->gw));
	if (r->has_prefsrc)
		net_ip_format(&r->prefsrc, o->src, sizeof(o->src));
	else if (r->has_src)
		net_cidr_format(&r->src, o->src, sizeof(o->src));
	snprintf(o->dev, sizeof(o->dev), "%s", link_name(links, nlinks, r->ifindex));
	o->msg.dest = o->dest;
	o->msg.gateway = o->gw;
	o->msg.source = o->src;
	o->msg.device = o->dev;
	o->msg.scope = r->scope;
	o->msg.family = family_msg(r->family);
	o->msg.flags = r->flags;
	o->msg.mtu = r->mtu;
}

/* Reply with the main table's routes. */
static void reply_routes(struct ttrpc_call *call)
{
	_cleanup_free_ struct net_route *routes = NULL;
	_cleanup_free_ struct net_link *links = NULL;
	size_t n, nlinks;
	int r = net_route_list(&routes, &n);
	if (r == 0)
		r = net_link_list(&links, &nlinks);
	if (r < 0) {
		ttrpc_fail(call, TTRPC_INTERNAL, "listing routes: %s", strerror(-r));
		return;
	}
	_cleanup_free_ struct route_out *outs = calloc(n + 1, sizeof(*outs));
	_cleanup_free_ Types__Route **ptrs = calloc(n + 1, sizeof(*ptrs));
	if (!outs || !ptrs) {
		ttrpc_fail(call, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		route_to_msg(&routes[i], links, nlinks, &outs[i]);
		ptrs[i] = &outs[i].msg;
	}
	Grpc__Routes resp = GRPC__ROUTES__INIT;
	resp.n_routes = n;
	resp.routes = ptrs;
	ttrpc_reply(call, &resp.base);
}

/* Up to this many routes per update. */
#define MAX_ROUTES 4096

static int routes_update(const Grpc__Routes *in, struct agent_err *reterr)
{
	size_t n = in->n_routes;
	if (n > MAX_ROUTES) {
		return err_msg(reterr, -E2BIG, "too many routes (%zu)", n);
	}
	_cleanup_free_ Types__Route **order = calloc(n + 1, sizeof(*order));
	_cleanup_free_ struct net_route *rs = calloc(n + 1, sizeof(*rs));
	if (!order || !rs)
		return -ENOMEM;
	net_order_routes(in->routes, n, order);
	/* Parse and resolve every route before the old ones go. */
	for (size_t i = 0; i < n; i++) {
		int r = net_route_from_msg(order[i], &rs[i], reterr);
		if (r < 0)
			return r;
		struct net_link l;
		r = net_link_by_name(order[i]->device ? order[i]->device : "", &l);
		if (r == -ENODEV) {
			return err_msg(reterr, r, "Link not found (Name: %s)", order[i]->device);
		}
		if (r < 0) {
			return err_msg(reterr, r, "listing links: %s", strerror(-r));
		}
		rs[i].ifindex = l.ifindex;
	}
	if (ipv6_disabled()) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			if (rs[i].family == AF_INET6) {
				log_info("network",
				         "IPv6 is disabled in this guest: skipping route %s",
				         *order[i]->dest ? order[i]->dest : "default");
				continue;
			}
			order[k] = order[i];
			rs[k++] = rs[i];
		}
		n = k;
	}
	int r = net_route_flush();
	if (r < 0) {
		return err_msg(reterr, r, "Failed to delete old routes: %s", strerror(-r));
	}
	for (size_t i = 0; i < n; i++) {
		r = net_route_replace(&rs[i]);
		if (r < 0) {
			const Types__Route *m = order[i];
			err_msg(reterr, r,
			        "Failed to add route (dest: %.64s, gateway: %.64s, device: %.32s, "
			        "source: %.64s): %s",
			        *m->dest ? m->dest : "default", m->gateway, m->device, m->source,
			        strerror(-r));
			return r;
		}
	}
	return 0;
}

void rpc_update_routes(struct ttrpc_call *call, const void *req)
{
	const Grpc__UpdateRoutesRequest *rq = req;
	if (!rq->routes) {
		ttrpc_fail(call, TTRPC_INVALID_ARGUMENT, "empty update routes request");
		return;
	}
	struct agent_err err = {0};
	int r = routes_update(rq->routes, &err);
	if (r < 0) {
		rpc_fail_err(call, TTRPC_INTERNAL, r, &err);
		return;
	}
	reply_routes(call);
}

void rpc_list_routes(struct ttrpc_call *call, const void *req)
{
	reply_routes(call);
}

/* ---- ListInterfaces ---- */

struct ip_out {
	Types__IPAddress msg;
	char addr[INET6_ADDRSTRLEN], mask[4];
};

struct iface_out {
	Types__Interface msg;
	char name[IF_NAMESIZE], mac[3 * NET_HWADDR_MAX];
};

void rpc_list_interfaces(struct ttrpc_call *call, const void *req)
{
	_cleanup_free_ struct net_link *links = NULL;
	_cleanup_free_ struct net_addr *addrs = NULL;
	size_t nl, na;
	int r = net_link_list(&links, &nl);
	if (r == 0)
		r = net_addr_list(0, &addrs, &na);
	if (r < 0) {
		ttrpc_fail(call, TTRPC_INTERNAL, "listing interfaces: %s", strerror(-r));
		return;
	}
	_cleanup_free_ struct iface_out *ifs = calloc(nl + 1, sizeof(*ifs));
	_cleanup_free_ Types__Interface **ifp = calloc(nl + 1, sizeof(*ifp));
	_cleanup_free_ struct ip_out *ips = calloc(na + 1, sizeof(*ips));
	_cleanup_free_ Types__IPAddress **ipp = calloc(na + 1, sizeof(*ipp));
	if (!ifs || !ifp || !ips || !ipp) {
		ttrpc_fail(call, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	size_t k = 0; /* ipp is filled link by link, so each link's addresses are contiguous */
	for (size_t i = 0; i < nl; i++) {
		struct iface_out *o = &ifs[i];
		o->msg = (Types__Interface)TYPES__INTERFACE__INIT;
		snprintf(o->name, sizeof(o->name), "%s", links[i].name);
		net_hwaddr_format(links[i].hwaddr, links[i].hwaddr_len, o->mac, sizeof(o->mac));
		o->msg.name = o->name;
		o->msg.hwaddr = o->mac;
		o->msg.mtu = links[i].mtu;
		o->msg.raw_flags = links[i].flags;
		o->msg.ipaddresses = &ipp[k];
		for (size_t j = 0; j < na; j++) {
			if (addrs[j].ifindex != links[i].ifindex)
				continue;
			struct ip_out *ip = &ips[k];
			ip->msg = (Types__IPAddress)TYPES__IPADDRESS__INIT;
			net_ip_format(&addrs[j].ip, ip->addr, sizeof(ip->addr));
			snprintf(ip->mask, sizeof(ip->mask), "%u", addrs[j].ip.prefix);
			ip->msg.family = family_msg(addrs[j].ip.family);
			ip->msg.address = ip->addr;
			ip->msg.mask = ip->mask;
			ipp[k++] = &ip->msg;
			o->msg.n_ipaddresses++;
		}
		ifp[i] = &o->msg;
	}
	Grpc__Interfaces resp = GRPC__INTERFACES__INIT;
	resp.n_interfaces = nl;
	resp.interfaces = ifp;
	ttrpc_reply(call, &resp.base);
}

/* ---- AddARPNeighbors ---- */

static int neigh_add(const Types__ARPNeighbor *m, struct agent_err *reterr)
{
	struct net_neigh n = {.state = (unsigned)m->state, .flags = (unsigned)m->flags};
	if (!m->toipaddress || !m->toipaddress->address || !*m->toipaddress->address) {
		return err_msg(reterr, -EINVAL, "Unable to determine ip address of ARP neighbor");
	}
	const char *ip = m->toipaddress->address;
	if (net_ip_parse(ip, AF_UNSPEC, &n.dst) < 0) {
		return err_msg(reterr, -EINVAL, "Failed to parse IP %s", ip);
	}
	if (m->lladdr && *m->lladdr) {
		if (net_mac_parse(m->lladdr, n.lladdr) < 0) {
			return err_msg(reterr, -EINVAL,
			               "Failed to add ARP neighbor %s: invalid MAC %s", ip,
			               m->lladdr);
		}
		n.has_lladdr = true;
	}
	struct net_link l;
	int r = net_link_by_name(m->device ? m->device : "", &l);
	if (r == -ENODEV) {
		return err_msg(reterr, r,
		               "Failed to add ARP neighbor %s: Link not found (Name: %s)", ip,
		               m->device);
	}
	if (r == 0) {
		n.ifindex = l.ifindex;
		r = net_neigh_replace(&n);
	}
	if (r < 0)
		err_msg(reterr, r, "Failed to add ARP neighbor %s: %s", ip, strerror(-r));
	return r;
}

void rpc_add_arp_neighbors(struct ttrpc_call *call, const void *req)
{
	const Grpc__AddARPNeighborsRequest *rq = req;
	if (!rq->neighbors) {
		ttrpc_fail(call, TTRPC_INVALID_ARGUMENT, "empty add arp neighbours request");
		return;
	}
	for (size_t i = 0; i < rq->neighbors->n_arpneighbors; i++) {
		struct agent_err err = {0};
		int r = neigh_add(rq->neighbors->arpneighbors[i], &err);
		if (r < 0) {
			rpc_fail_err(call, TTRPC_INTERNAL, r, &err);
			return;
		}
	}
	ttrpc_reply(call, NULL);
}
