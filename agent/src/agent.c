// SPDX-License-Identifier: Apache-2.0
/* The process-wide agent state and version (kept out of main.c so tests can link them). */
#include "agent.h"

#ifndef KATA_AGENT_VERSION
#define KATA_AGENT_VERSION "0.0.0-dev"
#endif

struct agent agent;
const char agent_version[] = KATA_AGENT_VERSION;
