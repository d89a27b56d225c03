/*
 * negotiate.c - the Accept-* parsers and the choosers of negotiate.h.
 *
 * One scanner serves the four fields: an element is a value (a media range, a
 * language range, a token) followed by ";"-separated parameters, and the
 * field only changes how the value is validated and which parameters are
 * kept. Matching walks the client's list once per server value; the lists are
 * short (HTTP_NEG_ITEMS_MAX) so a linear scan beats any index.
 */
#include "proto/negotiate.h"

#include "proto/http.h"

/* ---- scanning ---- */

static size_t skip_ows(struct slice s, size_t i)
{
    while (i < s.len && (s.ptr[i] == ' ' || s.ptr[i] == '\t')) {
        i++;
    }
    return i;
}

static size_t scan_token(struct slice s, size_t i)
{
    while (i < s.len && http_is_tchar((unsigned char)s.ptr[i])) {
        i++;
    }
    return i;
}

/* qdtext and the second byte of a quoted-pair (RFC 9110 5.6.4): HTAB, SP, VCHAR, obs-text. */
static bool is_qchar(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* s[i] is '"': the index past the closing quote, or 0 when the string is unterminated or bad. */
static size_t scan_quoted(struct slice s, size_t i)
{
    for (i++; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c == '"') {
            return i + 1;
        }
        if (c == '\\') {
            if (++i == s.len || !is_qchar((unsigned char)s.ptr[i])) {
                return 0;
            }
        } else if (!is_qchar(c)) {
            return 0;
        }
    }
    return 0;
}

/* After a bad element: the next "," outside a quoted string, or the end. */
static size_t skip_element(struct slice s, size_t i)
{
    bool quoted = false;
    for (; i < s.len; i++) {
        char c = s.ptr[i];
        if (quoted && c == '\\') {
            i++;
        } else if (c == '"') {
            quoted = !quoted;
        } else if (!quoted && c == ',') {
            break;
        }
    }
    return i;
}

/*
 * qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), as 0..1000, or
 * -1 when v is anything else.
 */
static int parse_qvalue(struct slice v)
{
    if (v.len == 0 || v.len > 5 || (v.ptr[0] != '0' && v.ptr[0] != '1')) {
        return -1;
    }
    int q = (v.ptr[0] - '0') * 1000;
    if (v.len == 1) {
        return q;
    }
    if (v.ptr[1] != '.') {
        return -1;
    }
    int scale = 100;
    for (size_t i = 2; i < v.len; i++, scale /= 10) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9') {
            return -1;
        }
        q += (v.ptr[i] - '0') * scale;
    }
    return q > 1000 ? -1 : q;
}

/* 1*8ALPHA *("-" 1*8alphanum), or "*" (RFC 4647 2.1). */
static bool language_range_ok(struct slice v)
{
    if (v.len == 1 && v.ptr[0] == '*') {
        return true;
    }
    size_t run = 0, subtag = 0;
    for (size_t i = 0; i <= v.len; i++) {
        char c = i < v.len ? v.ptr[i] : '-';
        if (c == '-') {
            if (run == 0 || run > 8) {
                return false;
            }
            run = 0;
            subtag++;
            continue;
        }
        bool alpha = (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
        bool digit = c >= '0' && c <= '9';
        if (!alpha && !(digit && subtag > 0)) {
            return false;
        }
        run++;
    }
    return true;
}

/*
 * The element's value at s[i]: a media range for Accept, a token otherwise.
 * Returns its end, or 0 when it is not one. Sets it->spec (the media
 * range's specificity before parameters) and it->type_len.
 */
static size_t scan_value(const struct http_neg_list *l, struct slice s, size_t i,
                         struct http_neg_item *it)
{
    size_t end = scan_token(s, i);
    if (end == i) {
        return 0;
    }
    it->spec = 0;
    it->type_len = 0;
    if (l->field == HTTP_NEG_ACCEPT_LANGUAGE) {
        return language_range_ok(slice_make(s.ptr + i, end - i)) ? end : 0;
    }
    if (l->field != HTTP_NEG_ACCEPT) {
        return end;
    }
    if (end == s.len || s.ptr[end] != '/') {
        return 0; /* "text": no subtype */
    }
    size_t sub = end + 1, sub_end = scan_token(s, sub);
    if (sub_end == sub || sub_end - i > UINT16_MAX) {
        return 0; /* no subtype; or longer than any real one, and than type_len holds */
    }
    bool type_star = end - i == 1 && s.ptr[i] == '*';
    bool sub_star = sub_end - sub == 1 && s.ptr[sub] == '*';
    if (type_star && !sub_star) {
        return 0; /* "*\/html" names nothing */
    }
    it->spec = type_star ? 1 : sub_star ? 2 : 3;
    it->type_len = (uint16_t)(end - i);
    return sub_end;
}

/* One parameter "name=value" at s[i] (after the ";" and OWS). */
struct param {
    struct slice name, value; /* value as sent, quotes included */
    size_t end;
};

static bool scan_param(struct slice s, size_t i, struct param *p)
{
    size_t n_end = scan_token(s, i);
    if (n_end == i) {
        return false;
    }
    p->name = slice_make(s.ptr + i, n_end - i);
    size_t j = skip_ows(s, n_end);
    if (j == s.len || s.ptr[j] != '=') {
        return false;
    }
    j = skip_ows(s, j + 1);
    size_t v_end = j < s.len && s.ptr[j] == '"' ? scan_quoted(s, j) : scan_token(s, j);
    if (v_end <= j) {
        return false;
    }
    p->value = slice_make(s.ptr + j, v_end - j);
    p->end = v_end;
    return true;
}

/*
 * Parses the element at s[i] into *it. Returns the index of the "," or end
 * that follows it, or 0 when the element is malformed.
 */
static size_t parse_element(const struct http_neg_list *l, struct slice s, size_t i,
                            struct http_neg_item *it)
{
    size_t end = scan_value(l, s, i, it);
    if (end == 0) {
        return 0;
    }
    it->value = slice_make(s.ptr + i, end - i);
    it->params = slice_make(s.ptr + end, 0);
    it->q = HTTP_NEG_Q_ONE;
    bool seen_q = false;
    size_t params_start = 0;
    for (;;) {
        size_t j = skip_ows(s, end);
        if (j == s.len || s.ptr[j] == ',') {
            return j;
        }
        if (s.ptr[j] != ';') {
            return 0;
        }
        j = skip_ows(s, j + 1);
        if (j == s.len || s.ptr[j] == ',' || s.ptr[j] == ';') {
            end = j; /* an empty parameter, which the grammar allows */
            continue;
        }
        struct param p;
        if (!scan_param(s, j, &p)) {
            return 0;
        }
        end = p.end;
        if (seen_q) {
            continue; /* accept-ext: ignored */
        }
        if (p.name.len == 1 && (p.name.ptr[0] | 0x20) == 'q') {
            int q = parse_qvalue(p.value);
            if (q < 0) {
                return 0;
            }
            it->q = (uint16_t)q;
            seen_q = true;
        } else if (l->field == HTTP_NEG_ACCEPT) {
            /* a media-type parameter: the kept slice runs from the first to this one */
            if (params_start == 0) {
                params_start = j;
            }
            it->params = slice_make(s.ptr + params_start, p.end - params_start);
            if (it->spec < UINT16_MAX) {
                it->spec++;
            }
        }
        /* other fields: a parameter other than q is an extension, ignored */
    }
}

void http_neg_init(struct http_neg_list *l, enum http_neg_field f, struct http_neg_item *items,
                   unsigned cap)
{
    l->items = items;
    l->count = 0;
    l->cap = (uint16_t)MIN(cap, UINT16_MAX);
    l->lines = 0;
    l->malformed = 0;
    l->overflowed = 0;
    l->field = (uint8_t)f;
}

static void count_up(uint16_t *c)
{
    if (*c < UINT16_MAX) {
        (*c)++;
    }
}

void http_neg_add(struct http_neg_list *l, struct slice value)
{
    count_up(&l->lines);
    size_t i = 0;
    while (i < value.len) {
        i = skip_ows(value, i);
        if (i == value.len) {
            break;
        }
        if (value.ptr[i] == ',') {
            i++; /* an empty element */
            continue;
        }
        if (l->count == l->cap) {
            count_up(&l->overflowed);
            i = skip_element(value, i);
            continue;
        }
        size_t end = parse_element(l, value, i, &l->items[l->count]);
        if (end == 0) {
            count_up(&l->malformed);
            i = skip_element(value, i);
            continue;
        }
        l->count++;
        i = end;
    }
}

void http_neg_add_fields(struct http_neg_list *l, const struct hdr_table *t, struct slice name)
{
    for (const struct http_header *h = hdr_get(t, name); h; h = hdr_next_dup(t, h)) {
        http_neg_add(l, h->value);
    }
}

bool http_neg_absent(const struct http_neg_list *l)
{
    if (l == NULL || l->lines == 0) {
        return true;
    }
    if (l->count > 0) {
        return false;
    }
    /* nothing usable: Accept-Encoding's empty value still means "identity only" */
    return l->field != HTTP_NEG_ACCEPT_ENCODING || l->malformed > 0 || l->overflowed > 0;
}

/* ---- matching ---- */

static const struct http_neg_match match_absent = {HTTP_NEG_Q_ONE, 0, HTTP_NEG_NONE};
static const struct http_neg_match match_none = {0, 0, HTTP_NEG_NONE};

static bool is_star(struct slice v)
{
    return v.len == 1 && v.ptr[0] == '*';
}

static struct http_neg_match match_of(const struct http_neg_list *l, size_t i, uint16_t spec)
{
    struct http_neg_match m = {l->items[i].q, spec, (uint16_t)i};
    return m;
}

/* Yields the next byte of a parameter value with quoted-string quoting undone; false at its end. */
static bool value_next(struct slice v, size_t *i, char *c)
{
    bool quoted = v.len >= 2 && v.ptr[0] == '"';
    size_t end = quoted ? v.len - 1 : v.len;
    if (*i == 0 && quoted) {
        *i = 1;
    }
    if (*i >= end) {
        return false;
    }
    if (quoted && v.ptr[*i] == '\\' && *i + 1 < end) {
        (*i)++;
    }
    *c = v.ptr[(*i)++];
    return true;
}

static bool value_eq(struct slice a, struct slice b, bool nocase)
{
    size_t i = 0, j = 0;
    char ca, cb;
    for (;;) {
        bool ma = value_next(a, &i, &ca), mb = value_next(b, &j, &cb);
        if (!ma || !mb) {
            return ma == mb;
        }
        if (nocase ? slice_lower_ascii(ca) != slice_lower_ascii(cb) : ca != cb) {
            return false;
        }
    }
}

/*
 * The next parameter of a ";"-separated list (a range's, which parsed, or a
 * server media type's, which we read leniently: it stops at anything odd).
 */
static bool params_next(struct slice s, size_t *i, struct param *p)
{
    for (;;) {
        size_t j = skip_ows(s, *i);
        if (j < s.len && s.ptr[j] == ';') {
            *i = j + 1;
            continue;
        }
        if (j == s.len || !scan_param(s, j, p)) {
            return false;
        }
        *i = p->end;
        return true;
    }
}

/* Every parameter of the range is in the type's parameters, with an equal value. */
static bool params_match(struct slice range_params, struct slice type_params)
{
    size_t i = 0;
    struct param rp;
    while (params_next(range_params, &i, &rp)) {
        bool found = false, nocase = slice_eq_nocase(rp.name, SLICE_LIT("charset"));
        size_t j = 0;
        struct param tp;
        while (!found && params_next(type_params, &j, &tp)) {
            found = slice_eq_nocase(rp.name, tp.name) && value_eq(rp.value, tp.value, nocase);
        }
        if (!found) {
            return false;
        }
    }
    return true;
}

struct http_neg_match http_neg_type_match(const struct http_neg_list *accept,
                                          struct slice media_type)
{
    if (http_neg_absent(accept)) {
        return match_absent;
    }
    /* split the server's "type/subtype; params" (it is ours, so read it leniently) */
    struct slice mt = slice_trim_ows(media_type);
    size_t slash = 0, semi = 0;
    while (semi < mt.len && mt.ptr[semi] != ';') {
        if (mt.ptr[semi] == '/' && slash == 0) {
            slash = semi;
        }
        semi++;
    }
    if (slash == 0) {
        return match_none;
    }
    struct slice type = slice_make(mt.ptr, slash);
    struct slice sub = slice_trim_ows(slice_make(mt.ptr + slash + 1, semi - slash - 1));
    struct slice params = slice_make(mt.ptr + semi, mt.len - semi);

    struct http_neg_match best = match_none;
    for (size_t i = 0; i < accept->count; i++) {
        const struct http_neg_item *it = &accept->items[i];
        if (it->spec <= best.spec) {
            continue; /* the first of equally specific ranges wins */
        }
        size_t rs = it->type_len;
        if (rs == 0) {
            continue; /* not a media range: a list of another field */
        }
        struct slice rtype = slice_make(it->value.ptr, rs);
        struct slice rsub = slice_make(it->value.ptr + rs + 1, it->value.len - rs - 1);
        bool ok = is_star(rtype) ||
                  (slice_eq_nocase(rtype, type) && (is_star(rsub) || slice_eq_nocase(rsub, sub)));
        if (ok && (it->params.len == 0 || params_match(it->params, params))) {
            best = match_of(accept, i, it->spec);
        }
    }
    return best;
}

/* RFC 4647 3.3.1: range equals tag, or is a prefix of it ending at a "-". */
static bool language_prefix(struct slice range, struct slice tag)
{
    if (range.len > tag.len) {
        return false;
    }
    if (range.len < tag.len && tag.ptr[range.len] != '-') {
        return false;
    }
    return slice_eq_nocase(range, slice_make(tag.ptr, range.len));
}

struct http_neg_match http_neg_language_match(const struct http_neg_list *lang, struct slice tag)
{
    if (http_neg_absent(lang)) {
        return match_absent;
    }
    tag = slice_trim_ows(tag);
    struct http_neg_match best = match_none;
    for (size_t i = 0; i < lang->count; i++) {
        struct slice r = lang->items[i].value;
        uint16_t spec = is_star(r) ? 1 : (uint16_t)(r.len + 1);
        if (spec > best.spec && (is_star(r) || (tag.len > 0 && language_prefix(r, tag)))) {
            best = match_of(lang, i, spec);
        }
    }
    return best;
}

/* The element naming v exactly (2) or "*" (1), whichever is more specific. */
static struct http_neg_match token_match(const struct http_neg_list *l, struct slice v,
                                         bool (*eq)(struct slice, struct slice))
{
    struct http_neg_match best = match_none;
    for (size_t i = 0; i < l->count && best.spec < 2; i++) {
        struct slice r = l->items[i].value;
        if (best.spec < 1 && is_star(r)) {
            best = match_of(l, i, 1);
        } else if (eq(r, v)) {
            best = match_of(l, i, 2);
        }
    }
    return best;
}

struct http_neg_match http_neg_charset_match(const struct http_neg_list *cs, struct slice charset)
{
    if (http_neg_absent(cs)) {
        return match_absent;
    }
    return token_match(cs, slice_trim_ows(charset), slice_eq_nocase);
}

/* "x-gzip" and "x-compress" are the same codings as "gzip" and "compress" (RFC 9110 8.4.1). */
static struct slice coding_canon(struct slice c)
{
    if (c.len > 2 && (c.ptr[0] | 0x20) == 'x' && c.ptr[1] == '-') {
        struct slice rest = slice_make(c.ptr + 2, c.len - 2);
        if (slice_eq_nocase(rest, SLICE_LIT("gzip")) ||
            slice_eq_nocase(rest, SLICE_LIT("compress"))) {
            return rest;
        }
    }
    return c;
}

static bool coding_eq(struct slice a, struct slice b)
{
    return slice_eq_nocase(coding_canon(a), coding_canon(b));
}

struct http_neg_match http_neg_coding_match(const struct http_neg_list *ae, struct slice coding)
{
    if (http_neg_absent(ae)) {
        return match_absent;
    }
    coding = slice_trim_ows(coding);
    struct http_neg_match m = token_match(ae, coding, coding_eq);
    if (m.spec == 0 && slice_eq_nocase(coding, SLICE_LIT("identity"))) {
        /* unlisted and no "*": acceptable, after every coding the client named */
        m.q = ae->count == 0 ? HTTP_NEG_Q_ONE : HTTP_NEG_Q_IDENTITY;
    }
    return m;
}

int http_neg_choose_coding(const struct http_neg_list *ae, const struct slice *offered, unsigned n)
{
    if (n == 0) {
        return -1;
    }
    if (http_neg_absent(ae)) {
        for (unsigned i = 0; i < n; i++) {
            if (slice_eq_nocase(slice_trim_ows(offered[i]), SLICE_LIT("identity"))) {
                return (int)i;
            }
        }
        return 0;
    }
    int best = -1;
    uint16_t best_q = 0;
    for (unsigned i = 0; i < n; i++) {
        uint16_t q = http_neg_coding_match(ae, offered[i]).q;
        if (q > best_q) {
            best = (int)i;
            best_q = q;
        }
    }
    return best;
}

/* ---- variants ---- */

/* A variant's language quality; see http_neg_choose_variant for the no-language rule. */
static struct http_neg_match variant_language(const struct http_neg_list *lang, struct slice tag)
{
    if (tag.len > 0 || http_neg_absent(lang)) {
        return http_neg_language_match(lang, tag);
    }
    struct http_neg_match m = {HTTP_NEG_Q_NO_LANGUAGE, 0, HTTP_NEG_NONE};
    for (size_t i = 0; i < lang->count; i++) {
        if (is_star(lang->items[i].value)) {
            m.q = MAX(lang->items[i].q, HTTP_NEG_Q_NO_LANGUAGE);
            break;
        }
    }
    return m;
}

/* A variant's score and tie-breakers, compared in that order. */
struct scored {
    uint64_t score;
    uint16_t type_spec;  /* higher wins */
    uint16_t lang_index; /* lower wins (HTTP_NEG_NONE: no language matched) */
};

static struct scored score_variant(const struct http_neg_request *req,
                                   const struct http_neg_variant *v)
{
    struct http_neg_match t = match_absent;
    if (v->type.len > 0) {
        t = http_neg_type_match(req->accept, v->type);
    }
    struct http_neg_match lm = variant_language(req->language, v->language);
    struct http_neg_match c = match_absent;
    if (v->charset.len > 0) {
        c = http_neg_charset_match(req->charset, v->charset);
    }
    uint16_t qs = MIN(v->qs, HTTP_NEG_Q_ONE);
    /* at most 1000^4 = 1e12: exact in 64 bits, so no rounding decides a tie */
    struct scored s = {(uint64_t)t.q * lm.q * c.q * qs, t.spec, lm.index};
    return s;
}

static bool better(const struct scored *a, const struct scored *b)
{
    if (a->score != b->score) {
        return a->score > b->score;
    }
    if (a->type_spec != b->type_spec) {
        return a->type_spec > b->type_spec;
    }
    return a->lang_index < b->lang_index;
}

static unsigned vary_of(const struct http_neg_variant *v, unsigned n)
{
    unsigned vary = 0;
    for (unsigned i = 1; i < n; i++) {
        if (!slice_eq_nocase(slice_trim_ows(v[i].type), slice_trim_ows(v[0].type))) {
            vary |= HTTP_NEG_VARY_ACCEPT;
        }
        if (!slice_eq_nocase(v[i].language, v[0].language)) {
            vary |= HTTP_NEG_VARY_LANGUAGE;
        }
        if (!slice_eq_nocase(v[i].charset, v[0].charset)) {
            vary |= HTTP_NEG_VARY_CHARSET;
        }
    }
    return vary;
}

int http_neg_choose_variant(const struct http_neg_request *req, const struct http_neg_variant *v,
                            unsigned n, unsigned *vary)
{
    if (vary) {
        *vary = vary_of(v, n);
    }
    int best = -1;
    struct scored best_s = {0, 0, HTTP_NEG_NONE};
    for (unsigned i = 0; i < n; i++) {
        struct scored s = score_variant(req, &v[i]);
        if (s.score > 0 && (best < 0 || better(&s, &best_s))) {
            best = (int)i;
            best_s = s;
        }
    }
    return best;
}

struct slice http_neg_vary_text(unsigned vary)
{
    static const struct slice text[8] = {
        SLICE_LIT(""),
        SLICE_LIT("Accept"),
        SLICE_LIT("Accept-Language"),
        SLICE_LIT("Accept, Accept-Language"),
        SLICE_LIT("Accept-Charset"),
        SLICE_LIT("Accept, Accept-Charset"),
        SLICE_LIT("Accept-Language, Accept-Charset"),
        SLICE_LIT("Accept, Accept-Language, Accept-Charset"),
    };
    return text[vary & 7];
}
