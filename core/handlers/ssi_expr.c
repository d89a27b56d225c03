/* ssi_expr.c - SSI conditions and interpolation (see ssi_expr.h). */
#include "core/handlers/ssi_expr.h"

#include "core/base/alloc.h"
#include "core/http/regex.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define TOKENS_MAX 128
#define NEST_MAX 32

enum tok { T_STR, T_RE, T_LP, T_RP, T_NOT, T_AND, T_OR, T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE };

enum node_kind { N_STR, N_CMP, N_MATCH, N_NOT, N_AND, N_OR };

struct token {
    uint8_t kind;
    struct slice s; /* T_STR, T_RE: in the expression's buffer */
};

struct enode {
    uint8_t kind, cmp; /* cmp: the T_ comparison of N_CMP and N_MATCH (T_EQ / T_NE there) */
    int l, r;          /* operands (node indexes); N_STR: none */
    struct slice s;
    struct http_regex *re;
};

struct ssi_expr {
    struct enode *n;
    unsigned count;
    int root;
    char *buf; /* the strings and patterns */
};

struct compiler {
    struct ssi_expr *e;
    struct token t[TOKENS_MAX];
    unsigned nt, at, nest;
    char *err;
    size_t errlen;
};

static bool word_char(char c)
{
    return c && !strchr(" \t\r\n()=!<>&|'", c);
}

/* A '/' at i opens a /regex/: a closing '/' (not after a backslash) ends the operand. */
static bool is_regex(struct slice s, size_t i)
{
    for (i++; i < s.len && s.ptr[i] != '/'; i++) {
        if (s.ptr[i] == '\\' && i + 1 < s.len) {
            i++;
        }
    }
    return i < s.len && (i + 1 == s.len || !word_char(s.ptr[i + 1]));
}

/* Splits s into tokens, strings into e->buf (words next to each other joined by a space). */
static int tokenize(struct compiler *c, struct slice s)
{
    char *w = c->e->buf;
    size_t i = 0;
    while (i < s.len) {
        char ch = s.ptr[i];
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
            i++;
            continue;
        }
        if (c->nt == TOKENS_MAX) {
            snprintf(c->err, c->errlen, "more than %d tokens", TOKENS_MAX);
            return -1;
        }
        struct token *t = &c->t[c->nt];
        const char *two = s.ptr + i;
        bool has2 = i + 1 < s.len;
        uint8_t prev = c->nt ? c->t[c->nt - 1].kind : T_LP;
        if (ch == '(' || ch == ')') {
            t->kind = ch == '(' ? T_LP : T_RP;
            i++;
        } else if (ch == '!') {
            t->kind = has2 && two[1] == '=' ? T_NE : T_NOT;
            i += t->kind == T_NE ? 2 : 1;
        } else if (ch == '=') {
            t->kind = T_EQ;
            i += has2 && two[1] == '=' ? 2 : 1;
        } else if (ch == '<' || ch == '>') {
            bool eq = has2 && two[1] == '=';
            t->kind = ch == '<' ? (eq ? T_LE : T_LT) : (eq ? T_GE : T_GT);
            i += eq ? 2 : 1;
        } else if ((ch == '&' || ch == '|') && has2 && two[1] == ch) {
            t->kind = ch == '&' ? T_AND : T_OR;
            i += 2;
        } else if (ch == '&' || ch == '|') {
            snprintf(c->err, c->errlen, "\"%c\" alone (&& or ||)", ch);
            return -1;
        } else if (ch == '/' && (prev == T_EQ || prev == T_NE) && is_regex(s, i)) {
            /* /regex/: a backslash before '/' keeps it in the pattern */
            t->kind = T_RE;
            char *p0 = w;
            for (i++; i < s.len && s.ptr[i] != '/'; i++) {
                if (s.ptr[i] == '\\' && i + 1 < s.len) {
                    if (s.ptr[i + 1] != '/') {
                        *w++ = s.ptr[i]; /* the regex's own escape: kept */
                    }
                    i++;
                }
                *w++ = s.ptr[i];
            }
            if (i >= s.len) {
                snprintf(c->err, c->errlen, "a regular expression not closed by \"/\"");
                return -1;
            }
            i++;
            *w++ = '\0';
            t->s = slice_make(p0, (size_t)(w - p0 - 1));
        } else {
            /* a string: words and 'quoted' parts, those next to each other joined */
            bool join = c->nt && c->t[c->nt - 1].kind == T_STR;
            char *p0 = join ? (char *)c->t[c->nt - 1].s.ptr : w;
            if (join) {
                *w++ = ' ';
            }
            if (ch == '\'') {
                for (i++; i < s.len && s.ptr[i] != '\''; i++) {
                    if (s.ptr[i] == '\\' && i + 1 < s.len && s.ptr[i + 1] == '\'') {
                        i++;
                    }
                    *w++ = s.ptr[i];
                }
                if (i >= s.len) {
                    snprintf(c->err, c->errlen, "a string not closed by \"'\"");
                    return -1;
                }
                i++;
            } else {
                while (i < s.len && word_char(s.ptr[i])) {
                    if (s.ptr[i] == '\\' && i + 1 < s.len) {
                        *w++ = s.ptr[i++]; /* \$ and the like stay for the interpolation */
                    }
                    *w++ = s.ptr[i++];
                }
            }
            if (join) {
                c->t[c->nt - 1].s.len = (size_t)(w - p0);
                continue;
            }
            t->kind = T_STR;
            t->s = slice_make(p0, (size_t)(w - p0));
        }
        c->nt++;
    }
    return 0;
}

static int node(struct compiler *c, uint8_t kind, int l, int r)
{
    struct enode *n = &c->e->n[c->e->count];
    *n = (struct enode){.kind = kind, .l = l, .r = r};
    return (int)c->e->count++;
}

static int fail(struct compiler *c, const char *why)
{
    snprintf(c->err, c->errlen, "%s", why);
    return -1;
}

static int parse_or(struct compiler *c);

static bool at(struct compiler *c, uint8_t kind)
{
    return c->at < c->nt && c->t[c->at].kind == kind;
}

static int parse_primary(struct compiler *c)
{
    if (at(c, T_LP)) {
        c->at++;
        if (++c->nest > NEST_MAX) {
            return fail(c, "parentheses nested too deep");
        }
        int x = parse_or(c);
        if (x < 0) {
            return -1;
        }
        if (!at(c, T_RP)) {
            return fail(c, "\"(\" without \")\"");
        }
        c->at++;
        c->nest--;
        return x;
    }
    if (!at(c, T_STR)) {
        return fail(c, c->at < c->nt ? "an operator where a string should be"
                                     : "the expression ends where a string should be");
    }
    int l = node(c, N_STR, -1, -1);
    c->e->n[l].s = c->t[c->at++].s;
    if (c->at >= c->nt || c->t[c->at].kind < T_EQ) {
        return l;
    }
    uint8_t op = c->t[c->at++].kind;
    if (at(c, T_RE)) {
        if (op != T_EQ && op != T_NE) {
            return fail(c, "a regular expression after an operator other than = or !=");
        }
        const struct token *t = &c->t[c->at++];
        char rerr[120];
        struct http_regex *re = http_regex_compile(t->s.ptr, false, rerr, sizeof(rerr));
        if (!re) {
            return fail(c, "a bad regular expression");
        }
        int m = node(c, N_MATCH, l, -1);
        c->e->n[m].re = re;
        c->e->n[m].cmp = op;
        return m;
    }
    if (!at(c, T_STR)) {
        return fail(c, "a comparison without its right side");
    }
    int r = node(c, N_STR, -1, -1);
    c->e->n[r].s = c->t[c->at++].s;
    int x = node(c, N_CMP, l, r);
    c->e->n[x].cmp = op;
    return x;
}

static int parse_unary(struct compiler *c)
{
    if (at(c, T_NOT)) {
        c->at++;
        if (++c->nest > NEST_MAX) {
            return fail(c, "too many \"!\"");
        }
        int x = parse_unary(c);
        c->nest--;
        return x < 0 ? -1 : node(c, N_NOT, x, -1);
    }
    return parse_primary(c);
}

static int parse_and(struct compiler *c)
{
    int l = parse_unary(c);
    while (l >= 0 && at(c, T_AND)) {
        c->at++;
        int r = parse_unary(c);
        l = r < 0 ? -1 : node(c, N_AND, l, r);
    }
    return l;
}

static int parse_or(struct compiler *c)
{
    int l = parse_and(c);
    while (l >= 0 && at(c, T_OR)) {
        c->at++;
        int r = parse_and(c);
        l = r < 0 ? -1 : node(c, N_OR, l, r);
    }
    return l;
}

struct ssi_expr *ssi_expr_compile(struct slice text, char *err, size_t errlen)
{
    struct compiler *c = sp_calloc(1, sizeof(*c));
    struct ssi_expr *e = sp_calloc(1, sizeof(*e));
    if (c && e) {
        e->buf = sp_malloc(2 * text.len + 2);
        e->n = sp_calloc(2 * TOKENS_MAX + 1, sizeof(*e->n));
    }
    if (!c || !e || !e->buf || !e->n) {
        snprintf(err, errlen, "out of memory");
        sp_free(c);
        ssi_expr_free(e);
        return NULL;
    }
    c->e = e;
    c->err = err;
    c->errlen = errlen;
    int rc = tokenize(c, text);
    if (rc == 0 && c->nt == 0) {
        rc = fail(c, "an empty expression");
    }
    if (rc == 0) {
        e->root = parse_or(c);
        if (e->root >= 0 && c->at < c->nt) {
            e->root = fail(c, c->t[c->at].kind == T_RP ? "\")\" without \"(\""
                                                       : "something after the expression");
        }
        rc = e->root < 0 ? -1 : 0;
    }
    sp_free(c);
    if (rc < 0) {
        ssi_expr_free(e);
        return NULL;
    }
    return e;
}

void ssi_expr_free(struct ssi_expr *e)
{
    if (!e) {
        return;
    }
    for (unsigned i = 0; e->n && i < e->count; i++) {
        http_regex_free(e->n[i].re);
    }
    sp_free(e->n);
    sp_free(e->buf);
    sp_free(e);
}

/* ---------------------------------------------------------------- evaluating */

static bool var_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

int ssi_interp(struct slice text, const struct ssi_vars *v, struct arena *a, size_t max,
               struct slice *out)
{
    if (!memchr(text.ptr, '$', text.len) && !memchr(text.ptr, '\\', text.len)) {
        if (text.len > max) {
            return -E2BIG;
        }
        *out = text;
        return 0;
    }
    /* two passes: the length, then the bytes */
    char *dst = NULL;
    size_t total = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t n = 0;
        for (size_t i = 0; i < text.len;) {
            char ch = text.ptr[i];
            if (ch == '\\' && i + 1 < text.len && text.ptr[i + 1] == '$') {
                if (dst) {
                    dst[n] = '$';
                }
                n++;
                i += 2;
                continue;
            }
            if (ch != '$' || i + 1 >= text.len) {
                if (dst) {
                    dst[n] = ch;
                }
                n++;
                i++;
                continue;
            }
            size_t s0, s1;
            if (text.ptr[i + 1] == '{') {
                const char *e = memchr(text.ptr + i + 2, '}', text.len - i - 2);
                if (!e) {
                    if (dst) {
                        dst[n] = ch; /* "${" never closed: as written */
                    }
                    n++;
                    i++;
                    continue;
                }
                s0 = i + 2;
                s1 = (size_t)(e - text.ptr);
                i = s1 + 1;
            } else {
                s0 = i + 1;
                s1 = s0;
                while (s1 < text.len && var_char(text.ptr[s1])) {
                    s1++;
                }
                if (s1 == s0) {
                    if (dst) {
                        dst[n] = ch;
                    }
                    n++;
                    i++;
                    continue;
                }
                i = s1;
            }
            struct slice val;
            if (v->get(v->arg, slice_make(text.ptr + s0, s1 - s0), &val)) {
                if (dst && val.len) {
                    memcpy(dst + n, val.ptr, val.len);
                }
                n += val.len;
            }
            if (n > max) {
                return -E2BIG;
            }
        }
        if (n > max) {
            return -E2BIG;
        }
        if (!pass) {
            total = n;
            dst = arena_alloc(a, total + 1);
            if (!dst) {
                return -ENOMEM;
            }
        } else {
            dst[n] = '\0';
            *out = slice_make(dst, MIN(n, total)); /* a value that grew between passes is cut */
        }
    }
    return 0;
}

#define EXPR_VALUE_MAX (1u << 20)

static int eval(const struct ssi_expr *e, int i, const struct ssi_vars *v, struct arena *a,
                bool *res)
{
    const struct enode *n = &e->n[i];
    struct slice l, r;
    bool x, y;
    int rc;
    switch (n->kind) {
    case N_STR:
        rc = ssi_interp(n->s, v, a, EXPR_VALUE_MAX, &l);
        *res = rc == 0 && l.len > 0;
        return rc == -ENOMEM ? rc : 0;
    case N_NOT:
        rc = eval(e, n->l, v, a, &x);
        *res = !x;
        return rc;
    case N_AND:
    case N_OR:
        rc = eval(e, n->l, v, a, &x);
        if (rc < 0) {
            return rc;
        }
        if (n->kind == N_AND ? !x : x) {
            *res = x; /* decided: the right side is not evaluated */
            return 0;
        }
        return eval(e, n->r, v, a, res);
    case N_MATCH:
        rc = ssi_interp(e->n[n->l].s, v, a, EXPR_VALUE_MAX, &l);
        if (rc == -ENOMEM) {
            return rc;
        }
        rc = rc < 0 ? 0 : http_regex_match(n->re, l, NULL);
        *res = (rc == 1) == (n->cmp == T_EQ);
        return 0;
    default: { /* N_CMP */
        int r1 = ssi_interp(e->n[n->l].s, v, a, EXPR_VALUE_MAX, &l);
        int r2 = ssi_interp(e->n[n->r].s, v, a, EXPR_VALUE_MAX, &r);
        if (r1 == -ENOMEM || r2 == -ENOMEM) {
            return -ENOMEM;
        }
        int c = memcmp(l.ptr, r.ptr, MIN(l.len, r.len));
        if (c == 0) {
            c = l.len < r.len ? -1 : l.len > r.len;
        }
        y = n->cmp == T_EQ   ? c == 0
            : n->cmp == T_NE ? c != 0
            : n->cmp == T_LT ? c < 0
            : n->cmp == T_LE ? c <= 0
            : n->cmp == T_GT ? c > 0
                             : c >= 0;
        *res = y;
        return 0;
    }
    }
}

int ssi_expr_eval(const struct ssi_expr *e, const struct ssi_vars *v, struct arena *a, bool *result)
{
    *result = false;
    return eval(e, e->root, v, a, result);
}
