/* The harness test_network's cases share: counters and checks, shell and `ip -j` helpers, an
 * in-process ttrpc server over the networking handlers, one-call clients and message
 * builders. */
#include "network_harness.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "loop.h"
#include "net.h"
#include "rpc.h"
#include "rpc_network.h"
#include "ttrpc.h"

int passed, failed;
const char *matcher;

/* ---- shell helpers ---- */

int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* `ip` JSON output of args matches (or, absent, does not match) the pattern. */
bool ip_has(const char *args, const char *pattern)
{
	return sh("ip -j %s | python3 %s '%s'", args, matcher, pattern) == 0;
}
bool ip_lacks(const char *args, const char *pattern)
{
	return sh("ip -j %s | python3 %s --absent '%s'", args, matcher, pattern) == 0;
}

long count_lines(const char *cmd)
{
	FILE *f = popen(cmd, "r");
	long n = 0;
	int c;
	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	pclose(f);
	return n;
}

/* ---- in-process server ---- */

static const struct {
	const char *method;
	rpc_handler_fn fn;
} handlers[] = {
    {"UpdateInterface", rpc_update_interface},  {"UpdateRoutes", rpc_update_routes},
    {"ListInterfaces", rpc_list_interfaces},    {"ListRoutes", rpc_list_routes},
    {"AddARPNeighbors", rpc_add_arp_neighbors}, {"GetIPTables", rpc_get_ip_tables},
    {"SetIPTables", rpc_set_ip_tables},
};

/* What rpc_dispatch does, over our handlers only (the lead's table lists them). */
static void dispatch(struct ttrpc_call *call, const char *service, const char *method,
                     const uint8_t *payload, size_t len, void *data)
{
	const ProtobufCMethodDescriptor *md = protobuf_c_service_descriptor_get_method_by_name(
	    &grpc__agent_service__descriptor, method);
	for (size_t i = 0; md && i < sizeof(handlers) / sizeof(handlers[0]); i++) {
		if (strcmp(handlers[i].method, method) != 0)
			continue;
		ProtobufCMessage *req = protobuf_c_message_unpack(md->input, NULL, len, payload);
		if (!req) {
			ttrpc_fail(call, TTRPC_INVALID_ARGUMENT, "decode");
			return;
		}
		call->method = md->name;
		call->req = req;
		handlers[i].fn(call, req);
		return;
	}
	ttrpc_fail(call, TTRPC_UNIMPLEMENTED, "%s", method);
}

static struct ttrpc_server *srv;
struct ttrpc_client cl;

void server_start(void)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    loop_new(&agent.loop) < 0 ||
	    ttrpc_server_new(agent.loop, &ttrpc_default_limits, dispatch, NULL, &srv) < 0) {
		perror("server");
		exit(1);
	}
	/* Room for a large SetIPTables request without a second thread to drain it. */
	int big = 8 << 20;
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
	setsockopt(sv[0], SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	ttrpc_server_add_conn(srv, sv[0]);
	ttrpc_client_init(&cl, sv[1]);
}

/* One call: returns the status code; *ret_resp (if given) gets the decoded response and
 * *ret_msg the status message (both caller-freed). */
int call(const char *method, const ProtobufCMessage *req, const ProtobufCMessageDescriptor *out,
         ProtobufCMessage **ret_resp, char **ret_msg)
{
	size_t n = protobuf_c_message_get_packed_size(req);
	uint8_t *p = malloc(n + 1);
	protobuf_c_message_pack(req, p);
	long stream = ttrpc_client_send(&cl, "grpc.AgentService", method, p, n, 0);
	free(p);
	if (stream < 0)
		return -1;
	struct ttrpc_result r;
	for (int i = 0; i < 3000; i++) {
		loop_run_once(agent.loop, 2);
		/* No PID 1 here: reap the iptables children as the agent's SIGCHLD hook would. */
		int st;
		pid_t pid;
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
			net_child_exited(pid, st);
		int rc = ttrpc_client_recv(&cl, 0, &r);
		if (rc == -ETIMEDOUT)
			continue;
		if (rc < 0)
			return -1;
		int code = r.code;
		if (ret_resp)
			*ret_resp = code == 0 && out
			                ? protobuf_c_message_unpack(out, NULL, r.len, r.payload)
			                : NULL;
		if (ret_msg)
			*ret_msg = strdup(r.message ? r.message : "");
		ttrpc_result_free(&r);
		return code;
	}
	return -1;
}

int call_msg(const char *method, const ProtobufCMessage *req, char **ret_msg)
{
	return call(method, req, NULL, NULL, ret_msg);
}

bool contains(const char *msg, const char *s)
{
	return msg && strstr(msg, s);
}

/* ---- message builders ---- */

Types__IPAddress *ipaddr(Types__IPAddress *a, int v6, const char *addr, const char *mask)
{
	*a = (Types__IPAddress)TYPES__IPADDRESS__INIT;
	a->family = v6 ? TYPES__IPFAMILY__v6 : TYPES__IPFAMILY__v4;
	a->address = (char *)addr;
	a->mask = (char *)mask;
	return a;
}

int update_iface(const char *mac, const char *name, unsigned mtu, uint32_t flags,
                 Types__IPAddress **ips, size_t nips, Types__Interface **ret, char **ret_msg)
{
	Types__Interface in = TYPES__INTERFACE__INIT;
	in.hwaddr = (char *)mac;
	in.name = (char *)name;
	in.device = (char *)name;
	in.mtu = mtu;
	in.raw_flags = flags;
	in.ipaddresses = ips;
	in.n_ipaddresses = nips;
	Grpc__UpdateInterfaceRequest rq = GRPC__UPDATE_INTERFACE_REQUEST__INIT;
	rq.interface = &in;
	return call("UpdateInterface", &rq.base, &types__interface__descriptor,
	            (ProtobufCMessage **)ret, ret_msg);
}

Types__Route *route(Types__Route *r, int v6, const char *dest, const char *gw, const char *dev,
                    const char *src, unsigned scope, unsigned mtu)
{
	*r = (Types__Route)TYPES__ROUTE__INIT;
	r->family = v6 ? TYPES__IPFAMILY__v6 : TYPES__IPFAMILY__v4;
	r->dest = (char *)dest;
	r->gateway = (char *)gw;
	r->device = (char *)dev;
	r->source = (char *)src;
	r->scope = scope;
	r->mtu = mtu;
	return r;
}

int update_routes(Types__Route **rs, size_t n, Grpc__Routes **ret, char **ret_msg)
{
	Grpc__Routes list = GRPC__ROUTES__INIT;
	list.routes = rs;
	list.n_routes = n;
	Grpc__UpdateRoutesRequest rq = GRPC__UPDATE_ROUTES_REQUEST__INIT;
	rq.routes = &list;
	return call("UpdateRoutes", &rq.base, &grpc__routes__descriptor, (ProtobufCMessage **)ret,
	            ret_msg);
}

const Types__Route *find_route(const Grpc__Routes *rs, const char *dest, const char *dev)
{
	for (size_t i = 0; rs && i < rs->n_routes; i++)
		if (strcmp(rs->routes[i]->dest, dest) == 0 &&
		    strcmp(rs->routes[i]->device, dev) == 0)
			return rs->routes[i];
	return NULL;
}

void server_stop(void)
{
	ttrpc_server_free(srv);
	loop_free(agent.loop);
	close(cl.fd);
}
