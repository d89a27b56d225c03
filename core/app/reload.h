/*
 * reload.h - SIGHUP: a new configuration while serving, without a restart.
 *
 * On the main thread, off the workers: the configuration is read again and
 * checked as a start checks it (conf_finish: roots opened, log files opened,
 * regexes compiled, the routing table built); addresses it adds are opened,
 * one SO_REUSEPORT socket per worker. Any failure leaves the running
 * configuration in force and the error log says why, with file:line. On
 * success the new generation is published (runtime_publish) and each worker
 * switches at its next loop turn (http/worker.h says how); what cannot change
 * while running (the number of workers, the error log, the access-log files
 * and ring size, the socket options of an address that stays) keeps its
 * running value and the error log says it needs a restart.
 *
 * Main thread only.
 */
#pragma once

#include "core/app/runtime.h"
#include "core/conf/conf.h"

#include <stddef.h>

/* Builds and finishes c (an empty struct) as a start would. 0, or -1 with a sentence in err. */
typedef int (*reload_build_fn)(struct conf *c, void *arg, char *err, size_t errlen);

/* Reads, checks and publishes a new configuration. 0, or -1 (the running one stays; logged). */
int reload_run(struct runtime *rt, reload_build_fn build, void *arg);
