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

# ---- proxy: piece sizes, take size, be16 client length, client bytes, agent bytes ----
d="$out/proxy"
mkdir -p "$d"
find "$d" -type f ! -name 'regress-*' -delete
request grpc.Health Check
frame 1 1 0 "$tmp/req" >"$tmp/c2s"
request grpc.AgentService WaitProcess 'timeout_nano: 5 metadata { key: "k" value: "v" } payload: "\n\001c\022\001e"'
frame 3 1 0 "$tmp/req" >>"$tmp/c2s"
encode ttrpc.proto ttrpc.Response 'status { code: 0 } payload: "\010\001"' >"$tmp/resp"
frame 1 2 0 "$tmp/resp" >"$tmp/s2c"
encode ttrpc.proto ttrpc.Response 'status { code: 5 message: "not found" }' >"$tmp/resp"
frame 3 2 0 "$tmp/resp" >>"$tmp/s2c"
pair() { # NAME PIECE1 PIECE2 TAKE CLIENT AGENT
	local n
	n=$(stat -c %s "$5")
	{ bytes "$2" "$3" "$4" $((n >> 8 & 255)) $((n & 255)); cat "$5" "$6"; } >"$d/$1"
}
pair whole 0 0 0 "$tmp/c2s" "$tmp/s2c"
pair bytewise 1 1 1 "$tmp/c2s" "$tmp/s2c"
pair pieces 7 3 5 "$tmp/c2s" "$tmp/s2c"
{ be32 $((5 << 20)); be32 1; bytes 1 0; printf 'oversized'; } >"$tmp/big"
pair oversized 4 0 0 "$tmp/big" "$tmp/s2c"
{ be32 100; be32 1; bytes 1 0; printf 'short'; } >"$tmp/short"
pair truncated 0 0 0 "$tmp/c2s" "$tmp/short"
printf 'abc' >"$tmp/abc"
frame 5 3 1 "$tmp/abc" >"$tmp/data"
bytes 10 255 255 255 255 15 >"$tmp/garbage"
frame 7 1 0 "$tmp/garbage" >>"$tmp/data"
pair data-garbage 2 0 3 "$tmp/data" "$tmp/s2c"

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

# method index by name (descriptor order, as for dispatch)
idx() {
	local i=0 m
	for m in "${methods[@]}"; do
		if [[ "${m%% *}" == "$1" ]]; then
			echo "$i"
			return
		fi
		i=$((i + 1))
	done
	echo "gen-corpus.sh: no method $1" >&2
	exit 1
}

be16() {
	bytes $(($1 >> 8 & 255)) $(($1 & 255))
}

# ---- uevent: control byte, spec\0, then [be16 length][netlink message] records ----
d="$out/uevent"
mkdir -p "$d"
find "$d" -type f ! -name 'regress-*' -delete
# uev ACTION DEVPATH KEY=VALUE...: a kernel uevent message in $tmp/uev
uev() {
	local action="$1" devpath="$2" kv
	shift 2
	{
		printf '%s@%s\0ACTION=%s\0DEVPATH=%s\0' "$action" "$devpath" "$action" "$devpath"
		for kv in "$@"; do printf '%s\0' "$kv"; done
	} >"$tmp/uev"
}
record() {
	be16 "$(stat -c %s "$tmp/uev")"
	cat "$tmp/uev"
}
vda=/devices/pci0000:00/0000:00:02.0/virtio2/block/vda
uev add "$vda" SUBSYSTEM=block DEVNAME=vda MAJOR=254 MINOR=0 SEQNUM=1234
{ bytes 4; printf '02\0'; record; } >"$d/pci-wait"
{ bytes 0; printf 'pci0000:00/02\0'; record; uev remove "$vda" SUBSYSTEM=block; record; } >"$d/pci-add-remove"
uev add /devices/pci0000:01/0000:01:00.0/0000:01:02.1/virtio3/block/vdb SUBSYSTEM=block DEVNAME=vdb
{ bytes 4; printf '0000:01/00/02.1\0'; record; } >"$d/pci-bridge"
uev add /devices/pci0000:00/0000:00:05.0/virtio4/host0/target0:0:0/0:0:0:1/block/sda \
	SUBSYSTEM=block DEVNAME=sda MAJOR=8 MINOR=0
{ bytes 5; printf '0:1\0'; record; } >"$d/scsi-wait"
uev add /devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/pmem0/block/pmem0 \
	SUBSYSTEM=block DEVNAME=pmem0 MAJOR=259 MINOR=0
{ bytes 6; printf '/dev/pmem0\0'; record; } >"$d/name-wait"
uev add /devices/system/memory/memory33 SUBSYSTEM=memory
{ bytes 0; printf '\0'; record; } >"$d/memory-online"
uev add /devices/virtual/net/eth0 SUBSYSTEM=net INTERFACE=eth0
{ bytes 2; printf 'eth0\0'; record; } >"$d/net"
printf 'libudev\0\376\355\312\376ACTION=add\0DEVPATH=/devices/x\0' >"$tmp/uev"
{ bytes 0; printf '\0'; record; } >"$d/udev"
uev add /devices/x/block/vdc SUBSYSTEM=block DEVNAME=../etc/passwd
{ bytes 2; printf 'vdc\0'; record; uev add /devices/x/../y; record; uev add /devices/z MAJOR=99999; record; } >"$d/hostile"

# ---- json: message type (method input types in descriptor order, then grpc.Spec) + JSON ----
d="$out/json"
mkdir -p "$d"
find "$d" -type f ! -name 'regress-*' -delete
js() { { bytes "$(idx "$1")"; printf '%s' "$2"; } >"$d/$3"; }
js CreateContainer '{"container_id":"c1","exec_id":"c1","OCI":{"Version":"1.0.2","Process":{"Terminal":false,"Args":["sh","-c","true"],"Env":["PATH=/bin"],"Cwd":"/","User":{"UID":0,"GID":0}},"Root":{"Path":"/run/kata-containers/shared/containers/c1/rootfs","Readonly":false},"Hostname":"h","Mounts":[{"destination":"/proc","type":"proc","source":"proc","options":["nosuid"]}],"Linux":{"Namespaces":[{"Type":"pid"}],"Resources":{"Memory":{"Limit":1048576}}}},"sandbox_pidns":true}' create-container
js CopyFile '{"path":"/run/kata-containers/shared/containers/c1-hosts","file_size":5,"file_mode":33188,"dir_mode":488,"uid":0,"gid":0,"offset":0,"data":"text:hello"}' copy-file
js WriteStdin '{"containerId":"c","execId":"e","data":"aGkK"}' write-stdin
js UpdateInterface '{"interface":{"device":"eth0","name":"eth0","IPAddresses":[{"family":0,"address":"10.0.0.2","mask":"24"}],"mtu":1500,"hwAddr":"02:00:00:00:00:01"}}' update-interface
js UpdateRoutes '{"routes":{"Routes":[{"dest":"default","gateway":"10.0.0.1","device":"eth0"}]}}' update-routes
js SetGuestDateTime '{"Sec":"1700000000","Usec":1e3}' date-time
js MemHotplugByProbe '{"memHotplugProbeAddr":[4294967296,"4429185024"]}' mem-hotplug
js MemAgentMemcgSet '{"config":{"disabled":false,"period_secs":0,"swap":true}}' memcg
js SetIPTables '{"is_ipv6":false,"data":"KmZpbHRlcgpDT01NSVQK"}' iptables
js ReadStdout '{"container_id":"c","exec_id":"e","len":32768}' read-stdout
js SignalProcess '{"container_id":"c","exec_id":"","signal":"9"}' signal-string-number
js CreateSandbox '{"hostname":"h","dns":["nameserver 1.1.1.1"],"storages":[{"driver":"virtio-fs","source":"kataShared","fstype":"virtiofs","options":[],"mount_point":"/run/kata-containers/shared/containers"}],"sandbox_pidns":false,"sandbox_id":"s"}' create-sandbox
js CreateContainer '{"OCI":{"Process":{"Args":"sh"}}}' bad-type
js ReadStdout '{"len":-1,"len":2}' bad-range
js UpdateInterface '{"interface":{"mtu":1.5e400}}' bad-number
{ bytes $((${#methods[@]})); printf '{"Version":"1.0.2","Annotations":{"a":"b"},"Linux":{"Sysctl":{"net.ipv4.ip_forward":"1"},"Devices":[{"Path":"/dev/vdb","Type":"b","Major":254,"Minor":16}]}}'; } >"$d/spec"

# ---- copyfile_path: requests [flags][mode?][perm u16][uid][gid][offset][size] path\0 [len][data] ----
d="$out/copyfile_path"
mkdir -p "$d"
find "$d" -type f ! -name 'regress-*' -delete
# req FLAGS PERM OFFSET SIZE PATH DATA (small offset/size form; regular/dir/symlink by FLAGS)
req() {
	bytes "$1"
	be16 "$2"
	bytes 0 0 "$3"
	be16 "$4"
	printf '%s\0' "$5"
	bytes "${#6}"
	printf '%s' "$6"
}
req 1 420 0 5 c1-hosts hello >"$d/file"
{ req 1 420 0 10 dir/sub/f.txt 01234; req 1 420 5 10 dir/sub/f.txt 56789; } >"$d/chunks"
{ req 3 493 0 0 d ""; req 1 384 0 2 d/x ok; } >"$d/dir-then-file"
{ req 5 511 0 0 link ../outside; req 1 420 0 3 link/escape bad; } >"$d/symlink-parent"
{ req 5 511 0 0 a.tmp ../outside/owned; req 1 420 1 4 a bad; req 1 420 0 3 a abc; } >"$d/symlink-temp"
{ req 5 511 0 0 t /etc; req 3 493 0 0 t ""; req 1 420 0 1 t x; } >"$d/symlink-replaced"
{ req 1 420 0 3 ../escape bad; req 1 420 0 3 a/../../escape bad; req 1 420 0 1 ./x x; req 0 420 0 1 /etc/x x; } >"$d/dotdot"
{ req 0 420 0 3 relative bad; req 1 420 0 3 '' bad; req 1 420 0 3 dir/ bad; } >"$d/odd-paths"
{ req 1 3565 0 3 suid abc; bytes 7; be32 $((0010644)); be16 420; bytes 0 0 0; be16 0; printf 'fifo\0'; bytes 0; } >"$d/modes"
{ bytes 9; be16 420; bytes 0 0; be32 0; be32 4096; be32 0; be32 4100; printf 'big\0'; bytes 4; printf 'tail'; } >"$d/large-offset"

# ---- vhost-user-vsock: little-endian fields of the virtio and vhost-user structures ----
le16() { bytes $(($1 & 255)) $(($1 >> 8 & 255)); }
le32() { le16 $(($1 & 65535)); le16 $(($1 >> 16 & 65535)); }
le64() { le32 $(($1 & 4294967295)); le32 $(($1 >> 32 & 4294967295)); }
# vsock packet header: SRC-PORT DST-PORT LEN OP (guest cid 3 to host cid 2, stream)
vhdr() { le64 3; le64 2; le32 "$1"; le32 "$2"; le32 "$3"; le16 1; le16 "$4"; le32 0; le32 65536; le32 0; }
# descriptor: ADDR LEN FLAGS NEXT
vdesc() { le64 "$1"; le32 "$2"; le16 "$3"; le16 "$4"; }
# pad FILE OFFSET: zero bytes up to OFFSET
pad() { local n=$(($2 - $(stat -c %s "$1"))); head -c "$n" /dev/zero >>"$1"; }

# ---- virtq: ctl, regions (size, gpa>>4, uva>>4, fill), ring addresses, operations ----
d="$out/virtq"
mkdir -p "$d"
find "$d" -type f ! -name 'regress-*' -delete
# One 8 KiB region at gpa 0x1000, uva 0x10000; 8-entry rings: rx at 0x000/0x100/0x200, tx at
# 0x400/0x500/0x600; a REQUEST to port 1024 at 0x800; rx buffers at 0x1000 and 0x1400.
m="$tmp/mem"
: >"$m"
{ vdesc $((0x2000)) 1024 2 0; vdesc $((0x2400)) 1024 2 0; } >>"$m"
pad "$m" $((0x100)); { le16 0; le16 2; le16 0; le16 1; } >>"$m"
pad "$m" $((0x400)); vdesc $((0x1800)) 44 0 0 >>"$m"
pad "$m" $((0x500)); { le16 0; le16 1; le16 0; } >>"$m"
pad "$m" $((0x800)); vhdr 5000 1024 0 1 >>"$m"
vq_head() {
	bytes 3; be16 8192; be32 $((0x100)); be32 $((0x1000)); be16 "$(stat -c %s "$m")"; cat "$m"
	bytes 0; be16 0; bytes 0; be16 $((0x100)); bytes 0; be16 $((0x200))
	bytes 0; be16 $((0x400)); bytes 0; be16 $((0x500)); bytes 0; be16 $((0x600))
}
{ vq_head; bytes 0 7 1; } >"$d/request"
# ... then the host writes "hello", the guest sends "ping" (descriptor 1, avail idx 2).
{
	vq_head; bytes 0 7 1
	bytes 3 0 5; printf hello; bytes 7 1
	bytes 2 0; be16 $((0x880)); bytes 48; vhdr 5000 1024 4 5; printf ping
	bytes 2 0; be16 $((0x410)); bytes 16; vdesc $((0x1880)) 48 0 0
	bytes 2 0; be16 $((0x502)); bytes 6; le16 2; le16 0; le16 1
	bytes 0 7 4 0 8 9
} >"$d/data-both-ways"
{ vq_head; bytes 6; printf 'CONNECT 1234\n\0'; bytes 7 7 1 5 0 7; } >"$d/hybrid-connect"
# Chains that loop (0 -> 1 -> 0), point outside memory, and an indirect descriptor.
{
	vq_head
	bytes 2 0; be16 $((0x400)); bytes 32; vdesc $((0x1800)) 44 1 1; vdesc $((0x1800)) 4 1 0
	bytes 0 8
} >"$d/loop"
{ vq_head; bytes 2 0; be16 $((0x400)); bytes 16; vdesc $((0xfffffff0)) 44 0 0; bytes 0 8; } >"$d/out-of-range"
{ vq_head; bytes 2 0; be16 $((0x400)); bytes 16; vdesc $((0x1800)) 16 4 0; bytes 0 8; } >"$d/indirect"

# ---- vhost_user: memory file prefix, then [request][flags][size be16][fds] payload ----
d="$out/vhost_user"
mkdir -p "$d"
find "$d" -type f ! -name 'regress-*' -delete
# msg REQUEST FDSPEC PAYLOAD-FILE
msg() { bytes "$1" 1; be16 "$(stat -c %s "$3")"; bytes "$2"; cat "$3"; }
p="$tmp/payload"
# Memory: 8-entry ring at 0 (desc), 0x100 (avail), 0x200 (used); one 64-byte chain.
vu_mem() { # CHAIN-ADDRESS
	: >"$m"
	vdesc "$1" 64 0 0 >>"$m"
	pad "$m" $((0x100)); { le16 0; le16 1; le16 0; } >>"$m"
	pad "$m" $((0x210))
}
vu_session() { # MEMORY-SIZE [CHAIN-ADDRESS]
	vu_mem "${2:-$((0x1000))}"
	be16 "$(stat -c %s "$m")"; cat "$m"
	: >"$p"; msg 1 0 "$p"
	le64 $((1 << 32)) >"$p"; msg 2 0 "$p"
	{ le32 1; le32 0; le64 0; le64 "$1"; le64 $((0x10000)); le64 0; } >"$p"; msg 5 1 "$p"
	{ le32 0; le32 8; } >"$p"; msg 8 0 "$p"
	{ le32 0; le32 0; le64 $((0x10000)); le64 $((0x10200)); le64 $((0x10100)); le64 0; } >"$p"
	msg 9 0 "$p"
	{ le32 0; le32 0; } >"$p"; msg 10 0 "$p"
	le64 0 >"$p"; msg 13 $((0x11)) "$p"
	le64 0 >"$p"; msg 12 $((0x11)) "$p"
}
{ vu_session $((0x10000)); { le32 0; le32 0; } >"$p"; msg 11 0 "$p"; } >"$d/session"
{ vu_session $((0x10000)); { le32 0; le32 8; le32 0; le64 0; } >"$p"; msg 24 0 "$p"; } >"$d/get-config"
# A region larger than the file behind it, with the chain in the part the file does not back.
vu_session $((0x20000)) $((0x18000)) >"$d/region-beyond-file"
{ vu_session $((0x10000)); le64 $((1 << 8)) >"$p"; msg 12 0 "$p"; msg 12 1 "$p"; } >"$d/kick-nofd"

# ---- hybrid: the CONNECT line ----
d="$out/hybrid"
mkdir -p "$d"
find "$d" -type f ! -name 'regress-*' -delete
printf 'CONNECT 1024\n' >"$d/ok"
printf 'CONNECT 4294967295\n' >"$d/max"
printf 'CONNECT 4294967296\n' >"$d/over"
printf 'CONNECT 01234567890\n' >"$d/eleven-digits"
printf 'CONNECT \n' >"$d/empty"
printf 'connect 1\n' >"$d/lower"

# ---- mount_opts: ctl, type, source, destination, option words (NUL-separated) ----
d="$out/mount_opts"
mkdir -p "$d"
find "$d" -type f ! -name 'regress-*' -delete
{ bytes 0; printf 'tmpfs\0shm\0/dev/shm\0nosuid\0noexec,nodev\0mode=1777\0size=65536k'; } >"$d/tmpfs"
{ bytes 0; printf 'bind\0/run/src\0/etc/hosts\0rbind\0ro\0rprivate'; } >"$d/bind"
{ bytes 1; printf 'virtiofs\0kataShared\0/run/kata\0fsgid=1\0ro,rw\0dax\0io.katacontainers.x=1'; } >"$d/storage-skip"
{ bytes 0; printf 'cgroup\0cgroup\0/sys/fs/cgroup\0nosuid,nodev\0relatime'; } >"$d/cgroup"
{ bytes 0; printf 'proc\0\0relative\0,\0'; } >"$d/bad"

# ---- oci: selector (0 caps, 1 rlimits, 2 seccomp), then fuzz_in records ----
d="$out/oci"
mkdir -p "$d"
find "$d" -type f ! -name 'regress-*' -delete
{ bytes 0 2; printf 'CAP_CHOWN\0CAP_NET_RAW\0'; bytes 1; printf 'CAP_KILL\0'; bytes 0 1; printf 'CAP_SYS_ADMIN\0'; bytes 0; } >"$d/caps"
{ bytes 0 1; printf 'CAP_BOGUS\0'; bytes 0 0 0 0; } >"$d/caps-unknown"
{ bytes 1 2; printf 'RLIMIT_NOFILE\0'; be32 0; be32 4096; be32 0; be32 1024; printf 'RLIMIT_CORE\0'; be32 0; be32 0; be32 0; be32 1; } >"$d/rlimits"
{
	bytes 2; printf 'SCMP_ACT_ERRNO\0'; bytes 2; printf 'SCMP_ARCH_X86_64\0SCMP_ARCH_X86\0'
	bytes 1; printf 'SECCOMP_FILTER_FLAG_LOG\0'
	bytes 2
	bytes 3; printf 'read\0write\0nosuchcall\0'; printf 'SCMP_ACT_ALLOW\0'; bytes 0; be32 0; bytes 0
	bytes 1; printf 'personality\0'; printf 'SCMP_ACT_ALLOW\0'; bytes 1; be32 1; bytes 2
	bytes 0; be32 0; be32 0; be32 0; be32 0; printf 'SCMP_CMP_EQ\0'
	bytes 0; be32 0; be32 8; be32 0; be32 0; printf 'SCMP_CMP_EQ\0'
} >"$d/seccomp"

# ---- ctr_user: ctl, username, uid, gid, gids, passwd text, group text ----
d="$out/ctr_user"
mkdir -p "$d"
find "$d" -type f ! -name 'regress-*' -delete
pw='root:x:0:0:root:/root:/bin/sh
user:x:1000:1001::/home/user:/bin/sh
#comment
+nis
bad:x:12a:0::/:
'
gr='root:x:0:
users:x:100:user,other
wheel:x:10:user
'
{ bytes 1; printf 'user\0'; be32 0; be32 0; bytes 1; be32 7; printf '%s\0%s' "$pw" "$gr"; } >"$d/by-name"
{ bytes 1; printf 'user:wheel\0'; be32 0; be32 0; bytes 0; printf '%s\0%s' "$pw" "$gr"; } >"$d/user-group"
{ bytes 3; printf '\0'; be32 1000; be32 5; bytes 0; printf '%s\0' "$pw"; } >"$d/by-uid-no-group"
{ bytes 1; printf '1234:55\0'; be32 0; be32 0; bytes 0; printf '%s\0%s' "$pw" "$gr"; } >"$d/numeric"

# ---- net: family, address, CIDR, MAC, then routes ----
d="$out/net"
mkdir -p "$d"
find "$d" -type f ! -name 'regress-*' -delete
route() { printf '%s\0%s\0%s\0' "$1" "$2" "$3"; be32 "$4"; be32 0; be32 "$5"; bytes "$6"; }
{
	bytes 0; printf '%s\0' 10.0.0.2 10.0.0.0/24 02:42:ac:11:00:02; bytes 3
	route 0.0.0.0/0 10.0.0.1 '' 0 0 0; route 10.0.0.0/24 '' 10.0.0.2 253 1500 0
	route 2001:db8::/64 '' 2001:db8::1/64 0 0 1
} >"$d/routes"
{ bytes 2; printf 'fe80::1\0::/0\0AA:b:c:D:e:F\0'; bytes 1; route '' fe80::1 '' 0 0 1; } >"$d/ipv6"
{ bytes 1; printf '%s\0' 1.2.3.4/8 1.2.3.4/33 aa:bb; bytes 0; } >"$d/bad"
