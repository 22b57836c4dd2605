#!/bin/bash
# Build tests/bench/ttrpc-peer (containerd's Go ttrpc server serving grpc.Health, and with --load
# the Go ttrpc client driving it or our agent) offline, in
# GOPATH mode, from Debian's golang-go and golang-*-dev packages (sources under
# /usr/share/gocode/src).  The binary is cached in $KATA_AGENT_C_CACHE keyed by a hash of the
# peer's source, the Go version and the versions of the Debian Go packages it builds from.
set -euo pipefail

usage() {
	cat <<'EOF'
Usage: tests/bench/build-peer.sh --output PATH [--cache DIR]
Build the Go ttrpc peer (server and Go load client) of the RPC benchmark, offline
(GOPATH mode, GOPROXY=off).
  --output PATH  where to put the binary
  --cache DIR    product and Go build cache (default: $KATA_AGENT_C_CACHE or
                 ~/.cache/kata-agent-c)
  --help         this text
EOF
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
gocode=/usr/share/gocode/src
output=""
cache=${KATA_AGENT_C_CACHE:-$HOME/.cache/kata-agent-c}

while [[ $# -gt 0 ]]; do
	case $1 in
	--output) output=${2:?--output needs a path}; shift 2 ;;
	--cache) cache=${2:?--cache needs a directory}; shift 2 ;;
	--help) usage; exit 0 ;;
	*) echo "build-peer.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
done
[[ -n $output ]] || { usage >&2; exit 2; }

command -v go >/dev/null || { echo "build-peer.sh: go not found (scripts/setup.sh installs golang-go)" >&2; exit 1; }
[[ -d $gocode/github.com/containerd/ttrpc ]] || {
	echo "build-peer.sh: $gocode/github.com/containerd/ttrpc missing (golang-github-containerd-ttrpc-dev)" >&2
	exit 1
}

# The key: our sources, the toolchain, and every installed Debian Go source package.
key=$( {
	cat "$here"/ttrpc-peer/*.go
	go version
	dpkg-query -W -f '${Package} ${Version}\n' 'golang-*-dev' 2>/dev/null | sort
} | sha256sum | cut -c1-16)
product=$cache/ttrpc-peer/ttrpc-peer-$key
mkdir -p "$(dirname "$output")" "$cache/ttrpc-peer"

if [[ ! -x $product ]]; then
	gopath=$(mktemp -d)
	trap 'rm -rf "$gopath"' EXIT
	mkdir -p "$gopath/src/katabench"
	for d in "$gocode"/*; do
		ln -s "$d" "$gopath/src/"
	done
	cp "$here"/ttrpc-peer/*.go "$gopath/src/katabench/"
	echo "build-peer.sh: building the Go ttrpc peer (GOPATH mode, offline)"
	(cd "$gopath/src/katabench" &&
		GO111MODULE=off GOPATH=$gopath GOPROXY=off GOFLAGS='' GOTOOLCHAIN=local \
			GOCACHE=$cache/go-build CGO_ENABLED=0 \
			go build -trimpath -o "$product.tmp" .)
	mv "$product.tmp" "$product"
fi
cp "$product" "$output"
echo "build-peer.sh: $output ($(stat -c %s "$output") bytes, $(go version | cut -d' ' -f3))"
