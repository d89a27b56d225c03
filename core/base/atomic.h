/*
 * atomic.h - C11 atomics that also compile in the C++ benchmarks.
 *
 * SP_ATOMIC(T) is `_Atomic T` in C and std::atomic<T> in C++ (same size and
 * alignment for the integer types used here), so structs with atomic fields
 * can be declared in headers shared with bench/.
 */
#pragma once

#ifdef __cplusplus
#include <atomic>
#define SP_ATOMIC(T) std::atomic<T>
#else
#include <stdatomic.h>
#define SP_ATOMIC(T) _Atomic T
#endif
