/* lex.c - see lex.h. */
#include "core/conf/lex.h"

#include "core/base/alloc.h"

#include <stdio.h>
#include <string.h>

struct lexer {
    const char *name, *src;
    size_t pos, len;
    int line;
    struct conf_toks *out;
    char *err;
    size_t errlen;
};

static int fail(struct lexer *l, int line, const char *msg)
{
    snprintf(l->err, l->errlen, "%s:%d: %s", l->name, line, msg);
    return -1;
}

static int push(struct lexer *l, char kind, const char *s, size_t n, int line)
{
    struct conf_toks *t = l->out;
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 64;
        struct conf_tok *v = sp_realloc(t->v, ncap * sizeof(*v));
        if (!v) {
            return fail(l, line, "out of memory");
        }
        t->v = v;
        t->cap = ncap;
    }
    char *text = sp_strndup(s, n);
    if (!text) {
        return fail(l, line, "out of memory");
    }
    t->v[t->n++] = (struct conf_tok){text, line, kind};
    return 0;
}

/* A quoted string starting at the quote. */
static int quoted(struct lexer *l)
{
    char q = l->src[l->pos++];
    int line = l->line;
    size_t cap = 64, n = 0;
    char *buf = sp_malloc(cap);
    if (!buf) {
        return fail(l, line, "out of memory");
    }
    for (;;) {
        if (l->pos >= l->len) {
            sp_free(buf);
            return fail(l, line, "unterminated quoted string");
        }
        char c = l->src[l->pos++];
        if (c == q) {
            break;
        }
        if (c == '\n') {
            l->line++;
        }
        if (c == '\\' && l->pos < l->len) {
            char e = l->src[l->pos++];
            c = e == 'n' ? '\n' : e == 't' ? '\t' : e;
        }
        if (n + 1 >= cap) {
            cap *= 2;
            char *nb = sp_realloc(buf, cap);
            if (!nb) {
                sp_free(buf);
                return fail(l, line, "out of memory");
            }
            buf = nb;
        }
        buf[n++] = c;
    }
    int rc = push(l, 'w', buf, n, line);
    sp_free(buf);
    return rc;
}

int conf_lex(const char *name, const char *src, size_t len, struct conf_toks *out, char *err,
             size_t errlen)
{
    struct lexer l = {name, src, 0, len, 1, out, err, errlen};
    while (l.pos < l.len) {
        char c = l.src[l.pos];
        if (c == '\n') {
            l.line++;
            l.pos++;
        } else if (c == ' ' || c == '\t' || c == '\r') {
            l.pos++;
        } else if (c == '#') {
            while (l.pos < l.len && l.src[l.pos] != '\n') {
                l.pos++;
            }
        } else if (c == ';' || c == '{' || c == '}') {
            if (push(&l, c, &c, 1, l.line) < 0) {
                return -1;
            }
            l.pos++;
        } else if (c == '"' || c == '\'') {
            if (quoted(&l) < 0) {
                return -1;
            }
        } else if (c == '\0') {
            return fail(&l, l.line, "NUL byte in configuration");
        } else {
            size_t s = l.pos;
            while (l.pos < l.len && !strchr(" \t\r\n;{}#\"'", l.src[l.pos]) &&
                   l.src[l.pos] != '\0') {
                l.pos++;
            }
            if (push(&l, 'w', l.src + s, l.pos - s, l.line) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

void conf_toks_free(struct conf_toks *t)
{
    for (size_t i = 0; i < t->n; i++) {
        sp_free(t->v[i].text);
    }
    sp_free(t->v);
    t->v = NULL;
    t->n = t->cap = 0;
}
