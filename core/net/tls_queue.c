/*
 * tls_queue.c - taking the output queue's bytes for encryption (tls_queue.h): memory segments
 * gathered, file ranges read into the file buffer (pread when cached, io_uring otherwise).
 */
#include "core/net/tls_queue.h"

#include "core/net/plain.h"
#include "core/net/tls_conn.h"
#include "log/errlog.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

size_t tls_gather(struct outq *q, char *dst, size_t cap)
{
    size_t n = 0;
    for (uint32_t i = 0; i < q->count && n < cap; i++) {
        const struct outq_seg *s = outq_seg(q, i);
        if (s->kind == OUTQ_FILE) {
            break;
        }
        size_t k = (size_t)MIN(s->len, cap - n);
        tls_copy(dst + n, s->ptr, k);
        n += k;
    }
    return n;
}

void tls_read_failed(struct transport *t, long n)
{
    errlog(ERRLOG_WARN, "reading a file for conn %llu: %s", (unsigned long long)t->id,
           n == 0 ? "the file shrank while being sent" : strerror((int)-n));
    t->ev->error(t, n == 0 ? EIO : (int)-n);
}

/* The file buffer, at the alignment of file offset off (the kernel's copy from the page cache
 * is fast when the buffer has it: its source is a page). False: out of memory (raised). */
static bool file_buffer(struct transport *t, uint64_t off)
{
    struct tls_conn *tc = tls_of(t);
    if (!tc->file && !(tc->file = block_get(&tc->w->file_pool))) {
        t->ev->error(t, ENOMEM);
        return false;
    }
    tc->file_skew = (uint32_t)(off - (uintptr_t)tc->file) & (TLS_ALIGN - 1);
    return true;
}

bool tls_read_async(struct transport *t, const struct outq_seg *s, size_t want)
{
    struct tls_conn *tc = tls_of(t);
    if (!file_buffer(t, s->off)) {
        return false;
    }
    struct transport_env *env = t->env;
    atomic_fetch_add_explicit(&env->reads, 1, memory_order_relaxed);
    io_read(env->loop, &t->read_op, s->ref->fd, tc->file + tc->file_skew, (unsigned)want, s->off);
    tc->flags |= TLS_READ;
    t->pending++;
    tls_sync_sending(t);
    return true;
}

bool tls_read_file(struct transport *t, const struct outq_seg *s, bool *err)
{
    struct tls_conn *tc = tls_of(t);
    size_t want = (size_t)MIN(s->len, TLS_FILE_CHUNK);
    struct transport_env *env = t->env;
    bool cold = env->cold_reads && !transport_sock_cached(t, s, want);
    if (want == s->len) {
        /* the segment's last read: its entry may go, and another file's entry at the same
         * address must not inherit what the page-cache check learnt */
        t->warm_ref = NULL;
    }
    if (cold) {
        *err = !tls_read_async(t, s, want);
        return !*err;
    }
    *err = true;
    if (!file_buffer(t, s->off)) {
        return false;
    }
    ssize_t r;
    do {
        r = pread(s->ref->fd, tc->file + tc->file_skew, want, (off_t)s->off);
    } while (r < 0 && errno == EINTR);
    if (r <= 0) {
        tls_read_failed(t, r < 0 ? -errno : 0);
        return false;
    }
    *err = false;
    tc->file_pos = tc->file_skew;
    tc->file_len = tc->file_skew + (uint32_t)r;
    return false;
}
