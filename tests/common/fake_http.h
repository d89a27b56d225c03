/*
 * fake_http.h - the HTTP/1 session over a fake transport, without io_uring or sockets.
 *
 * A harness for unit tests of the layers above the transport seam: a bare
 * io_loop (deferred work and timers, no ring), a real configuration built
 * from text (so routing, locations and the static handler are the real
 * ones, over a temporary document root), the worker's file cache, a
 * connection pool whose connections get a fake transport: what the session
 * queues is "sent" into a buffer as far as the client's window allows
 * (fake_allow), and input is delivered with fake_feed as a receive would.
 */
#pragma once

#include "core/conf/conf.h"
#include "core/http/conn.h"
#include "core/http/h1.h"
#include "core/io/loop.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fake_world {
    struct conf conf;
    struct io_loop loop;
    struct transport_env tenv;
    struct conn_pool pool;
    struct h1_env h1;
    struct alog_worker log;
    struct worker_counters ctr;
    struct fs_cache *fcache;
    char root[64]; /* the temporary document root */
};

/* What the fake transport of one connection saw. */
struct fake_wire {
    char *out; /* bytes "sent", in order */
    size_t out_len, out_cap;
    uint64_t window; /* bytes the client still accepts (UINT64_MAX: all) */
    bool reading, fin, aborted;
    bool fin_read; /* the shutdown ends the receive too: the session chose not to linger */
    unsigned flushes;
};

/*
 * Sets up a world whose configuration is `conf_text` with "ROOT" replaced by a fresh
 * temporary directory (see fake_file). Fails the test on error.
 */
void fake_world_init(struct fake_world *w, const char *conf_text);

void fake_world_fini(struct fake_world *w);

/* Creates ROOT/rel with content. */
void fake_file(struct fake_world *w, const char *rel, const void *content, size_t len);

/* A new connection on listener 0 (the first address of the configuration). */
struct conn *fake_connect(struct fake_world *w);

/* The fake transport's record of what a connection sent. */
struct fake_wire *fake_wire_of(struct conn *c);

/* Delivers n received bytes, then runs the loop's deferred work (one turn). */
void fake_feed(struct fake_world *w, struct conn *c, const char *p, size_t n);

/* The client accepts n more bytes (UINT64_MAX: everything from now on); flushes. */
void fake_allow(struct fake_world *w, struct conn *c, uint64_t n);

/* Runs deferred work until none is left (bounded). */
void fake_settle(struct fake_world *w);

/* The client closes its side. */
void fake_eof(struct fake_world *w, struct conn *c);

/* Closes a connection the test is done with (aborts it and settles). */
void fake_close(struct fake_world *w, struct conn *c);

/* Replaces every "Date: ...\r\n" line's value with a fixed one (for comparing bytes). */
void fake_fix_dates(char *p, size_t n);
