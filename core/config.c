/* config.c - see config.h. */
#include "core/config.h"

#include "core/base/alloc.h"
#include "log/errlog.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CTX_MAIN = 1, CTX_SERVER = 2, CTX_LOCATION = 4 };

/* ---------------------------------------------------------------- tokenizer */

struct tok {
    char *text; /* NUL-terminated, unquoted */
    int line;
    char kind; /* 'w' word, ';', '{', '}' */
};

struct parser {
    const char *name; /* file name for messages */
    const char *src;
    size_t pos, len;
    int line;
    struct tok *toks;
    size_t ntoks, cap, cur;
    char *err;
    size_t errlen;
    struct cfg *cfg;
    struct cfg_server *server; /* current server block */
    struct cfg_location *loc;  /* current location block */
    bool from_file;            /* relative paths resolve against name's directory */
};

PRINTF_LIKE(3, 4)

static int fail(struct parser *p, int line, const char *fmt, ...)
{
    char msg[CFG_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errlen, "%s:%d: %s", p->name, line, msg);
    return -1;
}

static int push_tok(struct parser *p, char kind, const char *s, size_t n, int line)
{
    if (p->ntoks == p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : 64;
        struct tok *t = sp_realloc(p->toks, ncap * sizeof(*t));
        if (!t) {
            return fail(p, line, "out of memory");
        }
        p->toks = t;
        p->cap = ncap;
    }
    char *text = sp_strndup(s, n);
    if (!text) {
        return fail(p, line, "out of memory");
    }
    p->toks[p->ntoks++] = (struct tok){text, line, kind};
    return 0;
}

/* Reads a quoted string starting at the quote; handles \" \\ \n \t. */
static int lex_quoted(struct parser *p)
{
    char q = p->src[p->pos++];
    int line = p->line;
    size_t cap = 64, n = 0;
    char *buf = sp_malloc(cap);
    if (!buf) {
        return fail(p, line, "out of memory");
    }
    for (;;) {
        if (p->pos >= p->len) {
            sp_free(buf);
            return fail(p, line, "unterminated quoted string");
        }
        char c = p->src[p->pos++];
        if (c == q) {
            break;
        }
        if (c == '\n') {
            p->line++;
        }
        if (c == '\\' && p->pos < p->len) {
            char e = p->src[p->pos++];
            c = e == 'n' ? '\n' : e == 't' ? '\t' : e;
        }
        if (n + 1 >= cap) {
            cap *= 2;
            char *nb = sp_realloc(buf, cap);
            if (!nb) {
                sp_free(buf);
                return fail(p, line, "out of memory");
            }
            buf = nb;
        }
        buf[n++] = c;
    }
    int rc = push_tok(p, 'w', buf, n, line);
    sp_free(buf);
    return rc;
}

static int lex(struct parser *p)
{
    while (p->pos < p->len) {
        char c = p->src[p->pos];
        if (c == '\n') {
            p->line++;
            p->pos++;
        } else if (c == ' ' || c == '\t' || c == '\r') {
            p->pos++;
        } else if (c == '#') {
            while (p->pos < p->len && p->src[p->pos] != '\n') {
                p->pos++;
            }
        } else if (c == ';' || c == '{' || c == '}') {
            if (push_tok(p, c, &c, 1, p->line) < 0) {
                return -1;
            }
            p->pos++;
        } else if (c == '"' || c == '\'') {
            if (lex_quoted(p) < 0) {
                return -1;
            }
        } else if (c == '\0') {
            return fail(p, p->line, "NUL byte in configuration");
        } else {
            size_t s = p->pos;
            while (p->pos < p->len && !strchr(" \t\r\n;{}#\"'", p->src[p->pos]) &&
                   p->src[p->pos] != '\0') {
                p->pos++;
            }
            if (push_tok(p, 'w', p->src + s, p->pos - s, p->line) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- value parsers */

/* The decimal number at the start of s (no sign, no space); *end is what follows. 0 or -1. */
static int leading_number(const char *s, unsigned long long *v, char **end)
{
    if (!isdigit((unsigned char)s[0])) {
        return -1;
    }
    errno = 0;
    *v = strtoull(s, end, 10);
    return errno ? -1 : 0;
}

int cfg_parse_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    if (leading_number(s, &v, &end) < 0) {
        return -1;
    }
    uint64_t mul = 1;
    if (*end == 'k' || *end == 'K') {
        mul = 1024;
        end++;
    } else if (*end == 'm' || *end == 'M') {
        mul = 1024 * 1024;
        end++;
    } else if (*end == 'g' || *end == 'G') {
        mul = 1024ull * 1024 * 1024;
        end++;
    }
    if (*end != '\0' || v > UINT64_MAX / mul) {
        return -1;
    }
    *out = v * mul;
    return 0;
}

int cfg_parse_time_ms(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    if (leading_number(s, &v, &end) < 0) {
        return -1;
    }
    uint64_t mul;
    if (strcmp(end, "ms") == 0) {
        mul = 1;
    } else if (*end == '\0' || strcmp(end, "s") == 0) {
        mul = 1000;
    } else if (strcmp(end, "m") == 0) {
        mul = 60000;
    } else if (strcmp(end, "h") == 0) {
        mul = 3600000;
    } else if (strcmp(end, "d") == 0) {
        mul = 86400000;
    } else {
        return -1;
    }
    if (v > UINT64_MAX / mul) {
        return -1;
    }
    *out = v * mul;
    return 0;
}

int cfg_parse_listen(const char *s, struct cfg_listen *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    char host[64] = "";
    const char *port;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof(host)) {
            snprintf(err, errlen, "invalid listen address \"%s\" (expected [ipv6]:port)", s);
            return -1;
        }
        memcpy(host, s + 1, (size_t)(rb - s - 1));
        port = rb + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (colon) {
            if ((size_t)(colon - s) >= sizeof(host)) {
                snprintf(err, errlen, "invalid listen address \"%s\"", s);
                return -1;
            }
            memcpy(host, s, (size_t)(colon - s));
            port = colon + 1;
        } else {
            port = s; /* "8080": all IPv4 addresses */
        }
    }
    char *end;
    errno = 0;
    unsigned long pv = strtoul(port, &end, 10);
    if (!*port || *end || errno || pv > 65535) {
        snprintf(err, errlen, "invalid port in listen address \"%s\"", s);
        return -1;
    }
    uint16_t nport = htons((uint16_t)pv);
    if (host[0] == '\0' || strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0) {
        struct sockaddr_in *a = (struct sockaddr_in *)&out->addr;
        a->sin_family = AF_INET;
        a->sin_port = nport;
        a->sin_addr.s_addr = htonl(INADDR_ANY);
        out->addrlen = sizeof(*a);
        snprintf(out->text, sizeof(out->text), "0.0.0.0:%lu", pv);
        return 0;
    }
    if (strcmp(host, "localhost") == 0) {
        strcpy(host, "127.0.0.1");
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)&out->addr;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&out->addr;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = nport;
        out->addrlen = sizeof(*a4);
        snprintf(out->text, sizeof(out->text), "%s:%lu", host, pv);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = nport;
        out->addrlen = sizeof(*a6);
        snprintf(out->text, sizeof(out->text), "[%s]:%lu", host, pv);
        return 0;
    }
    snprintf(err, errlen, "invalid listen address \"%s\" (use an IP address, * or localhost)", s);
    return -1;
}

/* ---------------------------------------------------------------- directives */

struct directive;
typedef int (*setter_fn)(struct parser *p, const struct directive *d, struct tok *args,
                         size_t nargs);

struct directive {
    const char *name;
    unsigned ctx; /* CTX_* where allowed */
    unsigned min_args, max_args;
    setter_fn set;
    size_t offset;     /* into struct cfg, for the generic setters */
    uint64_t min, max; /* bounds for numbers, sizes (bytes) and times (ms) */
    bool block;        /* takes a { } block */
};

#define CFG_OFF(field) offsetof(struct cfg, field)

static void *field(struct parser *p, const struct directive *d)
{
    return (char *)p->cfg + d->offset;
}

static int set_u32_num(struct parser *p, const struct directive *d, struct tok *a, size_t n)
{
    (void)n;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(a[0].text, &end, 10);
    if (!isdigit((unsigned char)a[0].text[0]) || *end || errno || v < d->min || v > d->max) {
        return fail(p, a[0].line, "\"%s\" must be a number between %llu and %llu, not \"%s\"",
                    d->name, (unsigned long long)d->min, (unsigned long long)d->max, a[0].text);
    }
    *(uint32_t *)field(p, d) = (uint32_t)v;
    return 0;
}

static int get_size(struct parser *p, const struct directive *d, struct tok *a, uint64_t *v)
{
    if (cfg_parse_size(a->text, v) < 0 || *v < d->min || *v > d->max) {
        return fail(p, a->line,
                    "\"%s\" must be a size between %llu and %llu bytes (suffixes k, m, g), "
                    "not \"%s\"",
                    d->name, (unsigned long long)d->min, (unsigned long long)d->max, a->text);
    }
    return 0;
}

static int set_u32_size(struct parser *p, const struct directive *d, struct tok *a, size_t n)
{
    (void)n;
    uint64_t v;
    if (get_size(p, d, a, &v) < 0) {
        return -1;
    }
    *(uint32_t *)field(p, d) = (uint32_t)v;
    return 0;
}

static int set_u64_size(struct parser *p, const struct directive *d, struct tok *a, size_t n)
{
    (void)n;
    uint64_t v;
    if (get_size(p, d, a, &v) < 0) {
        return -1;
    }
    *(uint64_t *)field(p, d) = v;
    return 0;
}

static int set_u32_time(struct parser *p, const struct directive *d, struct tok *a, size_t n)
{
    (void)n;
    uint64_t v;
    if (cfg_parse_time_ms(a[0].text, &v) < 0 || v < d->min || v > d->max) {
        return fail(p, a[0].line,
                    "\"%s\" must be a time between %llums and %llums (units ms, s, m, h, d), "
                    "not \"%s\"",
                    d->name, (unsigned long long)d->min, (unsigned long long)d->max, a[0].text);
    }
    *(uint32_t *)field(p, d) = (uint32_t)v;
    return 0;
}

static int get_flag(struct parser *p, const struct directive *d, struct tok *a, bool *v)
{
    if (strcmp(a->text, "on") == 0) {
        *v = true;
    } else if (strcmp(a->text, "off") == 0) {
        *v = false;
    } else {
        return fail(p, a->line, "\"%s\" takes \"on\" or \"off\", not \"%s\"", d->name, a->text);
    }
    return 0;
}

static int set_bool(struct parser *p, const struct directive *d, struct tok *a, size_t n)
{
    (void)n;
    return get_flag(p, d, a, (bool *)field(p, d));
}

/* A relative path in a file is relative to that file's directory (not to the cwd). */
static char *resolve_path(struct parser *p, const char *path)
{
    const char *slash = strrchr(p->name, '/');
    if (path[0] == '/' || !p->from_file || !slash) {
        return sp_strndup(path, strlen(path));
    }
    size_t dl = (size_t)(slash - p->name), pl = strlen(path);
    char *r = sp_malloc(dl + 1 + pl + 1);
    if (r) {
        memcpy(r, p->name, dl);
        r[dl] = '/';
        memcpy(r + dl + 1, path, pl + 1);
    }
    return r;
}

static int set_workers(struct parser *p, const struct directive *d, struct tok *a, size_t n)
{
    (void)n;
    if (strcmp(a[0].text, "auto") == 0) {
        p->cfg->workers = 0;
        return 0;
    }
    char *end;
    unsigned long v = strtoul(a[0].text, &end, 10);
    if (!isdigit((unsigned char)a[0].text[0]) || *end || v < 1 || v > 1024) {
        return fail(p, a[0].line, "\"%s\" must be \"auto\" or a number from 1 to 1024, not \"%s\"",
                    d->name, a[0].text);
    }
    p->cfg->workers = (unsigned)v;
    return 0;
}

static int set_error_log(struct parser *p, const struct directive *d, struct tok *a, size_t n)
{
    (void)d;
    sp_free(p->cfg->error_log);
    p->cfg->error_log =
        strcmp(a[0].text, "stderr") == 0 ? sp_strndup("stderr", 6) : resolve_path(p, a[0].text);
    if (!p->cfg->error_log) {
        return fail(p, a[0].line, "out of memory");
    }
    if (n > 1) {
        int lvl = errlog_level_from_name(a[1].text);
        if (lvl < 0) {
            return fail(p, a[1].line,
                        "unknown error_log level \"%s\" (debug, info, notice, warn, error, crit)",
                        a[1].text);
        }
        p->cfg->error_level = lvl;
    }
    return 0;
}

static int set_access_log(struct parser *p, const struct directive *d, struct tok *a, size_t n)
{
    (void)d;
    char **path = p->server ? &p->server->access_log : &p->cfg->access_log;
    char **fmt = p->server ? &p->server->access_format : &p->cfg->access_format;
    sp_free(*path);
    bool special =
        !strcmp(a[0].text, "off") || !strcmp(a[0].text, "stdout") || !strcmp(a[0].text, "stderr");
    *path = special ? sp_strndup(a[0].text, strlen(a[0].text)) : resolve_path(p, a[0].text);
    if (!*path) {
        return fail(p, a[0].line, "out of memory");
    }
    if (n > 1) {
        sp_free(*fmt);
        *fmt = sp_strndup(a[1].text, strlen(a[1].text));
        if (!*fmt) {
            return fail(p, a[1].line, "out of memory");
        }
    }
    return 0;
}

static int set_log_format(struct parser *p, const struct directive *d, struct tok *a, size_t n)
{
    (void)d;
    struct cfg *c = p->cfg;
    const char *name = a[0].text;
    int esc = 0; /* LOG_ESC_DEFAULT */
    if (n == 3) {
        if (strcmp(a[1].text, "escape=default") == 0) {
            esc = 0;
        } else if (strcmp(a[1].text, "escape=json") == 0) {
            esc = 1;
        } else if (strcmp(a[1].text, "escape=none") == 0) {
            esc = 2;
        } else {
            return fail(p, a[1].line,
                        "log_format parameter must be escape=default, escape=json "
                        "or escape=none, not \"%s\"",
                        a[1].text);
        }
    }
    struct tok *text = &a[n - 1];
    if (!strcmp(name, "common") || !strcmp(name, "combined") || !strcmp(name, "json")) {
        return fail(p, a[0].line, "log_format \"%s\" is built in and cannot be redefined", name);
    }
    for (unsigned i = 0; i < c->nlog_formats; i++) {
        if (strcmp(c->log_format_names[i], name) == 0) {
            return fail(p, a[0].line, "duplicate log_format \"%s\"", name);
        }
    }
    char **nn = sp_realloc(c->log_format_names, (c->nlog_formats + 1) * sizeof(char *));
    if (!nn) {
        return fail(p, a[0].line, "out of memory");
    }
    c->log_format_names = nn;
    char **nv = sp_realloc(c->log_format_values, (c->nlog_formats + 1) * sizeof(char *));
    if (!nv) {
        return fail(p, a[0].line, "out of memory");
    }
    c->log_format_values = nv;
    int *ne = sp_realloc(c->log_format_escapes, (c->nlog_formats + 1) * sizeof(int));
    if (!ne) {
        return fail(p, a[0].line, "out of memory");
    }
    c->log_format_escapes = ne;
    ne[c->nlog_formats] = esc;
    nn[c->nlog_formats] = sp_strndup(name, strlen(name));
    nv[c->nlog_formats] = sp_strndup(text->text, strlen(text->text));
    if (!nn[c->nlog_formats] || !nv[c->nlog_formats]) {
        return fail(p, a[0].line, "out of memory");
    }
    c->nlog_formats++;
    return 0;
}

static int set_file_cache(struct parser *p, const struct directive *d, struct tok *a, size_t n)
{
    (void)n;
    return get_flag(p, d, a, &p->cfg->file_cache.enabled);
}

static int push_str(struct parser *p, char ***arr, unsigned *n, const char *s, int line, bool lower)
{
    char **na = sp_realloc(*arr, (*n + 1) * sizeof(char *));
    if (!na) {
        return fail(p, line, "out of memory");
    }
    *arr = na;
    char *v = sp_strndup(s, strlen(s));
    if (!v) {
        return fail(p, line, "out of memory");
    }
    if (lower) {
        for (char *q = v; *q; q++) {
            *q = (char)tolower((unsigned char)*q);
        }
    }
    na[(*n)++] = v;
    return 0;
}

static int set_listen(struct parser *p, const struct directive *d, struct tok *a, size_t n)
{
    (void)d;
    struct cfg_server *s = p->server;
    struct cfg_listen l;
    char msg[256];
    if (cfg_parse_listen(a[0].text, &l, msg, sizeof(msg)) < 0) {
        return fail(p, a[0].line, "%s", msg);
    }
    for (size_t i = 1; i < n; i++) {
        if (strcmp(a[i].text, "default_server") == 0) {
            l.default_server = true;
        } else {
            return fail(p, a[i].line, "unknown listen parameter \"%s\" (default_server)",
                        a[i].text);
        }
    }
    struct cfg_listen *nl = sp_realloc(s->listens, (s->nlistens + 1) * sizeof(*nl));
    if (!nl) {
        return fail(p, a[0].line, "out of memory");
    }
    s->listens = nl;
    nl[s->nlistens++] = l;
    return 0;
}

static int set_server_name(struct parser *p, const struct directive *d, struct tok *a, size_t n)
{
    (void)d;
    for (size_t i = 0; i < n; i++) {
        if (push_str(p, &p->server->names, &p->server->nnames, a[i].text, a[i].line, true) < 0) {
            return -1;
        }
    }
    return 0;
}

static int set_root(struct parser *p, const struct directive *d, struct tok *a, size_t n)
{
    (void)d;
    (void)n;
    struct cfg_server *s = p->server;
    if (s->root) {
        return fail(p, a[0].line, "\"root\" is duplicate");
    }
    s->root = resolve_path(p, a[0].text);
    return s->root ? 0 : fail(p, a[0].line, "out of memory");
}

static int set_index(struct parser *p, const struct directive *d, struct tok *a, size_t n)
{
    (void)d;
    struct cfg_server *s = p->server;
    for (unsigned i = 0; i < s->nindex; i++) {
        sp_free(s->index[i]);
    }
    s->nindex = 0;
    for (size_t i = 0; i < n; i++) {
        if (strchr(a[i].text, '/') || !strcmp(a[i].text, "..") || !strcmp(a[i].text, ".")) {
            return fail(p, a[i].line, "index file name \"%s\" must not contain '/'", a[i].text);
        }
        if (push_str(p, &s->index, &s->nindex, a[i].text, a[i].line, false) < 0) {
            return -1;
        }
    }
    return 0;
}

static int set_encoded_slash(struct parser *p, const struct directive *d, struct tok *a, size_t n)
{
    (void)n;
    return get_flag(p, d, a, &p->server->allow_encoded_slash);
}

static int set_expires(struct parser *p, const struct directive *d, struct tok *a, size_t n)
{
    (void)n;
    (void)d;
    if (strcmp(a[0].text, "off") == 0) {
        p->loc->expires_s = -1;
        return 0;
    }
    uint64_t ms;
    if (cfg_parse_time_ms(a[0].text, &ms) < 0 || ms / 1000 > 10ull * 365 * 86400) {
        return fail(p, a[0].line, "invalid expires time \"%s\" (e.g. 30d, 1h, off)", a[0].text);
    }
    p->loc->expires_s = (int64_t)(ms / 1000);
    return 0;
}

static bool header_value_ok(const char *v)
{
    for (; *v; v++) {
        if ((unsigned char)*v < 0x20 && *v != '\t') {
            return false;
        }
    }
    return true;
}

static int set_add_header(struct parser *p, const struct directive *d, struct tok *a, size_t n)
{
    (void)d;
    (void)n;
    struct cfg_location *l = p->loc;
    for (const char *q = a[0].text; *q; q++) {
        if (!http_is_tchar((unsigned char)*q)) {
            return fail(p, a[0].line, "invalid header name \"%s\"", a[0].text);
        }
    }
    if (!header_value_ok(a[1].text)) {
        return fail(p, a[1].line, "header value for \"%s\" contains control characters", a[0].text);
    }
    size_t add = strlen(a[0].text) + 2 + strlen(a[1].text) + 2;
    char *nb = sp_realloc(l->extra_headers, l->extra_headers_len + add + 1);
    if (!nb) {
        return fail(p, a[0].line, "out of memory");
    }
    snprintf(nb + l->extra_headers_len, add + 1, "%s: %s\r\n", a[0].text, a[1].text);
    l->extra_headers = nb;
    l->extra_headers_len += add;
    return 0;
}

static int set_cache_control(struct parser *p, const struct directive *d, struct tok *a, size_t n)
{
    (void)d;
    (void)n;
    if (!header_value_ok(a[0].text)) {
        return fail(p, a[0].line, "Cache-Control value contains control characters");
    }
    sp_free(p->loc->cache_control);
    p->loc->cache_control = sp_strndup(a[0].text, strlen(a[0].text));
    return p->loc->cache_control ? 0 : fail(p, a[0].line, "out of memory");
}

static int parse_block(struct parser *p, unsigned ctx);

static void location_defaults(struct cfg_location *l)
{
    memset(l, 0, sizeof(*l));
    l->expires_s = -1;
}

static int set_location(struct parser *p, const struct directive *d, struct tok *a, size_t n)
{
    (void)d;
    (void)n;
    struct cfg_server *s = p->server;
    if (a[0].text[0] != '/') {
        return fail(p, a[0].line, "location prefix \"%s\" must start with '/'", a[0].text);
    }
    for (unsigned i = 0; i < s->nlocs; i++) {
        if (strcmp(s->locs[i].prefix, a[0].text) == 0) {
            return fail(p, a[0].line, "duplicate location \"%s\"", a[0].text);
        }
    }
    struct cfg_location *nl = sp_realloc(s->locs, (s->nlocs + 1) * sizeof(*nl));
    if (!nl) {
        return fail(p, a[0].line, "out of memory");
    }
    s->locs = nl;
    struct cfg_location *l = &nl[s->nlocs++];
    location_defaults(l);
    l->prefix = sp_strndup(a[0].text, strlen(a[0].text));
    if (!l->prefix) {
        return fail(p, a[0].line, "out of memory");
    }
    l->prefix_len = strlen(l->prefix);
    l->file = p->name;
    l->line = a[0].line;
    /* copy to a temporary: further locations may realloc the array */
    struct cfg_location tmp = *l;
    p->loc = &tmp;
    int rc = parse_block(p, CTX_LOCATION);
    p->loc = NULL;
    s->locs[s->nlocs - 1] = tmp;
    return rc;
}

static int set_server(struct parser *p, const struct directive *d, struct tok *a, size_t n)
{
    (void)d;
    (void)a;
    (void)n;
    struct cfg *c = p->cfg;
    struct cfg_server *ns = sp_realloc(c->servers, (c->nservers + 1) * sizeof(*ns));
    if (!ns) {
        return fail(p, p->toks[p->cur - 1].line, "out of memory");
    }
    c->servers = ns;
    struct cfg_server tmp;
    memset(&tmp, 0, sizeof(tmp));
    tmp.froot.fd = -1;
    tmp.file = p->name;
    tmp.line = p->toks[p->cur - 1].line;
    c->nservers++;
    p->server = &tmp;
    int rc = parse_block(p, CTX_SERVER);
    p->server = NULL;
    c->servers[c->nservers - 1] = tmp;
    return rc;
}

#define T_MAX_MS (30u * 86400 * 1000)

static const struct directive directives[] = {
    {"workers", CTX_MAIN, 1, 1, set_workers, 0, 0, 0, false},
    {"max_connections", CTX_MAIN, 1, 1, set_u32_num, CFG_OFF(max_connections), 1, 1u << 22, false},
    {"request_line_max", CTX_MAIN, 1, 1, set_u32_size, CFG_OFF(limits.max_request_line), 64,
     1u << 20, false},
    {"header_max", CTX_MAIN, 1, 1, set_u32_size, CFG_OFF(limits.max_head), 256, 1u << 20, false},
    {"headers_count_max", CTX_MAIN, 1, 1, set_u32_num, CFG_OFF(limits.max_headers), 1, 10000,
     false},
    {"client_max_body_size", CTX_MAIN, 1, 1, set_u64_size, CFG_OFF(max_body), 0, UINT64_MAX, false},
    {"pipeline_max", CTX_MAIN, 1, 1, set_u32_num, CFG_OFF(max_pipeline), 1, 1024, false},
    {"client_header_timeout", CTX_MAIN, 1, 1, set_u32_time, CFG_OFF(header_timeout_ms), 1, T_MAX_MS,
     false},
    {"client_body_timeout", CTX_MAIN, 1, 1, set_u32_time, CFG_OFF(body_timeout_ms), 1, T_MAX_MS,
     false},
    {"keepalive_timeout", CTX_MAIN, 1, 1, set_u32_time, CFG_OFF(keepalive_timeout_ms), 0, T_MAX_MS,
     false},
    {"keepalive_requests", CTX_MAIN, 1, 1, set_u32_num, CFG_OFF(keepalive_requests), 1, UINT32_MAX,
     false},
    {"send_timeout", CTX_MAIN, 1, 1, set_u32_time, CFG_OFF(send_timeout_ms), 1, T_MAX_MS, false},
    {"lingering_timeout", CTX_MAIN, 1, 1, set_u32_time, CFG_OFF(linger_timeout_ms), 1, T_MAX_MS,
     false},
    {"drain_timeout", CTX_MAIN, 1, 1, set_u32_time, CFG_OFF(drain_timeout_ms), 0, T_MAX_MS, false},
    {"sendfile_max_chunk", CTX_MAIN, 1, 1, set_u32_size, CFG_OFF(sendfile_chunk), 4096, 1u << 30,
     false},
    {"cold_file_reads", CTX_MAIN, 1, 1, set_bool, CFG_OFF(cold_file_reads), 0, 0, false},
    {"sendfile", CTX_MAIN, 1, 1, set_bool, CFG_OFF(use_sendfile), 0, 0, false},
    {"open_file_cache", CTX_MAIN, 1, 1, set_file_cache, 0, 0, 0, false},
    {"open_file_cache_max", CTX_MAIN, 1, 1, set_u32_num, CFG_OFF(file_cache.max_entries), 1,
     1u << 24, false},
    {"open_file_cache_bytes", CTX_MAIN, 1, 1, set_u64_size, CFG_OFF(file_cache.max_bytes), 0,
     1ull << 40, false},
    {"open_file_cache_small", CTX_MAIN, 1, 1, set_u32_size, CFG_OFF(file_cache.small_max), 0,
     64u << 20, false},
    {"open_file_cache_fds", CTX_MAIN, 1, 1, set_u32_num, CFG_OFF(file_cache.max_fds), 0, 1u << 20,
     false},
    {"open_file_cache_valid", CTX_MAIN, 1, 1, set_u32_time, CFG_OFF(file_cache.valid_ms), 0,
     T_MAX_MS, false},
    {"open_file_cache_negative", CTX_MAIN, 1, 1, set_u32_time, CFG_OFF(file_cache.negative_ms), 0,
     T_MAX_MS, false},
    {"trace", CTX_MAIN, 1, 1, set_bool, CFG_OFF(trace_enabled), 0, 0, false},
    {"error_log", CTX_MAIN, 1, 2, set_error_log, CFG_OFF(error_log), 0, 0, false},
    {"access_log", CTX_MAIN | CTX_SERVER, 1, 2, set_access_log, 0, 0, 0, false},
    {"log_format", CTX_MAIN, 2, 3, set_log_format, 0, 0, 0, false},
    {"access_log_buffer", CTX_MAIN, 1, 1, set_u32_size, CFG_OFF(log_buffer), 64u << 10, 1u << 30,
     false},
    {"server", CTX_MAIN, 0, 0, set_server, 0, 0, 0, true},
    {"listen", CTX_SERVER, 1, 2, set_listen, 0, 0, 0, false},
    {"server_name", CTX_SERVER, 1, 64, set_server_name, 0, 0, 0, false},
    {"root", CTX_SERVER, 1, 1, set_root, 0, 0, 0, false},
    {"index", CTX_SERVER, 1, 16, set_index, 0, 0, 0, false},
    {"allow_encoded_slashes", CTX_SERVER, 1, 1, set_encoded_slash, 0, 0, 0, false},
    {"location", CTX_SERVER, 1, 1, set_location, 0, 0, 0, true},
    {"expires", CTX_LOCATION, 1, 1, set_expires, 0, 0, 0, false},
    {"cache_control", CTX_LOCATION, 1, 1, set_cache_control, 0, 0, 0, false},
    {"add_header", CTX_LOCATION, 2, 2, set_add_header, 0, 0, 0, false},
};

static const char *ctx_name(unsigned ctx)
{
    return ctx == CTX_MAIN ? "main" : ctx == CTX_SERVER ? "server" : "location";
}

static int parse_directive(struct parser *p, unsigned ctx)
{
    struct tok *name = &p->toks[p->cur++];
    size_t first = p->cur;
    while (p->cur < p->ntoks && p->toks[p->cur].kind == 'w') {
        p->cur++;
    }
    size_t nargs = p->cur - first;
    if (p->cur >= p->ntoks) {
        return fail(p, name->line, "unexpected end of file, expecting \";\" or \"{\" after \"%s\"",
                    name->text);
    }
    char term = p->toks[p->cur].kind;
    if (term == '}') {
        return fail(p, p->toks[p->cur].line, "unexpected \"}\", expecting \";\" after \"%s\"",
                    name->text);
    }
    p->cur++;
    const struct directive *d = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(directives); i++) {
        if (strcmp(directives[i].name, name->text) == 0) {
            d = &directives[i];
            break;
        }
    }
    if (!d) {
        return fail(p, name->line, "unknown directive \"%s\"", name->text);
    }
    if (!(d->ctx & ctx)) {
        return fail(p, name->line, "\"%s\" directive is not allowed in the %s context", d->name,
                    ctx_name(ctx));
    }
    if (d->block != (term == '{')) {
        return fail(p, name->line, d->block ? "\"%s\" needs a { } block" : "\"%s\" takes no block",
                    d->name);
    }
    if (nargs < d->min_args || nargs > d->max_args) {
        return fail(p, name->line, "invalid number of arguments in \"%s\" directive", d->name);
    }
    return d->set(p, d, &p->toks[first], nargs);
}

/* Parses directives until the matching '}' (or end of file in the main context). */
static int parse_block(struct parser *p, unsigned ctx)
{
    while (p->cur < p->ntoks) {
        struct tok *t = &p->toks[p->cur];
        if (t->kind == '}') {
            if (ctx == CTX_MAIN) {
                return fail(p, t->line, "unexpected \"}\"");
            }
            p->cur++;
            return 0;
        }
        if (t->kind != 'w') {
            return fail(p, t->line, "unexpected \"%c\"", t->kind);
        }
        if (parse_directive(p, ctx) < 0) {
            return -1;
        }
    }
    if (ctx != CTX_MAIN) {
        return fail(p, p->line, "unexpected end of file, expecting \"}\"");
    }
    return 0;
}

/* ---------------------------------------------------------------- public API */

void cfg_init_defaults(struct cfg *c)
{
    memset(c, 0, sizeof(*c));
    c->workers = 0;
    c->max_connections = 16384;
    c->limits = HTTP_LIMITS_DEFAULT;
    c->max_body = 1u << 20; /* nginx's client_max_body_size default */
    c->max_pipeline = 64;
    c->header_timeout_ms = 60000;
    c->body_timeout_ms = 60000;
    c->keepalive_timeout_ms = 75000;
    c->keepalive_requests = 1000000;
    c->send_timeout_ms = 60000;
    c->linger_timeout_ms = 2000;
    c->drain_timeout_ms = 10000;
    c->sendfile_chunk = 2u << 20;
    c->cold_file_reads = true;
    c->use_sendfile = true;
    c->file_cache = FS_CACHE_LIMITS_DEFAULT;
    c->error_level = ERRLOG_NOTICE;
    c->log_buffer = 1u << 20;
}

static int load(struct cfg *c, const char *name, const char *text, bool from_file, char *err,
                size_t errlen);

int cfg_load_string(struct cfg *c, const char *name, const char *text, char *err, size_t errlen)
{
    return load(c, name, text, false, err, errlen);
}

static int load(struct cfg *c, const char *name, const char *text, bool from_file, char *err,
                size_t errlen)
{
    struct parser p;
    memset(&p, 0, sizeof(p));
    p.name = name;
    p.src = text;
    p.len = strlen(text);
    p.line = 1;
    p.err = err;
    p.errlen = errlen;
    p.cfg = c;
    p.from_file = from_file;
    int rc = lex(&p);
    if (rc == 0) {
        rc = parse_block(&p, CTX_MAIN);
    }
    for (size_t i = 0; i < p.ntoks; i++) {
        sp_free(p.toks[i].text);
    }
    sp_free(p.toks);
    if (rc == 0) {
        sp_free(c->source);
        c->source = sp_strndup(name, strlen(name));
    }
    return rc;
}

int cfg_load_file(struct cfg *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open configuration file \"%s\": %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, n = 0;
    char *buf = sp_malloc(cap);
    for (;;) {
        if (!buf) {
            fclose(f);
            snprintf(err, errlen, "%s: out of memory", path);
            return -1;
        }
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1) {
            break;
        }
        if (cap >= (64u << 20)) {
            sp_free(buf);
            fclose(f);
            snprintf(err, errlen, "%s: configuration file is larger than 64 MiB", path);
            return -1;
        }
        cap *= 2;
        char *nb = sp_realloc(buf, cap);
        if (!nb) {
            sp_free(buf);
        }
        buf = nb;
    }
    int rerr = ferror(f);
    fclose(f);
    if (rerr) {
        sp_free(buf);
        snprintf(err, errlen, "cannot read configuration file \"%s\"", path);
        return -1;
    }
    buf[n] = '\0';
    if (memchr(buf, '\0', n)) {
        sp_free(buf);
        snprintf(err, errlen, "%s: configuration contains a NUL byte", path);
        return -1;
    }
    int rc = load(c, path, buf, true, err, errlen);
    sp_free(buf);
    return rc;
}

static int add_default_server(struct cfg *c, char *err, size_t errlen)
{
    struct cfg_server *s = sp_calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->froot.fd = -1;
    s->file = "(command line)";
    c->servers = s;
    c->nservers = 1;
    return 0;
}

int cfg_apply_overrides(struct cfg *c, const struct cfg_overrides *o, char *err, size_t errlen)
{
    if (c->nservers == 0) {
        if (add_default_server(c, err, errlen) < 0) {
            return -1;
        }
        if (!c->source) {
            c->source = sp_strndup("(command line)", 14);
        }
    }
    if (o->workers >= 0) {
        c->workers = (unsigned)o->workers;
    }
    struct cfg_server *s = &c->servers[0];
    if (o->root) {
        for (unsigned i = 0; i < c->nservers; i++) {
            sp_free(c->servers[i].root);
            c->servers[i].root = sp_strndup(o->root, strlen(o->root));
        }
    }
    if (o->nlisten) {
        /* --listen replaces the first server's addresses */
        sp_free(s->listens);
        s->listens = sp_calloc(o->nlisten, sizeof(*s->listens));
        s->nlistens = 0;
        if (!s->listens) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        for (unsigned i = 0; i < o->nlisten; i++) {
            char msg[256];
            if (cfg_parse_listen(o->listen[i], &s->listens[i], msg, sizeof(msg)) < 0) {
                snprintf(err, errlen, "--listen: %s", msg);
                return -1;
            }
            s->nlistens++;
        }
    }
    if (o->access_log) {
        sp_free(c->access_log);
        c->access_log = sp_strndup(o->access_log, strlen(o->access_log));
    }
    if (o->error_log) {
        sp_free(c->error_log);
        c->error_log = sp_strndup(o->error_log, strlen(o->error_log));
    }
    return 0;
}

int cfg_finalize(struct cfg *c, char *err, size_t errlen)
{
    if (c->nservers == 0) {
        snprintf(err, errlen, "%s: no server { } block and no --root given",
                 c->source ? c->source : "configuration");
        return -1;
    }
    if (c->limits.max_request_line > c->limits.max_head) {
        snprintf(err, errlen, "%s: request_line_max (%u) is larger than header_max (%u)", c->source,
                 c->limits.max_request_line, c->limits.max_head);
        return -1;
    }
    for (unsigned i = 0; i < c->nservers; i++) {
        struct cfg_server *s = &c->servers[i];
        s->root_id = i;
        char where[300] = "";
        if (s->line > 0) {
            snprintf(where, sizeof(where), "%s:%d: ", s->file, s->line);
        }
        if (!s->root) {
            snprintf(err, errlen, "%sserver has no \"root\" (add root /path; or use --root)",
                     where);
            return -1;
        }
        if (s->nlistens == 0) {
            struct cfg_listen l;
            char msg[128];
            if (cfg_parse_listen("127.0.0.1:8080", &l, msg, sizeof(msg)) < 0) {
                snprintf(err, errlen, "%s", msg);
                return -1;
            }
            s->listens = sp_calloc(1, sizeof(l));
            if (!s->listens) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            s->listens[0] = l;
            s->nlistens = 1;
        }
        if (s->nindex == 0) {
            s->index = sp_calloc(1, sizeof(char *));
            if (!s->index || !(s->index[0] = sp_strndup("index.html", 10))) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            s->nindex = 1;
        }
        if (s->froot.fd < 0) {
            int rc = fs_root_open(&s->froot, s->root);
            if (rc < 0) {
                snprintf(err, errlen, "%sdocument root \"%s\" is not usable: %s", where, s->root,
                         strerror(-rc));
                return -1;
            }
        }
    }
    return 0;
}

static void free_strs(char **a, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        sp_free(a[i]);
    }
    sp_free(a);
}

void cfg_free(struct cfg *c)
{
    for (unsigned i = 0; i < c->nservers; i++) {
        struct cfg_server *s = &c->servers[i];
        free_strs(s->names, s->nnames);
        free_strs(s->index, s->nindex);
        sp_free(s->listens);
        sp_free(s->root);
        sp_free(s->access_log);
        sp_free(s->access_format);
        if (s->froot.fd >= 0) {
            fs_root_close(&s->froot);
        }
        for (unsigned k = 0; k < s->nlocs; k++) {
            sp_free(s->locs[k].prefix);
            sp_free(s->locs[k].cache_control);
            sp_free(s->locs[k].extra_headers);
        }
        sp_free(s->locs);
    }
    sp_free(c->servers);
    free_strs(c->log_format_names, c->nlog_formats);
    free_strs(c->log_format_values, c->nlog_formats);
    sp_free(c->log_format_escapes);
    sp_free(c->error_log);
    sp_free(c->access_log);
    sp_free(c->access_format);
    sp_free(c->source);
    memset(c, 0, sizeof(*c));
}

static void print_time(FILE *out, const char *name, uint32_t ms)
{
    if (ms % 1000 == 0) {
        fprintf(out, "%s %us;\n", name, ms / 1000);
    } else {
        fprintf(out, "%s %ums;\n", name, ms);
    }
}

void cfg_print(const struct cfg *c, FILE *out)
{
    fprintf(out, "# effective configuration (from %s)\n", c->source ? c->source : "defaults");
    if (c->workers) {
        fprintf(out, "workers %u;\n", c->workers);
    } else {
        fprintf(out, "workers auto;\n");
    }
    fprintf(out, "max_connections %u;\n", c->max_connections);
    fprintf(out, "request_line_max %u;\nheader_max %u;\nheaders_count_max %u;\n",
            c->limits.max_request_line, c->limits.max_head, c->limits.max_headers);
    fprintf(out, "client_max_body_size %llu;\npipeline_max %u;\n", (unsigned long long)c->max_body,
            c->max_pipeline);
    print_time(out, "client_header_timeout", c->header_timeout_ms);
    print_time(out, "client_body_timeout", c->body_timeout_ms);
    print_time(out, "keepalive_timeout", c->keepalive_timeout_ms);
    fprintf(out, "keepalive_requests %u;\n", c->keepalive_requests);
    print_time(out, "send_timeout", c->send_timeout_ms);
    print_time(out, "lingering_timeout", c->linger_timeout_ms);
    print_time(out, "drain_timeout", c->drain_timeout_ms);
    fprintf(out, "sendfile_max_chunk %u;\n", c->sendfile_chunk);
    fprintf(out, "cold_file_reads %s;\n", c->cold_file_reads ? "on" : "off");
    fprintf(out, "sendfile %s;\n", c->use_sendfile ? "on" : "off");
    fprintf(out, "open_file_cache %s;\n", c->file_cache.enabled ? "on" : "off");
    fprintf(out, "open_file_cache_max %u;\nopen_file_cache_bytes %llu;\n",
            c->file_cache.max_entries, (unsigned long long)c->file_cache.max_bytes);
    fprintf(out, "open_file_cache_small %u;\nopen_file_cache_fds %u;\n", c->file_cache.small_max,
            c->file_cache.max_fds);
    print_time(out, "open_file_cache_valid", c->file_cache.valid_ms);
    print_time(out, "open_file_cache_negative", c->file_cache.negative_ms);
    fprintf(out, "trace %s;\n", c->trace_enabled ? "on" : "off");
    fprintf(out, "error_log %s %s;\n", c->error_log ? c->error_log : "stderr",
            errlog_level_name(c->error_level));
    if (c->access_log) {
        fprintf(out, "access_log %s %s;\n", c->access_log,
                c->access_format ? c->access_format : "common");
    }
    fprintf(out, "access_log_buffer %u;\n", c->log_buffer);
    for (unsigned i = 0; i < c->nlog_formats; i++) {
        fprintf(out, "log_format %s '%s';\n", c->log_format_names[i], c->log_format_values[i]);
    }
    for (unsigned i = 0; i < c->nservers; i++) {
        const struct cfg_server *s = &c->servers[i];
        fprintf(out, "server {\n");
        for (unsigned k = 0; k < s->nlistens; k++) {
            fprintf(out, "    listen %s%s;\n", s->listens[k].text,
                    s->listens[k].default_server ? " default_server" : "");
        }
        if (s->nnames) {
            fprintf(out, "    server_name");
            for (unsigned k = 0; k < s->nnames; k++) {
                fprintf(out, " %s", s->names[k]);
            }
            fprintf(out, ";\n");
        }
        fprintf(out, "    root %s;\n", s->root ? s->root : "(none)");
        fprintf(out, "    index");
        for (unsigned k = 0; k < s->nindex; k++) {
            fprintf(out, " %s", s->index[k]);
        }
        fprintf(out, ";\n");
        if (s->access_log) {
            fprintf(out, "    access_log %s %s;\n", s->access_log,
                    s->access_format ? s->access_format : "common");
        }
        for (unsigned k = 0; k < s->nlocs; k++) {
            const struct cfg_location *l = &s->locs[k];
            fprintf(out, "    location %s {\n", l->prefix);
            if (l->expires_s >= 0) {
                fprintf(out, "        expires %llds;\n", (long long)l->expires_s);
            }
            if (l->cache_control) {
                fprintf(out, "        cache_control \"%s\";\n", l->cache_control);
            }
            fprintf(out, "    }\n");
        }
        fprintf(out, "}\n");
    }
}
