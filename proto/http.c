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

struct slice http_status_reason(int status)
{
    switch (status) {
    case 100:
        return SLICE_LIT("Continue");
    case 200:
        return SLICE_LIT("OK");
    case 204:
        return SLICE_LIT("No Content");
    case 206:
        return SLICE_LIT("Partial Content");
    case 301:
        return SLICE_LIT("Moved Permanently");
    case 302:
        return SLICE_LIT("Found");
    case 303:
        return SLICE_LIT("See Other");
    case 304:
        return SLICE_LIT("Not Modified");
    case 307:
        return SLICE_LIT("Temporary Redirect");
    case 308:
        return SLICE_LIT("Permanent Redirect");
    case 400:
        return SLICE_LIT("Bad Request");
    case 401:
        return SLICE_LIT("Unauthorized");
    case 403:
        return SLICE_LIT("Forbidden");
    case 404:
        return SLICE_LIT("Not Found");
    case 405:
        return SLICE_LIT("Method Not Allowed");
    case 408:
        return SLICE_LIT("Request Timeout");
    case 411:
        return SLICE_LIT("Length Required");
    case 412:
        return SLICE_LIT("Precondition Failed");
    case 413:
        return SLICE_LIT("Content Too Large");
    case 414:
        return SLICE_LIT("URI Too Long");
    case 416:
        return SLICE_LIT("Range Not Satisfiable");
    case 417:
        return SLICE_LIT("Expectation Failed");
    case 421:
        return SLICE_LIT("Misdirected Request");
    case 431:
        return SLICE_LIT("Request Header Fields Too Large");
    case 500:
        return SLICE_LIT("Internal Server Error");
    case 501:
        return SLICE_LIT("Not Implemented");
    case 503:
        return SLICE_LIT("Service Unavailable");
    case 505:
        return SLICE_LIT("HTTP Version Not Supported");
    default:
        return SLICE_LIT("Unknown");
    }
}
