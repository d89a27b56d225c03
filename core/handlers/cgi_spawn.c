/* cgi_spawn.c - the workers' end of the spawner's socket (see cgi_spawn.h). */
#include "core/handlers/cgi_spawn.h"

#include "core/base/arena.h"
#include "core/base/numfmt.h"
#include "core/handlers/cgi_conf.h"
#include "core/handlers/cgi_env.h"
#include "core/http/hostname.h"
#include "core/http/vars.h"

#include <errno.h>
#include <string.h>

/* Set once on the main thread before the workers start; read-only afterwards. */
static int spawner_fd = -1;

void cgi_spawner_set(int fd)
{
    spawner_fd = fd;
}

int cgi_spawner_fd(void)
{
    return spawner_fd;
}

/* ---------------------------------------------------------------- a spawn request */

static struct slice var(struct req *r, const char *name)
{
    struct slice v = SLICE_NULL;
    if (!http_var_get(r, slice_cstr(name), &v) || !v.ptr) {
        return SLICE_NULL;
    }
    return v;
}

static struct slice dec(struct req *r, uint64_t v)
{
    char *p = arena_alloc(r->arena, 24);
    return p ? slice_make(p, num_u64_to_dec(p, v)) : SLICE_NULL;
}

long cgi_spawn_build(struct req *r, const struct cgi_spawn_what *w, char *buf)
{
    const struct cgi_conf *c = w->conf;
    const struct http_request *m = r->msg;
    struct cgi_env_var extra[CGI_PARAMS_MAX];
    unsigned nextra = 0;
    for (unsigned i = 0; i < c->params.n && nextra < CGI_PARAMS_MAX; i++) {
        struct slice v;
        if (http_script_eval(r, c->params.v[i].value, HTTP_SCRIPT_RAW, &v) < 0) {
            return -ENOMEM;
        }
        extra[nextra++] = (struct cgi_env_var){slice_cstr(c->params.v[i].name), v};
    }
    struct cgi_env_in in = {
        .path_info = w->path_info.len ? w->path_info : SLICE_NULL,
        .path_translated = w->path_info.len ? w->path_translated : SLICE_NULL,
        .query = r->args.ptr ? r->args : SLICE_LIT(""),
        .remote_addr = var(r, "remote_addr"),
        .remote_port = var(r, "remote_port"),
        .method = http_method_name(r->method),
        .scheme = r->secure ? SLICE_LIT("https") : SLICE_LIT("http"),
        .https = r->secure ? SLICE_LIT("on") : SLICE_NULL,
        .request_uri = var(r, "request_uri"),
        .script_name = w->script_name,
        .script_filename = slice_cstr(w->script),
        .document_root = w->document_root,
        .server_port = var(r, "server_port"),
        .server_protocol = var(r, "server_protocol"),
        .server_software = SLICE_LIT("spate/" SPATE_VERSION),
        .headers = m ? &m->headers : NULL,
        .extra = extra,
        .nextra = nextra,
    };
    struct slice host;
    if (http_remote_host_known(r, &host)) {
        in.remote_host = host;
    }
    if (r->remote_user.len) {
        in.remote_user = r->remote_user;
        in.auth_type = SLICE_LIT("Basic");
    }
    struct slice sn = var(r, "server_name");
    if (!sn.len || sn.ptr[0] == '_' || sn.ptr[0] == '~' || sn.ptr[0] == '*' || sn.ptr[0] == '.') {
        sn = var(r, "host"); /* no usable server_name: the name the client asked for */
    }
    in.server_name = sn;
    if (r->body_kind == HTTP_BODY_LENGTH) {
        in.content_length = dec(r, r->body_length);
    }
    const struct http_header *ct = m ? hdr_get(&m->headers, SLICE_LIT("content-type")) : NULL;
    if (ct) {
        in.content_type = ct->value;
    }
    size_t pl = strlen(w->script) + 1, dl = strlen(w->dir) + 1;
    size_t off = sizeof(struct cgi_spawn_msg) + pl + dl;
    if (off >= CGI_SPAWN_MSG_MAX) {
        return -E2BIG;
    }
    unsigned count = 0;
    long n = cgi_env_build(&in, buf + off, CGI_SPAWN_MSG_MAX - off, &count);
    if (n < 0) {
        return n;
    }
    struct cgi_spawn_msg msg = {
        .magic = CGI_SPAWN_MAGIC,
        .path_len = (uint32_t)pl,
        .dir_len = (uint32_t)dl,
        .env_len = (uint32_t)n,
        .nenv = count,
        .rlimit_cpu = (c->rlimit_cpu_ms + 999) / 1000,
        .rlimit_as = c->rlimit_as,
        .rlimit_nofile = c->rlimit_nofile,
    };
    memcpy(buf, &msg, sizeof(msg));
    memcpy(buf + sizeof(msg), w->script, pl);
    memcpy(buf + sizeof(msg) + pl, w->dir, dl);
    return (long)(off + (size_t)n);
}
