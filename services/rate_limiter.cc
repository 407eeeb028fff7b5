#include "services/rate_limiter.h"

#include <algorithm>
#include <vector>

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
    if (windows_.size() >= options_.sources_max) DropOldest(now, false);
    if (windows_.size() >= options_.sources_max) DropOldest(now, true);
    StartWindow(std::string(source), now);
    it = windows_.find(source);
  } else if (now - it->second.start >= options_.window) {
    StartWindow(it->first, now);
  }
  it->second.failures += 1;
}

void FailureLimiter::StartWindow(const std::string& source, absl::Time now) {
  windows_[source] = Window{now, 0};
  starts_.emplace_back(source, now);
  // Restarted windows leave stale elements behind: keep the queue within a
  // constant factor of the table by rebuilding it now and then.
  if (starts_.size() > 2 * options_.sources_max + 16) {
    std::vector<std::pair<std::string, absl::Time>> live;
    live.reserve(windows_.size());
    for (const auto& [name, window] : windows_) {
      live.emplace_back(name, window.start);
    }
    std::sort(live.begin(), live.end(),
              [](const auto& a, const auto& b) { return a.second < b.second; });
    starts_.assign(live.begin(), live.end());
  }
}

void FailureLimiter::DropOldest(absl::Time now, bool make_room) {
  while (!starts_.empty()) {
    const auto& [source, start] = starts_.front();
    const auto it = windows_.find(source);
    if (it == windows_.end() || it->second.start != start) {
      starts_.pop_front();  // stale
      continue;
    }
    const bool expired = now - start >= options_.window;
    if (!expired && !make_room) return;
    windows_.erase(it);
    starts_.pop_front();
    if (!expired) return;  // room made for one
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
