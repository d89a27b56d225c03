/*
 * block.c - blocks, and directives applied to them (see block.h).
 *
 * A row set twice in one block is an error unless it is CONF_MULTI (as in nginx: "directive
 * is duplicate"), and a location has one handler (CONF_CONTENT). Only the block that set a
 * value owns it: inherited ones are shared, so freeing a block frees what it set.
 */
#include "core/conf/block.h"

#include "core/base/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------- blocks */

/* Stores present in each kind of block. */
static bool has_store(enum conf_ctx kind, unsigned st)
{
    switch (kind) {
    case CONF_MAIN:
        return true;
    case CONF_SERVER:
        return st != CONF_STORE_MAIN;
    default:
        return st == CONF_STORE_LOC;
    }
}

void conf_block_free(struct conf *c, struct conf_block *b)
{
    struct conf_block *k = b->children;
    while (k) {
        struct conf_block *next = k->next;
        conf_block_free(c, k);
        k = next;
    }
    for (unsigned m = 0; b->mods && m < c->nmodules; m++) {
        const struct conf_module *mod = c->modules[m];
        struct conf_slot *s = &b->mods[m];
        for (unsigned i = 0; s->where && i < mod->nrows; i++) {
            const struct conf_row *r = &mod->rows[i];
            /* only the block that set a value owns it: inherited ones are shared */
            if (s->where[i].line != 0 && r->type->release && s->st[r->store]) {
                r->type->release((char *)s->st[r->store] + r->offset);
            }
        }
        for (unsigned st = 0; st < CONF_STORES; st++) {
            sp_free(s->st[st]);
        }
        sp_free(s->where);
    }
    sp_free(b->mods);
    for (unsigned i = 0; i < b->nargs; i++) {
        sp_free(b->args[i]);
    }
    sp_free(b->args);
    sp_free(b);
}

struct conf_block *conf_block_new(struct conf *c, enum conf_ctx kind, struct conf_block *parent)
{
    struct conf_block *b = sp_calloc(1, sizeof(*b));
    if (!b) {
        return NULL;
    }
    b->kind = kind;
    b->parent = parent;
    b->mods = sp_calloc(c->nmodules ? c->nmodules : 1, sizeof(*b->mods));
    if (!b->mods) {
        sp_free(b);
        return NULL;
    }
    for (unsigned m = 0; m < c->nmodules; m++) {
        const struct conf_module *mod = c->modules[m];
        struct conf_slot *s = &b->mods[m];
        s->where = sp_calloc(mod->nrows ? mod->nrows : 1, sizeof(*s->where));
        bool ok = s->where != NULL;
        for (unsigned st = 0; ok && st < CONF_STORES; st++) {
            if (mod->size[st] && has_store(kind, st)) {
                ok = (s->st[st] = sp_calloc(1, mod->size[st])) != NULL;
            }
        }
        if (!ok) {
            conf_block_free(c, b);
            return NULL;
        }
    }
    if (parent) {
        if (parent->last_child) {
            parent->last_child->next = b;
        } else {
            parent->children = b;
        }
        parent->last_child = b;
        parent->nchildren++;
    }
    return b;
}

const char *conf_intern_file(struct conf *c, const char *name)
{
    for (unsigned i = 0; i < c->nfiles; i++) {
        if (strcmp(c->files[i], name) == 0) {
            return c->files[i];
        }
    }
    char **nf = sp_realloc(c->files, (c->nfiles + 1) * sizeof(*nf));
    if (!nf) {
        return NULL;
    }
    c->files = nf;
    nf[c->nfiles] = sp_strndup(name, strlen(name));
    return nf[c->nfiles] ? nf[c->nfiles++] : NULL;
}

/* ---------------------------------------------------------------- directives */

const char *conf_ctx_name(enum conf_ctx kind)
{
    return kind == CONF_MAIN ? "main" : kind == CONF_SERVER ? "server" : "location";
}

const struct conf_row *conf_find_row(const struct conf *c, const char *name, unsigned *slot,
                                     unsigned *index)
{
    for (unsigned m = 0; m < c->nmodules; m++) {
        const struct conf_module *mod = c->modules[m];
        for (unsigned i = 0; i < mod->nrows; i++) {
            if (strcmp(mod->rows[i].name, name) == 0) {
                *slot = m;
                *index = i;
                return &mod->rows[i];
            }
        }
    }
    return NULL;
}

int conf_apply(struct conf_parse *p, struct conf_block *b, unsigned slot, unsigned index,
               const struct conf_row *as, char **args, unsigned nargs)
{
    const struct conf_module *mod = p->conf->modules[slot];
    const struct conf_row *r = &mod->rows[index];
    struct conf_slot *s = &b->mods[slot];
    if (s->where[index].line != 0 && !(r->flags & CONF_MULTI)) {
        struct conf_where w = s->where[index];
        if (w.file == p->file || w.line < 0) {
            return conf_error(p, "\"%s\" directive is duplicate (first at line %d)", as->name,
                              w.line);
        }
        return conf_error(p, "\"%s\" directive is duplicate (first at %s:%d)", as->name, w.file,
                          w.line);
    }
    if (r->flags & CONF_CONTENT) {
        if (b->content && b->content != mod) {
            return conf_error(p,
                              "\"%s\": this %s already has a handler (\"%s\" at %s:%d); a "
                              "location has one",
                              as->name, conf_ctx_name(b->kind), b->content->name,
                              b->content_at.file, b->content_at.line);
        }
        b->content = mod;
        b->content_at = (struct conf_where){p->file, p->line};
    }
    void *field = (char *)s->st[r->store] + r->offset;
    struct conf_block *saved = p->block;
    p->block = b;
    int rc = r->type->parse(p, as, field, args, nargs);
    p->block = saved;
    if (rc < 0) {
        return -1;
    }
    s->where[index] = (struct conf_where){p->file, p->line};
    return 0;
}

int conf_note(struct conf_parse *p, const char *fmt, ...)
{
    char msg[CONF_ERR_MAX], line[CONF_ERR_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    conf_one_line(msg, sizeof(msg));
    snprintf(line, sizeof(line), "%s:%d: %s", p->file, p->line, msg);
    struct conf *c = p->conf;
    char **nv = sp_realloc(c->notices, (c->nnotices + 1) * sizeof(*nv));
    if (!nv) {
        return conf_error(p, "out of memory");
    }
    c->notices = nv;
    if (!(nv[c->nnotices] = conf_strdup(p, line))) {
        return -1;
    }
    c->nnotices++;
    return 0;
}
