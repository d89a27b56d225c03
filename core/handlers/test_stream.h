/*
 * test_stream.h - a test-only handler streaming a generated body (see test_stream.c).
 */
#pragma once

#include "core/conf/conf.h"

extern const struct conf_module test_stream_module;
