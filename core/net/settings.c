/* settings.c - the net module's rows (see settings.h). */
#include "core/net/settings.h"

#include "core/conf/print.h"
#include "core/conf/types.h"
#include "core/conf/values.h"
#include "core/net/listener.h"

#include <stddef.h>
#include <string.h>

int net_congestion_parse(struct conf_parse *p, const char *name, char dst[16])
{
    size_t n = strlen(name);
    if (n == 0 || n >= 16) {
        return conf_error(p, "invalid TCP congestion control name \"%s\"", name);
    }
    char msg[512];
    if (net_congestion_check(name, msg, sizeof(msg)) < 0) {
        return conf_error(p, "%s", msg);
    }
    memcpy(dst, name, n + 1);
    return 0;
}

static int congestion_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                            unsigned n)
{
    (void)r;
    (void)n;
    return net_congestion_parse(p, a[0], field);
}

static void congestion_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const char *name = field;
    if (name[0]) {
        conf_out_begin(o, r->name);
        conf_out_arg(o, name);
        conf_out_end(o);
    }
}

/* TCP_CONGESTION's name: char[16] (TCP_CA_NAME_MAX), "" for the system's default */
static const struct conf_type congestion_type = {"congestion", 16, congestion_parse,
                                                 congestion_print, NULL};

#define OFF(f) offsetof(struct net_settings, f)

static const struct conf_row rows[] = {
    {"sendfile_max_chunk", CONF_MAIN, CONF_STORE_MAIN, 1, 1, 0, &conf_size32, OFF(sendfile_chunk),
     "2m", 4096, 1u << 30, "1m", NULL},
    {"sendfile", CONF_MAIN, CONF_STORE_MAIN, 1, 1, 0, &conf_flag, OFF(sendfile), "on", 0, 0, "off",
     NULL},
    {"cold_file_reads", CONF_MAIN, CONF_STORE_MAIN, 1, 1, 0, &conf_flag, OFF(cold_reads), "on", 0,
     0, "off", NULL},
    {"tcp_congestion", CONF_MAIN, CONF_STORE_MAIN, 1, 1, 0, &congestion_type, OFF(congestion),
     NULL, 0, 0, "reno", NULL},
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
