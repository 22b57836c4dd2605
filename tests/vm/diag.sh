# shellcheck shell=bash disable=SC2034,SC2154
# tests/vm/diag.sh: GetDiagnosticData in the guest (docs/PROTOCOL.md §2.4), the way the runtime
# uses it for a Kubernetes termination message when the host cannot read the file itself.
# Sourced by kata-sequence.sh, which provides call, result, expect_error, VM_*, REQ, CID
# and ccreq.
#
#   diag_run   with the first container (CID) removed: a container whose spec has the
#              io.kubernetes.container.terminationMessagePath annotation and a bind mount of a
#              guest file at that path writes its message there; GetDiagnosticData returns it;
#              once the file is gone the answer is empty; an unknown log type is INVALID_ARGUMENT

readonly DIAG_SRC=/run/kata-containers/shared/containers/kac-termlog/termination-log
readonly DIAG_DST=/dev/termination-log

diag_run() {
	local req got
	# The mount's source must exist before the container is created: CopyFile makes it.
	call "CopyFile (an empty termination-log file)" 60s CopyFile \
		"{\"path\":\"$DIAG_SRC\",\"file_size\":0,\"file_mode\":33188,\"dir_mode\":16877,\"uid\":0,\"gid\":0,\"offset\":0,\"data\":\"\"}" ||
		return 0
	jq --arg s "$DIAG_SRC" --arg d "$DIAG_DST" '
		.OCI.Process.Terminal = false
		| .OCI.Process.Args = ["sh", "-c", "printf \"diag-msg \\351 end\\n\" > " + $d]
		| .OCI.Mounts += [{"destination": $d, "source": $s, "type": "bind", "options": ["rbind", "rw"]}]
		| .OCI.Annotations["io.kubernetes.container.terminationMessagePath"] = $d' \
		"$ccreq" >"$VM_WORK/diag-create.json"
	call "CreateContainer (termination-log annotation and mount)" 120s CreateContainer \
		"@$VM_WORK/diag-create.json" || return 0
	call "StartContainer (termination-log container)" 60s StartContainer \
		"@$REQ/start-container.json" || true
	WAIT_WANT=0
	call "WaitProcess (termination-log writer, status 0)" 120s WaitProcess \
		"{\"container_id\":\"$CID\",\"exec_id\":\"$CID\"}" expect_status || true
	req="{\"log_type\":\"termination_log\",\"container_id\":\"$CID\"}"
	# The invalid byte 0xe9 comes back as U+FFFD.
	if call "GetDiagnosticData (termination_log)" 60s GetDiagnosticData "$req"; then
		got=$(jq -r '.data // empty' "$OUT.out")
		if [[ $got == "$(printf 'diag-msg \xef\xbf\xbd end')" ]]; then
			result ok "GetDiagnosticData returns what the container wrote, invalid UTF-8 replaced"
		else
			result FAIL "GetDiagnosticData returns what the container wrote, invalid UTF-8 replaced" \
				"got '$(head -c 200 "$OUT.out")'"
		fi
	fi
	expect_error "GetDiagnosticData of an unknown log type is INVALID_ARGUMENT" GetDiagnosticData \
		"{\"log_type\":\"kac_bogus\",\"container_id\":\"$CID\"}" 'INVALID_ARGUMENT'
	got=$(vm_guest_sh "rm $DIAG_SRC && echo removed")
	if [[ $got == removed ]] && call "GetDiagnosticData (termination_log, file gone)" 60s \
		GetDiagnosticData "$req"; then
		if [[ -z $(jq -r '.data // empty' "$OUT.out") ]]; then
			result ok "GetDiagnosticData of a missing termination log is empty"
		else
			result FAIL "GetDiagnosticData of a missing termination log is empty" "got $(head -c 200 "$OUT.out")"
		fi
	elif [[ $got != removed ]]; then
		result FAIL "removing the termination log in the guest" "guest printed '$got'"
	fi
	call "RemoveContainer (termination-log container)" 120s RemoveContainer \
		"@$REQ/remove-container.json" || true
}
