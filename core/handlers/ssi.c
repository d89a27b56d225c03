/* ssi.c - rendering SSI documents (see ssi.h). */
#include "core/handlers/ssi.h"

#include "core/base/alloc.h"
#include "core/handlers/ssi_cache.h"
#include "core/handlers/ssi_conf.h"
#include "core/handlers/ssi_expr.h"
#include "core/handlers/ssi_values.h"
#include "core/http/respond.h"
#include "core/http/subreq.h"
#include "core/http/vars.h"
#include "core/io/loop.h"
#include "core/io/offload.h"
#include "log/errlog.h"
#include "proto/uri.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define OUT_BUF 2048      /* text and values gathered into one chunk (larger writes go straight) */
#define CAPTURE_MAX 65536 /* include set=: the most kept of the output */
#define TIME_MAX 256      /* a formatted time */
#define LOAD_MAX (16u << 20) /* the largest document processed */
#define ERRMSG_DEFAULT "[an error occurred while processing the directive]"
#define ECHOMSG_DEFAULT "(none)"
#define TIMEFMT_DEFAULT "%A, %d-%b-%Y %H:%M:%S %Z"

struct var {
    struct var *next;
    struct slice name, value;
};

enum child_kind { CH_INCLUDE, CH_CAPTURE, CH_FACTS };

/* One document being rendered, in its request's arena. */
struct state {
    struct req *r;
    const struct ssi_conf *conf;
    struct ssi_tmpl *tp;
    uint32_t pc;       /* the next node */
    struct slice pend; /* what the current node writes */
    size_t pend_off;
    char *out; /* OUT_BUF: bytes gathered, not yet in the stream */
    size_t out_len;
    struct slice timefmt, errmsg, echomsg;
    uint8_t sizefmt;
    struct var *vars;
    struct ssi_vars vars_ops;
    struct slice uri;   /* the document's (decoded) URI */
    struct slice fpath; /* and its file, under root_id: loops are found by it */
    uint32_t root_id;
    time_t mtime;
    struct subreq *child;
    uint8_t child_kind;
    const struct ssi_node *child_node;
    struct subreq_result res;
    char *cap; /* CH_CAPTURE */
    size_t cap_len;
    bool aborted, ended;
    bool loading; /* the document is (was) read on the offload pool */
    struct offload_job job;
    struct fs_entry *load_e;
    char *load_buf;
    size_t load_len;
};

static const struct resp_stream_ops stream_ops;

static void render(struct state *st);

uint64_t ssi_parses(void)
{
    return ssi_cache_parses();
}

/* ---------------------------------------------------------------- output */

/* The gathered bytes into the stream. True when none is left. */
static bool flush(struct state *st)
{
    if (!st->out_len) {
        return true;
    }
    size_t w = resp_stream_write(st->r, st->out, st->out_len);
    if (w < st->out_len) {
        memmove(st->out, st->out + w, st->out_len - w);
        st->out_len -= w;
        return false; /* writable() comes when there is room */
    }
    st->out_len = 0;
    return true;
}

/* Takes what fits of n bytes (gathered, or straight into the stream when large). */
static size_t out_write(struct state *st, const char *p, size_t n)
{
    size_t took = 0;
    while (took < n) {
        if (st->out_len == OUT_BUF && !flush(st)) {
            break;
        }
        if (st->out_len == 0 && n - took >= OUT_BUF) {
            size_t w = resp_stream_write(st->r, p + took, n - took);
            took += w;
            if (took < n) {
                break;
            }
            continue;
        }
        size_t k = MIN(OUT_BUF - st->out_len, n - took);
        memcpy(st->out + st->out_len, p + took, k);
        st->out_len += k;
        took += k;
    }
    return took;
}

/* A directive failed: errmsg in its place (unless ssi_silent_errors). */
static void error(struct state *st, const char *why)
{
    errlog(ERRLOG_INFO, "ssi: %.*s: %s", (int)st->uri.len, st->uri.ptr, why);
    if (!st->conf->silent) {
        st->pend = st->errmsg;
    }
}

/* ---------------------------------------------------------------- values */

static struct slice fmt_time(struct state *st, time_t t, bool gmt)
{
    char fmt[TIME_MAX];
    size_t n = MIN(st->timefmt.len, sizeof(fmt) - 1);
    memcpy(fmt, st->timefmt.ptr, n);
    fmt[n] = '\0';
    struct tm tm;
    if (!(gmt ? gmtime_r(&t, &tm) : localtime_r(&t, &tm))) {
        return SLICE_NULL;
    }
    char *out = arena_alloc(st->r->arena, TIME_MAX);
    if (!out) {
        return SLICE_NULL;
    }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    size_t len = n ? strftime(out, TIME_MAX, fmt, &tm) : 0; /* the document's timefmt */
#pragma GCC diagnostic pop
    return slice_make(out, len);
}

static bool named(struct slice s, const char *w)
{
    size_t n = strlen(w);
    return s.len == n && !memcmp(s.ptr, w, n);
}

/* The document that includes st's (through subrequests), or NULL. */
static const struct state *includer(const struct state *st)
{
    for (const struct req *p = subreq_parent(st->r); p; p = subreq_parent(p)) {
        if (p->resp.stream == &stream_ops) {
            return p->resp.stream_arg;
        }
    }
    return NULL;
}

/* A variable: set by <!--#set --> here or in a document including this one, SSI's own, or the
 * request's (nginx's names). */
static bool lookup(void *arg, struct slice name, struct slice *out)
{
    struct state *st = arg;
    for (const struct state *d = st; d; d = includer(d)) {
        for (const struct var *v = d->vars; v; v = v->next) {
            if (v->name.len == name.len && !memcmp(v->name.ptr, name.ptr, name.len)) {
                *out = v->value;
                return true;
            }
        }
    }
    struct req *r = st->r;
    if (named(name, "DATE_LOCAL") || named(name, "DATE_GMT")) {
        *out = fmt_time(st, r->env->loop->now_s, named(name, "DATE_GMT"));
        return true;
    }
    if (named(name, "LAST_MODIFIED")) {
        *out = fmt_time(st, st->mtime, false);
        return true;
    }
    if (named(name, "DOCUMENT_URI")) {
        *out = st->uri;
        return true;
    }
    if (named(name, "DOCUMENT_NAME")) {
        const char *s = memrchr(st->fpath.ptr, '/', st->fpath.len);
        size_t k = s ? (size_t)(s + 1 - st->fpath.ptr) : 0;
        *out = slice_make(st->fpath.ptr + k, st->fpath.len - k);
        return true;
    }
    if (named(name, "QUERY_STRING_UNESCAPED")) {
        *out = ssi_unescape(r->arena, r->args);
        return true;
    }
    return r->msg && http_var_get(r, name, out);
}

static const struct ssi_vars *vars_of(struct state *st)
{
    st->vars_ops = (struct ssi_vars){lookup, st};
    return &st->vars_ops;
}

/* A parameter value longer than ssi_value_length. */
static bool too_long(const struct state *st, const struct ssi_node *nd)
{
    uint32_t m = st->conf->value_length;
    return nd->a.len > m || nd->b.len > m || nd->c.len > m;
}

/* ---------------------------------------------------------------- includes */

static size_t child_write(void *arg, const void *p, size_t n)
{
    struct state *st = arg;
    if (st->child_kind == CH_CAPTURE) {
        size_t k = MIN(n, CAPTURE_MAX - st->cap_len);
        memcpy(st->cap + st->cap_len, p, k);
        st->cap_len += k;
        return n; /* what is past CAPTURE_MAX is dropped */
    }
    return out_write(st, p, n);
}

/* The child's answer, now that it is complete. */
static void child_result(struct state *st)
{
    const struct ssi_node *nd = st->child_node;
    const struct subreq_result *res = &st->res;
    st->child = NULL;
    if (res->status < 200 || res->status > 299) {
        error(st, res->status ? "the include did not answer 2xx" : "the include failed");
        return;
    }
    if (st->child_kind == CH_CAPTURE) {
        struct var *v = arena_alloc(st->r->arena, sizeof(*v));
        if (!v) {
            error(st, "out of memory");
            return;
        }
        *v = (struct var){st->vars, nd->b, slice_make(st->cap, st->cap_len)};
        st->vars = v;
    } else if (st->child_kind == CH_FACTS) {
        if (!res->has_entity) {
            error(st, "not a file: its size and time are unknown");
        } else {
            st->pend = nd->op == SSI_FSIZE ? ssi_fmt_size(st->r->arena, st->sizefmt, res->size)
                                           : fmt_time(st, res->mtime, false);
        }
    }
}

static void child_done(void *arg)
{
    struct state *st = arg;
    if (st->res.cut) {
        /* part of the include went out and the rest never will: the page is cut with it */
        st->child = NULL;
        st->aborted = true;
        ssi_cache_put(st->tp);
        st->tp = NULL;
        resp_stream_abort(st->r); /* the request is over once this returns */
        return;
    }
    child_result(st);
    render(st);
}

static const struct subreq_ops child_ops = {child_write, child_done};

/* How deep r is in includes (0: the client's request). */
static unsigned depth_of(const struct req *r)
{
    unsigned d = 0;
    for (const struct req *p = subreq_parent(r); p; p = subreq_parent(p)) {
        d++;
    }
    return d;
}

/* The request target a directive names: virtual as written (relative to the document's
 * directory unless it starts with '/'), file relative to it and never with "..". */
static const char *target_of(struct state *st, const struct ssi_node *nd, struct slice *out)
{
    struct slice v;
    int rc = ssi_interp(nd->a, vars_of(st), st->r->arena, st->conf->value_length, &v);
    if (rc < 0) {
        return rc == -E2BIG ? "a value longer than ssi_value_length" : "out of memory";
    }
    bool file = nd->src == SSI_SRC_FILE;
    if (!v.len) {
        return "an empty file or virtual";
    }
    if (file) {
        if (v.ptr[0] == '/' || memchr(v.ptr, '\0', v.len) || memchr(v.ptr, '\\', v.len) ||
            (v.len >= 2 && !memcmp(v.ptr, "..", 2) && (v.len == 2 || v.ptr[2] == '/')) ||
            memmem(v.ptr, v.len, "/../", 4) ||
            (v.len >= 3 && !memcmp(v.ptr + v.len - 3, "/..", 3))) {
            return "file= must be a relative path without \"..\"";
        }
    } else if (v.ptr[0] == '/') {
        *out = v;
        return NULL;
    }
    const char *slash = memrchr(st->uri.ptr, '/', st->uri.len);
    struct slice dir = slice_make(st->uri.ptr, slash ? (size_t)(slash + 1 - st->uri.ptr) : 0);
    char *t = arena_alloc(st->r->arena, 3 * dir.len + 3 * v.len + 2);
    if (!t) {
        return "out of memory";
    }
    size_t n = uri_escape(t, dir, URI_ESC_PATH);
    if (!n || t[0] != '/') {
        t[0] = '/';
        n = 1;
    }
    if (file) {
        n += uri_escape(t + n, v, URI_ESC_PATH);
    } else {
        memcpy(t + n, v.ptr, v.len);
        n += v.len;
    }
    *out = slice_make(t, n);
    return NULL;
}

/* include, exec cgi, flastmod, fsize: a subrequest. */
static void start_child(struct state *st, const struct ssi_node *nd, enum child_kind kind)
{
    if (depth_of(st->r) + 1 > st->conf->max_depth) {
        error(st, "includes nested deeper than ssi_max_depth");
        return;
    }
    struct slice target;
    const char *why = target_of(st, nd, &target);
    if (why) {
        error(st, why);
        return;
    }
    if (kind == CH_CAPTURE && !st->cap && !(st->cap = arena_alloc(st->r->arena, CAPTURE_MAX))) {
        error(st, "out of memory");
        return;
    }
    st->cap_len = 0;
    st->child_kind = (uint8_t)kind;
    st->child_node = nd;
    struct subreq *child;
    int rc = subreq_start(st->r, target, kind == CH_FACTS ? SUBREQ_FACTS : 0, &child_ops, st,
                          &st->res, &child);
    if (rc < 0) {
        error(st, "out of memory");
    } else if (rc == 1) {
        child_result(st);
    } else {
        st->child = child;
    }
}

/* ---------------------------------------------------------------- directives */

/* if / elif at nd, false: the first branch after it whose condition holds, else past else. */
static int branch(struct state *st, const struct ssi_node *nd, bool *taken)
{
    *taken = false;
    if (!nd->expr) {
        error(st, nd->text.len ? "a bad expression" : "if without expr=");
        return 0;
    }
    return ssi_expr_eval(nd->expr, vars_of(st), st->r->arena, taken);
}

static int condition(struct state *st, const struct ssi_node *nd)
{
    const struct ssi_node *nodes = st->tp->t->nodes;
    for (;;) {
        bool taken;
        if (branch(st, nd, &taken) < 0) {
            return -ENOMEM;
        }
        if (taken) {
            return 0; /* st->pc is the node after nd */
        }
        uint32_t k = nd->next;
        st->pc = k + 1;
        if (nodes[k].op != SSI_ELIF) {
            return 0; /* into else, or past endif */
        }
        nd = &nodes[k];
    }
}

static void echo(struct state *st, const struct ssi_node *nd)
{
    struct slice v;
    if (!lookup(st, nd->a, &v)) {
        if (!nd->has_b) {
            st->pend = st->echomsg;
            return;
        }
        if (ssi_interp(nd->b, vars_of(st), st->r->arena, st->conf->value_length, &v) < 0) {
            error(st, "a default longer than ssi_value_length");
            return;
        }
    }
    st->pend = ssi_encode(st->r->arena, v, nd->enc);
}

static void set(struct state *st, const struct ssi_node *nd)
{
    struct slice v;
    int rc = ssi_interp(nd->b, vars_of(st), st->r->arena, st->conf->value_length, &v);
    struct var *x = rc == 0 ? arena_alloc(st->r->arena, sizeof(*x)) : NULL;
    if (!x) {
        error(st, rc == -E2BIG ? "a value longer than ssi_value_length" : "out of memory");
        return;
    }
    *x = (struct var){st->vars, nd->a, v};
    st->vars = x;
}

static void config(struct state *st, const struct ssi_node *nd)
{
    if (nd->has_a) {
        st->timefmt = nd->a;
    }
    if (nd->has_b) {
        st->errmsg = nd->b;
    }
    if (nd->has_c) {
        st->echomsg = nd->c;
    }
    if (nd->sizefmt) {
        st->sizefmt = nd->sizefmt;
    }
}

static int run_node(struct state *st, const struct ssi_node *nd)
{
    if (nd->op != SSI_TEXT && nd->op != SSI_ERROR && too_long(st, nd)) {
        error(st, "a value longer than ssi_value_length");
        return 0;
    }
    switch (nd->op) {
    case SSI_TEXT:
        st->pend = nd->text;
        break;
    case SSI_ERROR:
        error(st, nd->text.ptr);
        break;
    case SSI_ECHO:
        echo(st, nd);
        break;
    case SSI_SET:
        set(st, nd);
        break;
    case SSI_CONFIG:
        config(st, nd);
        break;
    case SSI_INCLUDE:
        start_child(st, nd, nd->has_b ? CH_CAPTURE : CH_INCLUDE);
        break;
    case SSI_FLASTMOD:
    case SSI_FSIZE:
        start_child(st, nd, CH_FACTS);
        break;
    case SSI_EXEC:
        if (!st->conf->exec) {
            error(st, "exec is off (ssi_exec)");
        } else if (nd->src == SSI_SRC_CMD) {
            error(st, "exec cmd= is not supported (no shell): use exec cgi=");
        } else {
            start_child(st, nd, CH_INCLUDE);
        }
        break;
    case SSI_IF:
    case SSI_ELIF:
        if (nd->op == SSI_ELIF) {
            st->pc = nd->end; /* reached from a branch that ran: past the rest */
            break;
        }
        return condition(st, nd);
    case SSI_ELSE:
        st->pc = nd->end;
        break;
    default: /* endif */
        break;
    }
    return 0;
}

/* ---------------------------------------------------------------- the page */

static void end(struct state *st)
{
    if (!flush(st)) {
        return; /* writable() comes back here */
    }
    st->ended = true;
    ssi_cache_put(st->tp);
    st->tp = NULL;
    if (resp_stream_end(st->r) < 0) {
        return; /* the connection is aborted: nothing more to do */
    }           /* the request may be over once this returns */
}

static void render(struct state *st)
{
    const struct ssi_template *t = st->tp->t;
    while (!st->aborted && !st->ended) {
        if (st->pend_off < st->pend.len) {
            st->pend_off += out_write(st, st->pend.ptr + st->pend_off, st->pend.len - st->pend_off);
            if (st->pend_off < st->pend.len) {
                return; /* writable() goes on */
            }
        }
        st->pend = SLICE_NULL;
        st->pend_off = 0;
        if (st->child) {
            return; /* child_done goes on */
        }
        if (st->pc >= t->n) {
            end(st);
            return;
        }
        if (run_node(st, &t->nodes[st->pc++]) < 0) {
            error(st, "out of memory");
        }
    }
}

static void writable(struct req *r)
{
    struct state *st = r->resp.stream_arg;
    if (st->aborted || st->ended || !flush(st)) {
        return;
    }
    if (st->child) {
        subreq_writable(st->child);
    } else {
        render(st);
    }
}

static void aborted(struct req *r)
{
    struct state *st = r->resp.stream_arg;
    if (st->aborted) {
        return;
    }
    st->aborted = true;
    if (st->child) {
        subreq_abort(st->child);
        st->child = NULL;
    }
    ssi_cache_put(st->tp);
    st->tp = NULL;
}

static const struct resp_stream_ops stream_ops = {writable, aborted};

/* r's document is one of the documents including it (through any chain): a loop. */
static bool is_loop(const struct req *r, uint32_t root_id, struct slice fpath)
{
    for (const struct req *p = subreq_parent(r); p; p = subreq_parent(p)) {
        const struct state *ps = p->resp.stream == &stream_ops ? p->resp.stream_arg : NULL;
        if (ps && ps->root_id == root_id && ps->fpath.len == fpath.len &&
            !memcmp(ps->fpath.ptr, fpath.ptr, fpath.len)) {
            return true;
        }
    }
    return false;
}

/* The page's head, then its body as far as it goes now. */
static int begin(struct state *st, struct fs_entry *e)
{
    struct req *r = st->r;
    /* a client's request: its head is copied (resp_defer does) so variables read it later */
    if (!st->loading && !subreq_parent(r) && r->msg && resp_defer(r, &stream_ops, st) < 0) {
        ssi_cache_put(st->tp);
        return 500;
    }
    resp_begin(r, 200);
    resp_entity(r, e, RESP_ENT_TYPE);
    if ((st->conf->last_modified && e->last_modified.len &&
         resp_field(r, SLICE_LIT("Last-Modified"), e->last_modified) < 0) ||
        resp_stream(r, &stream_ops, st) < 0) {
        ssi_cache_put(st->tp);
        st->tp = NULL;
        return -ENOMEM;
    }
    if (r->head_only) {
        end(st); /* HEAD: the head a GET gets, no include runs */
        return 0;
    }
    render(st);
    return 0;
}

/* ---------------------------------------------------------------- a document not in memory */

static int load_run(struct offload_job *j)
{
    struct state *st = container_of(j, struct state, job);
    size_t got = 0;
    while (got < st->load_len) {
        ssize_t n = pread(st->load_e->fd, st->load_buf + got, st->load_len - got, (off_t)got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? -errno : -EIO; /* shorter than its size: changed under us */
        }
        got += (size_t)n;
    }
    return 0;
}

static void load_done(struct offload_job *j, int res)
{
    struct state *st = container_of(j, struct state, job);
    struct req *r = st->r;
    struct fs_entry *e = st->load_e;
    if (!st->aborted && res == 0) {
        st->tp = ssi_cache_add(e, st->load_buf, st->load_len);
    }
    sp_free(st->load_buf);
    st->load_buf = NULL;
    if (!st->aborted) {
        int rc = st->tp ? begin(st, e) : 500;
        if (rc > 0) {
            errlog(ERRLOG_ERROR, "ssi: \"%.*s\" could not be read (%d)", (int)st->uri.len,
                   st->uri.ptr, res);
            st->ended = true;
            if (resp_error(r, rc) < 0) {
                errlog(ERRLOG_ERROR, "ssi: out of memory answering");
            }
        }
    }
    fs_entry_release(e);
    req_unhold(r); /* may free the connection, and st with its arena: the last thing here */
}

static void load_abort(struct req *r)
{
    struct state *st = r->resp.stream_arg;
    st->aborted = true; /* load_done cleans up */
    offload_cancel(&st->job);
}

static const struct resp_stream_ops load_ops = {NULL, load_abort};

/* A document larger than the cache keeps in memory: read on the offload pool, then kept
 * parsed like the others (so this happens once per change of the file). */
static int load(struct state *st, struct fs_entry *e)
{
    struct req *r = st->r;
    if (e->fd < 0 || e->size > LOAD_MAX) {
        errlog(ERRLOG_ERROR, "ssi: \"%.*s\" is larger than %u bytes: not processed",
               (int)st->uri.len, st->uri.ptr, LOAD_MAX);
        return 500;
    }
    st->load_len = (size_t)e->size;
    st->load_buf = sp_malloc(st->load_len ? st->load_len : 1);
    if (!st->load_buf || resp_defer(r, &load_ops, st) < 0) {
        sp_free(st->load_buf);
        return 500;
    }
    offload_job_init(&st->job, load_run, load_done);
    st->loading = true;
    st->load_e = e; /* before the submit: a helper may run the job at once */
    if (offload_submit(r->env->loop, &st->job) < 0) {
        sp_free(st->load_buf);
        st->load_buf = NULL;
        return 503;
    }
    fs_entry_ref(e);
    req_hold(r);
    return 0;
}

int ssi_serve(struct req *r, struct fs_entry *e, const struct http_root *root, struct slice fpath)
{
    const struct ssi_conf *c = ssi_conf_of(r);
    if (is_loop(r, root->id, fpath)) {
        errlog(ERRLOG_ERROR, "ssi: \"%.*s\" includes itself", (int)r->path.len, r->path.ptr);
        return 500;
    }
    struct state *st = arena_alloc(r->arena, sizeof(*st));
    char *fp = arena_memdup(r->arena, fpath.ptr, fpath.len);
    char *out = arena_alloc(r->arena, OUT_BUF);
    if (!st || !fp || !out) {
        return 500;
    }
    memset(st, 0, sizeof(*st));
    st->r = r;
    st->conf = c;
    st->out = out;
    st->timefmt = SLICE_LIT(TIMEFMT_DEFAULT);
    st->errmsg = SLICE_LIT(ERRMSG_DEFAULT);
    st->echomsg = SLICE_LIT(ECHOMSG_DEFAULT);
    st->sizefmt = SSI_SIZEFMT_ABBREV; /* Apache's default */
    st->uri = r->path;
    st->fpath = slice_make(fp, fpath.len);
    st->root_id = root->id;
    st->mtime = e->mtime;
    st->tp = ssi_cache_find(e);
    if (!st->tp && !e->body) {
        return load(st, e);
    }
    if (!st->tp && !(st->tp = ssi_cache_add(e, e->body, (size_t)e->size))) {
        return 500;
    }
    return begin(st, e);
}
