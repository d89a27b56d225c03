/* regex.c - PCRE2 for locations and rewrites (see regex.h). */
#include "core/http/regex.h"

#include "core/base/alloc.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct http_regex {
    pcre2_code *code;
    unsigned groups;
    bool jit;
};

/* One match block per thread, as big as the most captures a directive can use; freed when
 * the thread ends (the key's destructor). */
static __thread pcre2_match_data *match_data;
static pthread_key_t match_key;
static pthread_once_t match_once = PTHREAD_ONCE_INIT;

static void match_data_free(void *p)
{
    pcre2_match_data_free(p);
}

static void match_key_init(void)
{
    (void)pthread_key_create(&match_key, match_data_free);
}

struct http_regex *http_regex_compile(const char *pattern, bool caseless, char *err,
                                      size_t errlen)
{
    int ec;
    PCRE2_SIZE eoff;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                     caseless ? PCRE2_CASELESS : 0, &ec, &eoff, NULL);
    if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof(msg));
        snprintf(err, errlen, "invalid regular expression \"%s\": %s at offset %zu", pattern,
                 (const char *)msg, (size_t)eoff);
        return NULL;
    }
    struct http_regex *re = sp_calloc(1, sizeof(*re));
    if (!re) {
        pcre2_code_free(code);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    re->code = code;
    uint32_t n = 0;
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &n);
    re->groups = n;
    /* without JIT (a platform that lacks it) the interpreter gives the same answers */
    re->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    return re;
}

void http_regex_free(struct http_regex *re)
{
    if (re) {
        pcre2_code_free(re->code);
        sp_free(re);
    }
}

unsigned http_regex_groups(const struct http_regex *re)
{
    return re->groups;
}

int http_regex_match(const struct http_regex *re, struct slice subject, struct http_captures *caps)
{
    if (!match_data) {
        match_data = pcre2_match_data_create(HTTP_CAPTURES_MAX, NULL);
        if (!match_data) {
            return -ENOMEM;
        }
        pthread_once(&match_once, match_key_init);
        (void)pthread_setspecific(match_key, match_data);
    }
    int rc = re->jit ? pcre2_jit_match(re->code, (PCRE2_SPTR)subject.ptr, subject.len, 0, 0,
                                       match_data, NULL)
                     : pcre2_match(re->code, (PCRE2_SPTR)subject.ptr, subject.len, 0, 0,
                                   match_data, NULL);
    if (rc == PCRE2_ERROR_NOMATCH) {
        return 0;
    }
    if (rc < 0) {
        return -EINVAL;
    }
    if (caps) {
        /* rc == 0: more groups than the block holds; the first HTTP_CAPTURES_MAX are there */
        unsigned n = rc == 0 ? HTTP_CAPTURES_MAX : (unsigned)rc;
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(match_data);
        caps->subject = subject;
        caps->n = n;
        for (unsigned i = 0; i < 2 * n; i++) {
            caps->ov[i] = ov[i] == PCRE2_UNSET ? (size_t)-1 : ov[i];
        }
    }
    return 1;
}
