/* settings.c - the net module's rows (see settings.h). */
#include "core/net/settings.h"

#include "core/conf/types.h"

#include <stddef.h>

#define OFF(f) offsetof(struct net_settings, f)

static const struct conf_row rows[] = {
    {"sendfile_max_chunk", CONF_MAIN, CONF_STORE_MAIN, 1, 1, 0, &conf_size32, OFF(sendfile_chunk),
     "2m", 4096, 1u << 30, "1m", NULL},
    {"sendfile", CONF_MAIN, CONF_STORE_MAIN, 1, 1, 0, &conf_flag, OFF(sendfile), "on", 0, 0, "off",
     NULL},
    {"cold_file_reads", CONF_MAIN, CONF_STORE_MAIN, 1, 1, 0, &conf_flag, OFF(cold_reads), "on", 0,
     0, "off", NULL},
};

const struct conf_module net_module = {
    .name = "net",
    .rows = rows,
    .nrows = ARRAY_SIZE(rows),
    .size = {[CONF_STORE_MAIN] = sizeof(struct net_settings)},
};

const struct net_settings *net_settings(const struct conf *c)
{
    int slot = conf_slot(c, &net_module);
    return slot < 0 ? NULL : conf_main(c, (unsigned)slot);
}
