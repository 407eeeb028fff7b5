// Limits how many failures one source may have per window: what keeps
// paystub codes from being guessed by brute force (DESIGN section 8: failed
// lookups are limited per source address; valid lookups are not).
#ifndef PREMIUM_SERVICES_RATE_LIMITER_H_
#define PREMIUM_SERVICES_RATE_LIMITER_H_

#include <deque>
#include <functional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace premium {

struct FailureLimitOptions {
  int failures_per_window = 10;
  absl::Duration window = absl::Minutes(1);
  // Sources tracked at most. When full, expired windows go first, then the
  // oldest live one: a new source is always limited (an attacker with more
  // addresses than this gains back at most failures_per_window guesses for
  // each address pushed out, never an unlimited one).
  size_t sources_max = 100'000;
  std::function<absl::Time()> clock = [] { return absl::Now(); };
};

class FailureLimiter {
 public:
  explicit FailureLimiter(FailureLimitOptions options = {});

  // ResourceExhausted, saying when to retry, once `source` has had
  // failures_per_window failures in the current window.
  absl::Status Check(absl::string_view source);
  void RecordFailure(absl::string_view source);

 private:
  struct Window {
    absl::Time start;
    int failures = 0;
  };
  // Drops expired windows from the oldest on, and, with `make_room`, the
  // oldest live one too when the table is still full. Amortized O(1).
  void DropOldest(absl::Time now, bool make_room)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StartWindow(const std::string& source, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const FailureLimitOptions options_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Window> windows_ ABSL_GUARDED_BY(mu_);
  // Windows in the order they started; an element whose window has since
  // restarted or gone is stale and skipped.
  std::deque<std::pair<std::string, absl::Time>> starts_ ABSL_GUARDED_BY(mu_);
};

// The address part of a gRPC peer string ("ipv4:10.0.0.7:5123" ->
// "ipv4:10.0.0.7"), so that a client's many ports count as one source.
std::string PeerAddress(absl::string_view peer);

}  // namespace premium

#endif  // PREMIUM_SERVICES_RATE_LIMITER_H_
