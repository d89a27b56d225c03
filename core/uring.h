/*
 * uring.h - io_uring setup helpers and the user_data encoding.
 *
 * The only header (with worker.c/conn.c) that includes <liburing.h>.
 * user_data packs the operation, a connection slot index and that slot's
 * generation, so a completion for a slot that was since reused is detected
 * and dropped (see conn.h for the lifetime rule that makes it rare).
 */
#pragma once

#include "core/base/compiler.h"

#include <liburing.h>
#include <linux/io_uring.h> /* before liburing.h: the 6.1 UAPI copy has newer names */
#include <stdint.h>

enum io_op {
    IO_ACCEPT = 1, /* idx = listener index */
    IO_RECV,       /* multishot recv into the buffer ring */
    IO_SEND,       /* send / sendmsg of queued memory */
    IO_POLL,       /* POLLOUT before the next sendfile chunk */
    IO_CANCEL,     /* result of a cancel request (ignored) */
    IO_WAKE,       /* read on the worker's eventfd */
    IO_FREAD,      /* read of an uncached file range into the connection's bounce buffer */
};

static inline uint64_t ud_pack(enum io_op op, uint32_t idx, uint32_t gen)
{
    return ((uint64_t)op << 56) | ((uint64_t)(gen & 0xffffff) << 32) | idx;
}

static inline enum io_op ud_op(uint64_t ud)
{
    return (enum io_op)(ud >> 56);
}

static inline uint32_t ud_idx(uint64_t ud)
{
    return (uint32_t)ud;
}

static inline uint32_t ud_gen(uint64_t ud)
{
    return (uint32_t)(ud >> 32) & 0xffffff;
}

/*
 * Creates a ring for the calling thread: SINGLE_ISSUER|DEFER_TASKRUN when the
 * kernel has them, else COOP_TASKRUN, else plain. Returns 0 or -errno.
 * *mode names what was chosen (for the startup log).
 */
int io_ring_create(struct io_uring *ring, unsigned sq_entries, unsigned cq_entries,
                   const char **mode) MUST_CHECK;

/* A provided-buffer ring of count buffers of size bytes, group gid. */
struct io_bufring {
    struct io_uring_buf_ring *br;
    char *mem;
    uint32_t count, size, mask;
    uint16_t gid;
    uint32_t pending; /* buffers added since the last advance */
};

int io_bufring_create(struct io_uring *ring, struct io_bufring *b, uint32_t count, uint32_t size,
                      uint16_t gid) MUST_CHECK;
void io_bufring_destroy(struct io_uring *ring, struct io_bufring *b);

/* Frees the memory only (the ring it was registered with is already gone). */
void io_bufring_free(struct io_bufring *b);

static inline char *io_bufring_addr(const struct io_bufring *b, uint32_t bid)
{
    return b->mem + (size_t)bid * b->size;
}

/* Hands buffer bid back to the kernel (visible after io_bufring_commit). */
static inline void io_bufring_recycle(struct io_bufring *b, uint32_t bid)
{
    io_uring_buf_ring_add(b->br, io_bufring_addr(b, bid), b->size, (unsigned short)bid, b->mask,
                          (int)b->pending);
    b->pending++;
}

static inline void io_bufring_commit(struct io_bufring *b)
{
    if (b->pending) {
        io_uring_buf_ring_advance(b->br, (int)b->pending);
        b->pending = 0;
    }
}

/*
 * Checks once, at startup, that io_uring works here with everything the
 * workers use. Returns 0, or -errno with a human explanation in msg.
 */
int io_probe(char *msg, size_t msglen);
