/* format.c - see format.h. */
#include "log/format.h"

#include "core/base/alloc.h"
#include "core/base/numfmt.h"
#include "core/base/utf8.h"
#include "log/ring.h"
#include "proto/hdr_table.h"

#include <stdio.h>
#include <string.h>

/* Longest output of one string variable; longer values end in "..." (docs/logging.md). */
#define CAP_LONG 2048u  /* request line, URI */
#define CAP_SHORT 1024u /* everything else */
/* A format whose phase-1 output could exceed this is refused at startup. */
#define CAPTURE_MAX 24576u

enum var {
    V_LITERAL,
    /* phase 1 */
    V_REMOTE_ADDR,
    V_REMOTE_PORT,
    V_REMOTE_HOST, /* these three leave a hole as well, filled when the answer is known */
    V_IDENT,
    V_CLF_HOST,
    V_REMOTE_USER,
    V_REQUEST,
    V_METHOD,
    V_REQUEST_URI,
    V_URI,
    V_ARGS,
    V_PROTOCOL,
    V_STATUS,
    V_HOST,
    V_REFERER,
    V_USER_AGENT,
    V_HTTP_HEADER,
    V_WORKER,
    V_CONNECTION,
    V_CONN_REQUESTS,
    V__PHASE2,
    /* phase 2: holes */
    V_TIME_LOCAL = V__PHASE2,
    V_TIME_ISO8601,
    V_TIME_UTC,
    V_MSEC,
    V_BODY_BYTES,
    V_BYTES_SENT,
    V_REQUEST_TIME,
    V_REQUEST_TIME_US,
    /* the identity holes: the text after them (the address, "-") stands unless an answer came */
    V_HOLE_HOST,
    V_HOLE_IDENT,
};

/* Does op var leave a hole in the capture? */
static bool leaves_hole(uint8_t v)
{
    return v >= V__PHASE2 || v == V_REMOTE_HOST || v == V_IDENT || v == V_CLF_HOST;
}

/* The most bytes phase 2 writes into a hole of var v. */
static size_t hole_bound(uint8_t v)
{
    return v == V_HOLE_HOST || v == V_HOLE_IDENT ? 1024u + 8 : 48;
}

struct log_op {
    uint8_t var;
    char *text; /* literal text, or the lowercase header name for V_HTTP_HEADER */
    size_t len;
};

static const struct {
    const char *name;
    uint8_t var;
} vars[] = {
    {"remote_addr", V_REMOTE_ADDR},
    {"remote_port", V_REMOTE_PORT},
    {"remote_host", V_REMOTE_HOST},
    {"ident", V_IDENT},
    {"remote_ident", V_IDENT},
    {"clf_host", V_CLF_HOST},
    {"remote_user", V_REMOTE_USER},
    {"request", V_REQUEST},
    {"request_method", V_METHOD},
    {"request_uri", V_REQUEST_URI},
    {"uri", V_URI},
    {"args", V_ARGS},
    {"query_string", V_ARGS},
    {"server_protocol", V_PROTOCOL},
    {"status", V_STATUS},
    {"host", V_HOST},
    {"http_referer", V_REFERER},
    {"http_user_agent", V_USER_AGENT},
    {"worker_id", V_WORKER},
    {"connection", V_CONNECTION},
    {"connection_requests", V_CONN_REQUESTS},
    {"time_local", V_TIME_LOCAL},
    {"time_iso8601", V_TIME_ISO8601},
    {"time_utc", V_TIME_UTC},
    {"msec", V_MSEC},
    {"body_bytes_sent", V_BODY_BYTES},
    {"bytes_sent", V_BYTES_SENT},
    {"request_time", V_REQUEST_TIME},
    {"request_time_us", V_REQUEST_TIME_US},
};

/* nginx-compatible built-ins; "common" is the Common Log Format */
static const char fmt_common[] =
    "$clf_host $ident $remote_user [$time_local] \"$request\" $status $body_bytes_sent";
static const char fmt_combined[] =
    "$clf_host $ident $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
    "\"$http_referer\" \"$http_user_agent\"";
static const char fmt_json[] =
    "{\"time\":\"$time_utc\",\"time_local\":\"$time_local\",\"remote_addr\":\"$remote_addr\","
    "\"remote_port\":$remote_port,\"ident\":\"$ident\",\"remote_user\":\"$remote_user\","
    "\"request\":\"$request\",\"method\":\"$request_method\",\"uri\":\"$request_uri\","
    "\"path\":\"$uri\",\"query\":\"$args\",\"protocol\":\"$server_protocol\","
    "\"status\":$status,\"body_bytes_sent\":$body_bytes_sent,\"bytes_sent\":$bytes_sent,"
    "\"request_time_us\":$request_time_us,\"host\":\"$host\",\"referer\":\"$http_referer\","
    "\"user_agent\":\"$http_user_agent\",\"worker\":$worker_id,\"connection\":$connection,"
    "\"connection_requests\":$connection_requests}";

const char *log_format_builtin(const char *name, enum log_escape *esc)
{
    if (strcmp(name, "common") == 0) {
        *esc = LOG_ESC_DEFAULT;
        return fmt_common;
    }
    if (strcmp(name, "combined") == 0) {
        *esc = LOG_ESC_DEFAULT;
        return fmt_combined;
    }
    if (strcmp(name, "json") == 0) {
        *esc = LOG_ESC_JSON;
        return fmt_json;
    }
    return NULL;
}

static bool var_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static int add_op(struct log_format *f, uint8_t var, const char *text, size_t len)
{
    struct log_op *n = sp_realloc(f->ops, (f->nops + 1) * sizeof(*n));
    if (!n) {
        return -1;
    }
    f->ops = n;
    struct log_op *op = &n[f->nops++];
    op->var = var;
    op->len = len;
    op->text = NULL;
    if (text) {
        op->text = sp_strndup(text, len);
        if (!op->text) {
            return -1;
        }
    }
    return 0;
}

static size_t var_cap(uint8_t v)
{
    switch (v) {
    case V_REQUEST:
    case V_REQUEST_URI:
    case V_URI:
        return CAP_LONG;
    default:
        return CAP_SHORT;
    }
}

static size_t max_capture(const struct log_format *f)
{
    size_t n = 8;
    for (unsigned i = 0; i < f->nops; i++) {
        const struct log_op *op = &f->ops[i];
        if (op->var == V_LITERAL) {
            n += op->len;
        } else if (op->var >= V__PHASE2) {
            n += 8; /* a hole record */
        } else if (leaves_hole(op->var)) {
            n += var_cap(op->var) + 16; /* a hole record, then the text it may replace */
        } else {
            n += var_cap(op->var) + 8;
        }
    }
    return n;
}

int log_format_compile(struct log_format *f, const char *name, const char *text,
                       enum log_escape esc, char *err, size_t errlen)
{
    memset(f, 0, sizeof(*f));
    f->escape = esc;
    f->name = sp_strndup(name, strlen(name));
    const char *p = text, *lit = text;
    while (*p) {
        if (*p != '$') {
            p++;
            continue;
        }
        if (p > lit && add_op(f, V_LITERAL, lit, (size_t)(p - lit)) < 0) {
            goto oom;
        }
        const char *s = ++p;
        bool braced = *p == '{';
        if (braced) {
            s = ++p;
        }
        while (var_char(*p)) {
            p++;
        }
        size_t n = (size_t)(p - s);
        if (braced) {
            if (*p != '}') {
                snprintf(err, errlen, "log_format \"%s\": unterminated ${ in \"%s\"", name, text);
                log_format_free(f);
                return -1;
            }
            p++;
        }
        if (n == 0) {
            snprintf(err, errlen, "log_format \"%s\": \"$\" without a variable name", name);
            log_format_free(f);
            return -1;
        }
        int var = -1;
        for (size_t i = 0; i < ARRAY_SIZE(vars); i++) {
            if (strlen(vars[i].name) == n && memcmp(vars[i].name, s, n) == 0) {
                var = vars[i].var;
            }
        }
        if (var < 0 && n > 5 && memcmp(s, "http_", 5) == 0) {
            /* $http_x_forwarded_for: any request header, '_' for '-' */
            char hname[128];
            size_t hn = MIN(n - 5, sizeof(hname));
            for (size_t i = 0; i < hn; i++) {
                char c = s[5 + i];
                hname[i] = c == '_' ? '-' : (char)((c >= 'A' && c <= 'Z') ? c | 0x20 : c);
            }
            if (add_op(f, V_HTTP_HEADER, hname, hn) < 0) {
                goto oom;
            }
        } else if (var < 0) {
            snprintf(err, errlen, "log_format \"%s\": unknown variable \"$%.*s\"", name, (int)n, s);
            log_format_free(f);
            return -1;
        } else if (add_op(f, (uint8_t)var, NULL, 0) < 0) {
            goto oom;
        }
        if (var == V_REMOTE_ADDR || var == V_REMOTE_PORT || var == V_REMOTE_HOST ||
            var == V_CLF_HOST) {
            f->needs_addr = true;
        }
        lit = p;
    }
    if (p > lit && add_op(f, V_LITERAL, lit, (size_t)(p - lit)) < 0) {
        goto oom;
    }
    size_t holes = 0;
    for (unsigned i = 0; i < f->nops; i++) {
        uint8_t v = f->ops[i].var;
        holes += !leaves_hole(v)         ? 0
                 : v == V_REMOTE_HOST || v == V_CLF_HOST ? hole_bound(V_HOLE_HOST)
                 : v == V_IDENT          ? hole_bound(V_HOLE_IDENT)
                                         : hole_bound(v);
    }
    if (max_capture(f) + holes + 1 > LOG_REC_MAX) {
        snprintf(err, errlen, "log_format \"%s\" can produce lines longer than %u bytes", name,
                 LOG_REC_MAX);
        log_format_free(f);
        return -1;
    }
    if (max_capture(f) > CAPTURE_MAX) {
        snprintf(err, errlen,
                 "log_format \"%s\" has too many variables (at most %u bytes of request "
                 "fields per line)",
                 name, CAPTURE_MAX);
        log_format_free(f);
        return -1;
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    log_format_free(f);
    return -1;
}

void log_format_free(struct log_format *f)
{
    for (unsigned i = 0; i < f->nops; i++) {
        sp_free(f->ops[i].text);
    }
    sp_free(f->ops);
    sp_free(f->name);
    memset(f, 0, sizeof(*f));
}

/* ---------------------------------------------------------------- escaping */

/* bytes written as they are: printable ASCII except the quote and the backslash */
static const uint8_t plain[256] = {
    [0x20 ... 0x21] = 1,
    [0x23 ... 0x5b] = 1,
    [0x5d ... 0x7e] = 1,
};

/* Escapes one byte (or, in JSON, one UTF-8 sequence) at p; returns bytes written to tmp. */
static size_t escape_one(const unsigned char *p, size_t left, enum log_escape esc, char *tmp,
                         size_t *adv)
{
    unsigned char c = p[0];
    *adv = 1;
    if (esc == LOG_ESC_NONE || plain[c]) {
        tmp[0] = (char)c;
        return 1;
    }
    if (esc == LOG_ESC_JSON) {
        if (c == '"' || c == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)c;
            return 2;
        }
        if (c == '\n' || c == '\r' || c == '\t') {
            tmp[0] = '\\';
            tmp[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
            return 2;
        }
        size_t u = c >= 0x80 ? utf8_len(p, left) : 0;
        if (u) {
            memcpy(tmp, p, u); /* valid UTF-8 passes through */
            *adv = u;
            return u;
        }
        memcpy(tmp, "\\u00", 4);
        tmp[4] = num_hex_upper[c >> 4];
        tmp[5] = num_hex_upper[c & 15];
        return 6;
    }
    tmp[0] = '\\';
    tmp[1] = 'x';
    tmp[2] = num_hex_upper[c >> 4];
    tmp[3] = num_hex_upper[c & 15];
    return 4;
}

size_t log_escape_into(char *out, size_t cap, struct slice s, enum log_escape esc, size_t *consumed)
{
    const unsigned char *p = (const unsigned char *)s.ptr;
    size_t o = 0, i = 0;
    while (i < s.len) {
        /* runs of plain bytes are copied at once */
        size_t r = i;
        while (r < s.len && plain[p[r]]) {
            r++;
        }
        size_t run = MIN(r - i, cap - o);
        memcpy(out + o, p + i, run);
        o += run;
        i += run;
        if (i < r || i == s.len) {
            break; /* out of room, or done */
        }
        char tmp[8];
        size_t adv;
        size_t n = escape_one(p + i, s.len - i, esc, tmp, &adv);
        if (o + n > cap) {
            break;
        }
        memcpy(out + o, tmp, n);
        o += n;
        i += adv;
    }
    if (consumed) {
        *consumed = i;
    }
    return o;
}

/* ---------------------------------------------------------------- phase 1 */

/* capture layout: u32 text length, u16 hole count, u16 escape, holes (u32 at, u8 var, 3 pad), text
 */
struct hole {
    uint32_t at;
    uint8_t var;
    uint8_t pad[3];
};

struct capture_hdr {
    uint32_t textlen;
    uint16_t nholes;
    uint16_t esc;
};

static struct slice header_value(const struct log_req_info *ri, const struct log_op *op);

/* Escaped size of a string variable of n input bytes (6x for JSON \u00HH, 4x for \xHH). */
static size_t str_bound(size_t n, enum log_escape esc, size_t vcap)
{
    size_t k = esc == LOG_ESC_JSON ? 6 : esc == LOG_ESC_DEFAULT ? 4 : 1;
    return MIN(n * k, vcap) + 3;
}

size_t log_capture_bound(const struct log_format *f, const struct log_req_info *ri)
{
    size_t n = sizeof(struct capture_hdr) + 8;
    if (!ri) {
        return n + max_capture(f) + f->nops * sizeof(struct hole);
    }
    for (unsigned i = 0; i < f->nops; i++) {
        const struct log_op *op = &f->ops[i];
        size_t vc = var_cap(op->var);
        enum log_escape e = f->escape;
        switch (op->var) {
        case V_LITERAL:
            n += op->len;
            break;
        case V_REMOTE_ADDR:
            n += 48;
            break;
        case V_REMOTE_HOST:
        case V_CLF_HOST:
        case V_IDENT:
            n += 48 + sizeof(struct hole);
            break;
        case V_REMOTE_USER:
            n += str_bound(ri->remote_user ? strlen(ri->remote_user) : 1, e, vc);
            break;
        case V_REQUEST:
            n += str_bound(ri->request_line.len, e, vc);
            break;
        case V_METHOD:
            n += str_bound(ri->method.len, e, vc);
            break;
        case V_REQUEST_URI:
            n += str_bound(ri->target.len, e, vc);
            break;
        case V_URI:
            n += str_bound(ri->path.len, e, vc);
            break;
        case V_ARGS:
            n += str_bound(ri->query.len, e, vc);
            break;
        case V_PROTOCOL:
            n += str_bound(ri->protocol.len, e, vc);
            break;
        case V_HOST:
            n += str_bound(ri->host.len, e, vc);
            break;
        case V_REFERER:
            n += str_bound(ri->referer.len, e, vc);
            break;
        case V_USER_AGENT:
            n += str_bound(ri->user_agent.len, e, vc);
            break;
        case V_HTTP_HEADER:
            n += str_bound(header_value(ri, op).len, e, vc);
            break;
        default:
            n += op->var >= V__PHASE2 ? sizeof(struct hole) : 24; /* numbers, "-" */
            break;
        }
    }
    return ALIGN_UP(n, (size_t)8);
}

/* A string variable: escaped, "-" when empty (not in JSON), cut to vcap bytes with "...". */
static size_t put_str(char *out, size_t cap, struct slice s, enum log_escape esc, size_t vcap)
{
    if (s.len == 0) {
        if (esc == LOG_ESC_JSON || cap == 0) {
            return 0;
        }
        out[0] = '-'; /* an empty value is "-", as nginx writes it */
        return 1;
    }
    size_t lim = MIN(cap, vcap);
    size_t used;
    size_t n = log_escape_into(out, lim, s, esc, &used);
    if (used == s.len || lim < 3) {
        return n;
    }
    n = log_escape_into(out, lim - 3, s, esc, &used);
    memcpy(out + n, "...", 3);
    return n + 3;
}

static size_t put_u64(char *out, size_t cap, uint64_t v)
{
    if (cap < 20) {
        return 0;
    }
    return num_u64_to_dec(out, v);
}

static struct slice header_value(const struct log_req_info *ri, const struct log_op *op)
{
    if (!ri->headers) {
        return SLICE_NULL;
    }
    const struct http_header *h = hdr_get(ri->headers, slice_make(op->text, op->len));
    return h ? h->value : SLICE_NULL;
}

size_t log_render_request(const struct log_format *f, const struct log_req_info *ri, char *out,
                          size_t cap)
{
    unsigned nholes = 0;
    for (unsigned i = 0; i < f->nops; i++) {
        uint8_t v = f->ops[i].var;
        nholes += leaves_hole(v) && (v != V_CLF_HOST || ri->host_lookups);
    }
    if (cap < sizeof(struct capture_hdr) + nholes * sizeof(struct hole)) {
        return 0;
    }
    struct capture_hdr *h = (struct capture_hdr *)out;
    struct hole *holes = (struct hole *)(h + 1);
    char *text = (char *)(holes + nholes);
    size_t tcap = cap - (size_t)(text - out), t = 0;
    unsigned k = 0;
    enum log_escape esc = f->escape;
    for (unsigned i = 0; i < f->nops; i++) {
        const struct log_op *op = &f->ops[i];
        char *o = text + t;
        size_t room = tcap - t, vc = var_cap(op->var);
        switch (op->var) {
        case V_LITERAL:
            memcpy(o, op->text, MIN(op->len, room));
            t += MIN(op->len, room);
            continue;
        case V_REMOTE_ADDR:
            t += put_str(o, room, slice_cstr(ri->client_addr), esc, vc);
            continue;
        case V_REMOTE_PORT:
            t += put_u64(o, room, ri->client_port);
            continue;
        case V_CLF_HOST:
            if (!ri->host_lookups) {
                t += put_str(o, room, slice_cstr(ri->client_addr), esc, vc);
                continue;
            }
            /* hostname_lookups is on for this request: the name (%h) */
            __attribute__((fallthrough));
        case V_REMOTE_HOST:
        case V_IDENT: {
            /* the hole, then what stands when no answer comes: the address, or "-" */
            bool host = op->var != V_IDENT;
            size_t n = put_str(o, room, host ? slice_cstr(ri->client_addr) : SLICE_LIT("-"), esc,
                               MIN(vc, (size_t)255));
            holes[k].at = (uint32_t)t;
            holes[k].var = host ? V_HOLE_HOST : V_HOLE_IDENT;
            holes[k].pad[0] = (uint8_t)n;
            k++;
            t += n;
            continue;
        }
        case V_REMOTE_USER:
            t += put_str(o, room, slice_cstr(ri->remote_user), esc, vc);
            continue;
        case V_REQUEST:
            t += put_str(o, room, ri->request_line, esc, vc);
            continue;
        case V_METHOD:
            t += put_str(o, room, ri->method, esc, vc);
            continue;
        case V_REQUEST_URI:
            t += put_str(o, room, ri->target, esc, vc);
            continue;
        case V_URI:
            t += put_str(o, room, ri->path, esc, vc);
            continue;
        case V_ARGS:
            t += put_str(o, room, ri->query, esc, vc);
            continue;
        case V_PROTOCOL:
            t += put_str(o, room, ri->protocol, esc, vc);
            continue;
        case V_STATUS:
            t += put_u64(o, room, (uint64_t)ri->status);
            continue;
        case V_HOST:
            t += put_str(o, room, ri->host, esc, vc);
            continue;
        case V_REFERER:
            t += put_str(o, room, ri->referer, esc, vc);
            continue;
        case V_USER_AGENT:
            t += put_str(o, room, ri->user_agent, esc, vc);
            continue;
        case V_HTTP_HEADER:
            t += put_str(o, room, header_value(ri, op), esc, vc);
            continue;
        case V_WORKER:
            t += put_u64(o, room, ri->worker);
            continue;
        case V_CONNECTION:
            t += put_u64(o, room, ri->connection);
            continue;
        case V_CONN_REQUESTS:
            t += put_u64(o, room, ri->conn_requests);
            continue;
        default:
            holes[k].at = (uint32_t)t;
            holes[k].var = op->var;
            k++;
            continue;
        }
    }
    h->textlen = (uint32_t)t;
    h->nholes = (uint16_t)k;
    h->esc = (uint16_t)esc;
    return (size_t)(text - out) + t;
}

/* ---------------------------------------------------------------- phase 2 */

size_t log_done_bound(const char *capture, size_t caplen)
{
    (void)caplen;
    const struct capture_hdr *h = (const struct capture_hdr *)capture;
    const struct hole *holes = (const struct hole *)(h + 1);
    size_t n = h->textlen + 1;
    for (unsigned i = 0; i < h->nholes; i++) {
        n += hole_bound(holes[i].var);
    }
    return n;
}

static size_t put_cstr(char *out, size_t cap, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    n = MIN(n, cap);
    memcpy(out, s ? s : "", n);
    return n;
}

size_t log_render_done(const char *capture, size_t caplen, const struct log_done_info *di,
                       char *out, size_t cap)
{
    (void)caplen;
    const struct capture_hdr *h = (const struct capture_hdr *)capture;
    const struct hole *holes = (const struct hole *)(h + 1);
    const char *text = (const char *)(holes + h->nholes);
    size_t o = 0, t = 0;
    if (cap == 0) {
        return 0;
    }
    cap--; /* the newline always fits: a cut line still ends where it should */
    for (unsigned i = 0; i <= h->nholes; i++) {
        size_t end = i < h->nholes ? holes[i].at : h->textlen;
        size_t n = MIN(end - t, cap - o);
        memcpy(out + o, text + t, n);
        o += n;
        t = end;
        if (i == h->nholes) {
            break;
        }
        char *p = out + o;
        size_t room = cap - o;
        switch (holes[i].var) {
        case V_TIME_LOCAL:
            o += put_cstr(p, room, di->time_local);
            break;
        case V_TIME_ISO8601:
            o += put_cstr(p, room, di->time_iso8601);
            break;
        case V_TIME_UTC:
            o += put_cstr(p, room, di->time_utc);
            break;
        case V_MSEC:
            if (room >= 32) {
                o += (size_t)snprintf(p, room, "%llu.%03llu",
                                      (unsigned long long)(di->epoch_ms / 1000),
                                      (unsigned long long)(di->epoch_ms % 1000));
            }
            break;
        case V_BODY_BYTES:
            o += put_u64(p, room, di->body_bytes_sent);
            break;
        case V_BYTES_SENT:
            o += put_u64(p, room, di->bytes_sent);
            break;
        case V_REQUEST_TIME:
            if (room >= 32) {
                o += (size_t)snprintf(p, room, "%llu.%03llu",
                                      (unsigned long long)(di->duration_us / 1000000),
                                      (unsigned long long)(di->duration_us / 1000 % 1000));
            }
            break;
        case V_REQUEST_TIME_US:
            o += put_u64(p, room, di->duration_us);
            break;
        case V_HOLE_HOST:
        case V_HOLE_IDENT: {
            const char *v = holes[i].var == V_HOLE_HOST ? di->remote_host : di->remote_ident;
            if (v && *v) {
                o += put_str(p, room, slice_cstr(v), (enum log_escape)h->esc, CAP_SHORT);
                t += holes[i].pad[0]; /* in place of the address or "-" */
            }
            break;
        }
        default:
            break;
        }
    }
    out[o++] = '\n';
    return o;
}
