/*
 * auth_basic.h - HTTP Basic authentication (RFC 7617) with nginx's directives.
 *
 *   auth_basic REALM | off;         (off)  main, server, location
 *   auth_basic_user_file FILE;      (none) main, server, location
 *
 * Both are inherited main -> server -> location -> nested location, each on its own, as in
 * nginx; `auth_basic off` in a location lifts its parent's. A location where auth_basic is on
 * with no auth_basic_user_file is a configuration error (nginx silently asks for nothing).
 * FILE is what Apache's htpasswd or `openssl passwd` writes (fs/htpasswd.h); a relative path
 * is beside the configuration. It is read at start (a plaintext password, or a line that is
 * not an account, fails the start and `spate -t` with the file's name and line; a file that
 * is missing only gets a warning: requests there get 500, as in nginx), then re-read when it
 * changes (http/auth_cache.h: checked at most once a second per worker, by a helper thread).
 *
 * Passwords are checked by libaprutil's apr_password_validate on the helper threads, and the
 * pairs found good are remembered per worker for a minute (http/auth_cache.h), so a browser's
 * requests cost one hash. The user let in is $remote_user (the access log's CLF field 3).
 */
#pragma once

#include "core/base/compiler.h"
#include "core/conf/conf.h"
#include "core/http/req.h"

#include <stdbool.h>

struct route_loc;

extern const struct conf_module auth_basic_module;

/*
 * The access phase's password step (http/access.h) for r->loc: ACCESS_NEXT (auth_basic is off
 * there), ACCESS_GRANTED (good credentials: r->remote_user is the user, NUL-terminated in the
 * request's arena), 401 (WWW-Authenticate added: no credentials, wrong ones, or an
 * Authorization field that is not Basic), HANDLER_LATER (a helper is checking the password, or
 * the worker's first look at the file: r->wait is linked, and the request, dispatched again
 * from the start, finds the answer), 500 (the file cannot be used: logged), 503 (too many
 * passwords being checked on this worker: Retry-After added), -ENOMEM.
 */
int auth_basic_check(struct req *r) MUST_CHECK;

/* Whether auth_basic applies to location l (on, with a file). */
bool auth_basic_on(const struct route_loc *l);

/*
 * Calls each(arg, path) for every password file of finished configuration c (absolute paths,
 * each once): what the sandbox must let the process read (the file is re-read when it
 * changes, and may be replaced by a rename: its directory, not only its inode).
 */
void auth_basic_each_file(const struct conf *c, void (*each)(void *arg, const char *path),
                          void *arg);
