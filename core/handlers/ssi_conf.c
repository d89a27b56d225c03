/* ssi_conf.c - the SSI module's directives (see ssi.h, ssi_conf.h). */
#include "core/handlers/ssi_conf.h"

#include "core/handlers/ssi_cache.h"
#include "core/http/route.h"
#include "core/http/vars.h"
#include "core/io/offload.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int slot = -1;

const struct ssi_conf *ssi_conf_of(const struct req *r)
{
    if (slot < 0 || !r->loc || !r->loc->block) {
        return NULL;
    }
    return conf_get(r->loc->block, (unsigned)slot, CONF_STORE_LOC);
}

bool ssi_wants(const struct req *r, const struct fs_entry *e)
{
    const struct ssi_conf *c = ssi_conf_of(r);
    if (!c || !c->on || e->kind != FS_FILE) {
        return false;
    }
    const char *semi = memchr(e->mime.ptr, ';', e->mime.len);
    size_t n = semi ? (size_t)(semi - e->mime.ptr) : e->mime.len;
    while (n && e->mime.ptr[n - 1] == ' ') {
        n--;
    }
    if (n == 9 && !strncasecmp(e->mime.ptr, "text/html", 9)) {
        return true;
    }
    for (unsigned i = 0; i < c->types.n; i++) {
        const char *w = c->types.v[i];
        if (!strcmp(w, "*") || (strlen(w) == n && !strncasecmp(w, e->mime.ptr, n))) {
            return true;
        }
    }
    return false;
}

/* ---------------------------------------------------------------- configuration */

#define ALL (CONF_MAIN | CONF_SERVER | CONF_LOCATION)
#define OFF(f) offsetof(struct ssi_conf, f)

static const struct conf_row rows[] = {
    {"ssi", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_flag, OFF(on), "off", 0, 0, "on", NULL},
    {"ssi_types", ALL, CONF_STORE_LOC, 1, 32, 0, &conf_words, OFF(types), "text/html", 0, 0,
     "text/plain text/xml", NULL},
    {"ssi_silent_errors", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_flag, OFF(silent), "off", 0, 0, "on",
     NULL},
    {"ssi_value_length", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_size32, OFF(value_length), "256", 1,
     65536, "1k", NULL},
    {"ssi_last_modified", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_flag, OFF(last_modified), "off", 0, 0,
     "on", NULL},
    {"ssi_exec", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_flag, OFF(exec), "off", 0, 0, "on", NULL},
    {"ssi_max_depth", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_u32, OFF(max_depth), "10", 1, 64, "4",
     NULL},
};

/* The main struct. */
struct ssi_main {
    bool used; /* offload_use() was called */
};

static int ssi_finish(struct conf *c, unsigned s, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    slot = (int)s;
    struct ssi_main *m = conf_main(c, s);
    offload_use(); /* a large included file is read on the helpers (subreq.c); no thread yet */
    m->used = true;
    return 0;
}

static void ssi_release(struct conf *c, unsigned s)
{
    struct ssi_main *m = conf_main(c, s);
    if (m->used) {
        (void)offload_unuse();
        m->used = false;
    }
}

/* $ssi_parses: the templates this worker parsed (a test sees a cache hit parse nothing). */
static struct slice parses_var(struct req *r, struct slice arg)
{
    (void)arg;
    char *p = arena_alloc(r->arena, 24);
    if (!p) {
        return SLICE_NULL;
    }
    return slice_make(p, (size_t)snprintf(p, 24, "%llu", (unsigned long long)ssi_cache_parses()));
}

static const struct http_var_def var_defs[] = {{"ssi_parses", false, parses_var}};

static int ssi_start(void)
{
    tzset(); /* DATE_LOCAL: the zone is read now, not by a worker behind the sandbox */
    return http_vars_provide(var_defs, ARRAY_SIZE(var_defs)) < 0 ? -1 : 0;
}

const struct conf_module ssi_module = {
    .name = "ssi",
    .rows = rows,
    .nrows = ARRAY_SIZE(rows),
    .size =
        {[CONF_STORE_MAIN] = sizeof(struct ssi_main), [CONF_STORE_LOC] = sizeof(struct ssi_conf)},
    .finish = ssi_finish,
    .release = ssi_release,
    .start = ssi_start,
};
