/*
 * accesslog_conf.h - the access-log directives, and the plan a configuration derives from them.
 *
 * access_log, log_format, access_log_buffer and access_log_wait are the
 * accesslog module's rows; its finish compiles the formats, gives each server
 * its format and sink, and checks that every file can be written (-t fails
 * where a start would). The plan is what the worker side (accesslog.h) logs
 * by. A reload makes the new plan use the sinks of the one in force
 * (alog_plan_adopt), whose files the log writer has open.
 *
 * Main thread, while a configuration is built; read-only afterwards.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/conf/conf.h"
#include "log/format.h"

#include <stdint.h>

extern const struct conf_module accesslog_module;

/* Per server: where its lines go (sink index, -1 = off) and in what format. */
struct alog_server {
    int sink;
    const struct log_format *fmt;
};

/* What the module derived from the configuration (its main struct's public part). */
struct alog_plan {
    struct log_format *formats;
    unsigned nformats;
    struct alog_server *servers; /* indexed like route_table's servers */
    unsigned nservers;
    char **sinks;                       /* distinct paths ("stdout", "stderr" or absolute) */
    const struct log_format **sink_fmt; /* the first format writing to each sink */
    unsigned nsinks;
    uint32_t ring_bytes; /* access_log_buffer */
    uint32_t wait_ms;    /* access_log_wait */
};

/* The plan of a finished configuration. */
const struct alog_plan *alog_plan(const struct conf *c);

/*
 * A reload (main thread): c's plan (finished, not yet in use) is made to write to the sinks
 * of `running`, the plan in force, whose files are the ones open; the ring size stays
 * running's (a warning says so). 0, or -1 with "file:line: sentence" in err when c names a
 * log file that is not open.
 */
int alog_plan_adopt(struct conf *c, const struct alog_plan *running, char *err,
                    size_t errlen) MUST_CHECK;
