#!/usr/bin/env bash
# Tests for make release: two runs give byte-identical directories; SHA256SUMS verifies; the
# SPDX 2.3 SBOM is well formed (required fields, unique ids, relationships between known
# elements, SHA1 + SHA256 per file, creation time = SOURCE_DATE_EPOCH of the last commit) and
# lists exactly the regular files of the initrd (its builder's listing) and of the image (the
# rootfs tree it was built from), with the right content hashes and origins: Debian package
# files as their package and version (rootfs.origins / rootfs.debs), the rest as our build or,
# for busybox, Debian's busybox-static.
# Usage: tests/release/test-release.sh [ARCH]   (run from make: make check-release)
set -euo pipefail

arch=${1:-x86_64}
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$top"
make=${MAKE:-make}
version=$(cat VERSION)
out=build/release/$version/$arch
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
nok() { fail=$((fail + 1)); echo "FAIL $*"; }
expect() { local n=$1; shift; if "$@" >"$t/out" 2>&1; then ok "$n"; else nok "$n"; sed -n '1,40s/^/     /p' "$t/out"; fi; }

s0=$(date +%s)
expect "make release ARCH=$arch (first run)" "$make" --no-print-directory release ARCH="$arch"
s1=$(date +%s)
rm -rf "$t/first" && cp -a "$out" "$t/first"
expect "make release ARCH=$arch (second run)" "$make" --no-print-directory release ARCH="$arch"
s2=$(date +%s)
echo "     release runs: $((s1 - s0)) s and $((s2 - s1)) s"
expect "two runs are byte-identical" diff -r "$t/first" "$out"
expect "SHA256SUMS verifies every file" bash -c "cd '$out' && sha256sum --strict -c SHA256SUMS"
want="SHA256SUMS kata-agent kata-agent-c-$version-$arch.spdx.json kata-agent-ctl kata-containers-initrd.img kata-containers.img vhost-user-vsock"
got=$(cd "$out" && find . -type f ! -name '*.container' -printf '%P\n' | LC_ALL=C sort | tr '\n' ' ')
expect "release holds the agent, host tools, initrd, image, sums and SBOM" test "$got" = "$want "
expect "release holds vmlinux-<version>-kata.container and vmlinuz-<version>-kata.container" bash -c \
	"ls '$out' | grep -E '^vmlinux-[0-9]+\.[0-9]+.*-kata\.container\$' && ls '$out' | grep -E '^vmlinuz-[0-9]+\.[0-9]+.*-kata\.container\$'"

epoch=$(git log -1 --format=%ct)
expect "SBOM: SPDX 2.3 structure, every initrd and image file with hashes and origin" python3 - \
	"$out/kata-agent-c-$version-$arch.spdx.json" "build/$arch/kata-containers-initrd.img.list" \
	"build/$arch/rootfs" "build/$arch/rootfs.origins" "build/$arch/rootfs.debs" "$epoch" <<'PY'
import datetime, hashlib, json, os, sys
sbom, ilist, rootfs, origins, debs, epoch = sys.argv[1:]
d = json.load(open(sbom))
err = []
def need(c, m):
    if not c: err.append(m)
for k, v in [("spdxVersion", "SPDX-2.3"), ("dataLicense", "CC0-1.0"), ("SPDXID", "SPDXRef-DOCUMENT")]:
    need(d.get(k) == v, f"{k} is {d.get(k)!r}")
for k in ("name", "documentNamespace", "creationInfo", "packages", "files", "relationships"):
    need(k in d, f"no {k}")
want_time = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
need(d["creationInfo"].get("created") == want_time, f"created {d['creationInfo'].get('created')} != {want_time}")
need(d["creationInfo"].get("creators"), "no creators")
ids = [e["SPDXID"] for e in d["packages"] + d["files"]] + ["SPDXRef-DOCUMENT"]
need(len(ids) == len(set(ids)), "duplicate SPDXIDs")
for p in d["packages"]:
    for k in ("name", "downloadLocation", "versionInfo"):
        need(k in p, f"package {p['SPDXID']} has no {k}")
byid = {e["SPDXID"]: e for e in d["packages"] + d["files"]}
for r in d["relationships"]:
    need(r["spdxElementId"] in ids and r["relatedSpdxElement"] in ids, f"dangling relationship {r}")
# file id -> (artifact, origin package)
art, src = {}, {}
for r in d["relationships"]:
    a, t, b = r["spdxElementId"], r["relationshipType"], r["relatedSpdxElement"]
    if t == "CONTAINS" and a in ("SPDXRef-Package-initrd", "SPDXRef-Package-image"):
        art[b] = a.rsplit("-", 1)[1]
    elif t == "CONTAINS":
        src[b] = byid[a]
    elif t == "GENERATED_FROM":
        src[a] = byid[b]
listed = {"initrd": {}, "image": {}}
for f in d["files"]:
    cs = {c["algorithm"]: c["checksumValue"] for c in f["checksums"]}
    need("SHA1" in cs and "SHA256" in cs, f"{f['fileName']}: checksums {cs}")
    need(f["SPDXID"] in art, f"{f['fileName']}: in no artifact")
    need(f["SPDXID"] in src, f"{f['fileName']}: no origin")
    if f["SPDXID"] in art and f["SPDXID"] in src:
        listed[art[f["SPDXID"]]][f["fileName"][1:]] = (cs.get("SHA256"), src[f["SPDXID"]])
# initrd: the builder's listing (sha256 type mode nlink size path)
want = {}
for line in open(ilist):
    if line.startswith("#"): continue
    x = line.split()
    if x[1] == "f": want[x[5]] = x[0]
need(set(want) == set(listed["initrd"]), f"initrd files differ: {sorted(set(want) ^ set(listed['initrd']))[:5]}")
for p, h in want.items():
    if p in listed["initrd"]: need(listed["initrd"][p][0] == h, f"initrd {p}: sha256")
# image: the rootfs tree
want = {}
for dp, _, fs in os.walk(rootfs):
    for n in fs:
        q = os.path.join(dp, n)
        if os.path.isfile(q) and not os.path.islink(q):
            want["/" + os.path.relpath(q, rootfs)] = hashlib.sha256(open(q, "rb").read()).hexdigest()
need(set(want) == set(listed["image"]), f"image files differ: {sorted(set(want) ^ set(listed['image']))[:5]}")
for p, h in want.items():
    if p in listed["image"]: need(listed["image"][p][0] == h, f"image {p}: sha256")
org = {l.split()[0]: l.split()[1:] for l in open(origins)}
ver = {l.split()[0]: l.split()[1] for l in open(debs)} if os.path.exists(debs) else {}
for p, (_, pk) in listed["image"].items():
    if p in org:
        need(pk["name"] == org[p][0] and pk["versionInfo"] == org[p][1] == ver.get(org[p][0]),
             f"image {p}: origin {pk['name']} {pk['versionInfo']}, want {org[p]}")
    elif p == "/bin/busybox":
        need(pk["name"] == "busybox-static", f"/bin/busybox: origin {pk['name']}")
    else:
        need(pk["name"] == "kata-agent-c", f"image {p}: origin {pk['name']}, want our build")
need(listed["image"].get("/sbin/init", (0, {}))[1].get("name") == "kata-agent-c", "/sbin/init not ours")
if err:
    print("\n".join(err[:20])); sys.exit(1)
print(f"{len(listed['initrd'])} initrd files, {len(listed['image'])} image files, {len(d['packages'])} packages")
PY
if [ "$arch" = x86_64 ]; then
	expect "SBOM: the default image's iptables-save comes from Debian's iptables" python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
f = [x for x in d['files'] if x['fileName'] == './usr/sbin/xtables-nft-multi']
assert len(f) == 1, f
c = [r for r in d['relationships'] if r['relatedSpdxElement'] == f[0]['SPDXID'] and r['spdxElementId'].startswith('SPDXRef-Package-deb-')]
assert [r['spdxElementId'] for r in c] == ['SPDXRef-Package-deb-iptables'], c
" "$out/kata-agent-c-$version-$arch.spdx.json"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
