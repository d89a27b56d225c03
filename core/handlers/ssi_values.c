/* ssi_values.c - how SSI writes values (see ssi_values.h). */
#include "core/handlers/ssi_values.h"

#include "core/handlers/ssi_parse.h"
#include "proto/uri.h"

#include <stdio.h>
#include <string.h>

/* Apache's sizes: "bytes" with thousands separated by commas, "abbrev" as apr_strfsize. */
struct slice ssi_fmt_size(struct arena *a, uint8_t sizefmt, uint64_t size)
{
    char *out = arena_alloc(a, 40);
    if (!out) {
        return SLICE_NULL;
    }
    if (sizefmt == SSI_SIZEFMT_BYTES) {
        char d[24];
        int n = snprintf(d, sizeof(d), "%llu", (unsigned long long)size), k = 0;
        for (int i = 0; i < n; i++) {
            if (i && (n - i) % 3 == 0) {
                out[k++] = ',';
            }
            out[k++] = d[i];
        }
        return slice_make(out, (size_t)k);
    }
    static const char ord[] = "KMGTPE";
    const char *o = ord;
    if (size < 973) {
        return slice_make(out, (size_t)snprintf(out, 40, "%3d ", (int)size));
    }
    for (;;) {
        int remain = (int)(size & 1023);
        size >>= 10;
        if (size >= 973) {
            ++o;
            continue;
        }
        if (size < 9 || (size == 9 && remain < 973)) {
            if ((remain = ((remain * 5) + 256) / 512) >= 10) {
                ++size;
                remain = 0;
            }
            return slice_make(out, (size_t)snprintf(out, 40, "%d.%d%c", (int)size, remain, *o));
        }
        if (remain >= 512) {
            ++size;
        }
        return slice_make(out, (size_t)snprintf(out, 40, "%3d%c", (int)size, *o));
    }
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'                 ? c - '0'
           : (c | 32) >= 'a' && (c | 32) <= 'f' ? (c | 32) - 'a' + 10
                                                : -1;
}

struct slice ssi_unescape(struct arena *a, struct slice s)
{
    char *o = arena_alloc(a, s.len + 1);
    if (!o) {
        return SLICE_NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] == '%' && i + 2 < s.len && hexval(s.ptr[i + 1]) >= 0 &&
            hexval(s.ptr[i + 2]) >= 0) {
            o[k++] = (char)(hexval(s.ptr[i + 1]) * 16 + hexval(s.ptr[i + 2]));
            i += 2;
        } else {
            o[k++] = s.ptr[i] == '+' ? ' ' : s.ptr[i];
        }
    }
    return slice_make(o, k);
}

/* echo's encodings: entity (HTML), url (a URI component), none. */
struct slice ssi_encode(struct arena *a, struct slice v, uint8_t enc)
{
    if (enc == SSI_ENC_NONE || !v.len) {
        return v;
    }
    char *o = arena_alloc(a, 6 * v.len);
    if (!o) {
        return SLICE_NULL;
    }
    if (enc == SSI_ENC_URL) {
        return slice_make(o, uri_escape(o, v, URI_ESC_COMPONENT));
    }
    size_t k = 0;
    for (size_t i = 0; i < v.len; i++) {
        const char *e = v.ptr[i] == '&'    ? "&amp;"
                        : v.ptr[i] == '<'  ? "&lt;"
                        : v.ptr[i] == '>'  ? "&gt;"
                        : v.ptr[i] == '"'  ? "&quot;"
                        : v.ptr[i] == '\'' ? "&#39;"
                                           : NULL;
        if (e) {
            memcpy(o + k, e, strlen(e));
            k += strlen(e);
        } else {
            o[k++] = v.ptr[i];
        }
    }
    return slice_make(o, k);
}
