// The one way the fuzz targets report a broken oracle: print what was
// expected and abort, so that libFuzzer keeps the input as a crash. Not an
// assert(): the checks must stay on whatever NDEBUG says, and the message
// must say which oracle failed.
#ifndef PREMIUM_TESTS_FUZZ_FUZZ_CHECK_H_
#define PREMIUM_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"

namespace premium::fuzz {

[[noreturn]] inline void Fail(const char* file, int line, const char* check,
                              const std::string& detail) {
  std::fprintf(stderr, "%s:%d: fuzz oracle failed: %s\n%s\n", file, line, check,
               detail.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace premium::fuzz

// FUZZ_CHECK(condition, detail...): aborts with the absl::StrCat of the
// details unless `condition` holds. The details are built only on failure.
#define FUZZ_CHECK(condition, ...)                                          \
  do {                                                                      \
    if (!(condition)) {                                                     \
      ::premium::fuzz::Fail(__FILE__, __LINE__, #condition,                 \
                            ::absl::StrCat("" __VA_OPT__(, ) __VA_ARGS__)); \
    }                                                                       \
  } while (false)

#endif  // PREMIUM_TESTS_FUZZ_FUZZ_CHECK_H_
