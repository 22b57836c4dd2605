# tests/docs: the repository carries its own documentation (docs/CONTRIBUTING.md, style rule 13).
#   make check-docs   the checker's self-test on planted offenders, then the real tree: no tracked
#                     file outside docs/ points at documents outside the repository, every
#                     relative link in docs/*.md and README.md resolves, and every cited
#                     "PROTOCOL.md §N.M" / "style rule N" exists.  Seconds, no build.

check-docs:
	$(Q)tests/docs/check-docs.sh --self-test
	$(Q)tests/docs/check-docs.sh

.PHONY: check-docs

CHECK_TARGETS += check-docs
