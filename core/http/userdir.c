/* userdir.c - user home directories (see userdir.h). */
#include "core/http/userdir.h"

#include "core/base/alloc.h"
#include "core/base/atomic.h"
#include "core/base/hash.h"
#include "core/base/lru.h"
#include "core/conf/print.h"
#include "core/conf/types.h"
#include "core/conf/values.h"
#include "core/http/http_root.h"
#include "core/http/handler.h"
#include "core/http/route.h"
#include "core/io/loop.h"
#include "core/io/offload.h"
#include "fs/docroot.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define UD_NAME_MAX 32     /* bytes of a user name (useradd's limit) */
#define UD_DIR_MAX 255     /* bytes of userdir_dir (NAME_MAX) */
#define UD_BUCKETS 1024    /* hash buckets per worker */
#define UD_CACHE_MAX 256   /* entries per worker, past which idle ones are evicted */
#define UD_CACHE_HARD 4096 /* entries per worker, past which new users get 503 */
#define UD_JOBS_MAX 64     /* lookups in flight per worker; more get 503 */
#define UD_EVICT_SCAN 16   /* LRU entries looked at for one eviction */
#define UD_GRACE_MS 60000  /* a root stays open this long after a request last mapped to it */
#define UD_IDLE_MS 600000  /* entries untouched this long are dropped by the sweep */
#define UD_SWEEP_MS 1000   /* how often the sweep runs (lazily, from userdir_map) */
#define UD_PWBUF_MAX (1u << 20)
#define UD_ID_BIT 0x80000000u /* set in user roots' ids: configured roots count from 0 */

/* ---------------------------------------------------------------- names */

/* A user name we look up: [A-Za-z0-9._-], 1..32 bytes, not starting with '.' or '-'. */
static bool name_ok(struct slice n)
{
    if (n.len == 0 || n.len > UD_NAME_MAX || n.ptr[0] == '.' || n.ptr[0] == '-') {
        return false;
    }
    for (size_t i = 0; i < n.len; i++) {
        char c = n.ptr[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

static bool listed(const struct conf_words *w, struct slice name)
{
    for (unsigned i = 0; i < w->n; i++) {
        if (slice_eq(slice_cstr(w->v[i]), name)) {
            return true;
        }
    }
    return false;
}

/* ---------------------------------------------------------------- directives */

struct ud_conf {
    bool on;
    char *dir;
    struct conf_words allow, deny;
    uint32_t valid_ms, negative_ms;
};

struct ud_main {
    bool used; /* offload_use() was called */
};

static int users_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                       unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (!name_ok(slice_cstr(a[i]))) {
            return conf_error(p,
                              "\"%s\" is not a user name %s can serve (letters, digits, '.', "
                              "'_', '-', at most %d, not starting with '.' or '-')",
                              a[i], r->name, UD_NAME_MAX);
        }
    }
    return conf_words_parse(p, r, field, a, n);
}

static const struct conf_type users_type = {"users", sizeof(struct conf_words), users_parse,
                                            conf_words_print, conf_words_release};

static int dir_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                     unsigned n)
{
    const char *d = a[0];
    if (!d[0] || strchr(d, '/') || !strcmp(d, ".") || !strcmp(d, "..") || strlen(d) > UD_DIR_MAX) {
        return conf_error(p, "%s \"%s\" must be a directory name in each home, without '/'",
                          r->name, d);
    }
    return conf_str.parse(p, r, field, a, n);
}

static void dir_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    conf_str.print(o, r, field);
}

static void dir_release(void *field)
{
    conf_str.release(field);
}

static const struct conf_type dir_type = {"userdir_dir", sizeof(char *), dir_parse, dir_print,
                                          dir_release};

#define SRV (CONF_MAIN | CONF_SERVER)
#define OFF(f) offsetof(struct ud_conf, f)

static const struct conf_row rows[] = {
    {"userdir", SRV, CONF_STORE_SRV, 1, 1, 0, &conf_flag, OFF(on), "off", 0, 0, "on", NULL},
    {"userdir_dir", SRV, CONF_STORE_SRV, 1, 1, 0, &dir_type, OFF(dir), "public_html", 0, 0, "www",
     NULL},
    {"userdir_allow", SRV, CONF_STORE_SRV, 1, 64, CONF_MULTI, &users_type, OFF(allow), NULL, 0, 0,
     "alice bob", NULL},
    {"userdir_deny", SRV, CONF_STORE_SRV, 1, 64, CONF_MULTI, &users_type, OFF(deny), NULL, 0, 0,
     "daemon nobody", NULL},
    {"userdir_cache_valid", SRV, CONF_STORE_SRV, 1, 1, 0, &conf_msec32, OFF(valid_ms), "60s", 0,
     86400000, "5m", NULL},
    {"userdir_cache_negative", SRV, CONF_STORE_SRV, 1, 1, 0, &conf_msec32, OFF(negative_ms), "10s",
     0, 86400000, "1s", NULL},
};

/* Written by finish on the main thread before any worker reads it (atomic: a reload's finish
 * writes it again while workers read it). */
static SP_ATOMIC(int) ud_slot = -1;

static bool any_on(const struct conf *c, unsigned slot)
{
    const struct ud_conf *m = conf_get(c->main, slot, CONF_STORE_SRV);
    if (m && m->on) {
        return true;
    }
    for (const struct conf_block *b = c->main->children; b; b = b->next) {
        const struct ud_conf *uc = conf_get(b, slot, CONF_STORE_SRV);
        if (b->kind == CONF_SERVER && uc && uc->on) {
            return true;
        }
    }
    return false;
}

static int ud_finish(struct conf *c, unsigned slot, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    atomic_store(&ud_slot, (int)slot);
    struct ud_main *m = conf_main(c, slot);
    if (any_on(c, slot)) {
        offload_use(); /* starts no thread: the first lookup does */
        m->used = true;
    }
    return 0;
}

static void ud_release(struct conf *c, unsigned slot)
{
    struct ud_main *m = conf_main(c, slot);
    if (m && m->used) {
        (void)offload_unuse();
        m->used = false;
    }
}

const struct conf_module userdir_module = {
    .name = "userdir",
    .rows = rows,
    .nrows = ARRAY_SIZE(rows),
    .size = {[CONF_STORE_MAIN] = sizeof(struct ud_main), [CONF_STORE_SRV] = sizeof(struct ud_conf)},
    .finish = ud_finish,
    .release = ud_release,
};

/* ---------------------------------------------------------------- the worker's cache */

/* An opened user directory. Requests' file lookups may still hold &hr after the entry that
 * opened it let go (a fill queued in the ring, a listing on a helper): it is closed
 * UD_GRACE_MS after a request last mapped to it, never sooner. */
struct ud_root {
    struct http_root hr;
    dev_t dev;
    ino_t ino;
    uint64_t last_used_ms;
    struct ud_root *next; /* in the retired list */
};

struct ud_job;

struct ud_entry {
    struct lru_node node; /* in the thread's cache */
    uint64_t loaded_ms;   /* when the answer below was looked up */
    uint64_t touched_ms;  /* when a request last found it */
    struct ud_root *root; /* status 0: the directory */
    struct ud_job *job;   /* a lookup in flight, or NULL */
    int status;           /* 0: found; 404; 503 (not remembered) */
    uid_t uid;
    uint16_t key_len;
    char key[]; /* name, NUL, userdir_dir */
};

struct ud_state {
    struct lru cache;
    struct lru_node *buckets[UD_BUCKETS];
    unsigned njobs, nretired;
    struct ud_root *retired;
    uint64_t next_sweep_ms;
    const struct ud_entry *handoff; /* the entry whose lookup is waking its requests */
    struct userdir_stats st;
};

/* The lookup, made on a helper thread: inputs copied in, outputs written, nothing shared. */
struct ud_job {
    struct offload_job oj;
    struct ud_state *w; /* NULL: orphaned (the thread's cache was dropped) */
    struct io_loop *loop;
    struct ud_entry *e;
    struct req_wait waiters;
    struct req_hold_ref hold; /* the request that started it, held */
    /* in */
    bool have_old;
    dev_t old_dev;
    ino_t old_ino;
    /* out */
    int status;
    uid_t uid;
    int fd;
    dev_t dev;
    ino_t ino;
    char *path;
    bool same; /* the directory is the one the entry has open: fd was closed */
    char name[UD_NAME_MAX + 1];
    char dir[UD_DIR_MAX + 1];
};

static __thread struct ud_state *t_state;
static pthread_key_t state_key;
static pthread_once_t state_once = PTHREAD_ONCE_INIT;
static SP_ATOMIC(uint32_t) next_id;

static void state_free(void *p);

static void state_key_init(void)
{
    (void)pthread_key_create(&state_key, state_free);
}

static struct ud_state *state_get(void)
{
    if (LIKELY(t_state != NULL)) {
        return t_state;
    }
    (void)pthread_once(&state_once, state_key_init);
    struct ud_state *w = sp_calloc(1, sizeof(*w));
    if (!w) {
        return NULL;
    }
    lru_init(&w->cache, w->buckets, UD_BUCKETS);
    t_state = w;
    (void)pthread_setspecific(state_key, w); /* frees it when the thread ends */
    return w;
}

static struct ud_entry *entry_of(struct lru_node *n)
{
    return container_of(n, struct ud_entry, node);
}

static void root_close(struct ud_state *w, struct ud_root *ur)
{
    fs_root_close(&ur->hr.root);
    sp_free(ur);
    w->st.closed++;
}

/* The entry lets go of its directory: closed now if no request used it for UD_GRACE_MS. */
static void root_retire(struct ud_state *w, struct ud_root *ur, uint64_t now)
{
    w->st.retired++;
    if (now - ur->last_used_ms >= UD_GRACE_MS) {
        root_close(w, ur);
        return;
    }
    ur->next = w->retired;
    w->retired = ur;
    w->nretired++;
}

static void entry_drop(struct ud_state *w, struct ud_entry *e, uint64_t now)
{
    lru_remove(&w->cache, &e->node);
    if (e->root) {
        root_retire(w, e->root, now);
    }
    sp_free(e);
}

static bool evictable(const struct ud_state *w, const struct ud_entry *e, uint64_t now)
{
    /* a root used within the grace stays: an attacker asking for many names cannot push the
     * users being served out, and no user's directory is opened twice at once */
    return !e->job && e != w->handoff && (!e->root || now - e->root->last_used_ms >= UD_GRACE_MS);
}

/* Past UD_CACHE_MAX, the least recently used entries that may go, go. */
static void make_room(struct ud_state *w, uint64_t now)
{
    struct lru_node *n = lru_oldest(&w->cache);
    for (unsigned k = 0; w->cache.count >= UD_CACHE_MAX && n && k < UD_EVICT_SCAN; k++) {
        struct lru_node *newer = lru_newer(&w->cache, n);
        struct ud_entry *e = entry_of(n);
        if (evictable(w, e, now)) {
            entry_drop(w, e, now);
        }
        n = newer;
    }
}

/* Once a second: close retired roots past their grace, drop entries idle for long. */
static void sweep(struct ud_state *w, uint64_t now)
{
    if (now < w->next_sweep_ms) {
        return;
    }
    w->next_sweep_ms = now + UD_SWEEP_MS;
    for (struct ud_root **pp = &w->retired; *pp;) {
        struct ud_root *ur = *pp;
        if (now - ur->last_used_ms >= UD_GRACE_MS) {
            *pp = ur->next;
            w->nretired--;
            root_close(w, ur);
        } else {
            pp = &ur->next;
        }
    }
    for (struct lru_node *n; (n = lru_oldest(&w->cache));) {
        struct ud_entry *e = entry_of(n);
        if (now - e->touched_ms < UD_IDLE_MS || !evictable(w, e, now)) {
            break;
        }
        entry_drop(w, e, now);
    }
}

static struct ud_entry *entry_find(struct ud_state *w, uint64_t hash, const char *key, size_t len)
{
    for (struct lru_node *n = lru_first(&w->cache, hash); n; n = lru_next(n)) {
        struct ud_entry *e = entry_of(n);
        if (e->key_len == len && memcmp(e->key, key, len) == 0) {
            return e;
        }
    }
    return NULL;
}

static struct ud_entry *entry_new(struct ud_state *w, uint64_t hash, const char *key, size_t len,
                                  uint64_t now)
{
    make_room(w, now);
    if (w->cache.count >= UD_CACHE_HARD) {
        return NULL;
    }
    struct ud_entry *e = sp_calloc(1, sizeof(*e) + len);
    if (!e) {
        return NULL;
    }
    e->key_len = (uint16_t)len;
    memcpy(e->key, key, len);
    e->status = 503; /* nothing known yet: never fresh */
    e->touched_ms = now;
    lru_insert(&w->cache, &e->node, hash, 0); /* bounded by count alone */
    return e;
}

static void state_free(void *p)
{
    struct ud_state *w = p;
    if (!w) {
        return;
    }
    for (struct lru_node *n; (n = lru_oldest(&w->cache));) {
        struct ud_entry *e = entry_of(n);
        if (e->job) {
            e->job->w = NULL; /* a helper may still write it: it frees itself, if it ends */
            e->job->e = NULL;
            e->job = NULL;
        }
        if (e->root) {
            root_close(w, e->root); /* no request of this thread is left to use it */
            e->root = NULL;
        }
        entry_drop(w, e, 0);
    }
    while (w->retired) {
        struct ud_root *ur = w->retired;
        w->retired = ur->next;
        root_close(w, ur);
    }
    if (t_state == w) {
        t_state = NULL;
    }
    sp_free(w);
}

void userdir_thread_fini(void)
{
    struct ud_state *w = t_state;
    if (w) {
        (void)pthread_setspecific(state_key, NULL);
        state_free(w);
    }
}

void userdir_get_stats(struct userdir_stats *out)
{
    const struct ud_state *w = t_state;
    memset(out, 0, sizeof(*out));
    if (w) {
        *out = w->st;
        out->entries = w->cache.count;
        out->jobs = w->njobs;
        out->retired_open = w->nretired;
    }
}

/* ---------------------------------------------------------------- the lookup (helper thread) */

static int status_of_errno(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOMEM ? 503 : 404;
}

/* Opens <home>/<dir> beneath the home: 0, or a status. Sets j->fd, dev, ino, path. */
static int open_dir(struct ud_job *j, const char *home)
{
    struct fs_root h;
    int rc = fs_root_open(&h, home);
    if (rc < 0) {
        return status_of_errno(-rc);
    }
    int fd = fs_open_beneath(&h, j->dir, O_PATH | O_DIRECTORY);
    fs_root_close(&h);
    if (fd < 0) {
        return status_of_errno(-fd);
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return status_of_errno(e);
    }
    if (j->have_old && st.st_dev == j->old_dev && st.st_ino == j->old_ino) {
        close(fd); /* the directory the entry has open: keep that one (and its cached files) */
        j->same = true;
        return 0;
    }
    size_t hl = strlen(home), dl = strlen(j->dir);
    while (hl > 1 && home[hl - 1] == '/') {
        hl--;
    }
    char *path = sp_malloc(hl + 1 + dl + 1);
    if (!path) {
        close(fd);
        return 503;
    }
    memcpy(path, home, hl);
    path[hl] = '/';
    memcpy(path + hl + 1, j->dir, dl + 1);
    j->fd = fd;
    j->dev = st.st_dev;
    j->ino = st.st_ino;
    j->path = path;
    return 0;
}

/* getpwnam_r, then the directory: blocking (a helper's thread, or a worker's when none can). */
static void lookup(struct ud_job *j)
{
    size_t cap = 4096;
    char *buf = NULL;
    struct passwd pw, *res = NULL;
    int rc;
    for (;;) {
        char *nb = sp_realloc(buf, cap);
        if (!nb) {
            sp_free(buf);
            j->status = 503;
            return;
        }
        buf = nb;
        rc = getpwnam_r(j->name, &pw, buf, cap, &res);
        if (rc != ERANGE || cap >= UD_PWBUF_MAX) {
            break;
        }
        cap *= 2;
    }
    if (rc == 0 && res) {
        j->uid = pw.pw_uid;
        /* a relative or empty home is an account without one (nothing to serve) */
        j->status = pw.pw_dir && pw.pw_dir[0] == '/' ? open_dir(j, pw.pw_dir) : 404;
    } else {
        /* not found is 0 with no result, or one of these (getpwnam_r(3)) */
        j->status = rc == 0 || rc == ENOENT || rc == ESRCH ? 404 : 503;
    }
    sp_free(buf);
}

static int job_run(struct offload_job *oj)
{
    lookup(container_of(oj, struct ud_job, oj));
    return 0;
}

/* ---------------------------------------------------------------- results (worker thread) */

static struct ud_job *job_new(const struct ud_entry *e)
{
    struct ud_job *j = sp_calloc(1, sizeof(*j));
    if (!j) {
        return NULL;
    }
    size_t nl = strlen(e->key);
    memcpy(j->name, e->key, nl + 1);
    memcpy(j->dir, e->key + nl + 1, (size_t)e->key_len - nl - 1);
    j->fd = -1;
    if (e->root) {
        j->have_old = true;
        j->old_dev = e->root->dev;
        j->old_ino = e->root->ino;
    }
    req_wait_list_init(&j->waiters);
    return j;
}

static void job_free(struct ud_job *j)
{
    if (j->fd >= 0) {
        close(j->fd);
    }
    sp_free(j->path);
    sp_free(j);
}

/* The entry takes the job's answer (res: run's, or -ECANCELED). */
static void apply(struct ud_state *w, struct ud_entry *e, struct ud_job *j, int res, uint64_t now)
{
    int status = res < 0 ? 503 : j->status;
    if (status == 0 && !j->same) {
        struct ud_root *ur = sp_calloc(1, sizeof(*ur));
        if (ur) {
            ur->hr.root.fd = j->fd;
            ur->hr.root.path = j->path;
            ur->hr.path = j->path;
            ur->hr.id = UD_ID_BIT | (atomic_fetch_add(&next_id, 1) & ~UD_ID_BIT);
            ur->dev = j->dev;
            ur->ino = j->ino;
            ur->last_used_ms = now;
            j->fd = -1;
            j->path = NULL;
            if (e->root) {
                root_retire(w, e->root, now);
            }
            e->root = ur;
            w->st.opened++;
        } else {
            status = 503;
        }
    }
    if (status != 0 && e->root) {
        root_retire(w, e->root, now); /* the user or the directory went */
        e->root = NULL;
    }
    e->status = status;
    e->uid = j->uid;
    e->loaded_ms = now;
    if (status == 0) {
        w->st.found++;
    } else if (status == 404) {
        w->st.not_found++;
    }
}

static void job_done(struct offload_job *oj, int res)
{
    struct ud_job *j = container_of(oj, struct ud_job, oj);
    struct ud_state *w = j->w;
    if (w && j->e) {
        struct ud_entry *e = j->e;
        e->job = NULL;
        w->njobs--;
        apply(w, e, j, res, j->loop->now_ms); /* the answer's lifetime counts from now */
        w->handoff = e; /* the requests woken use it, fresh or not: none waits twice */
        struct req_wait *rw;
        while ((rw = j->waiters.next) != &j->waiters) {
            req_wait_unlink(rw);
            rw->wake(rw); /* dispatched again: finds the entry */
        }
        w->handoff = NULL;
    }
    req_hold_end(j->hold);
    job_free(j);
}

/* ---------------------------------------------------------------- mapping */

static uint64_t ttl_of(const struct ud_entry *e, const struct ud_conf *uc)
{
    return e->status == 0 ? uc->valid_ms : e->status == 404 ? uc->negative_ms : 0;
}

/* The answer an entry gives for server uc. */
static int answer(struct ud_entry *e, const struct ud_conf *uc, struct slice name,
                  struct slice rest, uint64_t now, const struct http_root **root,
                  struct slice *path)
{
    if (e->status) {
        return e->status;
    }
    if (e->uid == 0 && !listed(&uc->allow, name)) {
        return 404; /* root (or an alias of it) only when userdir_allow names it */
    }
    e->root->last_used_ms = now;
    *root = &e->root->hr;
    *path = rest;
    return 0;
}

/* r waits for job: HANDLER_LATER, or 503 where the session cannot wait (and must not block). */
static int wait_for(struct req *r, struct ud_job *j)
{
    if (!r->wait) {
        return 503;
    }
    if (!r->wait->next) {
        req_wait_link(&j->waiters, r->wait);
    } /* else it waits already (this lookup, or a file): its wake dispatches it again */
    return HANDLER_LATER;
}

int userdir_map(struct req *r, struct slice uri, const struct http_root **root, struct slice *path,
                bool *mine)
{
    *mine = false;
    int slot = atomic_load_explicit(&ud_slot, memory_order_relaxed);
    if (slot < 0 || uri.len < 3 || uri.ptr[0] != '/' || uri.ptr[1] != '~' || !r->server) {
        return 0;
    }
    const struct ud_conf *uc = conf_get(r->server->block, (unsigned)slot, CONF_STORE_SRV);
    if (!uc || !uc->on) {
        return 0;
    }
    const char *slash = memchr(uri.ptr + 2, '/', uri.len - 2);
    struct slice name =
        slice_make(uri.ptr + 2, slash ? (size_t)(slash - uri.ptr - 2) : uri.len - 2);
    if (name.len == 0) {
        return 0; /* "/~/x" names no user */
    }
    *mine = true;
    if (!name_ok(name) || listed(&uc->deny, name) || (uc->allow.n && !listed(&uc->allow, name))) {
        return 404;
    }
    struct slice rest = slash ? slice_make(slash, uri.len - (size_t)(slash - uri.ptr))
                              : SLICE_LIT("/"); /* "/~bob": the directory, redirected to "/~bob/" */
    struct ud_state *w = state_get();
    if (!w) {
        return -ENOMEM;
    }
    uint64_t now = r->env->loop->now_ms;
    sweep(w, now);

    char key[UD_NAME_MAX + 1 + UD_DIR_MAX + 1];
    size_t dl = strlen(uc->dir);
    memcpy(key, name.ptr, name.len);
    key[name.len] = '\0';
    memcpy(key + name.len + 1, uc->dir, dl);
    size_t klen = name.len + 1 + dl;
    uint64_t hash = hash_bytes(key, klen);
    struct ud_entry *e = entry_find(w, hash, key, klen);
    if (e) {
        lru_touch(&w->cache, &e->node);
        e->touched_ms = now;
        if (e->job) {
            return wait_for(r, e->job);
        }
        if (e == w->handoff || now - e->loaded_ms < ttl_of(e, uc)) {
            w->st.hits++;
            return answer(e, uc, name, rest, now, root, path);
        }
    } else if (!(e = entry_new(w, hash, key, klen, now))) {
        return 503; /* every entry is in use: more users at once than the cache holds */
    }

    /* a miss, or an entry past its lifetime: look it up */
    if (w->njobs >= UD_JOBS_MAX) {
        return 503;
    }
    struct ud_job *j = job_new(e);
    if (!j) {
        return -ENOMEM;
    }
    w->st.lookups++;
    int rc = -ENOSYS;
    if (r->wait) {
        offload_job_init(&j->oj, job_run, job_done);
        rc = offload_submit(r->env->loop, &j->oj);
    }
    if (rc == -ENOSYS) {
        /* no helper can (no ring, an old kernel) or the session cannot wait: on this thread */
        lookup(j);
        apply(w, e, j, 0, now);
        job_free(j);
        return answer(e, uc, name, rest, now, root, path);
    }
    if (rc < 0) {
        job_free(j);
        return 503; /* the helpers' queue is full */
    }
    j->w = w;
    j->loop = r->env->loop;
    j->e = e;
    e->job = j;
    w->njobs++;
    (void)wait_for(r, j);
    /* the worker must not exit (and free this cache) before the job is done */
    j->hold = req_hold_keep(r);
    return HANDLER_LATER;
}
