/* numfmt.c - see numfmt.h. */
#include "core/base/numfmt.h"

#include <errno.h>

size_t num_u64_to_dec(char *dst, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++) {
        dst[i] = tmp[n - 1 - i];
    }
    return n;
}

int num_parse_u64(struct slice s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (s.len == 0) {
        return -EINVAL;
    }
    for (size_t i = 0; i < s.len; i++) {
        unsigned d = (unsigned char)s.ptr[i] - '0';
        if (d > 9) {
            return -EINVAL;
        }
        if (v > (max - d) / 10) {
            /* keep scanning so "12x" is EINVAL, not ERANGE */
            for (size_t j = i + 1; j < s.len; j++) {
                if ((unsigned char)s.ptr[j] - '0' > 9) {
                    return -EINVAL;
                }
            }
            return -ERANGE;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

const char num_hex_upper[16] = "0123456789ABCDEF";

size_t num_u64_to_hex(char *dst, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[16];
    size_t n = 0;
    do {
        tmp[n++] = digits[v & 15];
        v >>= 4;
    } while (v);
    for (size_t i = 0; i < n; i++) {
        dst[i] = tmp[n - 1 - i];
    }
    return n;
}
