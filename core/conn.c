/* conn.c - the output queue of a connection (see conn.h). */
#include "core/conn.h"

#include "core/worker.h"

#include <string.h>

static struct out_state *out_get(struct conn *c)
{
    if (LIKELY(c->out != NULL)) {
        return c->out;
    }
    struct out_state *o = block_get(&c->w->out_pool);
    if (!o) {
        return NULL;
    }
    o->head = o->count = 0;
    o->rhead = o->rcount = 0;
    o->len = 0;
    o->scratch = 0;
    o->cap = (c->w->out_pool.size - (uint32_t)sizeof(struct out_state)) & ~7u;
    o->queued_pos = o->sent_pos = o->last_end = 0;
    c->out = o;
    return o;
}

bool out_has_room(struct conn *c, size_t bytes, unsigned segs)
{
    struct out_state *o = out_get(c);
    if (!o) {
        return false;
    }
    return o->cap - o->len - o->scratch >= bytes && OUT_SEGS - o->count >= segs &&
           o->rcount < OUT_RESPS;
}

char *out_reserve(struct conn *c, size_t n)
{
    struct out_state *o = out_get(c);
    if (!o || o->cap - o->len - o->scratch < n || o->count == OUT_SEGS) {
        return NULL;
    }
    return o->buf + o->len;
}

static struct out_seg *tail(struct out_state *o)
{
    return o->count ? &o->segs[(o->head + o->count - 1) % OUT_SEGS] : NULL;
}

static struct out_seg *push(struct out_state *o)
{
    ASSERT(o->count < OUT_SEGS);
    struct out_seg *s = &o->segs[(o->head + o->count) % OUT_SEGS];
    o->count++;
    return s;
}

void out_commit(struct conn *c, size_t n)
{
    struct out_state *o = c->out;
    const char *p = o->buf + o->len;
    o->len += (uint32_t)n;
    o->queued_pos += n;
    struct out_seg *t = tail(o);
    if (t && t->kind == SEG_MEM && !t->ref && t->ptr + t->len == p) {
        t->len += n; /* contiguous with the previous bytes: one iovec */
        return;
    }
    struct out_seg *s = push(o);
    s->kind = SEG_MEM;
    s->ptr = p;
    s->len = n;
    s->off = 0;
    s->ref = NULL;
}

void out_push_mem(struct conn *c, const char *ptr, size_t len, struct fs_entry *ref)
{
    struct out_state *o = out_get(c);
    if (len == 0) {
        return;
    }
    struct out_seg *s = push(o);
    s->kind = SEG_MEM;
    s->ptr = ptr;
    s->len = len;
    s->off = 0;
    s->ref = ref;
    if (ref) {
        fs_entry_ref(ref);
    }
    o->queued_pos += len;
}

void out_push_file(struct conn *c, struct fs_entry *ref, uint64_t off, uint64_t len)
{
    struct out_state *o = out_get(c);
    if (len == 0) {
        return;
    }
    struct out_seg *s = push(o);
    s->kind = SEG_FILE;
    s->ptr = NULL;
    s->len = len;
    s->off = off;
    s->ref = ref;
    fs_entry_ref(ref);
    o->queued_pos += len;
}

char *out_scratch(struct conn *c, size_t n)
{
    struct out_state *o = out_get(c);
    n = ALIGN_UP(n, (size_t)8);
    if (!o || o->cap - o->len - o->scratch < n) {
        return NULL;
    }
    o->scratch += (uint32_t)n;
    return o->buf + o->cap - o->scratch;
}

struct out_resp *out_end_response(struct conn *c, int status, bool close)
{
    struct out_state *o = out_get(c);
    ASSERT(o->rcount < OUT_RESPS);
    struct out_resp *r = &o->resps[(o->rhead + o->rcount) % OUT_RESPS];
    o->rcount++;
    r->end_pos = o->queued_pos;
    r->start_pos = o->last_end;
    o->last_end = o->queued_pos;
    r->status = status;
    r->close = close;
    r->head_len = 0;
    r->log_off = r->log_len = 0;
    r->log_server = 0;
    r->t_start_us = 0;
    return r;
}

void out_discard(struct conn *c)
{
    struct out_state *o = c->out;
    if (!o) {
        return;
    }
    while (o->count) {
        struct out_seg *s = &o->segs[o->head];
        if (s->ref) {
            fs_entry_release(c->w->fcache, s->ref);
        }
        o->head = (o->head + 1) % OUT_SEGS;
        o->count--;
    }
    block_put(&c->w->out_pool, o);
    c->out = NULL;
}
