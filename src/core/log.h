/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.h: structured logging to stderr, one line an event: time, level, event name, then
 * key=value pairs. Callers never pass CPR numbers, tokens or key material.
 */
#ifndef DFDG_CORE_LOG_H
#define DFDG_CORE_LOG_H

#include "core/dfdg.h"

enum dfdg_log_level { DFDG_LOG_DEBUG, DFDG_LOG_INFO, DFDG_LOG_WARN, DFDG_LOG_ERROR };

/* Sets the lowest level written (default INFO). Not thread-safe: call before threads start. */
void dfdg_log_set_level(enum dfdg_log_level lvl);
/* Writes one line: "<time> <level> <event> <fmt...>". Thread-safe (one write(2) a line). */
void dfdg_log(enum dfdg_log_level lvl, const char *event, const char *fmt, ...) DFDG_PRINTF(3, 4);

#endif
