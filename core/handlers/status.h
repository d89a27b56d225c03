/* status.h - `status;` and `stub_status;` (see status.c). */
#pragma once

#include "core/conf/conf.h"

struct rbuf;
struct report;

extern const struct conf_module status_module;
extern const struct conf_module stub_status_module;

/* The JSON form (the HTML page reads it too). */
void status_json(struct rbuf *b, const struct report *rep);
