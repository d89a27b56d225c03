/* limit_zone.c - see limit_zone.h. */
#include "core/http/limit_zone.h"

#include "core/base/alloc.h"
#include "core/conf/print.h"
#include "core/http/vars.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- lines as written */

static int lines_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                       unsigned n)
{
    (void)r;
    struct limit_lines *l = field;
    struct limit_line *v = sp_realloc(l->v, (l->n + 1) * sizeof(*v));
    if (!v) {
        return conf_error(p, "out of memory");
    }
    l->v = v;
    struct limit_line *x = &v[l->n];
    *x = (struct limit_line){sp_calloc(n ? n : 1, sizeof(char *)), n, {p->file, p->line}};
    if (!x->args) {
        return conf_error(p, "out of memory");
    }
    l->n++;
    for (unsigned i = 0; i < n; i++) {
        if (!(x->args[i] = conf_strdup(p, a[i]))) {
            return -1;
        }
    }
    return 0;
}

static void lines_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const struct limit_lines *l = field;
    for (unsigned i = 0; i < l->n; i++) {
        conf_out_begin(o, r->name);
        for (unsigned k = 0; k < l->v[i].nargs; k++) {
            conf_out_arg(o, l->v[i].args[k]);
        }
        conf_out_end(o);
    }
}

static void lines_release(void *field)
{
    struct limit_lines *l = field;
    for (unsigned i = 0; i < l->n; i++) {
        for (unsigned k = 0; k < l->v[i].nargs; k++) {
            sp_free(l->v[i].args[k]);
        }
        sp_free(l->v[i].args);
    }
    sp_free(l->v);
    *l = (struct limit_lines){0};
}

const struct conf_type limit_lines_type = {
    "limit lines", sizeof(struct limit_lines), lines_parse, lines_print, lines_release, NULL};

/* ---------------------------------------------------------------- zones kept across reloads */

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct limit_zone *registry; /* declared by some configuration, or still counting */

static void zone_free(struct limit_zone *z)
{
    keyslots_fini(&z->t);
    sp_free(z->name);
    sp_free(z);
}

/* Frees zones no configuration declares that no request counts in any more (lock held). */
static void sweep(void)
{
    for (struct limit_zone **pz = &registry; *pz;) {
        struct limit_zone *z = *pz;
        if (z->refs == 0 && (z->kind != LIMIT_ZONE_CONN || !keyslots_any_value(&z->t))) {
            *pz = z->next;
            zone_free(z);
        } else {
            pz = &z->next;
        }
    }
}

static struct limit_zone *zone_get(enum limit_zone_kind kind, const char *name, uint64_t size)
{
    pthread_mutex_lock(&registry_lock);
    sweep();
    struct limit_zone *z = registry;
    for (; z; z = z->next) {
        if (z->kind == kind && z->size == size && !strcmp(z->name, name)) {
            break;
        }
    }
    if (!z && (z = sp_calloc(1, sizeof(*z)))) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
        z->kind = kind;
        z->size = size;
        z->epoch_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
        if (!(z->name = sp_strndup(name, strlen(name))) || keyslots_init(&z->t, size) < 0) {
            zone_free(z);
            z = NULL;
        } else {
            z->next = registry;
            registry = z;
        }
    }
    if (z) {
        z->refs++;
    }
    pthread_mutex_unlock(&registry_lock);
    return z;
}

static void zone_put(struct limit_zone *z)
{
    pthread_mutex_lock(&registry_lock);
    z->refs--;
    sweep();
    pthread_mutex_unlock(&registry_lock);
}

/* ---------------------------------------------------------------- declarations */

/* "10r/s", "30r/m" -> thousandths of a request per second. */
static int parse_rate(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (end == s || errno || v == 0 || v > 1000000 || *s == '-') {
        return -1;
    }
    if (!strcmp(end, "r/s")) {
        *out = (uint32_t)(v * 1000);
    } else if (!strcmp(end, "r/m")) {
        *out = (uint32_t)(v * 1000 / 60);
        *out = *out ? *out : 1;
    } else {
        return -1;
    }
    return 0;
}

static int build_one(const struct limit_line *l, enum limit_zone_kind kind, struct limit_decl *d,
                     char *err, size_t errlen)
{
    const char *dir = kind == LIMIT_ZONE_REQ ? "limit_req_zone" : "limit_conn_zone";
    const char *key = NULL, *zone = NULL, *rate = NULL;
    for (unsigned i = 0; i < l->nargs; i++) {
        const char *a = l->args[i];
        if (!strncmp(a, "zone=", 5)) {
            zone = a + 5;
        } else if (!strncmp(a, "rate=", 5) && kind == LIMIT_ZONE_REQ) {
            rate = a + 5;
        } else if (!key && i == 0) {
            key = a;
        } else if (!strcmp(a, "sync")) {
            return conf_fail_at(err, errlen, l->where, "%s: \"sync\" is nginx Plus's; remove it",
                                dir);
        } else {
            return conf_fail_at(err, errlen, l->where, "%s: invalid parameter \"%s\"", dir, a);
        }
    }
    if (!key || !zone) {
        return conf_fail_at(err, errlen, l->where, "%s KEY zone=NAME:SIZE%s", dir,
                            kind == LIMIT_ZONE_REQ ? " rate=N(r/s|r/m)" : "");
    }
    const char *colon = strchr(zone, ':');
    uint64_t size;
    if (!colon || colon == zone || conf_parse_size(colon + 1, &size) < 0) {
        return conf_fail_at(err, errlen, l->where, "%s: invalid zone size in \"zone=%s\"", dir,
                            zone);
    }
    if (size < (32u << 10)) {
        return conf_fail_at(err, errlen, l->where, "%s: zone \"%.*s\" is too small (32k at least)",
                            dir, (int)(colon - zone), zone);
    }
    if (size > ((uint64_t)1 << 35)) {
        return conf_fail_at(err, errlen, l->where, "%s: zone \"%.*s\" is too large (32g at most)",
                            dir, (int)(colon - zone), zone);
    }
    if (kind == LIMIT_ZONE_REQ && (!rate || parse_rate(rate, &d->rate) < 0)) {
        return conf_fail_at(err, errlen, l->where,
                            "%s: %s rate \"%s\" (a number of requests with r/s or r/m: 10r/s)", dir,
                            rate ? "invalid" : "no", rate ? rate : "");
    }
    d->where = l->where;
    if (!(d->name = sp_strndup(zone, (size_t)(colon - zone)))) {
        return conf_fail_at(err, errlen, l->where, "out of memory");
    }
    if (strcmp(key, "$binary_remote_addr") != 0) {
        char why[CONF_ERR_MAX];
        if (http_script_compile(&d->key, key, why, sizeof(why)) < 0) {
            return conf_fail_at(err, errlen, l->where, "%s: %s", dir, why);
        }
        if (http_script_literal(d->key)) {
            return conf_fail_at(err, errlen, l->where,
                                "%s: the key \"%s\" holds no variable: every client would count "
                                "as one",
                                dir, key);
        }
    }
    if (!(d->zone = zone_get(kind, d->name, size))) {
        return conf_fail_at(err, errlen, l->where, "%s: out of memory for zone \"%s\"", dir,
                            d->name);
    }
    return 0;
}

int limit_decls_build(const struct limit_lines *lines, enum limit_zone_kind kind,
                      struct limit_decl **decls, unsigned *n, char *err, size_t errlen)
{
    *decls = NULL;
    *n = 0;
    if (!lines->n) {
        return 0;
    }
    struct limit_decl *v = sp_calloc(lines->n, sizeof(*v));
    if (!v) {
        return conf_fail_at(err, errlen, lines->v[0].where, "out of memory");
    }
    *decls = v;
    for (unsigned i = 0; i < lines->n; i++) {
        struct limit_decl tmp = {0};
        int rc = build_one(&lines->v[i], kind, &tmp, err, errlen);
        struct limit_decl *dup = rc == 0 ? limit_decl_find(v, *n, tmp.name) : NULL;
        v[(*n)++] = tmp; /* freed with the rest, whatever happened */
        if (rc < 0) {
            return -1;
        }
        if (dup) {
            return conf_fail_at(err, errlen, tmp.where,
                                "%s: zone \"%s\" is already declared at %s:%d",
                                kind == LIMIT_ZONE_REQ ? "limit_req_zone" : "limit_conn_zone",
                                tmp.name, dup->where.file, dup->where.line);
        }
    }
    return 0;
}

void limit_decls_free(struct limit_decl *decls, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (decls[i].zone) {
            zone_put(decls[i].zone);
        }
        http_script_free(decls[i].key);
        sp_free(decls[i].name);
    }
    sp_free(decls);
}

struct limit_decl *limit_decl_find(struct limit_decl *decls, unsigned n, const char *name)
{
    for (unsigned i = 0; i < n; i++) {
        if (decls[i].name && !strcmp(decls[i].name, name)) {
            return &decls[i];
        }
    }
    return NULL;
}

/* ---------------------------------------------------------------- per request */

int limit_key(struct req *r, const struct limit_decl *d, struct slice *out)
{
    if (d->key) {
        return http_script_eval(r, d->key, HTTP_SCRIPT_RAW, out);
    }
    const struct sockaddr_storage *ss = r->proto->peer ? r->proto->peer(r) : NULL;
    if (!ss) {
        *out = SLICE_NULL;
    } else if (ss->ss_family == AF_INET6) {
        *out = slice_make((const char *)&((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
    } else if (ss->ss_family == AF_INET) {
        *out = slice_make((const char *)&((const struct sockaddr_in *)ss)->sin_addr, 4);
    } else {
        *out = SLICE_NULL; /* a unix socket: no address (nginx counts none either) */
    }
    return 0;
}

const char *limit_client(struct req *r, char *buf)
{
    struct slice s;
    if (!http_var_get(r, SLICE_LIT("remote_addr"), &s) || !s.len) {
        return "-";
    }
    snprintf(buf, 64, "%.*s", (int)s.len, s.ptr);
    return buf;
}
