/* resp_fields.c - the protocol-neutral fields of a response (see resp_fields.h). */
#include "core/http/resp_fields.h"

#include "core/base/numfmt.h"
#include "core/http/route.h"
#include "fs/types.h"
#include "proto/date.h"

#include <string.h>

bool resp_fields_decorated(const struct headers_conf *d, int status)
{
    return d && (d->add.n || (headers_status_ok(status) && (d->expires.on || d->cache_control)));
}

void resp_fields_entity_type(const struct fs_entry *e, unsigned rep, resp_field_fn fn, void *arg)
{
    if (!(rep & HG_CONTENT_TYPE)) {
        fn(arg, SLICE_LIT("Content-Type"), e->mime);
    }
    if (e->enc) {
        fn(arg, SLICE_LIT("Content-Encoding"), slice_cstr(fs_enc_name(e->enc)));
    }
    if (e->nosniff) {
        fn(arg, SLICE_LIT("X-Content-Type-Options"), SLICE_LIT("nosniff"));
    }
}

void resp_fields_own(const struct resp *s, unsigned rep, resp_field_fn fn, void *arg)
{
    for (unsigned i = 0; i < s->nfields; i++) {
        const struct resp_field *f = &s->fields[i];
        if (!rep || !(rep & headers_generated_bit(f->name))) {
            fn(arg, f->name, f->value);
        }
    }
}

void resp_fields_validators(const struct fs_entry *e, unsigned rep, resp_field_fn fn, void *arg)
{
    static const struct slice names[] = {SLICE_LIT("Last-Modified"), SLICE_LIT("ETag"),
                                         SLICE_LIT("Accept-Ranges")};
    static const unsigned bits[] = {HG_LAST_MODIFIED, HG_ETAG, HG_ACCEPT_RANGES};
    const struct slice values[] = {e->last_modified, e->etag, SLICE_LIT("bytes")};
    for (size_t k = 0; k < ARRAY_SIZE(names); k++) {
        if (!(rep & bits[k]) && values[k].len) {
            fn(arg, names[k], values[k]);
        }
    }
}

void resp_fields_decorations(const struct headers_conf *d, int status, time_t now, unsigned rep,
                             struct resp_fields_bufs *bufs, resp_field_fn fn, void *arg)
{
    bool listed = headers_status_ok(status);
    if (listed && d->expires.on) {
        if (!(rep & HG_EXPIRES)) {
            http_date_format(bufs->expires, now + (time_t)d->expires.seconds);
            fn(arg, SLICE_LIT("Expires"), slice_make(bufs->expires, HTTP_DATE_LEN));
        }
        if (!d->cache_control && !(rep & HG_CACHE_CONTROL)) {
            memcpy(bufs->maxage, "max-age=", 8);
            size_t n = 8 + num_u64_to_dec(bufs->maxage + 8, d->expires.seconds);
            fn(arg, SLICE_LIT("Cache-Control"), slice_make(bufs->maxage, n));
        }
    }
    if (listed && d->cache_control && !(rep & HG_CACHE_CONTROL)) {
        fn(arg, SLICE_LIT("Cache-Control"), slice_cstr(d->cache_control));
    }
    for (unsigned i = 0; i < d->add.n; i++) {
        if (listed || d->add.v[i].always) {
            fn(arg, slice_cstr(d->add.v[i].name), slice_cstr(d->add.v[i].value));
        }
    }
}

void resp_fields_walk(const struct req *r, time_t now, struct resp_fields_bufs *bufs,
                      resp_field_fn fn, void *arg)
{
    const struct resp *s = &r->resp;
    const struct headers_conf *deco = resp_fields_deco(r);
    unsigned rep = headers_replaced(deco, s->status);
    const struct fs_entry *ent = s->entity;
    if (ent && (s->entity_parts & RESP_ENT_TYPE)) {
        resp_fields_entity_type(ent, rep, fn, arg);
    }
    if (s->body == RESP_BODY_PAGE && !(rep & HG_CONTENT_TYPE)) {
        fn(arg, SLICE_LIT("Content-Type"), SLICE_LIT("text/html"));
    }
    resp_fields_own(s, rep, fn, arg);
    if (ent && (s->entity_parts & RESP_ENT_VALIDATORS)) {
        resp_fields_validators(ent, rep, fn, arg);
    }
    if (resp_fields_decorated(deco, s->status)) {
        resp_fields_decorations(deco, s->status, now, rep, bufs, fn, arg);
    }
}
