// What every benchmark binary of tests/bench does the same way: time since a
// start, and stop with one clear line when a step it depends on failed (a
// benchmark that goes on after a failure prints figures of something else).
#ifndef PREMIUM_TESTS_BENCH_BENCH_UTIL_H_
#define PREMIUM_TESTS_BENCH_BENCH_UTIL_H_

#include <errno.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "ledger/ledger.h"

namespace premium::bench {

using Clock = std::chrono::steady_clock;

inline double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// What premiumd's main does (see there): Debian's Abseil checks every Mutex
// operation for lock-order cycles under one global lock unless told not to.
// A benchmark measures the code, and drives premiumd, as premiumd runs.
inline void TurnOffMutexDeadlockDetection() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

// Prints "<program>: <what>" on standard error and exits with 1.
[[noreturn]] inline void Die(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, what.c_str());
  std::exit(1);
}

template <typename T>
T ValueOrDie(absl::StatusOr<T> value, const std::string& what) {
  if (!value.ok()) Die(absl::StrCat(what, ": ", value.status().ToString()));
  return *std::move(value);
}

inline void OkOrDie(const absl::Status& status, const std::string& what) {
  if (!status.ok()) Die(absl::StrCat(what, ": ", status.ToString()));
}

// Waits until `ledger` has read the high nodes of its tree into memory, as
// a serving premiumd's has soon after it starts; returns the seconds waited.
// Proofs timed before then measure the start, not the service.
inline double WaitForNodeCache(const Ledger& ledger) {
  const Clock::time_point start = Clock::now();
  while (ledger.node_cache().warming) {
    if (Clock::now() - start > std::chrono::minutes(10)) {
      Die("the ledger's node cache was still filling after 10 minutes");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return SecondsSince(start);
}

}  // namespace premium::bench

#endif  // PREMIUM_TESTS_BENCH_BENCH_UTIL_H_
