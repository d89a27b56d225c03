/*
 * plain.h - the plain socket transport (no TLS): see plain.c for how it moves bytes.
 */
#pragma once

#include "core/net/transport.h"

extern const struct transport_ops transport_plain;

/* A transport_init_fn: t over the connected socket fd. */
void transport_plain_init(struct transport *t, int fd, struct transport_env *env,
                          const struct transport_events *ev, void *arg);

/*
 * The socket machinery another transport over the same socket shares (net/tls.c runs on
 * plain.c's receive, guards, abort and close, with its own send path):
 */

/* A completion's guard (enter first, leave last): leave raises release when it is due. */
void transport_sock_enter(struct transport *t);
void transport_sock_leave(struct transport *t);

/* The FIN asked for by shutdown (TR_FIN), once: now, or linked behind the send just prepared. */
void transport_sock_fin(struct transport *t, bool linked);

/* Whether the next want bytes of file segment s are in the page cache (one cachestat a chunk). */
bool transport_sock_cached(struct transport *t, const struct outq_seg *s, size_t want);

/* From now on plain.c's own send path runs t (a TLS connection whose keys the kernel took). */
void transport_plain_adopt(struct transport *t);
