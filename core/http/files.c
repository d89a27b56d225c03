/* files.c - root, alias, try_files (see files.h). */
#include "core/http/files.h"

#include "core/base/alloc.h"
#include "core/conf/print.h"
#include "core/conf/types.h"
#include "core/conf/values.h"
#include "core/http/cache_fill.h"
#include "core/http/handler.h"
#include "core/http/location.h"
#include "core/http/route.h"
#include "core/http/typing.h"
#include "core/http/userdir.h"
#include "core/http/vars.h"

#include <errno.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- alias PATH */

struct alias {
    char *text;
    struct http_script *value;
};

static int alias_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                       unsigned n)
{
    (void)r, (void)n;
    struct alias *al = field;
    if (a[0][0] != '/' && a[0][0] != '$') {
        return conf_error(p, "alias \"%s\" must be an absolute path", a[0]);
    }
    char msg[512];
    if (!(al->text = conf_strdup(p, a[0]))) {
        return -1;
    }
    if (http_script_compile(&al->value, a[0], msg, sizeof(msg)) < 0) {
        return conf_error(p, "%s", msg);
    }
    if (http_script_prefix(al->value).len == 0) {
        return conf_error(p, "alias \"%s\" must start with a directory, not a variable", a[0]);
    }
    return 0;
}

static void alias_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const struct alias *al = field;
    if (al->text) {
        conf_out_begin(o, r->name);
        conf_out_arg(o, al->text);
        conf_out_end(o);
    }
}

static void alias_release(void *field)
{
    struct alias *al = field;
    http_script_free(al->value);
    sp_free(al->text);
    memset(al, 0, sizeof(*al));
}

/* size 0: an alias belongs to the location that says it (nested ones use their root) */
static const struct conf_type alias_type = {"alias", 0, alias_parse, alias_print, alias_release};

/* ---------------------------------------------------------------- try_files FILE ... LAST */

struct try_files {
    char **text;
    struct http_script **value; /* [n - 1]: the FILE arguments */
    unsigned n;
    int code; /* LAST is =CODE */
};

static int try_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                     unsigned n)
{
    (void)r;
    struct try_files *t = field;
    t->text = sp_calloc(n, sizeof(char *));
    t->value = sp_calloc(n, sizeof(*t->value));
    if (!t->text || !t->value) {
        return conf_error(p, "out of memory");
    }
    t->n = n;
    for (unsigned i = 0; i < n; i++) {
        if (!(t->text[i] = conf_strdup(p, a[i]))) {
            return -1;
        }
    }
    const char *last = a[n - 1];
    if (last[0] == '=') {
        char *end;
        unsigned long code = strtoul(last + 1, &end, 10);
        if (*end || end == last + 1 || code < 200 || code > 599) {
            return conf_error(p, "invalid code \"%s\" in try_files (=200 to =599)", last);
        }
        t->code = (int)code;
    } else if (last[0] != '@' && last[0] != '/' && last[0] != '$') {
        return conf_error(p, "the last try_files argument \"%s\" must be a URI, @name or =CODE",
                          last);
    }
    for (unsigned i = 0; i < n; i++) {
        char msg[512];
        if ((i + 1 < n || (last[0] != '=' && last[0] != '@')) &&
            http_script_compile(&t->value[i], a[i], msg, sizeof(msg)) < 0) {
            return conf_error(p, "%s", msg);
        }
    }
    return 0;
}

static void try_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const struct try_files *t = field;
    if (t->n) {
        conf_out_begin(o, r->name);
        for (unsigned i = 0; i < t->n; i++) {
            conf_out_arg(o, t->text[i]);
        }
        conf_out_end(o);
    }
}

static void try_release(void *field)
{
    struct try_files *t = field;
    for (unsigned i = 0; i < t->n; i++) {
        sp_free(t->text[i]);
        if (t->value) {
            http_script_free(t->value[i]);
        }
    }
    sp_free(t->text);
    sp_free(t->value);
    memset(t, 0, sizeof(*t));
}

static const struct conf_type try_type = {"try_files", 0, try_parse, try_print, try_release};

/* ---------------------------------------------------------------- the module */

struct files_conf {
    char *root_path;
    struct alias alias;
    struct try_files try_files;
    const struct http_root *root; /* derived: the directory names are opened beneath */
    size_t alias_dir_len;         /* derived: bytes of the alias that name that directory */
};

struct files_main {
    struct http_root *roots;
    unsigned nroots;
};

#define ALL (CONF_MAIN | CONF_SERVER | CONF_LOCATION)
#define OFF(f) offsetof(struct files_conf, f)

static const struct conf_row rows[] = {
    {"root", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_path_t, OFF(root_path), NULL, 0, 0, "/tmp", NULL},
    {"alias", CONF_LOCATION, CONF_STORE_LOC, 1, 1, 0, &alias_type, OFF(alias), NULL, 0, 0,
     "/tmp/", NULL},
    {"try_files", CONF_SERVER | CONF_LOCATION, CONF_STORE_LOC, 2, 32, 0, &try_type,
     OFF(try_files), NULL, 0, 0, "$uri $uri/ /index.html", NULL},
};

static int slot = -1;

/*
 * The ids of the directories roots were opened on, for the life of the process: a directory a
 * later configuration opens again (the same path, device and inode) gets its id back, so the
 * file cache of an unchanged root stays valid across a reload; a path that names another
 * directory now (a symlink switched to a new release) gets a new id, and the old entries are
 * never served for it. Main thread only (configurations are built there).
 */
struct root_identity {
    char *path;
    dev_t dev;
    ino_t ino;
    uint32_t id;
};

#define ROOT_IDS_KEPT 65536

static struct root_identity *known_roots;
static unsigned nknown_roots;
static uint32_t next_root_id;

static uint32_t root_id(const char *path, int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        return next_root_id++;
    }
    for (unsigned i = 0; i < nknown_roots; i++) {
        const struct root_identity *k = &known_roots[i];
        if (k->dev == st.st_dev && k->ino == st.st_ino && strcmp(k->path, path) == 0) {
            return k->id;
        }
    }
    uint32_t id = next_root_id++;
    if (nknown_roots < ROOT_IDS_KEPT) {
        struct root_identity *nk =
            sp_realloc(known_roots, (nknown_roots + 1) * sizeof(*known_roots));
        char *p = sp_strndup(path, strlen(path));
        if (nk) {
            known_roots = nk;
        }
        if (nk && p) {
            known_roots[nknown_roots++] = (struct root_identity){p, st.st_dev, st.st_ino, id};
        } else {
            sp_free(p); /* not remembered: a later configuration gets a new id, which is safe */
        }
    }
    return id;
}

static const struct http_root *open_root(struct files_main *m, const char *path,
                                         struct conf_where w, char *err, size_t errlen)
{
    for (unsigned i = 0; i < m->nroots; i++) {
        if (strcmp(m->roots[i].path, path) == 0) {
            return &m->roots[i];
        }
    }
    /* the array is sized up front (one root per block at most): pointers into it stay valid */
    struct http_root *r = &m->roots[m->nroots];
    int rc = fs_root_open(&r->root, path);
    if (rc < 0) {
        conf_fail_at(err, errlen, w, "document root \"%s\" is not usable: %s", path,
                     strerror(-rc));
        return NULL;
    }
    r->path = sp_strndup(path, strlen(path));
    if (!r->path) {
        fs_root_close(&r->root);
        conf_fail_at(err, errlen, w, "out of memory");
        return NULL;
    }
    r->id = root_id(path, r->root.fd) & 0x7fffffffu; /* the high bit is userdir's */
    m->nroots++;
    return r;
}

/* Where the root a block uses was set: the block itself, or the nearest one above. */
static struct conf_where root_where(const struct conf_block *b, unsigned s)
{
    for (; b; b = b->parent) {
        struct conf_where w = conf_where_of(b, s, 0);
        if (w.line != 0) {
            return w;
        }
    }
    return (struct conf_where){"configuration", 0};
}

static unsigned count_blocks(const struct conf_block *b)
{
    unsigned n = 1;
    for (const struct conf_block *k = b->children; k; k = k->next) {
        n += count_blocks(k);
    }
    return n;
}

static int finish_block(const struct conf *c, struct files_main *m, struct conf_block *b, char *err,
                        size_t errlen)
{
    struct files_conf *fc = conf_get(b, (unsigned)slot, CONF_STORE_LOC);
    const struct try_files *t = &fc->try_files;
    if (t->n && t->text[t->n - 1][0] == '@' && b->kind != CONF_MAIN &&
        !loc_named_exists(c, b, t->text[t->n - 1])) {
        return conf_fail_at(err, errlen, conf_where_of(b, (unsigned)slot, 2),
                            "try_files: there is no named location \"%s\" in this server",
                            t->text[t->n - 1]);
    }
    if (fc->alias.text) {
        /* the directory part of the alias before its first variable: "/data/w3/images/$1"
         * is beneath /data/w3/images, "/data/images" beneath /data */
        struct slice pre = http_script_prefix(fc->alias.value);
        size_t d = pre.len;
        while (d > 0 && pre.ptr[d - 1] != '/') {
            d--;
        }
        char dir[4096];
        size_t dl = d > 1 ? d - 1 : 1;
        if (dl >= sizeof(dir)) {
            return conf_fail_at(err, errlen, conf_where_of(b, (unsigned)slot, 1),
                                "alias is too long");
        }
        memcpy(dir, pre.ptr, dl);
        dir[dl] = '\0';
        fc->alias_dir_len = d > 1 ? d - 1 : 0;
        fc->root = open_root(m, dir, conf_where_of(b, (unsigned)slot, 1), err, errlen);
        if (!fc->root) {
            return -1;
        }
    } else if (fc->root_path && b->kind != CONF_MAIN) {
        fc->root = open_root(m, fc->root_path, root_where(b, (unsigned)slot), err, errlen);
        if (!fc->root) {
            return -1;
        }
    }
    for (struct conf_block *k = b->children; k; k = k->next) {
        if (finish_block(c, m, k, err, errlen) < 0) {
            return -1;
        }
    }
    return 0;
}

static int files_finish(struct conf *c, unsigned s, char *err, size_t errlen)
{
    if (slot != (int)s) {
        slot = (int)s; /* once: a reload finds the same slot, and workers read it meanwhile */
    }
    struct files_main *m = conf_main(c, s);
    m->roots = sp_calloc(count_blocks(c->main), sizeof(*m->roots));
    if (!m->roots) {
        return conf_fail_at(err, errlen, c->main->where, "out of memory");
    }
    return finish_block(c, m, c->main, err, errlen);
}

static void files_release(struct conf *c, unsigned s)
{
    struct files_main *m = conf_main(c, s);
    for (unsigned i = 0; i < m->nroots; i++) {
        fs_root_close(&m->roots[i].root);
        sp_free(m->roots[i].path);
    }
    sp_free(m->roots);
    m->roots = NULL;
    m->nroots = 0;
}

const struct conf_module files_module = {
    .name = "files",
    .rows = rows,
    .nrows = ARRAY_SIZE(rows),
    .size = {[CONF_STORE_MAIN] = sizeof(struct files_main),
             [CONF_STORE_LOC] = sizeof(struct files_conf)},
    .finish = files_finish,
    .release = files_release,
};

bool http_files_mapped(const struct conf_block *b)
{
    const struct files_conf *fc = slot >= 0 ? conf_get(b, (unsigned)slot, CONF_STORE_LOC) : NULL;
    return fc && fc->root;
}

struct conf_where http_files_where(const struct conf_block *b)
{
    return slot >= 0 ? root_where(b, (unsigned)slot) : b->where;
}

/* ---------------------------------------------------------------- mapping (workers) */

int http_file_map(struct req *r, const struct route_loc *l, struct slice uri,
                  const struct http_root **root, struct slice *path)
{
    const struct files_conf *fc = conf_get(l->block, (unsigned)slot, CONF_STORE_LOC);
    if (!fc->alias.text) {
        bool mine;
        int st = userdir_map(r, uri, root, path, &mine);
        if (mine) {
            return st;
        }
    }
    if (!fc->root) {
        return 404;
    }
    *root = fc->root;
    if (!fc->alias.text) {
        *path = uri;
        return 0;
    }
    struct slice full;
    if (l->kind == ROUTE_LOC_PREFIX || l->kind == ROUTE_LOC_NOREGEX) {
        /* the prefix replaced: "/i/" + "a.png" under alias "/data/images/" */
        if (uri.len < l->prefix_len || memcmp(uri.ptr, l->prefix, l->prefix_len) != 0) {
            return 404; /* an internal redirect to a URI outside the location */
        }
        struct slice a = http_script_prefix(fc->alias.value);
        if (!http_script_literal(fc->alias.value) &&
            http_script_eval(r, fc->alias.value, HTTP_SCRIPT_RAW, &a) < 0) {
            return -ENOMEM;
        }
        size_t rest = uri.len - l->prefix_len;
        char *p = arena_alloc(r->arena, a.len + rest + 1);
        if (!p) {
            return -ENOMEM;
        }
        memcpy(p, a.ptr, a.len);
        memcpy(p + a.len, uri.ptr + l->prefix_len, rest);
        p[a.len + rest] = '\0';
        full = slice_make(p, a.len + rest);
    } else if (http_script_eval(r, fc->alias.value, HTTP_SCRIPT_RAW, &full) < 0) {
        return -ENOMEM;
    }
    /* beneath the directory part: "/data/images/a.png" is "/a.png" there */
    size_t d = fc->alias_dir_len;
    if (full.len <= d || full.ptr[d] != '/') {
        return 404;
    }
    *path = slice_make(full.ptr + d, full.len - d);
    return 0;
}

/* Splits "uri?args" into r->path and r->args. */
static void set_uri(struct req *r, struct slice v)
{
    const char *q = memchr(v.ptr, '?', v.len);
    if (q) {
        r->args = slice_make(q + 1, v.len - (size_t)(q - v.ptr) - 1);
        v.len = (size_t)(q - v.ptr);
    }
    r->path = v;
}

int http_try_files(struct req *r, bool *done)
{
    *done = false;
    const struct files_conf *fc = conf_get(r->loc->block, (unsigned)slot, CONF_STORE_LOC);
    const struct try_files *t = &fc->try_files;
    if (!t->n) {
        return 0;
    }
    *done = true;
    for (unsigned i = 0; i + 1 < t->n; i++) {
        struct slice v;
        if (http_script_eval(r, t->value[i], HTTP_SCRIPT_RAW, &v) < 0) {
            return -ENOMEM;
        }
        if (!v.len || v.ptr[0] != '/') {
            continue;
        }
        bool want_dir = v.ptr[v.len - 1] == '/';
        const struct http_root *root;
        struct slice fp;
        int st = http_file_map(r, r->loc, v, &root, &fp);
        if (st < 0 || st == HANDLER_LATER) {
            return st; /* a user directory being looked up: tried again from the start */
        }
        if (st) {
            continue;
        }
        /* the cache's lookups want a NUL-terminated path */
        char *z = arena_alloc(r->arena, fp.len + 1);
        if (!z) {
            return -ENOMEM;
        }
        memcpy(z, fp.ptr, fp.len);
        z[fp.len] = '\0';
        int why;
        struct fs_view view = http_view(r->loc, root, FS_ENC_NONE);
        struct fs_entry *e = http_file_get(r, &root->root, &view, slice_make(z, fp.len), &why);
        if (!e) {
            return why;
        }
        bool hit = want_dir ? e->kind == FS_DIR : e->kind == FS_FILE;
        fs_entry_release(e);
        if (hit) {
            set_uri(r, v);
            *done = false;
            return 0;
        }
    }
    const char *last = t->text[t->n - 1];
    if (t->code) {
        return t->code;
    }
    if (last[0] == '@') {
        const struct route_loc *l = loc_named(r->server, slice_cstr(last));
        if (!l) {
            return 404;
        }
        r->loc = l;
        return REQ_NEXT_LOC;
    }
    struct slice v;
    if (http_script_eval(r, t->value[t->n - 1], HTTP_SCRIPT_RAW, &v) < 0) {
        return -ENOMEM;
    }
    struct slice old_args = r->args;
    set_uri(r, v);
    if (r->args.ptr == old_args.ptr) {
        r->args = old_args;
    }
    return REQ_NEXT_URI;
}
