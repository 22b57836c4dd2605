#!/usr/bin/env bash
# Regenerate the seed corpora under tests/fuzz/corpus/ (committed; rerun after a protocol
# change).  Binary protobuf comes from the reference encoder (protoc --encode); frame headers
# and the fuzzers' control bytes are written with printf.  Inputs that libFuzzer found and that
# were kept as regression tests live beside these, named regress-*, and are left alone.
set -euo pipefail

usage() {
	cat <<'USAGE'
Usage: tests/fuzz/gen-corpus.sh [--out DIR] [--proto-path DIR] [--help]
  --out DIR         corpus root (default tests/fuzz/corpus)
  --proto-path DIR  the agent's .proto files (default agent/proto)
  --golden DIR      text-format request vectors to reuse (default tests/unit/golden)
USAGE
}

out=tests/fuzz/corpus
proto=agent/proto
golden=tests/unit/golden
while [[ $# -gt 0 ]]; do
	case "$1" in
	--out) out="${2:?}"; shift 2 ;;
	--proto-path) proto="${2:?}"; shift 2 ;;
	--golden) golden="${2:?}"; shift 2 ;;
	--help | -h) usage; exit 0 ;;
	*) echo "gen-corpus.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
done

# Raw bytes from decimal values.
bytes() {
	local b
	for b in "$@"; do
		# shellcheck disable=SC2059 # the format is the octal escape itself
		printf "\\$(printf '%03o' "$b")"
	done
}

be32() {
	bytes $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255))
}

# encode FILE.proto TYPE TEXT: the binary message.
encode() {
	protoc --proto_path="$proto" --encode="$2" "$1" <<<"$3"
}

# frame STREAM TYPE FLAGS BODYFILE: a ttrpc frame around the body.
frame() {
	be32 "$(stat -c %s "$4")"
	be32 "$1"
	bytes "$2" "$3"
	cat "$4"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# request SERVICE METHOD [EXTRA-TEXT]: a ttrpc.Request body in $tmp/req.
request() {
	encode ttrpc.proto ttrpc.Request "service: \"$1\" method: \"$2\" ${3:-}" >"$tmp/req"
}

# ---- frames: control byte (piece size, half-close, close) + client bytes ----
d="$out/frames"
mkdir -p "$d"
find "$d" -type f ! -name 'regress-*' -delete
request grpc.Health Echo
{ bytes 0; frame 1 1 0 "$tmp/req"; } >"$d/echo"
{ bytes 1; frame 1 1 0 "$tmp/req"; frame 3 1 0 "$tmp/req"; } >"$d/echo-bytewise"
request x Park
cp "$tmp/req" "$tmp/park"
request x Release
cp "$tmp/req" "$tmp/release"
request x Park 'timeout_nano: 1'
cp "$tmp/req" "$tmp/park-deadline"
{ bytes 2; frame 1 1 0 "$tmp/park"; frame 3 1 0 "$tmp/park-deadline"; frame 5 1 0 "$tmp/release"; } >"$d/park-release"
{ bytes 16; frame 1 1 0 "$tmp/park"; frame 3 1 0 "$tmp/park"; } >"$d/park-halfclose"
{ bytes 32; frame 1 1 0 "$tmp/park"; } >"$d/park-close"
{ bytes 0; for s in 1 3 5 7 9 11 13 15 17 19; do frame "$s" 1 0 "$tmp/park"; done; } >"$d/park-limits"
{ bytes 0; frame 1 1 0 "$tmp/park"; frame 1 1 0 "$tmp/park"; } >"$d/duplicate-stream"
request grpc.Health Payload 'payload: "hello" metadata { key: "k" value: "v" }'
{ bytes 5; frame 7 1 0 "$tmp/req"; } >"$d/payload"
request grpc.Health Echo
{ bytes 0; frame 2 1 0 "$tmp/req"; frame 9 1 2 "$tmp/req"; } >"$d/even-stream-remote-open"
printf 'abc' >"$tmp/abc"
{ bytes 3; frame 7 3 0 "$tmp/abc"; frame 9 127 0 "$tmp/abc"; frame 11 2 0 "$tmp/abc"; } >"$d/data-unknown-types"
bytes 10 255 255 255 255 15 >"$tmp/garbage"
{ bytes 4; frame 3 1 0 "$tmp/garbage"; frame 5 1 0 "$tmp/req"; } >"$d/bad-envelope"
{ bytes 12; be32 $((5 << 20)); be32 1; bytes 1 0; head -c 300 /dev/zero; frame 3 1 0 "$tmp/req"; } >"$d/oversized"
{ bytes 0; be32 100; be32 1; bytes 1 0; printf 'short'; } >"$d/truncated"

# ---- dispatch: method index (descriptor order: AgentService, then Health) + payload ----
d="$out/dispatch"
mkdir -p "$d"
find "$d" -type f ! -name 'regress-*' -delete
mapfile -t methods < <(sed -n 's/^[[:space:]]*rpc \([A-Za-z]*\)(\([A-Za-z.]*\)).*/\1 \2/p' \
	"$proto/agent.proto" "$proto/health.proto")
i=0
for m in "${methods[@]}"; do
	name=${m%% *} type=${m#* }
	[[ "$type" == *.* ]] || type="grpc.$type"
	bytes "$i" >"$d/empty-$name"
	for g in "$golden"/*.txtpb; do
		if grep -q "^# proto-message: *$type *\$" "$g"; then
			{ bytes "$i"; encode agent.proto "$type" "$(cat "$g")"; } >"$d/golden-$name-$(basename "$g" .txtpb)"
		fi
	done
	case "$name" in
	SignalProcess) text='container_id: "c1" exec_id: "" signal: 9' ;;
	WaitProcess | CloseStdin) text='container_id: "c1" exec_id: "e1"' ;;
	ReadStdout | ReadStderr) text='container_id: "c1" exec_id: "e1" len: 4096' ;;
	WriteStdin) text='container_id: "c1" exec_id: "e1" data: "input"' ;;
	TtyWinResize) text='container_id: "c1" exec_id: "e1" row: 24 column: 80' ;;
	UpdateContainer) text='container_id: "c1" resources { Memory { Limit: 1048576 } }' ;;
	*) text="" ;;
	esac
	if [[ -n "$text" ]]; then
		{ bytes "$i"; encode agent.proto "$type" "$text"; } >"$d/text-$name"
	fi
	i=$((i + 1))
done
{ bytes 255; printf 'grpc.Nope\0Check\0'; } >"$d/unknown-service"
{ bytes 255; printf 'grpc.AgentService\0NoSuchMethod\0'; } >"$d/unknown-method"
{ bytes 255; printf 'grpc.AgentService\0SetPolicy\0'; } >"$d/unimplemented"

# ---- cmdline: kernel command lines [\n\0 env addr \0 env level] ----
d="$out/cmdline"
mkdir -p "$d"
find "$d" -type f ! -name 'regress-*' -delete
printf 'console=hvc0 agent.log=debug agent.debug_console agent.debug_console_vport=1026 agent.log_vport=1025 quiet' >"$d/typical"
printf 'agent.server_addr=vsock://-1:1024 agent.hotplug_timeout=10 agent.container_pipe_size=0 agent.trace=true agent.devmode systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all' >"$d/all"
printf 'agent.log=bogus agent.hotplug_timeout=0 agent.log_vport=-1 agent.trace=maybe agent.devmode=1 agent.unknown=1 agent.server_addr= agent.passfd_listener_port=1=2' >"$d/bad-values"
printf 'agent.log=info\n\0unix:///tmp/agent.sock\0trace' >"$d/with-env"
printf 'agent.server_addr=%0200d' 0 >"$d/long-addr"
