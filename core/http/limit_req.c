/* limit_req.c - see limit_req.h. */
#include "core/http/limit_req.h"

#include "core/base/alloc.h"
#include "core/base/bucket.h"
#include "core/base/hash.h"
#include "core/conf/types.h"
#include "core/http/access_step.h"
#include "core/http/handler.h"
#include "core/http/limit_zone.h"
#include "core/http/route.h"
#include "core/io/loop.h"
#include "log/errlog.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define RULES_MAX 16

struct lr_rule {
    const struct limit_decl *decl;
    struct bucket_rule b;
};

struct lr_plan {
    unsigned n;
    struct lr_rule rules[];
};

struct lr_main {
    struct limit_lines zones;
    struct limit_decl *decls; /* derived */
    unsigned ndecls;
};

struct lr_loc {
    struct limit_lines lines;
    uint32_t status;
    unsigned level; /* index into levels[] */
    bool dry_run;
    struct lr_plan *plan; /* derived: this block's, or its parent's */
    bool own;
};

static int slot = -1;

static const char *const level_keys[] = {"info", "notice", "warn", "error", NULL};
static const int levels[] = {ERRLOG_INFO, ERRLOG_NOTICE, ERRLOG_WARN, ERRLOG_ERROR};

#define ALL (CONF_MAIN | CONF_SERVER | CONF_LOCATION)

enum { R_ZONE, R_REQ, R_STATUS, R_LEVEL, R_DRY };

static const struct conf_row rows[] = {
    [R_ZONE] = {"limit_req_zone", CONF_MAIN, CONF_STORE_MAIN, 2, 4, CONF_MULTI, &limit_lines_type,
                offsetof(struct lr_main, zones), NULL, 0, 0,
                "$binary_remote_addr zone=one:1m rate=10r/s", NULL},
    [R_REQ] = {"limit_req", ALL, CONF_STORE_LOC, 1, 3, CONF_MULTI, &limit_lines_type,
               offsetof(struct lr_loc, lines), NULL, 0, 0, "zone=one burst=5 nodelay", NULL},
    [R_STATUS] = {"limit_req_status", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_u32,
                  offsetof(struct lr_loc, status), "503", 400, 599, "429", NULL},
    [R_LEVEL] = {"limit_req_log_level", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_keyword,
                 offsetof(struct lr_loc, level), "error", 0, 0, "warn", level_keys},
    [R_DRY] = {"limit_req_dry_run", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_flag,
               offsetof(struct lr_loc, dry_run), "off", 0, 0, "on", NULL},
};

/* ---------------------------------------------------------------- finishing */

static int parse_num(const char *s, uint32_t max, uint32_t *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (end == s || *end || *s == '-' || v > max) {
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static int build_rule(const struct limit_line *l, struct lr_main *m, struct lr_rule *rule,
                      char *err, size_t errlen)
{
    const char *zone = NULL;
    bool nodelay = false, delay_set = false;
    *rule = (struct lr_rule){0};
    for (unsigned i = 0; i < l->nargs; i++) {
        const char *a = l->args[i];
        if (!strncmp(a, "zone=", 5)) {
            zone = a + 5;
        } else if (!strncmp(a, "burst=", 6)) {
            if (parse_num(a + 6, BUCKET_BURST_MAX, &rule->b.burst) < 0) {
                return conf_fail_at(err, errlen, l->where,
                                    "limit_req: invalid burst \"%s\" (0..%u)", a + 6,
                                    BUCKET_BURST_MAX);
            }
        } else if (!strncmp(a, "delay=", 6)) {
            if (parse_num(a + 6, BUCKET_BURST_MAX, &rule->b.delay) < 0) {
                return conf_fail_at(err, errlen, l->where,
                                    "limit_req: invalid delay \"%s\" (0..%u)", a + 6,
                                    BUCKET_BURST_MAX);
            }
            delay_set = true;
        } else if (!strcmp(a, "nodelay")) {
            nodelay = true;
        } else {
            return conf_fail_at(err, errlen, l->where, "limit_req: invalid parameter \"%s\"", a);
        }
    }
    if (nodelay && delay_set) {
        return conf_fail_at(err, errlen, l->where, "limit_req: nodelay and delay= together");
    }
    if (!zone) {
        return conf_fail_at(err, errlen, l->where,
                            "limit_req zone=NAME [burst=N] [nodelay | delay=N]");
    }
    rule->decl = limit_decl_find(m->decls, m->ndecls, zone);
    if (!rule->decl) {
        return conf_fail_at(err, errlen, l->where,
                            "limit_req: unknown zone \"%s\" (declare it with limit_req_zone)",
                            zone);
    }
    rule->b.rate = rule->decl->rate;
    if (nodelay) {
        rule->b.delay = rule->b.burst;
    }
    return 0;
}

static int derive(struct conf_block *b, struct lr_main *m, const struct lr_plan *parent, char *err,
                  size_t errlen)
{
    struct lr_loc *lc = conf_get(b, (unsigned)slot, CONF_STORE_LOC);
    lc->plan = (struct lr_plan *)parent;
    lc->own = false;
    if (conf_where_of(b, (unsigned)slot, R_REQ).line > 0 && lc->lines.n) {
        /* nginx: a block with limit_req lines of its own uses those, none of its parent's */
        if (lc->lines.n > RULES_MAX) {
            return conf_fail_at(err, errlen, lc->lines.v[RULES_MAX].where,
                                "limit_req: more than %d in one block", RULES_MAX);
        }
        struct lr_plan *pl = sp_calloc(1, sizeof(*pl) + lc->lines.n * sizeof(pl->rules[0]));
        if (!pl) {
            return conf_fail_at(err, errlen, b->where, "out of memory");
        }
        lc->plan = pl;
        lc->own = true;
        for (unsigned i = 0; i < lc->lines.n; i++) {
            if (build_rule(&lc->lines.v[i], m, &pl->rules[i], err, errlen) < 0) {
                return -1;
            }
            for (unsigned k = 0; k < i; k++) {
                if (pl->rules[k].decl == pl->rules[i].decl) {
                    return conf_fail_at(err, errlen, lc->lines.v[i].where,
                                        "limit_req: zone \"%s\" twice in one block",
                                        pl->rules[i].decl->name);
                }
            }
            pl->n++;
        }
    }
    for (struct conf_block *k = b->children; k; k = k->next) {
        if (derive(k, m, lc->plan, err, errlen) < 0) {
            return -1;
        }
    }
    return 0;
}

static int lr_finish(struct conf *c, unsigned s, char *err, size_t errlen)
{
    slot = (int)s;
    struct lr_main *m = conf_main(c, (unsigned)slot);
    if (limit_decls_build(&m->zones, LIMIT_ZONE_REQ, &m->decls, &m->ndecls, err, errlen) < 0) {
        return -1;
    }
    return derive(c->main, m, NULL, err, errlen);
}

static void underive(struct conf_block *b)
{
    struct lr_loc *lc = conf_get(b, (unsigned)slot, CONF_STORE_LOC);
    if (lc->own) {
        sp_free(lc->plan);
    }
    lc->plan = NULL;
    lc->own = false;
    for (struct conf_block *k = b->children; k; k = k->next) {
        underive(k);
    }
}

static void lr_release(struct conf *c, unsigned s)
{
    slot = (int)s;
    underive(c->main);
    struct lr_main *m = conf_main(c, (unsigned)slot);
    limit_decls_free(m->decls, m->ndecls);
    m->decls = NULL;
    m->ndecls = 0;
}

const struct conf_module limit_req_module = {
    .name = "limit_req",
    .rows = rows,
    .nrows = ARRAY_SIZE(rows),
    .size = {[CONF_STORE_MAIN] = sizeof(struct lr_main), [CONF_STORE_LOC] = sizeof(struct lr_loc)},
    .finish = lr_finish,
    .release = lr_release,
};

/* ---------------------------------------------------------------- waiting requests */

/*
 * A delayed request: r->wait is linked into `head` (a list of one), so the session can unlink
 * it if the connection goes first; the node stays in the worker's heap until its time, then
 * wakes whoever is still linked and is freed.
 */
struct waiter {
    struct req_wait head;
    uint64_t due_ms;
};

struct waiters {
    struct io_loop *loop;
    struct io_sleep sleep;
    bool armed;
    uint64_t armed_due;
    struct waiter **heap; /* a min-heap by due_ms */
    unsigned n, cap;
};

static pthread_key_t waiters_key;
static pthread_once_t waiters_once = PTHREAD_ONCE_INIT;
static _Thread_local struct waiters *tls;

static void waiters_free(void *p)
{
    struct waiters *w = p;
    for (unsigned i = 0; i < w->n; i++) {
        if (w->heap[i]->head.next != &w->heap[i]->head) {
            req_wait_unlink(w->heap[i]->head.next); /* a request nobody will wake now */
        }
        sp_free(w->heap[i]);
    }
    sp_free(w->heap);
    sp_free(w);
}

static void waiters_key_make(void)
{
    (void)pthread_key_create(&waiters_key, waiters_free);
}

static void heap_up(struct waiters *w, unsigned i)
{
    while (i && w->heap[(i - 1) / 2]->due_ms > w->heap[i]->due_ms) {
        struct waiter *t = w->heap[i];
        w->heap[i] = w->heap[(i - 1) / 2];
        w->heap[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static struct waiter *heap_pop(struct waiters *w)
{
    struct waiter *top = w->heap[0];
    w->heap[0] = w->heap[--w->n];
    for (unsigned i = 0;;) {
        unsigned l = 2 * i + 1, r = l + 1, m = i;
        if (l < w->n && w->heap[l]->due_ms < w->heap[m]->due_ms) {
            m = l;
        }
        if (r < w->n && w->heap[r]->due_ms < w->heap[m]->due_ms) {
            m = r;
        }
        if (m == i) {
            break;
        }
        struct waiter *t = w->heap[i];
        w->heap[i] = w->heap[m];
        w->heap[m] = t;
        i = m;
    }
    return top;
}

/* Wakes up to this early: the loop's clock is coarse (a few ms per tick). */
#define EARLY_MS 2

static void arm(struct waiters *w)
{
    if (!w->n) {
        return;
    }
    uint64_t due = w->heap[0]->due_ms;
    if (w->armed) {
        if (due < w->armed_due) {
            io_cancel(w->loop, &w->sleep.op); /* it completes now; on_sleep arms again */
            w->armed_due = due;
        }
        return;
    }
    uint64_t now = w->loop->now_ms;
    io_sleep(w->loop, &w->sleep, due > now + EARLY_MS ? due - now : EARLY_MS);
    w->armed = true;
    w->armed_due = due;
}

static void on_sleep(struct io_op *op, int res, unsigned flags)
{
    (void)res, (void)flags;
    struct waiters *w = container_of(op, struct waiters, sleep.op);
    w->armed = false;
    while (w->n && w->heap[0]->due_ms <= w->loop->now_ms + EARLY_MS) {
        struct waiter *x = heap_pop(w);
        struct req_wait *rw = x->head.next != &x->head ? x->head.next : NULL;
        if (rw) {
            req_wait_unlink(rw);
        }
        sp_free(x);
        if (rw) {
            rw->wake(rw); /* dispatched again: limit_req lets it by (ACCESS_PASSED_LIMIT_REQ) */
        }
    }
    arm(w);
}

/* Links r->wait to wake at due_ms. 0 or -ENOMEM. */
static int wait_until(struct req *r, uint64_t due_ms)
{
    struct waiters *w = tls;
    if (!w) {
        (void)pthread_once(&waiters_once, waiters_key_make);
        if (!(w = sp_calloc(1, sizeof(*w)))) {
            return -ENOMEM;
        }
        w->loop = r->env->loop;
        io_op_init(&w->sleep.op, on_sleep);
        tls = w;
        (void)pthread_setspecific(waiters_key, w); /* freed when the thread ends */
    }
    if (w->n == w->cap) {
        unsigned cap = w->cap ? w->cap * 2 : 64;
        struct waiter **h = sp_realloc(w->heap, cap * sizeof(*h));
        if (!h) {
            return -ENOMEM;
        }
        w->heap = h;
        w->cap = cap;
    }
    struct waiter *x = sp_malloc(sizeof(*x));
    if (!x) {
        return -ENOMEM;
    }
    x->due_ms = due_ms;
    req_wait_list_init(&x->head);
    req_wait_link(&x->head, r->wait);
    w->heap[w->n++] = x;
    heap_up(w, w->n - 1);
    arm(w);
    return 0;
}

/* ---------------------------------------------------------------- the step */

struct step_arg {
    const struct bucket_rule *b;
    uint32_t now;
    bool refund;
    enum bucket_verdict v;
    uint32_t wait, excess;
};

static bool step(uint64_t old, uint64_t *out, void *arg)
{
    struct step_arg *a = arg;
    struct bucket_state s = {keyslots_value(old), keyslots_time(old)}, next;
    if (a->refund) {
        next = bucket_refund(a->b, s, a->now);
    } else {
        a->v = bucket_take(a->b, s, a->now, &next, &a->wait);
        a->excess = a->v == BUCKET_BUSY ? bucket_leaked(a->b, s, a->now) + BUCKET_ONE : next.excess;
        if (a->v == BUCKET_BUSY) {
            return false;
        }
    }
    *out = keyslots_pack(keyslots_gen(old), next.excess, next.last);
    return true;
}

static bool idle(uint64_t st, void *arg)
{
    const struct step_arg *a = arg;
    struct bucket_state s = {keyslots_value(st), keyslots_time(st)};
    return bucket_idle(a->b, s, a->now);
}

/* limit_req keeps counting when the window is full: the least recently used key goes. */
static const struct keyslots_ops ops = {step, idle, true};

static void say(struct req *r, const struct lr_loc *lc, int level, const char *what,
                const struct lr_rule *rule, uint32_t excess)
{
    if (!errlog_enabled(level)) {
        return;
    }
    char client[64];
    errlog(level, "%s%s, excess: %u.%03u by zone \"%s\", client: %s, request: \"%.*s\"", what,
           lc->dry_run ? ", dry run" : "", excess / 1000, excess % 1000, rule->decl->name,
           limit_client(r, client), (int)r->path.len, r->path.ptr);
}

int limit_req_check(struct req *r)
{
    if (slot < 0) {
        return ACCESS_NEXT;
    }
    const struct lr_loc *lc = conf_get(r->loc->block, (unsigned)slot, CONF_STORE_LOC);
    const struct lr_plan *pl = lc->plan;
    if (!pl || (r->wait && (r->wait->passed & ACCESS_PASSED_LIMIT_REQ))) {
        return ACCESS_NEXT;
    }

    struct {
        struct limit_zone *z;
        uint64_t hash;
        struct step_arg a;
    } took[RULES_MAX];

    unsigned ntook = 0;
    uint32_t wait = 0, wait_excess = 0;
    const struct lr_rule *wait_rule = NULL;
    for (unsigned i = 0; i < pl->n; i++) {
        const struct lr_rule *rule = &pl->rules[i];
        struct slice key;
        if (limit_key(r, rule->decl, &key) < 0) {
            return -ENOMEM;
        }
        if (!key.len) {
            continue; /* nginx: an empty key is not counted */
        }
        struct limit_zone *z = rule->decl->zone;
        uint64_t h = hash_bytes(key.ptr, key.len);
        struct step_arg a = {&rule->b, limit_zone_now(z, r->env->loop->now_ms), false, 0, 0, 0};
        (void)keyslots_apply(&z->t, h, a.now, &ops, &a); /* never refuses: it evicts */
        if (a.v == BUCKET_BUSY) {
            say(r, lc, levels[lc->level], "limiting requests", rule, a.excess);
            if (lc->dry_run) {
                continue;
            }
            /* what the earlier rules counted is given back: this request was not served */
            for (unsigned k = 0; k < ntook; k++) {
                took[k].a.refund = true;
                (void)keyslots_apply(&took[k].z->t, took[k].hash, took[k].a.now, &ops, &took[k].a);
            }
            return (int)lc->status;
        }
        took[ntook].z = z;
        took[ntook].hash = h;
        took[ntook].a = a;
        ntook++;
        if (a.wait > wait) {
            wait = a.wait;
            wait_rule = rule;
            wait_excess = a.excess;
        }
    }
    if (r->wait) {
        r->wait->passed |= ACCESS_PASSED_LIMIT_REQ;
    }
    if (wait && !lc->dry_run && r->wait) {
        /* nginx logs a delay one level below a refusal */
        int lv = levels[lc->level] > ERRLOG_INFO ? levels[lc->level] - 1 : ERRLOG_DEBUG;
        say(r, lc, lv, "delaying request", wait_rule, wait_excess);
        if (wait_until(r, r->env->loop->now_ms + wait) < 0) {
            return -ENOMEM;
        }
        return HANDLER_LATER;
    }
    return ACCESS_NEXT; /* without r->wait the session cannot wait: as nodelay */
}
