#!/usr/bin/env python3
"""Random CreateContainer requests for the no-crash property test (tests/integration/spec-props.sh).

Each line printed is one JSON request for kata-agent-ctl: a valid busybox container spec whose
namespace, mount, device and rlimit entries are drawn at random from values that are valid,
borderline or wrong (unknown types, paths of the wrong namespace type, relative or escaping
destinations, absurd numbers).  The seed makes a run repeatable: a failure names its seed and
request number.
"""
import json
import random
import sys

NS_TYPES = ["pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time", "", "bogus"]
NS_PATHS = ["", "/proc/self/ns/pid", "/proc/self/ns/user", "/proc/self/ns/net", "/proc/1/ns/ipc",
            "/proc/{sleeper}/ns/pid_for_children", "/proc/{sleeper}/ns/uts", "/etc/hostname",
            "/nonexistent/ns", "relative/ns", "/proc/self/ns", "/dev/null"]
MOUNT_TYPES = ["proc", "tmpfs", "bind", "devpts", "sysfs", "mqueue", "cgroup", "", "nosuchfs",
               "overlay", "ext4"]
MOUNT_DESTS = ["/proc", "/dev", "/tmp/x", "/mnt", "relative", "/../../etc", "/", "", "/a/b/c/d",
               "/dev/pts", "/sys", "/tmp/" + "l" * 300, "/proc/sys", "/etc/hostname"]
MOUNT_SOURCES = ["none", "tmpfs", "/tmp", "/", "/nonexistent", "", "proc", "/etc/passwd",
                 "../../..", "/dev/null"]
MOUNT_OPTS = ["ro", "rw", "nosuid", "nodev", "noexec", "rbind", "bind", "private", "rslave",
              "size=1k", "size=-1", "mode=755", "mode=99999", "newinstance", "ptmxmode=0666",
              "uid=0", "gid=x", "relatime", "strictatime", "bogus=opt", "", "=", "a" * 200]
DEV_TYPES = ["c", "b", "u", "p", "", "x"]
RLIMITS = ["RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_CORE", "RLIMIT_STACK", "RLIMIT_AS",
           "RLIMIT_BOGUS", "", "RLIMIT_MEMLOCK", "RLIMIT_RTPRIO"]
NUMBERS = [0, 1, 5, 1024, 65536, 2**31 - 1, 2**32, 2**63 - 1, 2**64 - 1]


def pick(rng, values, valid=None):
    """A value from values; with valid given, one of its first `valid` entries 85% of the time."""
    if valid is not None and rng.random() < 0.85:
        return values[rng.randrange(valid)]
    return values[rng.randrange(len(values))]


def namespaces(rng, sleeper):
    out = [{"Type": "mount"}]
    for _ in range(rng.randrange(6)):
        ns = {"Type": pick(rng, NS_TYPES, 5)}
        if rng.random() < 0.3:
            ns["Path"] = pick(rng, NS_PATHS).format(sleeper=sleeper)
        out.append(ns)
    return out


def mounts(rng):
    base = [{"destination": "/proc", "source": "proc", "type": "proc", "options": ["nosuid"]},
            {"destination": "/dev", "source": "tmpfs", "type": "tmpfs", "options": ["mode=755"]}]
    for _ in range(rng.randrange(5)):
        m = {"destination": pick(rng, MOUNT_DESTS, 4), "source": pick(rng, MOUNT_SOURCES, 4),
             "type": pick(rng, MOUNT_TYPES, 6),
             "options": [pick(rng, MOUNT_OPTS, 9) for _ in range(rng.randrange(4))]}
        base.append(m)
    rng.shuffle(base)
    return base


def devices(rng):
    out = []
    for _ in range(rng.randrange(4)):
        d = {"Path": pick(rng, ["/dev/fuzz0", "/dev/null", "/dev/sub/dir/node", "relative",
                                "/dev/../etc/x", ""], 3),
             "Type": pick(rng, DEV_TYPES, 4), "Major": pick(rng, [1, 7, 8, 10, 136, 0, 4095, -1], 5),
             "Minor": pick(rng, [3, 200, 255, 0, 1048575, -1], 4),
             "FileMode": pick(rng, [0o666, 0o600, 0, 0o7777, 2**31], 2)}
        if rng.random() < 0.5:
            d["UID"] = pick(rng, [0, 1000, 2**32 - 1])
            d["GID"] = pick(rng, [0, 1000, 2**32 - 1])
        out.append(d)
    return out


def rlimits(rng):
    return [{"Type": pick(rng, RLIMITS, 5), "Hard": pick(rng, NUMBERS, 5),
             "Soft": pick(rng, NUMBERS, 3)}
            for _ in range(rng.randrange(4))]


def request(rng, i, rootfs, sleeper):
    cid = "prop%d" % i
    spec = {
        "Version": "1.0.2",
        "Process": {"Terminal": False, "User": {"UID": 0, "GID": 0}, "Args": ["true"],
                    "Env": ["PATH=/bin"], "Cwd": "/", "Rlimits": rlimits(rng)},
        "Root": {"Path": rootfs, "Readonly": rng.random() < 0.2},
        "Hostname": cid,
        "Mounts": mounts(rng),
        "Linux": {"CgroupsPath": "/kata-props/" + cid, "Namespaces": namespaces(rng, sleeper),
                  "Devices": devices(rng)},
    }
    return {"container_id": cid, "exec_id": cid, "OCI": spec}


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: spec_gen.py SEED COUNT ROOTFS SLEEPER_PID")
    seed, count, rootfs, sleeper = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    rng = random.Random(seed)
    for i in range(count):
        print(json.dumps(request(rng, i, rootfs, sleeper)))


if __name__ == "__main__":
    main()
