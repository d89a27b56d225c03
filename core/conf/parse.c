/*
 * parse.c - the file syntax: directives, blocks, module blocks, `include` (see conf.h).
 *
 * A file is lexed into tokens (lex.c), then read line by line in a frame that says where
 * its directives go:
 *   main      the file's top level: main-context rows, `server`, `http`, `events`;
 *   http      nginx's http { }: the same as main (one http block at most), so a pasted
 *             nginx.conf and a spate one mean the same thing;
 *   events    nginx's events { }: worker_connections is max_connections, the rest is
 *             accepted with a notice (nginx_compat.c);
 *   block     a server or location: its rows, and `location`;
 *   module    a CONF_BLOCK row's block: each line goes to the row type's parse_inner.
 * `include` is allowed in every frame: the included file's lines are read in the frame of
 * the include, until its end (it cannot close the block it is included in). Names that no
 * row has are looked up in nginx_compat.c before they are called unknown.
 */
#include "core/conf/parse.h"

#include "core/base/alloc.h"
#include "core/conf/block.h"
#include "core/conf/include.h"
#include "core/conf/lex.h"
#include "core/conf/location.h"
#include "core/conf/nginx_compat.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum frame_kind { FRAME_MAIN, FRAME_HTTP, FRAME_EVENTS, FRAME_BLOCK, FRAME_MODULE };

struct frame {
    enum frame_kind kind;
    struct conf_block *b; /* where rows go: the main block for main, http and events */
    /* FRAME_MODULE: the row whose block this is, and its field in b */
    const struct conf_row *row;
    void *field;
};

/* One conf_load_*() call, shared by the files it includes. */
struct load {
    const char *real[CONF_INCLUDE_DEPTH + 1]; /* the files being read, outermost first */
    unsigned depth;
    struct conf_where http_at, events_at;
};

/* One file's tokens. */
struct parser {
    struct load *ld;
    struct conf_parse p; /* p.file: this file */
    struct conf_toks toks;
    size_t cur;
    const char *dir; /* this file's directory: its includes are looked up there first */
};

/* A directive as read: name, arguments (pointing into the tokens), and what ended it. */
struct line {
    const char *name;
    char *args[64];
    unsigned nargs;
    char term; /* ';' or '{' */
};

static int parse_lines(struct parser *ps, const struct frame *f, bool closes);

static const char *frame_name(const struct frame *f)
{
    switch (f->kind) {
    case FRAME_HTTP:
        return "http";
    case FRAME_EVENTS:
        return "events";
    case FRAME_MODULE:
        return f->row->name;
    default:
        return conf_ctx_name(f->b->kind);
    }
}

/* Reads the directive at ps->cur. 0, or -1 with p's error. */
static int read_line(struct parser *ps, struct line *d)
{
    struct conf_parse *p = &ps->p;
    struct conf_tok *name = &ps->toks.v[ps->cur++];
    d->name = name->text;
    d->nargs = 0;
    p->line = name->line;
    while (ps->cur < ps->toks.n && ps->toks.v[ps->cur].kind == 'w') {
        if (d->nargs == ARRAY_SIZE(d->args)) {
            return conf_error(p, "too many arguments in \"%s\" directive", d->name);
        }
        d->args[d->nargs++] = ps->toks.v[ps->cur++].text;
    }
    if (ps->cur >= ps->toks.n) {
        return conf_error(p, "unexpected end of file, expecting \";\" or \"{\" after \"%s\"",
                          d->name);
    }
    d->term = ps->toks.v[ps->cur].kind;
    if (d->term == '}') {
        p->line = ps->toks.v[ps->cur].line;
        return conf_error(p, "unexpected \"}\", expecting \";\" after \"%s\"", d->name);
    }
    ps->cur++;
    return 0;
}

/* ---------------------------------------------------------------- include */

/* Reads one included file in frame f. */
static int include_file(struct parser *ps, const struct frame *f, const char *path)
{
    struct conf_parse *p = &ps->p;
    struct load *ld = ps->ld;
    char *real = realpath(path, NULL);
    if (!real) {
        return conf_error(p, "cannot open included file \"%s\": %s", path, strerror(errno));
    }
    for (unsigned i = 0; i < ld->depth; i++) {
        if (strcmp(ld->real[i], real) == 0) {
            free(real);
            return conf_error(p, "include cycle: \"%s\" is already being read", path);
        }
    }
    if (ld->depth > CONF_INCLUDE_DEPTH) { /* the main file and CONF_INCLUDE_DEPTH levels */
        free(real);
        return conf_error(p, "includes nested deeper than %d levels at \"%s\"", CONF_INCLUDE_DEPTH,
                          path);
    }
    char *text = NULL, msg[CONF_ERR_MAX];
    size_t len = 0;
    if (conf_read_file(path, &text, &len, msg, sizeof(msg)) < 0) {
        free(real);
        return conf_error(p, "%s", msg);
    }
    struct parser sub = {ld, *p, {0}, 0, NULL};
    sub.p.file = conf_intern_file(p->conf, path);
    sub.dir = conf_dir_of(path);
    int rc = -1;
    if (!sub.p.file || !sub.dir) {
        conf_error(p, "out of memory");
    } else if (conf_lex(sub.p.file, text, len, &sub.toks, p->err, p->errlen) == 0) {
        ld->real[ld->depth++] = real;
        rc = parse_lines(&sub, f, false);
        ld->depth--;
    }
    conf_toks_free(&sub.toks);
    sp_free((char *)sub.dir);
    sp_free(text);
    free(real);
    return rc;
}

static int include(struct parser *ps, const struct frame *f, const struct line *d)
{
    struct conf_parse *p = &ps->p;
    if (d->term == '{') {
        return conf_error(p, "\"include\" takes no block");
    }
    if (d->nargs != 1) {
        return conf_error(p, "invalid number of arguments in \"include\" directive");
    }
    struct conf_names names;
    if (conf_include_names(p, d->args[0], ps->dir, p->conf->dir, &names) < 0) {
        conf_names_free(&names);
        return -1;
    }
    int rc = 0;
    int line = p->line;
    for (unsigned i = 0; rc == 0 && i < names.n; i++) {
        p->line = line; /* errors about the file itself are the include line's */
        rc = include_file(ps, f, names.v[i]);
    }
    conf_names_free(&names);
    return rc;
}

/* ---------------------------------------------------------------- blocks */

/* server, http, events: once-only checks and the frame they open. */
static int open_block(struct parser *ps, const struct frame *f, const struct line *d)
{
    struct conf_parse *p = &ps->p;
    bool top = f->kind == FRAME_MAIN || f->kind == FRAME_HTTP;
    if (d->term != '{') {
        return conf_error(p, "\"%s\" needs a { } block", d->name);
    }
    bool is_loc = strcmp(d->name, "location") == 0;
    bool is_server = strcmp(d->name, "server") == 0;
    if ((is_loc && f->kind != FRAME_BLOCK) || (is_server && !top) ||
        (!is_loc && !is_server && f->kind != FRAME_MAIN)) {
        return conf_error(p, "\"%s\" directive is not allowed in the %s context", d->name,
                          frame_name(f));
    }
    if (is_loc) {
        struct conf_block *nb;
        if (conf_location_open(p, f->b, (char **)d->args, d->nargs, &nb) < 0) {
            return -1;
        }
        return parse_lines(ps, &(struct frame){FRAME_BLOCK, nb, NULL, NULL}, true);
    }
    if (d->nargs != 0) {
        return conf_error(p, "invalid number of arguments in \"%s\" directive", d->name);
    }
    if (is_server) {
        struct conf_block *nb = conf_block_new(p->conf, CONF_SERVER, f->b);
        if (!nb) {
            return conf_error(p, "out of memory");
        }
        nb->where = (struct conf_where){p->file, p->line};
        return parse_lines(ps, &(struct frame){FRAME_BLOCK, nb, NULL, NULL}, true);
    }
    bool http = strcmp(d->name, "http") == 0;
    struct conf_where *at = http ? &ps->ld->http_at : &ps->ld->events_at;
    if (at->line) {
        return conf_error(p, "\"%s\" directive is duplicate (first at %s:%d)", d->name, at->file,
                          at->line);
    }
    *at = (struct conf_where){p->file, p->line};
    struct frame nf = {http ? FRAME_HTTP : FRAME_EVENTS, f->b, NULL, NULL};
    return parse_lines(ps, &nf, true);
}

/* A CONF_BLOCK row: its arguments by parse, then its lines by parse_inner. */
static int open_module_block(struct parser *ps, const struct frame *f, unsigned slot,
                             unsigned index, const struct conf_row *as, struct line *d)
{
    const struct conf_row *r = &ps->p.conf->modules[slot]->rows[index];
    if (!r->type->parse_inner) {
        return conf_error(&ps->p, "\"%s\": its type has no inner lines (a bug)", r->name);
    }
    if (conf_apply(&ps->p, f->b, slot, index, as, d->args, d->nargs) < 0) {
        return -1;
    }
    void *field = (char *)f->b->mods[slot].st[r->store] + r->offset;
    return parse_lines(ps, &(struct frame){FRAME_MODULE, f->b, r, field}, true);
}

/* ---------------------------------------------------------------- lines */

static int module_line(struct parser *ps, const struct frame *f, const struct line *d)
{
    struct conf_parse *p = &ps->p;
    if (d->term == '{') {
        return conf_error(p, "\"%s\" cannot open a block inside \"%s\"", d->name, f->row->name);
    }
    char *argv[ARRAY_SIZE(d->args) + 1];
    argv[0] = (char *)d->name;
    memcpy(argv + 1, d->args, d->nargs * sizeof(char *));
    struct conf_block *saved = p->block;
    p->block = f->b;
    int rc = f->row->type->parse_inner(p, f->row, f->field, argv, d->nargs + 1);
    p->block = saved;
    return rc < 0 ? -1 : 0;
}

/* A row (or its nginx alias) in a main, http, server or location frame. */
static int row_line(struct parser *ps, const struct frame *f, struct line *d, const char *name)
{
    struct conf_parse *p = &ps->p;
    unsigned slot, index;
    /* a module's row always wins: nginx's names are only for what no module has */
    const struct conf_row *r = conf_find_row(p->conf, name, &slot, &index);
    const char *alias = r ? NULL : conf_nginx_alias(name);
    if (alias) {
        r = conf_find_row(p->conf, alias, &slot, &index);
    }
    if (!r) {
        int rc = conf_nginx_directive(p, d->name, d->args, d->nargs, d->term == '{');
        return rc <= 0 ? rc : conf_error(p, "unknown directive \"%s\"", d->name);
    }
    struct conf_row as = *r;
    if (alias || f->kind == FRAME_EVENTS) {
        as.name = d->name; /* worker_processes, worker_connections: the row under nginx's name */
    }
    if (!(r->ctx & f->b->kind)) {
        return conf_error(p, "\"%s\" directive is not allowed in the %s context", as.name,
                          frame_name(f));
    }
    if (d->nargs < r->min_args || d->nargs > r->max_args) {
        return conf_error(p, "invalid number of arguments in \"%s\" directive", as.name);
    }
    if (r->flags & CONF_BLOCK) {
        if (d->term != '{') {
            return conf_error(p, "\"%s\" needs a { } block", as.name);
        }
        return open_module_block(ps, f, slot, index, as.name == r->name ? r : &as, d);
    }
    if (d->term == '{') {
        return conf_error(p, "\"%s\" takes no block", as.name);
    }
    return conf_apply(p, f->b, slot, index, as.name == r->name ? r : &as, d->args, d->nargs);
}

static int one_line(struct parser *ps, const struct frame *f)
{
    struct line d;
    if (read_line(ps, &d) < 0) {
        return -1;
    }
    if (strcmp(d.name, "include") == 0) {
        return include(ps, f, &d);
    }
    if (f->kind == FRAME_MODULE) {
        return module_line(ps, f, &d);
    }
    if (f->kind == FRAME_EVENTS) {
        const char *row = NULL;
        int rc = conf_nginx_events(&ps->p, d.name, d.args, d.nargs, d.term == '{', &row);
        return rc == 2 ? row_line(ps, f, &d, row) : rc;
    }
    static const char *const blocks[] = {"server", "location", "http", "events"};
    for (size_t i = 0; i < ARRAY_SIZE(blocks); i++) {
        if (strcmp(d.name, blocks[i]) == 0) {
            return open_block(ps, f, &d);
        }
    }
    return row_line(ps, f, &d, d.name);
}

/* Directives until the '}' that closes the frame (closes) or the end of the tokens. */
static int parse_lines(struct parser *ps, const struct frame *f, bool closes)
{
    struct conf_parse *p = &ps->p;
    while (ps->cur < ps->toks.n) {
        struct conf_tok *t = &ps->toks.v[ps->cur];
        p->line = t->line;
        if (t->kind == '}') {
            if (!closes) {
                return conf_error(p, "unexpected \"}\"");
            }
            ps->cur++;
            return 0;
        }
        if (t->kind != 'w') {
            return conf_error(p, "unexpected \"%c\"", t->kind);
        }
        if (one_line(ps, f) < 0) {
            return -1;
        }
    }
    if (closes) {
        p->line = ps->toks.n ? ps->toks.v[ps->toks.n - 1].line : 1;
        return conf_error(p, "unexpected end of file, expecting \"}\"");
    }
    return 0;
}

/* ---------------------------------------------------------------- loading */

int conf_parse_text(struct conf *c, const char *name, const char *real, const char *dir,
                    const char *text, size_t len, char *err, size_t errlen)
{
    struct load ld = {0};
    struct parser ps = {&ld, {c, c->main, NULL, 0, c->dir, err, errlen}, {0}, 0, dir};
    ps.p.file = conf_intern_file(c, name);
    if (!ps.p.file) {
        snprintf(err, errlen, "%s: out of memory", name);
        return -1;
    }
    if (real) {
        ld.real[ld.depth++] = real;
    }
    int rc = conf_lex(name, text, len, &ps.toks, err, errlen);
    if (rc == 0) {
        rc = parse_lines(&ps, &(struct frame){FRAME_MAIN, c->main, NULL, NULL}, false);
    }
    conf_toks_free(&ps.toks);
    if (rc == 0) {
        sp_free(c->source);
        c->source = sp_strndup(name, strlen(name));
    }
    return rc;
}
