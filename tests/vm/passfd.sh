# shellcheck shell=bash disable=SC2034,SC2154
# tests/vm/passfd.sh: passfd I/O (docs/PROTOCOL.md, "passfd stdio") in the guest, the way
# runtime-rs with Dragonball uses it: the host opens hybrid-vsock connections to the agent's
# passfd port 1027, learns their host-side ports from the back-end's "OK <port>" reply, and names
# them in ExecProcess/CreateContainer.  Sourced by kata-sequence.sh, which provides call, result,
# expect_error, read_until_eof, VM_*, REQ, CID, CID2, ccreq and the running second container.
#
#   passfd_qemu_setup   before vm_start: agent.passfd_listener_port=1027 on the kernel command line
#   passfd_run          with the second container running and the first one removed:
#                       stdin+stdout+stderr of an exec through passfd; ReadStdout/WriteStdin on
#                       a passfd stream refused; a port with no connection refused, the agent
#                       still serving; a tty container init's stdout through passfd; 16 MiB of
#                       stdout (riscv64: about 7 MB) through passfd and through ReadStdout in the
#                       same guest, both figures printed (MiB/s)
#
# PASSFD_CLIENT (build/host/tests/passfd_client) does the host side of both.

readonly PASSFD_PORT=1027
readonly PASSFD_MIB=16

passfd_qemu_setup() {
	VM_APPEND+=" agent.passfd_listener_port=$PASSFD_PORT"
}

# passfd_open NAME STREAMS [STDIN_TEXT]: starts the client in the background (PF_PID), connected
# once per stream; fills PF_IN/PF_OUT/PF_ERR with the host-side ports.  Returns 1 when the ports
# did not come within 60 s.
passfd_open() {
	local name=$1 streams=$2 text=${3:-} i
	PF_PORTS=$VM_WORK/passfd-$name.ports PF_RES=$VM_WORK/passfd-$name.res PF_DATA=$VM_WORK/passfd-$name.out
	rm -f "$PF_PORTS"
	local args=(--addr "hvsock://$VM_UDS:$PASSFD_PORT" --streams "$streams" --port-file "$PF_PORTS"
		--out "$PF_DATA" --timeout 300)
	[[ -n $text ]] && args+=(--stdin "$text")
	"$PASSFD_CLIENT" "${args[@]}" >"$PF_RES" 2>"$PF_RES.err" &
	PF_PID=$!
	for ((i = 0; i < 600; i++)); do
		[[ -f $PF_PORTS ]] && break
		kill -0 "$PF_PID" 2>/dev/null || break
		sleep 0.1
	done
	if [[ ! -f $PF_PORTS ]]; then
		result FAIL "passfd: host connections to port $PASSFD_PORT ($name)" "$(head -c 300 "$PF_RES.err")"
		kill "$PF_PID" 2>/dev/null || true
		return 1
	fi
	PF_IN=$(sed -n 's/^in=//p' "$PF_PORTS")
	PF_OUT=$(sed -n 's/^out=//p' "$PF_PORTS")
	PF_ERR=$(sed -n 's/^err=//p' "$PF_PORTS")
}

# passfd_finish NAME: waits (bounded by the client's own timeout) for the client; 0 when it
# saw every stream end.
passfd_finish() {
	local rc=0
	wait "$PF_PID" || rc=$?
	if ((rc != 0)); then
		result FAIL "passfd: the host's streams end ($1)" "rc $rc: $(head -c 300 "$PF_RES.err")"
		return 1
	fi
}

passfd_field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" "$2"; }

passfd_exec_req() { # EXEC_ID ARGS_JSON IN OUT ERR -> request on stdout
	jq --arg e "$1" --argjson a "$2" --argjson i "${3:-0}" --argjson o "${4:-0}" --argjson r "${5:-0}" \
		'.exec_id = $e | .process.Args = $a | .stdin_port = $i | .stdout_port = $o | .stderr_port = $r' \
		"$REQ/exec-echo.json"
}

passfd_wait0() { # NAME EXEC_ID [CONTAINER_ID]
	WAIT_WANT=0
	call "WaitProcess ($1, status 0)" 120s WaitProcess \
		"{\"container_id\":\"${3:-$CID2}\",\"exec_id\":\"$2\"}" expect_status || true
}

passfd_stdio() {
	local eid=3f1c2b7a-0000-4000-8000-0000000000f1 got
	passfd_open stdio in,out,err 'pf-stdin-text' || return 0
	passfd_exec_req "$eid" '["sh","-c","cat; echo pf-err >&2"]' "$PF_IN" "$PF_OUT" "$PF_ERR" \
		>"$VM_WORK/passfd-exec.json"
	if ! call "ExecProcess with stdin/stdout/stderr ports (passfd)" 60s ExecProcess \
		"@$VM_WORK/passfd-exec.json"; then
		kill "$PF_PID" 2>/dev/null || true
		return 0
	fi
	if passfd_finish stdio; then
		got=$(<"$PF_DATA")
		if [[ $got == pf-stdin-text && $(passfd_field err_bytes "$PF_RES") == 7 ]]; then
			result ok "passfd: stdin reached cat, its stdout and stderr came back, each to EOF"
		else
			result FAIL "passfd: stdin reached cat, its stdout and stderr came back, each to EOF" \
				"stdout '${got:0:100}', $(<"$PF_RES")"
		fi
	fi
	expect_error "ReadStdout of a passfd stream is refused (FAILED_PRECONDITION)" ReadStdout \
		"{\"container_id\":\"$CID2\",\"exec_id\":\"$eid\",\"len\":32768}" 'FAILED_PRECONDITION.*passfd'
	expect_error "WriteStdin to a passfd stdin is refused (FAILED_PRECONDITION)" WriteStdin \
		"{\"container_id\":\"$CID2\",\"exec_id\":\"$eid\",\"data\":\"text:x\"}" 'FAILED_PRECONDITION.*passfd'
	passfd_wait0 "passfd exec" "$eid"
}

passfd_missing() {
	local eid=3f1c2b7a-0000-4000-8000-0000000000f2
	passfd_exec_req "$eid" '["true"]' 0 7 0 >"$VM_WORK/passfd-missing.json"
	expect_error "ExecProcess naming a port nobody connected from fails (NOT_FOUND)" ExecProcess \
		"@$VM_WORK/passfd-missing.json" 'NOT_FOUND.*no connection from host port 7'
	call "Health.Check after the refused passfd exec" 30s Check '{}' expect_serving || true
}

# A tty container init: its pty's output through passfd; the first container (CID) is gone by now,
# so its rootfs (and, in blk mode, its storage) takes this one.
passfd_init() {
	local got
	passfd_open init out || return 0
	jq --argjson o "$PF_OUT" '.stdout_port = $o | .OCI.Process.Args = ["echo", "pf-init"]' "$ccreq" \
		>"$VM_WORK/passfd-create.json"
	if call "CreateContainer (tty init, stdout_port: passfd)" 120s CreateContainer \
		"@$VM_WORK/passfd-create.json" &&
		call "StartContainer (passfd init)" 60s StartContainer "@$REQ/start-container.json"; then
		if passfd_finish init; then
			got=$(tr -d '\r' <"$PF_DATA")
			if [[ $got == pf-init ]]; then
				result ok "passfd: a tty container init's stdout through passfd, then EOF"
			else
				result FAIL "passfd: a tty container init's stdout through passfd, then EOF" "got '${got:0:100}'"
			fi
		fi
		passfd_wait0 "passfd init" "$CID" "$CID"
	else
		kill "$PF_PID" 2>/dev/null || true
	fi
	call "RemoveContainer (passfd init)" 120s RemoveContainer "@$REQ/remove-container.json" || true
}

# The same 16 MiB from dd, through passfd and through ReadStdout (32 KiB calls, one in flight, as
# the runtimes read), timed by the host from the first byte to EOF.  The riscv64 guest's small
# busybox has no dd (tests/vm/build-busybox.sh): there `seq` makes about 7 MB.
passfd_throughput() {
	local want=$((PASSFD_MIB << 20)) eid1=3f1c2b7a-0000-4000-8000-0000000000f3
	local eid2=3f1c2b7a-0000-4000-8000-0000000000f4 args pf_rate='' rs_rate='' rc=0
	args=$(printf '["dd","if=/dev/zero","bs=65536","count=%d"]' $((PASSFD_MIB * 16)))
	if [[ $VM_ARCH != x86_64 ]]; then
		args='["seq","1","1000000"]'
		want=$(seq 1 1000000 | wc -c)
	fi
	if passfd_open bulk out; then
		passfd_exec_req "$eid1" "$args" 0 "$PF_OUT" 0 >"$VM_WORK/passfd-bulk.json"
		if call "ExecProcess ($want bytes of output, stdout through passfd)" 60s ExecProcess \
			"@$VM_WORK/passfd-bulk.json"; then
			if passfd_finish bulk && [[ $(passfd_field out_bytes "$PF_RES") == "$want" ]]; then
				pf_rate=$(passfd_field mib_s "$PF_RES")
				result ok "passfd: $want bytes of stdout, every byte" "$pf_rate MiB/s"
			else
				result FAIL "passfd: $want bytes of stdout, every byte" "$(head -c 200 "$PF_RES") $(head -c 200 "$PF_RES.err")"
			fi
			passfd_wait0 "dd through passfd" "$eid1"
		else
			kill "$PF_PID" 2>/dev/null || true
		fi
	fi
	passfd_exec_req "$eid2" "$args" >"$VM_WORK/passfd-bulk-rs.json"
	if call "ExecProcess ($want bytes of output, stdout through ReadStdout)" 60s ExecProcess \
		"@$VM_WORK/passfd-bulk-rs.json"; then
		timeout 400 "$PASSFD_CLIENT" --agent "$VM_ADDR" --read-stdout "$CID2" "$eid2" --timeout 300 \
			>"$VM_WORK/readstdout-bulk.res" 2>&1 || rc=$?
		if ((rc == 0)) && [[ $(passfd_field out_bytes "$VM_WORK/readstdout-bulk.res") == "$want" ]]; then
			rs_rate=$(passfd_field mib_s "$VM_WORK/readstdout-bulk.res")
			result ok "ReadStdout: $want bytes of stdout, every byte" "$rs_rate MiB/s"
		else
			result FAIL "ReadStdout: $want bytes of stdout, every byte" "rc $rc: $(head -c 300 "$VM_WORK/readstdout-bulk.res")"
		fi
		passfd_wait0 "dd through ReadStdout" "$eid2"
	fi
	printf '%s: [%s] stdout throughput, %s bytes, same guest: passfd %s MiB/s, ReadStdout %s MiB/s\n' \
		"$PROG" "$label" "$want" "${pf_rate:-?}" "${rs_rate:-?}"
}

passfd_run() {
	if [[ -z ${PASSFD_CLIENT:-} || ! -x $PASSFD_CLIENT ]]; then
		result FAIL "passfd I/O" "no --passfd-client given"
		return 0
	fi
	passfd_stdio
	passfd_missing
	passfd_init
	passfd_throughput
}
