#!/usr/bin/env python3
"""SPDX 2.3 JSON SBOM for a kata-agent-c release (scripts/release.sh).

Lists every regular file of the initrd (read from its newc cpio) and of the disk image (a tree
extracted from its ext4 partition with debugfs rdump) with SHA1 and SHA256, and says where each
came from: a Debian package (name, version, architecture; from the rootfs builder's origins file
or, for a host file such as busybox, from dpkg-query) or our build (package "kata-agent-c").
Symlinks and device nodes carry no content and are not listed.  The output depends only on its
inputs and SOURCE_DATE_EPOCH: lists are sorted and the document namespace is a content hash.
"""
import argparse
import datetime
import gzip
import hashlib
import json
import os
import subprocess
import sys


def die(msg):
    sys.exit("sbom: " + msg)


def cpio_files(path):
    """(path, bytes) of the regular files of a newc cpio, compressed or not."""
    raw = open(path, "rb").read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    elif raw[:4] in (b"\x28\xb5\x2f\xfd", b"\x04\x22\x4d\x18") or raw[:6] == b"\xfd7zXZ\x00":
        tool = {b"\x28": "zstd", b"\x04": "lz4", b"\xfd": "xz"}[raw[:1]]
        raw = subprocess.run([tool, "-dc", path], check=True, stdout=subprocess.PIPE).stdout
    out, off = [], 0
    while True:
        hdr = raw[off:off + 110]
        if hdr[:6] not in (b"070701", b"070702"):
            die(f"{path}: bad cpio header at {off}")
        field = [int(hdr[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = field[1], field[6], field[11]
        name_end = off + 110 + namesize
        name = raw[off + 110:name_end - 1].decode()
        data_off = (name_end + 3) & ~3
        if name == "TRAILER!!!":
            return out
        if (mode & 0o170000) == 0o100000:
            out.append(("/" + name.lstrip("./"), raw[data_off:data_off + size]))
        off = (data_off + size + 3) & ~3


def tree_files(root):
    out = []
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(d, f)
            if os.path.isfile(p) and not os.path.islink(p):
                out.append(("/" + os.path.relpath(p, root), open(p, "rb").read()))
    return out


def host_package(path):
    """Debian package, version and architecture owning a host file, or None."""
    r = subprocess.run(["dpkg-query", "-S", os.path.realpath(path)], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    if r.returncode != 0:
        r = subprocess.run(["dpkg-query", "-S", path], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
        if r.returncode != 0:
            return None
    name = r.stdout.split(":")[0].split(",")[0].strip()
    v = subprocess.run(["dpkg-query", "-W", "-f", "${Version} ${Architecture}", name],
                       check=True, stdout=subprocess.PIPE, text=True).stdout.split()
    return name, v[0], v[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--arch", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--image-tree", required=True, help="the image's files, extracted")
    ap.add_argument("--origins", help="rootfs builder origins: PATH PACKAGE VERSION")
    ap.add_argument("--debs", help="debs.sh list: NAME VERSION ARCH SHA256 DEB")
    ap.add_argument("--host-file", action="append", default=[],
                    help="GUESTPATH=HOSTPATH: a guest file copied from the host (dpkg-query)")
    ap.add_argument("--output", required=True)
    a = ap.parse_args()

    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    created = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)

    debs = {}
    if a.debs:
        for line in open(a.debs):
            n, v, arch, sha, _ = line.split()
            debs[n] = (v, arch, sha)
    origin = {}
    if a.origins:
        for line in open(a.origins):
            p, n, v = line.split()
            origin[p] = (n, v, debs.get(n, (v, "all", ""))[1])
    host = {}
    for hf in a.host_file:
        g, h = hf.split("=", 1)
        pkg = host_package(h)
        if pkg is None:
            die(f"{h}: not from a Debian package (dpkg-query -S)")
        host[g] = pkg

    packages, relationships, files = {}, [], []

    def pkg_id(kind, name):
        return "SPDXRef-Package-" + kind + "-" + "".join(c if c.isalnum() or c in ".-" else "-" for c in name)

    ours = pkg_id("ours", a.name)
    packages[ours] = {
        "SPDXID": ours, "name": a.name, "versionInfo": a.version,
        "supplier": "Organization: " + a.name, "downloadLocation": "NOASSERTION",
        "filesAnalyzed": False, "licenseConcluded": "Apache-2.0",
        "licenseDeclared": "Apache-2.0", "copyrightText": "NOASSERTION",
        "comment": "built from this repository: the agent, generated configuration files",
    }

    def debian(name, version, arch, sha=""):
        i = pkg_id("deb", name)
        if i not in packages:
            p = {
                "SPDXID": i, "name": name, "versionInfo": version,
                "supplier": "Organization: Debian", "downloadLocation": "NOASSERTION",
                "filesAnalyzed": False, "licenseConcluded": "NOASSERTION",
                "licenseDeclared": "NOASSERTION", "copyrightText": "NOASSERTION",
                "externalRefs": [{
                    "referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                    "referenceLocator": f"pkg:deb/debian/{name}@{version.replace(':', '%3A')}?arch={arch}&distro=debian-12",
                }],
            }
            if sha:
                p["checksums"] = [{"algorithm": "SHA256", "checksumValue": sha}]
            packages[i] = p
        return i

    def artifact(kind, path, listing, pkg_origin):
        blob = open(path, "rb").read()
        ai = "SPDXRef-Package-" + kind
        packages[ai] = {
            "SPDXID": ai, "name": os.path.basename(path), "versionInfo": a.version,
            "supplier": "Organization: " + a.name, "downloadLocation": "NOASSERTION",
            "filesAnalyzed": False, "primaryPackagePurpose": "FILE",
            "licenseConcluded": "NOASSERTION", "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
            "checksums": [{"algorithm": "SHA256", "checksumValue": hashlib.sha256(blob).hexdigest()}],
        }
        relationships.append({"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
                              "relatedSpdxElement": ai})
        for n, (p, data) in enumerate(sorted(listing), 1):
            fi = f"SPDXRef-File-{kind}-{n}"
            if p in pkg_origin:
                src = debian(pkg_origin[p][0], pkg_origin[p][1], pkg_origin[p][2],
                             debs.get(pkg_origin[p][0], ("", "", ""))[2])
            elif p in host:
                src = debian(*host[p])
            else:
                src = ours
            files.append({
                "SPDXID": fi, "fileName": "." + p,
                "checksums": [
                    {"algorithm": "SHA1", "checksumValue": hashlib.sha1(data).hexdigest()},
                    {"algorithm": "SHA256", "checksumValue": hashlib.sha256(data).hexdigest()},
                ],
                "licenseConcluded": "NOASSERTION", "copyrightText": "NOASSERTION",
                "comment": f"in {os.path.basename(path)}; from {packages[src]['name']}"
                           + (f" {packages[src]['versionInfo']}" if src != ours else " (our build)"),
            })
            relationships.append({"spdxElementId": ai, "relationshipType": "CONTAINS",
                                  "relatedSpdxElement": fi})
            if src == ours:
                relationships.append({"spdxElementId": fi, "relationshipType": "GENERATED_FROM",
                                      "relatedSpdxElement": ours})
            else:
                relationships.append({"spdxElementId": src, "relationshipType": "CONTAINS",
                                      "relatedSpdxElement": fi})

    # The packages are unpacked into the rootfs/image only; the initrd has none.
    artifact("initrd", a.initrd, cpio_files(a.initrd), {})
    artifact("image", a.image, tree_files(a.image_tree), origin)

    body = {
        "packages": [packages[k] for k in sorted(packages)],
        "files": files,
        "relationships": relationships,
    }
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    doc = {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": f"{a.name}-{a.version}-{a.arch}",
        "documentNamespace": f"https://spdx.org/spdxdocs/{a.name}-{a.version}-{a.arch}-{digest}",
        "creationInfo": {
            "created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "creators": [f"Tool: {a.name}-release-{a.version}"],
        },
        **body,
    }
    with open(a.output, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=False)
        f.write("\n")
    print(f"sbom: {a.output}: {len(files)} files, {len(packages)} packages", file=sys.stderr)


if __name__ == "__main__":
    main()
