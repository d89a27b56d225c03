/*
 * errlog.h - the error log: leveled, timestamped lines for operators.
 *
 * Line format (nginx's, so existing tooling parses it):
 *   2026/11/26 01:44:04 [error] 1234#2: message
 * where 1234 is the pid and 2 the worker id (0 for the main thread).
 *
 * Any thread may call errlog(); each line is written with one write(2)
 * (atomic with O_APPEND), so lines from different threads never interleave.
 * When the error log is a pipe, socket or terminal, a direct write waits at
 * most a second for room, then drops the line (counted): a reader that stopped
 * reading cannot hang the caller.
 */
#pragma once

#include "core/base/compiler.h"

#include <stdarg.h>
#include <stddef.h>

enum errlog_level {
    ERRLOG_DEBUG,
    ERRLOG_INFO,
    ERRLOG_NOTICE,
    ERRLOG_WARN,
    ERRLOG_ERROR,
    ERRLOG_CRIT,
};

/* Level for "debug" .. "crit", or -1. */
int errlog_level_from_name(const char *name);
const char *errlog_level_name(int level);

/* Opens path for appending (NULL or "stderr": standard error). Returns 0 or -errno. */
int errlog_open(const char *path, int level) MUST_CHECK;

/* Reopens the file after rotation (SIGUSR1). Returns 0 or -errno. */
int errlog_reopen(void);

void errlog_close(void);

/* Is a line at this level written? (avoid formatting work when not) */
int errlog_enabled(int level);

/* The fd lines are written to (for the flusher). */
int errlog_fd(void);

/* Sets the worker id that prefixes this thread's lines (0 = main). */
void errlog_set_thread_id(unsigned id);

/*
 * Routes this thread's lines elsewhere (a worker hands them to its log ring so
 * it never blocks on the error log's disk). fn returns 0 when it took the
 * line, -1 to fall back to a direct write. NULL restores direct writes.
 */
typedef int (*errlog_sink_fn)(const char *line, size_t len);
void errlog_set_thread_sink(errlog_sink_fn fn);

/* Lines dropped because a pipe-like error log had no room for a second. */
unsigned long long errlog_dropped(void);

/* Writes one line at level. The message needs no trailing newline. */
void errlog(int level, const char *fmt, ...) PRINTF_LIKE(2, 3);
void errlog_v(int level, const char *fmt, va_list ap);

/* Formats the line prefix + message into buf (for tests and the ring path); returns length. */
int errlog_format(char *buf, int cap, int level, const char *fmt, va_list ap);
