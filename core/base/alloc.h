/*
 * alloc.h - the process allocator.
 *
 * In Release builds every allocation goes to mimalloc (linked as the process
 * allocator, so libc's malloc is mimalloc too); sanitizer builds use libc's
 * malloc so ASan sees every block. All functions are thread-safe.
 */
#pragma once

#include "core/base/compiler.h"

#include <stddef.h>

/* Returns NULL on failure, like malloc. */
void *sp_malloc(size_t n) MUST_CHECK;
void *sp_calloc(size_t count, size_t n) MUST_CHECK;
void *sp_realloc(void *p, size_t n) MUST_CHECK;
void sp_free(void *p);
char *sp_strndup(const char *s, size_t n) MUST_CHECK;

/* Names the allocator in use ("mimalloc 2.0.9" or "libc"), for --version. */
const char *sp_alloc_name(void);
