/*
 * unit.h - cmocka with the headers it needs before it (cmocka.h is not self-contained).
 */
#pragma once

// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on
