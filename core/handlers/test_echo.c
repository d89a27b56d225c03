/*
 * test_echo.c - a test-only handler: reads the request body slowly, then answers with its
 * length and digest.
 *
 *   location /echo { test_echo 4k 2ms length; }    [TAKE [DELAY [length|chunked]]]
 *
 * The seams CGI, FastCGI and proxying stand on, exercised by themselves: the answer is
 * deferred (resp_defer) until the body has arrived; the body is taken at most TAKE bytes per
 * data() call, and after each take the handler sleeps DELAY before it asks for more
 * (req_body_more), so the session's backpressure path runs; the answer is "LEN HASH\n"
 * (HASH: FNV-1a 64 of the body, hex) as a stream of known length or chunked. A broken body
 * gets its status (400, 413). Built only with SPATE_TEST_HANDLERS; never in a release.
 */
#include "core/handlers/test_echo.h"

#include "core/base/alloc.h"
#include "core/conf/print.h"
#include "core/http/handler.h"
#include "core/http/respond.h"
#include "core/io/loop.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct echo_conf {
    uint32_t take;
    uint32_t delay_ms;
    bool length, on;
};

struct echo {
    struct req *r;
    const struct echo_conf *conf;
    uint64_t len, hash;
    struct io_sleep sleep;
    bool sleeping, aborted, ended;
    int end_err; /* the body ended while a sleep was pending: answered when it is over */
    bool end_pending;
    char out[64];
};

static int echo_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                      unsigned n)
{
    (void)r;
    struct echo_conf *c = field;
    uint64_t take = 65536, delay = 0;
    bool length = true;
    if ((n > 0 && conf_parse_size(a[0], &take) < 0) ||
        (n > 1 && conf_parse_time_ms(a[1], &delay) < 0) || take == 0 || take > (1u << 24) ||
        delay > 60000) {
        return conf_error(p, "test_echo [TAKE (1..16m) [DELAY (..60s) [length|chunked]]]");
    }
    if (n > 2) {
        if (strcmp(a[2], "chunked") == 0) {
            length = false;
        } else if (strcmp(a[2], "length") != 0) {
            return conf_error(p, "test_echo: the third argument is \"length\" or \"chunked\"");
        }
    }
    *c = (struct echo_conf){(uint32_t)take, (uint32_t)delay, length, true};
    return 0;
}

static void echo_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const struct echo_conf *c = field;
    if (!c->on) {
        return;
    }
    conf_out_begin(o, r->name);
    conf_out_size(o, c->take);
    conf_out_time(o, c->delay_ms);
    conf_out_arg(o, c->length ? "length" : "chunked");
    conf_out_end(o);
}

static const struct conf_type echo_type = {"test_echo", sizeof(struct echo_conf), echo_parse,
                                           echo_print, NULL};

static const struct conf_row rows[] = {
    {"test_echo", CONF_LOCATION, CONF_STORE_LOC, 0, 3, CONF_CONTENT, &echo_type, 0, NULL, 0, 0,
     "4k 2ms length", NULL},
};

/* ---------------------------------------------------------------- answering */

static void writable(struct req *r)
{
    (void)r; /* the answer is one short write: it always fits */
}

static void aborted(struct req *r)
{
    struct echo *e = r->resp.stream_arg;
    e->aborted = true;
}

static const struct resp_stream_ops echo_ops = {writable, aborted};

static void answer(struct echo *e, int err)
{
    struct req *r = e->r;
    e->ended = true;
    if (err > 0) {
        if (resp_error(r, err) < 0) {
            return;
        }
        return;
    }
    int n = snprintf(e->out, sizeof(e->out), "%" PRIu64 " %016" PRIx64 "\n", e->len, e->hash);
    resp_begin(r, 200);
    if (resp_field(r, SLICE_LIT("Content-Type"), SLICE_LIT("text/plain")) < 0) {
        return;
    }
    if (e->conf->length) {
        resp_stream_length(r, (uint64_t)n);
    }
    if (resp_stream(r, &echo_ops, e) < 0) {
        return;
    }
    resp_stream_write(r, e->out, (size_t)n);
    if (resp_stream_end(r) < 0) {
        return;
    }
}

static void on_sleep(struct io_op *op, int res, unsigned flags)
{
    (void)res;
    (void)flags;
    struct echo *e = container_of(op, struct echo, sleep.op);
    struct req *r = e->r;
    e->sleeping = false;
    if (!req_dead(r) && !e->aborted && !e->ended) {
        if (e->end_pending) {
            answer(e, e->end_err); /* its arena goes when the answer is out: not before now */
        } else {
            req_body_more(r);
        }
    }
    req_unhold(r); /* may free the connection, and e with its arena: the last thing here */
}

static size_t body_data(struct req *r, const char *p, size_t n)
{
    struct echo *e = r->body_arg;
    if (e->sleeping) {
        return 0;
    }
    size_t take = MIN(n, (size_t)e->conf->take);
    for (size_t i = 0; i < take; i++) {
        e->hash = (e->hash ^ (uint8_t)p[i]) * 0x100000001b3ull;
    }
    e->len += take;
    if (take < n || e->conf->delay_ms) {
        /* full for now: more after the delay (or at once, with none) */
        e->sleeping = true;
        req_hold(r);
        io_sleep(r->env->loop, &e->sleep, e->conf->delay_ms ? e->conf->delay_ms : 1);
    }
    return take;
}

static void body_end(struct req *r, int err)
{
    struct echo *e = r->body_arg;
    if (err < 0) {
        return; /* the client stopped sending: nothing to answer it with */
    }
    if (e->sleeping) {
        /* the sleep's operation lives in the request's arena, which the answer lets go */
        e->end_pending = true;
        e->end_err = err;
        return;
    }
    answer(e, err);
}

static const struct req_body_ops echo_body = {body_data, body_end};

static int handle(struct req *r, const void *conf)
{
    struct echo *e = arena_alloc(r->arena, sizeof(*e));
    if (!e) {
        return 500;
    }
    memset(e, 0, sizeof(*e));
    e->r = r;
    e->conf = conf;
    e->hash = 0xcbf29ce484222325ull;
    io_op_init(&e->sleep.op, on_sleep);
    if (resp_defer(r, &echo_ops, e) < 0) {
        return -ENOMEM;
    }
    int rc = req_body_read(r, &echo_body, e);
    if (rc < 0) {
        return -ENOMEM;
    }
    if (rc == 1) {
        answer(e, 0); /* no body: the digest of nothing */
    }
    return 0;
}

static const struct handler_ops echo_handler = {
    .name = "test_echo",
    .methods = HANDLER_METHOD(HTTP_GET) | HANDLER_METHOD(HTTP_POST) | HANDLER_METHOD(HTTP_PUT),
    .handle = handle,
};

const struct conf_module test_echo_module = {
    .name = "test_echo",
    .rows = rows,
    .nrows = ARRAY_SIZE(rows),
    .size = {[CONF_STORE_LOC] = sizeof(struct echo_conf)},
    .content = &echo_handler,
};
