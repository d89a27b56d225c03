/* cond.c - see cond.h. */
#include "proto/cond.h"

#include "proto/date.h"

#include <string.h>

/* Parses the entity-tag at list[*i] ([W/]"etagc*"): 1 and the tag, 0 at the end, -1 malformed. */
static int next_tag(struct slice list, size_t *i, struct slice *tag, bool *weak)
{
    size_t p = *i;
    while (p < list.len && (list.ptr[p] == ' ' || list.ptr[p] == '\t' || list.ptr[p] == ',')) {
        p++;
    }
    if (p >= list.len) {
        *i = p;
        return 0;
    }
    *weak = false;
    if (p + 1 < list.len && list.ptr[p] == 'W' && list.ptr[p + 1] == '/') {
        *weak = true;
        p += 2;
    }
    if (p >= list.len || list.ptr[p] != '"') {
        return -1;
    }
    size_t s = p++;
    while (p < list.len && list.ptr[p] != '"') {
        unsigned char c = (unsigned char)list.ptr[p];
        if (c < 0x21 || c == 0x7f) { /* etagc = %x21 / %x23-7E / obs-text */
            return -1;
        }
        p++;
    }
    if (p >= list.len) {
        return -1;
    }
    p++;
    *tag = slice_make(list.ptr + s, p - s);
    while (p < list.len && (list.ptr[p] == ' ' || list.ptr[p] == '\t')) {
        p++;
    }
    if (p < list.len && list.ptr[p] != ',') {
        return -1; /* only OWS and a comma may follow a tag */
    }
    *i = p;
    return 1;
}

bool http_etag_list_matches(struct slice list, struct slice etag, bool weak)
{
    struct slice l = slice_trim_ows(list);
    if (l.len == 1 && l.ptr[0] == '*') {
        return etag.len > 0;
    }
    size_t i = 0;
    struct slice tag;
    bool tag_weak, found = false;
    int rc;
    while ((rc = next_tag(l, &i, &tag, &tag_weak)) == 1) {
        if ((weak || !tag_weak) && slice_eq(tag, etag)) {
            found = true; /* a weak tag never matches by strong comparison */
        }
    }
    return rc == 0 && found && etag.len > 0; /* a malformed list matches nothing */
}

/* The date of header k, if present and valid. */
static bool header_date(const struct hdr_table *h, enum hdr_known k, time_t now, time_t *t)
{
    const struct http_header *f = hdr_get_known(h, k);
    return f && !hdr_next_dup(h, f) && http_date_parse(f->value, now, t) == 0;
}

/* All values of a list header joined logically: true if any field's list matches. */
static bool any_field_matches(const struct hdr_table *h, enum hdr_known k, struct slice etag,
                              bool weak)
{
    for (const struct http_header *f = hdr_get_known(h, k); f; f = hdr_next_dup(h, f)) {
        if (http_etag_list_matches(f->value, etag, weak)) {
            return true;
        }
    }
    return false;
}

enum http_precondition http_preconditions(const struct hdr_table *h, enum http_method m,
                                          const struct http_validators *v)
{
    bool get_head = m == HTTP_GET || m == HTTP_HEAD;
    time_t t;
    /* step 1 / 2: If-Match, else If-Unmodified-Since */
    if (hdr_get_known(h, HDR_IF_MATCH)) {
        if (!any_field_matches(h, HDR_IF_MATCH, v->etag, false)) {
            return HTTP_PRECOND_FAILED;
        }
    } else if (header_date(h, HDR_IF_UNMODIFIED_SINCE, v->now, &t) && v->has_last_modified &&
               v->last_modified > t) {
        return HTTP_PRECOND_FAILED;
    }
    /* step 3 / 4: If-None-Match, else If-Modified-Since (GET and HEAD only) */
    if (hdr_get_known(h, HDR_IF_NONE_MATCH)) {
        if (any_field_matches(h, HDR_IF_NONE_MATCH, v->etag, true)) {
            return get_head ? HTTP_PRECOND_NOT_MODIFIED : HTTP_PRECOND_FAILED;
        }
    } else if (get_head && header_date(h, HDR_IF_MODIFIED_SINCE, v->now, &t) &&
               v->has_last_modified && v->last_modified <= t) {
        return HTTP_PRECOND_NOT_MODIFIED;
    }
    return HTTP_PRECOND_PROCEED;
}

bool http_if_range_ok(const struct hdr_table *h, const struct http_validators *v)
{
    const struct http_header *f = hdr_get_known(h, HDR_IF_RANGE);
    if (!f) {
        return true;
    }
    if (hdr_next_dup(h, f)) {
        return false;
    }
    struct slice val = slice_trim_ows(f->value);
    if (val.len && (val.ptr[0] == '"' || (val.len > 1 && val.ptr[0] == 'W' && val.ptr[1] == '/'))) {
        /* an entity-tag: strong comparison, so W/ never matches */
        return val.ptr[0] == '"' && slice_eq(val, v->etag);
    }
    time_t t;
    if (http_date_parse(val, v->now, &t) != 0 || !v->has_last_modified) {
        return false;
    }
    return t == v->last_modified;
}
