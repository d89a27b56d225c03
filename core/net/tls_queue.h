/*
 * tls_queue.h - how the TLS transport takes bytes from the output queue to encrypt them, for
 * both ways of building records (tls.c through SSL_write, tls_seal.c in place).
 *
 * Single-threaded: the connection's worker.
 */
#pragma once

#include "core/net/outq.h"
#include "core/net/transport.h"

#include <stdbool.h>
#include <stddef.h>

/* Gathers the memory segments at the head of q into dst, at most cap bytes; their count. */
size_t tls_gather(struct outq *q, char *dst, size_t cap);

/*
 * Fills the file buffer from the file segment s at the head (at most TLS_FILE_CHUNK bytes):
 * pread when the range is cached, else an io_uring read (true: wait for it). False with the
 * buffer filled, or on error (raised) -- *err tells.
 */
bool tls_read_file(struct transport *t, const struct outq_seg *s, bool *err);

/*
 * Starts an io_uring read of want bytes of file segment s into the file buffer, at the file
 * offset's alignment (TLS_READ until it completes; tls.c's on_read then flushes on). False:
 * out of memory (the error was raised).
 */
bool tls_read_async(struct transport *t, const struct outq_seg *s, size_t want);

/* Reports a failed read of a file for t (n: what pread or the read returned, or -errno). */
void tls_read_failed(struct transport *t, long n);
