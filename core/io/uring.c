/* uring.c - see uring.h. */
#include "core/io/uring.h"

#include "core/io/loop.h"

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

int io_probe(char *msg, size_t msglen)
{
    struct io_uring ring;
    const char *mode;
    int rc = io_ring_create(&ring, 8, 16, &mode);
    if (rc < 0) {
        const char *why;
        switch (-rc) {
        case EPERM:
            why = "blocked (kernel.io_uring_disabled is set, or a seccomp profile such as "
                  "Docker's default denies io_uring_setup)";
            break;
        case ENOSYS:
            why = "not supported by this kernel (needs Linux 6.0 or newer)";
            break;
        case ENOMEM:
            why = "out of memory or locked-memory limit (ulimit -l) too low";
            break;
        default:
            why = strerror(-rc);
            break;
        }
        snprintf(msg, msglen, "io_uring is unavailable: %s", why);
        return rc;
    }
    struct io_uring_probe *probe = io_uring_get_probe_ring(&ring);

    static const struct {
        int op;
        const char *name;
    } need[] = {
        {IORING_OP_ACCEPT, "accept"},       {IORING_OP_RECV, "recv"},     {IORING_OP_SEND, "send"},
        {IORING_OP_SENDMSG, "sendmsg"},     {IORING_OP_POLL_ADD, "poll"}, {IORING_OP_READ, "read"},
        {IORING_OP_ASYNC_CANCEL, "cancel"}, {IORING_OP_TIMEOUT, "timeout"},
    };

    rc = 0;
    if (!probe) {
        snprintf(msg, msglen, "io_uring is unavailable: cannot probe supported operations");
        rc = -ENOSYS;
    } else {
        for (size_t i = 0; i < ARRAY_SIZE(need); i++) {
            if (!io_uring_opcode_supported(probe, need[i].op)) {
                snprintf(msg, msglen, "io_uring is unavailable: the kernel lacks the %s operation",
                         need[i].name);
                rc = -ENOSYS;
                break;
            }
        }
        io_uring_free_probe(probe);
    }
    if (rc == 0) {
        /* multishot accept/recv and provided-buffer rings: 6.0+; try a buffer ring */
        struct io_bufring b;
        int brc = io_bufring_create(&ring, &b, 8, 64, 7);
        if (brc < 0) {
            snprintf(msg, msglen,
                     "io_uring is unavailable: provided-buffer rings are not supported (%s); "
                     "Spate needs Linux 6.0 or newer",
                     strerror(-brc));
            rc = brc;
        } else {
            io_bufring_destroy(&ring, &b);
        }
    }
    io_uring_queue_exit(&ring);
    return rc;
}
