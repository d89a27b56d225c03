/* range.c - see range.h. */
#include "proto/range.h"

#include "core/base/numfmt.h"

#include <errno.h>
#include <stdlib.h>

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Digits at v[*i]: 1 and the value (saturated at UINT64_MAX: 1*DIGIT has no bound, and
 * anything that large is past every file), or 0 if there are none. */
static int digits(struct slice v, size_t *i, uint64_t *out)
{
    size_t s = *i;
    while (*i < v.len && v.ptr[*i] >= '0' && v.ptr[*i] <= '9') {
        (*i)++;
    }
    if (*i == s) {
        return 0;
    }
    if (num_parse_u64(slice_make(v.ptr + s, *i - s), UINT64_MAX, out) != 0) {
        *out = UINT64_MAX;
    }
    return 1;
}

static int cmp_range(const void *a, const void *b)
{
    const struct http_range *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

int http_range_parse(struct slice v, uint64_t size, struct http_range *out, unsigned cap)
{
    v = slice_trim_ows(v);
    if (v.len < 6 || !slice_eq_nocase(slice_make(v.ptr, 6), SLICE_LIT("bytes="))) {
        return 0; /* another unit, or not a range at all: ignore */
    }
    struct http_range tmp[64];
    unsigned n = 0, specs = 0;
    size_t i = 6;
    for (;;) {
        while (i < v.len && (is_ows(v.ptr[i]) || v.ptr[i] == ',')) {
            i++; /* empty list elements are allowed (RFC 9110 5.6.1) */
        }
        if (i >= v.len) {
            break;
        }
        uint64_t a = 0, b = 0;
        int ha = digits(v, &i, &a);
        if (ha < 0 || i >= v.len || v.ptr[i] != '-') {
            return 0;
        }
        i++;
        int hb = digits(v, &i, &b);
        if (hb < 0 || (ha == 0 && hb == 0)) {
            return 0;
        }
        while (i < v.len && is_ows(v.ptr[i])) {
            i++;
        }
        if (i < v.len && v.ptr[i] != ',') {
            return 0;
        }
        if (ha && hb && b < a) {
            return 0; /* last-pos < first-pos: the whole field is invalid */
        }
        if (++specs > 64) {
            return 0; /* absurd: treat as no Range */
        }
        struct http_range r;
        if (!ha) {
            /* suffix: the last b bytes */
            if (b > 0 && size == 0) {
                return 0; /* satisfiable but empty (RFC 9110 14.1.1): send the empty 200 */
            }
            if (b == 0) {
                continue;
            }
            r.first = b >= size ? 0 : size - b;
            r.last = size - 1;
        } else {
            if (a >= size) {
                continue; /* starts past the end: unsatisfiable on its own */
            }
            r.first = a;
            r.last = (!hb || b >= size) ? size - 1 : b;
        }
        tmp[n++] = r;
    }
    if (specs == 0) {
        return 0;
    }
    if (n == 0) {
        return -416;
    }
    qsort(tmp, n, sizeof(tmp[0]), cmp_range);
    unsigned m = 0;
    for (unsigned k = 0; k < n; k++) {
        if (m && tmp[k].first <= tmp[m - 1].last + 1) {
            if (tmp[k].last > tmp[m - 1].last) {
                tmp[m - 1].last = tmp[k].last; /* overlapping or adjacent: merge */
            }
        } else {
            tmp[m++] = tmp[k];
        }
    }
    if (m > cap || m > HTTP_RANGES_MAX) {
        return 0;
    }
    for (unsigned k = 0; k < m; k++) {
        out[k] = tmp[k];
    }
    return (int)m;
}
