/* multiviews.c - choosing among a resource's files and sending the choice (see multiviews.h). */
#include "core/handlers/multiviews.h"

#include "core/base/alloc.h"
#include "core/base/arena.h"
#include "core/base/hash.h"
#include "core/handlers/multiviews_conf.h"
#include "core/handlers/multiviews_names.h"
#include "core/http/cache_fill.h"
#include "core/http/handler.h"
#include "core/http/respond.h"
#include "core/http/typing.h"
#include "fs/types.h"
#include "proto/negotiate.h"
#include "proto/uri.h"

#include <string.h>

#define MV_VARIANTS_MAX 32 /* variants of one resource considered (the first by name) */
#define MV_SCAN_MAX 128    /* names "BASE.*" looked at, at most, for them */
#define MV_WORKERS 1025    /* worker ids are 1..1024 */
#define MV_TYPINGS_MAX 256 /* forced typings per worker (distinct Content-Types of variants) */

/* One candidate representation. Slices point into the configuration, the worker's names
 * (valid during this call only) or the request's arena. */
struct mv_var {
    struct slice file;     /* beneath the directory: "doc.html.en" */
    struct slice type;     /* the bare media type negotiated on; empty: none */
    struct slice type_ext; /* names: the extension that gave the type */
    struct slice lang;     /* as sent in Content-Language; empty: none */
    struct slice charset;  /* empty: none */
    const char *decl_type; /* declared: the TYPE line's */
    uint16_t qs;
    bool retype; /* the file's own name does not type it as the variant is typed: force it */
    bool gone;   /* it turned out not to be a file */
};

/* What one request negotiates with. */
struct mv_ctx {
    struct req *r;
    const struct mv_conf *mc;
    const struct http_root *root;
    const struct fs_typing *typing;
    struct slice fs_dir;  /* "/a/", NUL-terminated */
    struct slice uri_dir; /* the URI up to its last '/' included */
    struct slice base;    /* the missing file's name */
    bool located;         /* the URI names the file: variants have URIs beside it */
    struct http_neg_list accept, language, charset;
};

/* ---------------------------------------------------------------- extensions */

/* ISO 639-1, sorted: the two-letter codes `multiviews_languages auto` takes as languages. */
static const char iso639_1[] =
    "aaabaeafakamanarasavayazbabebgbhbibmbnbobrbscacechcocrcscucvcydadedvdzeeeleneoeseteu"
    "fafffifjfofrfygagdglgngugvhahehihohrhthuhyhziaidieigiiikioisitiujajvkakgkikjkkklkmkn"
    "kokrkskukvkwkylalblglilnloltlulvmgmhmimkmlmnmrmsmtmynanbndnengnlnnnonrnvnyocojomoros"
    "papiplpsptqurmrnrorurwsascsdsesgsiskslsmsnsosqsrssstsusvswtatetgthtitktltntotrtstttw"
    "tyugukuruzvevivowawoxhyiyozazhzu";

/* Charset extensions (Apache's AddCharset defaults, in short): the extension, the charset. */
static const char *const charsets[][2] = {
    {"utf8", "utf-8"},
    {"utf-8", "utf-8"},
    {"utf16", "utf-16"},
    {"utf-16", "utf-16"},
    {"ascii", "us-ascii"},
    {"us-ascii", "us-ascii"},
    {"latin1", "iso-8859-1"},
    {"iso8859-1", "iso-8859-1"},
    {"iso-8859-1", "iso-8859-1"},
    {"latin2", "iso-8859-2"},
    {"iso8859-2", "iso-8859-2"},
    {"iso-8859-2", "iso-8859-2"},
    {"iso8859-5", "iso-8859-5"},
    {"iso-8859-5", "iso-8859-5"},
    {"iso8859-15", "iso-8859-15"},
    {"iso-8859-15", "iso-8859-15"},
    {"koi8-r", "koi8-r"},
    {"koi8-u", "koi8-u"},
    {"cp1251", "windows-1251"},
    {"windows-1251", "windows-1251"},
    {"cp1252", "windows-1252"},
    {"windows-1252", "windows-1252"},
    {"sjis", "shift_jis"},
    {"shift_jis", "shift_jis"},
    {"euc-jp", "euc-jp"},
    {"euc-kr", "euc-kr"},
    {"big5", "big5"},
    {"gb2312", "gb2312"},
    {"gbk", "gbk"},
    {"gb18030", "gb18030"},
};

static char lower(char c)
{
    return slice_lower_ascii(c);
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool iso639(char a, char b)
{
    unsigned lo = 0, hi = (sizeof(iso639_1) - 1) / 2;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        int c = iso639_1[2 * mid] != a ? iso639_1[2 * mid] - a : iso639_1[2 * mid + 1] - b;
        if (c == 0) {
            return true;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return false;
}

/*
 * `auto`: an ISO 639-1 code, alone or with a region (2 letters or 3 digits) or a script (4
 * letters): "en", "pt-br", "es-419", "zh-hant". The canonical spelling (en, pt-BR, es-419,
 * zh-Hant) in the arena, or SLICE_NULL.
 */
static struct slice auto_language(struct arena *a, struct slice ext)
{
    if (ext.len < 2 || (ext.len > 2 && ext.ptr[2] != '-') || !is_alpha(ext.ptr[0]) ||
        !is_alpha(ext.ptr[1]) || !iso639(lower(ext.ptr[0]), lower(ext.ptr[1]))) {
        return SLICE_NULL;
    }
    size_t sub = ext.len > 2 ? ext.len - 3 : 0;
    const char *s = ext.ptr + 3;
    bool region = sub == 2 && is_alpha(s[0]) && is_alpha(s[1]);
    bool digits = sub == 3 && is_digit(s[0]) && is_digit(s[1]) && is_digit(s[2]);
    bool script = sub == 4;
    for (size_t i = 0; script && i < 4; i++) {
        script = is_alpha(s[i]);
    }
    if (ext.len > 2 && !region && !digits && !script) {
        return SLICE_NULL;
    }
    char *out = arena_alloc(a, ext.len);
    if (!out) {
        return SLICE_NULL;
    }
    for (size_t i = 0; i < ext.len; i++) {
        char c = lower(ext.ptr[i]);
        if ((region && i >= 3) || (script && i == 3)) {
            c = (char)(c - 'a' + 'A');
        }
        out[i] = c;
    }
    return slice_make(out, ext.len);
}

/* A tag of multiviews_languages (not "auto") equal to ext, as configured; else SLICE_NULL. */
static struct slice listed_language(const struct mv_conf *mc, struct slice ext)
{
    for (unsigned i = 0; i < mc->languages.n; i++) {
        struct slice w = slice_cstr(mc->languages.v[i]);
        if (slice_eq_nocase(w, ext) && !slice_eq(w, SLICE_LIT("auto"))) {
            return w;
        }
    }
    return SLICE_NULL;
}

static struct slice charset_of(struct slice ext)
{
    for (size_t i = 0; i < ARRAY_SIZE(charsets); i++) {
        if (slice_eq_nocase(ext, slice_cstr(charsets[i][0]))) {
            return slice_cstr(charsets[i][1]);
        }
    }
    return SLICE_NULL;
}

/* The content codings of precompressed files: such a name is not a variant of its own. */
static bool coding_ext(struct slice ext)
{
    for (unsigned e = 1; e < FS_ENC_COUNT; e++) {
        if (slice_eq_nocase(ext, slice_cstr(fs_enc_suffix(e) + 1))) {
            return true;
        }
    }
    return false;
}

/* The server's quality for a type: multiviews_quality's exact entry, type/\*, *\/\*, else 1. */
static uint16_t quality_of(const struct mv_conf *mc, struct slice type)
{
    int sub = -1, any = -1;
    for (unsigned i = 0; i < mc->quality.n; i++) {
        struct slice t = slice_cstr(mc->quality.v[i].type);
        if (slice_eq_nocase(t, type)) {
            return mc->quality.v[i].q;
        }
        if (slice_eq(t, SLICE_LIT("*/*"))) {
            any = (int)i;
        } else if (t.ptr[t.len - 1] == '*' && type.len > t.len - 1 &&
                   slice_eq_nocase(slice_sub(type, 0, t.len - 1), slice_sub(t, 0, t.len - 1))) {
            sub = (int)i;
        }
    }
    int k = sub >= 0 ? sub : any;
    return k >= 0 ? mc->quality.v[k].q : HTTP_NEG_Q_ONE;
}

/*
 * Reads the extensions of variant name v->file (every one after its first '.', as Apache's
 * mod_mime does): each is a type (the location's table), a language, or a charset. After
 * the base name (its first base_len bytes) each must be one of them: a name with another
 * extension there, an empty one, a coding, two languages or two charsets is not a variant
 * (false). Within the base an unknown extension is part of the name ("v1.2" in v1.2.html).
 * A later type replaces an earlier.
 */
static bool classify(const struct mv_ctx *cx, struct mv_var *v, size_t base_len)
{
    const struct mv_conf *mc = cx->mc;
    const char *first = memchr(v->file.ptr, '.', v->file.len);
    size_t at = (size_t)(first - v->file.ptr) + 1;
    struct slice rest = slice_sub(v->file, at, v->file.len - at);
    size_t last_type_end = 0;
    while (rest.len) {
        const char *dot = memchr(rest.ptr, '.', rest.len);
        struct slice ext = slice_make(rest.ptr, dot ? (size_t)(dot - rest.ptr) : rest.len);
        bool strict = (size_t)(ext.ptr - v->file.ptr) > base_len;
        rest = dot ? slice_sub(rest, ext.len + 1, rest.len - ext.len - 1) : SLICE_NULL;
        if (!ext.len || (dot && !rest.len)) {
            return false; /* "a..b", "a.b.": after the base (the base has no such name) */
        }
        struct slice t, l, c;
        if ((l = listed_language(mc, ext)).len) {
            if (v->lang.len) {
                return false;
            }
            v->lang = l;
        } else if (coding_ext(ext)) {
            if (strict) {
                return false;
            }
        } else if ((t = fs_types_find(cx->typing->types, ext)).len) {
            v->type = t;
            v->type_ext = ext;
            last_type_end = (size_t)(ext.ptr + ext.len - v->file.ptr);
        } else if (mc->auto_languages && (l = auto_language(cx->r->arena, ext)).len) {
            if (v->lang.len) {
                return false;
            }
            v->lang = l;
        } else if ((c = charset_of(ext)).len) {
            if (v->charset.len) {
                return false;
            }
            v->charset = c;
        } else if (strict) {
            return false;
        }
    }
    /* doc.html.en is typed by its last extension unless told: force what "html" says */
    bool typed_by_name = last_type_end == v->file.len && !v->charset.len;
    v->retype = v->type.len && !typed_by_name && !cx->typing->force_type;
    v->qs = quality_of(mc, v->type);
    return true;
}

/* ---------------------------------------------------------------- the candidates */

/* The names beside the missing one that are its variants (the first MV_VARIANTS_MAX). */
static unsigned from_names(const struct mv_ctx *cx, const struct mv_names *d, struct mv_var *v)
{
    char *pre = arena_alloc(cx->r->arena, cx->base.len + 1);
    if (!pre) {
        return 0;
    }
    memcpy(pre, cx->base.ptr, cx->base.len);
    pre[cx->base.len] = '.';
    uint32_t end, i = mv_names_range(d, slice_make(pre, cx->base.len + 1), &end);
    unsigned n = 0;
    end = MIN(end, i + MV_SCAN_MAX); /* a pathological directory costs no more */
    for (; i < end && n < MV_VARIANTS_MAX; i++) {
        struct slice name = mv_name(d, i);
        v[n] = (struct mv_var){.file = name};
        if (classify(cx, &v[n], cx->base.len)) {
            n++;
        }
    }
    return n;
}

/* Whether the location's typing gives file the declared type (then the cache's entry serves). */
static bool typed_as(const struct mv_ctx *cx, const struct mv_decl_variant *dv)
{
    char buf[FS_TYPE_MAX];
    bool magic;
    size_t n = fs_typing_of_name(cx->typing, slice_cstr(dv->file), buf, &magic);
    const char *semi = memchr(buf, ';', n);
    struct slice bare = slice_make(buf, semi ? (size_t)(semi - buf) : n);
    return !magic && slice_eq_nocase(slice_trim_ows(bare), slice_cstr(dv->type));
}

static unsigned from_decl(const struct mv_ctx *cx, const struct mv_decl *d, struct mv_var *v)
{
    unsigned n = 0;
    for (unsigned i = 0; i < d->n && n < MV_VARIANTS_MAX; i++) {
        const struct mv_decl_variant *dv = &d->v[i];
        v[n] = (struct mv_var){
            .file = slice_cstr(dv->file),
            .type = slice_cstr(dv->type),
            .lang = dv->lang ? slice_cstr(dv->lang) : SLICE_NULL,
            .charset = dv->charset ? slice_cstr(dv->charset) : SLICE_NULL,
            .decl_type = dv->type,
            .qs = dv->has_qs ? dv->qs : quality_of(cx->mc, slice_cstr(dv->type)),
        };
        v[n].retype = dv->charset || !typed_as(cx, dv);
        n++;
    }
    return n;
}

static const struct mv_decl *decl_for(const struct mv_conf *mc, struct slice uri)
{
    for (unsigned i = 0; i < mc->variants.n; i++) {
        if (slice_eq(slice_cstr(mc->variants.v[i].uri), uri)) {
            return &mc->variants.v[i];
        }
    }
    return NULL;
}

/* RFC 4647 basic filtering: tag is range or starts with range followed by '-'. */
static bool lang_in(struct slice tag, const char *range)
{
    struct slice rg = slice_cstr(range);
    return tag.len >= rg.len && slice_eq_nocase(slice_sub(tag, 0, rg.len), rg) &&
           (tag.len == rg.len || tag.ptr[rg.len] == '-');
}

/* The default language's variants first (stable): ties then go to them. */
static void default_first(const char *deflang, struct mv_var *v, unsigned n)
{
    unsigned at = 0;
    for (unsigned i = 0; i < n && deflang; i++) {
        if (lang_in(v[i].lang, deflang)) {
            struct mv_var k = v[i];
            memmove(v + at + 1, v + at, (i - at) * sizeof(*v));
            v[at++] = k;
        }
    }
}

/* ---------------------------------------------------------------- choosing */

/* A dimension any variant has could turn an answer into a 406: the response varies on it. */
static unsigned dims(const struct mv_var *v, unsigned n)
{
    unsigned d = 0;
    for (unsigned i = 0; i < n; i++) {
        d |= (v[i].type.len ? HTTP_NEG_VARY_ACCEPT : 0) |
             (v[i].lang.len ? HTTP_NEG_VARY_LANGUAGE : 0) |
             (v[i].charset.len ? HTTP_NEG_VARY_CHARSET : 0);
    }
    return d;
}

/* Where the client's languages tie, the default language's variant of the same type wins. */
static int prefer_default(const struct mv_ctx *cx, const struct mv_var *v, unsigned n, int k)
{
    const char *dl = cx->mc->deflang;
    if (!dl || !v[k].lang.len || lang_in(v[k].lang, dl)) {
        return k;
    }
    uint16_t qk = http_neg_language_match(&cx->language, v[k].lang).q;
    for (unsigned i = 0; i < n; i++) {
        if (!v[i].gone && lang_in(v[i].lang, dl) && slice_eq_nocase(v[i].type, v[k].type) &&
            slice_eq_nocase(v[i].charset, v[k].charset) && v[i].qs == v[k].qs &&
            http_neg_language_match(&cx->language, v[i].lang).q == qk) {
            return (int)i;
        }
    }
    return k;
}

/* multiviews_fallback's variant, when it is one of them. */
static int fallback(const struct mv_ctx *cx, const struct mv_var *v, unsigned n)
{
    struct slice suf = slice_cstr(cx->mc->fallback_suffix);
    for (unsigned i = 0; i < n; i++) {
        struct slice f = v[i].file;
        if (!v[i].gone && f.len == cx->base.len + suf.len &&
            slice_eq(slice_sub(f, 0, cx->base.len), cx->base) &&
            slice_eq(slice_sub(f, cx->base.len, suf.len), suf)) {
            return (int)i;
        }
    }
    return -1;
}

/*
 * The variant to send, or -1 (406): the best by proto/negotiate.h; with a default language
 * and no language acceptable, the best with languages set aside (but never one the client
 * refused by name, "ko;q=0"); then multiviews_fallback's. *vary gets the fields it depends on.
 */
static int choose(const struct mv_ctx *cx, const struct mv_var *v, unsigned n, unsigned *vary)
{
    struct http_neg_variant nv[MV_VARIANTS_MAX];
    for (unsigned i = 0; i < n; i++) {
        nv[i] =
            (struct http_neg_variant){v[i].type, v[i].lang, v[i].charset, v[i].gone ? 0 : v[i].qs};
    }
    struct http_neg_request q = {&cx->accept, &cx->language, &cx->charset};
    int k = http_neg_choose_variant(&q, nv, n, vary);
    *vary |= dims(v, n);
    if (k >= 0) {
        return prefer_default(cx, v, n, k);
    }
    if (cx->mc->deflang && !http_neg_absent(&cx->language)) {
        for (unsigned i = 0; i < n; i++) {
            struct http_neg_match m = http_neg_language_match(&cx->language, v[i].lang);
            if (v[i].lang.len && m.q == 0 && m.index != HTTP_NEG_NONE) {
                nv[i].qs = 0;
            }
        }
        struct http_neg_request any = {&cx->accept, NULL, &cx->charset};
        k = http_neg_choose_variant(&any, nv, n, NULL);
    }
    if (k < 0 && cx->mc->fallback_suffix) {
        k = fallback(cx, v, n);
    }
    return k;
}

/* ---------------------------------------------------------------- sending */

/* The worker's typings that force one Content-Type: made on first use, kept for the
 * process's life (the file cache's loads hold pointers to them; they own everything). */
struct mv_typing {
    struct mv_typing *next;
    struct fs_typing t;
    size_t len;
    char type[];
};

static struct mv_typing *mv_typings[MV_WORKERS];
static unsigned mv_ntypings[MV_WORKERS];

static const struct fs_typing *forced(const struct req *r, const struct fs_typing *base,
                                      struct slice type)
{
    unsigned id = r->env->worker;
    if (id >= MV_WORKERS) {
        return NULL;
    }
    for (struct mv_typing *t = mv_typings[id]; t; t = t->next) {
        if (t->len == type.len && memcmp(t->type, type.ptr, type.len) == 0 &&
            t->t.etag == base->etag && t->t.nosniff == base->nosniff) {
            return &t->t;
        }
    }
    struct mv_typing *t =
        mv_ntypings[id] < MV_TYPINGS_MAX ? sp_malloc(sizeof(*t) + type.len + 1) : NULL;
    if (!t) {
        return NULL; /* sent as its name types it */
    }
    memcpy(t->type, type.ptr, type.len);
    t->type[type.len] = '\0';
    t->len = type.len;
    t->t = (struct fs_typing){.default_type = "application/octet-stream",
                              .force_type = t->type,
                              .magic = FS_MAGIC_OFF,
                              .etag = base->etag,
                              .nosniff = base->nosniff};
    fs_typing_seal(&t->t);
    t->next = mv_typings[id];
    mv_typings[id] = t;
    mv_ntypings[id]++;
    return &t->t;
}

/* The Content-Type a retyped variant is sent with, in buf (FS_TYPE_MAX bytes). */
static struct slice content_type(const struct mv_ctx *cx, const struct mv_var *v, char *buf)
{
    if (v->decl_type || v->charset.len) {
        struct slice t = v->decl_type ? slice_cstr(v->decl_type) : v->type;
        size_t n = MIN(t.len, FS_TYPE_MAX - 1);
        memcpy(buf, t.ptr, n);
        if (v->charset.len && n + 10 + v->charset.len < FS_TYPE_MAX) {
            memcpy(buf + n, "; charset=", 10);
            memcpy(buf + n + 10, v->charset.ptr, v->charset.len);
            n += 10 + v->charset.len;
        }
        return slice_make(buf, n);
    }
    char name[80] = "x.";
    size_t k = MIN(v->type_ext.len, sizeof(name) - 3);
    memcpy(name + 2, v->type_ext.ptr, k);
    bool magic;
    return slice_make(buf, fs_typing_of_name(cx->typing, slice_make(name, k + 2), buf, &magic));
}

/* Variant v's file entry (referenced), or NULL: *st is 0 (not a file) or a status. */
static struct fs_entry *variant_entry(const struct mv_ctx *cx, const struct mv_var *v, int *st)
{
    struct req *r = cx->r;
    char *p = arena_alloc(r->arena, cx->fs_dir.len + v->file.len + 1);
    if (!p) {
        *st = 503;
        return NULL;
    }
    memcpy(p, cx->fs_dir.ptr, cx->fs_dir.len);
    memcpy(p + cx->fs_dir.len, v->file.ptr, v->file.len);
    p[cx->fs_dir.len + v->file.len] = '\0';
    const struct fs_typing *ty = NULL;
    if (v->retype) {
        char buf[FS_TYPE_MAX];
        ty = forced(r, cx->typing, content_type(cx, v, buf));
    }
    struct fs_view view = {cx->root->id, FS_ENC_NONE, ty ? ty : cx->typing};
    struct fs_entry *e =
        http_file_get(r, &cx->root->root, &view, slice_make(p, cx->fs_dir.len + v->file.len), st);
    if (!e) {
        return NULL; /* HANDLER_LATER (loading) or 503 */
    }
    if (e->kind != FS_FILE) {
        *st = e->kind == FS_ERROR && e->status >= 500 ? e->status : 0;
        fs_entry_release(e);
        return NULL;
    }
    return e;
}

/* A copy of s in the arena (the worker's names may change before the response is sent). */
static struct slice arena_copy(struct arena *a, struct slice s)
{
    char *p = s.len ? arena_alloc(a, s.len) : NULL;
    if (p) {
        memcpy(p, s.ptr, s.len);
    }
    return slice_make(p, p ? s.len : 0);
}

/* The variant's URI, percent-encoded: beside the request's (SLICE_NULL when it has none). */
static struct slice variant_uri(const struct mv_ctx *cx, struct slice file)
{
    if (!cx->located) {
        return SLICE_NULL;
    }
    size_t n = cx->uri_dir.len + file.len;
    char *raw = arena_alloc(cx->r->arena, n), *out = arena_alloc(cx->r->arena, 3 * n + 1);
    if (!raw || !out) {
        return SLICE_NULL;
    }
    memcpy(raw, cx->uri_dir.ptr, cx->uri_dir.len);
    memcpy(raw + cx->uri_dir.len, file.ptr, file.len);
    return slice_make(out, uri_escape(out, slice_make(raw, n), URI_ESC_PATH));
}

/* ---------------------------------------------------------------- 406 */

struct mv_out {
    char *p;
    size_t len, cap;
};

static void put(struct mv_out *o, struct slice s)
{
    if (o->len + s.len <= o->cap) {
        memcpy(o->p + o->len, s.ptr, s.len);
        o->len += s.len;
    }
}

static void put_html(struct mv_out *o, struct slice s)
{
    for (size_t i = 0; i < s.len; i++) {
        switch (s.ptr[i]) {
        case '&':
            put(o, SLICE_LIT("&amp;"));
            break;
        case '<':
            put(o, SLICE_LIT("&lt;"));
            break;
        case '>':
            put(o, SLICE_LIT("&gt;"));
            break;
        case '"':
            put(o, SLICE_LIT("&quot;"));
            break;
        case '\'':
            put(o, SLICE_LIT("&#39;"));
            break;
        default:
            put(o, slice_make(s.ptr + i, 1));
            break;
        }
    }
}

/* RFC 9110 15.5.7: 406 with the list of the variants a person (or agent) may pick from. */
static int not_acceptable(const struct mv_ctx *cx, const struct mv_var *v, unsigned n,
                          unsigned vary)
{
    struct req *r = cx->r;
    static const char head[] = "<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\">"
                               "<title>406 Not Acceptable</title></head>\n<body>\n"
                               "<h1>406 Not Acceptable</h1>\n<p>None of the variants of "
                               "this resource is acceptable. Available variants:</p>\n<ul>\n";
    static const char tail[] = "</ul>\n</body>\n</html>\n";
    size_t cap = sizeof(head) + sizeof(tail);
    for (unsigned i = 0; i < n; i++) {
        cap += 80 + 6 * (3 * (cx->uri_dir.len + v[i].file.len) + v[i].file.len + v[i].type.len +
                         v[i].lang.len + v[i].charset.len);
    }
    struct mv_out o = {arena_alloc(r->arena, cap), 0, cap};
    if (!o.p) {
        return 500;
    }
    put(&o, SLICE_LIT(head));
    for (unsigned i = 0; i < n; i++) {
        if (v[i].gone) {
            continue;
        }
        struct slice uri = variant_uri(cx, v[i].file);
        put(&o, SLICE_LIT("<li>"));
        if (uri.len) {
            put(&o, SLICE_LIT("<a href=\""));
            put_html(&o, uri);
            put(&o, SLICE_LIT("\">"));
        }
        put_html(&o, v[i].file);
        put(&o, uri.len ? SLICE_LIT("</a>") : SLICE_NULL);
        struct slice what[3][2] = {{SLICE_LIT(", type "), v[i].type},
                                   {SLICE_LIT(", language "), v[i].lang},
                                   {SLICE_LIT(", charset "), v[i].charset}};
        for (unsigned k = 0; k < 3; k++) {
            if (what[k][1].len) {
                put(&o, what[k][0]);
                put_html(&o, what[k][1]);
            }
        }
        put(&o, SLICE_LIT("</li>\n"));
    }
    put(&o, SLICE_LIT(tail));
    resp_begin(r, 406);
    struct slice vt = http_neg_vary_text(vary);
    if ((vt.len && resp_field(r, SLICE_LIT("Vary"), vt) < 0) ||
        resp_field(r, SLICE_LIT("Content-Type"), SLICE_LIT("text/html; charset=utf-8")) < 0 ||
        resp_body_mem(r, o.p, o.len, NULL) < 0) {
        return 500;
    }
    return resp_send(r);
}

/* ---------------------------------------------------------------- the request */

static int pick(struct mv_ctx *cx, struct mv_var *v, unsigned n, struct multiviews_choice *c)
{
    for (unsigned tries = 0; tries <= n; tries++) {
        unsigned vary = 0;
        int k = choose(cx, v, n, &vary);
        if (k < 0) {
            return not_acceptable(cx, v, n, vary);
        }
        int st;
        struct fs_entry *e = variant_entry(cx, &v[k], &st);
        if (!e) {
            if (st) {
                return st; /* HANDLER_LATER: dispatched again once it is loaded; or 503 */
            }
            v[k].gone = true; /* a directory, or removed since the names were read */
            continue;
        }
        *c = (struct multiviews_choice){e, http_neg_vary_text(vary),
                                        arena_copy(cx->r->arena, v[k].lang),
                                        variant_uri(cx, v[k].file)};
        return 0;
    }
    return 404;
}

static size_t after_last_slash(struct slice s)
{
    const char *p = s.ptr + s.len;
    while (p > s.ptr && p[-1] != '/') {
        p--;
    }
    return (size_t)(p - s.ptr);
}

bool multiviews_on(const struct route_loc *l)
{
    const struct mv_conf *mc = mv_conf_of(l);
    return mc && mc->active;
}

int multiviews_answer(struct req *r, const struct http_root *root, struct slice fpath,
                      struct multiviews_choice *c)
{
    *c = (struct multiviews_choice){0};
    const struct mv_conf *mc = mv_conf_of(r->loc);
    struct slice uri = r->path;
    if (!mc || !mc->active || !r->msg || !uri.len || uri.ptr[uri.len - 1] == '/' || !fpath.len ||
        fpath.ptr[0] != '/' || fpath.ptr[fpath.len - 1] == '/') {
        return 404; /* a directory's URI is not negotiated */
    }
    size_t fcut = after_last_slash(fpath), ucut = after_last_slash(uri);
    struct mv_ctx cx = {.r = r, .mc = mc, .root = root, .typing = http_typing(r->loc)};
    cx.base = slice_sub(fpath, fcut, fpath.len - fcut);
    cx.uri_dir = slice_sub(uri, 0, ucut);
    cx.located = slice_eq(slice_sub(uri, ucut, uri.len - ucut), cx.base);
    if (!cx.base.len || cx.base.ptr[0] == '.') {
        return 404;
    }
    struct mv_var v[MV_VARIANTS_MAX];
    unsigned n = 0;
    const struct mv_decl *d = decl_for(mc, uri);
    char *dir = arena_alloc(r->arena, fcut + 1);
    if (!dir) {
        return 503;
    }
    memcpy(dir, fpath.ptr, fcut);
    dir[fcut] = '\0';
    cx.fs_dir = slice_make(dir, fcut);
    if (d) {
        n = from_decl(&cx, d, v);
    } else if (mc->on) {
        const struct mv_names *names;
        struct fs_view view = http_view(r->loc, root, FS_ENC_NONE);
        int st = multiviews_names_get(r, &root->root, &view, cx.fs_dir, &names);
        if (st) {
            return st;
        }
        n = from_names(&cx, names, v);
    }
    if (n == 0) {
        return 404;
    }
    default_first(mc->deflang, v, n);
    struct http_neg_item ai[HTTP_NEG_ITEMS_MAX], li[HTTP_NEG_ITEMS_MAX], ci[HTTP_NEG_ITEMS_MAX];
    const struct hdr_table *h = &r->msg->headers;
    http_neg_init(&cx.accept, HTTP_NEG_ACCEPT, ai, HTTP_NEG_ITEMS_MAX);
    http_neg_add_fields(&cx.accept, h, SLICE_LIT("accept"));
    http_neg_init(&cx.language, HTTP_NEG_ACCEPT_LANGUAGE, li, HTTP_NEG_ITEMS_MAX);
    http_neg_add_fields(&cx.language, h, SLICE_LIT("accept-language"));
    http_neg_init(&cx.charset, HTTP_NEG_ACCEPT_CHARSET, ci, HTTP_NEG_ITEMS_MAX);
    http_neg_add_fields(&cx.charset, h, SLICE_LIT("accept-charset"));
    return pick(&cx, v, n, c);
}
