/* alloc.c - see alloc.h. mimalloc is referenced only here. */
#include "core/base/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef SPATE_MIMALLOC
#include <mimalloc.h>
#define RAW_MALLOC mi_malloc
#define RAW_CALLOC mi_calloc
#define RAW_REALLOC mi_realloc
#define RAW_FREE mi_free
#else
#define RAW_MALLOC malloc
#define RAW_CALLOC calloc
#define RAW_REALLOC realloc
#define RAW_FREE free
#endif

void *sp_malloc(size_t n)
{
    return RAW_MALLOC(n ? n : 1);
}

void *sp_calloc(size_t count, size_t n)
{
    return RAW_CALLOC(count ? count : 1, n ? n : 1);
}

void *sp_realloc(void *p, size_t n)
{
    return RAW_REALLOC(p, n ? n : 1);
}

void sp_free(void *p)
{
    RAW_FREE(p);
}

char *sp_strndup(const char *s, size_t n)
{
    char *d = sp_malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

const char *sp_alloc_name(void)
{
#ifdef SPATE_MIMALLOC
    static char name[32];
    int v = mi_version();
    snprintf(name, sizeof(name), "mimalloc %d.%d.%d", v / 100, (v / 10) % 10, v % 10);
    return name;
#else
    return "libc malloc";
#endif
}
