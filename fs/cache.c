/* cache.c - see cache.h. */
#include "fs/cache.h"

#include "core/base/alloc.h"
#include "core/base/hash.h"
#include "fs/entry.h"
#include "fs/sketch.h"
#include "fs/magic.h"
#include "fs/types.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fs_cache {
    struct fs_cache_limits lim;
    struct fs_cache_hooks hooks;
    struct fs_entry **buckets;
    uint32_t mask;
    struct fs_entry lru; /* sentinel: lru._next is the most recent */
    uint32_t nentries;
    uint32_t nfds;
    uint64_t nbytes;
    struct fs_cache_stats st;
    /*
     * Admission (TinyLFU): once the cache is full, every lookup counts its key in a count-min
     * sketch (fs/sketch.h), and a new entry is kept only if its count beats the one it would
     * evict. Until the cache first fills, the sketch is not touched.
     */
    struct fs_sketch sketch; /* fs/sketch.h; its table allocated when the cache first fills */
    bool full;
    /* the entry a fill just finished, kept out by admission: found by the lookups of the
     * requests that waited for it (fs_cache_handoff), while they are woken */
    struct fs_entry *handoff;
};

static uint64_t typing_id(const struct fs_view *v)
{
    return v->typing ? v->typing->id : 0;
}

/* The key of path seen through v: the default view hashes as a bare (root, path) does. */
static uint64_t key_hash(const struct fs_view *v, struct slice path)
{
    uint64_t h = hash_mix(hash_bytes(path.ptr, path.len), v->root_id);
    uint64_t t = typing_id(v);
    return (t | v->enc) ? hash_mix(h, t ^ v->enc) : h;
}

static bool key_eq(const struct fs_entry *e, uint64_t hash, const struct fs_view *v,
                   struct slice path)
{
    return e->_hash == hash && e->_root_id == v->root_id && e->_path_len == path.len &&
           e->_typing_id == typing_id(v) && e->_enc == v->enc &&
           memcmp(e->_path, path.ptr, path.len) == 0;
}

static void lru_unlink(struct fs_entry *e)
{
    e->_prev->_next = e->_next;
    e->_next->_prev = e->_prev;
}

static void lru_push_front(struct fs_cache *c, struct fs_entry *e)
{
    e->_next = c->lru._next;
    e->_prev = &c->lru;
    c->lru._next->_prev = e;
    c->lru._next = e;
}

struct fs_cache *fs_cache_new(const struct fs_cache_limits *lim, const struct fs_cache_hooks *hooks)
{
    struct fs_cache *c = sp_calloc(1, sizeof(*c));
    if (!c) {
        return NULL;
    }
    c->lim = *lim;
    if (hooks) {
        c->hooks = *hooks;
    }
    uint32_t n = 256;
    c->buckets = sp_calloc(n, sizeof(*c->buckets));
    if (!c->buckets) {
        sp_free(c);
        return NULL;
    }
    c->mask = n - 1;
    c->lru._next = c->lru._prev = &c->lru;
    return c;
}

static void entry_free(struct fs_entry *e)
{
    if (e->fd >= 0) {
        close(e->fd);
    }
    sp_free(e);
}

/* Removes e from the table and the LRU; frees it unless a sender still holds it. */
static void detach(struct fs_cache *c, struct fs_entry *e)
{
    if (!e->_linked) {
        return;
    }
    struct fs_entry **pp = &c->buckets[e->_hash & c->mask];
    while (*pp != e) {
        pp = &(*pp)->_hnext;
    }
    *pp = e->_hnext;
    lru_unlink(e);
    e->_linked = false;
    c->nentries--;
    c->nbytes -= e->_bytes;
    if (e->fd >= 0) {
        c->nfds--;
    }
    if (e->_refs == 0) {
        entry_free(e);
    }
}

void fs_cache_clear(struct fs_cache *c)
{
    struct fs_entry *e = c->lru._prev;
    while (e != &c->lru) {
        struct fs_entry *prev = e->_prev;
        detach(c, e);
        e = prev;
    }
}

void fs_cache_free(struct fs_cache *c)
{
    if (!c) {
        return;
    }
    fs_cache_clear(c);
    fs_sketch_free(&c->sketch);
    sp_free(c->buckets);
    sp_free(c);
}

struct fs_entry *fs_entry_new_body(size_t len)
{
    struct fs_entry *e = sp_calloc(1, sizeof(*e) + len + 1);
    if (!e) {
        return NULL;
    }
    e->kind = FS_FILE;
    e->fd = -1;
    e->size = len;
    e->body = (char *)(e + 1);
    e->_bytes = sizeof(*e) + len;
    e->_refs = 1;
    return e;
}

void fs_entry_release(struct fs_entry *e)
{
    ASSERT(e->_refs > 0);
    if (--e->_refs == 0 && !e->_linked) {
        entry_free(e);
    }
}

void fs_cache_get_stats(const struct fs_cache *c, struct fs_cache_stats *out)
{
    *out = c->st;
    out->entries = c->nentries;
    out->fds = c->nfds;
    out->bytes = c->nbytes;
}

static void grow_table(struct fs_cache *c)
{
    uint32_t n = (c->mask + 1) * 2;
    struct fs_entry **nb = sp_calloc(n, sizeof(*nb));
    if (!nb) {
        return; /* keep the smaller table; chains just get longer */
    }
    for (uint32_t i = 0; i <= c->mask; i++) {
        struct fs_entry *e = c->buckets[i];
        while (e) {
            struct fs_entry *next = e->_hnext;
            e->_hnext = nb[e->_hash & (n - 1)];
            nb[e->_hash & (n - 1)] = e;
            e = next;
        }
    }
    sp_free(c->buckets);
    c->buckets = nb;
    c->mask = n - 1;
}

/* ---------------------------------------------------------------- admission */

static void sketch_start(struct fs_cache *c)
{
    if (c->sketch.v || c->full) {
        return;
    }
    c->full = true;
    /* two counters per entry that fit: what filled it is the measure (a byte budget can fill
     * a cache long before its entry limit) */
    if (fs_sketch_start(&c->sketch, 2 * c->nentries) < 0) {
        return;
    }
    /* what filled the cache was wanted at least once: a newcomer must have been wanted more */
    for (struct fs_entry *e = c->lru._next; e != &c->lru; e = e->_next) {
        fs_sketch_add(&c->sketch, e->_hash);
    }
}

/* Should e take the place of the least recently used entry (the cache is full)? */
static bool admit(struct fs_cache *c, const struct fs_entry *e)
{
    struct fs_entry *victim = c->lru._prev;
    if (!c->sketch.v || victim == &c->lru) {
        return true;
    }
    return fs_sketch_estimate(&c->sketch, e->_hash) > fs_sketch_estimate(&c->sketch, victim->_hash);
}

/* Entries looked at from the LRU end for one holding a descriptor, when only fds are short. */
#define FD_SCAN_MAX 64

/*
 * Evicts least recently used entries until one more of `bytes` (and an fd) fits. When only
 * descriptors are short, entries without one are passed over, but only FD_SCAN_MAX of them:
 * a cache of many small files and a few large ones must not walk its whole list per insert.
 */
static void make_room(struct fs_cache *c, uint64_t bytes, bool needs_fd)
{
    struct fs_entry *e = c->lru._prev;
    unsigned passed = 0;
    while (e != &c->lru &&
           (c->nentries + 1 > c->lim.max_entries || c->nbytes + bytes > c->lim.max_bytes ||
            (needs_fd && c->nfds + 1 > c->lim.max_fds))) {
        struct fs_entry *prev = e->_prev;
        bool other_pressure =
            c->nentries + 1 > c->lim.max_entries || c->nbytes + bytes > c->lim.max_bytes;
        if (other_pressure || e->fd >= 0) {
            detach(c, e);
            c->st.evictions++;
        } else if (++passed > FD_SCAN_MAX) {
            break; /* insert() then serves the newcomer uncached */
        }
        e = prev;
    }
}

/* Must an entry go for e to fit (descriptors aside: they evict only entries holding one)? */
static bool must_make_room(const struct fs_cache *c, const struct fs_entry *e)
{
    return c->nentries + 1 > c->lim.max_entries || c->nbytes + e->_bytes > c->lim.max_bytes;
}

static void insert(struct fs_cache *c, struct fs_entry *e)
{
    if (must_make_room(c, e)) {
        sketch_start(c);
        if (!admit(c, e)) {
            c->st.rejected++;
            return; /* served once, then freed: the hotter entries stay */
        }
    }
    make_room(c, e->_bytes, e->fd >= 0);
    if (c->nentries + 1 > c->lim.max_entries || c->nbytes + e->_bytes > c->lim.max_bytes ||
        (e->fd >= 0 && c->nfds + 1 > c->lim.max_fds)) {
        return; /* too big to cache at all (or no descriptor to spare): serve it uncached */
    }
    if (c->nentries >= (c->mask + 1) && c->mask < (1u << 24)) {
        grow_table(c);
    }
    struct fs_entry **b = &c->buckets[e->_hash & c->mask];
    e->_hnext = *b;
    *b = e;
    lru_push_front(c, e);
    e->_linked = true;
    c->nentries++;
    c->nbytes += e->_bytes;
    if (e->fd >= 0) {
        c->nfds++;
    }
}

static uint64_t ttl_of(const struct fs_cache *c, const struct fs_entry *e);

/* e was checked (or loaded) at now: fresh until its interval has passed. */
static void checked_at(const struct fs_cache *c, struct fs_entry *e, uint64_t now)
{
    e->_checked_ms = now;
    e->_due_ms = now + ttl_of(c, e); /* computed here, so that a hit divides nothing */
}

static int64_t ts_ns(struct timespec ts)
{
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct fs_entry *new_error_key(struct fs_cache *c, int err, uint64_t hash,
                                      uint32_t root_id, uint64_t tid, uint8_t enc,
                                      struct slice path, uint64_t now, bool cacheable)
{
    struct fs_entry *e = sp_calloc(1, sizeof(*e) + path.len + 1);
    if (!e) {
        return NULL;
    }
    e->kind = FS_ERROR;
    e->err = err;
    e->status = fs_status_for_errno(err);
    if (err == EIO) {
        e->status = 500;
    }
    e->fd = -1;
    e->_hash = hash;
    e->_root_id = root_id;
    e->_typing_id = tid;
    e->_enc = enc;
    checked_at(c, e, now);
    e->_path = (char *)(e + 1);
    memcpy(e->_path, path.ptr, path.len);
    e->_path_len = (uint16_t)path.len;
    e->_bytes = sizeof(*e) + path.len;
    e->_refs = 1;
    /* resource shortages and I/O errors are transient: never remember them */
    if (cacheable && c->lim.enabled && e->status != 503 && e->status != 500) {
        insert(c, e);
    }
    return e;
}

static struct fs_entry *new_error(struct fs_cache *c, int err, uint64_t hash,
                                  const struct fs_view *v, struct slice path, uint64_t now,
                                  bool cacheable)
{
    return new_error_key(c, err, hash, v->root_id, typing_id(v), v->enc, path, now, cacheable);
}

/* ---------------------------------------------------------------- loading, in phases */

/* The entry of the file a variant (seen through v, named `named` once its suffix is off)
 * stands for, if the cache holds it; not referenced, not touched. */
static const struct fs_entry *original_of(const struct fs_cache *c, const struct fs_view *v,
                                          struct slice named)
{
    struct fs_view ov = {v->root_id, FS_ENC_NONE, v->typing};
    uint64_t h = key_hash(&ov, named);
    const struct fs_entry *e = c->buckets[h & c->mask];
    while (e && !key_eq(e, h, &ov, named)) {
        e = e->_hnext;
    }
    if (!e && c->handoff && key_eq(c->handoff, h, &ov, named)) {
        e = c->handoff;
    }
    return e;
}

static void keep(struct fs_cache *c, struct fs_entry *e)
{
    fs_entry_attach(&c->hooks, e);
    if (c->lim.enabled) {
        insert(c, e);
    }
}

int fs_fill_opened(struct fs_cache *c, const struct fs_view *v, struct slice path, uint64_t hash,
                   int fd, uint64_t now_ms, struct fs_fill *f)
{
    *f = (struct fs_fill){NULL, -1, NULL, 0, NULL, v->typing ? v->typing : &fs_typing_default};
    if (fd < 0) {
        f->e = new_error(c, -fd, hash, v, path, now_ms, true);
        return FS_FILL_DONE;
    }
    f->fd = fd; /* the owner closes it, unless a large file's entry keeps it */
    struct stat st;
    if (fstat(fd, &st) < 0) {
        f->e = new_error(c, errno, hash, v, path, now_ms, true);
        return FS_FILL_DONE;
    }
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        /* fifo, device, socket */
        f->e = new_error(c, EACCES, hash, v, path, now_ms, true);
        return FS_FILL_DONE;
    }
    /*
     * A small file is read into the entry even when admission will turn the entry away: it
     * was measured against keeping the descriptor and sending that one response with
     * sendfile (no copy through the worker), and the read was cheaper: 26.6 against 29.3 us
     * per request on the million-file tree (bench/RESULTS.md), sendfile and cachestat being
     * two system calls where the read is one io_uring operation and a memcpy.
     */
    char *body;
    bool want_magic;
    struct slice named = path; /* what a variant stands for: its type is its original's */
    size_t sl = strlen(fs_enc_suffix(v->enc));
    named.len -= v->enc && named.len > sl ? sl : 0;
    struct fs_build b = {v, path, hash, &st, c->lim.small_max, &c->hooks,
                         v->enc ? original_of(c, v, named) : NULL};
    struct fs_entry *e = fs_entry_build(&b, &body, &want_magic);
    if (!e) {
        return FS_FILL_DONE; /* f->e NULL: out of memory */
    }
    checked_at(c, e, now_ms);
    f->e = e;
    if (body) {
        f->dst = body;
        f->len = (size_t)st.st_size;
        if (f->len == 0 && want_magic) {
            fs_entry_sniffed(f->typing, e, NULL);
        }
        if (f->len) {
            return FS_FILL_READ; /* hashed and sniffed once read (fs_fill_read_done) */
        }
        e->body = body;
        fs_entry_hash_body(e);
        keep(c, e);
        return FS_FILL_DONE;
    }
    if (e->kind == FS_FILE) {
        e->fd = fd;
        f->fd = -1;
        /*
         * A large file hashed before left its content ETag in an attribute: one getxattr of
         * an inode just opened (its attributes live in the inode or next to it), so a
         * restarted node sends the fleet's ETag from its first response.
         */
        fs_entry_xattr_etag(e, fd);
    }
    if (want_magic && (f->peek = sp_malloc(FS_MAGIC_PEEK))) {
        /* a large file's head, for libmagic: one more read, once per fill */
        f->dst = f->peek;
        f->len = FS_MAGIC_PEEK;
        f->fd = fd; /* read through the entry's descriptor; the owner must not close it */
        return FS_FILL_READ;
    }
    if (want_magic) {
        fs_entry_sniffed(f->typing, e, NULL); /* no memory to look: default_type */
    }
    keep(c, e);
    return FS_FILL_DONE;
}

int fs_fill_read_done(struct fs_cache *c, struct fs_fill *f, ssize_t got, uint64_t now_ms)
{
    struct fs_entry *e = f->e;
    struct slice path = slice_make(e->_path, e->_path_len);
    if (f->peek) {
        f->fd = -1; /* the entry's */
        f->len = got > 0 ? (size_t)got : 0; /* a failed peek: nothing to look at, default */
        return FS_FILL_SNIFF;
    }
    if (got < 0 || (size_t)got != f->len) {
        /* an error, or truncated while we read: never cache a body that disagrees with its
         * headers (EAGAIN: 503, not remembered) */
        f->e = new_error_key(c, got < 0 ? (int)-got : EAGAIN, e->_hash, e->_root_id,
                             e->_typing_id, e->_enc, path, now_ms, true);
        sp_free(e);
        return FS_FILL_DONE;
    }
    e->body = f->dst;
    fs_entry_hash_body(e);
    if (f->typing->magic != FS_MAGIC_OFF && e->_type_cap == FS_TYPE_MAX) {
        f->len = f->len < FS_MAGIC_PEEK ? f->len : FS_MAGIC_PEEK;
        return FS_FILL_SNIFF;
    }
    keep(c, e);
    return FS_FILL_DONE;
}

void fs_fill_sniffed(struct fs_cache *c, struct fs_fill *f, const char *magic_type)
{
    fs_entry_sniffed(f->typing, f->e, f->len ? magic_type : NULL);
    sp_free(f->peek);
    f->peek = NULL;
    keep(c, f->e);
}

void fs_entry_set_etag(struct fs_cache *c, struct fs_entry *e, struct slice etag, uint64_t size,
                       int64_t mtime_ns, int64_t ctime_ns)
{
    if (fs_entry_take_etag(e, etag, size, mtime_ns, ctime_ns)) {
        fs_entry_attach(&c->hooks, e);
    }
}

/* Opens, stats and (for small files) reads path on the calling thread. */
static struct fs_entry *load(struct fs_cache *c, const struct fs_root *root,
                             const struct fs_view *v, struct slice path, uint64_t hash,
                             uint64_t now)
{
    int fd = fs_open_beneath(root, path.ptr + 1, O_RDONLY | O_NONBLOCK);
    struct fs_fill f;
    if (fs_fill_opened(c, v, path, hash, fd, now, &f) == FS_FILL_READ &&
        fs_fill_read_done(c, &f, fs_read_all(f.fd, f.dst, f.len), now) == FS_FILL_SNIFF) {
        fs_fill_sniffed(c, &f, f.len ? fs_magic_type(f.dst, f.len) : NULL);
    }
    if (f.fd >= 0) {
        close(f.fd);
    }
    return f.e;
}

/* ---------------------------------------------------------------- freshness */

/*
 * How long e is trusted without a look. Each entry gets up to an eighth less than the
 * configured interval, by its hash: entries loaded in the same instant (a burst of misses,
 * a restart) are then checked spread over that eighth, not all in the same turn.
 */
static uint64_t ttl_of(const struct fs_cache *c, const struct fs_entry *e)
{
    uint64_t ttl = e->kind == FS_ERROR ? c->lim.negative_ms : c->lim.valid_ms;
    return ttl - (e->_hash >> 40) % (ttl / 8 + 1);
}

/* Does what path names now (fd from an O_PATH open, or -errno) match e? */
static enum fs_recheck compare(struct fs_entry *e, int fd)
{
    if (fd == -EMFILE || fd == -ENFILE || fd == -ENOMEM) {
        /*
         * No descriptor to look with: that says nothing about the file. Evicting the entry
         * here would turn every hit into a load that fails for the same reason (503), so the
         * entry stays as it is and is checked again later.
         */
        return FS_RECHECK_UNKNOWN;
    }
    if (fd < 0) {
        return e->kind == FS_ERROR && e->err == -fd ? FS_RECHECK_SAME : FS_RECHECK_CHANGED;
    }
    struct stat st;
    int rc = fstat(fd, &st);
    if (rc < 0 || e->kind == FS_ERROR) {
        return FS_RECHECK_CHANGED;
    }
    bool same = (uint64_t)st.st_dev == e->_dev && (uint64_t)st.st_ino == e->_ino &&
                (uint64_t)st.st_size == e->size && ts_ns(st.st_mtim) == e->_mtime_ns &&
                ts_ns(st.st_ctim) == e->_ctime_ns && (S_ISDIR(st.st_mode) == (e->kind == FS_DIR));
    return same ? FS_RECHECK_SAME : FS_RECHECK_CHANGED;
}

enum fs_recheck fs_recheck_done(struct fs_cache *c, struct fs_entry *e, int fd, uint64_t now_ms)
{
    enum fs_recheck rc = compare(e, fd);
    if (rc == FS_RECHECK_UNKNOWN) {
        c->st.recheck_deferred++;
        rc = FS_RECHECK_SAME; /* serve what we have; look again after another interval */
    }
    if (!e->_linked) {
        return FS_RECHECK_CHANGED; /* evicted meanwhile: a lookup loads it afresh */
    }
    if (rc == FS_RECHECK_SAME) {
        checked_at(c, e, now_ms);
    } else {
        c->st.replaced++;
        detach(c, e);
    }
    return rc;
}

/* ---------------------------------------------------------------- lookups */

struct fs_entry *fs_cache_find(struct fs_cache *c, const struct fs_view *v, struct slice path,
                               uint64_t now_ms, uint64_t *hash_out, struct fs_entry **stale)
{
    uint64_t hash = key_hash(v, path);
    *hash_out = hash;
    *stale = NULL;
    if (UNLIKELY(c->sketch.v != NULL)) {
        fs_sketch_add(&c->sketch, hash);
    }
    struct fs_entry *e = c->buckets[hash & c->mask];
    while (e && !key_eq(e, hash, v, path)) {
        e = e->_hnext;
    }
    if (!e) {
        e = c->handoff;
        if (e && key_eq(e, hash, v, path)) {
            e->_refs++;
            return e; /* the fill this request waited for, kept out of the cache */
        }
        return NULL;
    }
    /* checked in this very tick counts as fresh: with a zero interval, the request that
     * waited for the check is answered by it, not sent to check again */
    if (now_ms >= e->_due_ms && now_ms != e->_checked_ms) {
        *stale = e;
        return NULL;
    }
    c->st.hits++;
    lru_unlink(e);
    lru_push_front(c, e);
    e->_refs++;
    return e;
}

void fs_cache_handoff(struct fs_cache *c, struct fs_entry *e)
{
    c->handoff = e;
}

void fs_cache_count_miss(struct fs_cache *c, bool recheck)
{
    if (recheck) {
        c->st.revalidations++;
    } else {
        c->st.misses++;
    }
}

/* A fresh entry that was just checked: most recently used. */
static struct fs_entry *touch(struct fs_cache *c, struct fs_entry *e)
{
    lru_unlink(e);
    lru_push_front(c, e);
    e->_refs++;
    return e;
}

struct fs_entry *fs_cache_get(struct fs_cache *c, const struct fs_root *root, uint32_t root_id,
                              struct slice path, uint64_t now_ms)
{
    return fs_cache_get_view(c, root, FS_VIEW(root_id), path, now_ms);
}

struct fs_entry *fs_cache_get_view(struct fs_cache *c, const struct fs_root *root,
                                   const struct fs_view *v, struct slice path, uint64_t now_ms)
{
    if (path.len == 0 || path.ptr[0] != '/' || path.len > UINT16_MAX) {
        return new_error(c, ENAMETOOLONG, 0, v, SLICE_LIT("/"), now_ms, false);
    }
    uint64_t hash;
    struct fs_entry *stale;
    if (!c->lim.enabled) {
        c->st.misses++;
        hash = key_hash(v, path);
        return load(c, root, v, path, hash, now_ms);
    }
    struct fs_entry *e = fs_cache_find(c, v, path, now_ms, &hash, &stale);
    if (e) {
        return e;
    }
    if (stale) {
        c->st.revalidations++;
        int fd = fs_open_beneath(root, stale->_path + 1, O_PATH);
        enum fs_recheck rc = fs_recheck_done(c, stale, fd, now_ms);
        if (fd >= 0) {
            close(fd);
        }
        if (rc == FS_RECHECK_SAME) {
            return touch(c, stale);
        }
    }
    c->st.misses++;
    return load(c, root, v, path, hash, now_ms);
}
