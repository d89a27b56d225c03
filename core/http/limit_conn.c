/* limit_conn.c - see limit_conn.h. */
#include "core/http/limit_conn.h"

#include "core/base/alloc.h"
#include "core/base/hash.h"
#include "core/conf/types.h"
#include "core/http/access_step.h"
#include "core/http/limit_zone.h"
#include "core/http/route.h"
#include "log/errlog.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RULES_MAX 16

struct lc_rule {
    const struct limit_decl *decl;
    uint32_t max;
};

struct lc_plan {
    unsigned n;
    struct lc_rule rules[];
};

struct lc_main {
    struct limit_lines zones;
    struct limit_decl *decls; /* derived */
    unsigned ndecls;
};

struct lc_loc {
    struct limit_lines lines;
    uint32_t status;
    unsigned level;
    bool dry_run;
    struct lc_plan *plan; /* derived: this block's, or its parent's */
    bool own;
};

static int slot = -1;

static const char *const level_keys[] = {"info", "notice", "warn", "error", NULL};
static const int levels[] = {ERRLOG_INFO, ERRLOG_NOTICE, ERRLOG_WARN, ERRLOG_ERROR};

#define ALL (CONF_MAIN | CONF_SERVER | CONF_LOCATION)

enum { R_ZONE, R_CONN, R_STATUS, R_LEVEL, R_DRY };

static const struct conf_row rows[] = {
    [R_ZONE] = {"limit_conn_zone", CONF_MAIN, CONF_STORE_MAIN, 2, 2, CONF_MULTI, &limit_lines_type,
                offsetof(struct lc_main, zones), NULL, 0, 0, "$binary_remote_addr zone=addr:1m",
                NULL},
    [R_CONN] = {"limit_conn", ALL, CONF_STORE_LOC, 2, 2, CONF_MULTI, &limit_lines_type,
                offsetof(struct lc_loc, lines), NULL, 0, 0, "addr 10", NULL},
    [R_STATUS] = {"limit_conn_status", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_u32,
                  offsetof(struct lc_loc, status), "503", 400, 599, "429", NULL},
    [R_LEVEL] = {"limit_conn_log_level", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_keyword,
                 offsetof(struct lc_loc, level), "error", 0, 0, "warn", level_keys},
    [R_DRY] = {"limit_conn_dry_run", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_flag,
               offsetof(struct lc_loc, dry_run), "off", 0, 0, "on", NULL},
};

/* ---------------------------------------------------------------- finishing */

static int build_rule(const struct limit_line *l, struct lc_main *m, struct lc_rule *rule,
                      char *err, size_t errlen)
{
    rule->decl = limit_decl_find(m->decls, m->ndecls, l->args[0]);
    if (!rule->decl) {
        return conf_fail_at(err, errlen, l->where,
                            "limit_conn: unknown zone \"%s\" (declare it with limit_conn_zone)",
                            l->args[0]);
    }
    char *end;
    unsigned long v = strtoul(l->args[1], &end, 10);
    if (end == l->args[1] || *end || l->args[1][0] == '-' || v == 0 || v > 65535) {
        return conf_fail_at(err, errlen, l->where,
                            "limit_conn: invalid number of connections \"%s\" (1..65535)",
                            l->args[1]);
    }
    rule->max = (uint32_t)v;
    return 0;
}

static int derive(struct conf_block *b, struct lc_main *m, const struct lc_plan *parent, char *err,
                  size_t errlen)
{
    struct lc_loc *lc = conf_get(b, (unsigned)slot, CONF_STORE_LOC);
    lc->plan = (struct lc_plan *)parent;
    lc->own = false;
    if (conf_where_of(b, (unsigned)slot, R_CONN).line > 0 && lc->lines.n) {
        if (lc->lines.n > RULES_MAX) {
            return conf_fail_at(err, errlen, lc->lines.v[RULES_MAX].where,
                                "limit_conn: more than %d in one block", RULES_MAX);
        }
        struct lc_plan *pl = sp_calloc(1, sizeof(*pl) + lc->lines.n * sizeof(pl->rules[0]));
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
                                        "limit_conn: zone \"%s\" twice in one block",
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

static int lc_finish(struct conf *c, unsigned s, char *err, size_t errlen)
{
    slot = (int)s;
    struct lc_main *m = conf_main(c, (unsigned)slot);
    if (limit_decls_build(&m->zones, LIMIT_ZONE_CONN, &m->decls, &m->ndecls, err, errlen) < 0) {
        return -1;
    }
    return derive(c->main, m, NULL, err, errlen);
}

static void underive(struct conf_block *b)
{
    struct lc_loc *lc = conf_get(b, (unsigned)slot, CONF_STORE_LOC);
    if (lc->own) {
        sp_free(lc->plan);
    }
    lc->plan = NULL;
    lc->own = false;
    for (struct conf_block *k = b->children; k; k = k->next) {
        underive(k);
    }
}

static void lc_release(struct conf *c, unsigned s)
{
    slot = (int)s;
    underive(c->main);
    struct lc_main *m = conf_main(c, (unsigned)slot);
    limit_decls_free(m->decls, m->ndecls);
    m->decls = NULL;
    m->ndecls = 0;
}

const struct conf_module limit_conn_module = {
    .name = "limit_conn",
    .rows = rows,
    .nrows = ARRAY_SIZE(rows),
    .size = {[CONF_STORE_MAIN] = sizeof(struct lc_main), [CONF_STORE_LOC] = sizeof(struct lc_loc)},
    .finish = lc_finish,
    .release = lc_release,
};

/* ---------------------------------------------------------------- counting */

struct step_arg {
    uint32_t max; /* the count may not go past it (+1), or 0 to go down by one */
    uint32_t now;
    bool up, refused;
    uint32_t value; /* the count after the step (or the one that refused) */
};

static bool step(uint64_t old, uint64_t *out, void *arg)
{
    struct step_arg *a = arg;
    uint32_t v = keyslots_value(old);
    a->refused = false;
    a->value = v;
    if (a->up && (v >= a->max || v >= KEYSLOTS_VALUE_MAX)) {
        a->refused = true;
        return false;
    }
    if (!a->up && v == 0) {
        return false; /* a bug elsewhere; never wrap */
    }
    a->value = a->up ? v + 1 : v - 1;
    *out = keyslots_pack(keyslots_gen(old), a->value, a->now);
    return true;
}

static bool idle(uint64_t st, void *arg)
{
    (void)arg;
    return keyslots_value(st) == 0;
}

/* A busy key keeps its slot: with the window full of them, the request is refused. */
static const struct keyslots_ops ops = {step, idle, false};

/* What a request holds, undone when it ends: memory of its own (not the arena). */
struct held {
    struct req_end e;
    unsigned n;

    struct {
        struct limit_zone *z; /* a zone with a count in it is never freed (limit_zone.c) */
        uint64_t hash;
        uint32_t idx;
    } v[RULES_MAX];
};

static void release_held(struct req_end *e)
{
    struct held *h = container_of(e, struct held, e);
    for (unsigned i = 0; i < h->n; i++) {
        struct step_arg a = {0, 0, false, false, 0};
        (void)keyslots_apply_at(&h->v[i].z->t, h->v[i].idx, h->v[i].hash, &ops, &a);
    }
    sp_free(h);
}

static void say(struct req *r, const struct lc_loc *lc, const char *what,
                const struct lc_rule *rule)
{
    int level = levels[lc->level];
    if (!errlog_enabled(level)) {
        return;
    }
    char client[64];
    errlog(level, "%s%s by zone \"%s\", client: %s, request: \"%.*s\"", what,
           lc->dry_run ? ", dry run" : "", rule->decl->name, limit_client(r, client),
           (int)r->path.len, r->path.ptr);
}

int limit_conn_check(struct req *r)
{
    if (slot < 0) {
        return ACCESS_NEXT;
    }
    const struct lc_loc *lc = conf_get(r->loc->block, (unsigned)slot, CONF_STORE_LOC);
    const struct lc_plan *pl = lc->plan;
    if (!pl || (r->wait && (r->wait->passed & ACCESS_PASSED_LIMIT_CONN))) {
        return ACCESS_NEXT;
    }
    struct held *h = sp_malloc(sizeof(*h));
    if (!h) {
        return -ENOMEM;
    }
    h->e.fn = release_held;
    h->n = 0;
    for (unsigned i = 0; i < pl->n; i++) {
        const struct lc_rule *rule = &pl->rules[i];
        struct slice key;
        if (limit_key(r, rule->decl, &key) < 0) {
            h->e.fn(&h->e);
            return -ENOMEM;
        }
        if (!key.len) {
            continue; /* nginx: an empty key is not counted */
        }
        struct limit_zone *z = rule->decl->zone;
        uint64_t hash = hash_bytes(key.ptr, key.len);
        struct step_arg a = {lc->dry_run ? KEYSLOTS_VALUE_MAX : rule->max,
                             limit_zone_now(z, r->env->loop->now_ms), true, false, 0};
        long idx = keyslots_apply(&z->t, hash, a.now, &ops, &a);
        if (idx < 0 || a.refused) {
            say(r, lc, idx < 0 ? "limiting connections, the zone is full" : "limiting connections",
                rule);
            h->e.fn(&h->e); /* what the earlier rules counted goes back */
            return (int)lc->status;
        }
        h->v[h->n].z = z;
        h->v[h->n].hash = hash;
        h->v[h->n].idx = (uint32_t)idx;
        h->n++;
        if (lc->dry_run && a.value > rule->max) {
            say(r, lc, "limiting connections", rule);
        }
    }
    if (!h->n) {
        sp_free(h);
        return ACCESS_NEXT;
    }
    req_on_end(r, &h->e);
    if (r->wait) {
        r->wait->passed |= ACCESS_PASSED_LIMIT_CONN;
    }
    return ACCESS_NEXT;
}
