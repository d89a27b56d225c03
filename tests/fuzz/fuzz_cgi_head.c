/*
 * fuzz_cgi_head - libFuzzer target for the CGI response head parser (proto/cgi_head.c): what
 * a script or a FastCGI application writes, which spate treats as untrusted as a request.
 *
 * Checked: a complete head ends at a line feed within the input and within max; every slice
 * lies inside the input and holds no CR, LF or NUL; no field the server frames itself is
 * passed on; a status is 200..599; parsing a prefix of a complete head never claims a
 * different head; parsing the same bytes twice gives the same answer.
 */
#include "proto/cgi_head.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(struct slice s, const char *buf, size_t len)
{
    if (s.len == 0) {
        return;
    }
    if (s.ptr < buf || s.ptr + s.len > buf + len) {
        abort();
    }
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] == '\r' || s.ptr[i] == '\n' || s.ptr[i] == '\0') {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct cgi_head h, h2;
    size_t max = size && (data[0] & 1) ? 64 : 4096;
    char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    int rc = cgi_head_parse(buf, size, max, &h);
    if (rc > 0) {
        size_t n = (size_t)rc;
        if (n > size || n > max || buf[n - 1] != '\n' || h.head_len != n) {
            abort();
        }
        if (h.status && (h.status < 200 || h.status > 599)) {
            abort();
        }
        inside(h.content_type, buf, size);
        inside(h.location, buf, size);
        inside(h.reason, buf, size);
        static const char *const framed[] = {"status", "connection", "transfer-encoding",
                                             "content-length", "content-type", "location"};
        for (unsigned i = 0; i < h.nfields; i++) {
            inside(h.fields[i].name, buf, size);
            inside(h.fields[i].value, buf, size);
            for (size_t k = 0; k < sizeof(framed) / sizeof(framed[0]); k++) {
                if (h.fields[i].name.len == strlen(framed[k]) &&
                    strncasecmp(h.fields[i].name.ptr, framed[k], h.fields[i].name.len) == 0) {
                    abort();
                }
            }
        }
        /* the head's own bytes alone give the same head */
        if (cgi_head_parse(buf, n, max, &h2) != rc || h2.nfields != h.nfields) {
            abort();
        }
        /* a prefix is incomplete, or already malformed: never another complete head */
        if (n > 1) {
            int p = cgi_head_parse(buf, n - 1, max, &h2);
            if (p > 0) {
                abort();
            }
        }
    } else if (rc != 0 && rc != -EBADMSG && rc != -E2BIG) {
        abort();
    }
    if (cgi_head_parse(buf, size, max, &h2) != rc) {
        abort();
    }
    free(buf);
    return 0;
}
