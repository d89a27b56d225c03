/* static.c - the static file handler (see static.h). */
#include "core/handlers/static.h"

#include "core/base/alloc.h"
#include "core/base/hash.h"
#include "core/base/numfmt.h"
#include "core/conf/types.h"
#include "core/handlers/autoindex.h"
#include "core/handlers/multiviews.h"
#include "core/handlers/precompressed.h"
#include "core/handlers/ssi.h"
#include "core/handlers/ssi_conf.h"
#include "core/http/cache_fill.h"
#include "core/http/dispatch.h"
#include "core/http/files.h"
#include "core/http/handler.h"
#include "core/http/redirect.h"
#include "core/http/respond.h"
#include "core/http/typing.h"
#include "core/io/loop.h"
#include "fs/cache.h"
#include "fs/docroot.h"
#include "proto/cond.h"
#include "proto/range.h"
#include "proto/uri.h"

#include <errno.h>
#include <string.h>

/* The location struct (CONF_STORE_LOC), inherited main -> server -> location. */
struct static_conf {
    struct conf_words index;
    bool directory_slash;
    struct conf_words precompressed; /* codings, or "off" */
    unsigned gzip_static;            /* by gzip_static_keys */
    bool precompressed_stale;
    struct precomp_conf pc; /* derived by finish, per block */
};

static int slot = -1;

/* ---------------------------------------------------------------- index FILE ... */

static int index_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                       unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (strchr(a[i], '/') || !strcmp(a[i], "..") || !strcmp(a[i], ".") || !a[i][0]) {
            return conf_error(p, "index file name \"%s\" must not contain '/'", a[i]);
        }
    }
    return conf_words_parse(p, r, field, a, n);
}

static const struct conf_type index_type = {"index", sizeof(struct conf_words), index_parse,
                                            conf_words_print, conf_words_release};

/* ---------------------------------------------------------------- precompressed CODING ... */

static int coding_of(const char *w)
{
    for (unsigned e = 1; e < FS_ENC_COUNT; e++) {
        if (!strcmp(w, fs_enc_name(e))) {
            return (int)e;
        }
    }
    return !strcmp(w, "zst") ? FS_ENC_ZSTD : -1;
}

static int precompressed_parse(struct conf_parse *p, const struct conf_row *r, void *field,
                               char **a, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (n == 1 && !strcmp(a[i], "off")) {
            break;
        }
        if (coding_of(a[i]) < 0) {
            return conf_error(p, "precompressed: unknown coding \"%s\" (br, zstd, gzip, or off)",
                              a[i]);
        }
        for (unsigned k = 0; k < i; k++) {
            if (coding_of(a[k]) == coding_of(a[i])) {
                return conf_error(p, "precompressed: \"%s\" is listed twice", a[i]);
            }
        }
    }
    return conf_words_parse(p, r, field, a, n);
}

static const struct conf_type precompressed_type = {"precompressed", sizeof(struct conf_words),
                                                    precompressed_parse, conf_words_print,
                                                    conf_words_release};

static const char *const gzip_static_keys[] = {"off", "on", "always", NULL};

#define ALL (CONF_MAIN | CONF_SERVER | CONF_LOCATION)
#define OFF(f) offsetof(struct static_conf, f)

static const struct conf_row rows[] = {
    {"index", ALL, CONF_STORE_LOC, 1, 16, CONF_MULTI, &index_type, OFF(index), "index.html", 0, 0,
     "index.htm default.html", NULL},
    {"directory_slash", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_flag, OFF(directory_slash), "on", 0,
     0, "off", NULL},
    {"precompressed", ALL, CONF_STORE_LOC, 1, 3, 0, &precompressed_type, OFF(precompressed),
     "off", 0, 0, "br zstd gzip", NULL},
    {"gzip_static", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_keyword, OFF(gzip_static), "off", 0, 0,
     "on", gzip_static_keys},
    {"precompressed_stale", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_flag, OFF(precompressed_stale),
     "off", 0, 0, "on", NULL},
};

/* The codings a block looks for: precompressed's in its order, gzip after them for
 * gzip_static on (nginx's directive, so a pasted configuration keeps working). */
static void derive_precomp(struct static_conf *sc)
{
    struct precomp_conf *pc = &sc->pc;
    *pc = (struct precomp_conf){.stale_ok = sc->precompressed_stale};
    for (unsigned i = 0; i < sc->precompressed.n; i++) {
        int e = coding_of(sc->precompressed.v[i]);
        if (e > 0) {
            pc->order[pc->n++] = (uint8_t)e;
        }
    }
    bool has_gzip = memchr(pc->order, FS_ENC_GZIP, pc->n) != NULL;
    if (sc->gzip_static && !has_gzip) {
        pc->order[pc->n++] = FS_ENC_GZIP;
    }
    pc->always = sc->gzip_static == 2;
}

/* ---------------------------------------------------------------- finishing */

/* Every block the static files answer must map URIs to files (files.h). */
static int finish_block(const struct conf_block *b, char *err, size_t errlen)
{
    derive_precomp(conf_get(b, (unsigned)slot, CONF_STORE_LOC));
    bool serves = b->kind != CONF_MAIN && (b->content == NULL || b->content == &static_module);
    bool named = b->kind == CONF_LOCATION && b->nargs == 2 && !strcmp(b->args[0], "@");
    if (serves && !named && !http_files_mapped(b)) {
        return conf_fail_at(err, errlen, b->where,
                            "%s has no \"root\" (add root /path; or use --root)",
                            b->kind == CONF_SERVER ? "server" : "location");
    }
    for (const struct conf_block *k = b->children; k; k = k->next) {
        if (finish_block(k, err, errlen) < 0) {
            return -1;
        }
    }
    return 0;
}

static int static_finish(struct conf *c, unsigned s, char *err, size_t errlen)
{
    slot = (int)s; /* the same on every load */
    return finish_block(c->main, err, errlen);
}

/* ---------------------------------------------------------------- responses */

/* "bytes a-b/size" (or "bytes * /size" when rg is NULL) in the arena. */
static struct slice content_range(struct req *r, const struct http_range *rg, uint64_t size)
{
    char *p = arena_alloc(r->arena, 64);
    if (!p) {
        return SLICE_NULL;
    }
    size_t n = 0;
    memcpy(p, "bytes ", 6);
    n = 6;
    if (rg) {
        n += num_u64_to_dec(p + n, rg->first);
        p[n++] = '-';
        n += num_u64_to_dec(p + n, rg->last);
    } else {
        p[n++] = '*';
    }
    p[n++] = '/';
    n += num_u64_to_dec(p + n, size);
    return slice_make(p, n);
}

/* The fields a negotiated representation carries on each of its responses (static.h). */
static int put_extra(struct req *r, const struct static_extra *x)
{
    if (!x) {
        return 0;
    }
    if (x->vary.len && resp_field(r, SLICE_LIT("Vary"), x->vary) < 0) {
        return -1;
    }
    if (x->content_language.len &&
        resp_field(r, SLICE_LIT("Content-Language"), x->content_language) < 0) {
        return -1;
    }
    if (x->content_location.len &&
        resp_field(r, SLICE_LIT("Content-Location"), x->content_location) < 0) {
        return -1;
    }
    return 0;
}

static int one_range(struct req *r, struct fs_entry *e, const struct http_range *rg,
                     const struct static_extra *x)
{
    struct slice cr = content_range(r, rg, e->size);
    resp_begin(r, 206);
    resp_entity(r, e, RESP_ENT_TYPE | RESP_ENT_VALIDATORS);
    if (!cr.len || put_extra(r, x) < 0 || resp_field(r, SLICE_LIT("Content-Range"), cr) < 0 ||
        resp_body_file(r, e, rg->first, rg->last - rg->first + 1) < 0) {
        return 500;
    }
    return resp_send(r);
}

/* The delimiter and headers in front of a part: "\r\n--B\r\nContent-Type: T\r\nContent-Range:
 * R\r\n\r\n". */
static struct slice part_head(struct req *r, struct slice boundary, const struct fs_entry *e,
                              struct slice range)
{
    size_t n = 4 + boundary.len + 2 + 14 + e->mime.len + 2 + 15 + range.len + 4;
    char *p = arena_alloc(r->arena, n);
    if (!p) {
        return SLICE_NULL;
    }
    size_t k = 0;
#define PUT(s, l)                                                                                  \
    do {                                                                                           \
        memcpy(p + k, (s), (l));                                                                   \
        k += (l);                                                                                  \
    } while (0)
    PUT("\r\n--", 4);
    PUT(boundary.ptr, boundary.len);
    PUT("\r\nContent-Type: ", 16);
    PUT(e->mime.ptr, e->mime.len);
    PUT("\r\nContent-Range: ", 17);
    PUT(range.ptr, range.len);
    PUT("\r\n\r\n", 4);
#undef PUT
    return slice_make(p, k);
}

/* 206 multipart/byteranges (RFC 9110 14.6), parts in ascending order. */
static int multi_range(struct req *r, struct fs_entry *e, const struct http_range *rg, int n,
                       const struct static_extra *x)
{
    char *bnd = arena_alloc(r->arena, 32);
    char *ctype = arena_alloc(r->arena, 80);
    if (!bnd || !ctype) {
        return 500;
    }
    uint64_t k = hash_mix(r->env->worker, ++r->env->boundary_seq);
    memcpy(bnd, "spate-", 6);
    struct slice boundary = slice_make(bnd, 6 + num_u64_to_hex(bnd + 6, k));
    memcpy(ctype, "multipart/byteranges; boundary=", 31);
    memcpy(ctype + 31, boundary.ptr, boundary.len);
    resp_begin(r, 206);
    resp_entity(r, e, RESP_ENT_VALIDATORS);
    if (resp_field(r, SLICE_LIT("Content-Type"), slice_make(ctype, 31 + boundary.len)) < 0 ||
        put_extra(r, x) < 0) {
        return 500;
    }
    /* the parts are ranges of the coded bytes: the coding is the whole response's */
    if (e->enc && resp_field(r, SLICE_LIT("Content-Encoding"), slice_cstr(fs_enc_name(e->enc))) <
                      0) {
        return 500;
    }
    for (int i = 0; i < n; i++) {
        struct slice head = part_head(r, boundary, e, content_range(r, &rg[i], e->size));
        if (!head.len || resp_body_mem(r, head.ptr, head.len, NULL) < 0 ||
            resp_body_file(r, e, rg[i].first, rg[i].last - rg[i].first + 1) < 0) {
            return 500;
        }
    }
    char *tail = arena_alloc(r->arena, boundary.len + 8);
    if (!tail) {
        return 500;
    }
    memcpy(tail, "\r\n--", 4);
    memcpy(tail + 4, boundary.ptr, boundary.len);
    memcpy(tail + 4 + boundary.len, "--\r\n", 4);
    if (resp_body_mem(r, tail, boundary.len + 8, NULL) < 0) {
        return 500;
    }
    return resp_send(r);
}

int static_serve(struct req *r, struct fs_entry *e, const struct static_extra *x)
{
    const struct http_request *m = r->msg;
    /* RFC 9110 13.2.2: preconditions first, then Range */
    struct http_validators v = {e->etag, e->mtime, true, r->env->loop->now_s};
    /* an error page is the answer to another request: its conditions and ranges do not apply */
    enum http_precondition pc = r->in_error_page
                                    ? HTTP_PRECOND_PROCEED
                                    : http_preconditions(&m->headers, m->method, &v);
    if (pc == HTTP_PRECOND_NOT_MODIFIED) {
        /* 304: the validators and caching fields a 200 would carry, no body (15.4.5) */
        resp_begin(r, 304);
        resp_entity(r, e, RESP_ENT_VALIDATORS);
        if (put_extra(r, x) < 0) {
            return 500;
        }
        return resp_send(r);
    }
    if (pc == HTTP_PRECOND_FAILED) {
        resp_begin(r, 412);
        return put_extra(r, x) < 0 ? 500 : 412;
    }
    const struct http_header *rh = hdr_get_known(&m->headers, HDR_RANGE);
    if (rh && !r->in_error_page && m->method == HTTP_GET && !hdr_next_dup(&m->headers, rh) &&
        http_if_range_ok(&m->headers, &v)) {
        struct http_range rg[HTTP_RANGES_MAX];
        int n = http_range_parse(rh->value, e->size, rg, HTTP_RANGES_MAX);
        if (n == -416) {
            struct slice cr = content_range(r, NULL, e->size);
            resp_begin(r, 416);
            if (!cr.len || put_extra(r, x) < 0 ||
                resp_field(r, SLICE_LIT("Content-Range"), cr) < 0) {
                return 500;
            }
            return 416;
        }
        if (n == 1) {
            return one_range(r, e, rg, x);
        }
        if (n > 1) {
            return multi_range(r, e, rg, n, x);
        }
        /* 0: a Range we ignore (other unit, invalid): the whole representation */
    }
    resp_begin(r, 200);
    resp_entity(r, e, RESP_ENT_TYPE | RESP_ENT_VALIDATORS);
    if (put_extra(r, x) < 0 || resp_body_file(r, e, 0, e->size) < 0) {
        return 500;
    }
    return resp_send(r);
}

/*
 * 301 to the same directory with a trailing slash, query kept (RFC 9110 15.4.2). The Location
 * is built from the normalized path (one leading slash, no dot segments), percent-encoded
 * again: never from the raw target, which could make "//evil.example/../dir" an off-site
 * redirect.
 */
static int redirect_slash(struct req *r)
{
    struct slice path = r->path, query = r->args;
    char *loc = arena_alloc(r->arena, 3 * path.len + 2 + 3 * query.len + 1);
    if (!loc) {
        return 500;
    }
    size_t n = uri_escape(loc, path, URI_ESC_PATH);
    loc[n++] = '/';
    if (query.len) {
        loc[n++] = '?';
        n += uri_escape(loc + n, query, URI_ESC_TARGET);
    }
    return http_redirect_to(r, 301, slice_make(loc, n)); /* absolute as absolute_redirect says */
}

/* A directory request: the first index file that exists, by an internal redirect. */
static int index_file(struct req *r, const struct static_conf *sc, const struct http_root *root,
                      struct slice dir)
{
    int status = 404;
    for (unsigned i = 0; i < sc->index.n; i++) {
        size_t k = strlen(sc->index.v[i]);
        char *np = arena_alloc(r->arena, r->path.len + k + 1);
        char *fp = arena_alloc(r->arena, dir.len + k + 1);
        if (!np || !fp) {
            return 500;
        }
        memcpy(np, r->path.ptr, r->path.len);
        memcpy(np + r->path.len, sc->index.v[i], k + 1);
        struct slice path = slice_make(np, r->path.len + k);
        memcpy(fp, dir.ptr, dir.len);
        memcpy(fp + dir.len, sc->index.v[i], k + 1);
        int why;
        struct fs_view view = http_view(r->loc, root, FS_ENC_NONE);
        struct fs_entry *ie = http_file_get(r, &root->root, &view, slice_make(fp, dir.len + k),
                                            &why);
        if (!ie) {
            return why; /* HANDLER_LATER: dispatched again once it is loaded, or 503 */
        }
        bool file = ie->kind == FS_FILE;
        if (ie->kind == FS_ERROR && ie->status != 404) {
            status = ie->status;
        }
        fs_entry_release(ie);
        if (file) {
            return http_redirect(r, path); /* nginx's index module: the location may change */
        }
        if (status != 404) {
            break;
        }
    }
    return status;
}

static int handle(struct req *r, const void *conf)
{
    const struct static_conf *sc = conf;
    const struct http_root *root;
    struct slice fpath;
    int st = http_file_map(r, r->loc, r->path, &root, &fpath);
    if (st) {
        return st < 0 ? 500 : st;
    }
    if (fpath.ptr[fpath.len] != '\0') {
        /* the cache's lookups want a NUL-terminated path (an alias' is built in the arena) */
        char *z = arena_alloc(r->arena, fpath.len + 1);
        if (!z) {
            return 500;
        }
        memcpy(z, fpath.ptr, fpath.len);
        z[fpath.len] = '\0';
        fpath.ptr = z;
    }
    int why;
    struct fs_view view = http_view(r->loc, root, FS_ENC_NONE);
    struct fs_entry *e = http_file_get(r, &root->root, &view, fpath, &why);
    if (!e) {
        return why; /* HANDLER_LATER: dispatched again once it is loaded, or 503 */
    }
    if (e->kind == FS_ERROR && e->status == 404 && multiviews_on(r->loc)) {
        struct multiviews_choice c; /* doc missing: doc.html.en, doc.json, ... */
        st = multiviews_answer(r, root, fpath, &c);
        if (st == 0 && c.e) {
            struct static_extra x = {c.vary, c.content_language, c.content_location};
            st = static_serve(r, c.e, &x);
            fs_entry_release(c.e);
        }
        if (st != 404) {
            fs_entry_release(e);
            return st;
        }
    }
    const struct precomp_conf *pc = &sc->pc;
    bool ssi = e->kind == FS_FILE && ssi_wants(r, e); /* processed: no variant of its bytes */
    if (pc->n && !ssi && (e->kind == FS_FILE || (e->kind == FS_ERROR && e->status == 404))) {
        struct fs_entry *v;
        st = precompressed_pick(r, pc, root, fpath, e, &v);
        if (st == 0 && v != e) {
            fs_entry_release(e);
            e = v;
        }
        static const struct static_extra vary = {SLICE_LIT("Accept-Encoding"), {0}, {0}};
        if (st == 0 && e->kind == FS_FILE) {
            st = static_serve(r, e, &vary);
        } else if (st == 0 || st == 406) {
            /* a 404 varies too: a client taking gzip may get the lone x.gz for it */
            st = st ? st : e->status;
            resp_begin(r, st);
            st = put_extra(r, &vary) < 0 ? 500 : st;
        }
        fs_entry_release(e);
        return st;
    }
    if (e->kind == FS_DIR && r->path.ptr[r->path.len - 1] == '/') {
        st = index_file(r, sc, root, fpath);
        if (st == 404) {
            st = autoindex_answer(r, &root->root, root->id, fpath, st); /* a listing, or 404 */
        }
    } else if (e->kind == FS_DIR) {
        st = sc->directory_slash ? redirect_slash(r) : 404;
    } else if (ssi) {
        st = ssi_serve(r, e, root, fpath); /* `ssi on`: processed, not sent as it is */
    } else if (e->kind == FS_FILE) {
        st = static_serve(r, e, NULL);
    } else {
        st = e->status;
    }
    fs_entry_release(e); /* what was queued holds its own references */
    return st;
}

static const struct handler_ops static_handler = {
    .name = "static",
    .methods = HANDLER_METHOD(HTTP_GET),
    .handle = handle,
};

const struct conf_module static_module = {
    .name = "static",
    .rows = rows,
    .nrows = ARRAY_SIZE(rows),
    .size = {[CONF_STORE_LOC] = sizeof(struct static_conf)},
    .finish = static_finish,
    .content = &static_handler,
    .default_content = true,
};
