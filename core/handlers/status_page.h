/* status_page.h - the status page: one HTML file, no external assets (see status_page.c). */
#pragma once

#include <stddef.h>

struct rbuf;

/* The page around the JSON form of the report (status_json), which its script reads. */
void status_page(struct rbuf *b, const char *json, size_t len);
