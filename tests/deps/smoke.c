/* Smoke test for build/ARCH/deps: links libnl-route-3, libnl-3, libseccomp and protobuf-c
 * statically with the agent's compiler and uses each for real.  tests/deps/check.sh compares
 * the output with what the architecture must print. */
#include <errno.h>
#include <linux/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/socket.h>
#include <protobuf-c/protobuf-c.h>
#include <seccomp.h>

static void nl_sock_freep(struct nl_sock **sk)
{
	if (*sk)
		nl_socket_free(*sk);
}

static void rtnl_link_putp(struct rtnl_link **link)
{
	if (*link)
		rtnl_link_put(*link);
}

static void seccomp_releasep(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

static void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

/* libnl returns its own NLE_* codes; map the few that matter here. */
static int nle_to_errno(int nle)
{
	switch (-nle) {
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_OBJ_NOTFOUND:
		return -ENODEV;
	case NLE_PERM:
		return -EPERM;
	default:
		return -EIO;
	}
}

static int check_libnl(void)
{
	__attribute__((cleanup(nl_sock_freep))) struct nl_sock *sk = nl_socket_alloc();
	__attribute__((cleanup(rtnl_link_putp))) struct rtnl_link *link = rtnl_link_alloc();
	__attribute__((cleanup(rtnl_link_putp))) struct rtnl_link *lo = NULL;
	int r;

	if (!sk || !link)
		return -ENOMEM;
	rtnl_link_set_name(link, "smoke0");
	rtnl_link_set_mtu(link, 1400);
	printf("libnl: link %s mtu %u\n", rtnl_link_get_name(link), rtnl_link_get_mtu(link));

	/* A real round trip to the kernel: "lo" is ifindex 1 in every network namespace. */
	r = nl_connect(sk, NETLINK_ROUTE);
	if (r < 0)
		return nle_to_errno(r);
	r = rtnl_link_get_kernel(sk, 0, "lo", &lo);
	if (r < 0)
		return nle_to_errno(r);
	printf("libnl: lo ifindex %d %s\n", rtnl_link_get_ifindex(lo),
	       (rtnl_link_get_flags(lo) & IFF_LOOPBACK) ? "loopback" : "not-loopback");
	return 0;
}

static const char *arch_name(uint32_t token)
{
	static const struct {
		uint32_t token;
		const char *name;
	} arches[] = {
	    {SCMP_ARCH_X86_64, "x86_64"},
	    {SCMP_ARCH_RISCV64, "riscv64"},
	    {SCMP_ARCH_AARCH64, "aarch64"},
	};
	for (size_t i = 0; i < sizeof(arches) / sizeof(arches[0]); i++)
		if (arches[i].token == token)
			return arches[i].name;
	return "unknown";
}

static int check_seccomp(void)
{
	__attribute__((cleanup(seccomp_releasep))) scmp_filter_ctx ctx =
	    seccomp_init(SCMP_ACT_ALLOW);
	__attribute__((cleanup(closep))) int rfd = -1;
	__attribute__((cleanup(closep))) int wfd = -1;
	const struct scmp_version *v = seccomp_version();
	unsigned char bpf[4096];
	int fds[2], r;
	ssize_t n;

	if (!ctx)
		return -ENOMEM;
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(mount), 0);
	if (r < 0)
		return r;
	/* Export (not load: under qemu-user a filter would apply to the emulator) and check that
	 * whole BPF instructions (8 bytes each) came out. */
	if (pipe(fds) < 0)
		return -errno;
	rfd = fds[0];
	wfd = fds[1];
	r = seccomp_export_bpf(ctx, wfd);
	if (r < 0)
		return r;
	close(wfd);
	wfd = -1;
	n = read(rfd, bpf, sizeof(bpf));
	if (n < 0)
		return -errno;
	printf("seccomp: %u.%u.%u native %s openat %d bpf %s\n", v->major, v->minor, v->micro,
	       arch_name(seccomp_arch_native()), seccomp_syscall_resolve_name("openat"),
	       (n > 0 && n % 8 == 0) ? "ok" : "bad");
	return 0;
}

static int check_protobuf_c(void)
{
	printf("protobuf-c: %s (%u)\n", protobuf_c_version(), protobuf_c_version_number());
	return 0;
}

int main(void)
{
	static const struct {
		const char *name;
		int (*run)(void);
	} checks[] = {
	    {"libnl", check_libnl},
	    {"seccomp", check_seccomp},
	    {"protobuf-c", check_protobuf_c},
	};
	int status = EXIT_SUCCESS;

	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		int r = checks[i].run();
		if (r < 0) {
			printf("%s: error %d\n", checks[i].name, r);
			status = EXIT_FAILURE;
		}
	}
	return status;
}
