// The first line premiumd prints once it serves, "premiumd: serving ... on
// HOST:PORT": tests and the benchmark learn the port of a premiumd started
// with --listen 127.0.0.1:0 from it. Header-only, so that programs that do
// not link the service test library (tests/bench) read it the same way.
#ifndef PREMIUM_SERVICES_TESTING_PREMIUMD_BANNER_H_
#define PREMIUM_SERVICES_TESTING_PREMIUMD_BANNER_H_

#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"

namespace premium::testing {

// The port of a premiumd serving on 127.0.0.1, from its first line;
// nullopt if `line` is not that line (or there was none).
inline std::optional<int> ServingPortOnLoopback(
    const std::optional<std::string>& line) {
  if (!line.has_value() || !absl::StartsWith(*line, "premiumd: serving ")) {
    return std::nullopt;
  }
  constexpr char kOn[] = " on 127.0.0.1:";
  const size_t at = line->rfind(kOn);
  int port = 0;
  if (at == std::string::npos ||
      !absl::SimpleAtoi(line->substr(at + sizeof(kOn) - 1), &port) ||
      port <= 0 || port > 65535) {
    return std::nullopt;
  }
  return port;
}

}  // namespace premium::testing

#endif  // PREMIUM_SERVICES_TESTING_PREMIUMD_BANNER_H_
