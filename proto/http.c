/* http.c - see http.h. */
#include "proto/http.h"

#include <string.h>

/* RFC 9110 5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
 * "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
const uint8_t http_tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,  ['~'] = 1, ['0'] = 1,
    ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,  ['7'] = 1, ['8'] = 1,
    ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,  ['F'] = 1, ['G'] = 1,
    ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1,  ['N'] = 1, ['O'] = 1,
    ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,  ['V'] = 1, ['W'] = 1,
    ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1,  ['d'] = 1, ['e'] = 1,
    ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1,  ['l'] = 1, ['m'] = 1,
    ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1,  ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

static const struct slice method_names[HTTP_METHOD__COUNT] = {
    [HTTP_METHOD_UNKNOWN] = SLICE_LIT("UNKNOWN"),
    [HTTP_GET] = SLICE_LIT("GET"),
    [HTTP_HEAD] = SLICE_LIT("HEAD"),
    [HTTP_POST] = SLICE_LIT("POST"),
    [HTTP_PUT] = SLICE_LIT("PUT"),
    [HTTP_DELETE] = SLICE_LIT("DELETE"),
    [HTTP_CONNECT] = SLICE_LIT("CONNECT"),
    [HTTP_OPTIONS] = SLICE_LIT("OPTIONS"),
    [HTTP_TRACE] = SLICE_LIT("TRACE"),
    [HTTP_PATCH] = SLICE_LIT("PATCH"),
};

enum http_method http_method_from(struct slice t)
{
    /* dispatch on length first: one or two memcmp at most */
    switch (t.len) {
    case 3:
        if (memcmp(t.ptr, "GET", 3) == 0) {
            return HTTP_GET;
        }
        if (memcmp(t.ptr, "PUT", 3) == 0) {
            return HTTP_PUT;
        }
        break;
    case 4:
        if (memcmp(t.ptr, "HEAD", 4) == 0) {
            return HTTP_HEAD;
        }
        if (memcmp(t.ptr, "POST", 4) == 0) {
            return HTTP_POST;
        }
        break;
    case 5:
        if (memcmp(t.ptr, "TRACE", 5) == 0) {
            return HTTP_TRACE;
        }
        if (memcmp(t.ptr, "PATCH", 5) == 0) {
            return HTTP_PATCH;
        }
        break;
    case 6:
        if (memcmp(t.ptr, "DELETE", 6) == 0) {
            return HTTP_DELETE;
        }
        break;
    case 7:
        if (memcmp(t.ptr, "OPTIONS", 7) == 0) {
            return HTTP_OPTIONS;
        }
        if (memcmp(t.ptr, "CONNECT", 7) == 0) {
            return HTTP_CONNECT;
        }
        break;
    default:
        break;
    }
    return HTTP_METHOD_UNKNOWN;
}

struct slice http_method_name(enum http_method m)
{
    if ((unsigned)m >= HTTP_METHOD__COUNT) {
        m = HTTP_METHOD_UNKNOWN;
    }
    return method_names[m];
}

/* RFC 9110 section 15, with 429 (RFC 6585) and 451 (RFC 7725): every status a handler may
 * answer with has its phrase, so a 2xx or 5xx from a future handler never reads "Unknown". */
static const struct {
    short status;
    const char *reason;
} reasons[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {203, "Non-Authoritative Information"},
    {204, "No Content"},
    {205, "Reset Content"},
    {206, "Partial Content"},
    {300, "Multiple Choices"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {305, "Use Proxy"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {402, "Payment Required"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {407, "Proxy Authentication Required"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {416, "Range Not Satisfiable"},
    {417, "Expectation Failed"},
    {421, "Misdirected Request"},
    {422, "Unprocessable Content"},
    {426, "Upgrade Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {451, "Unavailable For Legal Reasons"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
};

struct slice http_status_reason(int status)
{
    size_t lo = 0, hi = sizeof(reasons) / sizeof(reasons[0]);
    while (lo < hi) { /* sorted by status: binary search */
        size_t mid = (lo + hi) / 2;
        if (reasons[mid].status == status) {
            return slice_cstr(reasons[mid].reason);
        }
        if (reasons[mid].status < status) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return SLICE_LIT("Unknown");
}

bool http_list_next(struct slice v, size_t *pos, struct slice *el)
{
    size_t i = *pos;
    if (i > v.len) {
        return false;
    }
    size_t s = i;
    while (i < v.len && v.ptr[i] != ',') {
        i++;
    }
    *el = slice_trim_ows(slice_make(v.ptr + s, i - s));
    *pos = i + 1;
    return true;
}

bool http_list_has_token(struct slice v, struct slice tok)
{
    size_t pos = 0;
    struct slice el;
    while (http_list_next(v, &pos, &el)) {
        if (slice_eq_nocase(el, tok)) {
            return true;
        }
    }
    return false;
}
