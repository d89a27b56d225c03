/* cgi_run.c - one script's run: its pipes, its clock, its end (see cgi_run.h). */
#include "core/handlers/cgi_run.h"

#include "core/base/alloc.h"
#include "core/http/cgi_reply.h"
#include "core/http/respond.h"
#include "log/errlog.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static _Thread_local unsigned running;
static _Thread_local uint64_t err_second;
static _Thread_local unsigned err_in_second;

static void out_ended(struct cgi_run *u);
static void on_sent(struct io_op *op, int res, unsigned flags);
static void on_timer(struct io_op *op, int res, unsigned flags);
static void on_out(struct io_op *op, int res, unsigned flags);
static void on_err(struct io_op *op, int res, unsigned flags);
static void on_st(struct io_op *op, int res, unsigned flags);
static void on_in(struct io_op *op, int res, unsigned flags);
static void maybe_done(struct cgi_run *u);

unsigned cgi_run_count(void)
{
    return running;
}

void cgi_run_init(struct cgi_run *u)
{
    u->in.fd = u->out.fd = u->err.fd = u->st.fd = -1;
    for (unsigned i = 0; i < CGI_SPAWN_FDS; i++) {
        u->child_fds[i] = -1;
    }
    io_op_init(&u->in.op, on_in);
    io_op_init(&u->out.op, on_out);
    io_op_init(&u->err.op, on_err);
    io_op_init(&u->st.op, on_st);
    io_op_init(&u->send_op, on_sent);
    io_op_init(&u->timer.op, on_timer);
    running++;
}

/* ---------------------------------------------------------------- the run's life */

static bool idle(const struct cgi_run *u)
{
    return !u->r && !u->depth && !u->sending && !u->timing && !offload_in_flight(&u->job) &&
           u->in.fd < 0 && u->out.fd < 0 && u->err.fd < 0 && u->st.fd < 0;
}

void cgi_run_destroy(struct cgi_run *u)
{
    for (unsigned i = 0; i < CGI_SPAWN_FDS; i++) {
        if (u->child_fds[i] >= 0) {
            close(u->child_fds[i]);
        }
    }
    if (u->err_dropped) {
        errlog(ERRLOG_ERROR, "cgi: \"%s\": %u more lines on stderr were not logged", u->script,
               u->err_dropped);
    }
    sp_free(u->msg);
    sp_free(u->obuf);
    sp_free(u->ibuf);
    sp_free(u->head);
    sp_free(u->rel);
    sp_free(u->script);
    running--;
    sp_free(u);
}

void cgi_run_enter(struct cgi_run *u)
{
    u->depth++;
}

void cgi_run_leave(struct cgi_run *u)
{
    if (--u->depth == 0 && idle(u)) {
        cgi_run_destroy(u);
    }
}

static void chan_close(struct cgi_run *u, struct cgi_chan *c)
{
    if (c->fd < 0) {
        return;
    }
    if (c->busy) {
        if (!c->closing) {
            c->closing = true;
            io_cancel(u->loop, &c->op);
        }
        return;
    }
    io_close(u->loop, c->fd);
    c->fd = -1;
}

/* At the top of a completion: false when the channel was being closed (and now is). */
static bool chan_back(struct cgi_run *u, struct cgi_chan *c)
{
    c->busy = false;
    if (c->closing) {
        c->closing = false;
        io_close(u->loop, c->fd);
        c->fd = -1;
        return false;
    }
    return true;
}

/* Lets go of everything: with the status pipe closed early, the spawner kills the script. */
void cgi_run_shut(struct cgi_run *u)
{
    u->shut = true;
    chan_close(u, &u->in);
    chan_close(u, &u->out);
    chan_close(u, &u->err);
    chan_close(u, &u->st);
    if (u->timing) {
        io_cancel(u->loop, &u->timer.op);
    }
}

/*
 * The response so far is not the whole one: the client must not take it for complete
 * (resp_stream_abort: what is queued goes, then the connection closes with no end of the
 * body). u->r may be gone afterwards.
 */
static void cut(struct cgi_run *u)
{
    struct req *r = u->r;
    if (!u->streaming || !r) {
        return;
    }
    u->streaming = false;
    resp_stream_abort(r); /* no last chunk, short of a Content-Length: the client sees it cut */
}

static void answer_error(struct cgi_run *u, int status)
{
    if (u->answered || !u->r) {
        return;
    }
    u->answered = true;
    if (u->r->resp.sent) {
        cut(u);
    } else {
        if (resp_error(u->r, status) < 0) {
            /* the connection is closed: nothing more to do here */
        }
    }
}

/* The script failed: status to the client if nothing went out yet, the script killed. */
void cgi_run_fail(struct cgi_run *u, int status, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    errlog(ERRLOG_ERROR, "cgi: \"%s\": %s", u->script ? u->script : u->rel, msg);
    u->failed = true;
    answer_error(u, status);
    cgi_run_shut(u);
}

/* ---------------------------------------------------------------- the clock */

static void arm(struct cgi_run *u, uint64_t ms)
{
    u->timing = true;
    io_sleep(u->loop, &u->timer, ms);
}

static void on_timer(struct io_op *op, int res, unsigned flags)
{
    (void)flags;
    struct cgi_run *u = container_of(op, struct cgi_run, timer.op);
    cgi_run_enter(u);
    u->timing = false;
    if (res == -ETIME && !u->shut) {
        uint64_t now = u->loop->now_ms, quiet = now - u->last_ms;
        if (u->paused) {
            u->last_ms = now; /* waiting on the client, not on the script */
            arm(u, u->timeout_ms);
        } else if (quiet < u->timeout_ms) {
            arm(u, u->timeout_ms - quiet);
        } else {
            cgi_run_fail(u, 504, "no progress for %u ms (cgi_timeout): killed", u->timeout_ms);
        }
    }
    cgi_run_leave(u);
}

/* ---------------------------------------------------------------- stdout */

static void read_out(struct cgi_run *u)
{
    if (u->out.fd < 0 || u->out.busy || u->paused || u->olen == OUT_BUF) {
        return;
    }
    u->out.busy = true;
    io_read(u->loop, &u->out.op, u->out.fd, u->obuf + u->olen, (unsigned)(OUT_BUF - u->olen),
            IO_POS_CURRENT);
}

static void end_stream(struct cgi_run *u)
{
    u->streaming = false;
    u->answered = true;
    u->ended_ok = true;
    if (resp_stream_end(u->r) < 0) {
        /* the connection is closed: nothing more to do here */
    } /* the request may end in here (on_end) */
    maybe_done(u);
}

static void push_out(struct cgi_run *u)
{
    while (u->ooff < u->olen) {
        size_t w = resp_stream_write(u->r, u->obuf + u->ooff, u->olen - u->ooff);
        u->ooff += w;
        if (u->ooff < u->olen) {
            u->paused = true; /* writable() goes on */
            return;
        }
    }
    u->olen = u->ooff = 0;
    if (u->out_eof) {
        end_stream(u);
        return;
    }
    read_out(u);
}

static void got_head(struct cgi_run *u, size_t n)
{
    u->head_done = true;
    int rc = cgi_reply(u->r, u->head, &cgi_stream_ops, u);
    if (rc < 0) {
        u->answered = true; /* the writer closes the connection */
        cgi_run_shut(u);
        return;
    }
    if (rc == CGI_REPLY_DONE) {
        /* a redirect or an error page: the rest of the output is read and dropped */
        u->answered = true;
        u->discard = true;
        u->olen = 0;
        read_out(u);
        return;
    }
    u->streaming = true;
    u->ooff = n;
    push_out(u);
}

static void got_out(struct cgi_run *u)
{
    if (u->discard || u->answered || !u->r) {
        /* nobody takes it: a little is drained (the script may be finishing), then it goes */
        u->olen = 0;
        if (u->out_total > DISCARD_MAX) {
            cgi_run_shut(u);
            return;
        }
        read_out(u);
        return;
    }
    if (u->max_output && u->out_total > u->max_output) {
        cgi_run_fail(u, 502, "more output than cgi_max_output (%llu bytes): killed",
                     (unsigned long long)u->max_output);
        return;
    }
    if (u->head_done) {
        push_out(u);
        return;
    }
    int n = cgi_head_parse(u->obuf, u->olen, OUT_BUF, u->head);
    if (n == 0 && u->olen < OUT_BUF) {
        read_out(u);
    } else if (n <= 0) {
        cgi_run_fail(u, 502, "%s",
                     n == -EBADMSG ? "malformed header from script"
                                   : "header from script too long (or too many fields)");
    } else {
        got_head(u, (size_t)n);
    }
}

static void on_out(struct io_op *op, int res, unsigned flags)
{
    (void)flags;
    struct cgi_run *u = container_of(op, struct cgi_run, out.op);
    cgi_run_enter(u);
    if (chan_back(u, &u->out)) {
        if (res > 0) {
            u->last_ms = u->loop->now_ms;
            u->out_total += (unsigned)res;
            u->olen += (unsigned)res;
            got_out(u);
        } else {
            u->out_eof = true;
            chan_close(u, &u->out);
            out_ended(u);
        }
    }
    cgi_run_leave(u);
}

/* stdout ended (end of file or an error). */
static void out_ended(struct cgi_run *u)
{
    if (u->answered || !u->r) {
        maybe_done(u);
        return;
    }
    if (!u->head_done) {
        if (!u->exited && u->st.fd >= 0) {
            return; /* its exit status first, for the log (the status record calls back) */
        }
        if (u->exited && WIFSIGNALED(u->wstatus)) {
            cgi_run_fail(u, 502, "premature end of script headers: killed by signal %d",
                         WTERMSIG(u->wstatus));
        } else if (u->exited) {
            cgi_run_fail(u, 502, "premature end of script headers: exited with status %d",
                         WEXITSTATUS(u->wstatus));
        } else {
            cgi_run_fail(u, 502, "premature end of script headers");
        }
        return;
    }
    if (u->streaming && !u->paused) {
        end_stream(u);
    }
}

static void writable(struct req *r)
{
    struct cgi_run *u = r->resp.stream_arg;
    cgi_run_enter(u);
    if (u->streaming && u->paused) {
        u->paused = false;
        push_out(u);
    }
    cgi_run_leave(u);
}

static void aborted(struct req *r)
{
    struct cgi_run *u = r->resp.stream_arg;
    cgi_run_enter(u);
    u->answered = true;
    u->streaming = false;
    cgi_run_shut(u); /* the client went away: so does the script */
    cgi_run_leave(u);
}

const struct resp_stream_ops cgi_stream_ops = {writable, aborted};

/* Everything read and the script gone: let go. */
static void maybe_done(struct cgi_run *u)
{
    if (u->answered && u->out_eof && u->err_eof && (u->exited || u->st.fd < 0)) {
        cgi_run_shut(u);
    }
}

/* ---------------------------------------------------------------- stderr */

static void log_line(struct cgi_run *u, char *p, size_t n)
{
    while (n && (p[n - 1] == '\r' || p[n - 1] == '\n')) {
        n--;
    }
    uint64_t sec = u->loop->now_ms / 1000;
    if (sec != err_second) {
        err_second = sec;
        err_in_second = 0;
    }
    if (u->err_lines >= ERR_LINES_MAX || err_in_second >= ERR_LINES_PER_SEC) {
        u->err_dropped++;
        return;
    }
    u->err_lines++;
    err_in_second++;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)p[i] < 0x20 && p[i] != '\t') {
            p[i] = '?';
        }
    }
    errlog(ERRLOG_ERROR, "cgi: \"%s\": stderr: %.*s", u->script, (int)n, p);
}

static void log_lines(struct cgi_run *u, bool all)
{
    size_t start = 0;
    for (size_t i = 0; i < u->elen; i++) {
        if (u->ebuf[i] == '\n') {
            log_line(u, u->ebuf + start, i - start);
            start = i + 1;
        }
    }
    if ((all || (start == 0 && u->elen == ERR_BUF)) && start < u->elen) {
        log_line(u, u->ebuf + start, u->elen - start);
        start = u->elen;
    }
    memmove(u->ebuf, u->ebuf + start, u->elen - start);
    u->elen -= start;
}

static void read_err(struct cgi_run *u)
{
    u->err.busy = true;
    io_read(u->loop, &u->err.op, u->err.fd, u->ebuf + u->elen, (unsigned)(ERR_BUF - u->elen),
            IO_POS_CURRENT);
}

static void on_err(struct io_op *op, int res, unsigned flags)
{
    (void)flags;
    struct cgi_run *u = container_of(op, struct cgi_run, err.op);
    cgi_run_enter(u);
    if (chan_back(u, &u->err)) {
        if (res > 0) {
            u->elen += (unsigned)res;
            log_lines(u, false);
            read_err(u);
        } else {
            log_lines(u, true);
            u->err_eof = true;
            chan_close(u, &u->err);
            maybe_done(u);
        }
    }
    cgi_run_leave(u);
}

/* ---------------------------------------------------------------- the status pipe */

static void record(struct cgi_run *u, const struct cgi_rec *rec)
{
    switch (rec->kind) {
    case CGI_REC_STARTED:
        u->pid = rec->value;
        break;
    case CGI_REC_FAILED: {
        int e = rec->value;
        int st = e == EACCES || e == EPERM ? 403 : e == EAGAIN ? 503 : 502;
        cgi_run_fail(u, st, "cannot run it: %s%s", strerror(e),
                     e == ENOENT ? " (the interpreter its #! line names?)" : "");
        break;
    }
    case CGI_REC_EXITED:
        u->exited = true;
        u->wstatus = rec->value;
        if (WIFSIGNALED(u->wstatus) && !u->failed) {
            errlog(ERRLOG_ERROR, "cgi: \"%s\": killed by signal %d", u->script,
                   WTERMSIG(u->wstatus));
        } else if (WIFEXITED(u->wstatus) && WEXITSTATUS(u->wstatus) && u->head_done) {
            errlog(ERRLOG_WARN, "cgi: \"%s\": exited with status %d", u->script,
                   WEXITSTATUS(u->wstatus));
        }
        if (u->out_eof) {
            out_ended(u);
        }
        maybe_done(u);
        break;
    default:
        break;
    }
}

static void read_st(struct cgi_run *u)
{
    u->st.busy = true;
    io_read(u->loop, &u->st.op, u->st.fd, u->stbuf + u->stlen,
            (unsigned)(sizeof(u->stbuf) - u->stlen), IO_POS_CURRENT);
}

static void on_st(struct io_op *op, int res, unsigned flags)
{
    (void)flags;
    struct cgi_run *u = container_of(op, struct cgi_run, st.op);
    cgi_run_enter(u);
    if (chan_back(u, &u->st)) {
        if (res > 0) {
            u->stlen += (unsigned)res;
            while (u->stlen >= sizeof(struct cgi_rec) && !u->shut) {
                struct cgi_rec rec;
                memcpy(&rec, u->stbuf, sizeof(rec));
                u->stlen -= sizeof(rec);
                memmove(u->stbuf, u->stbuf + sizeof(rec), u->stlen);
                record(u, &rec);
            }
            if (u->st.fd >= 0 && !u->st.closing) {
                read_st(u);
            }
        } else {
            bool lost = !u->exited && !u->failed;
            chan_close(u, &u->st);
            if (lost) {
                cgi_run_fail(u, 502, "the spawner process is gone (no exit status)");
            } else if (u->out_eof) {
                out_ended(u);
            }
            maybe_done(u);
        }
    }
    cgi_run_leave(u);
}

/* ---------------------------------------------------------------- stdin */

static void write_in(struct cgi_run *u)
{
    u->in.busy = true;
    io_write(u->loop, &u->in.op, u->in.fd, u->ibuf + u->ioff, (unsigned)(u->ilen - u->ioff));
}

static void body_resume(struct cgi_run *u)
{
    if (u->body_waits && u->r && !u->body_end) {
        u->body_waits = false;
        req_body_more(u->r);
    }
}

static void on_in(struct io_op *op, int res, unsigned flags)
{
    (void)flags;
    struct cgi_run *u = container_of(op, struct cgi_run, in.op);
    cgi_run_enter(u);
    if (chan_back(u, &u->in)) {
        if (res < 0) {
            /* EPIPE: the script does not read its input; the rest of the body is dropped */
            u->in_done = true;
            chan_close(u, &u->in);
            body_resume(u);
        } else {
            u->ioff += (unsigned)res;
            u->last_ms = u->loop->now_ms;
            if (u->ioff < u->ilen) {
                write_in(u);
            } else {
                u->ilen = u->ioff = 0;
                if (u->body_end) {
                    chan_close(u, &u->in); /* end of file for the script */
                } else {
                    body_resume(u);
                }
            }
        }
    }
    cgi_run_leave(u);
}

static size_t body_data(struct req *r, const char *p, size_t n)
{
    struct cgi_run *u = r->body_arg;
    if (u->answered || u->in_done || u->shut || (u->spawned && u->in.fd < 0)) {
        return n; /* nobody takes it: read and dropped */
    }
    if (!u->spawned || u->in.busy) {
        u->body_waits = true;
        return 0;
    }
    size_t take = n < IN_BUF ? n : IN_BUF;
    memcpy(u->ibuf, p, take);
    u->ilen = take;
    u->ioff = 0;
    write_in(u);
    return take;
}

static void body_end(struct req *r, int err)
{
    struct cgi_run *u = r->body_arg;
    cgi_run_enter(u);
    u->body_end = true;
    if (err > 0) {
        cgi_run_fail(u, err, "the request body broke off (%d)", err);
    } else if (u->spawned && !u->in.busy) {
        chan_close(u, &u->in);
    }
    cgi_run_leave(u);
}

const struct req_body_ops cgi_body_ops = {body_data, body_end};

void cgi_run_on_end(struct req_end *e)
{
    struct cgi_run *u = container_of(e, struct cgi_run, end);
    cgi_run_enter(u);
    u->r = NULL;
    u->answered = true;
    if (!u->ended_ok && !u->discard) {
        cgi_run_shut(u);
    }
    cgi_run_leave(u);
}

/* ---------------------------------------------------------------- the spawn */

static void on_sent(struct io_op *op, int res, unsigned flags)
{
    (void)flags;
    struct cgi_run *u = container_of(op, struct cgi_run, send_op);
    cgi_run_enter(u);
    u->sending = false;
    for (unsigned i = 0; i < CGI_SPAWN_FDS; i++) {
        close(u->child_fds[i]); /* the spawner has its copies (or none: it failed) */
        u->child_fds[i] = -1;
    }
    size_t len = u->iov.iov_len;
    sp_free(u->msg);
    u->msg = NULL;
    if (u->shut) {
        /* the client went away meanwhile: the status pipe is closed, the script killed */
    } else if (res < 0 || (size_t)res != len) {
        cgi_run_fail(u, 502, "the spawner process cannot be reached: %s",
                     res < 0 ? strerror(-res) : "short send");
    } else {
        u->spawned = true;
        u->last_ms = u->loop->now_ms;
        read_out(u);
        read_err(u);
        read_st(u);
        arm(u, u->timeout_ms);
        if (u->body_end && !u->in.busy) {
            chan_close(u, &u->in);
        } else {
            body_resume(u);
        }
    }
    cgi_run_leave(u);
}
