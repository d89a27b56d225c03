/* cgi.c - the CGI handler (see cgi.h): the path walk, the spawn request, handle(). */
#include "core/handlers/cgi.h"

#include "core/base/alloc.h"
#include "core/handlers/cgi_conf.h"
#include "core/handlers/cgi_run.h"
#include "core/handlers/cgi_spawn.h"
#include "core/handlers/static.h"
#include "core/http/files.h"
#include "core/http/respond.h"
#include "core/http/route.h"
#include "core/io/loop.h"
#include "core/io/offload.h"
#include "fs/docroot.h"
#include "log/errlog.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Makes a pipe: the worker's end non-blocking, the script's end as it is. */
static int pipe_pair(int *mine, int *theirs, bool mine_reads)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        return -errno;
    }
    *mine = mine_reads ? p[0] : p[1];
    *theirs = mine_reads ? p[1] : p[0];
    fcntl(*mine, F_SETFL, O_NONBLOCK);
    return 0;
}

static void spawn(struct cgi_run *u)
{
    struct req *r = u->r;
    /* the names: /root + "/a/b.cgi", PATH_INFO the rest of the file path */
    size_t rp = strlen(u->root_path);
    while (rp > 1 && u->root_path[rp - 1] == '/') {
        rp--;
    }
    u->script = sp_malloc(rp + u->script_len + 1);
    char *dir = arena_alloc(r->arena, rp + u->script_len + 2);
    u->msg = sp_malloc(CGI_SPAWN_MSG_MAX);
    if (!u->script || !dir || !u->msg) {
        cgi_run_fail(u, 500, "out of memory");
        return;
    }
    memcpy(u->script, u->root_path, rp);
    memcpy(u->script + rp, u->rel, u->script_len);
    u->script[rp + u->script_len] = '\0';
    memcpy(dir, u->script, rp + u->script_len + 1);
    char *slash = strrchr(dir, '/');
    slash[slash == dir ? 1 : 0] = '\0';
    struct slice info = slice_make(u->rel + u->script_len, u->rel_len - u->script_len);
    struct slice uri = r->path;
    struct slice name = uri;
    if (uri.len >= info.len && !memcmp(uri.ptr + uri.len - info.len, info.ptr, info.len)) {
        name.len = uri.len - info.len;
    }
    struct cgi_spawn_what w = {u->script, dir, name, info, SLICE_NULL, slice_make(u->root_path, rp),
                               u->conf};
    const struct http_root *tr;
    struct slice tp;
    if (info.len && r->server && http_file_map(r, &r->server->self, info, &tr, &tp) == 0) {
        size_t trl = strlen(tr->path);
        while (trl > 1 && tr->path[trl - 1] == '/') {
            trl--;
        }
        char *t = arena_alloc(r->arena, trl + tp.len + 1);
        if (t) {
            memcpy(t, tr->path, trl);
            memcpy(t + trl, tp.ptr, tp.len);
            w.path_translated = slice_make(t, trl + tp.len);
        }
    }
    long n = cgi_spawn_build(r, &w, u->msg);
    if (n < 0) {
        cgi_run_fail(u, 500, "%s", n == -E2BIG ? "its environment is too large" : "out of memory");
        return;
    }
    int sock = cgi_spawner_fd();
    if (sock < 0) {
        cgi_run_fail(u, 502,
                     "no spawner process: spate started without a CGI location (a reload "
                     "cannot add the first one; restart)");
        return;
    }
    int rc = pipe_pair(&u->in.fd, &u->child_fds[0], false);
    rc = rc ? rc : pipe_pair(&u->out.fd, &u->child_fds[1], true);
    rc = rc ? rc : pipe_pair(&u->err.fd, &u->child_fds[2], true);
    rc = rc ? rc : pipe_pair(&u->st.fd, &u->child_fds[3], true);
    if (rc < 0) {
        cgi_run_fail(u, 503, "cannot make its pipes: %s", strerror(-rc));
        return;
    }
    u->iov = (struct iovec){u->msg, (size_t)n};
    memset(&u->mh, 0, sizeof(u->mh));
    u->mh.msg_iov = &u->iov;
    u->mh.msg_iovlen = 1;
    u->mh.msg_control = u->cmsg.buf;
    u->mh.msg_controllen = sizeof(u->cmsg.buf);
    struct cmsghdr *cm = CMSG_FIRSTHDR(&u->mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * CGI_SPAWN_FDS);
    memcpy(CMSG_DATA(cm), u->child_fds, sizeof(int) * CGI_SPAWN_FDS);
    u->sending = true;
    io_sendmsg(u->loop, &u->send_op, sock, &u->mh, MSG_NOSIGNAL);
}

/* ---------------------------------------------------------------- the path walk */

/* Helper thread: the first regular file along the path is the script. */
static int walk_run(struct offload_job *j)
{
    struct cgi_run *u = container_of(j, struct cgi_run, job);
    char path[4096];
    if (u->rel_len >= sizeof(path)) {
        u->walk_err = 414;
        return 0;
    }
    size_t end = u->ext_end ? u->ext_end : 1;
    for (;;) {
        if (!u->ext_end) {
            while (end < u->rel_len && u->rel[end] != '/') {
                end++;
            }
        }
        memcpy(path, u->rel + 1, end - 1);
        path[end - 1] = '\0';
        int fd = fs_open_beneath(&u->root, end > 1 ? path : "", O_PATH);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0) {
            u->walk_err = fs_status_for_errno(fd < 0 ? -fd : errno);
            if (fd >= 0) {
                close(fd);
            }
            return 0;
        }
        close(fd);
        if (S_ISREG(st.st_mode)) {
            u->script_len = end;
            u->walk_err = (st.st_mode & 0111) ? 0 : 403; /* Apache: not executable, 403 */
            return 0;
        }
        if (!S_ISDIR(st.st_mode) || u->ext_end || end + 1 >= u->rel_len) {
            u->walk_err = S_ISDIR(st.st_mode) ? 403 : 404; /* a directory is no script */
            return 0;
        }
        end++;
    }
}

static void walk_done(struct offload_job *j, int res)
{
    struct cgi_run *u = container_of(j, struct cgi_run, job);
    cgi_run_enter(u);
    if (!u->r || u->answered) {
        cgi_run_shut(u);
    } else if (res < 0) {
        cgi_run_fail(u, 503, "the helper threads cannot look the path up: %s", strerror(-res));
    } else if (u->walk_err) {
        u->answered = true;
        if (resp_error(u->r, u->walk_err) < 0) {
            /* the connection is closed: nothing more to do here */
        }
        cgi_run_shut(u);
    } else {
        spawn(u);
    }
    cgi_run_leave(u);
}

/* ---------------------------------------------------------------- handle */

/* cgi_extension: where the first component ending in one of them ends, or 0. */
static size_t ext_end(const struct cgi_conf *c, struct slice p)
{
    size_t start = 1;
    for (size_t i = 1; i <= p.len; i++) {
        if (i < p.len && p.ptr[i] != '/') {
            continue;
        }
        for (unsigned k = 0; k < c->ext.n; k++) {
            size_t el = strlen(c->ext.v[k]);
            if (i - start > el && !memcmp(p.ptr + i - el, c->ext.v[k], el)) {
                return i;
            }
        }
        start = i + 1;
    }
    return 0;
}

static int handle(struct req *r, const void *conf)
{
    const struct cgi_conf *c = conf;
    const struct http_root *root;
    struct slice fpath;
    int st = http_file_map(r, r->loc, r->path, &root, &fpath);
    if (st) {
        return st < 0 ? 500 : st;
    }
    size_t ee = c->ext.n ? ext_end(c, fpath) : 0;
    if ((c->ext.n && !ee) || (!c->ext.n && !c->on)) {
        /* not a script here: the file as the static handler serves it */
        const struct handler_ops *sh = static_module.content;
        const void *sc = cgi_conf_static(r->loc->block);
        if (r->method != HTTP_GET && r->method != HTTP_HEAD) {
            return 405;
        }
        return sc ? sh->handle(r, sc) : 404;
    }
    if (cgi_run_count() >= c->limit) {
        errlog(ERRLOG_ERROR, "cgi: %u scripts running in this worker (cgi_limit): 503 for \"%.*s\"",
               cgi_run_count(), (int)r->path.len, r->path.ptr);
        return 503;
    }
    struct cgi_run *u = sp_calloc(1, sizeof(*u));
    char *rel = sp_strndup(fpath.ptr, fpath.len);
    char *obuf = sp_malloc(OUT_BUF);
    struct cgi_head *head = sp_malloc(sizeof(*head));
    bool body = r->body_kind != HTTP_BODY_NONE;
    char *ibuf = body ? sp_malloc(IN_BUF) : NULL;
    if (!u || !rel || !obuf || !head || (body && !ibuf) || fpath.len == 0 || fpath.ptr[0] != '/') {
        sp_free(u);
        sp_free(rel);
        sp_free(obuf);
        sp_free(head);
        sp_free(ibuf);
        return u && rel && obuf && head ? 404 : 500;
    }
    u->r = r;
    u->loop = r->env->loop;
    u->conf = c;
    u->timeout_ms = c->timeout_ms;
    u->max_output = c->max_output;
    u->root = root->root;
    u->root_path = root->path;
    u->rel = rel;
    u->rel_len = fpath.len;
    u->ext_end = ee;
    u->obuf = obuf;
    u->head = head;
    u->ibuf = ibuf;
    cgi_run_init(u);
    offload_job_init(&u->job, walk_run, walk_done);
    if (resp_defer(r, &cgi_stream_ops, u) < 0) {
        u->r = NULL;
        cgi_run_destroy(u);
        return -ENOMEM;
    }
    u->end.fn = cgi_run_on_end;
    req_on_end(r, &u->end);
    cgi_run_enter(u);
    int br = req_body_read(r, &cgi_body_ops, u);
    if (br < 0) {
        cgi_run_fail(u, 500, "out of memory");
    } else if (br == 1) {
        u->body_end = true;
    }
    if (!u->shut) {
        int rc = offload_submit(u->loop, &u->job);
        if (rc == -ENOSYS) {
            walk_run(&u->job); /* no helper threads here: the walk on this thread */
            walk_done(&u->job, 0);
        } else if (rc < 0) {
            cgi_run_fail(u, 503, "the helper threads are busy: %s", strerror(-rc));
        }
    }
    cgi_run_leave(u);
    return 0;
}

const struct handler_ops cgi_handler = {
    .name = "cgi",
    .methods = HANDLER_METHOD(HTTP_GET) | HANDLER_METHOD(HTTP_POST) | HANDLER_METHOD(HTTP_PUT) |
               HANDLER_METHOD(HTTP_DELETE) | HANDLER_METHOD(HTTP_PATCH),
    .handle = handle,
};

const struct conf_module cgi_module = {
    .name = "cgi",
    .rows = cgi_conf_rows,
    .nrows = CGI_CONF_NROWS,
    .size =
        {[CONF_STORE_MAIN] = sizeof(struct cgi_main), [CONF_STORE_LOC] = sizeof(struct cgi_conf)},
    .finish = cgi_conf_finish,
    .release = cgi_conf_release,
    .content = &cgi_handler,
};
