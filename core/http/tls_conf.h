/*
 * tls_conf.h - the TLS configuration: nginx's ssl_* directives, one SSL_CTX per server.
 *
 * The module (tls_conf_module) owns ssl_certificate, ssl_certificate_key, ssl_protocols,
 * ssl_ciphers, ssl_session_*, ssl_stapling*, ssl_verify_client and their kin (docs/config.md,
 * "TLS"), at the http (main) and server levels with nginx's inheritance. Its finish runs after
 * the route module's: for every server of an address some `listen ... ssl` names it builds an
 * SSL_CTX from the server's settings (certificates, keys and every file they name are read
 * then, so a broken file is an error at its line, for -t and a reload as for a start), and for
 * each such address one more, the default server's, whose pointer goes into the route group's
 * `tls` (route.h): the listener's transport creates its connections' SSL objects from it.
 *
 * Everything a handshake needs lives with the SSL_CTX objects, not in the configuration
 * (tls_ctx.h): an SSL keeps its contexts alive, so a connection accepted before a reload
 * finishes its handshake, and keeps its verification state, after the old configuration is
 * freed. SNI switches an SSL to the context of the server named by the client (tls_sni.c).
 *
 * Built on the main thread; the contexts are read-only afterwards, shared by every worker.
 */
#pragma once

#include "core/conf/conf.h"

extern const struct conf_module tls_conf_module;

/* Calls each with the path of every file the contexts of c were made from (the sandbox lets a
 * reload read their directories: renewed certificates). */
void tls_conf_each_file(const struct conf *c, void (*each)(void *arg, const char *path), void *arg);
