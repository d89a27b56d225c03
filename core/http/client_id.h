/*
 * client_id.h - who a connection's client is: the answers of its lookups (ident, and the
 * reverse DNS of hostname_lookups), and the access-log lines that wait for them.
 *
 * A connection gets one the first time a request of it asks for a lookup (h1_track.c's
 * start_lookups). The
 * client never waits: a response whose last byte went out while a lookup is still out has its
 * line held here, in the connection's order, with its times and bytes taken then; the lines
 * go out, with the answers (or "-" and the address where none came), when the last lookup
 * answers or times out. A connection that closes first leaves its lines here: the record
 * outlives it until then. Owned by the worker thread.
 */
#pragma once

#include "core/http/accesslog.h"

#include <stdbool.h>
#include <stdint.h>

struct client_id {
    struct alog_worker *log;
    uint8_t pending; /* lookups still out */
    bool gone;       /* the connection closed */
    bool host_tried; /* the reverse lookup was started (or could not be) */
    bool ident_tried;
    char *host, *user; /* the answers, NULL: none */
    struct alog_held *head, *tail;
};

/* A record for a connection whose lines go to log (h1_track.c makes it on first use). NULL on
 * OOM. */
struct client_id *client_id_new(struct alog_worker *log);

/* A response is done: its line goes out now, or waits for the answers. */
void client_id_log(struct client_id *id, const char *capture, size_t caplen, uint64_t sent,
                   uint64_t head_len, uint64_t t_start_us);

/* A lookup begins (pending + 1). */
void client_id_expect(struct client_id *id);

/* A lookup is over (its answer, if any, already stored): the held lines go out once none is. */
void client_id_settle(struct client_id *id);

/* The connection closed: the record goes now, or once its lookups are over. */
void client_id_close(struct client_id *id);

/* Stores a copy of an answer (NULL or empty: none) in *slot. */
void client_id_store(char **slot, const char *s, size_t len);
