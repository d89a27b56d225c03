/* sketch.c - see sketch.h. */
#include "fs/sketch.h"

#include "core/base/alloc.h"

#include <errno.h>
#include <stddef.h>

#define ROWS 4

int fs_sketch_start(struct fs_sketch *s, uint32_t want)
{
    uint32_t w = 4096;
    while (w < want && w < 65536) {
        w *= 2;
    }
    s->v = sp_calloc(ROWS, w);
    if (!s->v) {
        return -ENOMEM;
    }
    s->mask = w - 1;
    s->count = 0;
    return 0;
}

void fs_sketch_free(struct fs_sketch *s)
{
    sp_free(s->v);
    s->v = NULL;
}

unsigned fs_sketch_estimate(const struct fs_sketch *s, uint64_t hash)
{
    unsigned best = 255;
    for (unsigned i = 0; i < ROWS; i++) {
        uint32_t k = (uint32_t)(hash >> (16 * i)) & s->mask;
        unsigned v = s->v[i * (s->mask + 1) + k];
        best = v < best ? v : best;
    }
    return best;
}

void fs_sketch_add(struct fs_sketch *s, uint64_t hash)
{
    if (!s->v) {
        return;
    }
    for (unsigned i = 0; i < ROWS; i++) {
        uint32_t k = (uint32_t)(hash >> (16 * i)) & s->mask;
        uint8_t *v = &s->v[i * (s->mask + 1) + k];
        if (*v < 255) {
            (*v)++;
        }
    }
    if (++s->count >= 10 * (s->mask + 1)) {
        /* aging: what was popular a while ago counts half */
        size_t n = (size_t)ROWS * (s->mask + 1);
        for (size_t i = 0; i < n; i++) {
            s->v[i] >>= 1;
        }
        s->count = 0;
    }
}
