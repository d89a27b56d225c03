/* cache_fill.c - file-cache fills through the ring (see cache_fill.h). */
#include "core/http/cache_fill.h"

#include "core/base/alloc.h"
#include "core/http/handler.h"
#include "core/io/loop.h"

#include <fcntl.h>
#include <string.h>

/* A request waiting this many times in a row is answered on the thread: see cache_fill.h. */
#define ROUNDS_MAX 4
#define BUCKETS 256

enum stage { QUEUED, OPENING, READING };

struct fill {
    struct io_op op;
    struct cache_fills *set;
    struct fill *hnext, **hprev; /* in the set's table (joinable) */
    struct fill *qnext;          /* in the queue, while QUEUED */
    struct req_wait waiters;     /* list head */
    const struct fs_root *root;
    struct fs_entry *stale; /* a recheck: the entry checked, referenced; NULL: a load */
    struct fs_fill f;
    struct open_how how; /* read by the kernel at submit */
    uint64_t hash;
    struct fs_view view;
    uint8_t stage;
    uint16_t path_len;
    char path[]; /* "/...", NUL-terminated */
};

struct cache_fills {
    struct io_loop *loop;
    struct fs_cache *cache;
    unsigned max, running, total;
    struct fill *qhead, **qtail;
    struct fill *buckets[BUCKETS];
};

struct cache_fills *cache_fills_new(struct io_loop *l, struct fs_cache *c, unsigned max)
{
    struct cache_fills *s = sp_calloc(1, sizeof(*s));
    if (!s) {
        return NULL;
    }
    s->loop = l;
    s->cache = c;
    s->max = max ? max : 1;
    s->qtail = &s->qhead;
    return s;
}

bool cache_fills_idle(const struct cache_fills *s)
{
    return !s || s->total == 0;
}

void cache_fills_free(struct cache_fills *s)
{
    sp_free(s);
}

static struct fill *find(struct cache_fills *s, uint64_t hash, const struct fs_view *v,
                         struct slice path)
{
    for (struct fill *f = s->buckets[hash % BUCKETS]; f; f = f->hnext) {
        if (f->hash == hash && f->view.root_id == v->root_id && f->view.enc == v->enc &&
            f->view.typing == v->typing && f->path_len == path.len &&
            memcmp(f->path, path.ptr, path.len) == 0) {
            return f;
        }
    }
    return NULL;
}

static void unhash(struct fill *f)
{
    if (f->hprev) {
        *f->hprev = f->hnext;
        if (f->hnext) {
            f->hnext->hprev = f->hprev;
        }
        f->hprev = NULL;
    }
}

static void on_done(struct io_op *op, int res, unsigned flags);

static void submit_open(struct fill *f)
{
    struct cache_fills *s = f->set;
    f->stage = OPENING;
    f->how = fs_open_how(f->stale ? O_PATH : O_RDONLY | O_NONBLOCK);
    io_openat2(s->loop, &f->op, f->root->fd, f->path_len > 1 ? f->path + 1 : ".", &f->how);
}

static void start_queued(struct cache_fills *s)
{
    while (s->qhead && s->running < s->max) {
        struct fill *f = s->qhead;
        s->qhead = f->qnext;
        if (!s->qhead) {
            s->qtail = &s->qhead;
        }
        s->running++;
        submit_open(f);
    }
}

/* The fill ended: its answer is in the cache (or handed off); wake who waited, then go. */
static void finish(struct fill *f)
{
    struct cache_fills *s = f->set;
    unhash(f);
    s->running--;
    fs_cache_handoff(s->cache, f->f.e);
    struct req_wait *w;
    while ((w = f->waiters.next) != &f->waiters) {
        req_wait_unlink(w);
        w->wake(w); /* dispatches the request again: it may start fills of its own */
    }
    fs_cache_handoff(s->cache, NULL);
    if (f->f.e) {
        fs_entry_release(f->f.e);
    }
    if (f->stale) {
        fs_entry_release(f->stale);
    }
    s->total--;
    sp_free(f);
    start_queued(s);
}

static void on_done(struct io_op *op, int res, unsigned flags)
{
    (void)flags;
    struct fill *f = container_of(op, struct fill, op);
    struct cache_fills *s = f->set;
    uint64_t now = s->loop->now_ms;
    struct slice path = slice_make(f->path, f->path_len);
    if (f->stage == OPENING && f->stale) {
        enum fs_recheck rc = fs_recheck_done(s->cache, f->stale, res, now);
        if (res >= 0) {
            io_close(s->loop, res);
        }
        fs_entry_release(f->stale);
        f->stale = NULL;
        if (rc == FS_RECHECK_CHANGED) {
            fs_cache_count_miss(s->cache, false);
            submit_open(f); /* the file changed: load it in the same fill */
            return;
        }
        finish(f);
        return;
    }
    if (f->stage == OPENING) {
        if (fs_fill_opened(s->cache, &f->view, path, f->hash, res, now, &f->f) ==
            FS_FILL_READ) {
            f->stage = READING;
            io_read(s->loop, &f->op, f->f.fd, f->f.dst, (unsigned)f->f.len, 0);
            return;
        }
    } else {
        fs_fill_read_done(s->cache, &f->f, res, now);
    }
    if (f->f.fd >= 0) {
        io_close(s->loop, f->f.fd);
        f->f.fd = -1;
    }
    finish(f);
}

static struct fill *start(struct cache_fills *s, const struct fs_root *root,
                          const struct fs_view *v, struct slice path, uint64_t hash,
                          struct fs_entry *stale)
{
    struct fill *f = sp_malloc(sizeof(*f) + path.len + 1);
    if (!f) {
        return NULL;
    }
    memset(f, 0, sizeof(*f));
    io_op_init(&f->op, on_done);
    f->set = s;
    f->root = root;
    f->view = *v;
    f->hash = hash;
    f->f.fd = -1;
    f->path_len = (uint16_t)path.len;
    memcpy(f->path, path.ptr, path.len);
    f->path[path.len] = '\0';
    req_wait_list_init(&f->waiters);
    if (stale) {
        fs_entry_ref(stale); /* it may leave the cache while the check is in flight */
        f->stale = stale;
    }
    fs_cache_count_miss(s->cache, stale != NULL);
    struct fill **b = &s->buckets[hash % BUCKETS];
    f->hnext = *b;
    if (*b) {
        (*b)->hprev = &f->hnext;
    }
    f->hprev = b;
    *b = f;
    s->total++;
    f->stage = QUEUED;
    *s->qtail = f;
    s->qtail = &f->qnext;
    start_queued(s);
    return f;
}

struct fs_entry *http_file_get(struct req *r, const struct fs_root *root, const struct fs_view *v,
                               struct slice path, int *status)
{
    struct http_env *env = r->env;
    struct cache_fills *s = env->fills;
    struct fs_entry *e;
    *status = 503;
    if (!s || !r->wait || r->wait->rounds >= ROUNDS_MAX || path.len == 0 || path.ptr[0] != '/' ||
        path.len > UINT16_MAX) {
        return fs_cache_get_view(env->fcache, root, v, path, env->loop->now_ms);
    }
    uint64_t hash;
    struct fs_entry *stale;
    e = fs_cache_find(env->fcache, v, path, env->loop->now_ms, &hash, &stale);
    if (e) {
        return e;
    }
    struct fill *f = find(s, hash, v, path);
    if (!f) {
        f = start(s, root, v, path, hash, stale);
        if (!f) {
            return fs_cache_get_view(env->fcache, root, v, path, env->loop->now_ms);
        }
    }
    req_wait_link(&f->waiters, r->wait);
    r->wait->rounds++;
    *status = HANDLER_LATER;
    return NULL;
}
