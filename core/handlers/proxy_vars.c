/* proxy_vars.c - the proxy's variables (see proxy_vars.h). */
#include "core/handlers/proxy_vars.h"

#include "core/handlers/proxy_state.h"
#include "core/http/vars.h"

#include <stdio.h>
#include <string.h>

static struct px *px_of(const struct req *r)
{
    for (struct px *px = proxy_live; px; px = px->next) {
        if (px->r == r) {
            return px;
        }
    }
    return NULL;
}

static struct slice copy(struct req *r, const char *s)
{
    size_t n = strlen(s);
    char *d = arena_alloc(r->arena, n + 1);
    if (!d) {
        return SLICE_NULL;
    }
    memcpy(d, s, n + 1);
    return slice_make(d, n);
}

static struct slice var_proxy_host(struct req *r, struct slice arg)
{
    (void)arg;
    struct px *px = px_of(r);
    return px ? slice_cstr(px->pc->pass.proxy_host) : SLICE_NULL;
}

static struct slice var_proxy_port(struct req *r, struct slice arg)
{
    (void)arg;
    struct px *px = px_of(r);
    return px ? slice_cstr(px->pc->pass.proxy_port) : SLICE_NULL;
}

static struct slice var_xff(struct req *r, struct slice arg)
{
    (void)arg;
    struct slice addr = SLICE_NULL, prev = SLICE_NULL;
    if (!http_var_get(r, SLICE_LIT("remote_addr"), &addr)) {
        return SLICE_NULL;
    }
    const struct http_header *f =
        r->msg ? hdr_get(&r->msg->headers, SLICE_LIT("x-forwarded-for")) : NULL;
    if (f) {
        prev = f->value;
    }
    if (!prev.len) {
        return addr;
    }
    char *d = arena_alloc(r->arena, prev.len + 2 + addr.len);
    if (!d) {
        return addr;
    }
    memcpy(d, prev.ptr, prev.len);
    memcpy(d + prev.len, ", ", 2);
    memcpy(d + prev.len + 2, addr.ptr, addr.len);
    return slice_make(d, prev.len + 2 + addr.len);
}

static struct slice var_upstream_addr(struct req *r, struct slice arg)
{
    (void)arg;
    struct px *px = px_of(r);
    if (!px) {
        return SLICE_NULL;
    }
    char buf[PROXY_TRIED_MAX * (sizeof(px->g->peers[0].name) + 2)];
    size_t n = 0;
    for (unsigned i = 0; i < px->ntried; i++) {
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? ", " : "",
                              px->g->peers[px->tried[i]].name);
    }
    buf[n] = '\0';
    return copy(r, buf);
}

static struct slice var_upstream_status(struct req *r, struct slice arg)
{
    (void)arg;
    struct px *px = px_of(r);
    char b[16];
    if (!px || !px->up_status) {
        return SLICE_NULL;
    }
    snprintf(b, sizeof(b), "%d", px->up_status);
    return copy(r, b);
}

static struct slice var_upstream_time(struct req *r, struct slice arg)
{
    (void)arg;
    struct px *px = px_of(r);
    char b[32];
    if (!px) {
        return SLICE_NULL;
    }
    uint64_t ms = px->loop->now_ms - px->t0_ms;
    snprintf(b, sizeof(b), "%llu.%03llu", (unsigned long long)(ms / 1000),
             (unsigned long long)(ms % 1000));
    return copy(r, b);
}

static const struct http_var_def vars[] = {
    {"proxy_host", false, var_proxy_host},
    {"proxy_port", false, var_proxy_port},
    {"proxy_add_x_forwarded_for", false, var_xff},
    {"upstream_addr", false, var_upstream_addr},
    {"upstream_status", false, var_upstream_status},
    {"upstream_response_time", false, var_upstream_time},
};

int proxy_vars_start(void)
{
    return http_vars_provide(vars, ARRAY_SIZE(vars)) < 0 ? -1 : 0;
}
