/* response.c - see response.h. */
#include "proto/response.h"

#include "core/base/numfmt.h"
#include "proto/http.h"

void hbuf_u64(struct http_buf *b, uint64_t v)
{
    char tmp[24];
    hbuf_put(b, tmp, num_u64_to_dec(tmp, v));
}

void http_put_status_line(struct http_buf *b, int status)
{
    char code[3] = {(char)('0' + status / 100 % 10), (char)('0' + status / 10 % 10),
                    (char)('0' + status % 10)};
    hbuf_lit(b, "HTTP/1.1 ");
    hbuf_put(b, code, 3);
    hbuf_lit(b, " ");
    hbuf_slice(b, http_status_reason(status));
    hbuf_lit(b, "\r\n");
}

void http_put_header(struct http_buf *b, struct slice name, struct slice value)
{
    hbuf_slice(b, name);
    hbuf_lit(b, ": ");
    hbuf_slice(b, value);
    hbuf_lit(b, "\r\n");
}

void http_put_header_u64(struct http_buf *b, struct slice name, uint64_t v)
{
    hbuf_slice(b, name);
    hbuf_lit(b, ": ");
    hbuf_u64(b, v);
    hbuf_lit(b, "\r\n");
}

#define ERR_A "<!DOCTYPE html>\n<html><head><title>"
#define ERR_B "</title></head>\n<body><h1>"
#define ERR_C "</h1><hr><p>spate</p></body></html>\n"

size_t http_error_body_len(int status)
{
    struct slice r = http_status_reason(status);
    return sizeof(ERR_A) - 1 + sizeof(ERR_B) - 1 + sizeof(ERR_C) - 1 + 2 * (4 + r.len);
}

size_t http_put_error_body(struct http_buf *b, int status)
{
    size_t start = b->len;
    char code[4] = {(char)('0' + status / 100 % 10), (char)('0' + status / 10 % 10),
                    (char)('0' + status % 10), ' '};
    struct slice r = http_status_reason(status);
    hbuf_lit(b, ERR_A);
    hbuf_put(b, code, 4);
    hbuf_slice(b, r);
    hbuf_lit(b, ERR_B);
    hbuf_put(b, code, 4);
    hbuf_slice(b, r);
    hbuf_lit(b, ERR_C);
    return b->len - start;
}
