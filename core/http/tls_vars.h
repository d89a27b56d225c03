/*
 * tls_vars.h - what a request sees of its TLS connection: the $ssl_* variables, and the
 * ssl_verify_client check.
 *
 * Workers, per request; they read the SSL object of the request's connection (req_ssl) and
 * the tls_info of its context (tls_ctx.h), never the configuration.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/http/req.h"

/*
 * The client-certificate check of a request on a TLS connection whose server asks for one
 * (ssl_verify_client), done once per request before routing goes on: 0 to go on, 1 when it
 * answered (nginx's 400 "No required SSL certificate was sent" / "The SSL certificate
 * error"), or -ENOMEM. ssl: the connection's SSL *, NULL on a plain one (0).
 */
int tls_client_check(struct req *r, void *ssl) MUST_CHECK;

/* The TLS module's start: makes the $ssl_* variables known. 0 or -1. */
int tls_vars_start(void);
