# tests/lint: checks of the build and the scripts themselves (seconds, no build).
#   make check-lint   tests/lint/test-pipes.sh: no early-exit reader (grep -q, head, ...) in a
#                     pipeline of any script, .mk or Makefile, and the lint flags its samples;
#                     tests/lint/make-setup.sh: every goal runs scripts/setup.sh first, and
#                     `make help` names every public target and only real ones;
#                     tests/lint/func-length.sh: no function of the product C code has a body
#                     over 80 lines, and the lint flags its 81-line sample, not the 80-line one.

check-lint:
	$(Q)rc=0; tests/lint/test-pipes.sh || rc=1; tests/lint/make-setup.sh || rc=1; \
		tests/lint/func-length.sh || rc=1; exit $$rc

.PHONY: check-lint
CHECK_TARGETS += check-lint
