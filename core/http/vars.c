/* vars.c - request variables and scripts (see vars.h). */
#include "core/http/vars.h"

#include "core/base/alloc.h"
#include "core/base/numfmt.h"
#include "core/http/h1_state.h"
#include "core/http/h1_write.h"
#include "core/http/h2_write.h"
#include "core/http/hostname.h"
#include "core/http/redirect_pool.h"
#include "core/http/route.h"
#include "proto/hdr_table.h"
#include "proto/uri.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* ---------------------------------------------------------------- variables */

enum var_id {
    V_SCHEME,
    V_HOST,
    V_SERVER_NAME,
    V_SERVER_PORT,
    V_SERVER_PROTOCOL,
    V_REQUEST_URI,
    V_URI,
    V_DOCUMENT_URI,
    V_ARGS,
    V_QUERY_STRING,
    V_IS_ARGS,
    V_REMOTE_ADDR,
    V_REMOTE_PORT,
    V_REMOTE_HOST,
    V_REQUEST_METHOD,
    V_CONTENT_TYPE,
    V_CONTENT_LENGTH,
    V_ARG,    /* $arg_NAME */
    V_HTTP,   /* $http_NAME */
    V_COOKIE, /* $cookie_NAME */
    V_CAPTURE,
    V_POOL,   /* $redirect_pool_NAME */
    V_REQUEST_ID,
    /* what nginx's fastcgi_params and fastcgi.conf use ($document_root: the fastcgi module) */
    V_SERVER_ADDR,
    V_HTTPS,
    V_REQUEST_SCHEME,
    V_REMOTE_USER,
    V_VERSION, /* $nginx_version, $spate_version */
    V_MODULE, /* a module's (http_vars_provide) */
};

/* The variables modules provide: a few sets, registered at start, read-only afterwards. */
#define VAR_SETS_MAX 16
static struct {
    const struct http_var_def *defs;
    unsigned n;
} var_sets[VAR_SETS_MAX];
static unsigned nvar_sets;

int http_vars_provide(const struct http_var_def *defs, unsigned n)
{
    for (unsigned i = 0; i < nvar_sets; i++) {
        if (var_sets[i].defs == defs) {
            return 0; /* already known (a second start in one process: the tests) */
        }
    }
    if (nvar_sets == VAR_SETS_MAX) {
        return -ENOSPC;
    }
    var_sets[nvar_sets].defs = defs;
    var_sets[nvar_sets].n = n;
    nvar_sets++;
    return 0;
}

static const struct {
    const char *name;
    enum var_id id;
} names[] = {
    {"scheme", V_SCHEME},
    {"host", V_HOST},
    {"server_name", V_SERVER_NAME},
    {"server_port", V_SERVER_PORT},
    {"server_protocol", V_SERVER_PROTOCOL},
    {"request_uri", V_REQUEST_URI},
    {"uri", V_URI},
    {"document_uri", V_DOCUMENT_URI},
    {"args", V_ARGS},
    {"query_string", V_QUERY_STRING},
    {"is_args", V_IS_ARGS},
    {"remote_addr", V_REMOTE_ADDR},
    {"remote_port", V_REMOTE_PORT},
    {"remote_host", V_REMOTE_HOST},
    {"request_method", V_REQUEST_METHOD},
    {"content_type", V_CONTENT_TYPE},
    {"content_length", V_CONTENT_LENGTH},
    {"request_id", V_REQUEST_ID},
    {"server_addr", V_SERVER_ADDR},
    {"https", V_HTTPS},
    {"request_scheme", V_REQUEST_SCHEME},
    {"remote_user", V_REMOTE_USER},
    {"nginx_version", V_VERSION},
    {"spate_version", V_VERSION},
};

struct var_ref {
    enum var_id id;
    struct slice arg; /* the NAME of $arg_/$http_/$cookie_ (http: '_' read as '-'), owned */
    unsigned capture;
    const struct http_var_def *def; /* V_MODULE */
};

static bool lookup(struct slice name, struct var_ref *v)
{
    memset(v, 0, sizeof(*v));
    if (name.len == 1 && name.ptr[0] >= '0' && name.ptr[0] <= '9') {
        v->id = V_CAPTURE;
        v->capture = (unsigned)(name.ptr[0] - '0');
        return true;
    }
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        if (slice_eq(name, slice_cstr(names[i].name))) {
            v->id = names[i].id;
            return true;
        }
    }
    static const struct {
        const char *prefix;
        enum var_id id;
    } pre[] = {{"arg_", V_ARG},
               {"http_", V_HTTP},
               {"cookie_", V_COOKIE},
               {"redirect_pool_", V_POOL}};
    for (size_t i = 0; i < ARRAY_SIZE(pre); i++) {
        struct slice p = slice_cstr(pre[i].prefix);
        if (name.len > p.len && slice_starts_with(name, p)) {
            v->id = pre[i].id;
            v->arg = slice_make(name.ptr + p.len, name.len - p.len);
            return true;
        }
    }
    for (unsigned k = 0; k < nvar_sets; k++) {
        for (unsigned i = 0; i < var_sets[k].n; i++) {
            const struct http_var_def *d = &var_sets[k].defs[i];
            struct slice p = slice_cstr(d->name);
            if (d->prefix ? name.len > p.len && slice_starts_with(name, p) : slice_eq(name, p)) {
                v->id = V_MODULE;
                v->def = d;
                v->arg = slice_make(name.ptr + p.len, name.len - p.len);
                return true;
            }
        }
    }
    return false;
}

bool http_var_known(struct slice name)
{
    struct var_ref v;
    return lookup(name, &v);
}

/* The Host without its port, lowercased (nginx's $host), else the server's first name. */
static struct slice host_value(struct req *r)
{
    struct slice h = uri_host_name(r->msg ? r->msg->host : SLICE_NULL);
    if (h.len) {
        char *p = arena_alloc(r->arena, h.len);
        if (!p) {
            return SLICE_NULL;
        }
        for (size_t i = 0; i < h.len; i++) {
            p[i] = slice_lower_ascii(h.ptr[i]);
        }
        return slice_make(p, h.len);
    }
    if (r->server && r->server->nnames && r->server->names[0][0] != '*' &&
        r->server->names[0][0] != '.') {
        return slice_cstr(r->server->names[0]);
    }
    return SLICE_NULL;
}

static struct slice num_value(struct req *r, uint64_t v)
{
    char *p = arena_alloc(r->arena, 24);
    return p ? slice_make(p, num_u64_to_dec(p, v)) : SLICE_NULL;
}

static struct slice addr_value(struct req *r, bool port)
{
    const struct sockaddr_storage *ss = r->proto->peer ? r->proto->peer(r) : NULL;
    if (!ss) {
        return SLICE_NULL;
    }
    if (port) {
        uint16_t p = ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
                                                : ((const struct sockaddr_in *)ss)->sin_port;
        return num_value(r, ntohs(p));
    }
    char *buf = arena_alloc(r->arena, INET6_ADDRSTRLEN);
    if (!buf) {
        return SLICE_NULL;
    }
    const void *a = ss->ss_family == AF_INET6
                        ? (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr
                        : (const void *)&((const struct sockaddr_in *)ss)->sin_addr;
    if (!inet_ntop(ss->ss_family, a, buf, INET6_ADDRSTRLEN)) {
        return SLICE_NULL;
    }
    return slice_cstr(buf);
}

/* A request field by a $http_ name: '_' stands for '-', case does not matter. */
static struct slice field_value(struct req *r, struct slice name)
{
    char buf[128];
    if (!r->msg || name.len > sizeof(buf)) {
        return SLICE_NULL;
    }
    for (size_t i = 0; i < name.len; i++) {
        buf[i] = name.ptr[i] == '_' ? '-' : name.ptr[i];
    }
    const struct http_header *f = hdr_get(&r->msg->headers, slice_make(buf, name.len));
    return f ? f->value : SLICE_NULL;
}

/* 32 hex digits, random, the same for every use in one request (nginx's $request_id). */
static struct slice request_id(struct req *r)
{
    static __thread uint64_t state[2];
    if (!r->request_id) {
        if (!state[0] && !state[1]) {
            if (getrandom(state, sizeof(state), 0) != sizeof(state)) {
                state[0] = (uint64_t)(uintptr_t)&state ^ (uint64_t)time(NULL);
            }
            state[1] |= 1;
        }
        char *p = arena_alloc(r->arena, 33);
        if (!p) {
            return SLICE_NULL;
        }
        for (int half = 0; half < 2; half++) {
            /* xorshift128+: not a secret, only unique enough to name a request */
            uint64_t s1 = state[0];
            const uint64_t s0 = state[1];
            state[0] = s0;
            s1 ^= s1 << 23;
            state[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
            uint64_t x = state[1] + s0;
            for (int i = 0; i < 16; i++) {
                p[half * 16 + i] = "0123456789abcdef"[(x >> (60 - 4 * i)) & 15];
            }
        }
        p[32] = '\0';
        r->request_id = p;
    }
    return slice_make(r->request_id, 32);
}

/* $server_addr: the address the request arrived at (the socket's own under a wildcard). */
static struct slice server_addr(struct req *r)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (r->group) {
        memcpy(&ss, &r->group->addr.ss, sizeof(ss));
    } else {
        memset(&ss, 0, sizeof(ss));
    }
    bool wild = ss.ss_family == AF_INET
                    ? ((struct sockaddr_in *)&ss)->sin_addr.s_addr == htonl(INADDR_ANY)
                    : ss.ss_family != AF_INET6 ||
                          IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&ss)->sin6_addr);
    int fd = !wild                   ? -1
             : r->proto == &h1_proto ? ((struct h1_conn *)r->proto_data)->c.tr.fd
             : r->proto == &h2_proto ? h2_req_fd(r)
                                     : -1;
    if (fd >= 0 && getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        return SLICE_NULL;
    }
    char *buf = arena_alloc(r->arena, INET6_ADDRSTRLEN);
    if (!buf) {
        return SLICE_NULL;
    }
    const void *a = ss.ss_family == AF_INET6
                        ? (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr
                        : (const void *)&((struct sockaddr_in *)&ss)->sin_addr;
    if ((ss.ss_family != AF_INET && ss.ss_family != AF_INET6) ||
        !inet_ntop(ss.ss_family, a, buf, INET6_ADDRSTRLEN)) {
        return SLICE_NULL;
    }
    return slice_cstr(buf);
}

static struct slice ref_value(struct req *r, const struct var_ref *v)
{
    const struct http_request *m = r->msg;
    switch (v->id) {
    case V_MODULE:
        return v->def->get(r, v->arg);
    case V_SCHEME:
        return r->secure ? SLICE_LIT("https") : SLICE_LIT("http");
    case V_HOST:
        return host_value(r);
    case V_SERVER_NAME:
        return r->server && r->server->nnames ? slice_cstr(r->server->names[0]) : SLICE_NULL;
    case V_SERVER_PORT:
        return num_value(r, http_local_port(r));
    case V_SERVER_PROTOCOL:
        return r->h2              ? SLICE_LIT("HTTP/2.0")
               : r->version_minor ? SLICE_LIT("HTTP/1.1")
                                  : SLICE_LIT("HTTP/1.0");
    case V_REQUEST_URI:
        return m ? m->target : SLICE_NULL;
    case V_URI:
    case V_DOCUMENT_URI:
        return r->path;
    case V_ARGS:
    case V_QUERY_STRING:
        return r->args;
    case V_IS_ARGS:
        return r->args.len ? SLICE_LIT("?") : SLICE_NULL;
    case V_REMOTE_ADDR:
        return addr_value(r, false);
    case V_REMOTE_PORT:
        return addr_value(r, true);
    case V_REMOTE_HOST: {
        struct slice name;
        return http_remote_host_known(r, &name) ? name : addr_value(r, false);
    }
    case V_REQUEST_METHOD:
        return m ? m->method_token : SLICE_NULL;
    case V_CONTENT_TYPE: {
        const struct http_header *f = m ? hdr_get(&m->headers, SLICE_LIT("content-type")) : NULL;
        return f ? f->value : SLICE_NULL;
    }
    case V_CONTENT_LENGTH: {
        const struct http_header *f = m ? hdr_get_known(&m->headers, HDR_CONTENT_LENGTH) : NULL;
        return f ? f->value : SLICE_NULL;
    }
    case V_ARG:
        return uri_param(r->args, v->arg, '&');
    case V_HTTP:
        return field_value(r, v->arg);
    case V_COOKIE: {
        if (!m) {
            return SLICE_NULL;
        }
        for (const struct http_header *f = hdr_get(&m->headers, SLICE_LIT("cookie")); f;
             f = hdr_next_dup(&m->headers, f)) {
            struct slice s = uri_param(f->value, v->arg, ';');
            if (s.ptr) {
                return s;
            }
        }
        return SLICE_NULL;
    }
    case V_POOL:
        return http_pool_pick(r, v->arg);
    case V_REQUEST_ID:
        return request_id(r);
    case V_SERVER_ADDR:
        return server_addr(r);
    case V_HTTPS:
        return r->secure ? SLICE_LIT("on") : SLICE_NULL; /* nginx's: "on" or "" */
    case V_REQUEST_SCHEME:
        return r->secure ? SLICE_LIT("https") : SLICE_LIT("http");
    case V_REMOTE_USER:
        return r->remote_user;
    case V_VERSION:
        return SLICE_LIT(SPATE_VERSION);
    case V_CAPTURE: {
        const struct http_captures *c = r->caps;
        if (!c || v->capture >= c->n || c->ov[2 * v->capture] == (size_t)-1) {
            return SLICE_NULL;
        }
        size_t a = c->ov[2 * v->capture], b = c->ov[2 * v->capture + 1];
        return slice_make(c->subject.ptr + a, b - a);
    }
    }
    return SLICE_NULL;
}

unsigned http_local_port(struct req *r)
{
    unsigned p = r->proto->local_port ? r->proto->local_port(r) : 0;
    return p ? p : r->group ? net_addr_port(&r->group->addr) : 0;
}

bool http_var_get(struct req *r, struct slice name, struct slice *out)
{
    struct var_ref v;
    if (!lookup(name, &v)) {
        return false;
    }
    *out = ref_value(r, &v);
    return true;
}

/* ---------------------------------------------------------------- scripts */

struct part {
    struct slice lit; /* literal bytes (owned by the script's text copy), when !is_var */
    bool is_var;
    struct var_ref var;
};

struct http_script {
    char *text; /* a copy: parts point into it */
    struct part *parts;
    unsigned nparts;
    int max_capture;
    struct slice prefix;
};

static bool name_byte(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_';
}

int http_script_compile(struct http_script **out, const char *text, char *err, size_t errlen)
{
    struct http_script *s = sp_calloc(1, sizeof(*s));
    size_t len = strlen(text);
    if (!s || !(s->text = sp_strndup(text, len)) ||
        !(s->parts = sp_calloc(len + 1, sizeof(*s->parts)))) {
        http_script_free(s);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->max_capture = -1;
    const char *t = s->text;
    size_t i = 0;
    bool prefix_done = false;
    while (i < len) {
        size_t start = i;
        while (i < len && t[i] != '$') {
            i++;
        }
        if (i > start) {
            s->parts[s->nparts++] = (struct part){.lit = slice_make(t + start, i - start)};
        }
        if (i >= len) {
            break;
        }
        if (!prefix_done) {
            s->prefix = slice_make(t, i);
            prefix_done = true;
        }
        i++; /* '$' */
        struct slice name;
        if (i < len && t[i] == '{') {
            const char *close = memchr(t + i, '}', len - i);
            if (!close) {
                snprintf(err, errlen, "the variable name in \"%s\" has no closing \"}\"", text);
                http_script_free(s);
                return -1;
            }
            name = slice_make(t + i + 1, (size_t)(close - t - i - 1));
            i = (size_t)(close - t) + 1;
        } else if (i < len && t[i] >= '0' && t[i] <= '9') {
            name = slice_make(t + i, 1); /* $1 is one digit: "$10" is $1 then "0" */
            i++;
        } else {
            size_t ns = i;
            while (i < len && name_byte(t[i])) {
                i++;
            }
            name = slice_make(t + ns, i - ns);
        }
        struct part p = {.is_var = true};
        if (!name.len || !lookup(name, &p.var)) {
            snprintf(err, errlen, "unknown variable \"$%.*s\" in \"%s\"", (int)name.len,
                     name.ptr, text);
            http_script_free(s);
            return -1;
        }
        if (s->nparts + 2 > HTTP_SCRIPT_PARTS_MAX) {
            snprintf(err, errlen, "more than %d variables and texts in \"%.64s...\"",
                     HTTP_SCRIPT_PARTS_MAX, text);
            http_script_free(s);
            return -1;
        }
        if (p.var.id == V_CAPTURE && (int)p.var.capture > s->max_capture) {
            s->max_capture = (int)p.var.capture;
        }
        s->parts[s->nparts++] = p;
    }
    if (!prefix_done) {
        s->prefix = slice_make(t, len);
    }
    *out = s;
    return 0;
}

void http_script_free(struct http_script *s)
{
    if (s) {
        sp_free(s->parts);
        sp_free(s->text);
        sp_free(s);
    }
}

bool http_script_literal(const struct http_script *s)
{
    return s->nparts == 0 || (s->nparts == 1 && !s->parts[0].is_var);
}

int http_script_max_capture(const struct http_script *s)
{
    return s->max_capture;
}

struct slice http_script_prefix(const struct http_script *s)
{
    return s->prefix;
}

int http_script_eval(struct req *r, const struct http_script *s, enum http_script_escape esc,
                     struct slice *out)
{
    if (http_script_literal(s)) {
        *out = s->nparts ? s->parts[0].lit : SLICE_LIT("");
        return 0;
    }
    struct slice vals[HTTP_SCRIPT_PARTS_MAX];
    size_t total = 0;
    unsigned n = s->nparts; /* at most HTTP_SCRIPT_PARTS_MAX: compile refuses more */
    for (unsigned i = 0; i < n; i++) {
        const struct part *p = &s->parts[i];
        vals[i] = p->is_var ? ref_value(r, &p->var) : p->lit;
        size_t k = vals[i].len;
        if (p->is_var && esc == HTTP_SCRIPT_ESC_URI) {
            k *= 3;
        }
        total += k;
    }
    char *buf = arena_alloc(r->arena, total + 1);
    if (!buf) {
        return -ENOMEM;
    }
    size_t o = 0;
    for (unsigned i = 0; i < n; i++) {
        struct slice v = vals[i];
        if (s->parts[i].is_var && esc == HTTP_SCRIPT_ESC_URI) {
            /* a decoded value ($uri, captures of it) must also keep '%', '?' and '#' from
             * meaning something; $args, $request_uri and fields are sent as they came */
            enum var_id id = s->parts[i].var.id;
            bool decoded = id == V_URI || id == V_DOCUMENT_URI || id == V_CAPTURE;
            o += uri_escape(buf + o, v, decoded ? URI_ESC_PATH : URI_ESC_TARGET);
        } else if (v.len) {
            memcpy(buf + o, v.ptr, v.len);
            o += v.len;
        }
    }
    buf[o] = '\0';
    *out = slice_make(buf, o);
    return 0;
}
