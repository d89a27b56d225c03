/* report.c - the reporting handlers' buffer and figures (report.h). */
#include "core/handlers/report.h"

#include "core/base/alloc.h"
#include "core/conf/print.h"
#include "core/conf/values.h"
#include "core/http/latency.h"
#include "core/http/registry.h"
#include "core/http/respond.h"
#include "core/http/route.h"
#include "core/http/settings.h"
#include "core/http/worker.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------- the buffer */

static bool grow(struct rbuf *b, size_t more)
{
    if (b->oom) {
        return false;
    }
    if (b->len + more + 1 <= b->cap) {
        return true;
    }
    size_t cap = b->cap ? b->cap : 8192;
    while (cap < b->len + more + 1) {
        cap *= 2;
    }
    char *p = sp_realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void rb_put(struct rbuf *b, const char *s, size_t n)
{
    if (grow(b, n)) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = '\0';
    }
}

void rb_puts(struct rbuf *b, const char *s)
{
    rb_put(b, s, strlen(s));
}

void rb_printf(struct rbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
    } else if ((size_t)n < sizeof(small)) {
        rb_put(b, small, (size_t)n);
    } else if (grow(b, (size_t)n)) {
        va_start(ap, fmt);
        vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t)n;
    }
}

void rb_json_str(struct rbuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            rb_put(b, e, 2);
        } else if (c < 0x20 || c == 0x7f) {
            rb_printf(b, "\\u%04x", c);
        } else {
            rb_put(b, (const char *)&s[i], 1);
        }
    }
}

void rb_html(struct rbuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '<': rb_puts(b, "&lt;"); break;
        case '>': rb_puts(b, "&gt;"); break;
        case '&': rb_puts(b, "&amp;"); break;
        case '"': rb_puts(b, "&quot;"); break;
        case '\'': rb_puts(b, "&#39;"); break;
        default: rb_put(b, &s[i], 1);
        }
    }
}

struct rb_end {
    struct req_end end;
    char *p;
};

static void rb_free_at_end(struct req_end *e)
{
    struct rb_end *x = (struct rb_end *)e;
    sp_free(x->p);
    sp_free(x);
}

int rb_send(struct req *r, struct rbuf *b, const char *ctype, const char *vary)
{
    /* not in the arena: HTTP/1 resets it once the response is queued, before the end runs */
    struct rb_end *x = b->oom ? NULL : sp_malloc(sizeof(*x));
    if (!x) {
        sp_free(b->p);
        *b = (struct rbuf){0};
        return 500;
    }
    x->end = (struct req_end){rb_free_at_end, NULL};
    x->p = b->p;
    req_on_end(r, &x->end); /* from here the buffer is the request's */
    size_t len = b->len;
    const char *p = b->p ? b->p : "";
    *b = (struct rbuf){0};
    resp_begin(r, 200);
    if (resp_field(r, SLICE_LIT("Content-Type"), slice_make(ctype, strlen(ctype))) < 0 ||
        resp_field(r, SLICE_LIT("Cache-Control"), SLICE_LIT("no-store")) < 0 ||
        (vary && resp_field(r, SLICE_LIT("Vary"), slice_make(vary, strlen(vary))) < 0) ||
        (len && resp_body_mem(r, p, len, NULL) < 0)) {
        return 500;
    }
    return resp_send(r) < 0 ? -ENOMEM : 0;
}

/* ---------------------------------------------------------------- the figures */

const double report_pct[REPORT_NPCT] = {50, 90, 99, 99.9, 99.99};
const char *const report_pct_name[REPORT_NPCT] = {"50", "90", "99", "99.9", "99.99"};

static void add_stats(struct worker_stats *t, const struct worker_stats *s)
{
    /* every field after worker and cpu is a uint64_t: summed as an array */
    const size_t first = offsetof(struct worker_stats, requests);
    uint64_t *tv = (uint64_t *)((char *)t + first);
    const uint64_t *sv = (const uint64_t *)((const char *)s + first);
    for (size_t i = 0; i < (sizeof(*t) - first) / sizeof(uint64_t); i++) {
        tv[i] += sv[i];
    }
}

static struct hist_snap *snap_of(const struct hist *h)
{
    struct hist_snap *s = sp_malloc(sizeof(*s));
    if (s) {
        hist_snapshot(h, s);
    }
    return s;
}

static struct hist_snap *snap_zero(void)
{
    return sp_calloc(1, sizeof(struct hist_snap));
}

static int gather_locs(struct report *rep, const struct route_table *t)
{
    unsigned n = 0;
    for (unsigned s = 0; t && s < t->nservers; s++) {
        n += t->servers[s].self.lat != NULL;
        for (unsigned i = 0; i < t->servers[s].nlocs; i++) {
            n += t->servers[s].locs[i].lat != NULL;
        }
    }
    if (!n) {
        return 0;
    }
    if (!(rep->locs = sp_calloc(n, sizeof(*rep->locs)))) {
        return -ENOMEM;
    }
    struct hist_snap *one = sp_malloc(sizeof(*one));
    if (!one) {
        return -ENOMEM;
    }
    for (unsigned s = 0; s < t->nservers; s++) {
        const struct route_server *srv = &t->servers[s];
        for (unsigned i = 0; i <= srv->nlocs; i++) {
            const struct route_loc *l = i < srv->nlocs ? &srv->locs[i] : &srv->self;
            if (!l->lat) {
                continue;
            }
            struct report_loc *rl = &rep->locs[rep->nlocs++];
            rl->server = srv->nnames ? srv->names[0] : "";
            rl->location = l->prefix;
            if (!(rl->service = snap_zero())) {
                sp_free(one);
                return -ENOMEM;
            }
            for (unsigned w = 1; w <= rep->nworkers; w++) {
                const struct hist *h = loc_latency_hist(l->lat, w);
                if (h) {
                    hist_snapshot(h, one);
                    hist_merge(rl->service, one);
                }
            }
        }
    }
    sp_free(one);
    return 0;
}

int report_gather(struct report *rep, const struct req *r)
{
    memset(rep, 0, sizeof(*rep));
    const struct registry *g = &process_registry;
    rep->nworkers = g->nworkers;
    rep->gen = atomic_load_explicit(&g->gen, memory_order_relaxed);
    rep->reloads = atomic_load_explicit(&g->reloads, memory_order_relaxed);
    rep->reload_failed = atomic_load_explicit(&g->reload_failed, memory_order_relaxed);
    rep->draining = registry_draining();
    rep->started = (long long)g->started;
    rep->uptime_s = (long long)(r->env->loop->now_s - g->started);
    rep->latency = r->env->lat != NULL;
    if (rep->nworkers && !(rep->w = sp_calloc(rep->nworkers, sizeof(*rep->w)))) {
        return -ENOMEM;
    }
    if (rep->latency && (!(rep->total.service = snap_zero()) || !(rep->total.queue = snap_zero()))) {
        report_free(rep);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < rep->nworkers; i++) {
        const struct worker *w = &g->workers[i];
        struct report_worker *rw = &rep->w[i];
        worker_stats(w, &rw->s);
        add_stats(&rep->total.s, &rw->s);
        if (rep->latency) {
            if (!(rw->service = snap_of(&w->lat->service)) || !(rw->queue = snap_of(&w->lat->queue))) {
                report_free(rep);
                return -ENOMEM;
            }
            hist_merge(rep->total.service, rw->service);
            hist_merge(rep->total.queue, rw->queue);
        }
    }
    const struct route_table *t = NULL;
    if (r->env->worker >= 1 && r->env->worker <= rep->nworkers) {
        t = g->workers[r->env->worker - 1].h1.routes; /* the answering worker's own */
    }
    if (gather_locs(rep, t) < 0) {
        report_free(rep);
        return -ENOMEM;
    }
    return 0;
}

void report_free(struct report *rep)
{
    for (unsigned i = 0; rep->w && i < rep->nworkers; i++) {
        sp_free(rep->w[i].service);
        sp_free(rep->w[i].queue);
    }
    sp_free(rep->w);
    sp_free(rep->total.service);
    sp_free(rep->total.queue);
    for (unsigned i = 0; i < rep->nlocs; i++) {
        sp_free(rep->locs[i].service);
    }
    sp_free(rep->locs);
    memset(rep, 0, sizeof(*rep));
}

/* ---------------------------------------------------------------- `NAME;` */

static int on_parse(struct conf_parse *p, const struct conf_row *row, void *field, char **a,
                    unsigned n)
{
    if (n == 1 && strcmp(a[0], "on") != 0) {
        return conf_error(p, "%s takes no argument (or \"on\")", row->name);
    }
    *(bool *)field = true;
    return 0;
}

static void on_print(struct conf_out *o, const struct conf_row *row, const void *field)
{
    if (*(const bool *)field) {
        conf_out_begin(o, row->name);
        conf_out_end(o);
    }
}

/* size 0: set in the block that says it, never inherited (as `internal;`) */
const struct conf_type report_on_type = {"on", 0, on_parse, on_print, NULL};
