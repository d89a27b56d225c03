/* cache_fill.c - file-cache fills through the ring (see cache_fill.h). */
#include "core/http/cache_fill.h"

#include "core/base/alloc.h"
#include "core/http/handler.h"
#include "core/io/loop.h"
#include "core/io/offload.h"
#include "fs/etag_content.h"
#include "fs/magic.h"

#include <errno.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <string.h>

/* A request waiting this many times in a row is answered on the thread: see cache_fill.h. */
#define ROUNDS_MAX 4
#define BUCKETS 256

enum stage { QUEUED, OPENING, READING, SNIFFING };

struct fill {
    struct io_op op;
    struct cache_fills *set;
    struct fill *hnext, **hprev; /* in the set's table (joinable) */
    struct fill *qnext;          /* in the queue, while QUEUED */
    struct req_wait waiters;     /* list head */
    const struct fs_root *root;
    struct fs_entry *stale; /* a recheck: the entry checked, referenced; NULL: a load */
    struct fs_fill f;
    struct offload_job oj; /* SNIFFING: libmagic on a helper thread */
    char magic[FS_TYPE_MAX]; /* its answer ("" for none) */
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

/* ---------------------------------------------------------------- off the worker */

/*
 * libmagic costs from 14 us (a PNG) to over a millisecond (plain text) per look: on a
 * helper thread, so the worker keeps answering meanwhile. Its answer is copied here,
 * where the worker reads it once the job is done.
 */
static int sniff_run(struct offload_job *j)
{
    struct fill *f = container_of(j, struct fill, oj);
    const char *m = f->f.len ? fs_magic_type(f->f.dst, f->f.len) : NULL;
    size_t n = m ? strlen(m) : 0;
    if (n >= sizeof(f->magic)) {
        n = 0;
    }
    memcpy(f->magic, m ? m : "", n);
    f->magic[n] = '\0';
    return 0;
}

static void end_fill(struct fill *f);

static void sniff_done(struct offload_job *j, int res)
{
    struct fill *f = container_of(j, struct fill, oj);
    fs_fill_sniffed(f->set->cache, &f->f, res == 0 && f->magic[0] ? f->magic : NULL);
    end_fill(f);
}

/* A content ETag for a large file (fs_entry etag_wanted): hashed on a helper thread. */
struct etag_job {
    struct offload_job oj;
    struct cache_fills *set;
    struct fs_entry *e; /* referenced: its descriptor stays open while the job reads it */
    uint64_t size;
    int64_t mtime_ns, ctime_ns;
    char etag[FS_ETAG_CONTENT_LEN];
};

static int etag_run(struct offload_job *j)
{
    struct etag_job *k = container_of(j, struct etag_job, oj);
    int fd = k->e->fd;
    /* the attribute a previous run left says it without reading the file again */
    if (fs_etag_xattr_get(fd, k->size, k->mtime_ns, k->etag) == 0) {
        return 0;
    }
    int rc = fs_etag_content_fd(fd, k->size, k->etag);
    if (rc < 0) {
        return rc;
    }
    struct stat st;
    if (fs_etag_xattr_set(fd, k->size, k->mtime_ns, k->etag) == 0 && fstat(fd, &st) == 0 &&
        (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec == k->mtime_ns) {
        /* writing the attribute moved the ctime: the cache must not take it for a change */
        k->ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
    }
    return 0;
}

static void etag_done(struct offload_job *j, int res)
{
    struct etag_job *k = container_of(j, struct etag_job, oj);
    struct cache_fills *s = k->set;
    if (res == 0) {
        fs_entry_set_etag(s->cache, k->e, slice_make(k->etag, FS_ETAG_CONTENT_LEN), k->size,
                          k->mtime_ns, k->ctime_ns);
    }
    k->e->etag_hashing = false; /* a failure (the file changed): a later hit tries again */
    fs_entry_release(k->e);
    sp_free(k);
    s->total--;
}

/* e wants a content ETag it does not have: start its hash, unless one runs already. */
static void want_etag(struct cache_fills *s, struct fs_entry *e)
{
    if (e->etag_hashing || e->kind != FS_FILE || e->fd < 0) {
        return;
    }
    struct etag_job *k = sp_calloc(1, sizeof(*k));
    if (!k) {
        return;
    }
    k->set = s;
    k->e = e;
    k->size = e->size;
    k->mtime_ns = e->mtime_ns;
    offload_job_init(&k->oj, etag_run, etag_done);
    if (offload_submit(s->loop, &k->oj) < 0) {
        sp_free(k); /* the helpers are busy or absent: the inode ETag stays for now */
        return;
    }
    fs_entry_ref(e);
    e->etag_hashing = true;
    s->total++; /* the worker does not exit while a job holds one of its entries */
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
    } else if (fs_fill_read_done(s->cache, &f->f, res, now) == FS_FILL_SNIFF) {
        f->stage = SNIFFING;
        offload_job_init(&f->oj, sniff_run, sniff_done);
        if (offload_submit(s->loop, &f->oj) == 0) {
            return;
        }
        sniff_run(&f->oj); /* no helper to take it: here, once */
        sniff_done(&f->oj, 0);
        return;
    }
    end_fill(f);
}

static void end_fill(struct fill *f)
{
    if (f->f.fd >= 0) {
        io_close(f->set->loop, f->f.fd);
        f->f.fd = -1;
    }
    if (f->f.e && f->f.e->etag_wanted) {
        want_etag(f->set, f->f.e);
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
        if (UNLIKELY(e->etag_wanted)) {
            want_etag(s, e); /* loaded while the helpers were busy, or on the thread */
        }
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
