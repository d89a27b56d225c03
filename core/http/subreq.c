/* subreq.c - subrequests answered into their parent's stream (see subreq.h). */
#include "core/http/subreq.h"

#include "core/http/dispatch.h"
#include "core/http/handler.h"
#include "core/http/respond.h"
#include "core/http/route.h"
#include "core/io/offload.h"
#include "log/errlog.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define READ_BUF 16384

enum sub_state {
    SUB_RUNNING, /* dispatched, not answered yet (or waiting for a file load) */
    SUB_PIECES,  /* resp_send's pieces going into the parent */
    SUB_STREAM,  /* the child's stream going into the parent */
    SUB_DEFER,   /* the child answers later */
    SUB_DONE,
};

struct subreq {
    struct req r; /* the child */
    struct http_request msg;
    struct req *parent;
    struct req_wait wait;
    const struct subreq_ops *ops;
    void *arg;
    struct subreq_result *res;
    unsigned flags;
    uint8_t state;
    bool in_start; /* inside subreq_start: an answer now is returned, not told */
    bool aborted;
    bool blocked; /* a stream write took less: the child's writable() is owed */
    bool discard; /* a stream that is not 2xx: its bytes are dropped */
    bool reading; /* a file piece's read is on the offload pool */
    int status;
    /* SUB_PIECES */
    struct resp_piece *pieces;
    unsigned npieces, piece;
    uint64_t piece_off; /* bytes of pieces[piece] written */
    char *buf;          /* a file piece's bytes read so far, not yet written */
    size_t buf_len, buf_off;
    struct offload_job job;
    int read_res;
};

static const struct req_proto subreq_proto;

struct req *subreq_parent(const struct req *r)
{
    return r->proto == &subreq_proto ? ((struct subreq *)r->proto_data)->parent : NULL;
}

/* Drops what the child's pieces held. */
static void drop_pieces(struct subreq *s)
{
    for (unsigned i = 0; i < s->npieces; i++) {
        if (s->pieces[i].ref) {
            fs_entry_release(s->pieces[i].ref);
        }
    }
    s->npieces = 0;
}

static void finish(struct subreq *s, int status)
{
    if (s->state == SUB_DONE) {
        return;
    }
    s->state = SUB_DONE;
    s->status = status;
    s->res->status = status;
    drop_pieces(s);
    req_wait_unlink(&s->wait);
    if (!s->in_start && !s->aborted) {
        s->ops->done(s->arg);
    }
}

static bool ok_status(int st)
{
    return st >= 200 && st < 300;
}

/* ---------------------------------------------------------------- pieces */

static void pump(struct subreq *s);

static size_t put(struct subreq *s, const void *p, size_t len)
{
    return s->ops->write ? s->ops->write(s->arg, p, len) : resp_stream_write(s->parent, p, len);
}

static int read_run(struct offload_job *j)
{
    struct subreq *s = container_of(j, struct subreq, job);
    const struct resp_piece *pc = &s->pieces[s->piece];
    size_t want = (size_t)MIN((uint64_t)READ_BUF, pc->len - s->piece_off);
    ssize_t n = pread(pc->ref->fd, s->buf, want, (off_t)(pc->off + s->piece_off));
    return n < 0 ? -errno : (int)n;
}

static void read_done(struct offload_job *j, int res)
{
    struct subreq *s = container_of(j, struct subreq, job);
    struct req *parent = s->parent;
    s->reading = false;
    if (s->aborted) {
        drop_pieces(s); /* left for now by subreq_abort: the read used their fd */
    } else if (s->state == SUB_PIECES) {
        if (res <= 0) {
            errlog(ERRLOG_ERROR, "subrequest \"%.*s\": reading its file failed (%d)",
                   (int)s->msg.path.len, s->msg.path.ptr, res);
            finish(s, 0);
        } else {
            s->buf_len = (size_t)res;
            s->buf_off = 0;
            pump(s);
        }
    }
    req_unhold(parent); /* may free the connection, and s with its arena: the last thing */
}

/* Reads the next bytes of the current file piece on the offload pool. */
static void start_read(struct subreq *s)
{
    if (!s->buf && !(s->buf = arena_alloc(s->parent->arena, READ_BUF))) {
        finish(s, 0);
        return;
    }
    offload_job_init(&s->job, read_run, read_done);
    if (offload_submit(s->parent->env->loop, &s->job) < 0) {
        errlog(ERRLOG_ERROR, "subrequest \"%.*s\": its file could not be read (helpers busy)",
               (int)s->msg.path.len, s->msg.path.ptr);
        finish(s, 0);
        return;
    }
    s->reading = true;
    req_hold(s->parent);
}

/* Writes pieces into the parent until its queue is full, a read is needed, or all went. */
static void pump(struct subreq *s)
{
    while (s->piece < s->npieces && !s->aborted) {
        const struct resp_piece *pc = &s->pieces[s->piece];
        const char *p;
        size_t len;
        if (pc->ptr) {
            p = pc->ptr + s->piece_off;
            len = (size_t)(pc->len - s->piece_off);
        } else if (s->buf_off < s->buf_len) {
            p = s->buf + s->buf_off;
            len = s->buf_len - s->buf_off;
        } else {
            start_read(s);
            return;
        }
        size_t n = put(s, p, len);
        s->piece_off += n;
        if (!pc->ptr) {
            s->buf_off += n;
        }
        if (n < len) {
            return; /* the parent calls subreq_writable when there is room */
        }
        if (s->piece_off == pc->len) {
            s->piece++;
            s->piece_off = 0;
            s->buf_len = s->buf_off = 0;
        }
    }
    if (!s->aborted) {
        finish(s, s->status);
    }
}

/* ---------------------------------------------------------------- the child's session */

static int sub_send(struct req *r)
{
    struct subreq *s = r->proto_data;
    const struct resp *rs = &r->resp;
    s->status = rs->status;
    if (rs->entity && rs->entity->kind == FS_FILE) {
        s->res->has_entity = true;
        s->res->size = rs->entity->size;
        s->res->mtime = rs->entity->mtime;
    }
    if (!ok_status(rs->status) || rs->body != RESP_BODY_PIECES || !rs->npieces ||
        (s->flags & SUBREQ_FACTS)) {
        finish(s, rs->status);
        return 0;
    }
    s->pieces = arena_alloc(r->arena, rs->npieces * sizeof(*s->pieces));
    if (!s->pieces) {
        finish(s, 0);
        return 0;
    }
    memcpy(s->pieces, rs->pieces, rs->npieces * sizeof(*s->pieces));
    s->npieces = rs->npieces;
    for (unsigned i = 0; i < s->npieces; i++) {
        struct resp_piece *pc = &s->pieces[i];
        if (pc->ptr && !pc->ref) {
            /* given to be copied at send: it may live in memory the handler frees */
            char *c = arena_memdup(r->arena, pc->ptr, (size_t)pc->len);
            if (!c) {
                s->npieces = i;
                finish(s, 0);
                return 0;
            }
            pc->ptr = c;
        } else if (pc->ref) {
            fs_entry_ref(pc->ref);
        }
    }
    s->state = SUB_PIECES;
    pump(s);
    return 0;
}

static int sub_stream_begin(struct req *r)
{
    struct subreq *s = r->proto_data;
    s->status = r->resp.status;
    s->discard = !ok_status(r->resp.status) || (s->flags & SUBREQ_FACTS);
    s->state = SUB_STREAM;
    return 0;
}

static size_t sub_stream_write(struct req *r, const void *p, size_t len)
{
    struct subreq *s = r->proto_data;
    if (s->aborted || s->state != SUB_STREAM) {
        return 0;
    }
    if (s->discard) {
        return len;
    }
    size_t n = put(s, p, len);
    if (n < len) {
        s->blocked = true;
    }
    return n;
}

static int sub_stream_end(struct req *r)
{
    struct subreq *s = r->proto_data;
    if (s->state == SUB_STREAM) {
        finish(s, s->status); /* not 2xx: nothing of it went out */
    }
    return 0;
}

/* The child's body broke off: what of it went into the page makes the page a cut one too. */
static void sub_stream_abort(struct req *r)
{
    struct subreq *s = r->proto_data;
    if (s->state == SUB_DONE) {
        return;
    }
    if (s->state == SUB_STREAM && !s->discard) {
        s->res->cut = true; /* the owner cuts the parent (its done() is told) */
    }
    finish(s, 0);
}

static int sub_defer(struct req *r, const struct resp_stream_ops *ops, void *arg)
{
    struct subreq *s = r->proto_data;
    r->resp.stream = ops;
    r->resp.stream_arg = arg;
    s->state = SUB_DEFER;
    return 0;
}

static void sub_hold(struct req *r)
{
    struct subreq *s = r->proto_data;
    req_hold(s->parent);
}

static void sub_unhold(struct req *r)
{
    struct subreq *s = r->proto_data;
    req_unhold(s->parent);
}

static bool sub_dead(const struct req *r)
{
    const struct subreq *s = r->proto_data;
    return s->aborted || req_dead(s->parent);
}

static const struct sockaddr_storage *sub_peer(struct req *r)
{
    struct subreq *s = r->proto_data;
    return s->parent->proto->peer(s->parent);
}

static void *sub_ssl(struct req *r)
{
    struct subreq *s = r->proto_data;
    return req_ssl(s->parent);
}

static unsigned sub_local_port(struct req *r)
{
    struct subreq *s = r->proto_data;
    return s->parent->proto->local_port(s->parent);
}

static void sub_on_end(struct req *r, struct req_end *e)
{
    struct subreq *s = r->proto_data;
    req_on_end(s->parent, e);
}

static int sub_body_read(struct req *r, const struct req_body_ops *ops, void *arg)
{
    (void)r;
    (void)ops;
    (void)arg;
    return 1; /* a subrequest has no body */
}

static void sub_body_more(struct req *r)
{
    (void)r;
}

static const struct req_proto subreq_proto = {
    .send = sub_send,
    .stream_begin = sub_stream_begin,
    .stream_write = sub_stream_write,
    .stream_end = sub_stream_end,
    .hold = sub_hold,
    .unhold = sub_unhold,
    .dead = sub_dead,
    .peer = sub_peer,
    .ssl = sub_ssl,
    .local_port = sub_local_port,
    .on_end = sub_on_end,
    .defer = sub_defer,
    .body_read = sub_body_read,
    .body_more = sub_body_more,
    .stream_abort = sub_stream_abort,
};

/* ---------------------------------------------------------------- dispatching */

/* The child request as a session fills it, before each dispatch. */
static void prepare(struct subreq *s)
{
    struct req *r = &s->r, *p = s->parent;
    memset(r, 0, sizeof(*r));
    r->msg = &s->msg;
    r->version_minor = p->version_minor;
    r->h2 = p->h2;
    r->method = HTTP_GET;
    r->args = s->msg.query;
    r->group = p->group;
    r->env = p->env;
    r->arena = p->arena;
    r->proto = &subreq_proto;
    r->proto_data = s;
    r->wait = &s->wait;
    r->internal = true; /* as nginx's: a subrequest may reach `internal` locations */
    r->remote_user = p->remote_user;
    r->request_id = p->request_id;
    r->body_kind = HTTP_BODY_NONE;
    resp_begin(r, 200);
}

/*
 * The parent's fields a child must not see: its conditions and Range (they were about the page,
 * not the include: a 304 or a 206 would cut it), Accept-Encoding (a precompressed variant's
 * bytes would land in the page), and the body's framing (the child has none). nginx's
 * subrequests skip the same filters. A new table only when the parent has any of them.
 */
static int child_fields(struct subreq *s, struct arena *a)
{
    static const enum hdr_known drop[] = {
        HDR_IF_MODIFIED_SINCE, HDR_IF_UNMODIFIED_SINCE,
        HDR_IF_NONE_MATCH,     HDR_IF_MATCH,
        HDR_IF_RANGE,          HDR_RANGE,
        HDR_ACCEPT_ENCODING,   HDR_CONTENT_LENGTH,
        HDR_TRANSFER_ENCODING, HDR_EXPECT,
    };
    const struct hdr_table *in = &s->msg.headers;
    bool any = false;
    for (size_t k = 0; k < ARRAY_SIZE(drop) && !any; k++) {
        any = hdr_get_known(in, drop[k]) != NULL;
    }
    if (!any) {
        return 0;
    }
    struct hdr_table t;
    if (hdr_table_init(&t, a, in->count ? in->count : 1) < 0) {
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < in->count; i++) {
        const struct http_header *h = &in->entries[i];
        bool skip = false;
        for (size_t k = 0; k < ARRAY_SIZE(drop) && !skip; k++) {
            struct slice n = hdr_known_name(drop[k]);
            skip = h->name.len == n.len && !strncasecmp(h->name.ptr, n.ptr, n.len);
        }
        if (!skip && hdr_table_add(&t, a, h->name, h->value, h->hash) < 0) {
            return -ENOMEM;
        }
    }
    if (hdr_table_index(&t, a) < 0) {
        return -ENOMEM;
    }
    s->msg.headers = t;
    return 0;
}

/* Dispatches the child (again, after a wait). */
static void run(struct subreq *s)
{
    prepare(s);
    int rc = http_dispatch(&s->r);
    if (rc == HANDLER_LATER) {
        return; /* a file is loading: wake() dispatches it again */
    }
    s->wait.rounds = 0;
    if (rc < 0) {
        finish(s, 0);
        return;
    }
    if (s->state == SUB_RUNNING) {
        errlog(ERRLOG_ERROR, "a %s handler returned without answering a subrequest",
               s->r.loc && s->r.loc->handler ? s->r.loc->handler->name : "?");
        finish(s, 500);
    }
}

static void wake(struct req_wait *w)
{
    struct subreq *s = container_of(w, struct subreq, wait);
    if (!s->aborted && s->state == SUB_RUNNING) {
        run(s);
    }
}

int subreq_start(struct req *parent, struct slice target, unsigned flags,
                 const struct subreq_ops *ops, void *arg, struct subreq_result *res,
                 struct subreq **out)
{
    struct subreq *s = arena_alloc(parent->arena, sizeof(*s));
    char *t = arena_memdup(parent->arena, target.ptr, target.len);
    if (!s || !t) {
        return -ENOMEM;
    }
    memset(s, 0, sizeof(*s));
    s->parent = parent;
    s->ops = ops;
    s->arg = arg;
    s->res = res;
    s->flags = flags;
    *res = (struct subreq_result){0};
    s->wait = (struct req_wait){NULL, NULL, wake, 0, 0};
    /* the parent's head with another target: GET, no body */
    s->msg = *parent->msg;
    struct http_request *m = &s->msg;
    const char *q = memchr(t, '?', target.len);
    m->target = slice_make(t, target.len);
    m->path = slice_make(t, q ? (size_t)(q - t) : target.len);
    m->has_query = q != NULL;
    m->query = q ? slice_make(q + 1, target.len - (size_t)(q + 1 - t)) : SLICE_NULL;
    m->form = HTTP_TARGET_ORIGIN;
    m->method = HTTP_GET;
    m->method_token = SLICE_LIT("GET");
    m->body = HTTP_BODY_NONE;
    m->content_length = 0;
    m->expect_continue = false;
    if (child_fields(s, parent->arena) < 0) {
        return -ENOMEM;
    }
    s->in_start = true;
    run(s);
    s->in_start = false;
    if (s->state == SUB_DONE) {
        return 1;
    }
    *out = s;
    return 0;
}

void subreq_writable(struct subreq *s)
{
    if (s->aborted) {
        return;
    }
    if (s->state == SUB_PIECES && !s->reading) {
        pump(s);
    } else if (s->state == SUB_STREAM && s->blocked) {
        s->blocked = false;
        if (s->r.resp.stream && s->r.resp.stream->writable) {
            s->r.resp.stream->writable(&s->r);
        }
    }
}

void subreq_abort(struct subreq *s)
{
    if (s->aborted) {
        return;
    }
    s->aborted = true;
    req_wait_unlink(&s->wait);
    if (s->reading) {
        offload_cancel(&s->job); /* read_done still comes, and releases the hold */
    }
    if ((s->state == SUB_STREAM || s->state == SUB_DEFER) && s->r.resp.stream &&
        s->r.resp.stream->abort) {
        s->r.resp.stream->abort(&s->r);
    }
    if (s->state != SUB_DONE) {
        s->state = SUB_DONE;
        if (!s->reading) {
            drop_pieces(s);
        }
    }
}
