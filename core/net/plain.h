/*
 * plain.h - the plain socket transport (no TLS): see plain.c for how it moves bytes.
 */
#pragma once

#include "core/net/transport.h"

extern const struct transport_ops transport_plain;

/* A transport_init_fn: t over the connected socket fd. */
void transport_plain_init(struct transport *t, int fd, struct transport_env *env,
                          const struct transport_events *ev, void *arg);
