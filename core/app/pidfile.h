/*
 * pidfile.h - the pid file: the `pid` directive, writing and removing the file, `spate -s`.
 *
 * As nginx: `pid PATH;` in the main context names a file where the running
 * process writes its pid once it listens, and removes at exit; `spate -s
 * reload -c FILE` reads the same configuration for the path, then signals the
 * pid written there. The default is `pid off;` (no file): spate is often run
 * unprivileged and several at once, where one fixed path would clash.
 *
 * Main thread only.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/conf/conf.h"

#include <stddef.h>

extern const struct conf_module pidfile_module;

/* The pid file of c (parsed; finished or not), or NULL for none. */
const char *pidfile_path(const struct conf *c);

/* Writes this process's pid to path. 0, or -1 with a sentence in err. */
int pidfile_write(const char *path, char *err, size_t errlen) MUST_CHECK;

/* Removes path if it still holds this process's pid (another may have taken it over). */
void pidfile_remove(const char *path);

/* Sends sig to the process whose pid path holds. 0, or -1 with a sentence in err. */
int pidfile_signal(const char *path, int sig, char *err, size_t errlen) MUST_CHECK;
