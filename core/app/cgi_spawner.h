/*
 * cgi_spawner.h - the process that starts CGI scripts for the workers (protocol and reasons:
 * core/handlers/cgi_spawn.h).
 *
 * Started once, by sandbox_apply before Landlock and seccomp apply (the spawner keeps neither:
 * scripts read and run what the user may), after privilege_drop (it runs as `user`, and so
 * do the scripts). Only when the configuration has a CGI location: a reload that adds the
 * first one gets 502 for it, with the reason in the error log, until a restart. It ends when
 * spate does (end of file on its socket), killing the scripts still running.
 *
 * Main thread only.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/conf/conf.h"

#include <stddef.h>

/* Forks the spawner when c has a CGI location. 0, or -1 with a sentence in err. */
int cgi_spawner_start(const struct conf *c, char *err, size_t errlen) MUST_CHECK;
