/* fastcgi_conf.c - the FastCGI handler's rows and their checks (see fastcgi_conf.h). */
#include "core/handlers/fastcgi_conf.h"

#include "core/base/alloc.h"
#include "core/conf/print.h"
#include "core/conf/types.h"
#include "core/http/regex.h"
#include "core/http/route.h"
#include "core/http/upstream.h"
#include "core/http/upstream_conf.h"
#include "core/http/vars.h"

#include <stdio.h>
#include <string.h>
#include <sys/un.h>

static int slot = -1;

const struct fcgi_conf *fcgi_conf_of(const struct route_loc *l)
{
    if (slot < 0 || !l || !l->block) {
        return NULL;
    }
    return conf_get(l->block, (unsigned)slot, CONF_STORE_LOC);
}

/* ---------------------------------------------------------------- fastcgi_pass ADDRESS */

static int pass_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                      unsigned n)
{
    (void)r, (void)n;
    struct fcgi_pass *ps = field;
    const char *s = a[0];
    if (!strncmp(s, "unix:", 5)) {
        if (s[5] != '/' || strlen(s + 5) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
            return conf_error(p,
                              "fastcgi_pass \"%s\": unix: needs an absolute socket path of at "
                              "most %zu bytes",
                              s, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
        }
    } else if (!strncmp(s, "http:", 5) || !strncmp(s, "https:", 6) || s[0] == '*' || !s[0]) {
        return conf_error(p,
                          "fastcgi_pass \"%s\": give unix:PATH, HOST:PORT or the name of an "
                          "upstream",
                          s);
    }
    if (!(ps->text = conf_strdup(p, s))) {
        return -1;
    }
    ps->where = (struct conf_where){p->file, p->line};
    return 0;
}

static void pass_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const struct fcgi_pass *ps = field;
    if (ps->text) {
        conf_out_begin(o, r->name);
        conf_out_arg(o, ps->text);
        conf_out_end(o);
    }
}

static void pass_release(void *field)
{
    struct fcgi_pass *ps = field;
    if (ps->owns_group) {
        upstream_group_free(ps->group);
    }
    sp_free(ps->text);
    memset(ps, 0, sizeof(*ps));
}

/* size 0: the handler belongs to the location that names it (as nginx: not inherited) */
static const struct conf_type pass_type = {"fastcgi_pass", 0,   pass_parse, pass_print,
                                           pass_release,   NULL};

/* ---------------------------------------------------------------- fastcgi_param NAME VALUE */

static int param_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                       unsigned n)
{
    (void)r;
    struct fcgi_params *l = field;
    if (n == 3 && strcmp(a[2], "if_not_empty") != 0) {
        return conf_error(p, "fastcgi_param: the third argument must be if_not_empty, not \"%s\"",
                          a[2]);
    }
    if (!a[0][0]) {
        return conf_error(p, "fastcgi_param: an empty name");
    }
    for (const char *c = a[0]; *c; c++) {
        if ((unsigned char)*c < 0x21 || *c == 0x7f) {
            return conf_error(p, "fastcgi_param: the name \"%s\" holds a space or control byte",
                              a[0]);
        }
    }
    struct fcgi_param *nv = sp_realloc(l->v, (l->n + 1) * sizeof(*nv));
    if (!nv) {
        return conf_error(p, "out of memory");
    }
    l->v = nv;
    struct fcgi_param *pr = &l->v[l->n];
    *pr = (struct fcgi_param){.if_not_empty = n == 3};
    char msg[512];
    if (!(pr->name = conf_strdup(p, a[0])) || !(pr->text = conf_strdup(p, a[1]))) {
        sp_free(pr->name);
        return -1;
    }
    if (http_script_compile(&pr->value, a[1], msg, sizeof(msg)) < 0) {
        sp_free(pr->name);
        sp_free(pr->text);
        return conf_error(p, "fastcgi_param %s: %s", a[0], msg);
    }
    l->n++;
    return 0;
}

static void param_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const struct fcgi_params *l = field;
    for (unsigned i = 0; i < l->n; i++) {
        conf_out_begin(o, r->name);
        conf_out_arg(o, l->v[i].name);
        conf_out_arg(o, l->v[i].text);
        if (l->v[i].if_not_empty) {
            conf_out_arg(o, "if_not_empty");
        }
        conf_out_end(o);
    }
}

static void param_release(void *field)
{
    struct fcgi_params *l = field;
    for (unsigned i = 0; i < l->n; i++) {
        sp_free(l->v[i].name);
        sp_free(l->v[i].text);
        http_script_free(l->v[i].value);
    }
    sp_free(l->v);
    *l = (struct fcgi_params){0};
}

static const struct conf_type param_type = {
    "fastcgi_param", sizeof(struct fcgi_params), param_parse, param_print, param_release, NULL};

/* ---------------------------------------------------------------- fastcgi_split_path_info RE */

static int split_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                       unsigned n)
{
    (void)r, (void)n;
    struct fcgi_split *sp = field;
    char msg[512];
    sp->re = http_regex_compile(a[0], false, msg, sizeof(msg));
    if (!sp->re) {
        return conf_error(p, "fastcgi_split_path_info \"%s\": %s", a[0], msg);
    }
    if (http_regex_groups(sp->re) != 2) {
        http_regex_free(sp->re);
        sp->re = NULL;
        return conf_error(p,
                          "fastcgi_split_path_info \"%s\" must have two captures (the script "
                          "name, the path info), as ^(.+\\.php)(/.*)$",
                          a[0]);
    }
    if (!(sp->text = conf_strdup(p, a[0]))) {
        return -1;
    }
    return 0;
}

static void split_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const struct fcgi_split *sp = field;
    if (sp->text) {
        conf_out_begin(o, r->name);
        conf_out_arg(o, sp->text);
        conf_out_end(o);
    }
}

static void split_release(void *field)
{
    struct fcgi_split *sp = field;
    http_regex_free(sp->re);
    sp_free(sp->text);
    memset(sp, 0, sizeof(*sp));
}

static const struct conf_type split_type = {"fastcgi_split_path_info",
                                            sizeof(struct fcgi_split),
                                            split_parse,
                                            split_print,
                                            split_release,
                                            NULL};

/* ---------------------------------------------------------------- fastcgi_index NAME */

static int index_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                       unsigned n)
{
    if (strchr(a[0], '/')) {
        return conf_error(p, "fastcgi_index \"%s\" must be a file name, without '/'", a[0]);
    }
    return conf_str.parse(p, r, field, a, n);
}

static void str_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    if (*(char *const *)field && **(char *const *)field) {
        conf_str.print(o, r, field);
    }
}

static void str_release(void *field)
{
    conf_str.release(field);
}

static const struct conf_type index_type = {"fastcgi_index", sizeof(char *), index_parse,
                                            str_print,       str_release,    NULL};

/* ---------------------------------------------------------------- rows */

#define ALL (CONF_MAIN | CONF_SERVER | CONF_LOCATION)
#define OFF(f) offsetof(struct fcgi_conf, f)
#define MS_MAX (3600u * 1000u)

const struct conf_row fcgi_conf_rows[FCGI_CONF_NROWS] = {
    {"fastcgi_pass", CONF_LOCATION, CONF_STORE_LOC, 1, 1, CONF_CONTENT, &pass_type, OFF(pass), NULL,
     0, 0, "unix:/run/php/php8.2-fpm.sock", NULL},
    {"fastcgi_param", ALL, CONF_STORE_LOC, 2, 3, CONF_MULTI, &param_type, OFF(params), NULL, 0, 0,
     "HTTPS $https if_not_empty", NULL},
    {"fastcgi_index", ALL, CONF_STORE_LOC, 1, 1, 0, &index_type, OFF(index), NULL, 0, 0,
     "index.php", NULL},
    {"fastcgi_split_path_info", ALL, CONF_STORE_LOC, 1, 1, 0, &split_type, OFF(split), NULL, 0, 0,
     "^(.+\\.php)(/.+)$", NULL},
    {"fastcgi_connect_timeout", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_msec32, OFF(connect_timeout_ms),
     "60s", 1, MS_MAX, "5s", NULL},
    {"fastcgi_send_timeout", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_msec32, OFF(send_timeout_ms),
     "60s", 1, MS_MAX, "30s", NULL},
    {"fastcgi_read_timeout", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_msec32, OFF(read_timeout_ms),
     "60s", 1, MS_MAX, "300s", NULL},
    {"fastcgi_keep_conn", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_flag, OFF(keep_conn), "off", 0, 0,
     "on", NULL},
    {"fastcgi_buffer_size", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_size32, OFF(buffer_size), "4k",
     1024, 1u << 20, "16k", NULL},
};

/* ---------------------------------------------------------------- finishing */

/* The group of each fastcgi_pass: the upstream of that name, else one made for the address. */
static int resolve(struct conf *c, struct conf_block *b, char *err, size_t errlen)
{
    struct fcgi_conf *fc = conf_get(b, (unsigned)slot, CONF_STORE_LOC);
    struct fcgi_pass *ps = &fc->pass;
    if (ps->text && !ps->group) {
        ps->group = upstream_find(c, ps->text);
        if (!ps->group) {
            const char *t = ps->text;
            if (strncmp(t, "unix:", 5) != 0 && !strchr(t, ':')) {
                return conf_fail_at(err, errlen, ps->where,
                                    "fastcgi_pass \"%s\": no upstream of that name (and not "
                                    "unix:PATH or HOST:PORT)",
                                    t);
            }
            char why[256];
            struct upstream_group *g = upstream_group_address(t, 9000, why, sizeof(why));
            /* no idle connections (keepalive 0), as nginx: php-fpm serves one connection per
             * child, and a kept one holds its child; an upstream's keepalive says how many */
            if (!g || upstream_group_prepare(g) < 0) {
                if (g) {
                    upstream_group_free(g);
                    snprintf(why, sizeof(why), "out of memory");
                }
                return conf_fail_at(err, errlen, ps->where, "fastcgi_pass \"%s\": %s", t, why);
            }
            ps->group = g;
            ps->owns_group = true;
        }
    }
    for (struct conf_block *k = b->children; k; k = k->next) {
        if (resolve(c, k, err, errlen) < 0) {
            return -1;
        }
    }
    return 0;
}

int fcgi_conf_finish(struct conf *c, unsigned s, char *err, size_t errlen)
{
    slot = (int)s;
    return resolve(c, c->main, err, errlen);
}
