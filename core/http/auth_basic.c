/* auth_basic.c - the auth_basic module and the access phase's password step (see auth_basic.h). */
#include "core/http/auth_basic.h"

#include "core/base/alloc.h"
#include "core/conf/types.h"
#include "core/http/access_step.h"
#include "core/http/auth_cache.h"
#include "core/http/auth_file.h"
#include "core/http/respond.h"
#include "core/http/route.h"
#include "core/io/loop.h"
#include "core/io/offload.h"
#include "log/errlog.h"

#include <apr_general.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AUTH_B64_MAX 2800 /* base64 characters of user:password (AUTH_KEY_MAX bytes decoded) */

struct auth_loc {
    char *realm;          /* "off": none */
    char *file;           /* absolute */
    struct auth_file *af; /* derived by finish: the file, when auth_basic is on here */
};

/* The main block's: every file of the configuration (each held once). */
struct auth_main {
    struct auth_file **files;
    unsigned nfiles;
    bool used; /* offload_use() was called */
};

static int slot = -1;

/* ---------------------------------------------------------------- directives */

static int realm_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                       unsigned n)
{
    for (const char *c = a[0]; *c; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            return conf_error(p, "%s: a realm cannot hold a control character", r->name);
        }
    }
    return conf_str.parse(p, r, field, a, n);
}

static void realm_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    conf_str.print(o, r, field);
}

static void realm_release(void *field)
{
    conf_str.release(field);
}

static const struct conf_type realm_type = {"realm", sizeof(char *), realm_parse, realm_print,
                                            realm_release};

#define ALL (CONF_MAIN | CONF_SERVER | CONF_LOCATION)
#define OFF(f) offsetof(struct auth_loc, f)

static const struct conf_row rows[] = {
    {"auth_basic", ALL, CONF_STORE_LOC, 1, 1, 0, &realm_type, OFF(realm), "off", 0, 0,
     "\"Staff only\"", NULL},
    {"auth_basic_user_file", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_path_t, OFF(file), NULL, 0, 0,
     "htpasswd", NULL},
};

static bool realm_on(const struct auth_loc *a)
{
    return a && a->realm && strcmp(a->realm, "off") != 0;
}

/* Where the row's value that applies in b was written (b's own line, or an ancestor's). */
static struct conf_where where_set(const struct conf_block *b, unsigned row)
{
    for (; b; b = b->parent) {
        struct conf_where w = conf_where_of(b, (unsigned)slot, row);
        if (w.line != 0) {
            return w;
        }
    }
    return (struct conf_where){"(default)", CONF_LINE_DEFAULT};
}

/* The file object for path, made (and read, on this thread) the first time it is named. */
static struct auth_file *file_for(struct auth_main *m, const char *path, struct conf_where at,
                                  char *err, size_t errlen)
{
    for (unsigned i = 0; i < m->nfiles; i++) {
        if (strcmp(m->files[i]->path, path) == 0) {
            return m->files[i];
        }
    }
    struct auth_file **nv = sp_realloc(m->files, (m->nfiles + 1) * sizeof(*nv));
    struct auth_file *f = nv ? auth_file_new(path) : NULL;
    if (nv) {
        m->files = nv;
    }
    if (!f) {
        conf_fail_at(err, errlen, at, "out of memory");
        return NULL;
    }
    m->files[m->nfiles++] = f;
    bool changed;
    struct auth_snap *s = auth_file_refresh(f, &changed);
    if (!s) {
        conf_fail_at(err, errlen, at, "out of memory");
        return NULL;
    }
    int rc = s->err;
    if (rc == -EINVAL) {
        /* a plaintext password or a line that is no account: the file's own line */
        snprintf(err, errlen, "%s (auth_basic_user_file at %s:%d)", s->msg, at.file, at.line);
        auth_snap_unref(s);
        return NULL;
    }
    if (rc < 0) {
        errlog(ERRLOG_WARN,
               "%s:%d: auth_basic_user_file: %s: requests there get 500 until it "
               "can be read",
               at.file, at.line, s->msg);
    }
    auth_snap_unref(s);
    return f;
}

static int derive(struct conf_block *b, struct auth_main *m, char *err, size_t errlen)
{
    struct auth_loc *a = conf_get(b, (unsigned)slot, CONF_STORE_LOC);
    if (a && realm_on(a)) {
        int ri = conf_row_index(&auth_basic_module, "auth_basic");
        int fi = conf_row_index(&auth_basic_module, "auth_basic_user_file");
        if (!a->file) {
            return conf_fail_at(err, errlen, where_set(b, (unsigned)ri),
                                "auth_basic is on, but no auth_basic_user_file applies to this "
                                "block (or to a location inside it)");
        }
        if (!(a->af = file_for(m, a->file, where_set(b, (unsigned)fi), err, errlen))) {
            return -1;
        }
    }
    for (struct conf_block *k = b->children; k; k = k->next) {
        if (derive(k, m, err, errlen) < 0) {
            return -1;
        }
    }
    return 0;
}

static void underive(struct conf_block *b)
{
    struct auth_loc *a = conf_get(b, (unsigned)slot, CONF_STORE_LOC);
    if (a) {
        a->af = NULL;
    }
    for (struct conf_block *k = b->children; k; k = k->next) {
        underive(k);
    }
}

static void apr_once(void)
{
    static bool done;
    if (!done && apr_initialize() == APR_SUCCESS) {
        done = true;
        atexit(apr_terminate);
    }
}

static int auth_finish(struct conf *c, unsigned s, char *err, size_t errlen)
{
    slot = (int)s;
    struct auth_main *m = conf_main(c, s);
    if (derive(c->main, m, err, errlen) < 0) {
        return -1;
    }
    if (m->nfiles) {
        apr_once(); /* libaprutil's password check needs it, once, on the main thread */
        offload_use();
        m->used = true;
    }
    return 0;
}

static void auth_release(struct conf *c, unsigned s)
{
    slot = (int)s;
    struct auth_main *m = conf_main(c, s);
    underive(c->main);
    if (!m) {
        return;
    }
    for (unsigned i = 0; i < m->nfiles; i++) {
        auth_file_unref(m->files[i]); /* workers' references keep it while they use it */
    }
    sp_free(m->files);
    m->files = NULL;
    m->nfiles = 0;
    if (m->used) {
        (void)offload_unuse();
        m->used = false;
    }
}

const struct conf_module auth_basic_module = {
    .name = "auth_basic",
    .rows = rows,
    .nrows = ARRAY_SIZE(rows),
    .size =
        {[CONF_STORE_MAIN] = sizeof(struct auth_main), [CONF_STORE_LOC] = sizeof(struct auth_loc)},
    .finish = auth_finish,
    .release = auth_release,
};

/* ---------------------------------------------------------------- the request */

static const struct auth_loc *loc_conf(const struct route_loc *l)
{
    if (slot < 0 || !l || !l->block) {
        return NULL;
    }
    return conf_get(l->block, (unsigned)slot, CONF_STORE_LOC);
}

bool auth_basic_on(const struct route_loc *l)
{
    const struct auth_loc *a = loc_conf(l);
    return a && a->af;
}

void auth_basic_each_file(const struct conf *c, void (*each)(void *arg, const char *path),
                          void *arg)
{
    int s = conf_slot(c, &auth_basic_module);
    const struct auth_main *m = s < 0 ? NULL : conf_main(c, (unsigned)s);
    for (unsigned i = 0; m && i < m->nfiles; i++) {
        each(arg, m->files[i]->path);
    }
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Standard base64 (RFC 4648 4), padding optional: the bytes, or -1 when it is not base64. */
static long b64_decode(struct slice in, char *out)
{
    size_t n = in.len;
    while (n > 0 && in.ptr[n - 1] == '=' && in.len - n < 2) {
        n--;
    }
    if ((n % 4) == 1 || (in.len != n && in.len % 4 != 0)) {
        return -1;
    }
    long o = 0;
    uint32_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value(in.ptr[i]);
        if (v < 0) {
            return -1;
        }
        acc = (acc << 6) | (uint32_t)v;
        if (i % 4 == 3) {
            out[o++] = (char)(acc >> 16);
            out[o++] = (char)(acc >> 8);
            out[o++] = (char)acc;
            acc = 0;
        }
    }
    if (n % 4 == 2) {
        out[o++] = (char)(acc >> 4);
    } else if (n % 4 == 3) {
        out[o++] = (char)(acc >> 10);
        out[o++] = (char)(acc >> 2);
    }
    return o;
}

/* The credentials of an `Authorization: Basic ...` field: 0 with *user and *pass (views into
 * buf), or -1 (no such field, another scheme, not base64, no colon). */
static int credentials(const struct req *r, char *buf, struct slice *user, struct slice *pass)
{
    if (!r->msg) {
        return -1;
    }
    const struct http_header *h = hdr_get_known(&r->msg->headers, HDR_AUTHORIZATION);
    if (!h) {
        return -1;
    }
    struct slice v = h->value;
    if (v.len < 6 || strncasecmp(v.ptr, "Basic", 5) != 0 || (v.ptr[5] != ' ' && v.ptr[5] != '\t')) {
        return -1;
    }
    size_t i = 6;
    while (i < v.len && (v.ptr[i] == ' ' || v.ptr[i] == '\t')) {
        i++;
    }
    struct slice tok = slice_make(v.ptr + i, v.len - i);
    if (tok.len == 0 || tok.len > AUTH_B64_MAX) {
        return -1;
    }
    long n = b64_decode(tok, buf);
    if (n < 0) {
        return -1;
    }
    const char *colon = memchr(buf, ':', (size_t)n);
    if (!colon || colon == buf || memchr(buf, '\0', (size_t)n)) {
        return -1; /* no user, or a NUL no account can hold */
    }
    *user = slice_make(buf, (size_t)(colon - buf));
    *pass = slice_make(colon + 1, (size_t)(n - (colon + 1 - buf)));
    return 0;
}

/* `Basic realm="REALM", charset="UTF-8"` with '"' and '\' escaped (RFC 9110 5.6.4). */
static int challenge(struct req *r, const char *realm)
{
    size_t n = strlen(realm);
    char *v = arena_alloc(r->arena, 2 * n + 48);
    if (!v) {
        return -ENOMEM;
    }
    size_t o = 0;
    memcpy(v, "Basic realm=\"", 13);
    o = 13;
    for (size_t i = 0; i < n; i++) {
        if (realm[i] == '"' || realm[i] == '\\') {
            v[o++] = '\\';
        }
        v[o++] = realm[i];
    }
    static const char tail[] = "\", charset=\"UTF-8\"";
    memcpy(v + o, tail, sizeof(tail) - 1);
    o += sizeof(tail) - 1;
    if (resp_field(r, SLICE_LIT("WWW-Authenticate"), slice_make(v, o)) < 0) {
        return 500;
    }
    return 401;
}

/* Per worker: refusals are logged at most once a second, with how many were not. */
static _Thread_local uint64_t refusal_last_s, refusal_quiet;

static void log_refusal(struct req *r, struct slice user, const char *why)
{
    uint64_t now = (uint64_t)r->env->loop->now_s;
    if (refusal_last_s == now) {
        refusal_quiet++;
        return;
    }
    char more[64] = "";
    if (refusal_quiet) {
        snprintf(more, sizeof(more), " (and %llu more since the last line)",
                 (unsigned long long)refusal_quiet);
    }
    refusal_last_s = now;
    refusal_quiet = 0;
    char name[65]; /* the client's bytes: printable ASCII only into the log */
    size_t n = user.len < sizeof(name) - 1 ? user.len : sizeof(name) - 1;
    for (size_t i = 0; i < n; i++) {
        char c = user.ptr[i];
        name[i] = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? c : '?';
    }
    name[n] = '\0';
    errlog(ERRLOG_ERROR, "auth_basic: user \"%s\": %s, request: \"%.*s\"%s", name, why,
           (int)r->path.len, r->path.ptr, more);
}

/* 503: the helpers are busy for now. */
static int busy(struct req *r)
{
    if (resp_field(r, SLICE_LIT("Retry-After"), SLICE_LIT("1")) < 0) {
        return 503; /* no room for the field: the status alone */
    }
    return 503;
}

int auth_basic_check(struct req *r)
{
    const struct auth_loc *a = loc_conf(r->loc);
    if (!a || !a->af) {
        return ACCESS_NEXT;
    }
    struct auth_snap *s;
    int rc = auth_cache_snapshot(r, a->af, &s);
    if (rc != 0) {
        return rc == 503 ? busy(r) : rc;
    }
    char buf[AUTH_B64_MAX / 4 * 3 + 3];
    struct slice user, pass;
    if (credentials(r, buf, &user, &pass) < 0) {
        explicit_bzero(buf, sizeof(buf));
        return challenge(r, a->realm);
    }
    rc = auth_cache_verify(r, s, user, pass);
    if (rc == 0) {
        char *u = arena_alloc(r->arena, user.len + 1);
        if (!u) {
            rc = -ENOMEM;
        } else {
            memcpy(u, user.ptr, user.len);
            u[user.len] = '\0';
            r->remote_user = slice_make(u, user.len);
            rc = ACCESS_GRANTED;
        }
    } else if (rc == 401) {
        log_refusal(r, user, "password mismatch or unknown user");
        rc = challenge(r, a->realm);
    } else if (rc == 503) {
        rc = busy(r);
    }
    explicit_bzero(buf, sizeof(buf));
    return rc;
}
