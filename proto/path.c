/* path.c - see path.h. */
#include "proto/path.h"

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c |= 0x20;
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/*
 * Ends the segment out[seg..*o): drops ".", pops the previous segment for "..".
 * Returns 0 or -403 when ".." would leave the root.
 */
static int end_segment(char *out, size_t *o, size_t *seg)
{
    size_t n = *o - *seg;
    const char *s = out + *seg;
    if (n == 1 && s[0] == '.') {
        *o = *seg;
    } else if (n == 2 && s[0] == '.' && s[1] == '.') {
        if (*seg <= 1) {
            return -403;
        }
        size_t k = *seg - 1; /* the '/' before ".." */
        while (k > 0 && out[k - 1] != '/') {
            k--;
        }
        *o = k;
        *seg = k;
    }
    return 0;
}

int http_path_normalize(struct slice raw, char *out, size_t cap, unsigned flags)
{
    if (raw.len == 0 || raw.ptr[0] != '/' || cap < raw.len + 1) {
        return -400;
    }
    size_t o = 0, seg = 1;
    out[o++] = '/';
    for (size_t i = 1; i < raw.len; i++) {
        unsigned char c = (unsigned char)raw.ptr[i];
        int sep = c == '/';
        if (c == '%') {
            if (i + 2 >= raw.len) {
                return -400;
            }
            int hi = hexval((unsigned char)raw.ptr[i + 1]);
            int lo = hexval((unsigned char)raw.ptr[i + 2]);
            if (hi < 0 || lo < 0) {
                return -400;
            }
            i += 2;
            c = (unsigned char)(hi << 4 | lo);
            if (c == 0) {
                return -404;
            }
            if (c == '/') {
                if (!(flags & HTTP_PATH_ALLOW_ENCODED_SLASH)) {
                    return -404;
                }
                sep = 1;
            }
        }
        if (sep) {
            int rc = end_segment(out, &o, &seg);
            if (rc < 0) {
                return rc;
            }
            if (out[o - 1] != '/') {
                out[o++] = '/';
            }
            seg = o;
            continue;
        }
        out[o++] = (char)c;
    }
    int rc = end_segment(out, &o, &seg);
    if (rc < 0) {
        return rc;
    }
    out[o] = '\0';
    return (int)o;
}
