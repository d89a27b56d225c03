/* chunked.c - see chunked.h. */
#include "proto/chunked.h"

#include "proto/http.h"

enum st {
    S_SIZE,          /* chunk-size digits */
    S_EXT,           /* after the size: BWS, ";" extensions, until CR */
    S_SIZE_LF,       /* LF of the size line */
    S_DATA,          /* chunk-data */
    S_DATA_CR,       /* CR after chunk-data */
    S_DATA_LF,       /* LF after chunk-data */
    S_TRAILER,       /* start of a trailer line (or the final CRLF) */
    S_TRAILER_NAME,  /* field name */
    S_TRAILER_VALUE, /* after ':' until CR */
    S_TRAILER_LF,    /* LF ending a trailer line */
    S_END_LF,        /* LF of the final empty line */
    S_DONE,
};

void http_chunked_init(struct http_chunked *d, uint64_t max_total)
{
    *d = (struct http_chunked){0};
    d->state = S_SIZE;
    d->max_total = max_total;
}

bool http_chunked_done(const struct http_chunked *d)
{
    return d->state == S_DONE;
}

void http_chunked_unread(struct http_chunked *d, size_t n)
{
    if (n == 0) {
        return;
    }
    d->chunk_left += n;
    d->total -= n;
    d->state = S_DATA; /* S_DATA_CR if the chunk had ended: it has not, now */
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c |= 0x20;
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ), ext-val = token / quoted-string */
enum ext_st {
    E_PRE,        /* after the size or a complete extension: ";" or CR (or BWS, then E_WS) */
    E_WS,         /* BWS after the size or a value: only ";" (or more BWS) may follow */
    E_NAME_START, /* after ";": BWS, then a name */
    E_NAME,       /* in a name */
    E_AFTER_NAME, /* BWS after a name: "=", ";" or CR */
    E_VAL_START,  /* after "=": BWS, then a token or a quoted string */
    E_TOKEN,      /* in a token value */
    E_QUOTED,     /* in a quoted string */
    E_QESC,       /* after a backslash in a quoted string */
};

/* One byte of a size line after the digits. Returns 1 at the closing CR, 0 to go on, -400. */
static int ext_byte(struct http_chunked *d, unsigned char c)
{
    bool ws = c == ' ' || c == '\t';
    if (++d->line_len > HTTP_CHUNKED_LINE_MAX) {
        return -400;
    }
    switch (d->ext) {
    case E_PRE:
    case E_TOKEN:
    case E_NAME:
        if (c == '\r') {
            return 1;
        }
        if (c == ';') {
            d->ext = E_NAME_START;
        } else if (ws) {
            /* BWS is allowed only in front of ";" or "=" (RFC 9112 7.1.1) */
            d->ext = d->ext == E_NAME ? E_AFTER_NAME : E_WS;
        } else if (c == '=' && d->ext == E_NAME) {
            d->ext = E_VAL_START;
        } else if (!(http_is_tchar(c) && (d->ext == E_NAME || d->ext == E_TOKEN))) {
            return -400;
        }
        return 0;
    case E_WS:
        if (c == ';') {
            d->ext = E_NAME_START;
        } else if (!ws) {
            return -400; /* "5 \r\n": whitespace not followed by an extension */
        }
        return 0;
    case E_AFTER_NAME:
        if (c == ';') {
            d->ext = E_NAME_START;
        } else if (c == '=') {
            d->ext = E_VAL_START;
        } else if (!ws) {
            return -400;
        }
        return 0;
    case E_NAME_START:
    case E_VAL_START:
        if (ws) {
            return 0;
        }
        if (c == '"' && d->ext == E_VAL_START) {
            d->ext = E_QUOTED;
            return 0;
        }
        if (!http_is_tchar(c)) {
            return -400;
        }
        d->ext = d->ext == E_NAME_START ? E_NAME : E_TOKEN;
        return 0;
    case E_QUOTED:
        if (c == '"') {
            d->ext = E_PRE; /* a closed quoted value: ";", CR, or BWS then ";" */
        } else if (c == '\\') {
            d->ext = E_QESC;
        } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return -400;
        }
        return 0;
    case E_QESC:
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return -400;
        }
        d->ext = E_QUOTED;
        return 0;
    default:
        return -400;
    }
}

int http_chunked_decode(struct http_chunked *d, const char *buf, size_t len, size_t *used,
                        struct slice *data)
{
    size_t i = 0;
    *data = SLICE_NULL;
    *used = 0; /* errors report nothing consumed: the connection is closing anyway */
    while (i < len) {
        unsigned char c = (unsigned char)buf[i];
        switch (d->state) {
        case S_SIZE: {
            int v = hexval(c);
            if (v >= 0) {
                if (d->ndigits == 16 || (d->chunk_left >> 60) != 0) {
                    return -400; /* chunk size overflows 64 bits */
                }
                d->chunk_left = d->chunk_left << 4 | (uint64_t)v;
                d->ndigits++;
                i++;
                break;
            }
            if (d->ndigits == 0) {
                return -400;
            }
            if (d->chunk_left > d->max_total - d->total) {
                return -413;
            }
            d->state = S_EXT;
            d->line_len = 0;
            d->ext = E_PRE;
            break; /* c is examined in S_EXT */
        }
        case S_EXT: {
            int rc = ext_byte(d, c);
            if (rc < 0) {
                return -400;
            }
            if (rc == 1) {
                d->state = S_SIZE_LF;
            }
            i++;
            break;
        }
        case S_SIZE_LF:
            if (c != '\n') {
                return -400;
            }
            i++;
            d->ndigits = 0;
            d->state = d->chunk_left ? S_DATA : S_TRAILER;
            d->trailer_len = 0;
            break;
        case S_DATA: {
            size_t n = len - i;
            if (n > d->chunk_left) {
                n = (size_t)d->chunk_left;
            }
            *data = slice_make(buf + i, n);
            i += n;
            d->chunk_left -= n;
            d->total += n;
            if (d->chunk_left == 0) {
                d->state = S_DATA_CR;
            }
            *used = i;
            return HTTP_CHUNKED_DATA;
        }
        case S_DATA_CR:
            if (c != '\r') {
                return -400;
            }
            d->state = S_DATA_LF;
            i++;
            break;
        case S_DATA_LF:
            if (c != '\n') {
                return -400;
            }
            d->state = S_SIZE;
            d->chunk_left = 0;
            i++;
            break;
        case S_TRAILER:
            if (c == '\r') {
                d->state = S_END_LF;
                i++;
                break;
            }
            d->state = S_TRAILER_NAME;
            d->line_len = 0;
            if (!http_is_tchar(c)) {
                return -400; /* obs-fold or an empty name */
            }
            break;
        case S_TRAILER_NAME:
            if (++d->trailer_len > HTTP_CHUNKED_TRAILER_MAX) {
                return -400;
            }
            if (c == ':') {
                if (d->line_len == 0) {
                    return -400;
                }
                d->state = S_TRAILER_VALUE;
            } else if (!http_is_tchar(c)) {
                return -400; /* whitespace before the colon, control bytes */
            }
            d->line_len++;
            i++;
            break;
        case S_TRAILER_VALUE:
            if (++d->trailer_len > HTTP_CHUNKED_TRAILER_MAX) {
                return -400;
            }
            if (c == '\r') {
                d->state = S_TRAILER_LF;
            } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
                return -400;
            }
            i++;
            break;
        case S_TRAILER_LF:
            if (c != '\n') {
                return -400;
            }
            d->state = S_TRAILER;
            i++;
            break;
        case S_END_LF:
            if (c != '\n') {
                return -400;
            }
            d->state = S_DONE;
            *used = i + 1;
            return HTTP_CHUNKED_DONE;
        case S_DONE:
            *used = i;
            return HTTP_CHUNKED_DONE;
        default:
            return -400;
        }
    }
    *used = i;
    return d->state == S_DONE ? HTTP_CHUNKED_DONE : HTTP_CHUNKED_MORE;
}
