/* fastcgi_pool.c - FastCGI connections over upstream ones, and spare ones (see fastcgi_pool.h). */
#include "core/handlers/fastcgi_pool.h"

#include "core/base/alloc.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

static _Thread_local struct fcgi_conn *t_spare;
static _Thread_local unsigned t_nspare;

static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void conn_free(struct fcgi_conn *c)
{
    sp_free(c->wbuf);
    sp_free(c->rbuf);
    sp_free(c);
}

/* At the worker thread's exit: the spare structures (their sockets went back already). */
static void on_thread_exit(void *arg)
{
    (void)arg;
    while (t_spare) {
        struct fcgi_conn *c = t_spare;
        t_spare = c->next;
        conn_free(c);
    }
    t_nspare = 0;
}

static void make_key(void)
{
    (void)pthread_key_create(&exit_key, on_thread_exit);
}

static struct fcgi_conn *conn_new(void)
{
    if (t_spare) {
        struct fcgi_conn *c = t_spare;
        t_spare = c->next;
        t_nspare--;
        return c;
    }
    pthread_once(&exit_once, make_key);
    (void)pthread_setspecific(exit_key, (void *)1); /* the destructor runs only if set */
    struct fcgi_conn *c = sp_calloc(1, sizeof(*c));
    if (!c) {
        return NULL;
    }
    c->wbuf = sp_malloc(FCGI_WBUF);
    c->rbuf = sp_malloc(FCGI_RBUF);
    if (!c->wbuf || !c->rbuf) {
        conn_free(c);
        return NULL;
    }
    c->wcap = FCGI_WBUF;
    return c;
}

struct fcgi_conn *fcgi_conn_get(struct http_env *env, const struct upstream_group *g, unsigned peer,
                                bool with_body, int *err)
{
    struct fcgi_conn *c = conn_new();
    if (!c) {
        *err = -ENOMEM;
        return NULL;
    }
    int rc = upstream_take(env, g, peer, with_body, &c->uc);
    if (rc < 0) {
        *err = rc;
        c->next = t_spare;
        t_spare = c;
        t_nspare++;
        return NULL;
    }
    c->env = env;
    c->loop = env->loop;
    c->g = g;
    c->fate = FCGI_BUSY;
    c->out = 0;
    c->fr = NULL;
    c->w_out = c->r_out = false;
    c->connected = c->uc.reused;
    c->wlen = c->woff = c->rlen = c->rpos = 0;
    c->received = 0;
    return c;
}

void fcgi_conn_settle(struct fcgi_conn *c)
{
    if (c->fate == FCGI_BUSY || c->fate == FCGI_SPARE || c->out) {
        return;
    }
    upstream_give(c->env, c->g, &c->uc, c->fate == FCGI_KEEP);
    c->fate = FCGI_SPARE;
    if (c->wcap > FCGI_WBUF || t_nspare >= FCGI_SPARE_MAX) {
        conn_free(c); /* grown for a large head, or enough spares */
        return;
    }
    c->fr = NULL;
    c->next = t_spare;
    t_spare = c;
    t_nspare++;
}

void fcgi_conn_done(struct fcgi_conn *c, enum fcgi_fate fate)
{
    c->fr = NULL;
    c->fate = (uint8_t)fate;
    fcgi_conn_settle(c);
}
