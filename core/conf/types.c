/* types.c - see types.h. */
#include "core/conf/types.h"

#include "core/base/alloc.h"
#include "core/conf/print.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- on | off */

static int flag_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                      unsigned n)
{
    (void)n;
    if (strcmp(a[0], "on") == 0) {
        *(bool *)field = true;
    } else if (strcmp(a[0], "off") == 0) {
        *(bool *)field = false;
    } else {
        return conf_error(p, "\"%s\" takes \"on\" or \"off\", not \"%s\"", r->name, a[0]);
    }
    return 0;
}

static void flag_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    conf_out_begin(o, r->name);
    conf_out_arg(o, *(const bool *)field ? "on" : "off");
    conf_out_end(o);
}

const struct conf_type conf_flag = {"flag", sizeof(bool), flag_parse, flag_print, NULL};

/* ---------------------------------------------------------------- numbers */

static int u32_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                     unsigned n)
{
    (void)n;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(a[0], &end, 10);
    if (!isdigit((unsigned char)a[0][0]) || *end || errno || v < r->min || v > r->max) {
        return conf_error(p, "\"%s\" must be a number between %llu and %llu, not \"%s\"", r->name,
                          (unsigned long long)r->min, (unsigned long long)r->max, a[0]);
    }
    *(uint32_t *)field = (uint32_t)v;
    return 0;
}

static void u32_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    conf_out_begin(o, r->name);
    conf_out_argf(o, "%u", *(const uint32_t *)field);
    conf_out_end(o);
}

const struct conf_type conf_u32 = {"number", sizeof(uint32_t), u32_parse, u32_print, NULL};

static int size_get(struct conf_parse *p, const struct conf_row *r, const char *a, uint64_t *v)
{
    if (conf_parse_size(a, v) < 0 || *v < r->min || *v > r->max) {
        return conf_error(p,
                          "\"%s\" must be a size between %llu and %llu bytes (suffixes k, m, g), "
                          "not \"%s\"",
                          r->name, (unsigned long long)r->min, (unsigned long long)r->max, a);
    }
    return 0;
}

static int size32_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                        unsigned n)
{
    (void)n;
    uint64_t v;
    if (size_get(p, r, a[0], &v) < 0) {
        return -1;
    }
    *(uint32_t *)field = (uint32_t)v;
    return 0;
}

static void size32_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    conf_out_begin(o, r->name);
    conf_out_size(o, *(const uint32_t *)field);
    conf_out_end(o);
}

const struct conf_type conf_size32 = {"size", sizeof(uint32_t), size32_parse, size32_print, NULL};

static int size64_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                        unsigned n)
{
    (void)n;
    return size_get(p, r, a[0], (uint64_t *)field);
}

static void size64_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    conf_out_begin(o, r->name);
    conf_out_size(o, *(const uint64_t *)field);
    conf_out_end(o);
}

const struct conf_type conf_size64 = {"size", sizeof(uint64_t), size64_parse, size64_print, NULL};

static int msec32_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                        unsigned n)
{
    (void)n;
    uint64_t v;
    if (conf_parse_time_ms(a[0], &v) < 0 || v < r->min || v > r->max) {
        return conf_error(p,
                          "\"%s\" must be a time between %llums and %llums (units ms, s, m, h, d), "
                          "not \"%s\"",
                          r->name, (unsigned long long)r->min, (unsigned long long)r->max, a[0]);
    }
    *(uint32_t *)field = (uint32_t)v;
    return 0;
}

static void msec32_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    conf_out_begin(o, r->name);
    conf_out_time(o, *(const uint32_t *)field);
    conf_out_end(o);
}

const struct conf_type conf_msec32 = {"time", sizeof(uint32_t), msec32_parse, msec32_print, NULL};

/* ---------------------------------------------------------------- strings */

static void str_release(void *field)
{
    sp_free(*(char **)field);
    *(char **)field = NULL;
}

static int str_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                     unsigned n)
{
    (void)r;
    (void)n;
    char *v = conf_strdup(p, a[0]);
    if (!v) {
        return -1;
    }
    *(char **)field = v;
    return 0;
}

static void str_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const char *v = *(char *const *)field;
    if (v) {
        conf_out_begin(o, r->name);
        conf_out_arg(o, v);
        conf_out_end(o);
    }
}

const struct conf_type conf_str = {"string", sizeof(char *), str_parse, str_print, str_release};

static int path_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                      unsigned n)
{
    (void)r;
    (void)n;
    if (a[0][0] == '\0') {
        return conf_error(p, "\"%s\" needs a path, not an empty string", r->name);
    }
    char *v = conf_path(p, a[0]);
    if (!v) {
        return -1;
    }
    *(char **)field = v;
    return 0;
}

const struct conf_type conf_path_t = {"path", sizeof(char *), path_parse, str_print, str_release};

/* ---------------------------------------------------------------- word lists */

void conf_words_release(void *field)
{
    struct conf_words *w = field;
    for (unsigned i = 0; i < w->n; i++) {
        sp_free(w->v[i]);
    }
    sp_free(w->v);
    w->v = NULL;
    w->n = 0;
}

int conf_words_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                     unsigned n)
{
    (void)r;
    struct conf_words *w = field;
    char **nv = sp_realloc(w->v, (w->n + n) * sizeof(char *));
    if (!nv) {
        return conf_error(p, "out of memory");
    }
    w->v = nv;
    for (unsigned i = 0; i < n; i++) {
        if (!(w->v[w->n] = conf_strdup(p, a[i]))) {
            return -1;
        }
        w->n++;
    }
    return 0;
}

void conf_words_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const struct conf_words *w = field;
    if (w->n == 0) {
        return;
    }
    conf_out_begin(o, r->name);
    for (unsigned i = 0; i < w->n; i++) {
        conf_out_arg(o, w->v[i]);
    }
    conf_out_end(o);
}

const struct conf_type conf_words = {"words", sizeof(struct conf_words), conf_words_parse,
                                     conf_words_print, conf_words_release};

/* ---------------------------------------------------------------- one of a few words */

static int keyword_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                         unsigned n)
{
    (void)n;
    for (unsigned i = 0; r->keys[i]; i++) {
        if (strcmp(a[0], r->keys[i]) == 0) {
            *(unsigned *)field = i;
            return 0;
        }
    }
    char list[256] = "";
    size_t len = 0;
    for (unsigned i = 0; r->keys[i] && len < sizeof(list); i++) {
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "", r->keys[i]);
    }
    return conf_error(p, "\"%s\" takes one of %s, not \"%s\"", r->name, list, a[0]);
}

static void keyword_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    conf_out_begin(o, r->name);
    conf_out_arg(o, r->keys[*(const unsigned *)field]);
    conf_out_end(o);
}

const struct conf_type conf_keyword = {"keyword", sizeof(unsigned), keyword_parse, keyword_print,
                                       NULL};
