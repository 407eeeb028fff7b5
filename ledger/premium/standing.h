// A supplier's standing in a program: the periods it was suspended, from the
// Suspension and Reinstatement records in ledger order. Brands must not buy
// from a supplier on a day inside a suspension (DESIGN sections 1 and 7).
#ifndef PREMIUM_LEDGER_PREMIUM_STANDING_H_
#define PREMIUM_LEDGER_PREMIUM_STANDING_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "wsr/premium/v1/records.pb.h"

namespace premium {

struct SuspensionPeriod {
  absl::CivilDay from;
  // Last day suspended; nullopt while open (until reinstated).
  std::optional<absl::CivilDay> to;
  std::string reason;
  // The Suspension entry, and the Reinstatement that closed it (0 if none).
  uint64_t suspension_seq = 0;
  uint64_t reinstatement_seq = 0;

  bool Contains(absl::CivilDay day) const {
    return day >= from && (!to.has_value() || day <= *to);
  }
};

class StandingHistory {
 public:
  // Records must be added in ledger order. InvalidArgument for malformed
  // dates or a period that ends before it starts; FailedPrecondition for a
  // reinstatement with no open suspension, or one dated on or before the
  // suspension's first day.
  absl::Status AddSuspension(uint64_t seq,
                             const wsr::premium::v1::Suspension& suspension);
  absl::Status AddReinstatement(
      uint64_t seq, const wsr::premium::v1::Reinstatement& reinstatement);

  // The period containing `day`, if the supplier was suspended then.
  const SuspensionPeriod* SuspendedOn(absl::CivilDay day) const;
  const std::vector<SuspensionPeriod>& periods() const { return periods_; }

 private:
  std::vector<SuspensionPeriod> periods_;
};

}  // namespace premium

#endif  // PREMIUM_LEDGER_PREMIUM_STANDING_H_
