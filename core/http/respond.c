/* respond.c - the protocol-neutral half of the response writer (see respond.h). */
#include "core/http/respond.h"

#include "core/http/req.h"

#include <errno.h>
#include <string.h>

void resp_begin(struct req *r, int status)
{
    struct resp *s = &r->resp;
    ASSERT(!s->sent);
    s->status = status;
    s->body = RESP_BODY_NONE;
    s->entity = NULL;
    s->entity_parts = 0;
    s->nfields = 0;
    s->fields = s->inline_fields;
    s->fields_cap = RESP_FIELDS_INLINE;
    s->npieces = 0;
    s->pieces = s->inline_pieces;
    s->pieces_cap = RESP_PIECES_INLINE;
    s->length = 0;
    s->stream = NULL;
    s->stream_arg = NULL;
}

int resp_field(struct req *r, struct slice name, struct slice value)
{
    struct resp *s = &r->resp;
    if (s->nfields == s->fields_cap) {
        if (s->fields_cap >= RESP_FIELDS_MAX) {
            return -ENOSPC;
        }
        /* past the inline few (a script's or an upstream's fields): double, in the arena */
        unsigned ncap = MIN(2u * s->fields_cap, (unsigned)RESP_FIELDS_MAX);
        struct resp_field *nf = arena_alloc(r->arena, ncap * sizeof(*nf));
        if (!nf) {
            return -ENOMEM;
        }
        memcpy(nf, s->fields, s->nfields * sizeof(*nf));
        s->fields = nf;
        s->fields_cap = (uint8_t)ncap;
    }
    s->fields[s->nfields++] = (struct resp_field){name, value};
    return 0;
}

void resp_entity(struct req *r, const struct fs_entry *e, unsigned parts)
{
    r->resp.entity = e;
    r->resp.entity_parts = (uint8_t)parts;
}

static struct resp_piece *add_piece(struct req *r)
{
    struct resp *s = &r->resp;
    if (s->npieces == s->pieces_cap) {
        if (s->pieces_cap >= RESP_PIECES_MAX) {
            return NULL;
        }
        struct resp_piece *np = arena_alloc(r->arena, RESP_PIECES_MAX * sizeof(*np));
        if (!np) {
            return NULL;
        }
        memcpy(np, s->pieces, s->npieces * sizeof(*np));
        s->pieces = np;
        s->pieces_cap = RESP_PIECES_MAX;
    }
    s->body = RESP_BODY_PIECES;
    return &s->pieces[s->npieces++];
}

int resp_body_mem(struct req *r, const char *p, size_t len, struct fs_entry *ref)
{
    if (len == 0) {
        r->resp.body = RESP_BODY_PIECES;
        return 0;
    }
    struct resp_piece *pc = add_piece(r);
    if (!pc) {
        return -ENOSPC;
    }
    *pc = (struct resp_piece){p, 0, len, ref};
    r->resp.length += len;
    return 0;
}

int resp_body_file(struct req *r, struct fs_entry *e, uint64_t off, uint64_t len)
{
    if (e->body) {
        return resp_body_mem(r, e->body + off, (size_t)len, e);
    }
    if (len == 0) {
        r->resp.body = RESP_BODY_PIECES;
        return 0;
    }
    struct resp_piece *pc = add_piece(r);
    if (!pc) {
        return -ENOSPC;
    }
    *pc = (struct resp_piece){NULL, off, len, e};
    r->resp.length += len;
    return 0;
}

/* An error page's answer goes out with the error's code (error_page.h). */
static void error_status(struct req *r)
{
    int st = r->resp.status;
    if (r->error_status && ((st >= 200 && st < 300) || st == 304)) {
        r->resp.status = r->error_status;
    }
}

int resp_send(struct req *r)
{
    ASSERT(!r->resp.sent);
    error_status(r);
    int rc = r->proto->send(r);
    r->resp.sent = true;
    return rc;
}

int resp_error(struct req *r, int status)
{
    struct resp *s = &r->resp;
    s->status = status;
    s->body = RESP_BODY_PAGE;
    s->entity = NULL;
    s->npieces = 0;
    s->length = 0;
    return resp_send(r);
}

int resp_stream(struct req *r, const struct resp_stream_ops *ops, void *arg)
{
    ASSERT(!r->resp.sent);
    struct resp *s = &r->resp;
    error_status(r);
    if (s->body != RESP_BODY_STREAM) {
        s->length = UINT64_MAX; /* no resp_stream_length: unknown */
    }
    s->body = RESP_BODY_STREAM;
    s->stream = ops;
    s->stream_arg = arg;
    int rc = r->proto->stream_begin(r);
    s->sent = true;
    return rc;
}

void resp_stream_length(struct req *r, uint64_t len)
{
    r->resp.body = RESP_BODY_STREAM;
    r->resp.length = len;
}

int resp_defer(struct req *r, const struct resp_stream_ops *ops, void *arg)
{
    ASSERT(!r->resp.sent);
    return r->proto->defer(r, ops, arg);
}

size_t resp_stream_write(struct req *r, const void *p, size_t len)
{
    return r->proto->stream_write(r, p, len);
}

void resp_stream_abort(struct req *r)
{
    if (r->proto->stream_abort) {
        r->proto->stream_abort(r);
    } else if (r->proto->stream_end(r) < 0) {
        return; /* a session that cannot cut ends the body: the caller stops either way */
    }
}

int resp_stream_end(struct req *r)
{
    return r->proto->stream_end(r);
}
