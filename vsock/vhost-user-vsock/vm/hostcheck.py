#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Host side of check-vhost-user-vsock-vm: talks to the guest only through the daemon's hybrid
unix socket (never AF_VSOCK).  Prints one 'ok:'/'FAIL:' line per check."""
import argparse
import os
import socket
import sys
import threading
import time


def connect_guest(uds, port, deadline):
    """CONNECT <port> until the guest listens; returns (socket, hostport)."""
    while time.monotonic() < deadline:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        try:
            s.connect(uds)
            s.sendall(b"CONNECT %d\n" % port)
            line = b""
            while not line.endswith(b"\n"):
                c = s.recv(1)
                if not c:
                    break
                line += c
            if line.startswith(b"OK "):
                return s, int(line[3:])
        except OSError:
            pass
        s.close()
        time.sleep(0.5)
    raise TimeoutError("guest never accepted CONNECT %d" % port)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uds", required=True)
    ap.add_argument("--listener", required=True, help="listening socket fd path <uds>_1025")
    ap.add_argument("--bytes", type=int, default=1 << 20)
    ap.add_argument("--timeout", type=float, default=240)
    a = ap.parse_args()
    deadline = time.monotonic() + a.timeout
    failed = 0

    def check(cond, what):
        nonlocal failed
        print(("ok: " if cond else "FAIL: ") + what, flush=True)
        failed += 0 if cond else 1

    lst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lst.bind(a.listener)
    lst.listen(4)
    lst.settimeout(a.timeout)

    s, hostport = connect_guest(a.uds, 1024, deadline)
    check(hostport >= 1 << 30, "CONNECT 1024 answered OK %d" % hostport)
    s.sendall(b"ping\n")
    got = b""
    while len(got) < 5:
        c = s.recv(64)
        if not c:
            break
        got += c
    check(got == b"ping\n", "small echo round trip")

    payload = bytes((i * 131 + 7) & 0xFF for i in range(a.bytes))
    t0 = time.monotonic()
    sender = threading.Thread(target=s.sendall, args=(payload,))
    sender.start()
    back = bytearray()
    while len(back) < len(payload):
        c = s.recv(1 << 16)
        if not c:
            break
        back += c
    sender.join()
    dt = time.monotonic() - t0
    check(bytes(back) == payload, "echo of %d bytes intact" % len(payload))
    print("measure: %d bytes echoed in %.2f s (%.1f KiB/s each way)"
          % (len(payload), dt, len(payload) / 1024 / dt), flush=True)
    s.close()

    try:
        g, _ = lst.accept()
        g.settimeout(30)
        line = b""
        while not line.endswith(b"\n"):
            c = g.recv(64)
            if not c:
                break
            line += c
        check(line == b"hello from guest\n", "guest-initiated connection to port 1025: %r" % line)
        g.close()
    except OSError as e:
        check(False, "guest-initiated connection to port 1025: %s" % e)
    lst.close()
    os.unlink(a.listener)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
