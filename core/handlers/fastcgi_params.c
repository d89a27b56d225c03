/* fastcgi_params.c - variables and the PARAMS stream (see fastcgi_params.h). */
#include "core/handlers/fastcgi_params.h"

#include "core/base/numfmt.h"
#include "core/http/files.h"
#include "core/http/regex.h"
#include "core/http/vars.h"
#include "proto/fastcgi.h"
#include "proto/hdr_table.h"

#include <errno.h>
#include <string.h>

/* ---------------------------------------------------------------- variables */

/* The split of r's URI: script name and path info. */
void fcgi_split(struct req *r, struct slice *script, struct slice *info)
{
    const struct fcgi_conf *fc = fcgi_conf_of(r->loc);
    *script = r->path;
    *info = SLICE_NULL;
    if (fc && fc->split.re) {
        struct http_captures caps;
        if (http_regex_match(fc->split.re, r->path, &caps) == 1 && caps.n >= 3) {
            *script = slice_make(r->path.ptr + caps.ov[2], caps.ov[3] - caps.ov[2]);
            if (caps.ov[4] != (size_t)-1) {
                *info = slice_make(r->path.ptr + caps.ov[4], caps.ov[5] - caps.ov[4]);
            }
        }
    }
    if (fc && fc->index && script->len && script->ptr[script->len - 1] == '/') {
        size_t il = strlen(fc->index);
        char *p = arena_alloc(r->arena, script->len + il);
        if (p) {
            memcpy(p, script->ptr, script->len);
            memcpy(p + script->len, fc->index, il);
            *script = slice_make(p, script->len + il);
        }
    }
}

static struct slice var_script_name(struct req *r, struct slice arg)
{
    (void)arg;
    struct slice s, i;
    fcgi_split(r, &s, &i);
    return s;
}

static struct slice var_path_info(struct req *r, struct slice arg)
{
    (void)arg;
    struct slice s, i;
    fcgi_split(r, &s, &i);
    return i;
}

/* $document_root (the root or alias directory of r's location), $realpath_root (the same:
 * roots are opened, so already resolved), $request_filename (that directory and the file the
 * URI maps to). */
static struct slice file_value(struct req *r, bool whole)
{
    const struct http_root *root;
    struct slice path;
    if (!r->loc || http_file_map(r, r->loc, r->path, &root, &path) != 0 || !root) {
        return SLICE_NULL;
    }
    struct slice dir = slice_cstr(root->path);
    while (dir.len > 1 && dir.ptr[dir.len - 1] == '/') {
        dir.len--;
    }
    if (!whole) {
        return dir;
    }
    char *p = arena_alloc(r->arena, dir.len + path.len + 1);
    if (!p) {
        return SLICE_NULL;
    }
    memcpy(p, dir.ptr, dir.len);
    memcpy(p + dir.len, path.ptr, path.len);
    p[dir.len + path.len] = '\0';
    return slice_make(p, dir.len + path.len);
}

static struct slice var_document_root(struct req *r, struct slice arg)
{
    (void)arg;
    return file_value(r, false);
}

static struct slice var_request_filename(struct req *r, struct slice arg)
{
    (void)arg;
    return file_value(r, true);
}

static const struct http_var_def vars[] = {
    {"fastcgi_script_name", false, var_script_name},   {"fastcgi_path_info", false, var_path_info},
    {"document_root", false, var_document_root},       {"realpath_root", false, var_document_root},
    {"request_filename", false, var_request_filename},
};

int fcgi_vars_start(void)
{
    return http_vars_provide(vars, ARRAY_SIZE(vars)) < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- the request's records */

struct pair {
    struct slice name, value;
};

/* The HTTP_ name of a request field, or an empty slice for a field not passed on. */
static struct slice http_name(struct req *r, struct slice f)
{
    if (f.len == 0 || f.len > 200 || slice_eq_nocase(f, SLICE_LIT("proxy"))) {
        return SLICE_NULL; /* httpoxy: HTTP_PROXY would be read as a proxy setting */
    }
    char *p = arena_alloc(r->arena, f.len + 5);
    if (!p) {
        return SLICE_NULL;
    }
    memcpy(p, "HTTP_", 5);
    for (size_t i = 0; i < f.len; i++) {
        char ch = f.ptr[i];
        if (ch == '-') {
            ch = '_';
        } else if (ch >= 'a' && ch <= 'z') {
            ch = (char)(ch - 32);
        } else if (!((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))) {
            return SLICE_NULL; /* '_' and others: nginx's ignore_invalid_headers */
        }
        p[5 + i] = ch;
    }
    return slice_make(p, f.len + 5);
}

/* A field's values joined (", ", or "; " for Cookie), as nginx passes repeated fields. */
static struct slice joined(struct req *r, const struct hdr_table *t, const struct http_header *h)
{
    if (!hdr_next_dup(t, h)) {
        return h->value;
    }
    bool cookie = slice_eq_nocase(h->name, SLICE_LIT("cookie"));
    size_t n = 0;
    for (const struct http_header *d = h; d; d = hdr_next_dup(t, d)) {
        n += d->value.len + 2;
    }
    char *p = arena_alloc(r->arena, n);
    if (!p) {
        return h->value;
    }
    size_t w = 0;
    for (const struct http_header *d = h; d; d = hdr_next_dup(t, d)) {
        if (w) {
            memcpy(p + w, cookie ? "; " : ", ", 2);
            w += 2;
        }
        memcpy(p + w, d->value.ptr, d->value.len);
        w += d->value.len;
    }
    return slice_make(p, w);
}

/* The PARAMS stream's pairs, encoded into the arena. 0 or -ENOMEM. */
int fcgi_build_params(struct req *r, const struct fcgi_conf *fc, int64_t content_length,
                      struct slice *out)
{
    const struct hdr_table *t = &r->msg->headers;
    unsigned cap = fc->params.n + t->count;
    struct pair *v = arena_alloc(r->arena, (cap ? cap : 1) * sizeof(*v));
    if (!v) {
        return -ENOMEM;
    }
    unsigned n = 0;
    size_t total = 0;
    for (unsigned i = 0; i < fc->params.n; i++) {
        const struct fcgi_param *p = &fc->params.v[i];
        struct slice val;
        if (http_script_eval(r, p->value, HTTP_SCRIPT_RAW, &val) < 0) {
            return -ENOMEM;
        }
        if (content_length >= 0 && !strcmp(p->name, "CONTENT_LENGTH")) {
            char *num = arena_alloc(r->arena, 24);
            if (!num) {
                return -ENOMEM;
            }
            val = slice_make(num, num_u64_to_dec(num, (uint64_t)content_length));
        }
        if (p->if_not_empty && val.len == 0) {
            continue;
        }
        v[n++] = (struct pair){slice_cstr(p->name), val};
    }
    unsigned nconf = n;
    for (uint32_t i = 0; i < t->count; i++) {
        const struct http_header *h = &t->entries[i];
        if (hdr_get(t, h->name) != h) {
            continue; /* a repeat: joined with its first */
        }
        struct slice name = http_name(r, h->name);
        bool given = false;
        for (unsigned k = 0; k < nconf && name.len; k++) {
            given = given || slice_eq(v[k].name, name);
        }
        if (name.len && !given) {
            v[n++] = (struct pair){name, joined(r, t, h)};
        }
    }
    for (unsigned i = 0; i < n; i++) {
        size_t s = fcgi_pair_size(v[i].name.len, v[i].value.len);
        if (s == 0) {
            return -ENOMEM;
        }
        total += s;
    }
    char *buf = arena_alloc(r->arena, total ? total : 1);
    if (!buf) {
        return -ENOMEM;
    }
    size_t w = 0;
    for (unsigned i = 0; i < n; i++) {
        w += fcgi_pair_encode(buf + w, v[i].name, v[i].value);
    }
    *out = slice_make(buf, w);
    return 0;
}
