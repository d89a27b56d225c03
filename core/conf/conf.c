/*
 * conf.c - a configuration's life: loading, command-line settings, defaults, inheritance,
 * freeing (see conf.h). The syntax is parse.c's, blocks and rows block.c's.
 */
#include "core/conf/conf.h"

#include "core/base/alloc.h"
#include "core/conf/block.h"
#include "core/conf/include.h"
#include "core/conf/parse.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int conf_init(struct conf *c, const struct conf_module *const *modules, unsigned n)
{
    memset(c, 0, sizeof(*c));
    if (n > CONF_MODULES_MAX) {
        return -EINVAL;
    }
    c->modules = modules;
    c->nmodules = n;
    for (unsigned i = 0; i < n; i++) {
        if (modules[i]->start && modules[i]->start() < 0) {
            return -ENOSPC;
        }
    }
    c->main = conf_block_new(c, CONF_MAIN, NULL);
    if (!c->main) {
        return -ENOMEM;
    }
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd))) {
        c->dir = sp_strndup(cwd, strlen(cwd));
    }
    return 0;
}

void conf_free(struct conf *c)
{
    if (c->finished) {
        for (unsigned m = c->nmodules; m-- > 0;) {
            if (c->modules[m]->release) {
                c->modules[m]->release(c, m);
            }
        }
    }
    if (c->main) {
        conf_block_free(c, c->main);
    }
    for (unsigned i = 0; i < c->nfiles; i++) {
        sp_free(c->files[i]);
    }
    sp_free(c->files);
    for (unsigned i = 0; i < c->nnotices; i++) {
        sp_free(c->notices[i]);
    }
    sp_free(c->notices);
    sp_free(c->source);
    sp_free(c->dir);
    memset(c, 0, sizeof(*c));
}

struct conf_block *conf_add_server(struct conf *c)
{
    struct conf_block *b = conf_block_new(c, CONF_SERVER, c->main);
    if (b) {
        b->where = (struct conf_where){conf_intern_file(c, "(command line)"), 0};
    }
    return b;
}

int conf_slot(const struct conf *c, const struct conf_module *m)
{
    for (unsigned i = 0; i < c->nmodules; i++) {
        if (c->modules[i] == m) {
            return (int)i;
        }
    }
    return -1;
}

int conf_row_index(const struct conf_module *m, const char *name)
{
    for (unsigned i = 0; i < m->nrows; i++) {
        if (strcmp(m->rows[i].name, name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* ---------------------------------------------------------------- command-line settings */

int conf_set(struct conf *c, struct conf_block *b, const char *where, const char *name,
             const char *const *args, unsigned nargs, char *err, size_t errlen)
{
    struct conf_parse p = {c, b, conf_intern_file(c, where), 0, c->dir, err, errlen};
    if (!p.file) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    unsigned slot, index;
    const struct conf_row *r = conf_find_row(c, name, &slot, &index);
    if (!r || !(r->ctx & b->kind) || nargs < r->min_args || nargs > r->max_args ||
        (r->flags & CONF_BLOCK)) {
        return conf_error(&p, "\"%s\" cannot be set here", name);
    }
    struct conf_slot *s = &b->mods[slot];
    void *field = (char *)s->st[r->store] + r->offset;
    bool append = (r->flags & CONF_MULTI) && s->where[index].line == CONF_LINE_FLAG;
    if (s->where[index].line != 0 && !append) {
        /* replaces what the file said at this level (a repeated flag adds to a list) */
        if (r->type->release) {
            r->type->release(field);
        }
        memset(field, 0, r->type->size);
        s->where[index] = (struct conf_where){NULL, 0};
    }
    char *copy[64];
    if (nargs > ARRAY_SIZE(copy)) {
        return conf_error(&p, "too many arguments for \"%s\"", name);
    }
    memcpy(copy, args, nargs * sizeof(char *)); /* parsers take char **, and do not write */
    int rc = conf_apply(&p, b, slot, index, r, copy, nargs);
    if (rc == 0) {
        s->where[index].line = CONF_LINE_FLAG;
    }
    return rc;
}

/* ---------------------------------------------------------------- finishing */

/* Splits a default ("index.html index.htm") into arguments and parses it in the main block. */
static int apply_default(struct conf *c, unsigned slot, unsigned index, char *err, size_t errlen)
{
    const struct conf_module *mod = c->modules[slot];
    const struct conf_row *r = &mod->rows[index];
    char text[256], *args[16];
    unsigned n = 0;
    snprintf(text, sizeof(text), "%s", r->def);
    for (char *save = NULL, *tok = strtok_r(text, " ", &save); tok && n < ARRAY_SIZE(args);
         tok = strtok_r(NULL, " ", &save)) {
        args[n++] = tok;
    }
    struct conf_parse p = {c, c->main, "(default)", 0, c->dir, err, errlen};
    void *field = (char *)c->main->mods[slot].st[r->store] + r->offset;
    if (r->type->parse(&p, r, field, args, n) < 0) {
        return -1; /* a bad default is a bug; the message names it */
    }
    c->main->mods[slot].where[index] = (struct conf_where){"(default)", CONF_LINE_DEFAULT};
    return 0;
}

/* Copies every value b does not set from its parent (shared, not duplicated). */
static void inherit(struct conf *c, struct conf_block *b)
{
    for (unsigned m = 0; m < c->nmodules; m++) {
        const struct conf_module *mod = c->modules[m];
        struct conf_slot *s = &b->mods[m], *ps = &b->parent->mods[m];
        for (unsigned i = 0; i < mod->nrows; i++) {
            const struct conf_row *r = &mod->rows[i];
            if (s->where[i].line != 0 || !s->st[r->store] || !ps->st[r->store]) {
                continue;
            }
            memcpy((char *)s->st[r->store] + r->offset, (char *)ps->st[r->store] + r->offset,
                   r->type->size);
        }
    }
    for (struct conf_block *k = b->children; k; k = k->next) {
        inherit(c, k);
    }
}

int conf_finish(struct conf *c, char *err, size_t errlen)
{
    for (unsigned m = 0; m < c->nmodules; m++) {
        const struct conf_module *mod = c->modules[m];
        for (unsigned i = 0; i < mod->nrows; i++) {
            if (mod->rows[i].def && c->main->mods[m].where[i].line == 0 &&
                apply_default(c, m, i, err, errlen) < 0) {
                return -1;
            }
        }
    }
    for (struct conf_block *k = c->main->children; k; k = k->next) {
        inherit(c, k);
    }
    c->finished = true; /* from here on, release() undoes what finish() derived */
    for (unsigned m = 0; m < c->nmodules; m++) {
        if (c->modules[m]->finish && c->modules[m]->finish(c, m, err, errlen) < 0) {
            return -1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- loading */

int conf_load_string(struct conf *c, const char *name, const char *text, char *err, size_t errlen)
{
    return conf_parse_text(c, name, NULL, c->dir, text, strlen(text), err, errlen);
}

int conf_load_file(struct conf *c, const char *path, char *err, size_t errlen)
{
    char *text;
    size_t len;
    if (conf_read_file(path, &text, &len, err, errlen) < 0) {
        return -1;
    }
    /* relative paths in the file are relative to its directory, printed absolute */
    char *dir = conf_dir_of(path);
    char *real = realpath(path, NULL);
    if (!dir || !real) {
        sp_free(text);
        sp_free(dir);
        free(real);
        snprintf(err, errlen, "%s: cannot resolve its directory", path);
        return -1;
    }
    sp_free(c->dir);
    c->dir = dir;
    int rc = conf_parse_text(c, path, real, dir, text, len, err, errlen);
    free(real);
    sp_free(text);
    return rc;
}
