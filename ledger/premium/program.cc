#include "ledger/premium/program.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ledger/money/decimal.h"
#include "ledger/premium/validation.h"

namespace premium {

namespace pb = wsr::premium::v1;

absl::Status ValidateProgramVersion(const pb::ProgramVersion& version) {
  if (absl::Status s = ValidateId("program_id", version.program_id());
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateText("name", version.name(), kNameLengthMax);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<int> minor_digits =
      CurrencyMinorDigits("currency", version.currency());
  if (!minor_digits.ok()) return minor_digits.status();
  if (absl::StatusOr<Unit> unit = ParseUnit(version.unit()); !unit.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unit: ", unit.status().message()));
  }
  if (version.worker_rate_micros() <= 0) {
    return absl::InvalidArgumentError("worker_rate must be greater than 0");
  }
  if (version.supplier_rate_micros() < 0) {
    return absl::InvalidArgumentError("supplier_rate must not be negative");
  }
  if (!CheckedAdd(version.worker_rate_micros(), version.supplier_rate_micros())
           .ok()) {
    return absl::InvalidArgumentError("worker_rate + supplier_rate overflows");
  }
  for (const auto& [name, days] :
       {std::pair<const char*, int32_t>{"payment_terms_days",
                                        version.payment_terms_days()},
        {"distribution_deadline_days", version.distribution_deadline_days()}}) {
    if (days < 0 || days > kDaysMax) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " must be 0 to ", kDaysMax, ", got ", days));
    }
  }
  if (version.allocation() != pb::HOURS && version.allocation() != pb::WAGES &&
      version.allocation() != pb::NONE) {
    return absl::InvalidArgumentError(
        "allocation must be hours, wages or none");
  }
  absl::StatusOr<int64_t> rounded =
      RoundMicrosHalfEven(version.tolerance_micros(), *minor_digits);
  if (version.tolerance_micros() < 0 || !rounded.ok() ||
      *rounded != version.tolerance_micros()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tolerance must be a non-negative amount with at most ",
                     *minor_digits, " decimals"));
  }
  return ParseDate("effective_date", version.effective_date()).status();
}

absl::Status ProgramHistory::Add(ProgramVersionRecord record) {
  if (!versions_.empty()) {
    const pb::ProgramVersion& first = versions_.front().version;
    if (record.version.currency() != first.currency() ||
        record.version.unit() != first.unit()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "program ", first.program_id(), " is in ", first.currency(), " per ",
          first.unit(), "; a new version cannot change its currency or unit"));
    }
  }
  const auto position = std::lower_bound(
      versions_.begin(), versions_.end(), record.effective_date,
      [](const ProgramVersionRecord& existing, absl::CivilDay day) {
        return existing.effective_date < day;
      });
  if (position != versions_.end() &&
      position->effective_date == record.effective_date) {
    return absl::FailedPreconditionError(absl::StrCat(
        "program ", record.version.program_id(),
        " already has a version effective ", record.version.effective_date()));
  }
  versions_.insert(position, std::move(record));
  return absl::OkStatus();
}

absl::StatusOr<const ProgramVersionRecord*> ProgramHistory::InForceOn(
    absl::CivilDay day) const {
  const auto after = std::upper_bound(
      versions_.begin(), versions_.end(), day,
      [](absl::CivilDay d, const ProgramVersionRecord& existing) {
        return d < existing.effective_date;
      });
  if (after == versions_.begin()) {
    return absl::FailedPreconditionError(
        versions_.empty()
            ? std::string("the program has no version")
            : absl::StrCat("the program starts on ",
                           versions_.front().version.effective_date()));
  }
  return &*std::prev(after);
}

absl::StatusOr<PurchasePremium> ComputePurchasePremium(
    const pb::ProgramVersion& version, int64_t quantity_micros, Unit unit) {
  absl::StatusOr<Unit> program_unit = ParseUnit(version.unit());
  if (!program_unit.ok()) return program_unit.status();
  absl::StatusOr<int64_t> total_rate =
      CheckedAdd(version.worker_rate_micros(), version.supplier_rate_micros());
  if (!total_rate.ok()) return total_rate.status();
  absl::StatusOr<int64_t> premium =
      PremiumMicros(quantity_micros, unit, *program_unit, *total_rate);
  if (!premium.ok()) return premium.status();
  absl::StatusOr<int64_t> worker_premium = PremiumMicros(
      quantity_micros, unit, *program_unit, version.worker_rate_micros());
  if (!worker_premium.ok()) return worker_premium.status();
  return PurchasePremium{*premium, *worker_premium};
}

absl::StatusOr<int64_t> WorkerPortionMicros(const pb::ProgramVersion& version,
                                            int64_t amount_micros) {
  absl::StatusOr<int64_t> total_rate =
      CheckedAdd(version.worker_rate_micros(), version.supplier_rate_micros());
  if (!total_rate.ok()) return total_rate.status();
  return MulDivRoundHalfEven(amount_micros, version.worker_rate_micros(),
                             *total_rate);
}

}  // namespace premium
