// Programs and their premium rule (DESIGN section 3): validation of a
// program version, the version in force on a date, and the premium a
// purchase owes under it.
#ifndef PREMIUM_LEDGER_PREMIUM_PROGRAM_H_
#define PREMIUM_LEDGER_PREMIUM_PROGRAM_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "ledger/money/units.h"
#include "wsr/premium/v1/records.pb.h"

namespace premium {

inline constexpr int32_t kPaymentTermsDaysDefault = 14;
inline constexpr int32_t kDistributionDeadlineDaysDefault = 14;
inline constexpr int64_t kToleranceMicrosDefault = 1'000'000;  // 1.00
// Terms longer than a year are typing errors.
inline constexpr int32_t kDaysMax = 366;

// Checks every field of a program version: ids, name, currency, unit, rates
// (worker_rate > 0, supplier_rate >= 0, each at most 6 decimals, which the
// micro representation guarantees), days in [0, kDaysMax], an allocation,
// a non-negative tolerance within the currency's minor unit, and the date.
absl::Status ValidateProgramVersion(
    const wsr::premium::v1::ProgramVersion& version);

// A version of a program together with where it is in the ledger.
struct ProgramVersionRecord {
  uint64_t seq = 0;
  absl::CivilDay effective_date;
  wsr::premium::v1::ProgramVersion version;
};

// All versions of one program, ordered by effective date.
class ProgramHistory {
 public:
  // FailedPrecondition if `record` changes what a program is (its currency or
  // unit: amounts already recorded are in them) or repeats an effective date.
  absl::Status Add(ProgramVersionRecord record);

  // The version in force on `day`: the one with the latest effective date on
  // or before it. FailedPrecondition naming the first effective date when
  // `day` is before it.
  absl::StatusOr<const ProgramVersionRecord*> InForceOn(
      absl::CivilDay day) const;

  bool empty() const { return versions_.empty(); }
  const ProgramVersionRecord& first() const { return versions_.front(); }
  const std::vector<ProgramVersionRecord>& versions() const {
    return versions_;
  }

 private:
  std::vector<ProgramVersionRecord> versions_;
};

struct PurchasePremium {
  int64_t premium_micros = 0;
  int64_t worker_premium_micros = 0;
};

// Premium owed on `quantity_micros` of `unit` under `version`: the quantity
// converted exactly to the program's unit times (worker_rate +
// supplier_rate), rounded half-even to the micro-unit once. The worker part
// is computed the same way with worker_rate alone. InvalidArgument when the
// unit cannot be converted to the program's; OutOfRange on overflow.
absl::StatusOr<PurchasePremium> ComputePurchasePremium(
    const wsr::premium::v1::ProgramVersion& version, int64_t quantity_micros,
    Unit unit);

// The worker portion of a payment: amount × worker_rate / (worker_rate +
// supplier_rate), rounded half-even to the micro-unit.
absl::StatusOr<int64_t> WorkerPortionMicros(
    const wsr::premium::v1::ProgramVersion& version, int64_t amount_micros);

}  // namespace premium

#endif  // PREMIUM_LEDGER_PREMIUM_PROGRAM_H_
