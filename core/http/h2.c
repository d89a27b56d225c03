/*
 * h2.c - the HTTP/2 session's connection: nghttp2's session, input, output, timers, limits
 * (see h2.h).
 *
 * nghttp2 is driven, never driving: input goes through nghttp2_session_mem_recv from the
 * data event, output through nghttp2_session_send, whose callbacks copy frame bytes into the
 * connection's output queue (send_cb) and put DATA payloads in as references (h2_data_send,
 * h2_write.c). The queue bounds it: when it is full the callbacks say WOULDBLOCK and nghttp2
 * keeps the rest until sent() or drained() makes room. Handlers' calls (a response, a
 * streamed write) only submit to nghttp2 and schedule the connection: frames go out at the
 * end of the turn (resume), never from inside nghttp2's own callbacks.
 */
#include "core/http/h2.h"

#include "core/base/alloc.h"
#include "core/http/h2_stream.h"
#include "core/http/h2_write.h"
#include "log/errlog.h"

#include <errno.h>
#include <string.h>

/* Bytes queued and not yet sent past which frames wait (bounds a connection's memory). */
#define OUT_PENDING_MAX (1u << 20)
/* A copy at least this large may go into memory of its own when the queue's block is full. */
#define OWN_COPY_MIN 4096u
/* The connection's receive window: many streams' bodies at once, bounded. */
#define CONN_WINDOW (1u << 20)

/* ---------------------------------------------------------------- output */

/* Room for n frame bytes, copied; false: wait (WOULDBLOCK). */
static bool queue_copy(struct h2_conn *h, const uint8_t *p, size_t n)
{
    struct outq *q = conn_outq(&h->c);
    if (!q) {
        return false;
    }
    char *dst = outq_reserve(q, n);
    if (dst) {
        memcpy(dst, p, n);
        outq_commit(q, n);
        return true;
    }
    if (n < OWN_COPY_MIN || outq_free_segs(q) < 1 ||
        q->queued_pos - q->sent_pos > OUT_PENDING_MAX) {
        return false;
    }
    char *own = sp_malloc(n);
    if (!own) {
        return false;
    }
    memcpy(own, p, n);
    outq_push_owned(q, own, n);
    return true;
}

static ssize_t send_cb(nghttp2_session *ng, const uint8_t *data, size_t len, int flags, void *arg)
{
    (void)ng;
    (void)flags;
    struct h2_conn *h = arg;
    if (!queue_copy(h, data, len)) {
        return NGHTTP2_ERR_WOULDBLOCK;
    }
    return (ssize_t)len;
}

static bool closing(const struct h2_conn *h)
{
    return !nghttp2_session_want_read(h->ng) && !nghttp2_session_want_write(h->ng);
}

static void update_timer(struct h2_conn *h);

void h2_flush(struct h2_conn *h)
{
    struct conn *c = &h->c;
    if (conn_dead(c) || (h->flags & H2_SENDING) || !h->ng) {
        return;
    }
    h->flags |= H2_SENDING;
    int rv = nghttp2_session_send(h->ng);
    h->flags &= ~H2_SENDING;
    if (rv != 0) {
        errlog(ERRLOG_INFO, "conn %llu: HTTP/2: %s", (unsigned long long)c->id,
               nghttp2_strerror(rv));
        conn_abort(c);
        return;
    }
    if (!outq_empty(c->tr.out)) {
        c->tr.ops->flush(&c->tr);
    }
}

/* Nothing more will be read or sent on the session (GOAWAY both ways, or a fatal error
 * answered): close once the queue is out. */
static void maybe_close(struct h2_conn *h)
{
    struct conn *c = &h->c;
    if (conn_dead(c) || (c->flags & CONN_LINGER)) {
        return;
    }
    bool quiet = outq_empty(c->tr.out) && !(c->tr.flags & TR_SENDING);
    if (quiet && (closing(h) || ((h->flags & H2_GOAWAY) && h->nstreams == 0))) {
        conn_close_graceful(c, true);
    }
}

/* ---------------------------------------------------------------- timers */

static bool streams_have_output(const struct h2_conn *h)
{
    for (const struct h2_stream *st = h->streams; st; st = st->next) {
        if (h2_stream_has_output(st)) {
            return true;
        }
    }
    return false;
}

static bool streams_read_body(const struct h2_conn *h)
{
    for (const struct h2_stream *st = h->streams; st; st = st->next) {
        if (st->body_ops && !(st->flags & (S_BODY_EOF | S_BODY_FULL | S_CLOSED))) {
            return true;
        }
    }
    return false;
}

static void update_timer(struct h2_conn *h)
{
    struct conn *c = &h->c;
    const struct http_settings *set = h2_env_of(h)->h1->set;
    if (c->flags & (CONN_DEAD | CONN_LINGER)) {
        return;
    }
    if (!outq_empty(c->tr.out) || (c->tr.flags & TR_SENDING) || streams_have_output(h)) {
        /* the client must keep taking what is ready for it, windows closed or not */
        if (conn_timer_kind(c) != CONN_T_SEND) {
            conn_timer(c, CONN_T_SEND);
        }
        return;
    }
    if (streams_read_body(h)) {
        if (conn_timer_kind(c) != CONN_T_BODY) {
            conn_timer(c, CONN_T_BODY); /* client_body_timeout: re-armed as bytes come */
        }
        return;
    }
    if (h->nstreams) {
        conn_timer_cancel(c); /* handlers answering bound their own waits */
        return;
    }
    if (!(h->flags & H2_STARTED)) {
        return; /* client_header_timeout from the connection's start, armed at open */
    }
    if (set->keepalive_timeout_ms == 0) {
        h2_retire(c);
        return;
    }
    if (conn_timer_kind(c) != CONN_T_IDLE) {
        conn_timer(c, CONN_T_IDLE);
    }
}

/* After any event: frames out, the timer, and the close once all is done. */
static void settle(struct h2_conn *h)
{
    const struct h2_env *e = h2_env_of(h);
    uint32_t most = MIN(e->set->max_requests, e->h1->set->keepalive_requests);
    if (UNLIKELY(h->nreq >= most || e->h1->http.draining) && !(h->flags & H2_GOAWAY)) {
        h2_retire(&h->c); /* GOAWAY: the client goes on over a new connection */
    }
    h2_flush(h);
    if (conn_dead(&h->c)) {
        return;
    }
    maybe_close(h);
    if (!conn_dead(&h->c)) {
        update_timer(h);
    }
}

/* ---------------------------------------------------------------- nghttp2's input callbacks */

static struct h2_stream *stream_of(nghttp2_session *ng, int32_t id)
{
    return id > 0 ? nghttp2_session_get_stream_user_data(ng, id) : NULL;
}

static int begin_headers_cb(nghttp2_session *ng, const nghttp2_frame *frame, void *arg)
{
    struct h2_conn *h = arg;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
        return 0;
    }
    const struct h2_settings *set = h2_env_of(h)->set;
    h->flags |= H2_STARTED;
    if (h->nstreams >= 2 * set->max_streams || (h->flags & H2_GOAWAY)) {
        /* streams nghttp2 closed (reset) whose handlers still hold them count too: a client
         * resetting and reopening cannot make us hold more than twice the limit */
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                  NGHTTP2_REFUSED_STREAM);
        return 0;
    }
    struct h2_stream *st = h2_stream_new(h, frame->hd.stream_id);
    if (!st) {
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* the stream is reset */
    }
    nghttp2_session_set_stream_user_data(ng, frame->hd.stream_id, st);
    return 0;
}

static int header_cb(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *arg)
{
    (void)flags;
    (void)arg;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
        return 0; /* trailers: not passed on */
    }
    struct h2_stream *st = stream_of(ng, frame->hd.stream_id);
    if (!st || (st->flags & S_DISPATCHED)) {
        return 0;
    }
    int rc = h2_build_field(&st->b, slice_make((const char *)name, namelen),
                            slice_make((const char *)value, valuelen));
    /* a bad or oversized field is answered when the block ends; only memory fails now */
    return rc == -ENOMEM ? NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE : 0;
}

/* A client resetting streams it opened, faster than http2_max_resets a second (CVE-2023-44487,
 * "rapid reset"): each costs us a dispatch. Past the burst the connection goes. */
static bool reset_allowed(struct h2_conn *h)
{
    const struct h2_settings *set = h2_env_of(h)->set;
    uint64_t now = h->c.pool->loop->now_ms;
    uint32_t burst = 2 * set->max_resets;
    if (h->reset_at_ms == 0) {
        h->reset_at_ms = now;
        h->reset_tokens = burst;
    }
    uint64_t refill = (now - h->reset_at_ms) * set->max_resets / 1000;
    if (refill) {
        h->reset_tokens = (uint32_t)MIN((uint64_t)burst, h->reset_tokens + refill);
        h->reset_at_ms = now;
    }
    if (h->reset_tokens == 0) {
        return false;
    }
    h->reset_tokens--;
    return true;
}

static void calm_down(struct h2_conn *h, const char *why)
{
    if (h->flags & H2_CALM) {
        return;
    }
    h->flags |= H2_CALM | H2_GOAWAY;
    errlog(ERRLOG_WARN, "conn %llu: HTTP/2 client %s: closing", (unsigned long long)h->c.id, why);
    nghttp2_session_terminate_session(h->ng, NGHTTP2_ENHANCE_YOUR_CALM);
}

static int frame_recv_cb(nghttp2_session *ng, const nghttp2_frame *frame, void *arg)
{
    struct h2_conn *h = arg;
    struct h2_stream *st = stream_of(ng, frame->hd.stream_id);
    switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
        if (!st) {
            return 0;
        }
        if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
            h2_stream_headers(st, frame->hd.flags & NGHTTP2_FLAG_END_STREAM);
        } else if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
            h2_stream_body_end(st); /* trailers end the body */
        }
        return 0;
    case NGHTTP2_DATA:
        if (st && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
            h2_stream_body_end(st);
        }
        return 0;
    case NGHTTP2_RST_STREAM:
        if (st && !reset_allowed(h)) {
            calm_down(h, "resets streams too fast");
        }
        return 0;
    default:
        return 0;
    }
}

static int data_chunk_cb(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *arg)
{
    (void)flags;
    (void)arg;
    struct h2_stream *st = stream_of(ng, id);
    if (!st) {
        nghttp2_session_consume(ng, id, len); /* nobody wants it: the windows open again */
        return 0;
    }
    h2_stream_body(st, (const char *)data, len);
    return 0;
}

static int stream_close_cb(nghttp2_session *ng, int32_t id, uint32_t error_code, void *arg)
{
    (void)arg;
    struct h2_stream *st = stream_of(ng, id);
    if (st) {
        nghttp2_session_set_stream_user_data(ng, id, NULL);
        h2_stream_closed(st, error_code);
    }
    return 0;
}

static int frame_send_cb(nghttp2_session *ng, const nghttp2_frame *frame, void *arg)
{
    (void)arg;
    struct h2_stream *st = stream_of(ng, frame->hd.stream_id);
    if (!st) {
        return 0;
    }
    if (frame->hd.type == NGHTTP2_HEADERS) {
        st->bytes += frame->hd.length + 9;
        st->head_bytes += frame->hd.length + 9;
    }
    if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
        (frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        !(st->flags & S_BODY_EOF)) {
        /* the response is whole and the client still sends a body nobody wants: RFC 9113
         * 8.1 lets the server end the stream with NO_ERROR */
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR);
    }
    return 0;
}

/* At most http2_chunk_size body bytes per DATA frame (the client's frame size permitting). */
static ssize_t read_length_cb(nghttp2_session *ng, uint8_t type, int32_t id, int32_t window,
                              int32_t conn_window, uint32_t max_frame, void *arg)
{
    (void)ng;
    (void)type;
    (void)id;
    struct h2_conn *h = arg;
    uint32_t chunk = h2_env_of(h)->set->chunk;
    int32_t w = MIN(window, conn_window);
    return (ssize_t)MIN(MIN(chunk, max_frame), (uint32_t)MAX(w, 1));
}

/* ---------------------------------------------------------------- session operations */

static void h2_open(struct conn *c)
{
    struct h2_conn *h = h2_of(c);
    struct h2_env *e = h2_env_of(h);
    if (nghttp2_session_server_new2(&h->ng, e->cbs, h, e->opt) != 0) {
        h->ng = NULL;
        conn_abort(c);
        return;
    }
    const struct http_settings *set = e->h1->set;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, e->set->max_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, e->set->preread},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, set->limits.max_head},
    };
    if (nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, iv, ARRAY_SIZE(iv)) != 0 ||
        nghttp2_session_set_local_window_size(h->ng, NGHTTP2_FLAG_NONE, 0,
                                              (int32_t)MAX(CONN_WINDOW, e->set->preread)) != 0) {
        conn_abort(c);
        return;
    }
    c->tr.ops->read_start(&c->tr);
    if (conn_timer_kind(c) != CONN_T_HEADER) {
        conn_timer(c, CONN_T_HEADER); /* the preface and a first request within */
    }
    conn_schedule(c); /* our SETTINGS go out at the end of the turn */
}

/* The access log is behind: new requests wait (as HTTP/1's do), their bytes kept. */
static bool hold_input(struct h2_conn *h, const char *p, size_t n)
{
    struct conn *c = &h->c;
    if (h->in_len + n > h2_env_of(h)->set->recv_buffer) {
        conn_abort(c); /* a client sending on without limit while we cannot take it */
        return false;
    }
    char *nb = sp_realloc(h->in, h->in_len + n);
    if (!nb) {
        conn_abort(c);
        return false;
    }
    memcpy(nb + h->in_len, p, n);
    h->in = nb;
    h->in_len += (uint32_t)n;
    if (!h->paused) {
        h->paused = true;
        c->tr.ops->read_stop(&c->tr);
    }
    return true;
}

static void h2_data(struct conn *c, const char *p, size_t n)
{
    struct h2_conn *h = h2_of(c);
    if (!h->ng) {
        return;
    }
    if (UNLIKELY(h->in_len || alog_waiting(h2_env_of(h)->h1->log))) {
        hold_input(h, p, n);
        return;
    }
    ssize_t rv = nghttp2_session_mem_recv(h->ng, (const uint8_t *)p, n);
    if (conn_dead(c)) {
        return;
    }
    if (rv < 0) {
        /* floods (queued acknowledgements past the limit), a bad preface, no memory: nghttp2
         * gives up on the session; nothing it says can be trusted further */
        errlog(ERRLOG_INFO, "conn %llu: HTTP/2 input: %s", (unsigned long long)c->id,
               nghttp2_strerror((int)rv));
        conn_abort(c);
        return;
    }
    settle(h);
}

static void h2_eof(struct conn *c)
{
    struct h2_conn *h = h2_of(c);
    /* the client will send nothing more: streams it left half-open are answered if their
     * answers are already going out; then the connection closes */
    if (h->nstreams == 0 || outq_empty(c->tr.out)) {
        conn_abort(c);
        return;
    }
    h->flags |= H2_GOAWAY;
}

static void h2_sent(struct conn *c, uint64_t n)
{
    struct h2_conn *h = h2_of(c);
    if (n) {
        conn_timer(c, CONN_T_SEND);
    }
    h2_flush(h); /* room in the queue: more frames */
    if (!conn_dead(c)) {
        conn_schedule(c); /* producers waiting for room get writable() */
    }
}

static void h2_drained(struct conn *c)
{
    struct h2_conn *h = h2_of(c);
    conn_outq_release(c);
    h2_flush(h);
    if (conn_dead(c)) {
        return;
    }
    if (c->flags & CONN_EOF && h->nstreams == 0) {
        conn_abort(c);
        return;
    }
    maybe_close(h);
    if (!conn_dead(c)) {
        update_timer(h);
    }
}

static void h2_resume(struct conn *c)
{
    struct h2_conn *h = h2_of(c);
    conn_hold(c);
    if (UNLIKELY(h->in_len) && !alog_waiting(h2_env_of(h)->h1->log)) {
        /* the log caught up: what was held goes in, and reading goes on */
        char *in = h->in;
        size_t len = h->in_len;
        h->in = NULL;
        h->in_len = 0;
        h2_data(c, in, len);
        sp_free(in);
        if (!conn_dead(c) && h->paused && !h->in_len) {
            h->paused = false;
            c->tr.ops->read_start(&c->tr);
        }
    }
    for (struct h2_stream *st = h->streams, *next; st && !conn_dead(c); st = next) {
        next = st->next;
        if (st->flags & S_BODY_CALL) {
            h2_stream_body_deliver(st);
        }
    }
    if (!conn_dead(c)) {
        h2_writable(h);
    }
    for (struct h2_stream *st = h->streams, *next; st && !conn_dead(c); st = next) {
        next = st->next;
        h2_stream_release(st);
    }
    if (!conn_dead(c)) {
        settle(h);
    }
    conn_unhold(c);
}

static void h2_timeout(struct conn *c, unsigned kind)
{
    struct h2_conn *h = h2_of(c);
    if (kind == CONN_T_IDLE || kind == CONN_T_HEADER) {
        /* nothing open: say goodbye properly (GOAWAY), then close */
        if (h->ng && !(h->flags & H2_GOAWAY)) {
            h->flags |= H2_GOAWAY;
            nghttp2_submit_goaway(h->ng, NGHTTP2_FLAG_NONE,
                                  nghttp2_session_get_last_proc_stream_id(h->ng), NGHTTP2_NO_ERROR,
                                  NULL, 0);
            conn_timer(c, CONN_T_LINGER);
            settle(h);
            return;
        }
    }
    /* send_timeout (the client stopped reading, or keeps its windows shut), a body that
     * stopped coming, a goodbye not taken: close */
    conn_abort(c);
}

void h2_retire(struct conn *c)
{
    struct h2_conn *h = h2_of(c);
    if (conn_dead(c) || (c->flags & CONN_LINGER) || !h->ng) {
        return;
    }
    if (!(h->flags & H2_GOAWAY)) {
        h->flags |= H2_GOAWAY;
        /* the streams up to the last one we took are answered; later ones the client
         * retries elsewhere (RFC 9113 6.8) */
        nghttp2_submit_goaway(h->ng, NGHTTP2_FLAG_NONE,
                              nghttp2_session_get_last_proc_stream_id(h->ng), NGHTTP2_NO_ERROR,
                              NULL, 0);
    }
    conn_schedule(c);
}

static void h2_shutdown(struct conn *c)
{
    if (c->flags & CONN_LINGER) {
        conn_abort(c);
        return;
    }
    h2_retire(c);
}

static void h2_close(struct conn *c)
{
    struct h2_conn *h = h2_of(c);
    sp_free(h->in);
    h->in = NULL;
    h->in_len = 0;
    h2_streams_close_all(h);
    if (h->ng) {
        nghttp2_session_del(h->ng);
        h->ng = NULL;
    }
}

bool h2_busy(struct conn *c)
{
    return h2_of(c)->nstreams != 0;
}

bool h2_held_back(struct conn *c)
{
    return h2_of(c)->in_len != 0;
}

/* ---------------------------------------------------------------- per worker */

int h2_env_init(struct h2_env *e, struct h1_env *h1, const struct h2_settings *set)
{
    memset(e, 0, sizeof(*e));
    e->h1 = h1;
    e->set = set;
    h1->h2 = e;
    if (nghttp2_session_callbacks_new(&e->cbs) != 0 || nghttp2_option_new(&e->opt) != 0) {
        h2_env_fini(e);
        return -ENOMEM;
    }
    nghttp2_session_callbacks *cb = e->cbs;
    nghttp2_session_callbacks_set_send_callback(cb, send_cb);
    nghttp2_session_callbacks_set_send_data_callback(cb, h2_data_send);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, begin_headers_cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, header_cb);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, frame_recv_cb);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, data_chunk_cb);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, stream_close_cb);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, frame_send_cb);
    nghttp2_session_callbacks_set_data_source_read_length_callback(cb, read_length_cb);
    nghttp2_option *o = e->opt;
    /* windows open only as handlers take body bytes (h2_stream.c: nghttp2_session_consume) */
    nghttp2_option_set_no_auto_window_update(o, 1);
    nghttp2_option_set_no_closed_streams(o, 1);
    /* floods: queued SETTINGS/PING acknowledgements, SETTINGS entries, CONTINUATION frames */
    nghttp2_option_set_max_outbound_ack(o, 1000);
    nghttp2_option_set_max_settings(o, 32);
    nghttp2_option_set_max_continuations(o, 8);
    /* nghttp2's own rapid-reset guard stays as a backstop behind http2_max_resets */
    nghttp2_option_set_stream_reset_rate_limit(o, 1000, 33);
    return 0;
}

void h2_env_fini(struct h2_env *e)
{
    if (e->cbs) {
        nghttp2_session_callbacks_del(e->cbs);
    }
    if (e->opt) {
        nghttp2_option_del(e->opt);
    }
    e->cbs = NULL;
    e->opt = NULL;
}

void h2_env_retune(struct h2_env *e, const struct h2_settings *set)
{
    e->set = set;
}

const struct session_ops h2_session = {
    .name = "h2",
    .size = sizeof(struct h2_conn),
    .open = h2_open,
    .data = h2_data,
    .eof = h2_eof,
    .sent = h2_sent,
    .drained = h2_drained,
    .resume = h2_resume,
    .timeout = h2_timeout,
    .shutdown = h2_shutdown,
    .close = h2_close,
};
