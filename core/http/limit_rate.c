/* limit_rate.c - see limit_rate.h. */
#include "core/http/limit_rate.h"

#include "core/conf/types.h"
#include "core/http/route.h"

#include <stddef.h>

struct rate_loc {
    uint64_t rate, after;
};

static int slot = -1;

#define ALL (CONF_MAIN | CONF_SERVER | CONF_LOCATION)

static const struct conf_row rows[] = {
    {"limit_rate", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_size64, offsetof(struct rate_loc, rate), "0",
     0, (uint64_t)1 << 40, "100k", NULL},
    {"limit_rate_after", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_size64,
     offsetof(struct rate_loc, after), "0", 0, (uint64_t)1 << 50, "1m", NULL},
};

static int rate_finish(struct conf *c, unsigned s, char *err, size_t errlen)
{
    (void)c, (void)err, (void)errlen;
    slot = (int)s; /* the same on every load: workers of an older generation read it too */
    return 0;
}

bool http_limit_rate(const struct route_loc *l, uint64_t *rate, uint64_t *after)
{
    if (slot < 0 || !l || !l->block) {
        return false;
    }
    const struct rate_loc *rl = conf_get(l->block, (unsigned)slot, CONF_STORE_LOC);
    if (!rl || !rl->rate) {
        return false;
    }
    *rate = rl->rate;
    *after = rl->after;
    return true;
}

const struct conf_module limit_rate_module = {
    .name = "limit_rate",
    .rows = rows,
    .nrows = ARRAY_SIZE(rows),
    .size = {[CONF_STORE_LOC] = sizeof(struct rate_loc)},
    .finish = rate_finish,
};
