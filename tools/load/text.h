/*
 * text.h - the text spate-load writes into its plots and reads back from its JSON: labels
 * made valid for an SVG text node (UTF-8, no control characters, cut on a character), and
 * JSON string escapes decoded (\uXXXX, surrogate pairs included).
 */
#pragma once

#include <stddef.h>

/* Copies a label into dst (cap bytes) as valid UTF-8 without control characters (either
 * becomes '?'), cut on a character boundary. */
void text_label(char *dst, size_t cap, const char *src);

/* Decodes the JSON string whose body starts at s (after its opening quote) into out (cap
 * bytes, cut short if it must be); what is not valid comes out as '?'. */
void text_json_string(const char *s, char *out, size_t cap);
