/* latency.c - the location tables of latency.h, and a worker taking them up. */
#include "core/http/latency.h"

#include "core/base/alloc.h"
#include "core/http/route.h"

#include <stdbool.h>

struct loc_latency *loc_latency_new(void)
{
    return sp_calloc(1, sizeof(struct loc_latency));
}

void loc_latency_free(struct loc_latency *l)
{
    if (!l) {
        return;
    }
    for (unsigned i = 0; i < LATENCY_MAX_WORKERS; i++) {
        sp_free((void *)atomic_load_explicit(&l->slot[i], memory_order_relaxed));
    }
    sp_free(l);
}

/* Fills worker's slot of l (once: a slot outlives reloads of the same table). */
static bool attach_one(struct loc_latency *l, unsigned worker)
{
    if (!l) {
        return false;
    }
    if (worker == 0 || worker > LATENCY_MAX_WORKERS ||
        atomic_load_explicit(&l->slot[worker - 1], memory_order_relaxed)) {
        return true;
    }
    /* out of memory: this worker's requests go uncounted here (the worker's own go on) */
    struct hist *h = sp_calloc(1, sizeof(*h));
    atomic_store_explicit(&l->slot[worker - 1], (uintptr_t)h, memory_order_release);
    return true;
}

bool latency_attach(const struct route_table *t, unsigned worker)
{
    bool any = false;
    for (unsigned s = 0; t && s < t->nservers; s++) {
        const struct route_server *srv = &t->servers[s];
        any |= attach_one(srv->self.lat, worker);
        for (unsigned i = 0; i < srv->nlocs; i++) {
            any |= attach_one(srv->locs[i].lat, worker);
        }
    }
    return any;
}
