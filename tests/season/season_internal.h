// Helpers shared by the generator (season.cc) and its ground truth
// (truth.cc). Not part of the library's interface.
#ifndef PREMIUM_TESTS_SEASON_SEASON_INTERNAL_H_
#define PREMIUM_TESTS_SEASON_SEASON_INTERNAL_H_

#include <cstdint>
#include <random>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ledger/money/decimal.h"
#include "ledger/money/units.h"

namespace premium::season::internal {

inline constexpr int64_t kCentMicros = 10'000;

// Uniform integers from std::mt19937_64, whose output sequence the standard
// fixes, unlike std::uniform_int_distribution's: same seed, same season on
// every platform.
class Random {
 public:
  explicit Random(uint64_t seed) : engine_(seed) {}

  // Uniform in [low, high] (low <= high), without modulo bias: draws below
  // 2^64 mod range are rejected, so every residue is equally likely.
  int64_t Uniform(int64_t low, int64_t high) {
    const uint64_t range =
        static_cast<uint64_t>(high) - static_cast<uint64_t>(low) + 1;
    if (range == 0) return static_cast<int64_t>(engine_());
    const uint64_t rejected_below = (0 - range) % range;
    uint64_t draw = engine_();
    while (draw < rejected_below) draw = engine_();
    return static_cast<int64_t>(static_cast<uint64_t>(low) + draw % range);
  }

  // True with probability percent / 100.
  bool Percent(int percent) { return Uniform(0, 99) < percent; }

 private:
  std::mt19937_64 engine_;
};

// Exact arithmetic on micros that keeps its first failure. The generator's
// amounts are many orders of magnitude inside the range, so a failure is a
// bug; checking once, at the end, keeps the arithmetic readable.
class Exact {
 public:
  int64_t Round2(int64_t micros) {
    return Take(RoundMicrosHalfEven(micros, 2));
  }
  int64_t MulDiv(int64_t a, int64_t b, int64_t divisor) {
    return Take(MulDivRoundHalfEven(a, b, divisor));
  }
  int64_t Add(int64_t a, int64_t b) { return Take(CheckedAdd(a, b)); }
  int64_t Sub(int64_t a, int64_t b) { return Take(CheckedSub(a, b)); }
  int64_t Premium(int64_t quantity_micros, Unit unit, Unit program_unit,
                  int64_t rate_micros) {
    return Take(
        PremiumMicros(quantity_micros, unit, program_unit, rate_micros));
  }
  const absl::Status& status() const { return status_; }

 private:
  int64_t Take(absl::StatusOr<int64_t> value) {
    if (value.ok()) return *value;
    if (status_.ok()) status_ = value.status();
    return 0;
  }

  absl::Status status_;
};

}  // namespace premium::season::internal

#endif  // PREMIUM_TESTS_SEASON_SEASON_INTERNAL_H_
