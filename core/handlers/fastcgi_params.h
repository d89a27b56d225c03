/*
 * fastcgi_params.h - what the FastCGI handler tells the application server about a request:
 * its variables ($fastcgi_script_name, $fastcgi_path_info) and the PARAMS stream's pairs
 * (fastcgi_param lines evaluated, then the request's fields as HTTP_NAME).
 */
#pragma once

#include "core/base/slice.h"
#include "core/handlers/fastcgi_conf.h"
#include "core/http/req.h"

#include <stdint.h>

/* Provides $fastcgi_script_name and $fastcgi_path_info (the module's start). 0 or -1. */
int fcgi_vars_start(void);

/* r's script name and path info (fastcgi_split_path_info, fastcgi_index). */
void fcgi_split(struct req *r, struct slice *script, struct slice *info);

/*
 * The PARAMS stream's pairs for r, encoded into its arena: each fastcgi_param (if_not_empty
 * ones only when their value is not empty), then each request field as HTTP_NAME unless a
 * param of that name was given (repeated fields joined as nginx does; never HTTP_PROXY, and
 * names with other bytes than letters, digits and '-' not at all). content_length >= 0: the
 * CONTENT_LENGTH to send (a chunked body, counted), replacing the param's value. 0 or
 * -ENOMEM.
 */
int fcgi_build_params(struct req *r, const struct fcgi_conf *fc, int64_t content_length,
                      struct slice *out) MUST_CHECK;
