/* ssi_parse.c - parsing an SSI document into nodes (see ssi_parse.h). */
#include "core/handlers/ssi_parse.h"

#include "core/base/alloc.h"
#include "core/handlers/ssi_expr.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define PARAMS_MAX 8
#define IF_DEPTH_MAX 64

struct param {
    struct slice name, value;
};

/* One directive as written: its command and parameters (values unescaped in place). */
struct directive {
    struct slice cmd;
    struct param p[PARAMS_MAX];
    unsigned n;
};

struct if_frame {
    uint32_t first, last; /* the if, and the latest of its branches */
    bool has_else;
};

struct parser {
    struct ssi_template *t;
    struct if_frame stack[IF_DEPTH_MAX];
    unsigned depth;
};

static struct ssi_node *add(struct ssi_template *t, enum ssi_op op)
{
    if (t->n == t->cap) {
        uint32_t ncap = t->cap ? 2 * t->cap : 16;
        struct ssi_node *nn = sp_realloc(t->nodes, ncap * sizeof(*nn));
        if (!nn) {
            return NULL;
        }
        t->nodes = nn;
        t->cap = ncap;
    }
    struct ssi_node *nd = &t->nodes[t->n++];
    memset(nd, 0, sizeof(*nd));
    nd->op = (uint8_t)op;
    if (op != SSI_TEXT) {
        t->directives++;
    }
    return nd;
}

static int add_error(struct ssi_template *t, const char *why)
{
    struct ssi_node *nd = add(t, SSI_ERROR);
    if (!nd) {
        return -ENOMEM;
    }
    nd->text = slice_cstr(why);
    return 0;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_name(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/*
 * Reads a directive from s (just past "<!--#") up to and with its "-->". *used: the bytes up
 * to and with "-->" (or to the end when it never closes). 0, or a reason (syntax).
 */
static const char *read_directive(char *s, size_t len, struct directive *d, size_t *used)
{
    size_t i = 0;
    d->n = 0;
    while (i < len && is_space(s[i])) {
        i++;
    }
    size_t c0 = i;
    while (i < len && is_name(s[i])) {
        i++;
    }
    d->cmd = slice_make(s + c0, i - c0);
    for (;;) {
        while (i < len && is_space(s[i])) {
            i++;
        }
        if (i + 3 <= len && !memcmp(s + i, "-->", 3)) {
            *used = i + 3;
            return d->cmd.len ? NULL : "a directive without a command";
        }
        if (i >= len) {
            *used = len;
            return "a directive not closed by \"-->\"";
        }
        size_t n0 = i;
        while (i < len && is_name(s[i])) {
            i++;
        }
        struct slice name = slice_make(s + n0, i - n0);
        while (i < len && is_space(s[i])) {
            i++;
        }
        if (!name.len || i >= len || s[i] != '=') {
            break;
        }
        i++;
        while (i < len && is_space(s[i])) {
            i++;
        }
        if (i >= len || (s[i] != '"' && s[i] != '\'' && s[i] != '`')) {
            break;
        }
        char q = s[i++];
        size_t v0 = i, w = i; /* unescaped in place: the directive's bytes are never sent */
        while (i < len && s[i] != q) {
            if (s[i] == '\\' && i + 1 < len && s[i + 1] == q) {
                i++;
            }
            s[w++] = s[i++];
        }
        if (i >= len) {
            *used = len;
            return "a parameter value not closed";
        }
        i++;
        if (d->n == PARAMS_MAX) {
            break;
        }
        d->p[d->n++] = (struct param){name, slice_make(s + v0, w - v0)};
    }
    /* a syntax error: the directive ends at the next "-->" */
    const char *e = memmem(s + i, len - i, "-->", 3);
    *used = e ? (size_t)(e - s) + 3 : len;
    return "a directive's parameters are not NAME=\"VALUE\"";
}

static bool is(struct slice s, const char *w)
{
    size_t n = strlen(w);
    return s.len == n && !strncasecmp(s.ptr, w, n);
}

/* Sets *dst from a parameter once; false when it was given twice. */
static bool take(struct slice *dst, bool *has, struct slice v)
{
    if (*has) {
        return false;
    }
    *dst = v;
    *has = true;
    return true;
}

/* The parameters of a command taking a source (file=, virtual=; cgi=, cmd= for exec). */
static const char *source(struct ssi_node *nd, const struct directive *d, bool exec)
{
    for (unsigned i = 0; i < d->n; i++) {
        const struct param *p = &d->p[i];
        uint8_t src;
        if (!exec && is(p->name, "virtual")) {
            src = SSI_SRC_VIRTUAL;
        } else if (!exec && is(p->name, "file")) {
            src = SSI_SRC_FILE;
        } else if (exec && is(p->name, "cgi")) {
            src = SSI_SRC_CGI;
        } else if (exec && is(p->name, "cmd")) {
            src = SSI_SRC_CMD;
        } else if (nd->op == SSI_INCLUDE && is(p->name, "set")) {
            if (!take(&nd->b, &nd->has_b, p->value)) {
                return "a parameter given twice";
            }
            continue;
        } else if (nd->op == SSI_INCLUDE && is(p->name, "wait")) {
            if (!is(p->value, "yes") && !is(p->value, "no")) {
                return "wait= takes yes or no";
            }
            nd->wait = is(p->value, "yes");
            continue;
        } else {
            return "an unknown parameter";
        }
        if (!take(&nd->a, &nd->has_a, p->value)) {
            return "one source per directive";
        }
        nd->src = src;
    }
    if (!nd->has_a) {
        return exec ? "exec needs cgi= or cmd=" : "file= or virtual= is missing";
    }
    return NULL;
}

static const char *echo(struct ssi_node *nd, const struct directive *d)
{
    bool has_enc = false;
    for (unsigned i = 0; i < d->n; i++) {
        const struct param *p = &d->p[i];
        if (is(p->name, "var")) {
            if (!take(&nd->a, &nd->has_a, p->value)) {
                return "a parameter given twice";
            }
        } else if (is(p->name, "default")) {
            if (!take(&nd->b, &nd->has_b, p->value)) {
                return "a parameter given twice";
            }
        } else if (is(p->name, "encoding") && !has_enc) {
            has_enc = true;
            if (is(p->value, "none")) {
                nd->enc = SSI_ENC_NONE;
            } else if (is(p->value, "url")) {
                nd->enc = SSI_ENC_URL;
            } else if (is(p->value, "entity")) {
                nd->enc = SSI_ENC_ENTITY;
            } else {
                return "encoding= is none, url or entity";
            }
        } else {
            return "an unknown parameter";
        }
    }
    return nd->has_a ? NULL : "echo needs var=";
}

static const char *set(struct ssi_node *nd, const struct directive *d)
{
    for (unsigned i = 0; i < d->n; i++) {
        const struct param *p = &d->p[i];
        bool ok = is(p->name, "var")     ? take(&nd->a, &nd->has_a, p->value)
                  : is(p->name, "value") ? take(&nd->b, &nd->has_b, p->value)
                                         : false;
        if (!ok) {
            return "set takes var= and value= once each";
        }
    }
    return nd->has_a && nd->has_b ? NULL : "set needs var= and value=";
}

static const char *config(struct ssi_node *nd, const struct directive *d)
{
    for (unsigned i = 0; i < d->n; i++) {
        const struct param *p = &d->p[i];
        bool ok;
        if (is(p->name, "timefmt")) {
            ok = take(&nd->a, &nd->has_a, p->value);
        } else if (is(p->name, "errmsg")) {
            ok = take(&nd->b, &nd->has_b, p->value);
        } else if (is(p->name, "echomsg")) {
            ok = take(&nd->c, &nd->has_c, p->value);
        } else if (is(p->name, "sizefmt") && !nd->sizefmt) {
            ok = is(p->value, "bytes") || is(p->value, "abbrev");
            nd->sizefmt = is(p->value, "bytes") ? SSI_SIZEFMT_BYTES : SSI_SIZEFMT_ABBREV;
        } else {
            ok = false;
        }
        if (!ok) {
            return "config takes timefmt=, sizefmt=bytes|abbrev, errmsg=, echomsg=";
        }
    }
    return d->n ? NULL : "config without a parameter";
}

/* if / elif: the expression, compiled now (a bad one stays an if that prints errmsg). */
static int condition(struct ssi_node *nd, const struct directive *d)
{
    if (d->n != 1 || !is(d->p[0].name, "expr")) {
        nd->text = SLICE_LIT("if and elif take one expr=");
        return 0;
    }
    char err[160];
    nd->expr = ssi_expr_compile(d->p[0].value, err, sizeof(err));
    if (!nd->expr) {
        if (!strcmp(err, "out of memory")) {
            return -ENOMEM;
        }
        nd->text = SLICE_LIT("a bad expression");
    }
    return 0;
}

/* Links an elif, else or endif (at index i) into the chain of the if it belongs to. */
static const char *chain(struct parser *ps, uint32_t i)
{
    struct ssi_template *t = ps->t;
    uint8_t op = t->nodes[i].op;
    if (!ps->depth) {
        return op == SSI_ENDIF ? "endif without if" : "elif or else without if";
    }
    struct if_frame *f = &ps->stack[ps->depth - 1];
    if (f->has_else && op != SSI_ENDIF) {
        return "elif or else after else";
    }
    t->nodes[f->last].next = i;
    f->last = i;
    f->has_else = f->has_else || op == SSI_ELSE;
    if (op == SSI_ENDIF) {
        for (uint32_t k = f->first;; k = t->nodes[k].next) {
            t->nodes[k].end = i;
            if (k == i) {
                break;
            }
        }
        ps->depth--;
    }
    return NULL;
}

/* One directive into a node (an ERROR node when it makes no sense). */
static int directive(struct parser *ps, const struct directive *d)
{
    static const struct {
        const char *name;
        uint8_t op;
    } cmds[] = {{"echo", SSI_ECHO},         {"include", SSI_INCLUDE},
                {"set", SSI_SET},           {"config", SSI_CONFIG},
                {"flastmod", SSI_FLASTMOD}, {"fsize", SSI_FSIZE},
                {"exec", SSI_EXEC},         {"if", SSI_IF},
                {"elif", SSI_ELIF},         {"else", SSI_ELSE},
                {"endif", SSI_ENDIF}};

    int op = -1;
    for (size_t i = 0; i < ARRAY_SIZE(cmds); i++) {
        if (is(d->cmd, cmds[i].name)) {
            op = cmds[i].op;
        }
    }
    if (op < 0) {
        return add_error(ps->t, "an unknown command");
    }
    struct ssi_template *t = ps->t;
    struct ssi_node *nd = add(t, (enum ssi_op)op);
    if (!nd) {
        return -ENOMEM;
    }
    uint32_t at = t->n - 1;
    const char *why = NULL;
    switch (op) {
    case SSI_ECHO:
        why = echo(nd, d);
        break;
    case SSI_INCLUDE:
    case SSI_FLASTMOD:
    case SSI_FSIZE:
        why = source(nd, d, false);
        if (!why && op != SSI_INCLUDE && (nd->has_b || nd->wait)) {
            why = "an unknown parameter";
        }
        break;
    case SSI_EXEC:
        why = source(nd, d, true);
        break;
    case SSI_SET:
        why = set(nd, d);
        break;
    case SSI_CONFIG:
        why = config(nd, d);
        break;
    case SSI_IF:
    case SSI_ELIF:
        if (condition(nd, d) < 0) {
            return -ENOMEM;
        }
        if (op == SSI_IF) {
            if (ps->depth == IF_DEPTH_MAX) {
                ssi_expr_free(nd->expr);
                t->n--;
                t->directives--;
                return add_error(t, "ifs nested too deep");
            }
            ps->stack[ps->depth].first = ps->stack[ps->depth].last = at;
            ps->stack[ps->depth].has_else = false;
            ps->depth++;
            return 0;
        }
        why = chain(ps, at);
        break;
    default: /* else, endif */
        why = d->n ? "else and endif take no parameter" : chain(ps, at);
        break;
    }
    if (why) {
        ssi_expr_free(nd->expr);
        *nd = (struct ssi_node){.op = SSI_ERROR, .text = slice_cstr(why)};
    }
    return 0;
}

static int text(struct ssi_template *t, const char *p, size_t n)
{
    if (!n) {
        return 0;
    }
    struct ssi_node *nd = add(t, SSI_TEXT);
    if (!nd) {
        return -ENOMEM;
    }
    nd->text = slice_make(p, n);
    return 0;
}

/* The ifs still open at the end: an error where the endif should be, and their ends. */
static int close_open(struct parser *ps)
{
    if (ps->depth && add_error(ps->t, "if without endif") < 0) {
        return -ENOMEM;
    }
    while (ps->depth) {
        if (!add(ps->t, SSI_ENDIF)) {
            return -ENOMEM;
        }
        if (chain(ps, ps->t->n - 1)) {
            return -EINVAL; /* cannot happen: an if is open */
        }
    }
    return 0;
}

static int parse(struct parser *ps)
{
    struct ssi_template *t = ps->t;
    char *s = t->bytes;
    size_t pos = 0, len = t->len;
    while (pos < len) {
        char *d = memmem(s + pos, len - pos, "<!--#", 5);
        size_t at = d ? (size_t)(d - s) : len;
        if (text(t, s + pos, at - pos) < 0) {
            return -ENOMEM;
        }
        if (!d) {
            break;
        }
        struct directive dir;
        size_t used;
        const char *why = read_directive(d + 5, len - at - 5, &dir, &used);
        pos = at + 5 + used;
        int rc = why ? add_error(t, why) : directive(ps, &dir);
        if (rc < 0) {
            return rc;
        }
    }
    return close_open(ps);
}

int ssi_parse(const char *p, size_t len, struct ssi_template **out)
{
    struct ssi_template *t = sp_calloc(1, sizeof(*t));
    struct parser *ps = sp_calloc(1, sizeof(*ps));
    if (!t || !ps || !(t->bytes = sp_malloc(len ? len : 1))) {
        sp_free(ps);
        ssi_template_free(t);
        return -ENOMEM;
    }
    memcpy(t->bytes, p, len);
    t->len = len;
    ps->t = t;
    int rc = parse(ps);
    sp_free(ps);
    if (rc < 0) {
        ssi_template_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void ssi_template_free(struct ssi_template *t)
{
    if (!t) {
        return;
    }
    for (uint32_t i = 0; i < t->n; i++) {
        ssi_expr_free(t->nodes[i].expr);
    }
    sp_free(t->nodes);
    sp_free(t->bytes);
    sp_free(t);
}

size_t ssi_template_bytes(const struct ssi_template *t)
{
    return sizeof(*t) + t->len + (size_t)t->cap * sizeof(struct ssi_node) +
           (size_t)t->directives * 64; /* about what an expression holds */
}
