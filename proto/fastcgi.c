/* fastcgi.c - FastCGI records: encoders and the answer's decoder (see fastcgi.h). */
#include "proto/fastcgi.h"

#include <string.h>

void fcgi_header(char out[FCGI_HEADER_LEN], enum fcgi_type type, uint16_t id, uint16_t content_len,
                 uint8_t pad)
{
    out[0] = FCGI_VERSION_1;
    out[1] = (char)type;
    out[2] = (char)(id >> 8);
    out[3] = (char)(id & 0xff);
    out[4] = (char)(content_len >> 8);
    out[5] = (char)(content_len & 0xff);
    out[6] = (char)pad;
    out[7] = 0;
}

void fcgi_begin_request(char out[FCGI_BEGIN_LEN], uint16_t id, bool keep_conn)
{
    fcgi_header(out, FCGI_BEGIN_REQUEST, id, 8, 0);
    memset(out + FCGI_HEADER_LEN, 0, 8);
    out[9] = FCGI_RESPONDER; /* the role, 16 bits big-endian: out[8] is its high byte */
    out[10] = keep_conn ? FCGI_KEEP_CONN : 0;
}

void fcgi_abort_request(char out[FCGI_HEADER_LEN], uint16_t id)
{
    fcgi_header(out, FCGI_ABORT_REQUEST, id, 0, 0);
}

static size_t len_size(size_t n)
{
    return n < 128 ? 1 : 4;
}

size_t fcgi_pair_size(size_t name_len, size_t value_len)
{
    if (name_len > FCGI_PAIR_LEN_MAX || value_len > FCGI_PAIR_LEN_MAX) {
        return 0;
    }
    return len_size(name_len) + len_size(value_len) + name_len + value_len;
}

static size_t put_len(char *out, size_t n)
{
    if (n < 128) {
        out[0] = (char)n;
        return 1;
    }
    out[0] = (char)(0x80 | (n >> 24));
    out[1] = (char)((n >> 16) & 0xff);
    out[2] = (char)((n >> 8) & 0xff);
    out[3] = (char)(n & 0xff);
    return 4;
}

size_t fcgi_pair_encode(char *out, struct slice name, struct slice value)
{
    size_t w = put_len(out, name.len);
    w += put_len(out + w, value.len);
    if (name.len) {
        memcpy(out + w, name.ptr, name.len);
    }
    w += name.len;
    if (value.len) {
        memcpy(out + w, value.ptr, value.len);
    }
    return w + value.len;
}

/* Reads a pair length at p: its bytes, 0 when short. */
static size_t get_len(const char *p, size_t len, size_t *n)
{
    if (len < 1) {
        return 0;
    }
    const unsigned char *u = (const unsigned char *)p;
    if (!(u[0] & 0x80)) {
        *n = u[0];
        return 1;
    }
    if (len < 4) {
        return 0;
    }
    *n = ((size_t)(u[0] & 0x7f) << 24) | ((size_t)u[1] << 16) | ((size_t)u[2] << 8) | u[3];
    return 4;
}

int fcgi_pair_decode(const char *p, size_t len, struct slice *name, struct slice *value,
                     size_t *used)
{
    size_t nl, vl;
    size_t a = get_len(p, len, &nl);
    if (!a) {
        return 0;
    }
    size_t b = get_len(p + a, len - a, &vl);
    if (!b) {
        return 0;
    }
    size_t off = a + b;
    if (nl > len - off || vl > len - off - nl) {
        return 0;
    }
    *name = slice_make(p + off, nl);
    *value = slice_make(p + off + nl, vl);
    *used = off + nl + vl;
    return 1;
}

size_t fcgi_stream_size(size_t len)
{
    size_t n = 0;
    while (len) {
        size_t c = len < FCGI_CONTENT_MAX ? len : FCGI_CONTENT_MAX;
        n += FCGI_HEADER_LEN + c + fcgi_padding(c);
        len -= c;
    }
    return n;
}

size_t fcgi_stream_encode(char *out, enum fcgi_type type, uint16_t id, const char *p, size_t len)
{
    if (len == 0) {
        fcgi_header(out, type, id, 0, 0);
        return FCGI_HEADER_LEN;
    }
    size_t w = 0;
    while (len) {
        size_t c = len < FCGI_CONTENT_MAX ? len : FCGI_CONTENT_MAX;
        unsigned pad = fcgi_padding(c);
        fcgi_header(out + w, type, id, (uint16_t)c, (uint8_t)pad);
        w += FCGI_HEADER_LEN;
        memcpy(out + w, p, c);
        w += c;
        memset(out + w, 0, pad);
        w += pad;
        p += c;
        len -= c;
    }
    return w;
}

/* ---------------------------------------------------------------- decoding */

enum dec_state {
    D_HEADER,  /* collecting the 8-byte header */
    D_CONTENT, /* STDOUT / STDERR content: returned as it comes */
    D_ENDBODY, /* END_REQUEST's 8-byte body */
    D_SKIP,    /* content not used: a management record, END_REQUEST past its 8 bytes */
    D_PAD,     /* padding */
    D_DONE,
};

void fcgi_decoder_init(struct fcgi_decoder *d, uint16_t id)
{
    memset(d, 0, sizeof(*d));
    d->state = D_HEADER;
    d->id = id;
}

/* Bit 7 of type marks a record whose END_REQUEST body is read: finishing it ends the answer. */
#define ENDING 0x80u

/* After a record's content: its padding, then the next header (or the end). */
static void after_content(struct fcgi_decoder *d)
{
    d->state = d->pad ? D_PAD : D_HEADER;
    d->have = 0;
}

int fcgi_decode(struct fcgi_decoder *d, const char *buf, size_t len, size_t *used,
                struct slice *data)
{
    size_t pos = 0;
    *data = SLICE_NULL;
    int rc = FCGI_DEC_MORE;
    while (rc == FCGI_DEC_MORE) {
        if (d->state == D_DONE) {
            rc = FCGI_DEC_DONE;
            break;
        }
        if (d->state == D_PAD && d->pad == 0) {
            d->state = D_HEADER;
            d->have = 0;
        }
        if (d->state == D_HEADER && d->have == 0 && (d->type & ENDING)) {
            d->state = D_DONE;
            rc = FCGI_DEC_END;
            break;
        }
        if (pos == len) {
            break;
        }
        size_t avail = len - pos;
        switch (d->state) {
        case D_HEADER: {
            size_t take = FCGI_HEADER_LEN - d->have;
            take = take < avail ? take : avail;
            memcpy(d->hdr + d->have, buf + pos, take);
            d->have = (uint8_t)(d->have + take);
            pos += take;
            if (d->have < FCGI_HEADER_LEN) {
                break;
            }
            const uint8_t *h = d->hdr;
            uint16_t id = (uint16_t)(h[2] << 8 | h[3]);
            d->type = h[1];
            d->left = (uint32_t)(h[4] << 8 | h[5]);
            d->pad = h[6];
            d->have = 0;
            if (h[0] != FCGI_VERSION_1) {
                rc = FCGI_DEC_BAD_VERSION;
            } else if (id == 0) {
                /* a management record (GET_VALUES_RESULT, UNKNOWN_TYPE): not asked for, not
                 * used; what it holds is skipped */
                d->type = 0;
                d->state = D_SKIP;
            } else if (id != d->id) {
                rc = FCGI_DEC_BAD_ID;
            } else if (d->type == FCGI_STDOUT || d->type == FCGI_STDERR) {
                if (d->type == FCGI_STDOUT && d->left == 0) {
                    d->stdout_closed = true;
                }
                d->state = D_CONTENT;
            } else if (d->type == FCGI_END_REQUEST) {
                if (d->left < 8) {
                    rc = FCGI_DEC_BAD_END;
                } else {
                    d->state = D_ENDBODY;
                }
            } else {
                rc = FCGI_DEC_BAD_TYPE;
            }
            if (d->state == D_CONTENT && d->left == 0) {
                after_content(d);
            }
            break;
        }
        case D_CONTENT: {
            size_t take = d->left < avail ? d->left : avail;
            *data = slice_make(buf + pos, take);
            pos += take;
            d->left -= (uint32_t)take;
            rc = d->type == FCGI_STDOUT ? FCGI_DEC_STDOUT : FCGI_DEC_STDERR;
            if (d->left == 0) {
                after_content(d);
            }
            break;
        }
        case D_ENDBODY: {
            size_t take = 8u - d->have;
            take = take < avail ? take : avail;
            memcpy(d->end + d->have, buf + pos, take);
            d->have = (uint8_t)(d->have + take);
            d->left -= (uint32_t)take;
            pos += take;
            if (d->have == 8) {
                const uint8_t *e = d->end;
                d->app_status =
                    (uint32_t)e[0] << 24 | (uint32_t)e[1] << 16 | (uint32_t)e[2] << 8 | e[3];
                d->proto_status = e[4];
                d->type |= ENDING;
                d->state = D_SKIP;
                d->have = 0;
            }
            break;
        }
        case D_SKIP: {
            size_t take = d->left < avail ? d->left : avail;
            pos += take;
            d->left -= (uint32_t)take;
            break;
        }
        case D_PAD: {
            size_t take = d->pad < avail ? d->pad : avail;
            pos += take;
            d->pad = (uint8_t)(d->pad - take);
            break;
        }
        }
        if (d->state == D_SKIP && d->left == 0) {
            d->state = d->pad ? D_PAD : D_HEADER;
            d->have = 0;
        }
    }
    *used = pos;
    return rc;
}

const char *fcgi_decode_error(int rc)
{
    switch (rc) {
    case FCGI_DEC_BAD_VERSION:
        return "a record of an unknown FastCGI version";
    case FCGI_DEC_BAD_ID:
        return "a record for another request id";
    case FCGI_DEC_BAD_TYPE:
        return "a record of a type a responder never receives";
    case FCGI_DEC_BAD_END:
        return "an END_REQUEST record shorter than 8 bytes";
    case FCGI_DEC_DONE:
        return "records after END_REQUEST";
    }
    return "no error";
}
