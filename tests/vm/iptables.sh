#!/usr/bin/env bash
# iptables.sh: boot a guest from the default disk image (make image: agent as /sbin/init, the
# Debian iptables package unpacked by rootfs-builder/debs.sh), no initrd, root on virtio-blk, and
# drive the agent's iptables RPCs over hybrid vsock:
#   SetIPTables (IPv4) with a ruleset (a policy, a new chain, a rule), then GetIPTables must
#   return that ruleset; the same for IPv6; a ruleset iptables-restore rejects must fail the
#   call with its message, and must leave the previous rules in place.
# --host-rootfs DIR runs the same calls without a VM: the image's tree (make rootfs) with its
# agent started by chroot in new network and mount namespaces on this host (the host's own
# rules are never touched), for a check that needs no guest kernel.
# Each step prints ok/FAIL; the last line is "N passed, N failed".
# shellcheck disable=SC2034 # VM_* variables are read by tests/vm/lib.sh
set -euo pipefail

readonly PROG=${0##*/}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
# shellcheck source=tests/vm/lib.sh disable=SC1091
source "$HERE/lib.sh"

VM_ARCH=x86_64 VM_BOOT=bzimage VM_KERNEL='' VM_INITRD='' VM_WORK='' VM_BACKEND='' VM_CTL=''
boot_timeout=300 host_rootfs=''

usage() {
	cat <<EOF
Usage: $PROG --kernel bzImage --image IMG --backend FILE --ctl FILE --workdir DIR
  --image IMG       disk image from make image (its IMG.cmdline gives the virtio-blk root= line)
  --boot-timeout S  QEMU start -> first Health.Check answer (default $boot_timeout)
EOF
}
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 2; }

while (($#)); do
	case $1 in
	--kernel) VM_KERNEL=${2:?}; shift 2 ;;
	--image) VM_ROOT_DISK=${2:?}; shift 2 ;;
	--backend) VM_BACKEND=${2:?}; shift 2 ;;
	--ctl) VM_CTL=${2:?}; shift 2 ;;
	--workdir) VM_WORK=${2:?}; shift 2 ;;
	--boot-timeout) boot_timeout=${2:?}; shift 2 ;;
	--host-rootfs) host_rootfs=${2:?}; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown argument '$1'" ;;
	esac
done
[[ -n $VM_WORK ]] || die "--workdir is required"
rm -rf "$VM_WORK"
mkdir -p "$VM_WORK"
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "$PROG: ok   $*"; }
nok() { failed=$((failed + 1)); echo "$PROG: FAIL $*"; }
finish() {
	echo "$passed passed, $failed failed"
	((failed == 0))
}

if [[ -n $host_rootfs ]]; then
	[[ -x $host_rootfs/sbin/init && -d $host_rootfs/run && -d $host_rootfs/proc ]] ||
		die "--host-rootfs: $host_rootfs has no /sbin/init, /run or /proc"
	host_rootfs=$(cd "$host_rootfs" && pwd)
	rm -f "$host_rootfs/run/agent.sock"
	# proc is mounted in the new mount namespace only; it goes with the agent.
	# shellcheck disable=SC2016 # $1 is expanded by the inner sh
	unshare -n -m --propagation private sh -c 'mount -t proc proc "$1/proc" && exec chroot "$1" /sbin/init --server-addr unix:///run/agent.sock' \
		sh "$host_rootfs" >"$VM_WORK/agent.log" 2>&1 &
	agent_pid=$!
	trap 'kill "$agent_pid" 2>/dev/null || true; wait "$agent_pid" 2>/dev/null || true; rm -f "$host_rootfs/run/agent.sock"' EXIT
	VM_ADDR=unix://$host_rootfs/run/agent.sock
	for _ in {1..100}; do [[ -S $host_rootfs/run/agent.sock ]] && break; sleep 0.05; done
	if "$VM_CTL" --addr "$VM_ADDR" --timeout 10s check >"$VM_WORK/check.out" 2>&1; then
		ok "the image's agent runs chrooted in a new network namespace"
	else
		nok "the image's agent did not answer: $(head -c 300 "$VM_WORK/check.out") $(head -c 300 "$VM_WORK/agent.log")"
		finish
		exit 1
	fi
	vm_dump() { tail -n "${1:-40}" "$VM_WORK/agent.log" >&2; }
else
	[[ -f $VM_ROOT_DISK && -f $VM_ROOT_DISK.cmdline ]] || die "--image IMG (with IMG.cmdline) is required"
	root=$(sed -n 's/^virtio-blk: //p' "$VM_ROOT_DISK.cmdline")
	[[ -n $root ]] || die "$VM_ROOT_DISK.cmdline has no virtio-blk line"
	VM_APPEND=$root
	vm_start || { nok "start QEMU"; finish; exit 1; }
	if vm_wait_agent "$boot_timeout"; then
		ok "boot from the image (root on virtio-blk, no initrd): Health.Check after $(vm_ready_ms) ms"
	else
		nok "boot from the image"
		vm_dump 80
		finish
		exit 1
	fi
fi

# request JSON for Set/GetIPTables; data as the ctl's "text:" form.
set_req() { jq -cn --argjson v6 "$1" --arg d "$2" '{is_ipv6: $v6, data: ("text:" + $d)}'; }
# get V6 FILE: the decoded iptables-save output.
get_rules() {
	vm_call GetIPTables "{\"is_ipv6\":$1}" >"$VM_WORK/get-$1.json" 2>"$VM_WORK/get-$1.err" ||
		return 1
	jq -r '.data // "" | @base64d' "$VM_WORK/get-$1.json" >"$2"
}
# has FILE LINE...: every LINE is a whole line of FILE.
has() {
	local f=$1 l
	shift
	for l in "$@"; do
		grep -qxF -- "$l" "$f" || { echo "missing line: $l"; return 1; }
	done
}

v4_rules='*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:KATA-TEST - [0:0]
-A INPUT -j KATA-TEST
-A KATA-TEST -s 192.0.2.7/32 -p tcp -m tcp --dport 2375 -j DROP
COMMIT
'
v6_rules='*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT DROP [0:0]
-A OUTPUT -d 2001:db8::7/128 -p udp -m udp --dport 53 -j ACCEPT
COMMIT
'
check_family() { # V6 RULES NAME LINE...
	local v6=$1 rules=$2 name=$3 why
	shift 3
	if vm_call SetIPTables "$(set_req "$v6" "$rules")" >"$VM_WORK/set-$v6.json" \
		2>"$VM_WORK/set-$v6.err"; then
		ok "SetIPTables ($name)"
	else
		nok "SetIPTables ($name): $(head -c 300 "$VM_WORK/set-$v6.err")"
	fi
	if ! get_rules "$v6" "$VM_WORK/rules-$v6.txt"; then
		nok "GetIPTables ($name): $(head -c 300 "$VM_WORK/get-$v6.err")"
	elif why=$(has "$VM_WORK/rules-$v6.txt" "$@"); then
		ok "GetIPTables ($name) returns the rules set"
	else
		nok "GetIPTables ($name): $why; got: $(head -c 600 "$VM_WORK/rules-$v6.txt")"
	fi
}

check_family false "$v4_rules" IPv4 '*filter' ':FORWARD DROP [0:0]' ':KATA-TEST - [0:0]' \
	'-A INPUT -j KATA-TEST' '-A KATA-TEST -s 192.0.2.7/32 -p tcp -m tcp --dport 2375 -j DROP'
check_family true "$v6_rules" IPv6 '*filter' ':OUTPUT DROP [0:0]' \
	'-A OUTPUT -d 2001:db8::7/128 -p udp -m udp --dport 53 -j ACCEPT'

# A ruleset iptables-restore rejects: the call fails with its message; the rules stay.
bad='*filter
-A NO-SUCH-CHAIN -j DROP
COMMIT
'
if vm_call SetIPTables "$(set_req false "$bad")" >"$VM_WORK/bad.json" 2>"$VM_WORK/bad.err"; then
	nok "SetIPTables with a bad ruleset succeeded"
elif grep -q 'iptables-restore failed with exit status' "$VM_WORK/bad.err"; then
	ok "SetIPTables with a bad ruleset fails with iptables-restore's message"
else
	nok "SetIPTables with a bad ruleset: unexpected error: $(head -c 300 "$VM_WORK/bad.err")"
fi
if get_rules false "$VM_WORK/rules-after.txt" &&
	has "$VM_WORK/rules-after.txt" '-A INPUT -j KATA-TEST' >/dev/null; then
	ok "the failed restore left the previous rules"
else
	nok "the failed restore changed the rules: $(head -c 600 "$VM_WORK/rules-after.txt" 2>/dev/null)"
fi

((failed == 0)) || vm_dump 40
finish
