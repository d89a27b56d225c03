/* rewrite.c - rewrite, return, break (see rewrite.h). */
#include "core/http/rewrite.h"

#include "core/base/alloc.h"
#include "core/conf/print.h"
#include "core/conf/values.h"
#include "core/http/redirect.h"
#include "core/http/regex.h"
#include "core/http/respond.h"
#include "core/http/route.h"
#include "core/http/typing.h"
#include "core/http/vars.h"
#include "proto/uri.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum op_kind { OP_REWRITE, OP_RETURN, OP_BREAK, OP_AUGMENT };
enum rw_flag { FLAG_NONE, FLAG_LAST, FLAG_BREAK, FLAG_REDIRECT, FLAG_PERMANENT };

static const char *const flag_names[] = {"", "last", "break", "redirect", "permanent"};

struct op {
    uint8_t kind, flag;
    uint16_t code;          /* return */
    char *pattern, *text;   /* as written, for printing */
    struct http_regex *re;  /* rewrite */
    struct http_script *value; /* rewrite's replacement, return's text or URL (NULL: none) */
    bool redirect;          /* the replacement has a scheme: a 302 */
};

/* Shared by the three rows; size 0: a block's program is its own, never inherited. */
struct program {
    struct op *ops;
    unsigned n;
};

struct rewrite_conf {
    struct program prog;
};

static int slot = -1;

/* ---------------------------------------------------------------- parsing */

static struct op *add_op(struct conf_parse *p, struct program *pg)
{
    struct op *nv = sp_realloc(pg->ops, (pg->n + 1) * sizeof(*nv));
    if (!nv) {
        conf_error(p, "out of memory");
        return NULL;
    }
    pg->ops = nv;
    struct op *o = &nv[pg->n++];
    memset(o, 0, sizeof(*o));
    return o;
}

static int compile_value(struct conf_parse *p, struct op *o, const char *text)
{
    char msg[512];
    o->text = conf_strdup(p, text);
    if (!o->text) {
        return -1;
    }
    if (http_script_compile(&o->value, text, msg, sizeof(msg)) < 0) {
        return conf_error(p, "%s", msg);
    }
    return 0;
}

static bool starts_with_scheme(const char *t)
{
    return !strncmp(t, "http://", 7) || !strncmp(t, "https://", 8) || !strncmp(t, "$scheme", 7);
}

static int rewrite_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                         unsigned n)
{
    (void)r;
    struct op *o = add_op(p, field);
    if (!o) {
        return -1;
    }
    o->kind = OP_REWRITE;
    if (n == 3) {
        for (unsigned f = FLAG_LAST; f <= FLAG_PERMANENT; f++) {
            if (!strcmp(a[2], flag_names[f])) {
                o->flag = (uint8_t)f;
            }
        }
        if (!o->flag) {
            return conf_error(p, "invalid parameter \"%s\" (last, break, redirect or permanent)",
                              a[2]);
        }
    }
    char msg[512];
    if (!(o->pattern = conf_strdup(p, a[0]))) {
        return -1;
    }
    o->re = http_regex_compile(a[0], false, msg, sizeof(msg));
    if (!o->re) {
        return conf_error(p, "%s", msg);
    }
    if (compile_value(p, o, a[1]) < 0) {
        return -1;
    }
    if (http_script_max_capture(o->value) > (int)http_regex_groups(o->re)) {
        return conf_error(p, "\"$%d\" in \"%s\": the expression has %u capture(s)",
                          http_script_max_capture(o->value), a[1], http_regex_groups(o->re));
    }
    o->redirect = starts_with_scheme(a[1]);
    return 0;
}

static bool redirect_code(unsigned code)
{
    return code == 301 || code == 302 || code == 303 || code == 307 || code == 308;
}

static int return_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                        unsigned n)
{
    (void)r;
    struct op *o = add_op(p, field);
    if (!o) {
        return -1;
    }
    o->kind = OP_RETURN;
    char *end;
    unsigned long code = strtoul(a[0], &end, 10);
    if (*end || end == a[0]) {
        if (n != 1 || !starts_with_scheme(a[0])) {
            return conf_error(p, "invalid return code \"%s\"", a[0]);
        }
        o->code = 302; /* return URL */
        return compile_value(p, o, a[0]);
    }
    if (code < 200 || code > 599 || code == 444) {
        return conf_error(p, "invalid return code \"%s\"%s", a[0],
                          code == 444 ? " (444, closing without a response, is not supported: "
                                        "use return 403 or 404)"
                                      : " (200 to 599)");
    }
    o->code = (uint16_t)code;
    return n == 2 ? compile_value(p, o, a[1]) : 0;
}

/* augment_arg NAME VALUE [CODE] */
static int augment_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                         unsigned n)
{
    (void)r;
    struct op *o = add_op(p, field);
    if (!o) {
        return -1;
    }
    o->kind = OP_AUGMENT;
    o->code = 302;
    for (const char *c = a[0]; *c; c++) {
        if (*c == '&' || *c == '=' || *c == '#' || *c == '?' || *c <= ' ' || *c == '%') {
            return conf_error(p, "invalid argument name \"%s\"", a[0]);
        }
    }
    if (n == 3) {
        char *end;
        unsigned long code = strtoul(a[2], &end, 10);
        if (*end || !redirect_code((unsigned)code)) {
            return conf_error(p, "invalid redirect code \"%s\" (301, 302, 303, 307 or 308)", a[2]);
        }
        o->code = (uint16_t)code;
    }
    if (!(o->pattern = conf_strdup(p, a[0]))) {
        return -1;
    }
    return compile_value(p, o, a[1]);
}

static int break_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                       unsigned n)
{
    (void)r, (void)a, (void)n;
    struct op *o = add_op(p, field);
    if (!o) {
        return -1;
    }
    o->kind = OP_BREAK;
    return 0;
}

/* The program is printed once, whole, by the row of its first directive (order matters). */
static void program_print(struct conf_out *out, const struct conf_row *r, const void *field)
{
    static const char *const row_of[] = {"rewrite", "return", "break", "augment_arg"};
    const struct program *pg = field;
    if (!pg->n || strcmp(r->name, row_of[pg->ops[0].kind]) != 0) {
        return;
    }
    for (unsigned i = 0; i < pg->n; i++) {
        const struct op *o = &pg->ops[i];
        conf_out_begin(out, row_of[o->kind]);
        if (o->kind == OP_REWRITE) {
            conf_out_arg(out, o->pattern);
            conf_out_arg(out, o->text);
            if (o->flag) {
                conf_out_arg(out, flag_names[o->flag]);
            }
        } else if (o->kind == OP_AUGMENT) {
            conf_out_arg(out, o->pattern);
            conf_out_arg(out, o->text);
            if (o->code != 302) {
                conf_out_argf(out, "%u", o->code);
            }
        } else if (o->kind == OP_RETURN) {
            if (o->text && o->code == 302 && starts_with_scheme(o->text)) {
                conf_out_argf(out, "%u", o->code);
                conf_out_arg(out, o->text);
            } else {
                conf_out_argf(out, "%u", o->code);
                if (o->text) {
                    conf_out_arg(out, o->text);
                }
            }
        }
        conf_out_end(out);
    }
}

/* Called once per row the block set: frees once, leaves the field empty. */
static void program_release(void *field)
{
    struct program *pg = field;
    for (unsigned i = 0; i < pg->n; i++) {
        http_regex_free(pg->ops[i].re);
        http_script_free(pg->ops[i].value);
        sp_free(pg->ops[i].pattern);
        sp_free(pg->ops[i].text);
    }
    sp_free(pg->ops);
    pg->ops = NULL;
    pg->n = 0;
}

static const struct conf_type rewrite_type = {"rewrite", 0, rewrite_parse, program_print,
                                              program_release};
static const struct conf_type return_type = {"return", 0, return_parse, program_print,
                                             program_release};
static const struct conf_type break_type = {"break", 0, break_parse, program_print,
                                            program_release};
static const struct conf_type augment_type = {"augment_arg", 0, augment_parse, program_print,
                                              program_release};

#define SL (CONF_SERVER | CONF_LOCATION)
#define OFF offsetof(struct rewrite_conf, prog)

static const struct conf_row rows[] = {
    {"rewrite", SL, CONF_STORE_LOC, 2, 3, CONF_MULTI, &rewrite_type, OFF, NULL, 0, 0,
     "^/old/(.*)$ /new/$1 permanent", NULL},
    {"return", SL, CONF_STORE_LOC, 1, 2, CONF_MULTI, &return_type, OFF, NULL, 0, 0,
     "200 \"ok\"", NULL},
    {"break", SL, CONF_STORE_LOC, 0, 0, CONF_MULTI, &break_type, OFF, NULL, 0, 0, "", NULL},
    {"augment_arg", SL, CONF_STORE_LOC, 2, 3, CONF_MULTI, &augment_type, OFF, NULL, 0, 0,
     "lang $cookie_lang", NULL},
};

static int rewrite_finish(struct conf *c, unsigned s, char *err, size_t errlen)
{
    (void)c, (void)err, (void)errlen;
    if (slot != (int)s) {
        slot = (int)s; /* once: a reload finds the same slot, and workers read it meanwhile */
    }
    return 0;
}

const struct conf_module rewrite_module = {
    .name = "rewrite",
    .rows = rows,
    .nrows = ARRAY_SIZE(rows),
    .size = {[CONF_STORE_LOC] = sizeof(struct rewrite_conf)},
    .finish = rewrite_finish,
};

/* ---------------------------------------------------------------- running */

/* new = "path?query": the path becomes r->path, the query r->args (with the old one after it
 * unless new ends in '?'). */
static int set_uri(struct req *r, struct slice v)
{
    const char *q = memchr(v.ptr, '?', v.len);
    if (!q) {
        r->path = v;
        return 0;
    }
    size_t plen = (size_t)(q - v.ptr);
    struct slice nq = slice_make(q + 1, v.len - plen - 1);
    char *path = arena_alloc(r->arena, plen + 1);
    if (!path) {
        return -ENOMEM;
    }
    memcpy(path, v.ptr, plen);
    path[plen] = '\0';
    r->path = slice_make(path, plen);
    if (nq.len == 0) {
        r->args = SLICE_NULL; /* a final '?': the old query is dropped */
        return 0;
    }
    if (r->args.len) {
        char *a = arena_alloc(r->arena, nq.len + 1 + r->args.len);
        if (!a) {
            return -ENOMEM;
        }
        memcpy(a, nq.ptr, nq.len);
        a[nq.len] = '&';
        memcpy(a + nq.len + 1, r->args.ptr, r->args.len);
        nq = slice_make(a, nq.len + 1 + r->args.len);
    }
    r->args = nq;
    return 0;
}

/* "path?args" of the current URI (for a redirect built from a rewrite). */
/* The new URI is already escaped (http_script_eval with HTTP_SCRIPT_ESC_URI). */
static int current_target(struct req *r, struct slice *out)
{
    struct slice path = r->path;
    if (!r->args.len) {
        *out = path;
        return 0;
    }
    char *p = arena_alloc(r->arena, path.len + 1 + r->args.len);
    if (!p) {
        return -ENOMEM;
    }
    memcpy(p, path.ptr, path.len);
    p[path.len] = '?';
    memcpy(p + path.len + 1, r->args.ptr, r->args.len);
    *out = slice_make(p, path.len + 1 + r->args.len);
    return 0;
}

/* An absolute replacement with the request's query kept (after '&' when it has its own; a final
 * '?' drops it). */
static int with_args(struct req *r, struct slice v, struct slice *out)
{
    const char *q = memchr(v.ptr, '?', v.len);
    if (q && q == v.ptr + v.len - 1) {
        *out = slice_make(v.ptr, v.len - 1);
        return 0;
    }
    if (!r->args.len) {
        *out = v;
        return 0;
    }
    char *p = arena_alloc(r->arena, v.len + 1 + r->args.len);
    if (!p) {
        return -ENOMEM;
    }
    memcpy(p, v.ptr, v.len);
    p[v.len] = q ? '&' : '?';
    memcpy(p + v.len + 1, r->args.ptr, r->args.len);
    *out = slice_make(p, v.len + 1 + r->args.len);
    return 0;
}

static int run_return(struct req *r, const struct op *o)
{
    struct slice v = SLICE_NULL;
    if (o->value) {
        enum http_script_escape esc =
            redirect_code(o->code) ? HTTP_SCRIPT_ESC_URI : HTTP_SCRIPT_RAW;
        if (http_script_eval(r, o->value, esc, &v) < 0) {
            return -ENOMEM;
        }
    }
    if (redirect_code(o->code)) {
        if (!o->value) {
            resp_begin(r, o->code);
            return o->code;
        }
        return http_redirect_to(r, o->code, v);
    }
    /* nginx types a returned text by the location's default_type; without one configured,
     * text/plain says what it is. A 2xx but 204 always says (an empty body is still one). */
    const char *dt = http_configured_default_type(r->loc);
    struct slice ct = dt ? slice_cstr(dt) : SLICE_LIT("text/plain");
    if (!o->value) {
        if (o->code < 300) {
            resp_begin(r, o->code);
            if ((o->code != 204 && resp_field(r, SLICE_LIT("Content-Type"), ct) < 0) ||
                resp_body_mem(r, "", 0, NULL) < 0) {
                return 500;
            }
            return resp_send(r) < 0 ? -ENOMEM : REWRITE_ANSWERED;
        }
        return o->code;
    }
    resp_begin(r, o->code);
    if (resp_field(r, SLICE_LIT("Content-Type"), ct) < 0 ||
        resp_body_mem(r, v.ptr, v.len, NULL) < 0) {
        return 500;
    }
    return resp_send(r) < 0 ? -ENOMEM : REWRITE_ANSWERED;
}

/* URL augmentation: when the query has no NAME, redirect to the same URL with NAME=VALUE. */
static int run_augment(struct req *r, const struct op *o)
{
    struct slice name = slice_cstr(o->pattern), cur;
    char var[160];
    int vl = snprintf(var, sizeof(var), "arg_%s", o->pattern);
    if (vl > 0 && (size_t)vl < sizeof(var) &&
        http_var_get(r, slice_make(var, (size_t)vl), &cur) && cur.ptr) {
        return 0; /* already there */
    }
    struct slice v;
    if (http_script_eval(r, o->value, HTTP_SCRIPT_RAW, &v) < 0) {
        return -ENOMEM;
    }
    struct slice path = http_escape_path(r, r->path);
    size_t cap = path.len + 1 + r->args.len + 1 + name.len + 1 + 3 * v.len + 1;
    char *p = path.ptr ? arena_alloc(r->arena, cap) : NULL;
    if (!p) {
        return -ENOMEM;
    }
    size_t n = 0;
    memcpy(p, path.ptr, path.len);
    n = path.len;
    p[n++] = '?';
    if (r->args.len) {
        memcpy(p + n, r->args.ptr, r->args.len);
        n += r->args.len;
        p[n++] = '&';
    }
    memcpy(p + n, name.ptr, name.len);
    n += name.len;
    p[n++] = '=';
    n += uri_escape(p + n, v, URI_ESC_COMPONENT);
    return http_redirect_to(r, o->code, slice_make(p, n));
}

int rewrite_run(struct req *r, const struct route_loc *l)
{
    if (slot < 0) {
        return 0;
    }
    const struct rewrite_conf *rc = conf_get(l->block, (unsigned)slot, CONF_STORE_LOC);
    const struct program *pg = &rc->prog;
    bool changed = false;
    for (unsigned i = 0; i < pg->n; i++) {
        const struct op *o = &pg->ops[i];
        if (o->kind == OP_BREAK) {
            return 0;
        }
        if (o->kind == OP_RETURN) {
            return run_return(r, o);
        }
        if (o->kind == OP_AUGMENT) {
            int st = run_augment(r, o);
            if (st) {
                return st;
            }
            continue;
        }
        struct http_captures tmp;
        int m = http_regex_match(o->re, r->path, &tmp);
        if (m < 0) {
            return m == -ENOMEM ? -ENOMEM : 500;
        }
        if (m == 0) {
            continue;
        }
        struct http_captures *caps = arena_alloc(r->arena, sizeof(*caps));
        if (!caps) {
            return -ENOMEM;
        }
        *caps = tmp;
        r->caps = caps;
        bool redirect = o->redirect || o->flag == FLAG_REDIRECT || o->flag == FLAG_PERMANENT;
        struct slice v;
        if (http_script_eval(r, o->value, redirect ? HTTP_SCRIPT_ESC_URI : HTTP_SCRIPT_RAW,
                             &v) < 0) {
            return -ENOMEM;
        }
        int status = o->flag == FLAG_PERMANENT ? 301 : 302;
        if (o->redirect) {
            struct slice t;
            return with_args(r, v, &t) < 0 ? -ENOMEM : http_redirect_to(r, status, t);
        }
        if (set_uri(r, v) < 0) {
            return -ENOMEM;
        }
        if (redirect) {
            struct slice t;
            return current_target(r, &t) < 0 ? -ENOMEM : http_redirect_to(r, status, t);
        }
        if (!r->path.len || r->path.ptr[0] != '/') {
            return 500; /* an internal URI must be a path */
        }
        changed = true;
        if (o->flag == FLAG_LAST) {
            return REWRITE_AGAIN;
        }
        if (o->flag == FLAG_BREAK) {
            return 0;
        }
    }
    return changed ? REWRITE_AGAIN : 0;
}
