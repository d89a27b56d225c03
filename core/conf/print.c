/*
 * print.c - the effective configuration in file syntax, generated from the rows (see conf.h).
 *
 * A block prints every row it sets. The main block also prints every row of
 * the main context that has a default, so the output shows the whole
 * configuration; a row that cannot be written in any enclosing context (such
 * as `listen`, server only) is printed where it applies when it comes from
 * its default. Arguments are quoted whenever the tokenizer would otherwise
 * split or change them, so the output parses back to the same values.
 */
#include "core/conf/print.h"

#include "core/conf/conf.h"

#include <stdarg.h>
#include <string.h>

static void indent(struct conf_out *o)
{
    for (int i = 0; i < o->depth; i++) {
        fputs("    ", o->f);
    }
}

void conf_out_begin(struct conf_out *o, const char *name)
{
    indent(o);
    fputs(name, o->f);
}

/* An escape the tokenizer replaces (lex.h): a backslash before these must be doubled. */
static bool escapes(char c)
{
    return c == '"' || c == '\'' || c == '\\' || c == 'n' || c == 'r' || c == 't' || c == '\0';
}

/*
 * Whether s reads back as itself unquoted: no character that ends a word or starts a
 * comment or a quote, and no backslash the tokenizer would replace. A regular expression
 * such as \.png$ stays unquoted.
 */
static bool needs_quotes(const char *s)
{
    if (s[0] == '\0' || strpbrk(s, " \t\r\n;{}#\"'") != NULL) {
        return true;
    }
    for (const char *b = strchr(s, '\\'); b; b = strchr(b + 2, '\\')) {
        if (escapes(b[1])) {
            return true;
        }
    }
    return false;
}

void conf_out_arg(struct conf_out *o, const char *s)
{
    fputc(' ', o->f);
    if (!needs_quotes(s)) {
        fputs(s, o->f);
        return;
    }
    fputc('"', o->f);
    for (; *s; s++) {
        switch (*s) {
        case '"':
            fputs("\\\"", o->f);
            break;
        case '\\':
            /* a backslash the tokenizer keeps as written is written as it is */
            fputs(escapes(s[1]) ? "\\\\" : "\\", o->f);
            break;
        case '\n':
            fputs("\\n", o->f);
            break;
        case '\r':
            fputs("\\r", o->f);
            break;
        case '\t':
            fputs("\\t", o->f);
            break;
        default:
            fputc(*s, o->f);
            break;
        }
    }
    fputc('"', o->f);
}

void conf_out_argf(struct conf_out *o, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    conf_out_arg(o, buf);
}

void conf_out_end(struct conf_out *o)
{
    fputs(";\n", o->f);
}

void conf_out_open(struct conf_out *o)
{
    fputs(" {\n", o->f);
    o->depth++;
}

void conf_out_close(struct conf_out *o)
{
    o->depth--;
    indent(o);
    fputs("}\n", o->f);
}

void conf_fmt_size(char *buf, size_t len, uint64_t v)
{
    if (v && v % (1ull << 30) == 0) {
        snprintf(buf, len, "%llug", (unsigned long long)(v >> 30));
    } else if (v && v % (1u << 20) == 0) {
        snprintf(buf, len, "%llum", (unsigned long long)(v >> 20));
    } else if (v && v % 1024 == 0) {
        snprintf(buf, len, "%lluk", (unsigned long long)(v >> 10));
    } else {
        snprintf(buf, len, "%llu", (unsigned long long)v);
    }
}

void conf_out_size(struct conf_out *o, uint64_t v)
{
    char buf[32];
    conf_fmt_size(buf, sizeof(buf), v);
    conf_out_arg(o, buf);
}

void conf_out_time(struct conf_out *o, uint64_t ms)
{
    static const struct {
        uint64_t ms;
        const char *unit;
    } units[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};

    for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
        if (ms && ms % units[i].ms == 0) {
            conf_out_argf(o, "%llu%s", (unsigned long long)(ms / units[i].ms), units[i].unit);
            return;
        }
    }
    conf_out_argf(o, "%llums", (unsigned long long)ms);
}

/* Contexts that enclose block b (a nested location's include a location). */
static unsigned above(const struct conf_block *b)
{
    unsigned ctx = 0;
    for (const struct conf_block *u = b->parent; u; u = u->parent) {
        ctx |= u->kind;
    }
    return ctx;
}

static bool should_print(const struct conf_block *b, const struct conf_row *r, struct conf_where w)
{
    if (w.line > 0 || w.line == CONF_LINE_FLAG) {
        return true; /* set here */
    }
    if (w.line == CONF_LINE_DEFAULT) {
        return b->kind == CONF_MAIN; /* a default, shown where it is applied */
    }
    /* inherited: shown only if it could not have been written further up */
    return r->def && !(r->ctx & above(b));
}

static void print_block(struct conf_out *o, const struct conf *c, const struct conf_block *b)
{
    for (unsigned m = 0; m < c->nmodules; m++) {
        const struct conf_module *mod = c->modules[m];
        for (unsigned i = 0; i < mod->nrows; i++) {
            const struct conf_row *r = &mod->rows[i];
            const char *st = conf_get(b, m, (enum conf_store)r->store);
            if (!(r->ctx & b->kind) || !st || !should_print(b, r, b->mods[m].where[i])) {
                continue;
            }
            r->type->print(o, r, st + r->offset);
        }
    }
    for (const struct conf_block *k = b->children; k; k = k->next) {
        fputc('\n', o->f);
        conf_out_begin(o, k->kind == CONF_SERVER ? "server" : "location");
        if (k->kind == CONF_LOCATION) {
            /* the modifier, unless there is none (a prefix) or it is the name's '@' */
            if (k->loc_kind != CONF_LOC_PREFIX && k->loc_kind != CONF_LOC_NAMED) {
                fputc(' ', o->f);
                fputs(k->args[0], o->f);
            }
            conf_out_arg(o, k->args[1]);
        }
        conf_out_open(o);
        print_block(o, c, k);
        conf_out_close(o);
    }
}

void conf_print(const struct conf *c, FILE *out)
{
    fprintf(out, "# effective configuration (from %s)\n", c->source ? c->source : "defaults");
    struct conf_out o = {out, 0};
    print_block(&o, c, c->main);
}
