/* text.c - see text.h. */
#include "tools/load/text.h"

#include "core/base/utf8.h"

#include <stdbool.h>
#include <string.h>

/* The length of the character at s if it is one an XML text node allows (UTF-8, no C0
 * control but tab, no DEL), else 0. */
static size_t xml_char(const unsigned char *s)
{
    if (*s < 0x80) {
        return (*s >= 0x20 && *s != 0x7f) || *s == '\t' ? 1 : 0;
    }
    return utf8_len(s, strnlen((const char *)s, 4));
}

void text_label(char *dst, size_t cap, const char *src)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t k = 0;
    while (*s) {
        size_t n = xml_char(s);
        size_t take = n ? n : 1;
        if (k + (n ? n : 1) >= cap) {
            break;
        }
        if (n) {
            memcpy(dst + k, s, n);
        } else {
            dst[k] = '?';
        }
        k += n ? n : 1;
        s += take;
    }
    if (cap) {
        dst[k] = 0;
    }
}

/* The UTF-8 of code point cp at out (room for 4); its length. */
static size_t put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static int hex4(const char *s, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                            : 16;
        if (d == 16) {
            return -1;
        }
        *v = *v << 4 | d;
    }
    return 0;
}

/* Decodes the JSON string whose body starts at s (after its opening quote) into out (cap
 * bytes, cut short if it must be): the escapes \" \\ \/ \b \f \n \r \t and \uXXXX (with
 * surrogate pairs). What is not valid comes out as '?'. */
void text_json_string(const char *s, char *out, size_t cap)
{
    size_t k = 0;
    while (*s && *s != '"' && k + 5 < cap) {
        if (*s != '\\') {
            out[k++] = *s++;
            continue;
        }
        s++;
        unsigned cp;
        switch (*s) {
        case 'b': out[k++] = '\b'; s++; break;
        case 'f': out[k++] = '\f'; s++; break;
        case 'n': out[k++] = '\n'; s++; break;
        case 'r': out[k++] = '\r'; s++; break;
        case 't': out[k++] = '\t'; s++; break;
        case 'u':
            if (hex4(s + 1, &cp) < 0) {
                out[k++] = '?';
                s++;
                break;
            }
            s += 5;
            if (cp >= 0xd800 && cp < 0xdc00) { /* a high surrogate: its low one follows */
                unsigned lo;
                if (s[0] == '\\' && s[1] == 'u' && hex4(s + 2, &lo) == 0 && lo >= 0xdc00 &&
                    lo < 0xe000) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    s += 6;
                } else {
                    cp = '?';
                }
            } else if (cp >= 0xdc00 && cp < 0xe000) {
                cp = '?';
            }
            k += put_utf8(out + k, cp);
            break;
        case 0: break;
        default: out[k++] = *s++; break; /* \" \\ \/ */
        }
    }
    out[k] = 0;
}
