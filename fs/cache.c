/* cache.c - see cache.h. */
#include "fs/cache.h"

#include "core/base/alloc.h"
#include "core/base/hash.h"
#include "core/base/numfmt.h"
#include "fs/mime.h"
#include "proto/date.h"

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
};

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
    sp_free(c->buckets);
    sp_free(c);
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

/* Evicts least recently used entries until one more of `bytes` (and an fd) fits. */
static void make_room(struct fs_cache *c, uint64_t bytes, bool needs_fd)
{
    struct fs_entry *e = c->lru._prev;
    while (e != &c->lru &&
           (c->nentries + 1 > c->lim.max_entries || c->nbytes + bytes > c->lim.max_bytes ||
            (needs_fd && c->nfds + 1 > c->lim.max_fds))) {
        struct fs_entry *prev = e->_prev;
        bool fd_pressure = needs_fd && c->nfds + 1 > c->lim.max_fds;
        bool other_pressure =
            c->nentries + 1 > c->lim.max_entries || c->nbytes + bytes > c->lim.max_bytes;
        if (other_pressure || (fd_pressure && e->fd >= 0)) {
            detach(c, e);
            c->st.evictions++;
        }
        e = prev;
    }
}

static void insert(struct fs_cache *c, struct fs_entry *e)
{
    make_room(c, e->_bytes, e->fd >= 0);
    if (c->nentries + 1 > c->lim.max_entries || c->nbytes + e->_bytes > c->lim.max_bytes) {
        return; /* too big to cache at all: serve it uncached */
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

static int64_t ts_ns(struct timespec ts)
{
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Reads exactly up to n bytes at offset 0; returns bytes read or -errno. */
static ssize_t read_all(int fd, char *dst, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, dst + got, n - got, (off_t)got);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        if (r == 0) {
            break; /* truncated since fstat: serve what is there */
        }
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static struct fs_entry *new_error(struct fs_cache *c, int err, uint64_t hash, uint32_t root_id,
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
    e->_checked_ms = now;
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

/* Opens, stats and (for small files) reads path; returns a new referenced entry. */
static struct fs_entry *load(struct fs_cache *c, const struct fs_root *root, uint32_t root_id,
                             struct slice path, uint64_t hash, uint64_t now)
{
    const char *rel = path.ptr + 1; /* skip the leading '/' */
    int fd = fs_open_beneath(root, rel, O_RDONLY | O_NONBLOCK);
    if (fd < 0) {
        return new_error(c, -fd, hash, root_id, path, now, true);
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int err = errno;
        close(fd);
        return new_error(c, err, hash, root_id, path, now, true);
    }
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        close(fd);
        return new_error(c, EACCES, hash, root_id, path, now, true); /* fifo, device, socket */
    }
    bool dir = S_ISDIR(st.st_mode);
    bool small = !dir && (uint64_t)st.st_size <= c->lim.small_max;
    size_t body_cap = small ? (size_t)st.st_size : 0;

    char etag[64], lm[HTTP_DATE_LEN];
    struct fs_entry tmp = {0};
    tmp.size = (uint64_t)st.st_size;
    tmp.mime = fs_mime_for_path(path, SLICE_LIT("application/octet-stream"));
    /* RFC 9110 8.8.2.1: never a Last-Modified later than now (a clock skew, a touch -d) */
    time_t mtime = st.st_mtim.tv_sec;
    time_t now_s = time(NULL);
    if (mtime > now_s) {
        mtime = now_s;
    }
    http_date_format(lm, mtime);
    tmp.last_modified = slice_make(lm, HTTP_DATE_LEN);
    size_t n = 0;
    etag[n++] = '"';
    n += num_u64_to_hex(etag + n, (uint64_t)st.st_ino);
    etag[n++] = '-';
    n += num_u64_to_hex(etag + n, (uint64_t)st.st_size);
    etag[n++] = '-';
    n += num_u64_to_hex(etag + n, (uint64_t)ts_ns(st.st_mtim));
    etag[n++] = '"';
    tmp.etag = slice_make(etag, n);
    size_t aux = !dir && c->hooks.aux_len ? c->hooks.aux_len(&tmp) : 0;

    size_t total = sizeof(struct fs_entry) + path.len + 1 + aux + n + HTTP_DATE_LEN + body_cap;
    struct fs_entry *e = sp_malloc(total);
    if (!e) {
        close(fd);
        return NULL;
    }
    *e = tmp;
    /* the attachment first: right behind the struct, it is aligned for whatever it holds */
    char *auxp = (char *)(e + 1);
    char *p = auxp + aux;
    e->_path = p;
    memcpy(p, path.ptr, path.len);
    p[path.len] = '\0';
    p += path.len + 1;
    memcpy(p, etag, n);
    e->etag = slice_make(p, n);
    p += n;
    memcpy(p, lm, HTTP_DATE_LEN);
    e->last_modified = slice_make(p, HTTP_DATE_LEN);
    p += HTTP_DATE_LEN;

    e->kind = dir ? FS_DIR : FS_FILE;
    e->fd = -1;
    e->mtime = mtime;
    e->_hash = hash;
    e->_root_id = root_id;
    e->_path_len = (uint16_t)path.len;
    e->_checked_ms = now;
    e->_dev = (uint64_t)st.st_dev;
    e->_ino = (uint64_t)st.st_ino;
    e->_mtime_ns = ts_ns(st.st_mtim);
    e->_ctime_ns = ts_ns(st.st_ctim);
    e->_bytes = total;
    e->_refs = 1;
    e->_linked = false;
    if (aux) {
        c->hooks.aux_fill(e, auxp); /* after the facts above: the hook reads them */
        e->aux = auxp;
        e->aux_len = (uint32_t)aux;
    }

    if (small) {
        ssize_t got = read_all(fd, p, body_cap);
        close(fd);
        if (got < 0) {
            int err = (int)-got;
            sp_free(e);
            return new_error(c, err, hash, root_id, path, now, true);
        }
        if ((size_t)got != body_cap) {
            /* truncated while we read: do not cache a body that disagrees with its headers */
            sp_free(e);
            return new_error(c, EAGAIN, hash, root_id, path, now, true);
        }
        e->body = p;
    } else if (dir) {
        close(fd);
    } else {
        e->fd = fd;
    }
    if (c->lim.enabled) {
        insert(c, e);
    }
    return e;
}

enum recheck { RECHECK_SAME, RECHECK_CHANGED, RECHECK_UNKNOWN };

/* Does path still name the same, unchanged object as e (the same error for negatives)? */
static enum recheck still_valid(const struct fs_root *root, struct fs_entry *e)
{
    int fd = fs_open_beneath(root, e->_path + 1, O_PATH);
    if (fd == -EMFILE || fd == -ENFILE || fd == -ENOMEM) {
        /*
         * No descriptor to look with: that says nothing about the file. Evicting the entry
         * here would turn every hit into a load that fails for the same reason (503), so the
         * entry stays as it is and is checked again later.
         */
        return RECHECK_UNKNOWN;
    }
    if (fd < 0) {
        return e->kind == FS_ERROR && e->err == -fd ? RECHECK_SAME : RECHECK_CHANGED;
    }
    struct stat st;
    int rc = fstat(fd, &st);
    close(fd);
    if (rc < 0 || e->kind == FS_ERROR) {
        return RECHECK_CHANGED;
    }
    bool same = (uint64_t)st.st_dev == e->_dev && (uint64_t)st.st_ino == e->_ino &&
                (uint64_t)st.st_size == e->size && ts_ns(st.st_mtim) == e->_mtime_ns &&
                ts_ns(st.st_ctim) == e->_ctime_ns && (S_ISDIR(st.st_mode) == (e->kind == FS_DIR));
    return same ? RECHECK_SAME : RECHECK_CHANGED;
}

struct fs_entry *fs_cache_get(struct fs_cache *c, const struct fs_root *root, uint32_t root_id,
                              struct slice path, uint64_t now_ms)
{
    if (path.len == 0 || path.ptr[0] != '/' || path.len > UINT16_MAX) {
        return new_error(c, ENAMETOOLONG, 0, root_id, SLICE_LIT("/"), now_ms, false);
    }
    uint64_t hash = hash_mix(hash_bytes(path.ptr, path.len), root_id);
    if (!c->lim.enabled) {
        c->st.misses++;
        return load(c, root, root_id, path, hash, now_ms);
    }
    struct fs_entry *e = c->buckets[hash & c->mask];
    while (e && !(e->_hash == hash && e->_root_id == root_id && e->_path_len == path.len &&
                  memcmp(e->_path, path.ptr, path.len) == 0)) {
        e = e->_hnext;
    }
    if (e) {
        uint64_t ttl = e->kind == FS_ERROR ? c->lim.negative_ms : c->lim.valid_ms;
        if (now_ms - e->_checked_ms < ttl) {
            c->st.hits++;
            lru_unlink(e);
            lru_push_front(c, e);
            e->_refs++;
            return e;
        }
        c->st.revalidations++;
        enum recheck rc = still_valid(root, e);
        if (rc == RECHECK_UNKNOWN) {
            c->st.recheck_deferred++;
            rc = RECHECK_SAME; /* serve what we have; look again after another interval */
        }
        if (rc == RECHECK_SAME) {
            e->_checked_ms = now_ms;
            lru_unlink(e);
            lru_push_front(c, e);
            e->_refs++;
            return e;
        }
        c->st.replaced++;
        detach(c, e);
    }
    c->st.misses++;
    return load(c, root, root_id, path, hash, now_ms);
}
