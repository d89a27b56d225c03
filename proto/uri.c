/* uri.c - percent-encoding and query/cookie pairs (see uri.h). */
#include "proto/uri.h"

enum {
    C_UNSAFE = 1u << URI_ESC_TARGET,  /* never in a URI */
    C_PATH = 1u << URI_ESC_PATH,      /* starts something in a path */
    C_HOST = 1u << URI_ESC_HOST,      /* ends a host */
    C_COMP = 1u << URI_ESC_COMPONENT, /* not unreserved */
};

/* The classes that encode byte c (computed per byte: redirects are not a hot path). */
static unsigned classes(unsigned c)
{
    bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    bool unsafe = c <= 0x20 || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '\\' ||
                  c == '^' || c == '`' || c == '{' || c == '|' || c == '}';
    unsigned k = unreserved ? 0 : C_COMP;
    if (unsafe) {
        k |= C_UNSAFE | C_PATH | C_HOST;
    }
    if (c == '%' || c == '?' || c == '#' || c == '[' || c == ']') {
        k |= C_PATH;
    }
    if (c == '/' || c == '?' || c == '#' || c == '@') {
        k |= C_HOST;
    }
    return k;
}

size_t uri_escape(char *dst, struct slice src, enum uri_esc how)
{
    static const char hex[] = "0123456789ABCDEF";
    unsigned mask = 1u << how;
    size_t n = 0;
    for (size_t i = 0; i < src.len; i++) {
        unsigned char c = (unsigned char)src.ptr[i];
        if (classes(c) & mask) {
            dst[n++] = '%';
            dst[n++] = hex[c >> 4];
            dst[n++] = hex[c & 15];
        } else {
            dst[n++] = (char)c;
        }
    }
    return n;
}

struct slice uri_param(struct slice list, struct slice name, char sep)
{
    size_t i = 0;
    while (i < list.len) {
        while (sep == ';' && i < list.len && (list.ptr[i] == ' ' || list.ptr[i] == '\t')) {
            i++;
        }
        size_t start = i;
        while (i < list.len && list.ptr[i] != sep) {
            i++;
        }
        struct slice item = slice_make(list.ptr + start, i - start);
        i++;
        const char *eq = memchr(item.ptr, '=', item.len);
        struct slice k = eq ? slice_make(item.ptr, (size_t)(eq - item.ptr)) : item;
        if (slice_eq(k, name)) {
            return eq ? slice_make(eq + 1, item.len - k.len - 1) : SLICE_LIT("");
        }
    }
    return SLICE_NULL;
}

struct slice uri_host_name(struct slice host)
{
    if (host.len && host.ptr[0] == '[') {
        const char *rb = memchr(host.ptr, ']', host.len);
        if (rb) {
            host.len = (size_t)(rb - host.ptr) + 1;
        }
    } else {
        const char *colon = memchr(host.ptr, ':', host.len);
        if (colon) {
            host.len = (size_t)(colon - host.ptr);
        }
    }
    if (host.len && host.ptr[host.len - 1] == '.') {
        host.len--;
    }
    return host;
}
