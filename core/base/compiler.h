/*
 * compiler.h - attributes and tiny helpers shared by every module.
 *
 * Nothing here allocates or performs I/O. Safe to include from C++ (bench/).
 */
#pragma once

#include <stddef.h>

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define MUST_CHECK __attribute__((warn_unused_result))
#define UNUSED __attribute__((unused))
#define NOINLINE __attribute__((noinline))
#define ALWAYS_INLINE inline __attribute__((always_inline))
#define PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#define CACHELINE 64

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define ALIGN_UP(x, a) (((x) + ((a)-1)) & ~((__typeof__(x))(a)-1))

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/*
 * ASSERT: invariants of our own code, never peer input. Compiled in for the
 * sanitizer and fuzz builds (SPATE_ASSERTS), a no-op in Release.
 */
#if defined(SPATE_ASSERTS) && SPATE_ASSERTS
#include <stdio.h>
#include <stdlib.h>
#define ASSERT(cond)                                                                               \
    do {                                                                                           \
        if (UNLIKELY(!(cond))) {                                                                   \
            fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)
#else
#define ASSERT(cond)                                                                               \
    do {                                                                                           \
        (void)sizeof(cond);                                                                        \
    } while (0)
#endif
