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

/* The fields the server generates that a configured field may replace (bits of a mask). */
enum headers_generated {
    HG_SERVER = 1u << 0,
    HG_DATE = 1u << 1,
    HG_CONTENT_TYPE = 1u << 2,
    HG_LAST_MODIFIED = 1u << 3,
    HG_ETAG = 1u << 4,
    HG_ACCEPT_RANGES = 1u << 5,
    HG_EXPIRES = 1u << 6,
    HG_CACHE_CONTROL = 1u << 7,
    HG_LOCATION = 1u << 8,
    HG_ALLOW = 1u << 9,
    HG_CONTENT_RANGE = 1u << 10,
};

struct headers_conf {
    struct headers_expires expires;
    char *cache_control; /* Cache-Control value, or NULL */
    struct headers_list add;
    /* derived by the module's finish, per block: which generated fields add_header replaces,
     * for the statuses it applies to (listed: those of headers_status_ok) and for the others
     * (always fields only). 0: none, and the writer keeps its fast path */
    unsigned replace_listed, replace_always;
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

/* The generated field called name (enum headers_generated), or 0 for any other name. */
unsigned headers_generated_bit(struct slice name);

/* The generated fields the configuration replaces in a response with this status. */
static inline unsigned headers_replaced(const struct headers_conf *h, int status)
{
    return h ? (headers_status_ok(status) ? h->replace_listed : h->replace_always) : 0;
}
