/*
 * test_stream.c - a test-only handler: a generated body of unknown length, produced slowly.
 *
 *   location /stream { test_stream 1m 16k 5ms; }    SIZE [CHUNK [DELAY]]
 *
 * Writes SIZE bytes (byte i is i % 251) in CHUNK-byte writes, sleeping DELAY
 * between them, through the response writer's stream API: the shape CGI and
 * proxying will have, with backpressure (a write that does not fit waits for
 * writable()) and a client that may vanish mid-body (abort()). Built only
 * with SPATE_TEST_HANDLERS (the test build); never in a release binary.
 */
#include "core/handlers/test_stream.h"

#include "core/base/alloc.h"
#include "core/conf/print.h"
#include "core/http/handler.h"
#include "core/http/respond.h"
#include "core/io/loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct stream_conf {
    uint64_t size;
    uint32_t chunk;
    uint32_t delay_ms;
    bool on;
};

/* One request's producer, in its arena. */
struct producer {
    struct req *r;
    const struct stream_conf *conf;
    uint64_t done;
    struct io_sleep sleep;
    bool sleeping, aborted;
    char buf[];
};

/* ---------------------------------------------------------------- test_stream SIZE [CHUNK [DELAY]]
 */

static int stream_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                        unsigned n)
{
    (void)r;
    struct stream_conf *c = field;
    uint64_t size, chunk = 16384, delay = 0;
    if (conf_parse_size(a[0], &size) < 0 || (n > 1 && conf_parse_size(a[1], &chunk) < 0) ||
        (n > 2 && conf_parse_time_ms(a[2], &delay) < 0) || chunk == 0 || chunk > (1u << 20) ||
        delay > 60000) {
        return conf_error(p, "test_stream SIZE [CHUNK (1..1m) [DELAY (..60s)]]");
    }
    *c = (struct stream_conf){size, (uint32_t)chunk, (uint32_t)delay, true};
    return 0;
}

static void stream_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const struct stream_conf *c = field;
    if (!c->on) {
        return;
    }
    conf_out_begin(o, r->name);
    conf_out_size(o, c->size);
    conf_out_size(o, c->chunk);
    conf_out_time(o, c->delay_ms);
    conf_out_end(o);
}

static const struct conf_type stream_type = {"test_stream", sizeof(struct stream_conf),
                                             stream_parse, stream_print, NULL};

static const struct conf_row rows[] = {
    {"test_stream", CONF_LOCATION, CONF_STORE_LOC, 1, 3, CONF_CONTENT, &stream_type, 0, NULL, 0, 0,
     "1m 16k 5ms", NULL},
};

/* ---------------------------------------------------------------- producing */

static void produce(struct producer *pr);

static void on_sleep(struct io_op *op, int res, unsigned flags)
{
    (void)res;
    (void)flags;
    struct producer *pr = container_of(op, struct producer, sleep.op);
    struct req *r = pr->r;
    pr->sleeping = false;
    if (!req_dead(r) && !pr->aborted) {
        produce(pr);
    }
    req_unhold(r); /* may free the connection, and pr with its arena: the last thing here */
}

static void produce(struct producer *pr)
{
    struct req *r = pr->r;
    while (pr->done < pr->conf->size) {
        size_t want = (size_t)MIN((uint64_t)pr->conf->chunk, pr->conf->size - pr->done);
        for (size_t i = 0; i < want; i++) {
            pr->buf[i] = (char)((pr->done + i) % 251);
        }
        size_t n = resp_stream_write(r, pr->buf, want);
        pr->done += n;
        if (n < want) {
            return; /* the queue is full: writable() calls back */
        }
        if (pr->conf->delay_ms && pr->done < pr->conf->size) {
            pr->sleeping = true;
            req_hold(r);
            io_sleep(r->env->loop, &pr->sleep, pr->conf->delay_ms);
            return;
        }
    }
    if (resp_stream_end(r) < 0) {
        return;
    }
}

static void writable(struct req *r)
{
    struct producer *pr = r->resp.stream_arg;
    if (!pr->sleeping) {
        produce(pr);
    }
}

static void aborted(struct req *r)
{
    struct producer *pr = r->resp.stream_arg;
    pr->aborted = true;
}

static const struct resp_stream_ops producer_ops = {writable, aborted};

static int handle(struct req *r, const void *conf)
{
    const struct stream_conf *c = conf;
    struct producer *pr = arena_alloc(r->arena, sizeof(*pr) + c->chunk);
    if (!pr) {
        return 500;
    }
    memset(pr, 0, sizeof(*pr));
    pr->r = r;
    pr->conf = c;
    io_op_init(&pr->sleep.op, on_sleep);
    resp_begin(r, 200);
    if (resp_field(r, SLICE_LIT("Content-Type"), SLICE_LIT("application/octet-stream")) < 0 ||
        resp_stream(r, &producer_ops, pr) < 0) {
        return -ENOMEM;
    }
    produce(pr);
    return 0;
}

static const struct handler_ops stream_handler = {
    .name = "test_stream",
    .methods = HANDLER_METHOD(HTTP_GET),
    .handle = handle,
};

const struct conf_module test_stream_module = {
    .name = "test_stream",
    .rows = rows,
    .nrows = ARRAY_SIZE(rows),
    .size = {[CONF_STORE_LOC] = sizeof(struct stream_conf)},
    .content = &stream_handler,
};
