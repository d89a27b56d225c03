/*
 * ident.h - the `ident` module: RFC 1413 lookups of a connection's user, for CLF field 2
 * ($ident, $remote_ident).
 *
 *   ident on | off;          (http, server; default off)
 *   ident_timeout TIME;      (http, server; default 2s)
 *
 * At a connection's first request of a server with `ident on`, the worker connects from the
 * address the client reached (port 0) to the client's port 113 through io_uring, sends the
 * port pair and reads one reply line (proto/ident.h), all within ident_timeout; the response
 * never waits for it, its log line does (core/http/client_id.h). Anything but a USERID reply
 * in time (refused, ERROR, malformed, over-long, timeout) leaves "-". At most IDENT_INFLIGHT
 * lookups per worker are out at once: past that a connection goes without.
 */
#pragma once

#include "core/conf/conf.h"

#include <stdbool.h>

struct client_id;
struct h1_conn;
struct route_server;

#define IDENT_INFLIGHT 1024u

extern const struct conf_module ident_module;

/* Does server s ask for ident? */
bool ident_wanted(const struct route_server *s);

/* Starts the lookup for the connection; its end settles id (client_id_settle). */
void ident_start(struct h1_conn *h, const struct route_server *s, struct client_id *id);

/* At worker exit, after the ring is gone and before the log's last lines: the lines waiting
 * for lookups still out go out with "-"; the lookups are freed unless the kernel may still
 * hold their buffers (stuck). */
void ident_worker_exit(bool stuck);
