/*
 * resp_fields.h - the fields of a response, protocol-neutral: which, in what order, replaced by
 * what the location configures.
 *
 * A response (struct resp in req.h) is described by its handler; what its
 * head holds besides that is the server's rule, the same for every protocol:
 * Server and Date, the entity's type fields (Content-Type, Content-Encoding of
 * a stored variant, X-Content-Type-Options), the handler's fields, the
 * entity's validators (Last-Modified, ETag, Accept-Ranges) and the location's
 * decorations (expires, cache_control, add_header: http/headers.h), where a
 * configured field replaces a generated one of the same name. The protocol
 * writers walk this list: HTTP/1 (http/h1_write.c) as text lines, with its
 * prebuilt per-file entity block as a fast path for the common case, HTTP/2
 * (http/h2_write.c) as header fields for HPACK. Framing (Content-Length,
 * Transfer-Encoding, Connection) is each writer's own.
 *
 * Each field is given to a callback with its canonical name ("Content-Type");
 * the values point into the response, the entity, the configuration, or the
 * caller's struct resp_fields_bufs, valid until the head is written.
 */
#pragma once

#include "core/base/slice.h"
#include "core/http/headers.h"
#include "core/http/req.h"
#include "core/http/route.h"

#include <stdbool.h>
#include <time.h>

/* One field of the head. */
typedef void (*resp_field_fn)(void *arg, struct slice name, struct slice value);

/* Room for the values the walk formats (Expires, Cache-Control: max-age=). */
struct resp_fields_bufs {
    char expires[32], maxage[32];
};

/* The location's decoration block, or NULL. */
static inline const struct headers_conf *resp_fields_deco(const struct req *r)
{
    return r->loc ? r->loc->hdrs : NULL;
}

/* Does the location add anything to a response with this status? */
bool resp_fields_decorated(const struct headers_conf *d, int status);

/* Content-Type (unless replaced), Content-Encoding, X-Content-Type-Options of entity e. */
void resp_fields_entity_type(const struct fs_entry *e, unsigned rep, resp_field_fn fn, void *arg);

/* The handler's own fields, but those the configuration replaces (rep: headers_replaced). */
void resp_fields_own(const struct resp *s, unsigned rep, resp_field_fn fn, void *arg);

/* Last-Modified, ETag (when e has one) and Accept-Ranges, but those replaced. */
void resp_fields_validators(const struct fs_entry *e, unsigned rep, resp_field_fn fn, void *arg);

/* expires, cache_control, add_header of d for a response with this status, at time now. */
void resp_fields_decorations(const struct headers_conf *d, int status, time_t now, unsigned rep,
                             struct resp_fields_bufs *bufs, resp_field_fn fn, void *arg);

/*
 * Every field of r's response but Server, Date and framing, in the order HTTP/1 sends them:
 * the entity's type (or text/html for a status page), the handler's fields, the validators,
 * the decorations. The HTTP/2 writer's whole walk.
 */
void resp_fields_walk(const struct req *r, time_t now, struct resp_fields_bufs *bufs,
                      resp_field_fn fn, void *arg);
