#include "ledger/money/units.h"

#include <cassert>
#include <cstdint>
#include <numeric>
#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "ledger/money/decimal.h"
#include "ledger/money/quote.h"

namespace premium {
namespace {

// Unit names are short; longer text is quoted truncated in messages.
constexpr size_t kQuotedUnitBytesMax = 16;

// Each weight unit as an exact integer count of the common base 10^-8 kg,
// the coarsest base in which 1 lb (0.45359237 kg) is an integer.
constexpr int64_t kBasePerPound = 45'359'237;
constexpr int64_t kBasePerKilogram = 100'000'000;
constexpr int64_t kPoundsPerHundredweight = 100;
constexpr int64_t kBasePerHundredweight =
    kPoundsPerHundredweight * kBasePerPound;
static_assert(kBasePerHundredweight == 4'535'923'700);

// The unit's size in the base, or nullopt for kEach (which has no weight) and
// for values outside the enum.
std::optional<int64_t> BasePerUnit(Unit unit) {
  switch (unit) {
    case Unit::kPound:
      return kBasePerPound;
    case Unit::kKilogram:
      return kBasePerKilogram;
    case Unit::kHundredweight:
      return kBasePerHundredweight;
    case Unit::kEach:
      return std::nullopt;
  }
  return std::nullopt;
}

bool IsUnit(Unit unit) {
  switch (unit) {
    case Unit::kPound:
    case Unit::kKilogram:
    case Unit::kHundredweight:
    case Unit::kEach:
      return true;
  }
  return false;
}

using money_internal::ToAbsl;

std::string QuoteUnit(std::string_view text) {
  return money_internal::Quote(text, kQuotedUnitBytesMax);
}

}  // namespace

absl::StatusOr<Unit> ParseUnit(std::string_view text) {
  for (const Unit unit :
       {Unit::kPound, Unit::kKilogram, Unit::kHundredweight, Unit::kEach}) {
    if (text == UnitName(unit)) return unit;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unit ", QuoteUnit(text),
                   " is not one of \"lb\", \"kg\", \"cwt\", \"each\" "
                   "(lowercase, exactly)"));
}

std::string_view UnitName(Unit unit) {
  switch (unit) {
    case Unit::kPound:
      return "lb";
    case Unit::kKilogram:
      return "kg";
    case Unit::kHundredweight:
      return "cwt";
    case Unit::kEach:
      return "each";
  }
  assert(false && "UnitName: value outside the Unit enum");
  return "unknown";
}

absl::StatusOr<UnitRatio> ConversionRatio(Unit from, Unit to) {
  if (!IsUnit(from) || !IsUnit(to)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ConversionRatio: unit value ",
        static_cast<int>(IsUnit(from) ? to : from), " is not a Unit"));
  }
  if (from == to) return UnitRatio{.numerator = 1, .denominator = 1};
  const std::optional<int64_t> from_base = BasePerUnit(from);
  const std::optional<int64_t> to_base = BasePerUnit(to);
  if (!from_base.has_value() || !to_base.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot convert \"", ToAbsl(UnitName(from)), "\" to \"",
        ToAbsl(UnitName(to)), "\": \"each\" is a count, not a weight"));
  }
  const int64_t divisor = std::gcd(*from_base, *to_base);
  const UnitRatio ratio{.numerator = *from_base / divisor,
                        .denominator = *to_base / divisor};
  assert(ratio.numerator > 0 && ratio.denominator > 0);
  assert(std::gcd(ratio.numerator, ratio.denominator) == 1);
  return ratio;
}

absl::StatusOr<int64_t> ConvertQuantityMicros(int64_t quantity_micros,
                                              Unit from, Unit to) {
  const absl::StatusOr<UnitRatio> ratio = ConversionRatio(from, to);
  if (!ratio.ok()) return ratio.status();
  return MulDivRoundHalfEven(quantity_micros, ratio->numerator,
                             ratio->denominator);
}

absl::StatusOr<int64_t> PremiumMicros(int64_t quantity_micros,
                                      Unit purchase_unit, Unit program_unit,
                                      int64_t rate_micros) {
  if (quantity_micros < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("PremiumMicros: quantity ",
                     FormatMicros(quantity_micros, 0), " is negative"));
  }
  if (rate_micros < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "PremiumMicros: rate ", FormatMicros(rate_micros, 0), " is negative"));
  }
  const absl::StatusOr<UnitRatio> ratio =
      ConversionRatio(purchase_unit, program_unit);
  if (!ratio.ok()) return ratio.status();
  // Denominators are at most kBasePerHundredweight, so this cannot overflow
  // unless the unit table itself is wrong.
  static_assert(kBasePerHundredweight <= INT64_MAX / kMicrosPerUnit);
  int64_t divisor = 0;
  if (__builtin_mul_overflow(ratio->denominator, kMicrosPerUnit, &divisor)) {
    assert(false && "PremiumMicros: unit ratio denominator too large");
    return absl::InternalError(
        absl::StrCat("PremiumMicros: unit ratio denominator ",
                     ratio->denominator, " overflows when scaled to micros"));
  }
  absl::StatusOr<int64_t> premium_micros = MulMulDivRoundHalfEven(
      quantity_micros, ratio->numerator, rate_micros, divisor);
  if (!premium_micros.ok()) {
    return absl::Status(
        premium_micros.status().code(),
        absl::StrCat("PremiumMicros: ", FormatMicros(quantity_micros, 0), " ",
                     ToAbsl(UnitName(purchase_unit)), " at ",
                     FormatMicros(rate_micros, 0), " per ",
                     ToAbsl(UnitName(program_unit)), ": ",
                     premium_micros.status().message()));
  }
  assert(*premium_micros >= 0);
  return premium_micros;
}

}  // namespace premium
