/* cgi_conf.c - the CGI handler's directives (see cgi_conf.h). */
#include "core/handlers/cgi_conf.h"

#include "core/base/alloc.h"
#include "core/conf/print.h"
#include "core/handlers/static.h"
#include "core/http/files.h"
#include "core/http/vars.h"
#include "core/io/offload.h"

#include <string.h>

static int static_slot = -1;

/* ---------------------------------------------------------------- cgi_extension .EXT ... */

static int ext_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                     unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (a[i][0] != '.' || !a[i][1] || strchr(a[i], '/')) {
            return conf_error(p, "cgi_extension \"%s\": an ending such as .cgi (a dot, no '/')",
                              a[i]);
        }
    }
    return conf_words_parse(p, r, field, a, n);
}

static const struct conf_type ext_type = {"cgi_extension", sizeof(struct conf_words), ext_parse,
                                          conf_words_print, conf_words_release};

/* ---------------------------------------------------------------- cgi_param NAME VALUE */

static void params_release(void *field)
{
    struct cgi_params *l = field;
    for (unsigned i = 0; i < l->n; i++) {
        sp_free(l->v[i].name);
        sp_free(l->v[i].text);
        http_script_free(l->v[i].value);
    }
    sp_free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int params_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                        unsigned n)
{
    (void)r, (void)n;
    struct cgi_params *l = field;
    const char *nm = a[0];
    bool ok = (nm[0] >= 'A' && nm[0] <= 'Z') || (nm[0] >= 'a' && nm[0] <= 'z') || nm[0] == '_';
    for (const char *q = nm; ok && *q; q++) {
        ok = (*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') ||
             *q == '_';
    }
    if (!ok) {
        return conf_error(p, "cgi_param \"%s\": a name of letters, digits and '_'", nm);
    }
    if (l->n == CGI_PARAMS_MAX) {
        return conf_error(p, "cgi_param: at most %d in one place", CGI_PARAMS_MAX);
    }
    for (unsigned i = 0; i < l->n; i++) {
        if (!strcmp(l->v[i].name, nm)) {
            return conf_error(p, "cgi_param \"%s\" is given twice here", nm);
        }
    }
    struct cgi_param *nv = sp_realloc(l->v, (l->n + 1) * sizeof(*nv));
    if (!nv) {
        return conf_error(p, "out of memory");
    }
    l->v = nv;
    struct cgi_param *x = &l->v[l->n];
    memset(x, 0, sizeof(*x));
    char msg[512];
    x->name = conf_strdup(p, nm);
    x->text = conf_strdup(p, a[1]);
    if (!x->name || !x->text) {
        sp_free(x->name);
        sp_free(x->text);
        return -1;
    }
    if (http_script_compile(&x->value, a[1], msg, sizeof(msg)) < 0) {
        sp_free(x->name);
        sp_free(x->text);
        return conf_error(p, "cgi_param %s: %s", nm, msg);
    }
    l->n++;
    return 0;
}

static void params_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const struct cgi_params *l = field;
    for (unsigned i = 0; i < l->n; i++) {
        conf_out_begin(o, r->name);
        conf_out_arg(o, l->v[i].name);
        conf_out_arg(o, l->v[i].text);
        conf_out_end(o);
    }
}

static const struct conf_type params_type = {"cgi_param", sizeof(struct cgi_params), params_parse,
                                             params_print, params_release};

/* ---------------------------------------------------------------- rows */

#define ALL (CONF_MAIN | CONF_SERVER | CONF_LOCATION)
#define OFF(f) offsetof(struct cgi_conf, f)

const struct conf_row cgi_conf_rows[] = {
    {"cgi", CONF_LOCATION, CONF_STORE_LOC, 1, 1, CONF_CONTENT, &conf_flag, OFF(on), NULL, 0, 0,
     "on", NULL},
    {"cgi_extension", CONF_LOCATION, CONF_STORE_LOC, 1, 16, CONF_CONTENT, &ext_type, OFF(ext), NULL,
     0, 0, ".cgi .py", NULL},
    {"cgi_timeout", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_msec32, OFF(timeout_ms), "60s", 1, 86400000,
     "30s", NULL},
    {"cgi_limit", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_u32, OFF(limit), "64", 1, 4096, "16", NULL},
    {"cgi_max_output", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_size64, OFF(max_output), "0", 0,
     UINT64_MAX, "100m", NULL},
    {"cgi_rlimit_cpu", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_msec32, OFF(rlimit_cpu_ms), "0", 0,
     86400000, "30s", NULL},
    {"cgi_rlimit_as", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_size64, OFF(rlimit_as), "0", 0,
     UINT64_MAX, "1g", NULL},
    {"cgi_rlimit_nofile", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_u32, OFF(rlimit_nofile), "0", 0,
     1u << 20, "256", NULL},
    {"cgi_param", ALL, CONF_STORE_LOC, 2, 2, CONF_MULTI, &params_type, OFF(params), NULL, 0, 0,
     "SITE_ID $host", NULL},
};

/* ---------------------------------------------------------------- finishing */

static int finish_block(const struct conf_block *b, const struct conf_module *m, char *err,
                        size_t errlen)
{
    if (b->content == m && b->kind == CONF_LOCATION) {
        bool named = b->nargs == 2 && !strcmp(b->args[0], "@");
        if (!named && !http_files_mapped(b)) {
            return conf_fail_at(err, errlen, b->content_at,
                                "a CGI location needs a \"root\" or an \"alias\" (where its "
                                "scripts are)");
        }
    }
    for (const struct conf_block *k = b->children; k; k = k->next) {
        if (finish_block(k, m, err, errlen) < 0) {
            return -1;
        }
    }
    return 0;
}

int cgi_conf_finish(struct conf *c, unsigned s, char *err, size_t errlen)
{
    static_slot = conf_slot(c, &static_module);
    if (finish_block(c->main, c->modules[s], err, errlen) < 0) {
        return -1;
    }
    struct cgi_main *m = conf_main(c, s);
    if (m && cgi_conf_used(c, c->modules[s])) {
        offload_use(); /* starts no thread: the first script's path walk does */
        m->offload_used = true;
    }
    return 0;
}

void cgi_conf_release(struct conf *c, unsigned s)
{
    struct cgi_main *m = conf_main(c, s);
    if (m && m->offload_used) {
        (void)offload_unuse();
        m->offload_used = false;
    }
}

static bool used_in(const struct conf_block *b, const struct conf_module *m, unsigned s)
{
    if (b->content == m) {
        const struct cgi_conf *cc = conf_get(b, s, CONF_STORE_LOC);
        if (cc->on || cc->ext.n) {
            return true;
        }
    }
    for (const struct conf_block *k = b->children; k; k = k->next) {
        if (used_in(k, m, s)) {
            return true;
        }
    }
    return false;
}

bool cgi_conf_used(const struct conf *c, const struct conf_module *m)
{
    int s = conf_slot(c, m);
    return s >= 0 && used_in(c->main, m, (unsigned)s);
}

const void *cgi_conf_static(const struct conf_block *b)
{
    return static_slot < 0 ? NULL : conf_get(b, (unsigned)static_slot, CONF_STORE_LOC);
}

_Static_assert(ARRAY_SIZE(cgi_conf_rows) == CGI_CONF_NROWS, "CGI_CONF_NROWS is the rows' count");
