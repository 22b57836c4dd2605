/* Networking RPCs against the real kernel, inside a fresh network namespace of its own (the
 * host's links are never touched): veth pairs stand in for the guest NICs, the handlers run
 * behind an in-process ttrpc server on a socketpair, and `ip -j` output checked by
 * test_network.py is the judge.  Also GetIPTables/SetIPTables with fake tools.
 *
 * Usage: test_network MATCHER.py   (root; prints "N passed, N failed")
 *
 * The harness is in network_harness.c; the cases that depend on the guest's state (iptables,
 * IPv6 off, hotplug, VM template) in test_network_guest.c. */
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "net.h"
#include "network_harness.h"
#include "uevent.h"

/* ---- tests ---- */

static void test_links_direct(void)
{
	uint8_t mac[NET_MAC_LEN];
	struct net_link l;
	net_mac_parse(MAC_A, mac);
	CHECK(net_link_by_mac(mac, &l) == 0 && strcmp(l.name, "v0") == 0, "v0 by MAC");
	CHECK(net_link_by_name("nosuchlink", &l) == -ENODEV, "unknown name gives ENODEV");
	mac[5] = 0x77;
	CHECK(net_link_by_mac(mac, &l) == -ENODEV, "unknown MAC gives ENODEV");
	struct net_link *v = NULL;
	size_t n = 0;
	CHECK(net_link_list(&v, &n) == 0 && (long)n == count_lines("ip -o link"),
	      "link list has every link (%zu)", n);
	CHECK(n > 0 && strcmp(v[0].name, "lo") == 0, "lo first");
	free(v);
}

static void test_update_interface(void)
{
	sh("ip addr add 192.168.77.7/24 dev v0");
	Types__IPAddress a[3],
	    *ips[3] = {ipaddr(&a[0], 0, "10.10.0.2", "24"), ipaddr(&a[1], 1, "fd00::2", "64"),
	               ipaddr(&a[2], 0, "10.10.1.2", "")};
	Types__Interface *out = NULL;
	char *msg = NULL;
	int code = update_iface(MAC_A, "eth0", 1400, IFF_NOARP, ips, 3, &out, &msg);
	CHECK(code == 0, "UpdateInterface: %d %s", code, msg);
	CHECK(out && strcmp(out->name, "eth0") == 0 && strcmp(out->hwaddr, MAC_A) == 0 &&
	          out->mtu == 1400 && out->n_ipaddresses == 3,
	      "reply is the interface");
	if (out)
		protobuf_c_message_free_unpacked(&out->base, NULL);
	free(msg);
	CHECK(ip_has("link show dev eth0", "{\"ifname\":\"eth0\",\"address\":\"" MAC_A
	                                   "\",\"mtu\":1400,\"flags\":[\"NOARP\",\"UP\"]}"),
	      "renamed, MTU, NOARP, up");
	CHECK(
	    ip_has("addr show dev eth0",
	           "{\"addr_info\":[{\"family\":\"inet\",\"local\":\"10.10.0.2\",\"prefixlen\":24},"
	           "{\"family\":\"inet6\",\"local\":\"fd00::2\",\"prefixlen\":64},"
	           "{\"family\":\"inet\",\"local\":\"10.10.1.2\",\"prefixlen\":32}]}"),
	    "addresses v4, v6, and a host address for an empty mask");
	CHECK(ip_lacks("addr show dev eth0", "{\"addr_info\":[{\"local\":\"192.168.77.7\"}]}"),
	      "old address removed");
	CHECK(sh("ip link show v0 >/dev/null 2>&1") != 0, "v0 is gone");

	/* Again: addresses replaced, NOARP cleared, MTU back. */
	Types__IPAddress b[2],
	    *ips2[2] = {ipaddr(&b[0], 0, "10.10.0.3", "24"), ipaddr(&b[1], 1, "fd00::2", "64")};
	code = update_iface(MAC_A, "eth0", 1500, 0, ips2, 2, NULL, &msg);
	CHECK(code == 0, "second UpdateInterface: %d %s", code, msg);
	free(msg);
	CHECK(ip_has("addr show dev eth0", "{\"addr_info\":[{\"local\":\"10.10.0.3\"}]}") &&
	          ip_lacks("addr show dev eth0", "{\"addr_info\":[{\"local\":\"10.10.0.2\"}]}"),
	      "addresses replaced");
	CHECK(ip_lacks("link show dev eth0", "{\"flags\":[\"NOARP\"]}") &&
	          ip_has("link show dev eth0", "{\"mtu\":1500,\"flags\":[\"UP\"]}"),
	      "NOARP cleared, MTU 1500, up");
}

static void test_update_interface_errors(void)
{
	char *msg = NULL;
	int code = update_iface("02:00:00:00:99:99", "eth9", 1500, 0, NULL, 0, NULL, &msg);
	CHECK(code == TTRPC_INTERNAL && contains(msg, "Link not found"), "unknown MAC: %d %s", code,
	      msg);
	free(msg);

	Grpc__UpdateInterfaceRequest empty = GRPC__UPDATE_INTERFACE_REQUEST__INIT;
	code = call_msg("UpdateInterface", &empty.base, &msg);
	CHECK(code == TTRPC_INVALID_ARGUMENT && contains(msg, "empty update interface request"),
	      "empty request: %d %s", code, msg);
	free(msg);

	Types__IPAddress a, *ips[1] = {ipaddr(&a, 0, "10.10.0.300", "24")};
	code = update_iface(MAC_A, "eth0", 1500, 0, ips, 1, NULL, &msg);
	CHECK(code == TTRPC_INTERNAL && contains(msg, "10.10.0.300"), "bad address: %d %s", code,
	      msg);
	free(msg);
	CHECK(ip_has("addr show dev eth0", "{\"addr_info\":[{\"local\":\"10.10.0.3\"}]}"),
	      "a refused request changes nothing");

	code = update_iface("zz:00:00:00:00:01", "eth0", 1500, 0, NULL, 0, NULL, &msg);
	CHECK(code == TTRPC_INTERNAL && contains(msg, "MAC"), "bad MAC: %d %s", code, msg);
	free(msg);
}

/* The requested name is taken by another link: the two swap names. */
static void test_rename_conflict(void)
{
	Types__IPAddress a, *ips[1] = {ipaddr(&a, 0, "10.30.0.2", "24")};
	char *msg = NULL;
	int code = update_iface(MAC_B, "eth0", 1500, 0, ips, 1, NULL, &msg);
	CHECK(code == 0, "UpdateInterface onto a taken name: %d %s", code, msg);
	free(msg);
	CHECK(ip_has("link show dev eth0", "{\"address\":\"" MAC_B "\"}"), "eth0 is link B");
	CHECK(ip_has("link show dev a0", "{\"address\":\"" MAC_A "\",\"flags\":[\"UP\"]}"),
	      "link A took B's old name and is up");
	/* And back, for the route tests. */
	Types__IPAddress b[2],
	    *ips2[2] = {ipaddr(&b[0], 0, "10.10.0.3", "24"), ipaddr(&b[1], 1, "fd00::2", "64")};
	code = update_iface(MAC_A, "eth0", 1500, 0, ips2, 2, NULL, &msg);
	CHECK(code == 0, "swap back: %d %s", code, msg);
	free(msg);
	CHECK(ip_has("link show dev eth0", "{\"address\":\"" MAC_A "\"}") &&
	          ip_has("link show dev a0", "{\"address\":\"" MAC_B "\"}"),
	      "names swapped back");
}

static void test_update_routes(void)
{
	/* The default route comes first, but its gateway is only reachable through the second
	 * route: the handler must add gateway-less routes first. */
	Types__Route r[5],
	    *rs[5] = {
	        route(&r[0], 0, "", "192.168.50.1", "eth0", "", 0, 0),
	        route(&r[1], 0, "192.168.50.0/24", "", "eth0", "", RT_SCOPE_LINK, 0),
	        route(&r[2], 0, "10.20.0.0/16", "", "eth0", "10.10.0.3", RT_SCOPE_LINK, 0),
	        route(&r[3], 0, "10.40.0.0/16", "10.10.0.1", "eth0", "", 0, 1300),
	        route(&r[4], 1, "fd01::/64", "fd00::1", "eth0", "", 0, 0),
	    };
	Grpc__Routes *out = NULL;
	char *msg = NULL;
	int code = update_routes(rs, 5, &out, &msg);
	CHECK(code == 0, "UpdateRoutes: %d %s", code, msg);
	free(msg);
	const Types__Route *d = find_route(out, "", "eth0");
	CHECK(d && strcmp(d->gateway, "192.168.50.1") == 0, "reply lists the default route");
	d = find_route(out, "10.10.0.0/24", "eth0");
	CHECK(d && strcmp(d->source, "10.10.0.3") == 0 && d->scope == RT_SCOPE_LINK,
	      "reply lists the kernel's route too");
	d = find_route(out, "fd01::/64", "eth0");
	CHECK(d && d->family == TYPES__IPFAMILY__v6 && strcmp(d->gateway, "fd00::1") == 0,
	      "reply lists the IPv6 route");
	if (out)
		protobuf_c_message_free_unpacked(&out->base, NULL);

	const char *v4 = "route show table main";
	CHECK(ip_has(v4, "{\"dst\":\"default\",\"gateway\":\"192.168.50.1\",\"dev\":\"eth0\"}"),
	      "default via gateway");
	CHECK(ip_has(v4, "{\"dst\":\"192.168.50.0/24\",\"dev\":\"eth0\",\"scope\":\"link\"}"),
	      "link-scope route");
	CHECK(ip_has(v4, "{\"dst\":\"10.20.0.0/16\",\"prefsrc\":\"10.10.0.3\",\"scope\":\"link\"}"),
	      "preferred source");
	CHECK(ip_has(v4, "{\"dst\":\"10.40.0.0/16\",\"gateway\":\"10.10.0.1\","
	                 "\"metrics\":[{\"mtu\":1300}]}"),
	      "route MTU");
	CHECK(ip_has("-6 route show table main", "{\"dst\":\"fd01::/64\",\"gateway\":\"fd00::1\"}"),
	      "IPv6 route via gateway");

	/* A second update replaces the set; the kernel's own routes stay. */
	Types__Route r2,
	    *rs2[1] = {route(&r2, 0, "10.50.0.0/16", "", "eth0", "", RT_SCOPE_LINK, 0)};
	code = update_routes(rs2, 1, NULL, &msg);
	CHECK(code == 0, "second UpdateRoutes: %d %s", code, msg);
	free(msg);
	CHECK(ip_has(v4, "{\"dst\":\"10.50.0.0/16\"}"), "new route");
	CHECK(ip_lacks(v4, "{\"dst\":\"default\"}") && ip_lacks(v4, "{\"dst\":\"10.20.0.0/16\"}") &&
	          ip_lacks("-6 route show table main", "{\"dst\":\"fd01::/64\"}"),
	      "old routes gone");
	CHECK(ip_has(v4, "{\"dst\":\"10.10.0.0/24\",\"protocol\":\"kernel\"}"),
	      "kernel route kept");
}

static void test_update_routes_errors(void)
{
	char *msg = NULL;
	Types__Route r, *rs[1] = {route(&r, 0, "10.60.0.0/16", "", "nosuch0", "", 0, 0)};
	int code = update_routes(rs, 1, NULL, &msg);
	CHECK(code == TTRPC_INTERNAL && contains(msg, "Link not found"), "unknown device: %d %s",
	      code, msg);
	free(msg);
	CHECK(ip_has("route show table main", "{\"dst\":\"10.50.0.0/16\"}"),
	      "a refused update leaves the routes alone");

	route(&r, 0, "10.60.0.0/40", "", "eth0", "", 0, 0);
	code = update_routes(rs, 1, NULL, &msg);
	CHECK(code == TTRPC_INTERNAL && contains(msg, "10.60.0.0/40"), "bad dest: %d %s", code,
	      msg);
	free(msg);

	/* A gateway nothing leads to: the kernel's ENETUNREACH reaches the message. */
	route(&r, 0, "10.70.0.0/16", "172.31.9.9", "eth0", "", 0, 0);
	code = update_routes(rs, 1, NULL, &msg);
	CHECK(code == TTRPC_INTERNAL && contains(msg, "172.31.9.9") &&
	          contains(msg, strerror(ENETUNREACH)),
	      "unreachable gateway: %d %s", code, msg);
	free(msg);

	Grpc__UpdateRoutesRequest empty = GRPC__UPDATE_ROUTES_REQUEST__INIT;
	code = call_msg("UpdateRoutes", &empty.base, &msg);
	CHECK(code == TTRPC_INVALID_ARGUMENT && contains(msg, "empty update routes request"),
	      "empty request: %d %s", code, msg);
	free(msg);

	/* Restore a known set for the list test. */
	route(&r, 0, "10.50.0.0/16", "", "eth0", "", RT_SCOPE_LINK, 0);
	update_routes(rs, 1, NULL, NULL);
}

static void test_list_routes(void)
{
	Grpc__ListRoutesRequest rq = GRPC__LIST_ROUTES_REQUEST__INIT;
	Grpc__Routes *out = NULL;
	int code = call("ListRoutes", &rq.base, &grpc__routes__descriptor,
	                (ProtobufCMessage **)&out, NULL);
	CHECK(code == 0 && out, "ListRoutes: %d", code);
	long want =
	    count_lines("ip route show table main") + count_lines("ip -6 route show table main");
	CHECK(out && (long)out->n_routes == want, "as many routes as ip shows (%zu vs %ld)",
	      out ? out->n_routes : 0, want);
	const Types__Route *r = find_route(out, "10.50.0.0/16", "eth0");
	CHECK(r && r->scope == RT_SCOPE_LINK && r->family == TYPES__IPFAMILY__v4 && !*r->gateway,
	      "10.50.0.0/16 listed");
	r = find_route(out, "fd00::/64", "eth0");
	CHECK(r && r->family == TYPES__IPFAMILY__v6, "IPv6 kernel route listed");
	if (out)
		protobuf_c_message_free_unpacked(&out->base, NULL);
}

static void test_list_interfaces(void)
{
	Grpc__ListInterfacesRequest rq = GRPC__LIST_INTERFACES_REQUEST__INIT;
	Grpc__Interfaces *out = NULL;
	int code = call("ListInterfaces", &rq.base, &grpc__interfaces__descriptor,
	                (ProtobufCMessage **)&out, NULL);
	CHECK(code == 0 && out, "ListInterfaces: %d", code);
	CHECK(out && (long)out->n_interfaces == count_lines("ip -o link"), "every link listed");
	bool eth0 = false, v4 = false, v6 = false, lo = false;
	for (size_t i = 0; out && i < out->n_interfaces; i++) {
		const Types__Interface *in = out->interfaces[i];
		for (size_t j = 0; j < in->n_ipaddresses; j++) {
			const Types__IPAddress *a = in->ipaddresses[j];
			if (!strcmp(in->name, "eth0") && !strcmp(a->address, "10.10.0.3") &&
			    !strcmp(a->mask, "24") && a->family == TYPES__IPFAMILY__v4)
				v4 = true;
			if (!strcmp(in->name, "eth0") && !strcmp(a->address, "fd00::2") &&
			    !strcmp(a->mask, "64") && a->family == TYPES__IPFAMILY__v6)
				v6 = true;
			if (!strcmp(in->name, "lo") && !strcmp(a->address, "127.0.0.1") &&
			    !strcmp(a->mask, "8"))
				lo = true;
		}
		if (!strcmp(in->name, "eth0"))
			eth0 = !strcmp(in->hwaddr, MAC_A) && in->mtu == 1500 &&
			       (in->raw_flags & IFF_UP);
	}
	CHECK(eth0, "eth0 with its MAC, MTU and flags");
	CHECK(v4 && v6, "eth0's addresses with prefix strings");
	CHECK(lo, "lo's address");
	if (out)
		protobuf_c_message_free_unpacked(&out->base, NULL);
}

static int add_neighbors(Types__ARPNeighbor **ns, size_t n, char **ret_msg)
{
	Grpc__ARPNeighbors list = GRPC__ARPNEIGHBORS__INIT;
	list.arpneighbors = ns;
	list.n_arpneighbors = n;
	Grpc__AddARPNeighborsRequest rq = GRPC__ADD_ARPNEIGHBORS_REQUEST__INIT;
	rq.neighbors = &list;
	return call_msg("AddARPNeighbors", &rq.base, ret_msg);
}

static Types__ARPNeighbor *neigh(Types__ARPNeighbor *n, Types__IPAddress *ip, const char *dev,
                                 const char *ll, int state)
{
	*n = (Types__ARPNeighbor)TYPES__ARPNEIGHBOR__INIT;
	n->toipaddress = ip;
	n->device = (char *)dev;
	n->lladdr = (char *)ll;
	n->state = state;
	return n;
}

static void test_neighbors(void)
{
	Types__IPAddress a[3];
	Types__ARPNeighbor n[3],
	    *ns[3] = {
	        neigh(&n[0], ipaddr(&a[0], 0, "10.10.0.9", ""), "eth0", "02:aa:bb:cc:dd:ee", 0),
	        neigh(&n[1], ipaddr(&a[1], 1, "fd00::9", ""), "eth0", "02:aa:bb:cc:dd:ef", 0),
	        neigh(&n[2], ipaddr(&a[2], 0, "10.10.0.10", ""), "eth0", "02:aa:bb:cc:dd:10",
	              NUD_STALE),
	    };
	char *msg = NULL;
	int code = add_neighbors(ns, 3, &msg);
	CHECK(code == 0, "AddARPNeighbors: %d %s", code, msg);
	free(msg);
	CHECK(ip_has("neigh show dev eth0",
	             "{\"dst\":\"10.10.0.9\",\"lladdr\":\"02:aa:bb:cc:dd:ee\","
	             "\"state\":[\"PERMANENT\"]}"),
	      "IPv4 neighbour, state 0 is PERMANENT");
	CHECK(ip_has("-6 neigh show dev eth0",
	             "{\"dst\":\"fd00::9\",\"lladdr\":\"02:aa:bb:cc:dd:ef\","
	             "\"state\":[\"PERMANENT\"]}"),
	      "IPv6 neighbour");
	CHECK(ip_has("neigh show dev eth0", "{\"dst\":\"10.10.0.10\",\"state\":[\"STALE\"]}"),
	      "explicit state kept");

	neigh(&n[0], &a[0], "eth0", "02:aa:bb:cc:dd:01", 0);
	code = add_neighbors(ns, 1, &msg);
	CHECK(code == 0, "replace: %d %s", code, msg);
	free(msg);
	CHECK(ip_has("neigh show dev eth0",
	             "{\"dst\":\"10.10.0.9\",\"lladdr\":\"02:aa:bb:cc:dd:01\"}"),
	      "neighbour replaced");

	neigh(&n[0], &a[0], "nosuch0", "02:aa:bb:cc:dd:01", 0);
	code = add_neighbors(ns, 1, &msg);
	CHECK(code == TTRPC_INTERNAL && contains(msg, "Link not found"), "unknown device: %d %s",
	      code, msg);
	free(msg);

	neigh(&n[0], NULL, "eth0", "02:aa:bb:cc:dd:01", 0);
	code = add_neighbors(ns, 1, &msg);
	CHECK(code == TTRPC_INTERNAL && contains(msg, "ip address"), "no address: %d %s", code,
	      msg);
	free(msg);

	Grpc__AddARPNeighborsRequest empty = GRPC__ADD_ARPNEIGHBORS_REQUEST__INIT;
	code = call_msg("AddARPNeighbors", &empty.base, &msg);
	CHECK(code == TTRPC_INVALID_ARGUMENT && contains(msg, "empty"), "empty request: %d %s",
	      code, msg);
	free(msg);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s MATCHER.py\n", argv[0]);
		return 2;
	}
	matcher = argv[1];
	if (geteuid() != 0) {
		fprintf(stderr, "test_network: needs root (network namespace)\n");
		return 1;
	}
	/* Everything below happens in a namespace of our own: never on the host's links. */
	if (unshare(CLONE_NEWNET) < 0) {
		perror("unshare(CLONE_NEWNET)");
		return 1;
	}
	if (sh("ip link set lo up && "
	       "ip link add v0 address " MAC_A
	       " type veth peer name v1 address 02:00:00:00:00:02 && "
	       "ip link add a0 address " MAC_B
	       " type veth peer name a1 address 02:00:00:00:00:12 && "
	       "ip link set v1 up && ip link set a1 up") != 0) {
		fprintf(stderr, "cannot create veth links\n");
		return 1;
	}
	/* uevents without the netlink socket; sysfs writes (PCI rescan) go to a scratch tree. */
	static char fake_sys[] = "/tmp/test-network-sys.XXXXXX";
	if (!mkdtemp(fake_sys)) {
		perror("mkdtemp");
		return 1;
	}
	uevent_sysfs = fake_sys;
	sh("mkdir -p %s/block %s/bus/pci", fake_sys, fake_sys);
	server_start();
	if (uevent_init(agent.loop) < 0) {
		fprintf(stderr, "uevent_init failed\n");
		return 1;
	}
	test_links_direct();
	test_update_interface();
	test_update_interface_errors();
	test_rename_conflict();
	test_update_routes();
	test_update_routes_errors();
	test_list_routes();
	test_list_interfaces();
	test_neighbors();
	test_ipv6_disabled();
	test_device_path_wait();
	test_template_restore();
	test_iptables();
	server_stop();
	net_close();
	sh("rm -rf %s", fake_sys);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
