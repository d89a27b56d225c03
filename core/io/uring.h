/*
 * uring.h - io_uring setup: ring creation and provided-buffer rings (the probe: loop.h).
 *
 * Only core/io/ includes this header: liburing (and the kernel's io_uring
 * UAPI) stay inside the event-loop layer. Everything above it submits work
 * through core/io/loop.h.
 */
#pragma once

#include "core/base/compiler.h"

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * Creates a ring for the calling thread: SINGLE_ISSUER|DEFER_TASKRUN when the
 * kernel has them, else COOP_TASKRUN, else plain. Returns 0 or -errno.
 * *mode names what was chosen (for the startup log).
 */
int io_ring_create(struct io_uring *ring, unsigned sq_entries, unsigned cq_entries,
                   const char **mode) MUST_CHECK;

/*
 * Restricting rings (issue 12's least privilege): the sandbox turns it on once, before the
 * workers start; a worker's loop then creates its ring disabled (IORING_SETUP_R_DISABLED),
 * makes its registrations (the ring fd, the io-wq limit, the buffer ring) and locks it down:
 * io_uring_register_restrictions to the operations spate submits and the undoing of those
 * registrations, then IORING_REGISTER_ENABLE_RINGS. A feature that submits another
 * operation must add it to io_ring_lock_down's list (uring.c), or its SQEs fail with
 * -EACCES. The offload helpers' rings and the probe's stay unrestricted (they only post
 * MSG_RING completions, or are closed at once).
 */
void io_ring_set_restricted(bool on);
bool io_ring_restricted(void);

/* io_ring_create, the ring left disabled until io_ring_lock_down. */
int io_ring_create_disabled(struct io_uring *ring, unsigned sq_entries, unsigned cq_entries,
                            const char **mode) MUST_CHECK;

/* Registers the restrictions and enables the ring. 0 or -errno (the ring stays disabled). */
int io_ring_lock_down(struct io_uring *ring) MUST_CHECK;

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
