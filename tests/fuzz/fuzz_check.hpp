#pragma once

#include <cstdio>
#include <cstdlib>

/// An invariant of a fuzz target: checked in every build type (NDEBUG or not), and a failure
/// aborts, which libFuzzer reports as a crash with the input that caused it.
#define FUZZ_CHECK(condition)                                                                      \
    do {                                                                                           \
        if (!(condition)) {                                                                        \
            std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #condition); \
            std::abort();                                                                          \
        }                                                                                          \
    } while (0)
