// SPDX-License-Identifier: Apache-2.0
/* Kernel modules for CreateSandbox.kernel_modules: finit_module(2) with dependencies from
 * modules.dep, no modprobe helper (docs/ARCHITECTURE.md: no helper binaries where a syscall does
 * the job). */
#pragma once

#include <stddef.h>

#include "err.h"

/* Load name (and what modules.dep says it needs) with the given parameters.  A module that is
 * already loaded is success.  Returns 0 or -errno with *reterr set. */
int module_load(const char *name, char *const *params, size_t nparams, struct agent_err *reterr);
/* Find name's line in a modules.dep text: fills the module path and its dependencies (paths
 * relative to the modules directory).  Exposed for tests.  Returns the number of dependencies
 * or -ENOENT. */
int module_dep_lookup(const char *dep_text, const char *name, char *ret_path, size_t size,
                      char deps[][256], int max_deps);
