#include "ledger/premium/standing.h"

#include "absl/strings/str_cat.h"
#include "ledger/premium/validation.h"

namespace premium {

namespace pb = wsr::premium::v1;

absl::Status StandingHistory::AddSuspension(uint64_t seq,
                                            const pb::Suspension& suspension) {
  absl::StatusOr<absl::CivilDay> from =
      ParseDate("from_date", suspension.from_date());
  if (!from.ok()) return from.status();
  SuspensionPeriod period;
  period.from = *from;
  if (!suspension.to_date().empty()) {
    absl::StatusOr<absl::CivilDay> to =
        ParseDate("to_date", suspension.to_date());
    if (!to.ok()) return to.status();
    if (*to < *from) {
      return absl::InvalidArgumentError("to_date is before from_date");
    }
    period.to = *to;
  }
  period.reason = suspension.reason();
  period.suspension_seq = seq;
  periods_.push_back(std::move(period));
  return absl::OkStatus();
}

absl::Status StandingHistory::AddReinstatement(
    uint64_t seq, const pb::Reinstatement& reinstatement) {
  absl::StatusOr<absl::CivilDay> day =
      ParseDate("effective_date", reinstatement.effective_date());
  if (!day.ok()) return day.status();
  for (auto it = periods_.rbegin(); it != periods_.rend(); ++it) {
    if (it->to.has_value()) continue;
    if (*day <= it->from) {
      return absl::FailedPreconditionError(absl::StrCat(
          "a reinstatement must be dated after the suspension it ends (",
          FormatDate(it->from), ")"));
    }
    it->to = *day - 1;
    it->reinstatement_seq = seq;
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(
      "the supplier has no open suspension in this program");
}

const SuspensionPeriod* StandingHistory::SuspendedOn(absl::CivilDay day) const {
  for (const SuspensionPeriod& period : periods_) {
    if (period.Contains(day)) return &period;
  }
  return nullptr;
}

}  // namespace premium
