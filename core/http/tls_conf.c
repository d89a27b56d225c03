/* tls_conf.c - the TLS module: an SSL_CTX per server and per ssl address (see tls_conf.h). */
#include "core/http/tls_conf.h"

#include "core/base/alloc.h"
#include "core/conf/values.h"
#include "core/http/route.h"
#include "core/http/tls_ctx.h"
#include "core/http/tls_sni.h"
#include "core/http/tls_srv.h"
#include "core/http/tls_vars.h"

#include <string.h>

/* ---------------------------------------------------------------- finish: the contexts */

/* Main block: every context this configuration made (one reference each), and the files
 * they were made from (the sandbox lets a reload read their directories again). */
struct tls_main {
    SSL_CTX **ctxs;
    unsigned nctxs;
    const char **files; /* pointers into the configuration's values */
    unsigned nfiles;
};

static int remember(struct tls_main *m, const char *path)
{
    if (!path) {
        return 0;
    }
    const char **nv = sp_realloc(m->files, (m->nfiles + 1) * sizeof(*nv));
    if (!nv) {
        return -1;
    }
    m->files = nv;
    m->files[m->nfiles++] = path;
    return 0;
}

/* Every file a server's settings name. 0, or -1 (out of memory). */
static int remember_all(struct tls_main *m, const struct tls_srv *ts)
{
    int rc = 0;
    for (unsigned i = 0; i < ts->certs.n; i++) {
        rc |= remember(m, ts->certs.v[i].path);
    }
    for (unsigned i = 0; i < ts->keys.n; i++) {
        rc |= remember(m, ts->keys.v[i].path);
    }
    for (unsigned i = 0; i < ts->ticket_keys.n; i++) {
        rc |= remember(m, ts->ticket_keys.v[i].path);
    }
    rc |= remember(m, ts->dhparam);
    rc |= remember(m, ts->stapling ? ts->stapling_file : NULL);
    rc |= remember(m, ts->client_certificate);
    rc |= remember(m, ts->trusted_certificate);
    return rc;
}

void tls_conf_each_file(const struct conf *c, void (*each)(void *arg, const char *path), void *arg)
{
    int s = conf_slot(c, &tls_conf_module);
    const struct tls_main *m = s < 0 ? NULL : conf_main(c, (unsigned)s);
    for (unsigned i = 0; m && i < m->nfiles; i++) {
        each(arg, m->files[i]);
    }
}

static int keep(struct tls_main *m, SSL_CTX *ctx)
{
    SSL_CTX **nv = sp_realloc(m->ctxs, (m->nctxs + 1) * sizeof(*nv));
    if (!nv) {
        SSL_CTX_free(ctx);
        return -1;
    }
    m->ctxs = nv;
    m->ctxs[m->nctxs++] = ctx;
    return 0;
}

/* Where the server's first listen is (the "no ssl_certificate" error points there). */
static struct conf_where listen_where(const struct conf *c, const struct route_server *s)
{
    int slot = conf_slot(c, &route_module);
    int row = conf_row_index(&route_module, "listen");
    if (slot >= 0 && row >= 0) {
        struct conf_where w = conf_where_of(s->block, (unsigned)slot, (unsigned)row);
        if (w.line > 0) {
            return w;
        }
    }
    return s->block->where;
}

/* The server's own context (made once, whichever addresses it listens on), or NULL when it
 * has no certificate: SNI leaves such a server's clients with the default certificate. */
static int server_ctx(struct tls_main *m, SSL_CTX **made, const struct route_server *s,
                      const struct route_group *g, unsigned slot, char *err, size_t errlen)
{
    const struct tls_srv *ts = conf_get(s->block, slot, CONF_STORE_SRV);
    if (made[s->index] || ts->certs.n == 0) {
        return 0;
    }
    struct tls_ctx_params prm = {ts, s->block, slot, s->http2 || g->http2_listen};
    SSL_CTX *ctx = tls_ctx_new(&prm, err, errlen);
    if (!ctx || keep(m, ctx) < 0) {
        return ctx ? conf_fail_at(err, errlen, s->block->where, "out of memory") : -1;
    }
    made[s->index] = ctx;
    if (remember_all(m, ts) < 0) {
        return conf_fail_at(err, errlen, s->block->where, "out of memory");
    }
    return 0;
}

/* The address's context: the default server's settings, with SNI over the group's servers. */
static int group_ctx(const struct conf *c, struct tls_main *m, SSL_CTX **made,
                     struct route_group *g, unsigned slot, char *err, size_t errlen)
{
    const struct route_server *def = g->def;
    const struct tls_srv *ts = conf_get(def->block, slot, CONF_STORE_SRV);
    if (ts->certs.n == 0) {
        return conf_fail_at(err, errlen, listen_where(c, def),
                            "no \"ssl_certificate\" is defined for the \"listen ... ssl\" "
                            "directive (the default server of %s needs one)",
                            g->addr.text);
    }
    for (unsigned i = 0; i < g->nservers; i++) {
        if (server_ctx(m, made, g->servers[i], g, slot, err, errlen) < 0) {
            return -1;
        }
    }
    struct tls_ctx_params prm = {ts, def->block, slot, def->http2 || g->http2_listen};
    SSL_CTX *ctx = tls_ctx_new(&prm, err, errlen);
    if (!ctx || keep(m, ctx) < 0) {
        return ctx ? conf_fail_at(err, errlen, def->block->where, "out of memory") : -1;
    }
    if (remember_all(m, ts) < 0) {
        return conf_fail_at(err, errlen, def->block->where, "out of memory");
    }
    struct tls_sni *sni = tls_sni_new(g->nservers);
    if (!sni) {
        return conf_fail_at(err, errlen, listen_where(c, def), "out of memory");
    }
    for (unsigned i = 0; i < g->nservers; i++) {
        const struct route_server *s = g->servers[i];
        for (unsigned k = 0; k < s->nnames && made[s->index]; k++) {
            if (tls_sni_add(sni, s->names[k], made[s->index]) < 0) {
                tls_sni_free(sni);
                return conf_fail_at(err, errlen, listen_where(c, def), "out of memory");
            }
        }
    }
    tls_sni_attach(tls_info(ctx), sni, g->http2_listen);
    g->tls = ctx;
    return 0;
}

static void tls_release(struct conf *c, unsigned slot)
{
    struct tls_main *m = conf_main(c, slot);
    for (unsigned i = 0; i < m->nctxs; i++) {
        SSL_CTX_free(m->ctxs[i]); /* connections still using one keep it alive */
    }
    sp_free(m->ctxs);
    m->ctxs = NULL;
    m->nctxs = 0;
    sp_free(m->files);
    m->files = NULL;
    m->nfiles = 0;
}

static int tls_finish(struct conf *c, unsigned slot, char *err, size_t errlen)
{
    struct tls_main *m = conf_main(c, slot);
    struct route_table *t = (struct route_table *)route_table(c);
    tls_srv_slot_set(slot);
    if (!t) {
        return 0;
    }
    bool any = false;
    for (unsigned j = 0; j < t->ngroups; j++) {
        any |= t->groups[j].ssl;
    }
    if (!any) {
        return 0; /* no file is read for servers no TLS listener reaches */
    }
    if (tls_ctx_process_init(err, errlen) < 0) {
        return -1;
    }
    SSL_CTX **made = sp_calloc(t->nservers, sizeof(*made));
    if (!made) {
        return conf_fail_at(err, errlen, c->main->where, "out of memory");
    }
    int rc = 0;
    for (unsigned j = 0; j < t->ngroups && rc == 0; j++) {
        if (t->groups[j].ssl) {
            rc = group_ctx(c, m, made, &t->groups[j], slot, err, errlen);
        }
    }
    sp_free(made);
    return rc;
}

const struct conf_module tls_conf_module = {
    .name = "tls",
    .rows = tls_srv_rows,
    .nrows = TLS_ROWS,
    .size =
        {[CONF_STORE_MAIN] = sizeof(struct tls_main), [CONF_STORE_SRV] = sizeof(struct tls_srv)},
    .finish = tls_finish,
    .release = tls_release,
    .start = tls_vars_start,
};
