// ref_http_parser.cc - Debian's libhttp-parser (Joyent/Node's http_parser) doing the same work
// as spate's parser in bench_parser: callbacks record the URL and every header name and value
// as pointer+length, which is what spate's parser hands back (spate also hashes and indexes
// the headers, which http_parser does not). One request head per call.
#include <cstddef>
#include <http_parser.h>

namespace
{

struct Captured {
    const char *url = nullptr;
    size_t url_len = 0;

    struct {
        const char *p;
        size_t n;
    } names[64], values[64];

    int nh = 0;
    bool done = false;
};

int on_url(http_parser *p, const char *at, size_t n)
{
    auto *c = static_cast<Captured *>(p->data);
    c->url = at;
    c->url_len = n;
    return 0;
}

int on_field(http_parser *p, const char *at, size_t n)
{
    auto *c = static_cast<Captured *>(p->data);
    if (c->nh < 64) {
        c->names[c->nh] = {at, n};
    }
    return 0;
}

int on_value(http_parser *p, const char *at, size_t n)
{
    auto *c = static_cast<Captured *>(p->data);
    if (c->nh < 64) {
        c->values[c->nh++] = {at, n};
    }
    return 0;
}

int on_headers_complete(http_parser *p)
{
    static_cast<Captured *>(p->data)->done = true;
    return 0;
}

int on_message_complete(http_parser *p)
{
    http_parser_pause(p, 1); // stop after one message, as spate's parser does
    return 0;
}

http_parser_settings make_settings()
{
    http_parser_settings s;
    http_parser_settings_init(&s);
    s.on_url = on_url;
    s.on_header_field = on_field;
    s.on_header_value = on_value;
    s.on_headers_complete = on_headers_complete;
    s.on_message_complete = on_message_complete;
    return s;
}

const http_parser_settings settings = make_settings();

} // namespace

size_t ref_http_parser_parse(const char *buf, size_t len, int *nheaders);

size_t ref_http_parser_parse(const char *buf, size_t len, int *nheaders)
{
    http_parser p;
    http_parser_init(&p, HTTP_REQUEST);
    Captured c;
    p.data = &c;
    size_t n = http_parser_execute(&p, &settings, buf, len);
    *nheaders = c.nh;
    return c.done ? n : 0;
}
