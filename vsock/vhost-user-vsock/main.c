// SPDX-License-Identifier: Apache-2.0
/* vhost-user-vsock: a vhost-user back-end for QEMU's vhost-user-vsock-pci exposing the guest's
 * vsock ports through a Firecracker-style hybrid unix socket.  See README.md. */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>

#include "evloop.h"
#include "vhost_user.h"
#include "vsock_core.h"
#include "vsock_trace.h"

int vuv_log_level = 1;

struct daemon {
	struct vu_dev dev;
	struct vsock_core core;
	struct ev_src sig_src;
	int sig_fd;
	bool quit;
};

static void usage(FILE *f)
{
	fputs(
	    "Usage: vhost-user-vsock --socket PATH --uds PATH --guest-cid N [--trace FILE]\n"
	    "                        [--verbose] [--help]\n"
	    "  --socket PATH    vhost-user socket to listen on (QEMU: -chardev socket,path=PATH)\n"
	    "  --uds PATH       hybrid vsock socket: clients write \"CONNECT <port>\\n\" and get\n"
	    "                   \"OK <hostport>\\n\"; guest connections to port N go to PATH_N\n"
	    "  --guest-cid N    the guest's CID (>= 3), reported in the device config space\n"
	    "  --trace FILE     write the agent port's (1024) ttrpc traffic as JSON lines, with "
	    "the\n"
	    "                   log (1025) and console (1026) streams marked (docs/DEBUGGING.md)\n"
	    "  --verbose, -v    more logging (repeat for debug)\n"
	    "Runs until SIGTERM/SIGINT; survives the front-end reconnecting.\n",
	    f);
}

static void on_kick(struct vu_dev *dev, unsigned idx)
{
	struct daemon *d = dev->opaque;
	if (idx == VSOCK_VQ_TX)
		vsc_process_tx(&d->core);
	else if (idx == VSOCK_VQ_RX)
		vsc_process_rx(&d->core);
	/* The event queue carries only TRANSPORT_RESET, which this device never sends. */
}

static void on_stop(struct vu_dev *dev)
{
	struct daemon *d = dev->opaque;
	vsc_reset_all(&d->core);
}

static void sig_event(struct ev_src *src, uint32_t events)
{
	struct daemon *d = container_of(src, struct daemon, sig_src);
	struct signalfd_siginfo si;
	if (read(d->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		log_info("signal %u, exiting", si.ssi_signo);
		d->quit = true;
	}
}

static int parse_cid(const char *s, uint64_t *ret)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	/* CIDs 0-2 are reserved (hypervisor, local, host); U32_MAX is VMADDR_CID_ANY. */
	if (errno || *end || end == s || v < 3 || v >= UINT32_MAX)
		return -EINVAL;
	*ret = v;
	return 0;
}

struct opts {
	const char *sock, *uds, *trace;
	uint64_t cid;
};

/* Returns true to run with *o; false to exit at once with *ret_status (--help, bad usage). */
static bool parse_args(int argc, char **argv, struct opts *o, int *ret_status)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"uds", required_argument, NULL, 'u'},
	    {"guest-cid", required_argument, NULL, 'c'},
	    {"trace", required_argument, NULL, 't'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	*o = (struct opts){0};
	*ret_status = 2;
	int c;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			o->sock = optarg;
			break;
		case 'u':
			o->uds = optarg;
			break;
		case 'c':
			if (parse_cid(optarg, &o->cid) < 0) {
				fprintf(stderr, "vhost-user-vsock: bad --guest-cid '%s'\n", optarg);
				return false;
			}
			break;
		case 't':
			o->trace = optarg;
			break;
		case 'v':
			vuv_log_level++;
			break;
		case 'h':
			usage(stdout);
			*ret_status = 0;
			return false;
		default:
			usage(stderr);
			return false;
		}
	}
	if (!o->sock || !o->uds || !o->cid || optind != argc) {
		usage(stderr);
		return false;
	}
	return true;
}

/* SIGTERM and SIGINT (blocked in main) come through a signalfd in the event loop, so the
 * daemon stops between two events and cleans up. */
static int watch_signals(struct daemon *d, int epfd, const sigset_t *mask)
{
	d->sig_fd = signalfd(-1, mask, SFD_CLOEXEC | SFD_NONBLOCK);
	d->sig_src.fn = sig_event;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &d->sig_src};
	if (d->sig_fd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, d->sig_fd, &ev) < 0) {
		log_err("signalfd: %m");
		return -1;
	}
	return 0;
}

/* Sets up the device, the hybrid socket and the trace, then runs the loop until a signal;
 * returns the exit status. */
static int serve(struct daemon *d, int epfd, const struct opts *o)
{
	vu_init(&d->dev, epfd, o->cid);
	d->dev.on_kick = on_kick;
	d->dev.on_stop = on_stop;
	d->dev.opaque = d;
	int r = vsc_init(&d->core, o->cid, o->uds, epfd, &d->dev.mem, &d->dev.vq[VSOCK_VQ_RX],
	                 &d->dev.vq[VSOCK_VQ_TX]);
	if (r < 0) {
		log_err("hybrid socket %s: %s", o->uds, strerror(-r));
		return 1;
	}
	struct vtrace *vt = NULL;
	struct vsc_observer obs;
	if (o->trace) {
		r = vtrace_open(o->trace, &vt, &obs);
		if (r < 0) {
			log_err("--trace %s: %s", o->trace, strerror(-r));
			vsc_fini(&d->core);
			return 1;
		}
		d->core.obs = &obs;
	}
	r = vu_listen(&d->dev, o->sock);
	if (r < 0) {
		log_err("vhost-user socket %s: %s", o->sock, strerror(-r));
		vsc_fini(&d->core);
		vtrace_close(vt, stderr);
		return 1;
	}
	log_info("listening on %s (vhost-user) and %s (hybrid vsock), guest cid %" PRIu64, o->sock,
	         o->uds, o->cid);
	while (!d->quit) {
		r = ev_run_once(epfd, -1);
		vsc_reap(&d->core);
		if (r < 0) {
			log_err("epoll_wait: %s", strerror(-r));
			break;
		}
	}
	vu_fini(&d->dev);
	vsc_fini(&d->core);
	vtrace_close(vt, stderr);
	unlink(o->sock);
	closep(&d->sig_fd);
	return r < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	int status;
	if (!parse_args(argc, argv, &o, &status))
		return status;

	signal(SIGPIPE, SIG_IGN);
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);

	_cleanup_close_ int epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0) {
		log_err("epoll_create1: %m");
		return 1;
	}
	static struct daemon d;
	if (watch_signals(&d, epfd, &mask) < 0)
		return 1;
	return serve(&d, epfd, &o);
}
