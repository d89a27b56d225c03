/*
 * fastcgi_conf.h - the FastCGI handler's directives (rows in fastcgi_conf.c, used by
 * fastcgi.c; described in fastcgi.h and docs/config.md), nginx's names and meanings:
 *
 *   fastcgi_pass unix:PATH | HOST:PORT | UPSTREAM   the location's handler (not inherited)
 *   fastcgi_param NAME VALUE [if_not_empty] repeatable; a level that has none inherits all of
 *                                           the enclosing level's
 *   fastcgi_index NAME                      appended to $fastcgi_script_name for a URI in '/'
 *   fastcgi_split_path_info REGEX           two captures: $fastcgi_script_name, $fastcgi_path_info
 *   fastcgi_connect_timeout / fastcgi_send_timeout / fastcgi_read_timeout TIME   (60s)
 *   fastcgi_keep_conn on|off                FCGI_KEEP_CONN and the worker's idle pool (off)
 *   fastcgi_buffer_size SIZE                the longest response head (4k)
 *
 * Built on the main thread, read-only once finished.
 */
#pragma once

#include "core/conf/conf.h"

#include <stdbool.h>
#include <stdint.h>

struct http_script;
struct http_regex;
struct upstream_group;
struct route_loc;

/* The application server(s) of a location. */
struct fcgi_pass {
    char *text; /* as written: "unix:/run/php/php-fpm.sock", "127.0.0.1:9000", "php" */
    struct upstream_group *group; /* set by finish: the upstream named, or one of our own */
    bool owns_group;
    struct conf_where where;
};

struct fcgi_param {
    char *name, *text;
    struct http_script *value;
    bool if_not_empty;
};

struct fcgi_params {
    struct fcgi_param *v;
    unsigned n;
};

struct fcgi_split {
    char *text;
    struct http_regex *re; /* NULL: not set */
};

/* The location struct (CONF_STORE_LOC). */
struct fcgi_conf {
    struct fcgi_pass pass; /* text NULL: none here */
    struct fcgi_params params;
    char *index; /* "" when none */
    struct fcgi_split split;
    uint32_t connect_timeout_ms, send_timeout_ms, read_timeout_ms;
    uint32_t buffer_size;
    bool keep_conn;
};

/* The configuration of location l, or NULL. */
const struct fcgi_conf *fcgi_conf_of(const struct route_loc *l);

/* The module's rows (the module is fastcgi.h's fastcgi_module), and its finish. */
#define FCGI_CONF_NROWS 9
extern const struct conf_row fcgi_conf_rows[FCGI_CONF_NROWS];
int fcgi_conf_finish(struct conf *c, unsigned slot, char *err, size_t errlen) MUST_CHECK;
