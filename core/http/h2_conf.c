/* h2_conf.c - the http2 module's rows (see h2_conf.h). */
#include "core/http/h2_conf.h"

#include "core/conf/types.h"

#include <stddef.h>

#define OFF(f) offsetof(struct h2_settings, f)
#define MAIN CONF_MAIN, CONF_STORE_MAIN, 1, 1, 0

static const struct conf_row rows[] = {
    {"http2_max_concurrent_streams", MAIN, &conf_u32, OFF(max_streams), "128", 1, 65536, "256",
     NULL},
    {"http2_recv_buffer_size", MAIN, &conf_size32, OFF(recv_buffer), "256k", 4096, 64u << 20,
     "512k", NULL},
    {"http2_chunk_size", MAIN, &conf_size32, OFF(chunk), "8k", 1024, 16777215, "16k", NULL},
    {"http2_body_preread_size", MAIN, &conf_size32, OFF(preread), "64k", 1024, 2147483647u, "128k",
     NULL},
    {"http2_max_requests", MAIN, &conf_u32, OFF(max_requests), "1000000", 1, UINT32_MAX, "1000",
     NULL},
    {"http2_max_resets", MAIN, &conf_u32, OFF(max_resets), "200", 1, 1u << 20, "100", NULL},
};

const struct conf_module h2_module = {
    .name = "http2",
    .rows = rows,
    .nrows = ARRAY_SIZE(rows),
    .size = {[CONF_STORE_MAIN] = sizeof(struct h2_settings)},
};

const struct h2_settings *h2_settings_of(const struct conf *c)
{
    int slot = conf_slot(c, &h2_module);
    return slot < 0 ? NULL : conf_main(c, (unsigned)slot);
}
