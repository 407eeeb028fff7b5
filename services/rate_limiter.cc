#include "services/rate_limiter.h"

#include "absl/strings/str_cat.h"

namespace premium {

FailureLimiter::FailureLimiter(FailureLimitOptions options)
    : options_(std::move(options)) {}

absl::Status FailureLimiter::Check(absl::string_view source) {
  const absl::Time now = options_.clock();
  absl::MutexLock lock(&mu_);
  const auto it = windows_.find(source);
  if (it == windows_.end() || now - it->second.start >= options_.window ||
      it->second.failures < options_.failures_per_window) {
    return absl::OkStatus();
  }
  const int64_t wait_seconds = absl::ToInt64Seconds(
      absl::Ceil(it->second.start + options_.window - now, absl::Seconds(1)));
  return absl::ResourceExhaustedError(
      absl::StrCat("too many failed lookups from this address; try again in ",
                   wait_seconds, " s"));
}

void FailureLimiter::RecordFailure(absl::string_view source) {
  const absl::Time now = options_.clock();
  absl::MutexLock lock(&mu_);
  auto it = windows_.find(source);
  if (it == windows_.end()) {
    if (windows_.size() >= options_.sources_max) DropExpired(now);
    // Still full: many sources failing at once. Keep the limit for the ones
    // tracked rather than grow without bound; codes have 80 bits, so the
    // untracked sources still cannot guess one.
    if (windows_.size() >= options_.sources_max) return;
    it = windows_.emplace(std::string(source), Window{now, 0}).first;
  }
  if (now - it->second.start >= options_.window) it->second = Window{now, 0};
  it->second.failures += 1;
}

void FailureLimiter::DropExpired(absl::Time now) {
  for (auto it = windows_.begin(); it != windows_.end();) {
    if (now - it->second.start >= options_.window) {
      windows_.erase(it++);
    } else {
      ++it;
    }
  }
}

std::string PeerAddress(absl::string_view peer) {
  const size_t colon = peer.rfind(':');
  const size_t scheme = peer.find(':');
  if (colon == absl::string_view::npos || colon == scheme) {
    return std::string(peer);
  }
  return std::string(peer.substr(0, colon));
}

}  // namespace premium
