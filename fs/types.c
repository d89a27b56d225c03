/* types.c - extension tables and typings (see types.h). */
#include "fs/types.h"

#include "core/base/alloc.h"
#include "core/base/hash.h"
#include "fs/mime.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

/* extensions, and the types a charset_types set holds as its keys */
#define EXT_MAX 128

/*
 * Open addressing, linear probing, power-of-two size kept at most half full. Lookups happen
 * when a file enters the cache, never per hit, so the table is plain; what matters is that
 * a 2,000-type file loads fast and a lookup does not depend on the table's size.
 */
struct slot {
    char *ext; /* lowercased; NULL: empty */
    char *type;
    uint64_t h;
};

struct fs_types {
    struct slot *v;
    uint32_t mask, n;
};

struct fs_types *fs_types_new(void)
{
    struct fs_types *t = sp_calloc(1, sizeof(*t));
    if (!t) {
        return NULL;
    }
    t->v = sp_calloc(64, sizeof(*t->v));
    if (!t->v) {
        sp_free(t);
        return NULL;
    }
    t->mask = 63;
    return t;
}

void fs_types_free(struct fs_types *t)
{
    if (!t) {
        return;
    }
    for (uint32_t i = 0; i <= t->mask; i++) {
        sp_free(t->v[i].ext);
        sp_free(t->v[i].type);
    }
    sp_free(t->v);
    sp_free(t);
}

static size_t lower(char *dst, const char *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        dst[i] = (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c;
    }
    dst[n] = '\0';
    return n;
}

static struct slot *probe(const struct fs_types *t, const char *ext, size_t n, uint64_t h)
{
    for (uint32_t i = (uint32_t)h & t->mask;; i = (i + 1) & t->mask) {
        struct slot *s = &t->v[i];
        if (!s->ext || (s->h == h && !strncmp(s->ext, ext, n) && s->ext[n] == '\0')) {
            return s;
        }
    }
}

static int grow(struct fs_types *t)
{
    uint32_t n = (t->mask + 1) * 2;
    struct slot *nv = sp_calloc(n, sizeof(*nv));
    if (!nv) {
        return -ENOMEM;
    }
    struct fs_types bigger = {nv, n - 1, t->n};
    for (uint32_t i = 0; i <= t->mask; i++) {
        if (t->v[i].ext) {
            *probe(&bigger, t->v[i].ext, strlen(t->v[i].ext), t->v[i].h) = t->v[i];
        }
    }
    sp_free(t->v);
    *t = bigger;
    return 0;
}

int fs_types_add(struct fs_types *t, const char *type, const char *ext)
{
    size_t n = strlen(ext), tn = strlen(type);
    if (n == 0 || n >= EXT_MAX || tn == 0 || tn >= FS_TYPE_MAX - 40) {
        return -EINVAL;
    }
    if ((t->n + 1) * 2 > t->mask + 1 && grow(t) < 0) {
        return -ENOMEM;
    }
    char key[EXT_MAX];
    lower(key, ext, n);
    uint64_t h = hash_bytes(key, n);
    struct slot *s = probe(t, key, n, h);
    char *ty = sp_malloc(tn + 1);
    if (!ty) {
        return -ENOMEM;
    }
    memcpy(ty, type, tn + 1);
    if (s->ext) {
        sp_free(s->type); /* nginx: the later mapping of an extension wins */
        s->type = ty;
        return 0;
    }
    s->ext = sp_malloc(n + 1);
    if (!s->ext) {
        sp_free(ty);
        return -ENOMEM;
    }
    memcpy(s->ext, key, n + 1);
    s->type = ty;
    s->h = h;
    t->n++;
    return 0;
}

int fs_types_add_builtin(struct fs_types *t)
{
    for (unsigned i = 0; i < fs_mime_count(); i++) {
        int rc = fs_types_add(t, fs_mime_type_at(i), fs_mime_ext_at(i));
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

struct slice fs_types_find(const struct fs_types *t, struct slice ext)
{
    if (ext.len == 0 || ext.len >= EXT_MAX) {
        return SLICE_NULL;
    }
    char key[EXT_MAX];
    lower(key, ext.ptr, ext.len);
    if (!t) {
        return fs_mime_find_ext(key);
    }
    const struct slot *s = probe(t, key, ext.len, hash_bytes(key, ext.len));
    return s->ext ? slice_cstr(s->type) : SLICE_NULL;
}

void fs_types_each(const struct fs_types *t,
                   void (*fn)(void *arg, const char *type, const char *ext), void *arg)
{
    for (uint32_t i = 0; t && i <= t->mask; i++) {
        if (t->v[i].ext) {
            fn(arg, t->v[i].type, t->v[i].ext);
        }
    }
}

int fs_types_add_all(struct fs_types *t, const struct fs_types *src)
{
    for (uint32_t i = 0; src && i <= src->mask; i++) {
        if (src->v[i].ext) {
            int rc = fs_types_add(t, src->v[i].type, src->v[i].ext);
            if (rc < 0) {
                return rc;
            }
        }
    }
    return 0;
}

unsigned fs_types_count(const struct fs_types *t)
{
    return t ? t->n : fs_mime_count();
}

uint64_t fs_types_hash(const struct fs_types *t)
{
    if (!t) {
        return 0;
    }
    /* a sum of per-mapping hashes: the same mappings in any order give the same id */
    uint64_t sum = t->n;
    for (uint32_t i = 0; i <= t->mask; i++) {
        const struct slot *s = &t->v[i];
        if (s->ext) {
            sum += hash_mix(s->h, hash_bytes(s->type, strlen(s->type)));
        }
    }
    return sum;
}

int fs_types_load_file(struct fs_types *t, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[4096];
    unsigned lineno = 0;
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
            snprintf(err, errlen, "%s:%u: line longer than %zu bytes", path, lineno,
                     sizeof(line) - 2);
            rc = -1;
            break;
        }
        char *hash = strchr(line, '#');
        if (hash) {
            *hash = '\0';
        }
        char *save = NULL, *type = strtok_r(line, " \t\r\n\f\v", &save);
        if (!type) {
            continue;
        }
        if (!strchr(type, '/') || type[0] == '/' || type[strlen(type) - 1] == '/') {
            snprintf(err, errlen, "%s:%u: \"%s\" is not a media type (type/subtype)", path,
                     lineno, type);
            rc = -1;
            break;
        }
        for (char *ext; (ext = strtok_r(NULL, " \t\r\n\f\v", &save));) {
            int a = fs_types_add(t, type, ext);
            if (a == -ENOMEM) {
                snprintf(err, errlen, "%s:%u: out of memory", path, lineno);
                rc = -1;
                break;
            }
            if (a < 0) {
                snprintf(err, errlen, "%s:%u: extension \"%s\" or type \"%s\" too long", path,
                         lineno, ext, type);
                rc = -1;
                break;
            }
        }
    }
    if (rc == 0 && ferror(f)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        rc = -1;
    }
    fclose(f);
    return rc;
}

struct slice fs_name_ext(struct slice path)
{
    size_t i = path.len;
    while (i > 0 && path.ptr[i - 1] != '.' && path.ptr[i - 1] != '/') {
        i--;
    }
    if (i == 0 || path.ptr[i - 1] != '.' || i == path.len) {
        return SLICE_NULL;
    }
    /* a leading dot (".bashrc") is a hidden name, not an extension */
    if (i == 1 || path.ptr[i - 2] == '/') {
        return SLICE_NULL;
    }
    return slice_make(path.ptr + i, path.len - i);
}

/* ---------------------------------------------------------------- typings */

const struct fs_typing fs_typing_default = {
    .id = 0,
    .default_type = "application/octet-stream",
};

static uint64_t hash_str(uint64_t h, const char *s)
{
    return hash_mix(h, s ? hash_bytes(s, strlen(s)) + 1 : 0);
}

void fs_typing_seal(struct fs_typing *t)
{
    uint64_t h = hash_mix(0x7970696e67ull, fs_types_hash(t->types) + (t->types != NULL));
    h = hash_str(h, t->default_type);
    h = hash_str(h, t->charset);
    h = hash_mix(h, fs_types_hash(t->charset_types));
    h = hash_str(h, t->force_type);
    for (unsigned i = 0; i < t->nforce_globs; i++) {
        h = hash_str(h, t->force_globs[i]);
    }
    h = hash_mix(h, (uint64_t)t->magic | (uint64_t)t->etag << 8 | (uint64_t)t->nosniff << 16);
    t->id = h ? h : 1; /* 0 stays the built-in default's */
}

/* type with the charset parameter the typing adds to it, in out. */
static size_t with_charset(const struct fs_typing *t, struct slice type, char *out)
{
    size_t n = type.len < FS_TYPE_MAX - 1 ? type.len : FS_TYPE_MAX - 1;
    memcpy(out, type.ptr, n);
    out[n] = '\0';
    if (!t->charset || memchr(type.ptr, ';', type.len)) {
        return n; /* a type that carries parameters already keeps them */
    }
    /* nginx: charset_types lists types "in addition to text/html" */
    bool applies = (n == 9 && !memcmp(out, "text/html", 9)) ||
                   (t->charset_types &&
                    (fs_types_find(t->charset_types, slice_make(out, n)).len ||
                     fs_types_find(t->charset_types, SLICE_LIT("*")).len));
    size_t cl = strlen(t->charset);
    if (!applies || n + 10 + cl >= FS_TYPE_MAX) {
        return n;
    }
    memcpy(out + n, "; charset=", 10);
    memcpy(out + n + 10, t->charset, cl + 1);
    return n + 10 + cl;
}

static bool forced(const struct fs_typing *t, struct slice path)
{
    if (!t->force_type) {
        return false;
    }
    if (t->nforce_globs == 0) {
        return true;
    }
    size_t i = path.len;
    while (i > 0 && path.ptr[i - 1] != '/') {
        i--;
    }
    char base[256];
    size_t n = path.len - i;
    if (n >= sizeof(base)) {
        return false;
    }
    memcpy(base, path.ptr + i, n);
    base[n] = '\0';
    for (unsigned k = 0; k < t->nforce_globs; k++) {
        if (fnmatch(t->force_globs[k], base, FNM_PERIOD) == 0) {
            return true;
        }
    }
    return false;
}

/* A language tag as a file extension: "en", "ko", "pt-br", "zh-hant": a two-letter
 * (ISO 639-1) language and an optional subtag. Three letters would take "bak" and "old". */
static bool lang_like(struct slice e)
{
    size_t i = 0;
    while (i < e.len && ((e.ptr[i] | 0x20) >= 'a' && (e.ptr[i] | 0x20) <= 'z')) {
        i++;
    }
    if (i != 2) {
        return false;
    }
    if (i == e.len) {
        return true;
    }
    if (e.ptr[i] != '-' || e.len - i - 1 < 2 || e.len - i - 1 > 8) {
        return false;
    }
    for (size_t k = i + 1; k < e.len; k++) {
        char c = (char)(e.ptr[k] | 0x20);
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
            return false;
        }
    }
    return true;
}

size_t fs_typing_of_name(const struct fs_typing *t, struct slice path, char *out,
                         bool *want_magic)
{
    if (!t) {
        t = &fs_typing_default;
    }
    *want_magic = false;
    if (forced(t, path)) {
        return with_charset(t, slice_cstr(t->force_type), out);
    }
    struct slice ext = fs_name_ext(path);
    struct slice type = fs_types_find(t->types, ext);
    if (!type.len && lang_like(ext)) {
        /* a language variant named type-first (doc.html.en, MultiViews' other order): the
         * type is the extension before the language, as Apache reads it; any other unknown
         * last extension (x.html.bak) keeps the name from being typed by an earlier one */
        struct slice rest = slice_make(path.ptr, path.len - ext.len - 1);
        type = fs_types_find(t->types, fs_name_ext(rest));
    }
    if (t->magic == FS_MAGIC_ALL || (t->magic == FS_MAGIC_UNKNOWN && !type.len)) {
        *want_magic = true;
    }
    if (!type.len) {
        type = slice_cstr(t->default_type ? t->default_type : "application/octet-stream");
    }
    return with_charset(t, type, out);
}

size_t fs_typing_of_magic(const struct fs_typing *t, const char *magic_type, char *out)
{
    if (!t) {
        t = &fs_typing_default;
    }
    const char *type = magic_type && strchr(magic_type, '/') ? magic_type : t->default_type;
    return with_charset(t, slice_cstr(type ? type : "application/octet-stream"), out);
}

/* ---------------------------------------------------------------- precompressed variants */

const char *fs_enc_name(unsigned enc)
{
    static const char *const names[FS_ENC_COUNT] = {"", "br", "zstd", "gzip"};
    return enc < FS_ENC_COUNT ? names[enc] : "";
}

const char *fs_enc_suffix(unsigned enc)
{
    static const char *const suffixes[FS_ENC_COUNT] = {"", ".br", ".zst", ".gz"};
    return enc < FS_ENC_COUNT ? suffixes[enc] : "";
}
