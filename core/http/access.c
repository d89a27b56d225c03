/*
 * access.c - the access phase (see access.h) and the client rules: allow, deny, satisfy.
 *
 * `allow` and `deny` are two rows whose lines form one ordered list (each parsed line takes
 * the next sequence number); a block with none of either inherits its parent's whole list,
 * as nginx. finish() compiles each block's list once into a plan: a cidr table
 * (core/base/cidr.h) whose value is the position of the first address rule covering an
 * address, plus the host rules, which need the client's name and are checked only when one
 * of them comes before the address rule that matched.
 */
#include "core/http/access.h"

#include "core/base/alloc.h"
#include "core/base/cidr.h"
#include "core/conf/block.h"
#include "core/conf/print.h"
#include "core/conf/types.h"
#include "core/http/auth_basic.h"
#include "core/http/hostname.h"
#include "core/http/limit_conn.h"
#include "core/http/limit_req.h"
#include "core/http/respond.h"
#include "core/http/route.h"
#include "core/io/loop.h"
#include "log/errlog.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

enum rule_kind { RULE_ADDR, RULE_HOST, RULE_UNIX };

struct access_rule {
    uint32_t seq; /* the line's place among every allow and deny line parsed */
    bool allow;
    uint8_t kind; /* enum rule_kind */
    struct cidr_prefix p;
    char *host; /* RULE_HOST: "name" (exact) or ".example.com" (it and its subdomains) */
};

struct access_rules {
    struct access_rule *v;
    unsigned n;
    const struct conf_block *block; /* where the lines are: a child that inherits the list
                                     * shares the struct, so this tells own from inherited */
};

/* A block's rules compiled. */
struct access_plan {
    struct cidr_table *addr;   /* value: position in rules + 1 */
    struct access_rule *rules; /* in file order (borrowed from the blocks' lists) */
    unsigned n;
    unsigned first_host; /* position of the first host rule, n when none */
    bool has_unix;
};

enum satisfy { SATISFY_ALL, SATISFY_ANY };

/* limit_except METHOD ... { allow ...; deny ...; }: the rules for the other methods. */
struct access_except {
    unsigned methods;          /* HANDLER_METHOD bits of the methods named (GET brings HEAD) */
    struct access_rules rules; /* both kinds, in order (each rule says which) */
    bool set;
};

struct access_loc {
    struct access_rules allow, deny; /* the rows' fields */
    unsigned satisfy;
    struct access_except except;
    const struct access_plan *plan;        /* derived: the rules that apply here; NULL: none */
    struct access_plan *own;               /* the plan this block compiled (freed with it) */
    const struct access_plan *except_plan; /* limit_except's rules here (own or inherited) */
    struct access_plan *except_own;        /* compiled from `except` where this block set it */
    bool inner_rules; /* a block inside this one has rules of its own (a server's locations):
                       * the server's rules cannot decide at accept */
};

static unsigned access_slot;
static uint32_t next_seq; /* parse order; only ever grows, so any two lines compare */

/* ---------------------------------------------------------------- allow / deny ADDRESS */

static void rules_release(void *field)
{
    struct access_rules *l = field;
    for (unsigned i = 0; i < l->n; i++) {
        sp_free(l->v[i].host);
    }
    sp_free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* One allow or deny line (its arguments in a, n of them) appended to l. */
static int rule_add(struct conf_parse *p, bool allow, struct access_rules *l, char **a, unsigned n)
{
    const char *name = allow ? "allow" : "deny";
    struct access_rule rule = {.seq = ++next_seq, .allow = allow};
    if (n == 0 || n > 2) {
        return conf_error(p, "invalid number of arguments in \"%s\"", name);
    }
    if (n == 2) {
        if (strcmp(a[0], "host") != 0) {
            return conf_error(p,
                              "%s takes an address, a CIDR, \"all\", \"unix:\" or "
                              "\"host NAME\", not \"%s %s\"",
                              name, a[0], a[1]);
        }
        size_t len = strlen(a[1]);
        if (len == 0 || len > 253 ||
            strspn(a[1], "abcdefghijklmnopqrstuvwxyz"
                         "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != len ||
            strcmp(a[1], ".") == 0) {
            return conf_error(p, "%s host: invalid host name \"%s\"", name, a[1]);
        }
        rule.kind = RULE_HOST;
        if (!(rule.host = conf_strdup(p, a[1]))) {
            return -1;
        }
        for (char *q = rule.host; *q; q++) {
            *q = (char)tolower((unsigned char)*q);
        }
    } else if (strcmp(a[0], "unix:") == 0) {
        rule.kind = RULE_UNIX;
    } else {
        char msg[160];
        int rc = cidr_parse(a[0], &rule.p, msg, sizeof(msg));
        if (rc < 0) {
            return conf_error(p, "%s: %s", name, msg);
        }
        if (rc > 0 && conf_note(p, "%s", msg) < 0) {
            return -1;
        }
        rule.kind = RULE_ADDR;
    }
    if (l->n == 0 || (l->n >= 4 && (l->n & (l->n - 1)) == 0)) {
        /* room doubles at 4, 8, 16...: 10,000 lines are 12 copies, not 10,000 */
        size_t cap = l->n < 4 ? 4 : 2 * (size_t)l->n;
        struct access_rule *nv = sp_realloc(l->v, cap * sizeof(*nv));
        if (!nv) {
            sp_free(rule.host);
            return conf_error(p, "out of memory");
        }
        l->v = nv;
    }
    l->v[l->n++] = rule;
    l->block = p->block;
    return 0;
}

static int rules_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                       unsigned n)
{
    return rule_add(p, r->name[0] == 'a', field, a, n);
}

static void rule_text(const struct access_rule *x, char *buf, size_t cap)
{
    if (x->kind == RULE_HOST) {
        snprintf(buf, cap, "%s", x->host);
        return;
    }
    if (x->kind == RULE_UNIX) {
        snprintf(buf, cap, "unix:");
        return;
    }
    if (x->p.family == CIDR_ALL) {
        snprintf(buf, cap, "all");
        return;
    }
    char a[INET6_ADDRSTRLEN];
    inet_ntop(x->p.family == CIDR_V4 ? AF_INET : AF_INET6, x->p.addr, a, sizeof(a));
    snprintf(buf, cap, "%s/%u", a, x->p.bits);
}

static void print_rule(struct conf_out *o, const struct access_rule *x)
{
    char buf[300];
    rule_text(x, buf, sizeof(buf));
    conf_out_begin(o, x->allow ? "allow" : "deny");
    if (x->kind == RULE_HOST) {
        conf_out_arg(o, "host");
    }
    conf_out_arg(o, buf);
    conf_out_end(o);
}

/*
 * Both rows' lines go out in file order: allow's print, called when allow lines are in the
 * block, merges the block's deny lines in; deny's print then has nothing left to write.
 */
static void rules_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const struct access_rules *l = field;
    bool is_allow = r->name[0] == 'a';
    const struct access_loc *a =
        (const struct access_loc *)((const char *)field -
                                    (is_allow ? offsetof(struct access_loc, allow)
                                              : offsetof(struct access_loc, deny)));
    const struct access_rules *other = is_allow ? &a->deny : &a->allow;
    bool merged = other->n && other->block == l->block;
    if (merged && !is_allow) {
        return;
    }
    unsigned i = 0, j = 0, m = merged ? other->n : 0;
    while (i < l->n || j < m) {
        if (j == m || (i < l->n && l->v[i].seq < other->v[j].seq)) {
            print_rule(o, &l->v[i++]);
        } else {
            print_rule(o, &other->v[j++]);
        }
    }
}

static const struct conf_type rules_type = {"access rule", sizeof(struct access_rules), rules_parse,
                                            rules_print, rules_release};

/* ---------------------------------------------------------------- limit_except METHOD ... { } */

static void except_release(void *field)
{
    struct access_except *x = field;
    rules_release(&x->rules);
    x->set = false;
    x->methods = 0;
}

static int except_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                        unsigned n)
{
    (void)r;
    struct access_except *x = field;
    if (x->set && x->rules.block == p->block) {
        return conf_error(p, "\"limit_except\" directive is duplicate");
    }
    memset(x, 0, sizeof(*x)); /* an inherited one is the parent's: this block has its own */
    for (unsigned i = 0; i < n; i++) {
        enum http_method m = http_method_from(slice_cstr(a[i]));
        if (m == HTTP_METHOD_UNKNOWN || m == HTTP_CONNECT) {
            return conf_error(p, "invalid method \"%s\"", a[i]);
        }
        x->methods |= HANDLER_METHOD(m);
        if (m == HTTP_GET) {
            x->methods |= HANDLER_METHOD(HTTP_HEAD); /* as nginx: GET brings HEAD */
        }
    }
    x->set = true;
    x->rules.block = p->block;
    return 0;
}

static int except_inner(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                        unsigned n)
{
    (void)r;
    struct access_except *x = field;
    bool allow = strcmp(a[0], "allow") == 0;
    if (!allow && strcmp(a[0], "deny") != 0) {
        return conf_error(p, "\"%s\" is not supported inside limit_except (allow and deny are)",
                          a[0]);
    }
    return rule_add(p, allow, &x->rules, a + 1, n - 1);
}

static void except_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const struct access_except *x = field;
    if (!x->set) {
        return;
    }
    conf_out_begin(o, r->name);
    for (enum http_method m = HTTP_GET; m < HTTP_METHOD__COUNT; m++) {
        if ((x->methods & HANDLER_METHOD(m)) &&
            !(m == HTTP_HEAD && (x->methods & HANDLER_METHOD(HTTP_GET)))) {
            struct slice name = http_method_name(m);
            char buf[16];
            snprintf(buf, sizeof(buf), "%.*s", (int)name.len, name.ptr);
            conf_out_arg(o, buf);
        }
    }
    conf_out_open(o);
    for (unsigned i = 0; i < x->rules.n; i++) {
        print_rule(o, &x->rules.v[i]);
    }
    conf_out_close(o);
}

static const struct conf_type except_type = {"limit_except", sizeof(struct access_except),
                                             except_parse,   except_print,
                                             except_release, except_inner};

/* ---------------------------------------------------------------- compiling */

static int by_seq(const void *a, const void *b)
{
    uint32_t x = ((const struct access_rule *)a)->seq, y = ((const struct access_rule *)b)->seq;
    return x < y ? -1 : x > y;
}

static void plan_free(struct access_plan *pl)
{
    if (pl) {
        cidr_table_free(pl->addr);
        sp_free(pl->rules);
        sp_free(pl);
    }
}

/* The rules of two lists compiled, in file order. */
static struct access_plan *plan_build_lists(const struct access_rules *al,
                                            const struct access_rules *dl)
{
    struct access_plan *pl = sp_calloc(1, sizeof(*pl));
    if (!pl) {
        return NULL;
    }
    pl->n = al->n + dl->n;
    pl->rules = sp_calloc(pl->n, sizeof(*pl->rules));
    pl->addr = cidr_table_new();
    if (!pl->rules || !pl->addr) {
        plan_free(pl);
        return NULL;
    }
    if (al->n) {
        memcpy(pl->rules, al->v, al->n * sizeof(*pl->rules));
    }
    if (dl->n) {
        memcpy(pl->rules + al->n, dl->v, dl->n * sizeof(*pl->rules));
    }
    qsort(pl->rules, pl->n, sizeof(*pl->rules), by_seq);
    pl->first_host = pl->n;
    for (unsigned i = pl->n; i-- > 0;) { /* last to first: the first rule wins (cidr.h) */
        const struct access_rule *x = &pl->rules[i];
        if (x->kind == RULE_ADDR && cidr_table_add(pl->addr, &x->p, i + 1) < 0) {
            plan_free(pl);
            return NULL;
        }
        if (x->kind == RULE_HOST) {
            pl->first_host = i;
        }
        pl->has_unix |= x->kind == RULE_UNIX;
    }
    return pl;
}

/* The block's own lines (a list it inherits is not its own: nginx takes either). */
static struct access_plan *plan_build(const struct access_loc *a, const struct conf_block *b)
{
    struct access_rules none = {0};
    return plan_build_lists(a->allow.block == b ? &a->allow : &none,
                            a->deny.block == b ? &a->deny : &none);
}

/* Each block's plan: its own rules compiled, else its parent's. 0 or -ENOMEM. */
static int derive(struct conf_block *b, unsigned slot, const struct access_plan *parent,
                  const struct access_plan *parent_except)
{
    struct access_loc *a = conf_get(b, slot, CONF_STORE_LOC);
    int ra = conf_row_index(&access_module, "allow"), rd = conf_row_index(&access_module, "deny");
    bool own = conf_where_of(b, slot, (unsigned)ra).line > 0 ||
               conf_where_of(b, slot, (unsigned)rd).line > 0;
    if (own) {
        if (!(a->own = plan_build(a, b))) {
            return -ENOMEM;
        }
        a->plan = a->own;
    } else {
        a->plan = parent;
    }
    a->except_plan = parent_except; /* a nested location keeps its parent's limit_except */
    a->except_own = NULL;
    if (a->except.set && a->except.rules.block == b) {
        struct access_rules none = {0};
        if (!(a->except_own = plan_build_lists(&a->except.rules, &none))) {
            return -ENOMEM;
        }
        a->except_plan = a->except_own;
    }
    a->inner_rules = false;
    for (struct conf_block *k = b->children; k; k = k->next) {
        int rc = derive(k, slot, a->plan, a->except_plan);
        if (rc < 0) {
            return rc;
        }
        const struct access_loc *ka = conf_get(k, slot, CONF_STORE_LOC);
        a->inner_rules |= ka->own || ka->inner_rules;
    }
    return 0;
}

static void underive(struct conf_block *b, unsigned slot)
{
    struct access_loc *a = conf_get(b, slot, CONF_STORE_LOC);
    if (a) {
        plan_free(a->own);
        plan_free(a->except_own);
        a->own = NULL;
        a->plan = NULL;
        a->except_own = NULL;
        a->except_plan = NULL;
    }
    for (struct conf_block *k = b->children; k; k = k->next) {
        underive(k, slot);
    }
}

static int access_finish(struct conf *c, unsigned slot, char *err, size_t errlen)
{
    access_slot = slot;
    if (derive(c->main, slot, NULL, NULL) < 0) {
        snprintf(err, errlen, "out of memory compiling allow/deny rules");
        return -1;
    }
    return 0;
}

static void access_release(struct conf *c, unsigned slot)
{
    access_slot = slot;
    underive(c->main, slot);
}

/* ---------------------------------------------------------------- matching */

/* Does a host rule match name (lowercase, no trailing dot)? */
static bool host_match(const char *rule, struct slice name)
{
    size_t rl = strlen(rule);
    if (name.len == 0) {
        return false;
    }
    if (rule[0] == '.') {
        /* ".example.com": example.com itself and every name under it */
        if (name.len == rl - 1 && strncasecmp(name.ptr, rule + 1, rl - 1) == 0) {
            return true;
        }
        return name.len > rl && strncasecmp(name.ptr + name.len - rl, rule, rl) == 0;
    }
    return name.len == rl && strncasecmp(name.ptr, rule, rl) == 0;
}

/* The position of the first address or unix rule matching peer (n: none). */
static unsigned first_addr_rule(const struct access_plan *pl, const struct sockaddr_storage *ss)
{
    if (ss && (ss->ss_family == AF_INET || ss->ss_family == AF_INET6)) {
        uint32_t v = cidr_lookup(pl->addr, (const struct sockaddr *)ss);
        return v ? v - 1 : pl->n;
    }
    for (unsigned i = 0; i < pl->n; i++) { /* a unix socket, or an unknown peer: "all" */
        const struct access_rule *x = &pl->rules[i];
        if ((x->kind == RULE_ADDR && x->p.family == CIDR_ALL) ||
            (x->kind == RULE_UNIX && ss && ss->ss_family == AF_UNIX)) {
            return i;
        }
    }
    return pl->n;
}

/* Per worker: refusals are logged at most once a second, with how many were not. */
struct refusal_log {
    uint64_t last_s;
    uint64_t quiet;
};

static _Thread_local struct refusal_log accept_log, request_log;

static bool log_now(struct refusal_log *rl, uint64_t now_s, uint64_t *quiet)
{
    if (rl->last_s && now_s < rl->last_s + 1) {
        rl->quiet++;
        return false;
    }
    rl->last_s = now_s ? now_s : 1;
    *quiet = rl->quiet;
    rl->quiet = 0;
    return true;
}

static void peer_text(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
    snprintf(buf, cap, "unknown");
    if (ss && ss->ss_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, buf, (socklen_t)cap);
    } else if (ss && ss->ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, buf, (socklen_t)cap);
    } else if (ss && ss->ss_family == AF_UNIX) {
        snprintf(buf, cap, "unix:");
    }
}

/* What a refusal's log line says: the client, and how many lines were left out before it. */
struct refusal_text {
    char addr[INET6_ADDRSTRLEN + 8];
    char more[64];
};

/* True when this refusal is to be logged now (filling t), false when it is only counted. */
static bool refusal_now(struct refusal_log *rl, uint64_t now_s, const struct sockaddr_storage *ss,
                        struct refusal_text *t)
{
    uint64_t quiet;
    if (!log_now(rl, now_s, &quiet)) {
        return false;
    }
    peer_text(ss, t->addr, sizeof(t->addr));
    t->more[0] = '\0';
    if (quiet) {
        snprintf(t->more, sizeof(t->more), " (and %llu more since the last line)",
                 (unsigned long long)quiet);
    }
    return true;
}

/* ACCESS_NEXT (no rule matched), ACCESS_GRANTED (allow), 403 (deny), HANDLER_LATER, -ENOMEM. */
static int ip_check(struct req *r, const struct access_plan *pl)
{
    const struct sockaddr_storage *ss = r->proto->peer(r);
    unsigned pos = first_addr_rule(pl, ss);
    if (pl->first_host < pos) {
        /* a host rule comes first: it decides if the client's name matches it */
        struct slice name = SLICE_NULL;
        int rc = http_remote_host(r, &name);
        if (rc != 0) {
            return rc; /* waiting for the name, or out of memory */
        }
        for (unsigned i = pl->first_host; i < pos; i++) {
            if (pl->rules[i].kind == RULE_HOST && host_match(pl->rules[i].host, name)) {
                pos = i;
                break;
            }
        }
    }
    if (pos == pl->n) {
        return ACCESS_NEXT;
    }
    if (pl->rules[pos].allow) {
        return ACCESS_GRANTED;
    }
    struct refusal_text t;
    if (refusal_now(&request_log, r->env->loop->now_s, ss, &t)) {
        errlog(ERRLOG_ERROR, "access forbidden by rule, client: %s, request: \"%.*s\"%s", t.addr,
               (int)r->path.len, r->path.ptr, t.more);
    }
    return 403;
}

int http_access(struct req *r)
{
    const struct access_loc *a = conf_get(r->loc->block, access_slot, CONF_STORE_LOC);
    int st;
    if ((st = limit_req_check(r)) != ACCESS_NEXT) {
        return st;
    }
    if ((st = limit_conn_check(r)) != ACCESS_NEXT) {
        return st;
    }
    const struct access_plan *plan = a->plan;
    if (UNLIKELY(a->except.set)) {
        unsigned m = HANDLER_METHOD(r->method == HTTP_HEAD ? HTTP_GET : r->method);
        if (!(a->except.methods & m)) {
            plan = a->except_plan; /* a method limit_except does not name: its block's rules */
        }
    }
    int ip = plan ? ip_check(r, plan) : ACCESS_NEXT;
    if (ip < 0 || ip == HANDLER_LATER || (ip >= 300 && ip != 403)) {
        return ip;
    }
    if (a->satisfy == SATISFY_ANY && ip == ACCESS_GRANTED) {
        return ACCESS_NEXT; /* the address lets it in: no password asked */
    }
    if (a->satisfy == SATISFY_ALL && ip == 403) {
        return 403;
    }
    int auth = auth_basic_check(r);
    if (auth < 0 || auth == HANDLER_LATER) {
        return auth;
    }
    if (auth == ACCESS_GRANTED) {
        return ACCESS_NEXT;
    }
    if (auth >= 300) {
        return auth; /* 401 wins over 403 under satisfy any, so the client can log in */
    }
    return ip == 403 ? 403 : ACCESS_NEXT;
}

/* ---------------------------------------------------------------- at accept */

/* The rules that decide for every request to s, or NULL (none, or a location has its own). */
static const struct access_plan *server_plan(const struct route_server *s)
{
    const struct access_loc *a = conf_get(s->block, access_slot, CONF_STORE_LOC);
    return a && !a->inner_rules ? a->plan : NULL;
}

bool http_access_at_accept(const struct route_group *g)
{
    for (unsigned i = 0; i < g->nservers; i++) {
        if (!server_plan(g->servers[i])) {
            return false; /* a server there takes every client: decide per request */
        }
    }
    return g->nservers > 0;
}

bool http_access_accept(const struct route_group *g, const struct sockaddr_storage *peer)
{
    for (unsigned i = 0; i < g->nservers; i++) {
        const struct access_plan *pl = server_plan(g->servers[i]);
        if (!pl) {
            return true;
        }
        unsigned pos = first_addr_rule(pl, peer);
        if (pl->first_host < pos || pos == pl->n || pl->rules[pos].allow) {
            return true; /* a name decides, no rule matches, or a rule allows it */
        }
    }
    return false;
}

void http_access_log_refusal(const struct sockaddr_storage *peer, uint64_t now_s)
{
    struct refusal_text t;
    if (refusal_now(&accept_log, now_s, peer, &t)) {
        errlog(ERRLOG_INFO, "connection from %s refused at accept by the server's rules%s", t.addr,
               t.more);
    }
}

/* ---------------------------------------------------------------- the module */

#define ALL (CONF_MAIN | CONF_SERVER | CONF_LOCATION)
#define OFF(f) offsetof(struct access_loc, f)

static const char *const satisfy_keys[] = {"all", "any", NULL};

static const struct conf_row rows[] = {
    {"allow", ALL, CONF_STORE_LOC, 1, 2, CONF_MULTI, &rules_type, OFF(allow), NULL, 0, 0,
     "10.0.0.0/8", NULL},
    {"deny", ALL, CONF_STORE_LOC, 1, 2, CONF_MULTI, &rules_type, OFF(deny), NULL, 0, 0, "all",
     NULL},
    {"satisfy", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_keyword, OFF(satisfy), "all", 0, 0, "any",
     satisfy_keys},
    {"limit_except", CONF_LOCATION, CONF_STORE_LOC, 1, 9, CONF_BLOCK, &except_type, OFF(except),
     NULL, 0, 0, "GET { allow 127.0.0.1; deny all; }", NULL},
};

const struct conf_module access_module = {
    .name = "access",
    .rows = rows,
    .nrows = ARRAY_SIZE(rows),
    .size = {[CONF_STORE_LOC] = sizeof(struct access_loc)},
    .finish = access_finish,
    .release = access_release,
};
