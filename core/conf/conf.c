/*
 * conf.c - the directive engine: blocks, rows, defaults, inheritance (see conf.h).
 *
 * The engine itself knows only the two block directives, `server` (main) and
 * `location PREFIX` (server); every other name is looked up in the modules'
 * row tables. A row set twice in one block is an error unless it is
 * CONF_MULTI (as in nginx: "directive is duplicate").
 */
#include "core/conf/conf.h"

#include "core/base/alloc.h"
#include "core/conf/lex.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

static void block_free(struct conf *c, struct conf_block *b)
{
    struct conf_block *k = b->children;
    while (k) {
        struct conf_block *next = k->next;
        block_free(c, k);
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

static struct conf_block *block_new(struct conf *c, enum conf_ctx kind, struct conf_block *parent)
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
            block_free(c, b);
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

/* Keeps a file name alive for the conf_where pointers that name it. */
static const char *intern_file(struct conf *c, const char *name)
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

int conf_init(struct conf *c, const struct conf_module *const *modules, unsigned n)
{
    memset(c, 0, sizeof(*c));
    if (n > CONF_MODULES_MAX) {
        return -EINVAL;
    }
    c->modules = modules;
    c->nmodules = n;
    c->main = block_new(c, CONF_MAIN, NULL);
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
        block_free(c, c->main);
    }
    for (unsigned i = 0; i < c->nfiles; i++) {
        sp_free(c->files[i]);
    }
    sp_free(c->files);
    sp_free(c->source);
    sp_free(c->dir);
    memset(c, 0, sizeof(*c));
}

struct conf_block *conf_add_server(struct conf *c)
{
    struct conf_block *b = block_new(c, CONF_SERVER, c->main);
    if (b) {
        b->where = (struct conf_where){intern_file(c, "(command line)"), 0};
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

/* ---------------------------------------------------------------- directives */

struct parser {
    struct conf_parse p;
    struct conf_toks toks;
    size_t cur;
};

static const char *ctx_name(enum conf_ctx kind)
{
    return kind == CONF_MAIN ? "main" : kind == CONF_SERVER ? "server" : "location";
}

/* Finds the row called name: its module's slot and index. */
static const struct conf_row *find_row(const struct conf *c, const char *name, unsigned *slot,
                                       unsigned *index)
{
    for (unsigned m = 0; m < c->nmodules; m++) {
        int i = conf_row_index(c->modules[m], name);
        if (i >= 0) {
            *slot = m;
            *index = (unsigned)i;
            return &c->modules[m]->rows[i];
        }
    }
    return NULL;
}

/* Applies one row occurrence to block b (args already counted and checked). */
static int apply(struct conf_parse *p, struct conf_block *b, unsigned slot, unsigned index,
                 char **args, unsigned nargs)
{
    const struct conf_module *mod = p->conf->modules[slot];
    const struct conf_row *r = &mod->rows[index];
    struct conf_slot *s = &b->mods[slot];
    if (s->where[index].line != 0 && !(r->flags & CONF_MULTI)) {
        return conf_error(p, "\"%s\" directive is duplicate (first at line %d)", r->name,
                          s->where[index].line);
    }
    if (r->flags & CONF_CONTENT) {
        if (b->content && b->content != mod) {
            return conf_error(p,
                              "\"%s\": this %s already has a handler (\"%s\" at %s:%d); a "
                              "location has one",
                              r->name, ctx_name(b->kind), b->content->name, b->content_at.file,
                              b->content_at.line);
        }
        b->content = mod;
        b->content_at = (struct conf_where){p->file, p->line};
    }
    void *field = (char *)s->st[r->store] + r->offset;
    struct conf_block *saved = p->block;
    p->block = b;
    int rc = r->type->parse(p, r, field, args, nargs);
    p->block = saved;
    if (rc < 0) {
        return -1;
    }
    s->where[index] = (struct conf_where){p->file, p->line};
    return 0;
}

static int parse_block(struct parser *ps, struct conf_block *b);

static int open_block(struct parser *ps, struct conf_block *b, const char *name, char **args,
                      unsigned nargs, int line)
{
    struct conf_parse *p = &ps->p;
    struct conf *c = p->conf;
    enum conf_ctx kind;
    if (strcmp(name, "server") == 0) {
        if (b->kind != CONF_MAIN) {
            return conf_error(p, "\"server\" directive is not allowed in the %s context",
                              ctx_name(b->kind));
        }
        if (nargs != 0) {
            return conf_error(p, "invalid number of arguments in \"server\" directive");
        }
        kind = CONF_SERVER;
    } else {
        if (b->kind != CONF_SERVER) {
            return conf_error(p, "\"location\" directive is not allowed in the %s context",
                              ctx_name(b->kind));
        }
        if (nargs != 1) {
            return conf_error(p, "invalid number of arguments in \"location\" directive");
        }
        if (args[0][0] != '/') {
            return conf_error(p, "location prefix \"%s\" must start with '/'", args[0]);
        }
        for (struct conf_block *k = b->children; k; k = k->next) {
            if (k->nargs == 1 && strcmp(k->args[0], args[0]) == 0) {
                return conf_error(p, "duplicate location \"%s\" (first at line %d)", args[0],
                                  k->where.line);
            }
        }
        kind = CONF_LOCATION;
    }
    struct conf_block *nb = block_new(c, kind, b);
    if (!nb) {
        return conf_error(p, "out of memory");
    }
    nb->where = (struct conf_where){p->file, line};
    if (nargs) {
        nb->args = sp_calloc(nargs, sizeof(char *));
        if (!nb->args) {
            return conf_error(p, "out of memory");
        }
        for (unsigned i = 0; i < nargs; i++) {
            if (!(nb->args[i] = conf_strdup(p, args[i]))) {
                return -1;
            }
            nb->nargs++;
        }
    }
    return parse_block(ps, nb);
}

static int parse_directive(struct parser *ps, struct conf_block *b)
{
    struct conf_parse *p = &ps->p;
    struct conf_tok *name = &ps->toks.v[ps->cur++];
    size_t first = ps->cur;
    while (ps->cur < ps->toks.n && ps->toks.v[ps->cur].kind == 'w') {
        ps->cur++;
    }
    unsigned nargs = (unsigned)(ps->cur - first);
    p->line = name->line;
    if (ps->cur >= ps->toks.n) {
        return conf_error(p, "unexpected end of file, expecting \";\" or \"{\" after \"%s\"",
                          name->text);
    }
    char term = ps->toks.v[ps->cur].kind;
    if (term == '}') {
        p->line = ps->toks.v[ps->cur].line;
        return conf_error(p, "unexpected \"}\", expecting \";\" after \"%s\"", name->text);
    }
    ps->cur++;
    char *args[64];
    if (nargs > ARRAY_SIZE(args)) {
        return conf_error(p, "too many arguments in \"%s\" directive", name->text);
    }
    for (unsigned i = 0; i < nargs; i++) {
        args[i] = ps->toks.v[first + i].text;
    }
    bool is_block = strcmp(name->text, "server") == 0 || strcmp(name->text, "location") == 0;
    if (is_block) {
        if (term != '{') {
            return conf_error(p, "\"%s\" needs a { } block", name->text);
        }
        return open_block(ps, b, name->text, args, nargs, name->line);
    }
    unsigned slot, index;
    const struct conf_row *r = find_row(p->conf, name->text, &slot, &index);
    if (!r) {
        return conf_error(p, "unknown directive \"%s\"", name->text);
    }
    if (!(r->ctx & b->kind)) {
        return conf_error(p, "\"%s\" directive is not allowed in the %s context", r->name,
                          ctx_name(b->kind));
    }
    if (term == '{') {
        return conf_error(p, "\"%s\" takes no block", r->name);
    }
    if (nargs < r->min_args || nargs > r->max_args) {
        return conf_error(p, "invalid number of arguments in \"%s\" directive", r->name);
    }
    return apply(p, b, slot, index, args, nargs);
}

/* Directives until the matching '}' (or the end of the file for the main block). */
static int parse_block(struct parser *ps, struct conf_block *b)
{
    struct conf_parse *p = &ps->p;
    while (ps->cur < ps->toks.n) {
        struct conf_tok *t = &ps->toks.v[ps->cur];
        p->line = t->line;
        if (t->kind == '}') {
            if (b->kind == CONF_MAIN) {
                return conf_error(p, "unexpected \"}\"");
            }
            ps->cur++;
            return 0;
        }
        if (t->kind != 'w') {
            return conf_error(p, "unexpected \"%c\"", t->kind);
        }
        if (parse_directive(ps, b) < 0) {
            return -1;
        }
    }
    if (b->kind != CONF_MAIN) {
        p->line = ps->toks.n ? ps->toks.v[ps->toks.n - 1].line : 1;
        return conf_error(p, "unexpected end of file, expecting \"}\"");
    }
    return 0;
}

static int load(struct conf *c, const char *name, const char *text, size_t len, char *err,
                size_t errlen)
{
    struct parser ps;
    memset(&ps, 0, sizeof(ps));
    ps.p.conf = c;
    ps.p.dir = c->dir;
    ps.p.err = err;
    ps.p.errlen = errlen;
    ps.p.file = intern_file(c, name);
    if (!ps.p.file) {
        snprintf(err, errlen, "%s: out of memory", name);
        return -1;
    }
    int rc = conf_lex(name, text, len, &ps.toks, err, errlen);
    if (rc == 0) {
        rc = parse_block(&ps, c->main);
    }
    conf_toks_free(&ps.toks);
    if (rc == 0) {
        sp_free(c->source);
        c->source = sp_strndup(name, strlen(name));
    }
    return rc;
}

int conf_load_string(struct conf *c, const char *name, const char *text, char *err, size_t errlen)
{
    return load(c, name, text, strlen(text), err, errlen);
}

/* The absolute directory of path. */
static char *dir_of(const char *path)
{
    char buf[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (path[0] == '/') {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        return sp_strndup(path, n);
    }
    if (!getcwd(buf, sizeof(buf))) {
        return NULL;
    }
    size_t bl = strlen(buf);
    size_t dl = slash ? (size_t)(slash - path) : 0;
    if (bl + 1 + dl + 1 > sizeof(buf)) {
        return NULL;
    }
    if (dl) {
        buf[bl] = '/';
        memcpy(buf + bl + 1, path, dl);
        buf[bl + 1 + dl] = '\0';
    }
    return sp_strndup(buf, strlen(buf));
}

int conf_load_file(struct conf *c, const char *path, char *err, size_t errlen)
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
    /* relative paths in the file are relative to its directory, printed absolute */
    char *dir = dir_of(path);
    if (!dir) {
        sp_free(buf);
        snprintf(err, errlen, "%s: cannot resolve its directory", path);
        return -1;
    }
    sp_free(c->dir);
    c->dir = dir;
    int rc = load(c, path, buf, n, err, errlen);
    sp_free(buf);
    return rc;
}

int conf_set(struct conf *c, struct conf_block *b, const char *where, const char *name,
             const char *const *args, unsigned nargs, char *err, size_t errlen)
{
    struct conf_parse p = {c, b, intern_file(c, where), 0, c->dir, err, errlen};
    if (!p.file) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    unsigned slot, index;
    const struct conf_row *r = find_row(c, name, &slot, &index);
    if (!r || !(r->ctx & b->kind) || nargs < r->min_args || nargs > r->max_args) {
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
    int rc = apply(&p, b, slot, index, copy, nargs);
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
