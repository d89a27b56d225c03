/*
 * route.h - which server and which location answer a request.
 *
 * Built once from the configuration (the route module's finish): the
 * servers, each with its names, its locations and its own settings for paths
 * no location matches, and the listen groups, one per address, with the
 * servers listening there and the default one. A request arriving on a group
 * picks its server by Host (route_server_for), then its location by path
 * (route_location); the location says which handler answers (handler.h) and
 * carries the module structs that apply there.
 *
 * The module owns `listen`, `server_name` and `allow_encoded_slashes`.
 * Read-only after startup; any thread.
 */
#pragma once

#include "core/base/slice.h"
#include "core/conf/conf.h"
#include "core/http/handler.h"
#include "core/http/headers.h"
#include "core/net/addr.h"
#include "core/net/listener.h"

#include <stdbool.h>

/* What kind of location a route_loc is (nginx's modifiers). */
enum route_loc_kind {
    ROUTE_LOC_SERVER,  /* the server's own settings: paths no location takes */
    ROUTE_LOC_PREFIX,  /* location /uri */
    ROUTE_LOC_EXACT,   /* location = /uri */
    ROUTE_LOC_NOREGEX, /* location ^~ /uri */
    ROUTE_LOC_REGEX,   /* location ~ re, location ~* re */
    ROUTE_LOC_NAMED,   /* location @name */
};

struct loc_set;
struct http_regex;

struct route_loc {
    const char *prefix; /* the URI, regex or "@name" ("" for the server's own settings) */
    size_t prefix_len;
    uint8_t kind; /* enum route_loc_kind */
    bool internal;        /* only internal redirects (try_files, error_page, rewrite) reach it */
    bool refuse_dotfiles; /* a path with a component starting with '.' gets 404 */
    const struct handler_ops *handler;
    const void *handler_conf; /* the handler module's location struct here */
    const struct headers_conf *hdrs;
    const struct conf_block *block;
    const struct route_server *server;
    const struct route_loc *parent; /* the enclosing location, NULL at the server level */
    const struct loc_set *nested;   /* nested locations, NULL when none */
    struct http_regex *re;          /* ROUTE_LOC_REGEX */
    struct loc_latency *lat;        /* `location_latency on`: its histograms, else NULL */
};

struct route_server {
    char **names; /* server_name values, lowercased */
    unsigned nnames;
    unsigned index; /* 0..n-1 in file order: keys per-server state (the access log) */
    bool allow_encoded_slash;
    bool http2;             /* `http2 on`: HTTP/2 is offered (ALPN h2, the h2c preface) */
    struct route_loc self;  /* for paths no location matches */
    struct route_loc *locs; /* every location, nested ones included, in file order */
    unsigned nlocs;
    struct loc_set *top; /* the server-level locations, for loc_find (location.h) */
    const struct conf_block *block;
};

struct route_name {
    uint64_t h;
    const char *name; /* NULL: an empty slot */
    uint32_t len;
    bool subdomains_only; /* "*.example.com" (not example.com itself) */
    const struct route_server *server;
};

struct route_group {
    struct net_addr addr; /* with the port actually bound once listening (port 0) */
    struct listen_opts opts;   /* the socket options (listen parameters, tcp_congestion) */
    struct conf_where opts_at; /* the listen that gave them (file NULL: the defaults) */
    const struct route_server **servers;
    unsigned nservers;
    const struct route_server *def; /* default_server, else the first */
    /* the names of its servers, hashed (lowercased): exact ones, and wildcard suffixes
     * (".example.com" for "*.example.com" and ".example.com") */
    struct route_name *exact, *wild;
    uint32_t exact_mask, wild_mask;
    bool has_wild;
    bool ssl;          /* a listen of this address says ssl: its connections speak TLS */
    bool http2_listen; /* a listen says http2 (the older syntax) */
    bool http2;        /* HTTP/2 here: http2_listen, or `http2 on` in the default server */
    void *tls;         /* the default server's SSL_CTX (http/tls_conf.c), NULL: plain */
};

struct route_table {
    struct route_server *servers;
    unsigned nservers;
    struct route_group *groups;
    unsigned ngroups;
};

extern const struct conf_module route_module;

/* The table built from c (finished). */
const struct route_table *route_table(const struct conf *c);

/* The server for a Host value (port and trailing dot ignored; empty: the default). */
const struct route_server *route_server_for(const struct route_group *g, struct slice host);

