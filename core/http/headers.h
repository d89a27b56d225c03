/*
 * headers.h - fields a configuration adds to responses: expires, cache_control, add_header.
 *
 * A module of its own (rows in headers.c), read by the protocol writers: the
 * HTTP/1 writer adds these fields to a response whose status is one nginx
 * decorates (200, 201, 204, 206, 301, 302, 303, 304, 307, 308), after the
 * fields it generates, and a configured field replaces a generated one of the
 * same name (add_header Content-Type ... sends one Content-Type). Framing
 * fields (Content-Length, Transfer-Encoding, Connection) are the writer's
 * and refused in add_header.
 */
#pragma once

#include "core/base/slice.h"
#include "core/conf/conf.h"

#include <stdbool.h>
#include <stdint.h>

struct headers_field {
    char *name, *value;
    bool always; /* add_header ... always: every status, not only those of headers_status_ok */
};

struct headers_list {
    struct headers_field *v;
    unsigned n;
};

/* The module's location struct (CONF_STORE_LOC): inherited main -> server -> location. */
struct headers_expires {
    bool on;
    uint32_t seconds; /* Expires: now + seconds, Cache-Control: max-age=seconds */
};

struct headers_conf {
    struct headers_expires expires;
    char *cache_control; /* Cache-Control value, or NULL */
    struct headers_list add;
};

extern const struct conf_module headers_module;

/* Does a response with this status get the configured fields? */
static inline bool headers_status_ok(int status)
{
    switch (status) {
    case 200:
    case 201:
    case 204:
    case 206:
    case 301:
    case 302:
    case 303:
    case 304:
    case 307:
    case 308:
        return true;
    default:
        return false;
    }
}

/* Does the configuration set a field called name for this status (so the generated one is
 * left out)? */
bool headers_replaces(const struct headers_conf *h, int status, struct slice name);
