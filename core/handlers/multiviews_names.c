/* multiviews_names.c - a directory's names for MultiViews, read off the workers (see .h). */
#include "core/handlers/multiviews_names.h"

#include "core/base/alloc.h"
#include "core/base/hash.h"
#include "core/base/lru.h"
#include "core/http/cache_fill.h"
#include "core/http/handler.h"
#include "core/io/loop.h"
#include "core/io/offload.h"
#include "log/errlog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MV_WORKERS 1025 /* worker ids are 1..1024 */
#define MV_BUCKETS 256
#define MV_DIRS_MAX 1024
#define MV_BYTES_MAX (16u << 20)
#define MV_NAMES_MAX 250000
#define MV_ROUNDS_MAX 4 /* as cache_fill.c: past this, read on the worker's thread */
#define MV_TAG_MAX 72   /* the directory's ETag: "ino-size-mtimens" in hex */

/* What the directory's cache entry said when the names were read: they are used while it
 * still says so. The ETag alone is not enough: `etag off` leaves it empty. */
struct mv_tag {
    int64_t mtime_ns;
    uint64_t size;
    uint8_t len;
    char etag[MV_TAG_MAX];
};

/* A directory's names, in the worker's cache (one allocation: this, the path, the names). */
struct mv_dir {
    struct lru_node node; /* in the worker's dirs (not the spare) */
    uint32_t root_id;
    struct mv_tag tag;
    size_t bytes;
    struct mv_names names;
    size_t path_len;
    char path[]; /* "/a/b/" + NUL, then the offsets, then the names */
};

/* A directory being read: the job on a helper and the requests waiting for it. */
struct mv_job {
    struct offload_job oj;
    struct mv_worker *w;
    struct mv_job *next;
    struct req_wait waiters;
    struct req_hold_ref hold; /* the request that started it */
    struct fs_root root;      /* a duplicate descriptor the job owns */
    uint64_t hash;
    uint32_t root_id;
    struct mv_tag tag;
    struct mv_dir *result; /* the helper's */
    size_t path_len;
    char path[]; /* "/a/b/" + NUL */
};

/* What a job that read nothing leaves for the requests it wakes. */
struct mv_handoff {
    const struct mv_job *job;
    int status;
};

struct mv_worker {
    struct lru dirs;
    struct lru_node *buckets[MV_BUCKETS];
    struct mv_dir *spare; /* the last result too large to keep, until the next one */
    struct mv_job *jobs;
    struct mv_handoff handoff;
};

/* Each worker's cache, made on its first MultiViews lookup, touched by that worker alone;
 * what is left at exit goes with the process. */
static struct mv_worker *mv_workers[MV_WORKERS];

/* ---------------------------------------------------------------- reading (a helper) */

struct grow {
    char *chars;
    size_t len, cap;
    uint32_t *off;
    uint32_t n, ncap;
};

static int grow_add(struct grow *g, const char *name)
{
    size_t k = strlen(name) + 1;
    if (g->len + k > g->cap) {
        size_t cap = MAX(g->cap * 2, g->len + k + 4096);
        char *p = sp_realloc(g->chars, cap);
        if (!p) {
            return -ENOMEM;
        }
        g->chars = p;
        g->cap = cap;
    }
    if (g->n == g->ncap) {
        uint32_t ncap = g->ncap ? g->ncap * 2 : 64;
        uint32_t *o = sp_realloc(g->off, ncap * sizeof(*o));
        if (!o) {
            return -ENOMEM;
        }
        g->off = o;
        g->ncap = ncap;
    }
    memcpy(g->chars + g->len, name, k);
    g->off[g->n++] = (uint32_t)g->len;
    g->len += k;
    return 0;
}

static int by_bytes(const void *a, const void *b, void *chars)
{
    const char *c = chars;
    return strcmp(c + *(const uint32_t *)a, c + *(const uint32_t *)b);
}

/* The names a variant may have: not hidden, a '.' after the first byte, not a directory. */
static bool candidate(const struct dirent *de)
{
    return de->d_name[0] != '.' && strchr(de->d_name + 1, '.') && de->d_type != DT_DIR;
}

static int read_dir(const struct fs_root *root, const char *path, struct grow *g)
{
    int fd = fs_open_beneath(root, path + 1, O_RDONLY | O_DIRECTORY);
    if (fd < 0) {
        return fd;
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = -errno;
        close(fd);
        return e;
    }
    int rc = 0;
    for (;;) {
        errno = 0;
        const struct dirent *de = readdir(d);
        if (!de) {
            rc = -errno;
            break;
        }
        if (!candidate(de)) {
            continue;
        }
        if (g->n == MV_NAMES_MAX) {
            rc = -EFBIG;
            break;
        }
        if ((rc = grow_add(g, de->d_name)) < 0) {
            break;
        }
    }
    closedir(d);
    return rc;
}

/* Reads and sorts the names of path beneath root into a new mv_dir (blocking). */
static int build_dir(const struct fs_root *root, const char *path, size_t path_len,
                     struct mv_dir **out)
{
    *out = NULL;
    struct grow g = {0};
    int rc = read_dir(root, path, &g);
    if (rc == 0) {
        qsort_r(g.off, g.n, sizeof(*g.off), by_bytes, g.chars);
        size_t bytes = sizeof(struct mv_dir) + ALIGN_UP(path_len + 1, sizeof(uint32_t)) +
                       g.n * sizeof(uint32_t) + g.len;
        struct mv_dir *d = sp_calloc(1, bytes);
        if (d) {
            memcpy(d->path, path, path_len + 1);
            d->path_len = path_len;
            uint32_t *off =
                (uint32_t *)(void *)(d->path + ALIGN_UP(path_len + 1, sizeof(uint32_t)));
            char *chars = (char *)(off + g.n);
            if (g.n) {
                memcpy(off, g.off, g.n * sizeof(*off));
                memcpy(chars, g.chars, g.len);
            }
            d->names = (struct mv_names){g.n, off, chars};
            d->bytes = bytes;
            *out = d;
        } else {
            rc = -ENOMEM;
        }
    }
    sp_free(g.chars);
    sp_free(g.off);
    return rc;
}

/* ---------------------------------------------------------------- the worker's cache */

static struct mv_worker *worker_state(const struct req *r)
{
    unsigned id = r->env->worker;
    if (id >= MV_WORKERS) {
        return NULL;
    }
    struct mv_worker *w = mv_workers[id];
    if (!w) {
        w = sp_calloc(1, sizeof(*w));
        if (!w) {
            return NULL;
        }
        lru_init(&w->dirs, w->buckets, MV_BUCKETS);
        mv_workers[id] = w;
    }
    return w;
}

static bool same_key(const struct mv_dir *d, uint32_t root_id, struct slice path)
{
    return d->root_id == root_id && d->path_len == path.len &&
           memcmp(d->path, path.ptr, path.len) == 0;
}

static bool same_tag(const struct mv_tag *a, const struct mv_tag *b)
{
    return a->mtime_ns == b->mtime_ns && a->size == b->size && a->len == b->len &&
           memcmp(a->etag, b->etag, a->len) == 0;
}

static struct mv_dir *dir_of(struct lru_node *n)
{
    return container_of(n, struct mv_dir, node);
}

static struct mv_dir *dir_find(struct mv_worker *w, uint64_t hash, uint32_t root_id,
                               struct slice path)
{
    for (struct lru_node *n = lru_first(&w->dirs, hash); n; n = lru_next(n)) {
        if (same_key(dir_of(n), root_id, path)) {
            return dir_of(n);
        }
    }
    return NULL;
}

static void dir_drop(struct mv_worker *w, struct mv_dir *d)
{
    lru_remove(&w->dirs, &d->node);
    sp_free(d);
}

/* Takes a fresh result (its key's hash) into the cache, the oldest out, or as the spare when
 * too large. */
static void dir_keep(struct mv_worker *w, struct mv_dir *d, uint64_t hash)
{
    struct mv_dir *old = dir_find(w, hash, d->root_id, slice_make(d->path, d->path_len));
    if (old) {
        dir_drop(w, old);
    }
    if (d->bytes > MV_BYTES_MAX / 4) {
        sp_free(w->spare); /* no lookup holds it past its own call */
        w->spare = d;
        return;
    }
    while (w->dirs.count &&
           (w->dirs.bytes + d->bytes > MV_BYTES_MAX || w->dirs.count >= MV_DIRS_MAX)) {
        dir_drop(w, dir_of(lru_oldest(&w->dirs)));
    }
    lru_insert(&w->dirs, &d->node, hash, d->bytes);
}

/* ---------------------------------------------------------------- jobs */

/* A read that failed: no variants (404), or 503 for what may pass (memory, descriptors). */
static int failed(const struct mv_job *j, int res)
{
    if (res == -EFBIG) {
        errlog(ERRLOG_WARN, "multiviews: \"%s\" has more than %u names: no variants read", j->path,
               MV_NAMES_MAX);
        return 404;
    }
    int st = res == -ECANCELED ? 503 : fs_status_for_errno(res);
    if (st >= 500 && res != -ECANCELED) {
        errlog(ERRLOG_ERROR, "multiviews: cannot read \"%s\": %s", j->path, strerror(-res));
    }
    return st >= 500 ? 503 : 404;
}

/* A directory that cannot be listed has no variants: kept as an empty list. */
static struct mv_dir *empty_dir(const struct mv_job *j)
{
    struct mv_dir *d = sp_calloc(1, sizeof(*d) + j->path_len + 1);
    if (d) {
        memcpy(d->path, j->path, j->path_len + 1);
        d->path_len = j->path_len;
        d->bytes = sizeof(*d) + j->path_len + 1;
    }
    return d;
}

/* Files the job's result (or its failure) under its key; the status for its waiters. */
static int job_settle(struct mv_worker *w, struct mv_job *j, int res)
{
    int st = res < 0 ? failed(j, res) : 0;
    if (st == 404) {
        j->result = empty_dir(j);
        st = j->result ? 0 : 503;
    }
    if (st == 0 && w) {
        struct mv_dir *d = j->result;
        j->result = NULL;
        d->root_id = j->root_id;
        d->tag = j->tag;
        dir_keep(w, d, j->hash);
    }
    return st;
}

static int job_run(struct offload_job *oj)
{
    struct mv_job *j = container_of(oj, struct mv_job, oj);
    return build_dir(&j->root, j->path, j->path_len, &j->result);
}

static void job_free(struct mv_job *j)
{
    sp_free(j->result);
    close(j->root.fd);
    sp_free(j);
}

static void job_done(struct offload_job *oj, int res)
{
    struct mv_job *j = container_of(oj, struct mv_job, oj);
    struct mv_worker *w = j->w;
    for (struct mv_job **pp = &w->jobs; *pp; pp = &(*pp)->next) {
        if (*pp == j) {
            *pp = j->next;
            break;
        }
    }
    w->handoff = (struct mv_handoff){j, job_settle(w, j, res)};
    struct req_wait *rw;
    while ((rw = j->waiters.next) != &j->waiters) {
        req_wait_unlink(rw);
        rw->wake(rw); /* dispatched again: finds the names (or the handoff's status) */
    }
    w->handoff.job = NULL;
    req_hold_end(j->hold);
    job_free(j);
}

static struct mv_job *job_new(const struct fs_root *root, uint64_t hash, uint32_t root_id,
                              struct slice path, const struct mv_tag *tag)
{
    struct mv_job *j = sp_calloc(1, sizeof(*j) + path.len + 1);
    if (!j) {
        return NULL;
    }
    /* its own descriptor: the configuration (and its roots) may go while the job runs */
    j->root.fd = fcntl(root->fd, F_DUPFD_CLOEXEC, 0);
    if (j->root.fd < 0) {
        sp_free(j);
        return NULL;
    }
    j->hash = hash;
    j->root_id = root_id;
    j->tag = *tag;
    memcpy(j->path, path.ptr, path.len);
    j->path_len = path.len;
    req_wait_list_init(&j->waiters);
    return j;
}

/* Reads on this thread (no helper can, or the request cannot wait any longer). */
static int read_now(struct mv_worker *w, struct mv_job *j, const struct mv_names **out)
{
    int res = build_dir(&j->root, j->path, j->path_len, &j->result);
    int st = job_settle(w, j, res);
    if (st == 0 && w) {
        struct mv_dir *d = dir_find(w, j->hash, j->root_id, slice_make(j->path, j->path_len));
        d = d ? d : w->spare;
        *out = &d->names;
    } else if (st == 0) {
        st = 503; /* no worker state to keep the names in: out of memory */
    }
    job_free(j);
    return st;
}

/* ---------------------------------------------------------------- lookups */

static int dir_tag(struct req *r, const struct fs_root *root, const struct fs_view *view,
                   struct slice fs_dir, struct mv_tag *tag)
{
    int st;
    struct fs_entry *de = http_file_get(r, root, view, fs_dir, &st);
    if (!de) {
        return st; /* HANDLER_LATER (being checked), or 503 */
    }
    if (de->kind != FS_DIR) {
        st = de->kind == FS_ERROR && de->status >= 500 ? de->status : 404;
        fs_entry_release(de);
        return st;
    }
    *tag = (struct mv_tag){de->mtime_ns, de->size, (uint8_t)MIN(de->etag.len, MV_TAG_MAX), {0}};
    memcpy(tag->etag, de->etag.ptr, tag->len);
    fs_entry_release(de);
    return 0;
}

int multiviews_names_get(struct req *r, const struct fs_root *root, const struct fs_view *view,
                         struct slice fs_dir, const struct mv_names **out)
{
    *out = NULL;
    if (fs_dir.len == 0 || fs_dir.ptr[0] != '/' || fs_dir.ptr[fs_dir.len - 1] != '/') {
        return 404;
    }
    struct mv_tag tag;
    int st = dir_tag(r, root, view, fs_dir, &tag);
    if (st) {
        return st;
    }
    uint64_t hash = hash_mix(hash_bytes(fs_dir.ptr, fs_dir.len), view->root_id);
    struct mv_worker *w = worker_state(r);
    if (w) {
        struct mv_dir *d = dir_find(w, hash, view->root_id, fs_dir);
        if (d && !same_tag(&d->tag, &tag)) {
            dir_drop(w, d); /* a name came, went or moved: read it again */
            d = NULL;
        }
        if (!d && w->spare && same_key(w->spare, view->root_id, fs_dir) &&
            same_tag(&w->spare->tag, &tag)) {
            d = w->spare;
        }
        if (d) {
            if (d != w->spare) {
                lru_touch(&w->dirs, &d->node);
            }
            *out = &d->names;
            return 0;
        }
        const struct mv_job *h = w->handoff.job;
        if (h && w->handoff.status && h->hash == hash && h->root_id == view->root_id &&
            h->path_len == fs_dir.len && memcmp(h->path, fs_dir.ptr, fs_dir.len) == 0) {
            return w->handoff.status; /* the read that woke this request failed */
        }
        for (struct mv_job *j = w->jobs; j && r->wait; j = j->next) {
            if (j->hash == hash && j->root_id == view->root_id && j->path_len == fs_dir.len &&
                memcmp(j->path, fs_dir.ptr, fs_dir.len) == 0) {
                req_wait_link(&j->waiters, r->wait);
                r->wait->rounds++;
                return HANDLER_LATER;
            }
        }
    }
    struct mv_job *j = job_new(root, hash, view->root_id, fs_dir, &tag);
    if (!j) {
        return 503;
    }
    if (!w || !r->wait || r->wait->rounds >= MV_ROUNDS_MAX) {
        return read_now(w, j, out);
    }
    j->w = w;
    offload_job_init(&j->oj, job_run, job_done);
    int rc = offload_submit(r->env->loop, &j->oj);
    if (rc == -ENOSYS) {
        return read_now(w, j, out); /* no helpers here (no ring, an old kernel) */
    }
    if (rc < 0) {
        job_free(j);
        return 503; /* the helpers' queue is full */
    }
    j->next = w->jobs;
    w->jobs = j;
    req_wait_link(&j->waiters, r->wait);
    r->wait->rounds++;
    /* the worker must not exit (and free nothing of this request) before the job is done */
    j->hold = req_hold_keep(r);
    return HANDLER_LATER;
}

uint32_t mv_names_range(const struct mv_names *d, struct slice prefix, uint32_t *end)
{
    uint32_t lo = 0, hi = d->n;
    while (lo < hi) { /* the first name >= prefix */
        uint32_t mid = lo + (hi - lo) / 2;
        struct slice s = mv_name(d, mid);
        int c = memcmp(s.ptr, prefix.ptr, MIN(s.len, prefix.len));
        if (c < 0 || (c == 0 && s.len < prefix.len)) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    uint32_t e = lo;
    while (e < d->n && slice_starts_with(mv_name(d, e), prefix)) {
        e++;
    }
    *end = e;
    return lo;
}

void multiviews_names_use(void)
{
    offload_use();
}

void multiviews_names_unuse(void)
{
    (void)offload_unuse();
}
