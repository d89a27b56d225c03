/*
 * negotiate.h - proactive content negotiation (RFC 9110 section 12): parsing
 * Accept, Accept-Language, Accept-Charset and Accept-Encoding, and choosing a
 * content coding or a variant (MultiViews) from them.
 *
 * Pure and allocation-free: a field is parsed into an item array the caller
 * provides (usually on the stack, HTTP_NEG_ITEMS_MAX entries), and every item
 * is a slice into the field value, so the header bytes must outlive the list.
 * No syscalls, no locale, no floats: a quality is an integer 0..1000
 * (HTTP_NEG_Q_ONE), the three decimals RFC 9110 12.4.2 allows. Any thread.
 *
 * Several field lines of one name are one comma-separated list (RFC 9110 5.3):
 * call http_neg_add once per line, in arrival order, or http_neg_add_fields to
 * walk the request's header table (hdr_get + hdr_next_dup).
 *
 * Leniency, chosen to never turn a sloppy client into a 406 or a crash:
 *   - An element that does not parse is skipped whole, as if the client had not
 *     sent it, and counted in `malformed`: a missing or bad subtype ("text",
 *     "*\/html"), a bad language range ("en_US", a subtag over 8 characters), a
 *     parameter without "=", an unterminated quoted string, or a bad q: "q=abc",
 *     "q=2", "q=1.0001", "q=.5", "q=-1" (qvalue is "0" ["." 0*3DIGIT] or
 *     "1" ["." 0*3"0"]), or a media range over 64 KiB. A q we cannot read
 *     says nothing about the element, so it is neither q=0 nor q=1.
 *   - Empty elements (",,", a trailing comma) are allowed by the list grammar
 *     and ignored. OWS is accepted around ";", ",", and also around "=" (which
 *     the grammar does not allow, but some clients send).
 *   - Past `cap` elements the rest of the list is ignored and counted in
 *     `overflowed`: the client's first choices are kept, and the work per field
 *     stays bounded by its length.
 *   - A field that is present but holds no usable element counts as absent for
 *     Accept, Accept-Language and Accept-Charset. For Accept-Encoding an empty
 *     value has a meaning ("no content coding", RFC 9110 12.5.3) and is kept;
 *     one whose every element was malformed counts as absent.
 * Tokens, parameter names and codings compare case-insensitively; parameter
 * values compare exactly after quoted-string unescaping, except charset's.
 * (A "\" in "*\/\*" and "type/\*" below only keeps the comment open.)
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/slice.h"
#include "proto/hdr_table.h"

#include <stdbool.h>
#include <stdint.h>

#define HTTP_NEG_Q_ONE 1000
/* Room for a field's elements that covers real clients (Chromium's Accept has 8). */
#define HTTP_NEG_ITEMS_MAX 32
/* No element decided the match (http_neg_match.index). */
#define HTTP_NEG_NONE UINT16_MAX
/* The language quality of a variant without a language, when the client has no "*". */
#define HTTP_NEG_Q_NO_LANGUAGE 1
/* The quality of "identity" when a non-empty Accept-Encoding does not mention it (nor "*"). */
#define HTTP_NEG_Q_IDENTITY 1

enum http_neg_field {
    HTTP_NEG_ACCEPT,          /* media ranges: type/subtype, type/\*, *\/\*, with parameters */
    HTTP_NEG_ACCEPT_LANGUAGE, /* language ranges (RFC 4647 2.1) or "*" */
    HTTP_NEG_ACCEPT_CHARSET,  /* charset tokens or "*" */
    HTTP_NEG_ACCEPT_ENCODING, /* content codings, "identity" or "*" */
};

/* One element of the client's list. Slices point into the field value. */
struct http_neg_item {
    struct slice value;  /* "text/html", "en-US", "utf-8", "gzip", "*" (case as sent) */
    struct slice params; /* Accept: the media-type parameters before q, "level=1;a=b"; else empty */
    uint16_t q;          /* 0..HTTP_NEG_Q_ONE; 1000 when the element has no q */
    uint16_t spec;       /* Accept: 1 = *\/\*, 2 = type/\*, 3 = type/subtype, 3 + n with n params */
    uint16_t type_len;   /* Accept: where the "/" is in value; else 0 */
};

/* A parsed field: items in the client's order (an item's index is its rank). */
struct http_neg_list {
    struct http_neg_item *items; /* caller's array of cap entries */
    uint16_t count, cap;
    uint16_t lines;      /* field lines added (0: the request had no such field) */
    uint16_t malformed;  /* elements skipped as unparsable */
    uint16_t overflowed; /* elements past cap, ignored */
    uint8_t field;       /* enum http_neg_field: which grammar and matching rules */
};

/* How one server value fared against a list. */
struct http_neg_match {
    uint16_t q;     /* 0..HTTP_NEG_Q_ONE */
    uint16_t spec;  /* how specific the deciding element was (0: none, or the field is absent) */
    uint16_t index; /* the deciding element's rank in the client's list, or HTTP_NEG_NONE */
};

/* Empty list of one field over the caller's items[cap] (cap <= 65535). Never fails. */
void http_neg_init(struct http_neg_list *l, enum http_neg_field f, struct http_neg_item *items,
                   unsigned cap);

/* Appends the elements of one field line (OWS-trimmed or not) to l. Never fails. */
void http_neg_add(struct http_neg_list *l, struct slice value);

/* Adds every line of the named field of t (any case, e.g. "accept-language"), in order. */
void http_neg_add_fields(struct http_neg_list *l, const struct hdr_table *t, struct slice name);

/*
 * True when l does not constrain the choice: no field line, or (see the top of
 * this file) none that held a usable element. The server then applies its
 * defaults, e.g. a configured default language.
 */
bool http_neg_absent(const struct http_neg_list *l);

/*
 * Accept: the quality of a media type, with or without parameters ("text/html",
 * "text/html; charset=utf-8"). The most specific matching range decides (RFC
 * 9110 12.5.1): type/subtype with n params > type/subtype > type/\* > *\/\*; a
 * range's parameters must all be present in the type with equal values; among
 * equally specific ranges the first one listed wins. Absent Accept: q=1000.
 * spec is the winning range's spec (see http_neg_item).
 */
struct http_neg_match http_neg_type_match(const struct http_neg_list *accept,
                                          struct slice media_type);

/*
 * Accept-Language: the quality of a language tag ("en-US") by RFC 4647 basic
 * filtering: a range matches a tag equal to it or starting with it followed by
 * "-" ("en" matches "en-US", "en-US" does not match "en"), case-insensitively;
 * the longest matching range decides, else "*", else q=0. spec is the range's
 * length + 1 (1 for "*"). Absent Accept-Language: q=1000 (see http_neg_absent).
 */
struct http_neg_match http_neg_language_match(const struct http_neg_list *lang, struct slice tag);

/* Accept-Charset: the quality of a charset ("utf-8"): itself, else "*", else 0; absent: 1000. */
struct http_neg_match http_neg_charset_match(const struct http_neg_list *cs, struct slice charset);

/*
 * Accept-Encoding: the quality of a content coding ("br", "gzip", "identity";
 * "x-gzip" and "x-compress" are gzip and compress, RFC 9110 8.4.1). A coding
 * listed by name gets its q, else "*"'s q, else 0. "identity" (no coding) is
 * acceptable unless excluded by "identity;q=0", or by "*;q=0" with no entry for
 * identity (12.5.3). Unlisted, it gets "*"'s q, or without a "*" the lowest
 * acceptable q, HTTP_NEG_Q_IDENTITY (0.001): the RFC gives it no number, and a
 * client that lists "gzip;q=0.5" wants gzip before an uncompressed body. An
 * empty Accept-Encoding asks for identity alone: q=1000. Absent Accept-Encoding:
 * every coding q=1000 (RFC); but see http_neg_choose_coding.
 */
struct http_neg_match http_neg_coding_match(const struct http_neg_list *ae, struct slice coding);

/*
 * Picks a content coding from offered[n], the codings the server has for this
 * response in its order of preference (e.g. "br", "zstd", "gzip", "identity"):
 * the highest client q wins, ties go to the earlier offered; q=0 is never
 * chosen. Returns its index, or -1 when none is acceptable (answer 406, or send
 * identity anyway as most servers do). With Accept-Encoding absent it picks
 * "identity" when offered (as nginx and Apache do: compress only for a client
 * that asked), else offered[0].
 */
int http_neg_choose_coding(const struct http_neg_list *ae, const struct slice *offered, unsigned n);

/* One representation of a resource, for http_neg_choose_variant. */
struct http_neg_variant {
    struct slice type;     /* "text/html"; empty: not negotiated on type (q 1000) */
    struct slice language; /* "en-US"; empty: no language */
    struct slice charset;  /* "utf-8"; empty: no charset (q 1000); not read from type */
    uint16_t qs;           /* server-side quality, 0..HTTP_NEG_Q_ONE */
};

/* The request's parsed fields; a NULL member counts as absent. */
struct http_neg_request {
    const struct http_neg_list *accept, *language, *charset;
};

/* Bits of the headers a negotiated response varies on. */
#define HTTP_NEG_VARY_ACCEPT 1u
#define HTTP_NEG_VARY_LANGUAGE 2u
#define HTTP_NEG_VARY_CHARSET 4u

/*
 * Chooses among v[n] (Apache's MultiViews algorithm, simplified): score =
 * q_type * q_language * q_charset * qs, the highest wins; ties go to the more
 * specific Accept range, then to the language the client listed first, then to
 * the earlier variant. A variant without a language scores "*"'s q when the
 * client lists "*" with q > 0, else HTTP_NEG_Q_NO_LANGUAGE (0.001): acceptable
 * to anyone, but beaten by any variant in a language the client asked for (with
 * Accept-Language absent it gets 1000 like every other variant).
 * Returns the index, or -1 when every score is 0 (406). *vary (if not NULL)
 * gets HTTP_NEG_VARY_* for each dimension in which the variants differ: those
 * are the fields that could change the answer, whatever this request sent.
 */
int http_neg_choose_variant(const struct http_neg_request *req, const struct http_neg_variant *v,
                            unsigned n, unsigned *vary);

/* The Vary value for HTTP_NEG_VARY_* bits: "Accept, Accept-Language", ...; empty for 0. */
struct slice http_neg_vary_text(unsigned vary);

/* Convenience: the q of a media type (http_neg_type_match(...).q). */
static inline uint16_t http_neg_type_q(const struct http_neg_list *accept, struct slice media_type)
{
    return http_neg_type_match(accept, media_type).q;
}
