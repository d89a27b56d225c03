/* uring.c - see uring.h. */
#include "core/io/uring.h"

#include "core/base/alloc.h"
#include "core/base/atomic.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static int ring_create(struct io_uring *ring, unsigned sq_entries, unsigned cq_entries,
                       unsigned extra, const char **mode)
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
        p.flags = tries[i].flags | IORING_SETUP_CQSIZE | extra;
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

int io_ring_create(struct io_uring *ring, unsigned sq_entries, unsigned cq_entries,
                   const char **mode)
{
    return ring_create(ring, sq_entries, cq_entries, 0, mode);
}

/* ---------------------------------------------------------------- restrictions */

static SP_ATOMIC(bool) restricting;

void io_ring_set_restricted(bool on)
{
    atomic_store(&restricting, on);
}

bool io_ring_restricted(void)
{
    return atomic_load(&restricting);
}

int io_ring_create_disabled(struct io_uring *ring, unsigned sq_entries, unsigned cq_entries,
                            const char **mode)
{
    return ring_create(ring, sq_entries, cq_entries, IORING_SETUP_R_DISABLED, mode);
}

int io_ring_lock_down(struct io_uring *ring)
{
    /* what core/io submits (loop.c), and what the features of issue 12 add: connect and
     * socket (ident), poll and timeouts; nothing that makes, links, renames or removes files */
    static const uint8_t ops[] = {
        IORING_OP_NOP,          IORING_OP_READV,
        IORING_OP_WRITEV,       IORING_OP_READ,
        IORING_OP_WRITE,        IORING_OP_POLL_ADD,
        IORING_OP_POLL_REMOVE,  IORING_OP_SENDMSG,
        IORING_OP_RECVMSG,      IORING_OP_SEND,
        IORING_OP_RECV,         IORING_OP_ACCEPT,
        IORING_OP_CONNECT,      IORING_OP_SOCKET,
        IORING_OP_TIMEOUT,      IORING_OP_TIMEOUT_REMOVE,
        IORING_OP_LINK_TIMEOUT, IORING_OP_ASYNC_CANCEL,
        IORING_OP_SHUTDOWN,     IORING_OP_CLOSE,
        IORING_OP_OPENAT,       IORING_OP_OPENAT2,
        IORING_OP_STATX,        IORING_OP_FADVISE,
        IORING_OP_MSG_RING,
    };
    /* registrations are made before the ring is enabled; later, only their undoing */
    static const uint8_t regs[] = {IORING_UNREGISTER_RING_FDS, IORING_UNREGISTER_PBUF_RING,
                                   IORING_REGISTER_PROBE};
    struct io_uring_restriction res[ARRAY_SIZE(ops) + ARRAY_SIZE(regs) + 1];
    memset(res, 0, sizeof(res));
    unsigned n = 0;
    for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
        res[n].opcode = IORING_RESTRICTION_SQE_OP;
        res[n++].sqe_op = ops[i];
    }
    for (size_t i = 0; i < ARRAY_SIZE(regs); i++) {
        res[n].opcode = IORING_RESTRICTION_REGISTER_OP;
        res[n++].register_op = regs[i];
    }
    res[n].opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
    res[n++].sqe_flags = IOSQE_FIXED_FILE | IOSQE_IO_DRAIN | IOSQE_IO_LINK | IOSQE_IO_HARDLINK |
                         IOSQE_ASYNC | IOSQE_BUFFER_SELECT | IOSQE_CQE_SKIP_SUCCESS;
    /* raw calls: the liburing build here declares, but does not export, the two helpers */
    if (syscall(__NR_io_uring_register, ring->ring_fd, IORING_REGISTER_RESTRICTIONS, res, n) < 0 ||
        syscall(__NR_io_uring_register, ring->ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0) {
        return -errno;
    }
    return 0;
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
