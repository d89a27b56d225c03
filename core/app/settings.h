/*
 * settings.h - the process module: workers and the error log (main context).
 */
#pragma once

#include "core/conf/conf.h"

struct process_settings {
    unsigned workers; /* 0: one per CPU the process may run on */
    char *error_log;  /* "stderr" or an absolute path */
    unsigned error_level;
};

extern const struct conf_module process_module;

const struct process_settings *process_settings(const struct conf *c);
