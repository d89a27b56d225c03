/*
 * proxy_conf.h - the reverse proxy's directives (nginx's proxy_* names) and what a location's
 * proxy settings compile to (proxy_conf.c). The handler that uses them: proxy.h.
 */
#pragma once

#include "core/conf/conf.h"
#include "core/conf/types.h"

#include <stdbool.h>
#include <stdint.h>

struct http_script;
struct upstream_group;

/* proxy_next_upstream conditions (bits). */
enum proxy_next {
    PROXY_NEXT_ERROR = 1u << 0,
    PROXY_NEXT_TIMEOUT = 1u << 1,
    PROXY_NEXT_INVALID_HEADER = 1u << 2,
    PROXY_NEXT_500 = 1u << 3,
    PROXY_NEXT_502 = 1u << 4,
    PROXY_NEXT_503 = 1u << 5,
    PROXY_NEXT_504 = 1u << 6,
    PROXY_NEXT_403 = 1u << 7,
    PROXY_NEXT_404 = 1u << 8,
    PROXY_NEXT_429 = 1u << 9,
    PROXY_NEXT_NON_IDEMPOTENT = 1u << 10,
};

/* proxy_pass http://HOST[:PORT][/URI] | http://NAME[/URI] | http://unix:/PATH[:/URI] */
struct proxy_pass {
    char *text;   /* as written */
    char *target; /* "host:port", "unix:/path" or an upstream's name */
    char *uri;    /* the URI part, NULL when none was written */
    size_t uri_len;
    bool set;
    /* finish: */
    struct upstream_group *group;
    bool owns_group;          /* made for a bare address (freed with the location) */
    char *proxy_host;         /* $proxy_host: host[:port] (no :80), the upstream's name */
    char *proxy_port;         /* $proxy_port */
    char *redirect_from;      /* proxy_redirect default: "http://proxy_host/uri" */
    size_t redirect_from_len;
};

struct proxy_header {
    char *name, *text;
    struct http_script *value;
};

struct proxy_headers {
    struct proxy_header *v;
    unsigned n;
};

struct proxy_next_set {
    unsigned mask;
    bool set;
};

/* What a location's settings compile to (finish): the fields sent to the upstream. */
struct proxy_plan {
    struct proxy_header *send; /* the defaults with proxy_set_header over them; no empty ones */
    unsigned nsend;
    /* request fields not passed from the client: names set above, lowercased */
    char **skip;
    unsigned nskip;
    char **hide; /* response fields not passed on (lowercased; X-Accel- by prefix) */
    unsigned nhide;
    bool hide_accel;
};

struct proxy_conf {
    struct proxy_pass pass;
    struct proxy_headers set_headers;
    unsigned http_version; /* 0: 1.0, 1: 1.1 */
    uint32_t connect_timeout_ms, read_timeout_ms, send_timeout_ms;
    struct proxy_next_set next;
    uint32_t buffer_size;
    struct conf_words pass_header, hide_header;
    unsigned redirect; /* 0: default, 1: off */
    bool buffering;
    bool request_buffering;
    struct proxy_plan *plan; /* each block's own (finish), where proxy_pass is set */
};

/* The rows, and what the module does with them (proxy.c's proxy_module names these). */
#define PROXY_NROWS 13
extern const struct conf_row proxy_rows[PROXY_NROWS];

/* Resolves each location's proxy_pass (its group) and compiles its plan. 0, or -1 + err. */
int proxy_conf_finish(struct conf *c, unsigned slot, char *err, size_t errlen) MUST_CHECK;

/* Frees what finish made. */
void proxy_conf_release(struct conf *c, unsigned slot);
