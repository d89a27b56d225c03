/* typing.c - the `types` module (see typing.h). */
#include "core/http/typing.h"

#include "core/base/alloc.h"
#include "core/conf/print.h"
#include "core/conf/types.h"
#include "core/http/route.h"
#include "core/io/offload.h"
#include "fs/types.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* `types_file PATH`: the path as written (for printing) and the table read from it. */
struct types_file {
    char *path;
    struct fs_types *t;
};

struct typing_conf {
    struct fs_types *types; /* a `types { }` block's lines, or NULL */
    struct types_file file;
    char *default_type;
    char *charset; /* "off": none */
    struct conf_words charset_types;
    struct conf_words force_type; /* TYPE [GLOB ...], or "off" */
    unsigned magic;               /* enum fs_magic_mode, by magic_keys */
    unsigned etag;                /* by etag_keys */
    bool nosniff;

    /* derived by finish, per block */
    struct fs_types *own_table;    /* both `types` and `types_file` here: merged, owned */
    struct fs_types *own_charsets; /* charset_types set here: as a table, owned */
    struct fs_typing typing;
    bool offload_used; /* the main block's: offload_use() was called for libmagic or hashes */
    bool default_type_set; /* this block or one above it sets default_type */
};

static int slot = -1;

/* ---------------------------------------------------------------- types { type ext ...; } */

static int types_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                       unsigned n)
{
    (void)r, (void)a, (void)n;
    struct fs_types **t = field;
    /* nginx appends a second types block of the same context to the first */
    if (!*t && !(*t = fs_types_new())) {
        return conf_error(p, "out of memory");
    }
    return 0;
}

static bool media_type_ok(const char *s)
{
    const char *slash = strchr(s, '/');
    if (!slash || slash == s || !slash[1] || strchr(slash + 1, '/')) {
        return false;
    }
    for (const char *c = s; *c; c++) {
        if ((unsigned char)*c <= ' ' || *c == '"' || *c == ',' || *c == 0x7f) {
            return false;
        }
    }
    return true;
}

static int types_inner(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                       unsigned n)
{
    (void)r;
    struct fs_types **t = field;
    if (!media_type_ok(a[0])) {
        return conf_error(p, "\"%s\" is not a media type (type/subtype)", a[0]);
    }
    if (n < 2) {
        return conf_error(p, "types: \"%s\" names no extension", a[0]);
    }
    for (unsigned i = 1; i < n; i++) {
        int rc = fs_types_add(*t, a[0], a[i]);
        if (rc == -ENOMEM) {
            return conf_error(p, "out of memory");
        }
        if (rc < 0 || strchr(a[i], '/')) {
            return conf_error(p, "types: invalid extension \"%s\"", a[i]);
        }
    }
    return 0;
}

struct pair {
    const char *type, *ext;
};

static void collect(void *arg, const char *type, const char *ext)
{
    struct pair **p = arg;
    *(*p)++ = (struct pair){type, ext};
}

static int pair_cmp(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;
    int c = strcmp(x->type, y->type);
    return c ? c : strcmp(x->ext, y->ext);
}

/* One line per type, its extensions sorted: the same table always prints the same. */
static void types_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const struct fs_types *t = *(struct fs_types *const *)field;
    if (!t) {
        return;
    }
    unsigned n = fs_types_count(t);
    struct pair *v = sp_malloc((n ? n : 1) * sizeof(*v)), *end = v;
    if (!v) {
        return;
    }
    fs_types_each(t, collect, &end);
    qsort(v, n, sizeof(*v), pair_cmp);
    conf_out_begin(o, r->name);
    conf_out_open(o);
    for (unsigned i = 0; i < n;) {
        conf_out_begin(o, v[i].type);
        unsigned k = i;
        for (; k < n && !strcmp(v[k].type, v[i].type); k++) {
            conf_out_arg(o, v[k].ext);
        }
        conf_out_end(o);
        i = k;
    }
    conf_out_close(o);
    sp_free(v);
}

static void types_release(void *field)
{
    struct fs_types **t = field;
    fs_types_free(*t);
    *t = NULL;
}

static const struct conf_type types_type = {"types", sizeof(struct fs_types *), types_parse,
                                            types_print, types_release, types_inner};

/* ---------------------------------------------------------------- types_file PATH */

static int file_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                      unsigned n)
{
    (void)r, (void)n;
    struct types_file *f = field;
    char *path = conf_path(p, a[0]);
    if (!path) {
        return -1;
    }
    struct fs_types *t = fs_types_new();
    char why[CONF_ERR_MAX];
    if (!t || fs_types_load_file(t, path, why, sizeof(why)) < 0) {
        fs_types_free(t);
        sp_free(path);
        return conf_error(p, "types_file: %s", t ? why : "out of memory");
    }
    f->path = path;
    f->t = t;
    return 0;
}

static void file_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const struct types_file *f = field;
    if (f->path) {
        conf_out_begin(o, r->name);
        conf_out_arg(o, f->path);
        conf_out_end(o);
    }
}

static void file_release(void *field)
{
    struct types_file *f = field;
    fs_types_free(f->t);
    sp_free(f->path);
    *f = (struct types_file){0};
}

static const struct conf_type file_type = {"types_file", sizeof(struct types_file), file_parse,
                                           file_print, file_release, NULL};

/* ---------------------------------------------------------------- rows */

static const char *const magic_keys[] = {"off", "on", "all", NULL};
static const char *const etag_keys[] = {"on", "off", "content", NULL};
static const uint8_t etag_modes[] = {FS_ETAG_INODE, FS_ETAG_OFF, FS_ETAG_CONTENT};

#define ALL (CONF_MAIN | CONF_SERVER | CONF_LOCATION)
#define OFF(f) offsetof(struct typing_conf, f)

enum { R_TYPES, R_FILE, R_DEFAULT, R_CHARSET, R_CHARSET_TYPES, R_FORCE, R_MAGIC, R_NOSNIFF };

static const struct conf_row rows[] = {
    [R_TYPES] = {"types", ALL, CONF_STORE_LOC, 0, 0, CONF_MULTI | CONF_BLOCK, &types_type,
                 OFF(types), NULL, 0, 0, "{ text/plain txt log; }", NULL},
    [R_FILE] = {"types_file", ALL, CONF_STORE_LOC, 1, 1, 0, &file_type, OFF(file), NULL, 0, 0,
                "/etc/mime.types", NULL},
    [R_DEFAULT] = {"default_type", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_str, OFF(default_type),
                   "application/octet-stream", 0, 0, "text/plain", NULL},
    [R_CHARSET] = {"charset", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_str, OFF(charset), "off", 0, 0,
                   "utf-8", NULL},
    [R_CHARSET_TYPES] = {"charset_types", ALL, CONF_STORE_LOC, 1, 64, 0, &conf_words,
                         OFF(charset_types),
                         "text/html text/xml text/plain text/vnd.wap.wml text/javascript "
                         "application/javascript application/rss+xml",
                         0, 0, "text/html text/css", NULL},
    [R_FORCE] = {"force_type", ALL, CONF_STORE_LOC, 1, 33, 0, &conf_words, OFF(force_type), "off",
                 0, 0, "text/plain *.log", NULL},
    [R_MAGIC] = {"mime_magic", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_keyword, OFF(magic), "off", 0,
                 0, "on", magic_keys},
    [R_NOSNIFF] = {"nosniff", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_flag, OFF(nosniff), "off", 0, 0,
                   "on", NULL},
    {"etag", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_keyword, OFF(etag), "on", 0, 0, "content",
     etag_keys},
};

/* ---------------------------------------------------------------- finishing */

static bool set_here(const struct conf_block *b, unsigned row)
{
    return conf_where_of(b, (unsigned)slot, row).line != 0;
}

/* The table b uses: the nearest block (b or up) that sets types or types_file decides. */
static int table_of(struct conf_block *b, struct typing_conf *tc, const struct typing_conf *up,
                    const struct fs_types **out, char *err, size_t errlen)
{
    bool blk = set_here(b, R_TYPES) && tc->types, file = set_here(b, R_FILE) && tc->file.t;
    if (blk && file) {
        /* both here: the file, then the block's own lines over it */
        tc->own_table = fs_types_new();
        if (!tc->own_table || fs_types_add_all(tc->own_table, tc->file.t) < 0 ||
            fs_types_add_all(tc->own_table, tc->types) < 0) {
            return conf_fail_at(err, errlen, b->where, "out of memory");
        }
        *out = tc->own_table;
    } else if (blk || file) {
        *out = blk ? tc->types : tc->file.t;
    } else {
        *out = up ? up->typing.types : NULL;
    }
    return 0;
}

static int finish_block(struct conf_block *b, const struct typing_conf *up, char *err,
                        size_t errlen)
{
    struct typing_conf *tc = conf_get(b, (unsigned)slot, CONF_STORE_LOC);
    struct fs_typing *t = &tc->typing;
    *t = (struct fs_typing){0};
    if (table_of(b, tc, up, &t->types, err, errlen) < 0) {
        return -1;
    }
    if (!media_type_ok(tc->default_type)) {
        return conf_fail_at(err, errlen, conf_where_of(b, (unsigned)slot, R_DEFAULT),
                            "default_type \"%s\" is not a media type (type/subtype)",
                            tc->default_type);
    }
    t->default_type = tc->default_type;
    int dl = conf_where_of(b, (unsigned)slot, R_DEFAULT).line;
    tc->default_type_set = (dl != 0 && dl != CONF_LINE_DEFAULT) ||
                           (up && up->default_type_set);
    t->charset = strcmp(tc->charset, "off") ? tc->charset : NULL;
    if (set_here(b, R_CHARSET_TYPES) || !up) {
        tc->own_charsets = fs_types_new();
        if (!tc->own_charsets) {
            return conf_fail_at(err, errlen, b->where, "out of memory");
        }
        for (unsigned i = 0; i < tc->charset_types.n; i++) {
            const char *ty = tc->charset_types.v[i];
            if (strcmp(ty, "*") && !media_type_ok(ty)) {
                return conf_fail_at(err, errlen,
                                    conf_where_of(b, (unsigned)slot, R_CHARSET_TYPES),
                                    "charset_types: \"%s\" is not a media type", ty);
            }
            if (fs_types_add(tc->own_charsets, "1", ty) < 0) {
                return conf_fail_at(err, errlen,
                                    conf_where_of(b, (unsigned)slot, R_CHARSET_TYPES),
                                    "charset_types: invalid type \"%s\"", ty);
            }
        }
        t->charset_types = tc->own_charsets;
    } else {
        t->charset_types = up->typing.charset_types;
    }
    const struct conf_words *f = &tc->force_type;
    if (f->n && strcmp(f->v[0], "off")) {
        if (!media_type_ok(f->v[0])) {
            return conf_fail_at(err, errlen, conf_where_of(b, (unsigned)slot, R_FORCE),
                                "force_type \"%s\" is not a media type (type/subtype)", f->v[0]);
        }
        t->force_type = f->v[0];
        t->force_globs = f->v + 1;
        t->nforce_globs = f->n - 1;
    } else if (f->n > 1) {
        return conf_fail_at(err, errlen, conf_where_of(b, (unsigned)slot, R_FORCE),
                            "force_type off takes no file names");
    }
    t->magic = (uint8_t)tc->magic;
    t->etag = etag_modes[tc->etag];
    t->nosniff = tc->nosniff;
    fs_typing_seal(t);
    for (struct conf_block *k = b->children; k; k = k->next) {
        if (finish_block(k, tc, err, errlen) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Does any block sniff or hash? Those run on the offload helpers (core/http/cache_fill.c). */
static bool needs_helpers(const struct conf_block *b)
{
    const struct typing_conf *tc = conf_get(b, (unsigned)slot, CONF_STORE_LOC);
    if (tc->typing.magic != FS_MAGIC_OFF || tc->typing.etag == FS_ETAG_CONTENT) {
        return true;
    }
    for (const struct conf_block *k = b->children; k; k = k->next) {
        if (needs_helpers(k)) {
            return true;
        }
    }
    return false;
}

static int typing_finish(struct conf *c, unsigned s, char *err, size_t errlen)
{
    slot = (int)s; /* the same on every load: workers of an older generation read it too */
    if (finish_block(c->main, NULL, err, errlen) < 0) {
        return -1;
    }
    struct typing_conf *m = conf_get(c->main, (unsigned)slot, CONF_STORE_LOC);
    if (needs_helpers(c->main)) {
        offload_use(); /* starts no thread: the first sniff or hash does */
        m->offload_used = true;
    }
    return 0;
}

static void release_block(struct conf_block *b)
{
    struct typing_conf *tc = conf_get(b, (unsigned)slot, CONF_STORE_LOC);
    fs_types_free(tc->own_table);
    fs_types_free(tc->own_charsets);
    tc->own_table = tc->own_charsets = NULL;
    for (struct conf_block *k = b->children; k; k = k->next) {
        release_block(k);
    }
}

static void typing_release(struct conf *c, unsigned s)
{
    slot = (int)s; /* an earlier module's finish may have failed before this one ran */
    struct typing_conf *m = conf_get(c->main, (unsigned)slot, CONF_STORE_LOC);
    if (m->offload_used) {
        (void)offload_unuse();
        m->offload_used = false;
    }
    release_block(c->main);
}

const struct fs_typing *http_typing(const struct route_loc *l)
{
    if (slot < 0 || !l || !l->block) {
        return &fs_typing_default;
    }
    const struct typing_conf *tc = conf_get(l->block, (unsigned)slot, CONF_STORE_LOC);
    return tc ? &tc->typing : &fs_typing_default;
}

const char *http_configured_default_type(const struct route_loc *l)
{
    if (slot < 0 || !l || !l->block) {
        return NULL;
    }
    const struct typing_conf *tc = conf_get(l->block, (unsigned)slot, CONF_STORE_LOC);
    return tc && tc->default_type_set ? tc->default_type : NULL;
}

const struct conf_module typing_module = {
    .name = "types",
    .rows = rows,
    .nrows = ARRAY_SIZE(rows),
    .size = {[CONF_STORE_LOC] = sizeof(struct typing_conf)},
    .finish = typing_finish,
    .release = typing_release,
};
