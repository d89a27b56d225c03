/*
 * test_echo.h - a test-only handler answering later with a digest of the request body
 * (see test_echo.c).
 */
#pragma once

#include "core/conf/conf.h"

extern const struct conf_module test_echo_module;
