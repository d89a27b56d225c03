/* multiviews_conf.c - the MultiViews module's rows (see multiviews.h, multiviews_conf.h). */
#include "core/handlers/multiviews_conf.h"

#include "core/base/alloc.h"
#include "core/conf/print.h"
#include "core/handlers/multiviews_names.h"
#include "core/http/route.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The main struct. */
struct mv_main {
    bool used; /* multiviews_names_use() was called */
};

static int slot = -1;

/* ---------------------------------------------------------------- values */

bool mv_parse_q(const char *s, uint16_t *q)
{
    /* RFC 9110 12.4.2: "0" ["." 0*3DIGIT] or "1" ["." 0*3"0"] */
    if ((s[0] != '0' && s[0] != '1') || (s[1] && s[1] != '.')) {
        return false;
    }
    unsigned v = (unsigned)(s[0] - '0') * 1000, scale = 100;
    const char *d = s[1] ? s + 2 : s + 1;
    for (; *d; d++, scale /= 10) {
        if (*d < '0' || *d > '9' || scale == 0) {
            return false;
        }
        v += (unsigned)(*d - '0') * scale;
    }
    if (v > 1000) {
        return false;
    }
    *q = (uint16_t)v;
    return true;
}

static void q_text(char *buf, size_t len, uint16_t q)
{
    if (q % 1000 == 0) {
        snprintf(buf, len, "%u", q / 1000u);
        return;
    }
    char d[4];
    snprintf(d, sizeof(d), "%03u", q % 1000u);
    for (int i = 2; i > 0 && d[i] == '0'; i--) {
        d[i] = '\0';
    }
    snprintf(buf, len, "0.%s", d);
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_alnum(char c)
{
    return is_alpha(c) || (c >= '0' && c <= '9');
}

bool mv_tag_ok(const char *s, size_t len)
{
    size_t run = 0;
    bool first = true;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '-') {
            if (run == 0 || run > 8) {
                return false;
            }
            run = 0;
            first = false;
            continue;
        }
        if (first ? !is_alpha(s[i]) : !is_alnum(s[i])) {
            return false;
        }
        run++;
    }
    return len > 0;
}

static bool tag_ok(const char *s)
{
    return mv_tag_ok(s, strlen(s));
}

/* "type/subtype"; with wild also "type/\*" and "*\/\*" (multiviews_quality's TYPE). */
static bool media_type_ok(const char *s, bool wild)
{
    if (wild && !strcmp(s, "*/*")) {
        return true;
    }
    const char *slash = strchr(s, '/');
    if (!slash || slash == s || !slash[1] || strchr(slash + 1, '/')) {
        return false;
    }
    for (const char *c = s; *c; c++) {
        if ((unsigned char)*c <= ' ' || *c == '"' || *c == ',' || *c == ';' || *c == 0x7f) {
            return false;
        }
    }
    bool star_sub = wild && !strcmp(slash + 1, "*");
    return !memchr(s, '*', (size_t)(slash - s)) && (star_sub || !strchr(slash + 1, '*'));
}

/* A charset name: letters, digits and "-_.:+" (utf-8, shift_jis, iso-8859-1). */
static bool charset_ok(const char *s)
{
    if (!s[0]) {
        return false;
    }
    for (const char *c = s; *c; c++) {
        if (!is_alnum(*c) && !strchr("-_.:+", *c)) {
            return false;
        }
    }
    return true;
}

/* A path of plain components: no empty, "." or ".." one, no control byte. */
static bool components_ok(const char *s)
{
    const char *c = s;
    for (;;) {
        const char *e = strchr(c, '/');
        size_t n = e ? (size_t)(e - c) : strlen(c);
        if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.')) {
            return false;
        }
        for (size_t i = 0; i < n; i++) {
            if ((unsigned char)c[i] < 0x20 || c[i] == 0x7f) {
                return false;
            }
        }
        if (!e) {
            return true;
        }
        c = e + 1;
    }
}

/* ---------------------------------------------------------------- multiviews_languages */

static int languages_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                           unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (strcmp(a[i], "auto") != 0 && !tag_ok(a[i])) {
            return conf_error(p,
                              "multiviews_languages: \"%s\" is not a language tag (en, "
                              "pt-BR, zh-Hant) or auto",
                              a[i]);
        }
        for (unsigned k = 0; k < i; k++) {
            if (strcasecmp(a[k], a[i]) == 0) {
                return conf_error(p, "multiviews_languages: \"%s\" is listed twice", a[i]);
            }
        }
    }
    return conf_words_parse(p, r, field, a, n);
}

static const struct conf_type languages_type = {"multiviews_languages", sizeof(struct conf_words),
                                                languages_parse, conf_words_print,
                                                conf_words_release};

/* ---------------------------------------------------------------- multiviews_default_language */

static int deflang_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                         unsigned n)
{
    if (strcmp(a[0], "off") != 0 && !tag_ok(a[0])) {
        return conf_error(p, "multiviews_default_language: \"%s\" is not a language tag or off",
                          a[0]);
    }
    return conf_str.parse(p, r, field, a, n);
}

/* conf_str's printer and destructor (not constant expressions: wrapped). */
static void str_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    conf_str.print(o, r, field);
}

static void str_release(void *field)
{
    conf_str.release(field);
}

static const struct conf_type deflang_type = {
    "multiviews_default_language", sizeof(char *), deflang_parse, str_print, str_release, NULL};

/* ---------------------------------------------------------------- multiviews_fallback */

static int fallback_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                          unsigned n)
{
    const char *s = a[0];
    if (strcmp(s, "off") != 0 &&
        (s[0] != '*' || s[1] != '.' || !s[2] || strchr(s + 1, '*') || strchr(s, '/'))) {
        return conf_error(p,
                          "multiviews_fallback: \"%s\" must be off or *.SUFFIX (*.html, "
                          "*.en.html: the variant named as the resource plus SUFFIX)",
                          s);
    }
    return conf_str.parse(p, r, field, a, n);
}

static const struct conf_type fallback_type = {
    "multiviews_fallback", sizeof(char *), fallback_parse, str_print, str_release, NULL};

/* ---------------------------------------------------------------- multiviews_quality TYPE Q */

static int quality_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                         unsigned n)
{
    (void)r, (void)n;
    struct mv_qualities *l = field;
    uint16_t q;
    if (!media_type_ok(a[0], true)) {
        return conf_error(p,
                          "multiviews_quality: \"%s\" is not a media type (type/subtype, "
                          "type/*, */*)",
                          a[0]);
    }
    if (!mv_parse_q(a[1], &q)) {
        return conf_error(p,
                          "multiviews_quality: \"%s\" is not a quality between 0 and 1 "
                          "(at most three decimals)",
                          a[1]);
    }
    for (unsigned i = 0; i < l->n; i++) {
        if (strcasecmp(l->v[i].type, a[0]) == 0) {
            return conf_error(p, "multiviews_quality: \"%s\" is given twice", a[0]);
        }
    }
    struct mv_quality *nv = sp_realloc(l->v, (l->n + 1) * sizeof(*nv));
    if (!nv) {
        return conf_error(p, "out of memory");
    }
    l->v = nv;
    if (!(l->v[l->n].type = conf_strdup(p, a[0]))) {
        return -1;
    }
    l->v[l->n++].q = q;
    return 0;
}

static void quality_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const struct mv_qualities *l = field;
    for (unsigned i = 0; i < l->n; i++) {
        char q[16];
        q_text(q, sizeof(q), l->v[i].q);
        conf_out_begin(o, r->name);
        conf_out_arg(o, l->v[i].type);
        conf_out_arg(o, q);
        conf_out_end(o);
    }
}

static void quality_release(void *field)
{
    struct mv_qualities *l = field;
    for (unsigned i = 0; i < l->n; i++) {
        sp_free(l->v[i].type);
    }
    sp_free(l->v);
    *l = (struct mv_qualities){0};
}

static const struct conf_type quality_type = {"multiviews_quality", sizeof(struct mv_qualities),
                                              quality_parse, quality_print, quality_release};

/* ---------------------------------------------------------------- variants URI { ... } */

static int variants_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                          unsigned n)
{
    (void)r, (void)n;
    struct mv_decls *l = field;
    const char *uri = a[0];
    if (uri[0] != '/' || !uri[1] || uri[strlen(uri) - 1] == '/' || !components_ok(uri + 1)) {
        return conf_error(p, "variants: \"%s\" must be a URI path of a file (/doc, /a/doc.html)",
                          uri);
    }
    for (unsigned i = 0; i < l->n; i++) {
        if (strcmp(l->v[i].uri, uri) == 0) {
            return conf_error(p, "variants: \"%s\" is declared twice in this block (at line %d)",
                              uri, l->v[i].where.line);
        }
    }
    struct mv_decl *nv = sp_realloc(l->v, (l->n + 1) * sizeof(*nv));
    if (!nv) {
        return conf_error(p, "out of memory");
    }
    l->v = nv;
    struct mv_decl *d = &l->v[l->n];
    *d = (struct mv_decl){.where = {p->file, p->line}};
    if (!(d->uri = conf_strdup(p, uri))) {
        return -1;
    }
    l->n++;
    return 0;
}

/* The optional words after TYPE: LANG, charset=CS, qs=Q, each at most once. */
static int variant_options(struct conf_parse *p, struct mv_decl_variant *v, char **a, unsigned n)
{
    for (unsigned i = 2; i < n; i++) {
        const char *w = a[i];
        if (!strncmp(w, "qs=", 3)) {
            if (v->has_qs || !mv_parse_q(w + 3, &v->qs)) {
                return conf_error(p, "variants: \"%s\": qs must be given once, between 0 and 1", w);
            }
            v->has_qs = true;
        } else if (!strncmp(w, "charset=", 8)) {
            if (v->charset || !charset_ok(w + 8)) {
                return conf_error(p, "variants: \"%s\": one charset, a name (utf-8)", w);
            }
            if (!(v->charset = conf_strdup(p, w + 8))) {
                return -1;
            }
        } else if (!v->lang && tag_ok(w)) {
            if (!(v->lang = conf_strdup(p, w))) {
                return -1;
            }
        } else {
            return conf_error(p,
                              "variants: \"%s\" is not a language tag, charset=CS or qs=Q "
                              "(or the line names two languages)",
                              w);
        }
    }
    return 0;
}

static void variant_free(struct mv_decl_variant *v)
{
    sp_free(v->file);
    sp_free(v->type);
    sp_free(v->lang);
    sp_free(v->charset);
}

static int variants_inner(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                          unsigned n)
{
    (void)r;
    struct mv_decls *l = field;
    struct mv_decl *d = &l->v[l->n - 1];
    if (n < 2) {
        return conf_error(p,
                          "variants: \"%s\" needs a media type (FILE TYPE [LANG] "
                          "[charset=CS] [qs=Q])",
                          a[0]);
    }
    if (a[0][0] == '/' || !components_ok(a[0])) {
        return conf_error(p,
                          "variants: \"%s\" must be a relative file name without \".\" or "
                          "\"..\" components",
                          a[0]);
    }
    if (!media_type_ok(a[1], false)) {
        return conf_error(p, "variants: \"%s\" is not a media type (type/subtype)", a[1]);
    }
    if (d->n == MV_DECL_VARIANTS_MAX) {
        return conf_error(p, "variants: more than %d files for \"%s\"", MV_DECL_VARIANTS_MAX,
                          d->uri);
    }
    struct mv_decl_variant *nv = sp_realloc(d->v, (d->n + 1) * sizeof(*nv));
    if (!nv) {
        return conf_error(p, "out of memory");
    }
    d->v = nv;
    struct mv_decl_variant *v = &d->v[d->n];
    *v = (struct mv_decl_variant){.qs = 1000};
    int rc = variant_options(p, v, a, n);
    if (rc == 0 && (!(v->file = conf_strdup(p, a[0])) || !(v->type = conf_strdup(p, a[1])))) {
        rc = -1;
    }
    if (rc < 0) {
        variant_free(v);
        return -1;
    }
    d->n++;
    return 0;
}

/* Whether s reads back unquoted as the first word of a line (print.c's rule). */
static bool plain_word(const char *s)
{
    return s[0] && !strpbrk(s, " \t\r\n;{}#\"'\\");
}

static void variants_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const struct mv_decls *l = field;
    for (unsigned i = 0; i < l->n; i++) {
        const struct mv_decl *d = &l->v[i];
        conf_out_begin(o, r->name);
        conf_out_arg(o, d->uri);
        conf_out_open(o);
        for (unsigned k = 0; k < d->n; k++) {
            const struct mv_decl_variant *v = &d->v[k];
            if (plain_word(v->file)) {
                conf_out_begin(o, v->file);
            } else {
                conf_out_begin(o, "");
                conf_out_arg(o, v->file);
            }
            conf_out_arg(o, v->type);
            if (v->lang) {
                conf_out_arg(o, v->lang);
            }
            if (v->charset) {
                conf_out_argf(o, "charset=%s", v->charset);
            }
            if (v->has_qs) {
                char q[16];
                q_text(q, sizeof(q), v->qs);
                conf_out_argf(o, "qs=%s", q);
            }
            conf_out_end(o);
        }
        conf_out_close(o);
    }
}

static void variants_release(void *field)
{
    struct mv_decls *l = field;
    for (unsigned i = 0; i < l->n; i++) {
        for (unsigned k = 0; k < l->v[i].n; k++) {
            variant_free(&l->v[i].v[k]);
        }
        sp_free(l->v[i].v);
        sp_free(l->v[i].uri);
    }
    sp_free(l->v);
    *l = (struct mv_decls){0};
}

static const struct conf_type variants_type = {"variants",       sizeof(struct mv_decls),
                                               variants_parse,   variants_print,
                                               variants_release, variants_inner};

/* ---------------------------------------------------------------- rows */

#define ALL (CONF_MAIN | CONF_SERVER | CONF_LOCATION)
#define OFF(f) offsetof(struct mv_conf, f)

static const struct conf_row rows[] = {
    {"multiviews", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_flag, OFF(on), "off", 0, 0, "on", NULL},
    {"multiviews_languages", ALL, CONF_STORE_LOC, 1, 128, 0, &languages_type, OFF(languages),
     "auto", 0, 0, "auto ast pt-BR", NULL},
    {"multiviews_default_language", ALL, CONF_STORE_LOC, 1, 1, 0, &deflang_type,
     OFF(default_language), "off", 0, 0, "en", NULL},
    {"multiviews_quality", ALL, CONF_STORE_LOC, 2, 2, CONF_MULTI, &quality_type, OFF(quality), NULL,
     0, 0, "application/json 0.5", NULL},
    {"multiviews_fallback", ALL, CONF_STORE_LOC, 1, 1, 0, &fallback_type, OFF(fallback), "off", 0,
     0, "*.html", NULL},
    {"variants", ALL, CONF_STORE_LOC, 1, 1, CONF_MULTI | CONF_BLOCK, &variants_type, OFF(variants),
     NULL, 0, 0,
     "/every/doc { doc.html.en text/html en qs=0.9; \"my doc.json\" application/json; }", NULL},
};

/* ---------------------------------------------------------------- finishing */

static int finish_block(struct conf_block *b, bool *any_on, char *err, size_t errlen)
{
    struct mv_conf *mc = conf_get(b, (unsigned)slot, CONF_STORE_LOC);
    mc->active = mc->on || mc->variants.n > 0;
    *any_on = *any_on || mc->on;
    mc->auto_languages = false;
    for (unsigned i = 0; i < mc->languages.n; i++) {
        mc->auto_languages = mc->auto_languages || !strcmp(mc->languages.v[i], "auto");
    }
    mc->deflang = strcmp(mc->default_language, "off") ? mc->default_language : NULL;
    mc->fallback_suffix = strcmp(mc->fallback, "off") ? mc->fallback + 1 : NULL;
    for (unsigned i = 0; i < mc->variants.n; i++) {
        if (mc->variants.v[i].n == 0) {
            return conf_fail_at(err, errlen, mc->variants.v[i].where,
                                "variants \"%s\" lists no file", mc->variants.v[i].uri);
        }
    }
    for (struct conf_block *k = b->children; k; k = k->next) {
        if (finish_block(k, any_on, err, errlen) < 0) {
            return -1;
        }
    }
    return 0;
}

static int mv_finish(struct conf *c, unsigned s, char *err, size_t errlen)
{
    slot = (int)s; /* the same on every load: workers of an older generation read it too */
    bool any_on = false;
    if (finish_block(c->main, &any_on, err, errlen) < 0) {
        return -1;
    }
    struct mv_main *m = conf_main(c, s);
    if (any_on) {
        multiviews_names_use(); /* starts no thread: the first directory read does */
        m->used = true;
    }
    return 0;
}

static void mv_release(struct conf *c, unsigned s)
{
    struct mv_main *m = conf_main(c, s);
    if (m && m->used) {
        multiviews_names_unuse();
        m->used = false;
    }
}

const struct mv_conf *mv_conf_of(const struct route_loc *l)
{
    if (slot < 0 || !l || !l->block) {
        return NULL;
    }
    return conf_get(l->block, (unsigned)slot, CONF_STORE_LOC);
}

const struct conf_module multiviews_module = {
    .name = "multiviews",
    .rows = rows,
    .nrows = ARRAY_SIZE(rows),
    .size = {[CONF_STORE_MAIN] = sizeof(struct mv_main), [CONF_STORE_LOC] = sizeof(struct mv_conf)},
    .finish = mv_finish,
    .release = mv_release,
};
