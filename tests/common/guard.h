/*
 * guard.h - test buffers that end at a PROT_NONE page.
 *
 * guard_copy() places n bytes so that the byte after the last one is
 * unreadable: any over-read by the code under test faults at once, even
 * without ASan (the picohttpparser technique).
 */
#pragma once

#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct guard_buf {
    char *map;
    size_t maplen;
    char *data; /* n bytes, ending right at the guard page */
};

static inline char *guard_copy(struct guard_buf *g, const void *src, size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t pages = (n + page - 1) / page + 1;
    g->maplen = pages * page;
    g->map = mmap(NULL, g->maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g->map == MAP_FAILED) {
        return NULL;
    }
    mprotect(g->map + (pages - 1) * page, page, PROT_NONE);
    g->data = g->map + (pages - 1) * page - n;
    memcpy(g->data, src, n);
    return g->data;
}

static inline void guard_free(struct guard_buf *g)
{
    munmap(g->map, g->maplen);
}
