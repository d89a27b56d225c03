// tls_rig.h - the TLS transport's encrypt-and-queue path on a real loop, for bench_tls (C API).
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>

/*
 * A worker loop, one TLS transport on a socket pair, an OpenSSL client that completes the
 * handshake (cipher: an OpenSSL cipher-suite name for TLS 1.3, or NULL for its default). From
 * then on the client side only reads and drops ciphertext, so what is measured is the server's
 * part: sealing records into the send buffer, the io_uring sends, the loop. 0 or -1.
 */
int tls_rig_init(const char *cipher);

/* Queues a response of head bytes and body bytes (memory segments), flushes, turns the loop
 * until the transport drained; returns the plaintext bytes reported sent. */
size_t tls_rig_response(size_t head, size_t body);

/* The same with the body as a file range (read into the pooled buffer, then sealed). */
size_t tls_rig_file_response(size_t head, size_t body);

void tls_rig_fini(void);

#ifdef __cplusplus
}
#endif
