/*
 * h1_write.h - the HTTP/1 writer: responses into bytes of the connection's output queue.
 *
 * Sizes are computed, never guessed; writing never fails for lack of room
 * (a head that does not fit the block goes into owned memory). The entity
 * header block of each file is prebuilt by the file cache's hooks.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/http/h1_state.h"
#include "fs/cache.h"

/* The writer's table for requests of the HTTP/1 session. */
extern const struct req_proto h1_proto;

/* The file cache hooks that prebuild each file's HTTP/1 entity header block. */
extern const struct fs_cache_hooks h1_entity_hooks;

/* An error response for input that is not a valid request (the connection closes after it).
 * 0 or -ENOMEM. */
int h1_bad_request(struct h1_conn *h, int status, const char *buf, size_t len) MUST_CHECK;
