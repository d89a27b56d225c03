/*
 * outq.h - a connection's output queue: the bytes still to send, in order, as segments.
 *
 * A segment is memory (bytes copied into the queue's own block, bytes the
 * queue owns on the heap, or bytes kept alive by a file-cache entry and
 * referenced without a copy) or a file range (sent with sendfile, or read and
 * sent by the transport). The queue knows nothing of HTTP: a protocol writes
 * response bytes into it, a transport drains it and reports how many bytes
 * went out (outq_advance).
 *
 * Memory: one pooled block per busy connection holds the queue state and a
 * data area; an idle connection holds none (outq_free when it drained).
 * Bytes reserved in the block never move while queued, so a send in flight
 * can point at them.
 *
 * Single-threaded: the owning worker only.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/pool.h"
#include "fs/cache.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

enum outq_seg_kind {
    OUTQ_MEM,   /* ptr, len: in the block or kept alive by ref */
    OUTQ_OWNED, /* ptr, len: heap memory the queue frees once it is sent */
    OUTQ_FILE,  /* ref->fd from off, len bytes */
};

struct outq_seg {
    const char *ptr;
    uint64_t len;         /* bytes not yet sent */
    uint64_t off;         /* OUTQ_FILE: file offset of the next byte */
    struct fs_entry *ref; /* released once the segment is sent, or NULL */
    void *owned;          /* OUTQ_OWNED: what to free */
    uint8_t kind;
};

#define OUTQ_SEGS 128
#define OUTQ_IOV 64

struct outq {
    struct block_pool *pool;
    uint32_t head, count; /* segment ring */
    uint32_t len, cap;    /* bytes used in buf, its size */
    uint64_t queued_pos;  /* bytes ever queued */
    uint64_t sent_pos;    /* bytes confirmed sent */
    struct msghdr msg;    /* scratch for the transport's sendmsg */
    struct iovec iov[OUTQ_IOV];
    struct outq_seg segs[OUTQ_SEGS];
    char buf[];
};

/* A queue in a block from pool (whose blocks are larger than struct outq); NULL if OOM. */
struct outq *outq_new(struct block_pool *pool) MUST_CHECK;

/* Drops every segment (releasing references, freeing owned memory) and returns the block. */
void outq_free(struct outq *q);

static inline bool outq_empty(const struct outq *q)
{
    return q == NULL || q->count == 0;
}

/* Free bytes in the block's data area. */
static inline size_t outq_room(const struct outq *q)
{
    return q->cap - q->len;
}

/* Free segment slots. */
static inline unsigned outq_free_segs(const struct outq *q)
{
    return OUTQ_SEGS - q->count;
}

/* The i-th queued segment (0 = the next to send). */
static inline struct outq_seg *outq_seg(struct outq *q, uint32_t i)
{
    return &q->segs[(q->head + i) % OUTQ_SEGS];
}

/* Room for n bytes in the block (and a segment slot), or NULL. Nothing is queued yet. */
char *outq_reserve(struct outq *q, size_t n) MUST_CHECK;

/* Queues the n bytes just written at outq_reserve() (one segment with contiguous bytes). */
void outq_commit(struct outq *q, size_t n);

/* Queues len bytes at ptr, kept alive by ref (which gains a reference; may be NULL). */
void outq_push_mem(struct outq *q, const char *ptr, size_t len, struct fs_entry *ref);

/* Queues len bytes at ptr, heap memory from sp_malloc that the queue frees once sent. */
void outq_push_owned(struct outq *q, char *ptr, size_t len);

/* Queues len bytes of ref's file from off; ref gains a reference. */
void outq_push_file(struct outq *q, struct fs_entry *ref, uint64_t off, uint64_t len);

/* Consumes n sent bytes from the head of the queue, releasing finished segments. */
void outq_advance(struct outq *q, uint64_t n);
