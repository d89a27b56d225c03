/*
 * cgi_reply.h - a response from a CGI head (proto/cgi_head.h): the one way the CGI and
 * FastCGI handlers turn what a script or an application server wrote into an answer.
 *
 *   n = cgi_head_parse(out, len, max, &head);     once n > 0:
 *   rc = cgi_reply(r, &head, &ops, arg);
 *   CGI_REPLY_BODY: the head went out as a stream; write the body that follows the head
 *                   (out + n ...) with resp_stream_write, end it with resp_stream_end
 *   CGI_REPLY_DONE: answered; whatever else the script writes is not used
 *
 * RFC 3875 6.2: a document (Status, or 200) keeps its Content-Type and other fields and
 * streams its body, with Content-Length when the head gave one, else chunked. A client
 * redirect (an absolute Location, no Status) is a 302 with that Location. A local redirect
 * (Location: /path?query, no Status) serves the new URI as a GET, through the locations
 * again (an internal redirect, http/dispatch.h), with the request's own fields.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/http/req.h"
#include "proto/cgi_head.h"

#define CGI_REPLY_BODY 0
#define CGI_REPLY_DONE 1

/* CGI_REPLY_BODY, CGI_REPLY_DONE, or -ENOMEM (the connection is then closed). */
int cgi_reply(struct req *r, const struct cgi_head *h, const struct resp_stream_ops *ops,
              void *arg) MUST_CHECK;
