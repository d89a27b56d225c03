/*
 * hostname.h - the `hostname_lookups` module: the client's name by reverse DNS, cached per
 * worker, for $remote_host, CLF field 1 and host-based access rules.
 *
 *   hostname_lookups on | double | off;          (http, server, location; default off)
 *   resolver ADDRESS[:PORT] ... [valid=TIME] [ipv6=on|off];   (http; default /etc/resolv.conf)
 *   resolver_timeout TIME;                        (http; default 5s)
 *
 * A lookup runs on the worker's resolver (core/net/resolver.h) without holding the response:
 * a connection's log lines wait for it (core/http/client_id.h). `double` (Apache's
 * HostnameLookups Double) takes a name only when its forward lookup gives the address back.
 * Answers are cached per worker for their TTL, at most valid= (default 1h); no name, a
 * failure or a timeout for min(valid, 30s). At most HOSTNAME_INFLIGHT lookups per worker are
 * out at once: past that a client goes without a name.
 */
#pragma once

#include "core/base/slice.h"
#include "core/conf/conf.h"

#include <stdbool.h>

struct client_id;
struct h1_conn;
struct req;
struct route_loc;

#define HOSTNAME_INFLIGHT 256u

extern const struct conf_module hostname_module;

enum hostname_mode { HOSTNAME_OFF, HOSTNAME_ON, HOSTNAME_DOUBLE };

/* The mode of location l (HOSTNAME_OFF where the module is not loaded). */
enum hostname_mode hostname_mode_of(const struct route_loc *l);

/* Starts the connection's lookup (or takes the cached answer) for a request of location l. */
void hostname_start(struct h1_conn *h, const struct route_loc *l, struct client_id *id);

/*
 * The client's name for an access rule: double-checked (as Apache does for host-based access)
 * whatever hostname_lookups says, cached per worker. 0 with *name set (an empty slice when the
 * client has no name or the lookup failed); HANDLER_LATER when a lookup is out (r->wait is
 * linked: the request is dispatched again from the start when it ends, and the cache answers
 * then); -ENOMEM.
 */
int http_remote_host(struct req *r, struct slice *name);

/* $remote_host in scripts: the name the worker's cache holds for the client now (true), never
 * waiting; false: none known (the caller takes the address). */
bool http_remote_host_known(struct req *r, struct slice *name);

/* At worker exit, after the ring is gone: ends the lookups still out (the lines waiting for
 * them go out without a name) and frees the cache. */
void hostname_worker_exit(bool stuck);
