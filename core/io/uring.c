/* uring.c - see uring.h. */
#include "core/io/uring.h"

#include "core/base/alloc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int io_ring_create(struct io_uring *ring, unsigned sq_entries, unsigned cq_entries,
                   const char **mode)
{
    static const struct {
        unsigned flags;
        const char *name;
    } tries[] = {
        {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL,
         "single-issuer, defer-taskrun"},
        {IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL, "coop-taskrun"},
        {0, "plain"},
    };

    int rc = -EINVAL;
    for (size_t i = 0; i < ARRAY_SIZE(tries); i++) {
        struct io_uring_params p;
        memset(&p, 0, sizeof(p));
        p.flags = tries[i].flags | IORING_SETUP_CQSIZE;
        p.cq_entries = cq_entries;
        rc = io_uring_queue_init_params(sq_entries, ring, &p);
        if (rc == 0) {
            if (mode) {
                *mode = tries[i].name;
            }
            return 0;
        }
        if (rc != -EINVAL) {
            return rc; /* EPERM, ENOSYS, ENOMEM: no point trying other flags */
        }
    }
    return rc;
}

int io_bufring_create(struct io_uring *ring, struct io_bufring *b, uint32_t count, uint32_t size,
                      uint16_t gid)
{
    memset(b, 0, sizeof(*b));
    size_t ring_bytes = (size_t)count * sizeof(struct io_uring_buf);
    long page = sysconf(_SC_PAGESIZE);
    ring_bytes = (ring_bytes + (size_t)page - 1) & ~((size_t)page - 1);
    void *rmem = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (rmem == MAP_FAILED) {
        return -errno;
    }
    b->mem = sp_malloc((size_t)count * size);
    if (!b->mem) {
        munmap(rmem, ring_bytes);
        return -ENOMEM;
    }
    b->br = rmem;
    b->count = count;
    b->size = size;
    b->mask = (uint32_t)io_uring_buf_ring_mask(count);
    b->gid = gid;
    io_uring_buf_ring_init(b->br);
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof(reg));
    reg.ring_addr = (uint64_t)(uintptr_t)rmem;
    reg.ring_entries = count;
    reg.bgid = gid;
    int rc = io_uring_register_buf_ring(ring, &reg, 0);
    if (rc < 0) {
        sp_free(b->mem);
        munmap(rmem, ring_bytes);
        memset(b, 0, sizeof(*b));
        return rc;
    }
    for (uint32_t i = 0; i < count; i++) {
        io_bufring_recycle(b, i);
    }
    io_bufring_commit(b);
    return 0;
}

void io_bufring_destroy(struct io_uring *ring, struct io_bufring *b)
{
    if (!b->br) {
        return;
    }
    io_uring_unregister_buf_ring(ring, b->gid);
    io_bufring_free(b);
}

void io_bufring_free(struct io_bufring *b)
{
    if (!b->br) {
        return;
    }
    long page = sysconf(_SC_PAGESIZE);
    size_t ring_bytes = (size_t)b->count * sizeof(struct io_uring_buf);
    ring_bytes = (ring_bytes + (size_t)page - 1) & ~((size_t)page - 1);
    munmap(b->br, ring_bytes);
    sp_free(b->mem);
    memset(b, 0, sizeof(*b));
}
