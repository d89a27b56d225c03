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

struct route_loc {
    const char *prefix; /* "/assets/" ("" for a server's own settings) */
    size_t prefix_len;
    const struct handler_ops *handler;
    const void *handler_conf; /* the handler module's location struct here */
    const struct headers_conf *hdrs;
    const struct conf_block *block;
    const struct route_server *server;
};

struct route_server {
    char **names; /* server_name values, lowercased */
    unsigned nnames;
    unsigned index; /* 0..n-1 in file order: keys per-server state (the access log) */
    bool allow_encoded_slash;
    struct route_loc self;  /* for paths no location matches */
    struct route_loc *locs; /* longest prefix first */
    unsigned nlocs;
    const struct conf_block *block;
};

struct route_group {
    struct net_addr addr; /* with the port actually bound once listening (port 0) */
    struct listen_opts opts;   /* the socket options (listen parameters, tcp_congestion) */
    struct conf_where opts_at; /* the listen that gave them (file NULL: the defaults) */
    const struct route_server **servers;
    unsigned nservers;
    const struct route_server *def; /* default_server, else the first */
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

/* The location for a normalized path: the longest matching prefix, else the server's own. */
const struct route_loc *route_location(const struct route_server *s, struct slice path);
