/*
 * health.c - `health;`: what a load balancer's health check asks.
 *
 * 200 "ok" while spate serves; 503 "draining" (with Connection: close and Retry-After)
 * once a drain began (spate -s drain, SIGWINCH): the balancer takes the node out of its
 * rotation while the listeners still accept, for drain_delay, before they close. A worker
 * shutting down (SIGQUIT) answers 503 too. Never cached.
 */
#include "core/handlers/health.h"

#include "core/base/compiler.h"
#include "core/handlers/report.h"
#include "core/http/handler.h"
#include "core/http/registry.h"
#include "core/http/respond.h"

#include <errno.h>

struct health_conf {
    bool on;
};

static const struct conf_row rows[] = {
    {"health", CONF_LOCATION, CONF_STORE_LOC, 0, 1, CONF_CONTENT, &report_on_type, 0, NULL, 0, 0,
     "", NULL},
};

static int handle(struct req *r, const void *conf)
{
    (void)conf;
    bool down = registry_draining() || r->env->draining;
    static const char ok[] = "ok\n", drain[] = "draining\n";
    resp_begin(r, down ? 503 : 200);
    if (resp_field(r, SLICE_LIT("Content-Type"), SLICE_LIT("text/plain")) < 0 ||
        resp_field(r, SLICE_LIT("Cache-Control"), SLICE_LIT("no-store")) < 0 ||
        (down && resp_field(r, SLICE_LIT("Retry-After"), SLICE_LIT("30")) < 0) ||
        resp_body_mem(r, down ? drain : ok, down ? sizeof(drain) - 1 : sizeof(ok) - 1, NULL) < 0) {
        return 500;
    }
    if (down) {
        r->resp.close = true;
    }
    return resp_send(r) < 0 ? -ENOMEM : 0;
}

static const struct handler_ops health_handler = {
    .name = "health",
    .methods = HANDLER_METHOD(HTTP_GET),
    .handle = handle,
};

const struct conf_module health_module = {
    .name = "health",
    .rows = rows,
    .nrows = ARRAY_SIZE(rows),
    .size = {[CONF_STORE_LOC] = sizeof(struct health_conf)},
    .content = &health_handler,
};
