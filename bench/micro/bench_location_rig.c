/* bench_location_rig.c - see bench_location_rig.h. */
#include "bench_location_rig.h"

#include "core/app/modules.h"
#include "core/base/hash.h"
#include "core/conf/conf.h"
#include "core/http/location.h"
#include "core/http/route.h"
#include "proto/hdr_table.h"

#include <stdio.h>
#include <stdlib.h>

struct loc_rig {
    struct conf conf;
    const struct route_table *t;
};

struct loc_rig *loc_rig_new(const char *conf_text)
{
    static int ready;
    if (!ready) {
        /* the name hashes are seeded before any configuration is built, as in main */
        if (hash_init() < 0) {
            return NULL;
        }
        hdr_known_init();
        ready = 1;
    }
    struct loc_rig *r = calloc(1, sizeof(*r));
    char err[CONF_ERR_MAX];
    if (!r) {
        return NULL;
    }
    if (conf_init(&r->conf, spate_modules, spate_nmodules) < 0 ||
        conf_load_string(&r->conf, "bench.conf", conf_text, err, sizeof(err)) < 0 ||
        conf_finish(&r->conf, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench_location: %s\n", err);
        conf_free(&r->conf);
        free(r);
        return NULL;
    }
    r->t = route_table(&r->conf);
    return r;
}

void loc_rig_free(struct loc_rig *r)
{
    if (r) {
        conf_free(&r->conf);
        free(r);
    }
}

const void *loc_rig_find(const struct loc_rig *r, const char *path, size_t n, const char **text)
{
    struct http_captures caps;
    bool captured;
    const struct route_loc *l = loc_find(&r->t->servers[0], slice_make(path, n), &caps, &captured);
    *text = l->prefix;
    return l;
}

unsigned loc_rig_server(const struct loc_rig *r, const char *host, size_t n)
{
    return route_server_for(&r->t->groups[0], slice_make(host, n))->index;
}
