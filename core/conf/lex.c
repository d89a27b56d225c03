/* lex.c - see lex.h. */
#include "core/conf/lex.h"

#include "core/base/alloc.h"

#include <stdbool.h>
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

/* Appends a token; a word's raw text s[0..n) is unescaped (see lex.h). */
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
    char *text = sp_malloc(n + 1);
    if (!text) {
        return fail(l, line, "out of memory");
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n && kind == 'w') {
            char e = s[i + 1];
            if (e == '"' || e == '\'' || e == '\\') {
                c = e;
                i++;
            } else if (e == 'n' || e == 'r' || e == 't') {
                c = e == 'n' ? '\n' : e == 'r' ? '\r' : '\t';
                i++;
            }
        }
        text[o++] = c;
    }
    text[o] = '\0';
    t->v[t->n++] = (struct conf_tok){text, line, kind};
    return 0;
}

/* A quoted word starting at the quote. */
static int quoted(struct lexer *l)
{
    char q = l->src[l->pos++];
    int line = l->line;
    size_t start = l->pos;
    for (;;) {
        if (l->pos >= l->len) {
            return fail(l, line, "unterminated quoted string");
        }
        char c = l->src[l->pos];
        if (c == '\0') {
            return fail(l, l->line, "NUL byte in configuration");
        }
        if (c == q) {
            break;
        }
        if (c == '\n') {
            l->line++;
        }
        if (c == '\\' && l->pos + 1 < l->len && l->src[l->pos + 1] != '\0') {
            l->pos++; /* the escaped character never closes the string */
            if (l->src[l->pos] == '\n') {
                l->line++;
            }
        }
        l->pos++;
    }
    int rc = push(l, 'w', l->src + start, l->pos - start, line);
    l->pos++; /* the closing quote */
    return rc;
}

/* An unquoted word: up to a space, ';', '{' or '}' (a '{' of "${" and its '}' stay in it). */
static int word(struct lexer *l)
{
    size_t s = l->pos;
    bool var = false;
    while (l->pos < l->len) {
        char c = l->src[l->pos];
        if (c == '\0' || c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';') {
            break;
        }
        if (c == '\\' && l->pos + 1 < l->len && !strchr("\r\n", l->src[l->pos + 1]) &&
            l->src[l->pos + 1] != '\0') {
            l->pos += 2;
            continue;
        }
        if (c == '{') {
            if (l->pos == s || l->src[l->pos - 1] != '$') {
                break;
            }
            var = true;
        } else if (c == '}') {
            if (!var) {
                break;
            }
            var = false;
        }
        l->pos++;
    }
    return push(l, 'w', l->src + s, l->pos - s, l->line);
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
        } else if (word(&l) < 0) {
            return -1;
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
