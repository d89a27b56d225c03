/* auth_cache.c - auth_basic's per-worker snapshots, pair cache and hashes (see auth_cache.h). */
#include "core/http/auth_cache.h"

#include "core/base/alloc.h"
#include "core/base/lru.h"
#include "core/http/handler.h"
#include "core/io/loop.h"
#include "core/io/offload.h"
#include "log/errlog.h"

#include <apr_md5.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <xxhash.h>

#define AUTH_BUCKETS 1024
#define AUTH_ROUNDS_MAX 4        /* as cache_fill.c: a request waits this many times at most */
#define AUTH_FILE_IDLE_MS 120000 /* a file no request used this long is let go by the worker */
#define AUTH_SWEEP_MS 5000
#define AUTH_KEY_MAX 2048 /* bytes of generation, user, ':' and password hashed */

enum pair_state { PAIR_PENDING, PAIR_GOOD, PAIR_BAD, PAIR_FAILED };

struct verify_job;
struct check_job;

struct auth_pair {
    struct lru_node node;
    uint64_t k0, k1;   /* the key's 128 bits */
    uint64_t until_ms; /* PAIR_GOOD: believed until then */
    uint8_t state;     /* enum pair_state */
    struct verify_job *job;
};

/* A password file as this worker uses it. */
struct wfile {
    struct wfile *next;
    struct auth_file *f;    /* a reference */
    struct auth_snap *snap; /* a reference, or NULL before the first */
    uint64_t checked_ms;    /* when its identity was last checked */
    uint64_t next_check_ms, used_ms, logged_s;
    struct check_job *job; /* a stat (and perhaps a re-read) in flight */
};

struct auth_state {
    struct lru pairs;
    struct lru_node *buckets[AUTH_BUCKETS];
    struct wfile *files;
    unsigned njobs;        /* verify jobs in flight */
    unsigned nqueued;      /* requests in queue */
    struct req_wait queue; /* requests waiting for a free hash slot, first come first */
    uint64_t seed;
    uint64_t next_sweep_ms;
    const struct auth_pair *handoff; /* the pair whose hash is waking its requests */
    struct auth_cache_stats st;
};

struct check_job {
    struct offload_job oj;
    struct auth_state *w; /* NULL: orphaned */
    struct wfile *wf;
    struct auth_file *f; /* a reference of its own */
    struct io_loop *loop;
    struct auth_snap *out;
    bool changed;
    struct req_wait waiters;
    struct req_hold_ref hold;
};

struct verify_job {
    struct offload_job oj;
    struct auth_state *w; /* NULL: orphaned */
    struct auth_pair *e;
    struct io_loop *loop;
    struct auth_snap *snap; /* a reference: hash points into it */
    const char *hash;
    bool known;
    bool ok;
    struct req_wait waiters;
    struct req_hold_ref hold;
    char pass[]; /* NUL-terminated; wiped once hashed */
};

static __thread struct auth_state *t_state;
static pthread_key_t state_key;
static pthread_once_t state_once = PTHREAD_ONCE_INIT;

static void state_free(void *p);

static void state_key_init(void)
{
    (void)pthread_key_create(&state_key, state_free);
}

static struct auth_state *state_get(void)
{
    if (LIKELY(t_state != NULL)) {
        return t_state;
    }
    (void)pthread_once(&state_once, state_key_init);
    struct auth_state *w = sp_calloc(1, sizeof(*w));
    if (!w) {
        return NULL;
    }
    if (getrandom(&w->seed, sizeof(w->seed), GRND_NONBLOCK) != sizeof(w->seed)) {
        w->seed = (uint64_t)(uintptr_t)w ^ 0x9e3779b97f4a7c15ull; /* no entropy yet: still
                                                                   * only a cache key */
    }
    lru_init(&w->pairs, w->buckets, AUTH_BUCKETS);
    req_wait_list_init(&w->queue);
    t_state = w;
    (void)pthread_setspecific(state_key, w);
    return w;
}

static struct auth_pair *pair_of(struct lru_node *n)
{
    return container_of(n, struct auth_pair, node);
}

static void pair_drop(struct auth_state *w, struct auth_pair *e)
{
    lru_remove(&w->pairs, &e->node);
    sp_free(e);
}

static void wfile_free(struct wfile *wf)
{
    auth_snap_unref(wf->snap);
    auth_file_unref(wf->f);
    sp_free(wf);
}

static void state_free(void *p)
{
    struct auth_state *w = p;
    if (!w) {
        return;
    }
    for (struct lru_node *n; (n = lru_oldest(&w->pairs));) {
        struct auth_pair *e = pair_of(n);
        if (e->job) {
            e->job->w = NULL; /* a helper may still run it: it frees itself if it ends */
            e->job->e = NULL;
        }
        pair_drop(w, e);
    }
    while (w->queue.next != &w->queue) {
        req_wait_unlink(w->queue.next); /* their connections are gone by now */
    }
    while (w->files) {
        struct wfile *wf = w->files;
        w->files = wf->next;
        if (wf->job) {
            wf->job->w = NULL;
            wf->job->wf = NULL;
        }
        wfile_free(wf);
    }
    if (t_state == w) {
        t_state = NULL;
    }
    sp_free(w);
}

void auth_cache_thread_fini(void)
{
    struct auth_state *w = t_state;
    if (w) {
        (void)pthread_setspecific(state_key, NULL);
        state_free(w);
    }
}

void auth_cache_get_stats(struct auth_cache_stats *out)
{
    const struct auth_state *w = t_state;
    memset(out, 0, sizeof(*out));
    if (w) {
        *out = w->st;
        out->pairs = w->pairs.count;
        out->jobs = w->njobs;
    }
}

/* r waits for the list at head: HANDLER_LATER, or 503 where it cannot wait. */
static int wait_on(struct req *r, struct req_wait *head)
{
    if (!r->wait || r->wait->rounds >= AUTH_ROUNDS_MAX) {
        return 503;
    }
    if (!r->wait->next) {
        req_wait_link(head, r->wait);
        r->wait->rounds++;
    }
    return HANDLER_LATER;
}

static void wake_all(struct req_wait *head)
{
    struct req_wait *rw;
    while ((rw = head->next) != head) {
        req_wait_unlink(rw);
        rw->wake(rw); /* dispatched again: finds what it waited for */
    }
}

/* ---------------------------------------------------------------- the file's snapshot */

static int check_run(struct offload_job *oj)
{
    struct check_job *j = container_of(oj, struct check_job, oj);
    j->out = auth_file_refresh(j->f, &j->changed);
    return j->out ? 0 : -ENOMEM;
}

static void check_take(struct auth_state *w, struct wfile *wf, struct auth_snap *s, bool changed,
                       uint64_t now)
{
    if (!s) {
        return;
    }
    wf->checked_ms = now;
    if (s == wf->snap) {
        auth_snap_unref(s);
        return;
    }
    auth_snap_unref(wf->snap);
    wf->snap = s;
    w->st.refreshes++;
    if (changed && !s->err) {
        errlog(ERRLOG_INFO, "auth_basic_user_file \"%s\" read: %u accounts", wf->f->path, s->pw->n);
    }
}

static void check_done(struct offload_job *oj, int res)
{
    struct check_job *j = container_of(oj, struct check_job, oj);
    (void)res;
    if (j->w && j->wf) {
        j->wf->job = NULL;
        check_take(j->w, j->wf, j->out, j->changed, j->loop->now_ms);
        j->out = NULL;
        wake_all(&j->waiters);
    }
    auth_snap_unref(j->out);
    auth_file_unref(j->f);
    req_hold_end(j->hold);
    sp_free(j);
}

/* Has a helper check the file: 0 (started), -ENOSYS (done here, on the thread), -EAGAIN. */
static int check_start(struct auth_state *w, struct wfile *wf, struct req *r, bool can_wait)
{
    wf->next_check_ms = r->env->loop->now_ms + AUTH_CHECK_MS;
    struct check_job *j = sp_calloc(1, sizeof(*j));
    if (!j) {
        return -ENOMEM;
    }
    j->f = wf->f; /* run() reads it: set before the submit */
    int rc = -ENOSYS;
    if (can_wait) {
        offload_job_init(&j->oj, check_run, check_done);
        rc = offload_submit(r->env->loop, &j->oj);
    }
    if (rc < 0) {
        sp_free(j);
        if (rc == -ENOSYS) {
            /* no helper can post back (no ring) or the request cannot wait: a stat here */
            bool changed;
            check_take(w, wf, auth_file_refresh(wf->f, &changed), changed, r->env->loop->now_ms);
            return wf->snap ? -ENOSYS : -ENOMEM;
        }
        return rc;
    }
    j->w = w;
    j->wf = wf;
    j->loop = r->env->loop;
    auth_file_ref(j->f);
    req_wait_list_init(&j->waiters);
    j->hold = req_hold_keep(r); /* the worker must not exit before the job is done */
    wf->job = j;
    return 0;
}

/* Once in a while: let go of the files no request used for long (an old configuration's). */
static void sweep(struct auth_state *w, uint64_t now)
{
    if (now < w->next_sweep_ms) {
        return;
    }
    w->next_sweep_ms = now + AUTH_SWEEP_MS;
    for (struct wfile **pp = &w->files; *pp;) {
        struct wfile *wf = *pp;
        if (!wf->job && now - wf->used_ms >= AUTH_FILE_IDLE_MS) {
            *pp = wf->next;
            wfile_free(wf);
        } else {
            pp = &wf->next;
        }
    }
}

int auth_cache_snapshot(struct req *r, struct auth_file *f, struct auth_snap **out)
{
    struct auth_state *w = state_get();
    if (!w) {
        return -ENOMEM;
    }
    uint64_t now = r->env->loop->now_ms;
    sweep(w, now);
    struct wfile *wf = w->files;
    while (wf && wf->f != f) {
        wf = wf->next;
    }
    if (!wf) {
        if (!(wf = sp_calloc(1, sizeof(*wf)))) {
            return -ENOMEM;
        }
        wf->f = f;
        auth_file_ref(f);
        wf->snap = auth_file_try_latest(f); /* usually there: read at start */
        wf->next = w->files;                /* checked_ms 0: checked before the first answer */
        w->files = wf;
    }
    wf->used_ms = now;
    /* A worker that looked at the file within AUTH_STALE_MS answers from what it has and, past
     * AUTH_CHECK_MS, has it checked meanwhile; one whose last look is older (it had no request
     * there for a while) waits for the check: a removed user never gets in on an old copy. */
    bool stale = !wf->snap || now - wf->checked_ms >= AUTH_STALE_MS;
    if (!wf->job && (stale || now >= wf->next_check_ms)) {
        int rc = check_start(w, wf, r, r->wait != NULL);
        if (rc < 0 && rc != -ENOSYS && rc != -EAGAIN) {
            return rc;
        }
    }
    if (wf->job && stale && r->wait && r->wait->rounds < AUTH_ROUNDS_MAX) {
        return wait_on(r, &wf->job->waiters);
    }
    if (!wf->snap) {
        return 503; /* the helpers' queue is full, and there is nothing to answer from */
    }
    struct auth_snap *s = wf->snap;
    if (s->err) {
        uint64_t sec = r->env->loop->now_s;
        if (wf->logged_s != sec) {
            wf->logged_s = sec;
            errlog(ERRLOG_ERROR, "auth_basic_user_file: %s", s->msg);
        }
        return 500;
    }
    *out = s;
    return 0;
}

/* ---------------------------------------------------------------- verifying a pair */

static bool verify(const char *pass, const char *hash, bool known)
{
    /* an unknown user's password is hashed all the same, and refused */
    return apr_password_validate(pass, hash) == APR_SUCCESS && known;
}

static int verify_run(struct offload_job *oj)
{
    struct verify_job *j = container_of(oj, struct verify_job, oj);
    j->ok = verify(j->pass, j->hash, j->known);
    explicit_bzero(j->pass, strlen(j->pass));
    return 0;
}

static void verify_free(struct verify_job *j)
{
    explicit_bzero(j->pass, strlen(j->pass));
    auth_snap_unref(j->snap);
    sp_free(j);
}

static void pair_settle(struct auth_pair *e, int state, uint64_t now)
{
    e->state = (uint8_t)state;
    e->until_ms = now + AUTH_CACHE_VALID_MS;
}

static void verify_done(struct offload_job *oj, int res)
{
    struct verify_job *j = container_of(oj, struct verify_job, oj);
    struct auth_state *w = j->w;
    if (w && j->e) {
        struct auth_pair *e = j->e;
        e->job = NULL;
        w->njobs--;
        pair_settle(e, res < 0 ? PAIR_FAILED : j->ok ? PAIR_GOOD : PAIR_BAD, j->loop->now_ms);
        w->handoff = e; /* the requests woken take this answer, whatever it is */
        wake_all(&j->waiters);
        w->handoff = NULL;
        if (e->state != PAIR_GOOD) {
            pair_drop(w, e); /* a wrong pair is not kept: it would only push good ones out */
        }
        /* a slot is free: the first queued requests take it (each woken one either starts
         * its hash, finds its pair, or queues again only when the slots are full again) */
        while (w->njobs < AUTH_JOBS_MAX && w->queue.next != &w->queue) {
            struct req_wait *rw = w->queue.next;
            req_wait_unlink(rw);
            w->nqueued--;
            rw->wake(rw);
        }
    }
    req_hold_end(j->hold);
    verify_free(j);
}

static int answer_of(const struct auth_pair *e)
{
    return e->state == PAIR_GOOD ? 0 : e->state == PAIR_BAD ? 401 : 503;
}

static struct auth_pair *pair_find(struct auth_state *w, XXH128_hash_t k)
{
    for (struct lru_node *n = lru_first(&w->pairs, k.low64); n; n = lru_next(n)) {
        struct auth_pair *e = pair_of(n);
        if (e->k0 == k.low64 && e->k1 == k.high64) {
            return e;
        }
    }
    return NULL;
}

/* Past AUTH_CACHE_MAX, the least recently used pairs go (not one being hashed or handed off). */
static void make_room(struct auth_state *w)
{
    struct lru_node *n = lru_oldest(&w->pairs);
    while (w->pairs.count >= AUTH_CACHE_MAX && n) {
        struct lru_node *newer = lru_newer(&w->pairs, n);
        struct auth_pair *e = pair_of(n);
        if (e->state != PAIR_PENDING && e != w->handoff) {
            pair_drop(w, e); /* not the one verify_done is handing off: it still holds it */
        }
        n = newer;
    }
}

static XXH128_hash_t pair_key(const struct auth_state *w, const struct auth_snap *s,
                              struct slice user, struct slice pass)
{
    char buf[AUTH_KEY_MAX];
    size_t n = sizeof(s->gen) + user.len + 1 + pass.len;
    memcpy(buf, &s->gen, sizeof(s->gen));
    memcpy(buf + sizeof(s->gen), user.ptr, user.len);
    buf[sizeof(s->gen) + user.len] = ':';
    memcpy(buf + sizeof(s->gen) + user.len + 1, pass.ptr, pass.len);
    XXH128_hash_t k = XXH3_128bits_withSeed(buf, n, w->seed);
    explicit_bzero(buf, n);
    return k;
}

int auth_cache_verify(struct req *r, struct auth_snap *s, struct slice user, struct slice pass)
{
    struct auth_state *w = state_get();
    if (!w) {
        return -ENOMEM;
    }
    if (sizeof(s->gen) + user.len + 1 + pass.len > AUTH_KEY_MAX) {
        return 401; /* no account of ours is that long */
    }
    uint64_t now = r->env->loop->now_ms;
    XXH128_hash_t k = pair_key(w, s, user, pass);
    struct auth_pair *e = pair_find(w, k);
    if (e) {
        if (e->state == PAIR_PENDING) {
            w->st.joined++;
            return wait_on(r, &e->job->waiters);
        }
        if (e == w->handoff) {
            return answer_of(e);
        }
        if (e->state == PAIR_GOOD && now < e->until_ms) {
            lru_touch(&w->pairs, &e->node);
            w->st.hits++;
            return 0;
        }
        pair_drop(w, e);
    }
    const struct htpasswd_entry *acct = htpasswd_find(s->pw, user);
    const char *hash = acct ? acct->hash : s->dummy;
    if (!hash) {
        return 401; /* no account at all: there is nothing to find out by timing */
    }
    if (w->njobs >= AUTH_JOBS_MAX) {
        /* every slot busy: wait in line (a flooding client's connections then wait too, at
         * no cost, instead of coming back at once); past AUTH_QUEUE_MAX, 503 */
        if (!r->wait || w->nqueued >= AUTH_QUEUE_MAX || r->wait->rounds >= AUTH_ROUNDS_MAX) {
            w->st.busy++;
            return 503;
        }
        if (!r->wait->next) {
            req_wait_link(&w->queue, r->wait);
            r->wait->rounds++;
            w->nqueued++;
            w->st.queued++;
        }
        return HANDLER_LATER;
    }
    struct verify_job *j = sp_calloc(1, sizeof(*j) + pass.len + 1);
    e = j ? sp_calloc(1, sizeof(*e)) : NULL;
    if (!e) {
        sp_free(j);
        return -ENOMEM;
    }
    memcpy(j->pass, pass.ptr, pass.len);
    j->hash = hash;
    j->known = acct != NULL;
    j->snap = s;
    auth_snap_ref(s);
    w->st.hashes++;
    int rc = -ENOSYS;
    if (r->wait) {
        offload_job_init(&j->oj, verify_run, verify_done);
        rc = offload_submit(r->env->loop, &j->oj);
    }
    if (rc == -ENOSYS) {
        /* no helper can post back (no ring) or the session cannot wait: on this thread */
        bool ok = verify(j->pass, j->hash, j->known);
        verify_free(j);
        if (!ok) {
            sp_free(e);
            return 401;
        }
        make_room(w);
        e->k0 = k.low64;
        e->k1 = k.high64;
        pair_settle(e, PAIR_GOOD, now);
        lru_insert(&w->pairs, &e->node, k.low64, 0);
        return 0;
    }
    if (rc < 0) {
        verify_free(j);
        sp_free(e);
        w->st.busy++;
        return 503; /* the helpers' queue is full */
    }
    make_room(w);
    e->k0 = k.low64;
    e->k1 = k.high64;
    e->state = PAIR_PENDING;
    e->job = j;
    lru_insert(&w->pairs, &e->node, k.low64, 0);
    j->w = w;
    j->e = e;
    j->loop = r->env->loop;
    req_wait_list_init(&j->waiters);
    j->hold = req_hold_keep(r);
    w->njobs++;
    return wait_on(r, &j->waiters);
}
