/*
 * fuzz_path - libFuzzer target for the path normalizer (proto/path.c).
 *
 * On success the result starts with '/', is no longer than the input, has no "." or ".."
 * segment, no "//", and normalizing it again (it has no escapes left once '%' is absent)
 * changes nothing.
 */
#include "proto/path.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 1);
    char *out = malloc(size + 2);
    char *again = malloc(size + 2);
    memcpy(in, "/", 1);
    memcpy(in + 1, data, size);
    size_t n = size + 1;
    unsigned flags = size ? (data[0] & 1u) : 0;
    int rc = http_path_normalize(slice_make(in, n), out, n + 1, flags);
    if (rc >= 0) {
        size_t len = (size_t)rc;
        if (out[0] != '/' || len > n || strlen(out) > len) {
            abort();
        }
        if (strstr(out, "//") || strstr(out, "/./") || strstr(out, "/../")) {
            abort();
        }
        if ((len >= 2 && strcmp(out + len - 2, "/.") == 0) ||
            (len >= 3 && strcmp(out + len - 3, "/..") == 0)) {
            abort();
        }
        if (!memchr(out, '%', len) && !memchr(out, '\0', len)) {
            int rc2 = http_path_normalize(slice_make(out, len), again, len + 1, 0);
            if (rc2 != rc || memcmp(out, again, len) != 0) {
                abort();
            }
        }
    }
    free(in);
    free(out);
    free(again);
    return 0;
}
