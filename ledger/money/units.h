// Units of purchase and exact conversion between them.
//
// A program buys in one unit (DESIGN section 3: lb, kg, cwt or each) and a
// purchase may be recorded in another. Conversions are exact rationals:
//   1 lb  = 0.45359237 kg (the international avoirdupois pound, exact by
//           definition);
//   1 cwt = 100 lb (the US short hundredweight);
//   each  is a count and converts only to itself.
//
// Quantities and rates are micros (see decimal.h). All functions are pure and
// thread-safe; failures are absl::Status as in decimal.h.

#ifndef LEDGER_MONEY_UNITS_H_
#define LEDGER_MONEY_UNITS_H_

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"

namespace premium {

enum class Unit {
  kPound,
  kKilogram,
  kHundredweight,
  kEach,
};

// Parses a unit name. Accepts exactly "lb", "kg", "cwt" and "each":
// lowercase, no whitespace, no plural or alias, for the same reason decimals
// have one spelling (see ParseMicros).
// Returns InvalidArgument, quoting the text and listing the accepted names,
// for anything else.
absl::StatusOr<Unit> ParseUnit(std::string_view text);

// The name ParseUnit accepts for unit: "lb", "kg", "cwt" or "each".
// Returns "unknown" (and asserts) for a value outside the enum.
std::string_view UnitName(Unit unit);

// An exact, positive conversion factor in lowest terms: a quantity in the
// `from` unit times numerator / denominator is the quantity in the `to` unit.
struct UnitRatio {
  int64_t numerator;
  int64_t denominator;

  friend bool operator==(const UnitRatio&, const UnitRatio&) = default;
};

// Returns the exact factor converting a quantity in `from` into `to`, reduced
// by the gcd (identity is 1/1; lb -> kg is 45359237/100000000).
// Returns InvalidArgument if exactly one of the units is kEach (a count has no
// weight), or if either is not a Unit enumerator.
absl::StatusOr<UnitRatio> ConversionRatio(Unit from, Unit to);

// Converts quantity_micros from one unit to another, ROUNDED half-even to the
// micro (converting between lb and kg is rarely exact in micros). Do not use
// the rounded result to compute money: use PremiumMicros, which rounds once.
// Any sign is accepted; rounding is symmetric around zero.
// Returns InvalidArgument as ConversionRatio does, OutOfRange if the converted
// quantity exceeds the micros range.
absl::StatusOr<int64_t> ConvertQuantityMicros(int64_t quantity_micros,
                                              Unit from, Unit to);

// Premium owed on one purchase, in micros of the program currency:
//   quantity converted to program_unit * rate_micros (per program_unit),
// computed as one exact 128-bit rational
//   quantity_micros * ratio.numerator * rate_micros
//     / (ratio.denominator * kMicrosPerUnit)
// and rounded half-even to the micro once, at the end (DESIGN section 4). The
// converted quantity is never rounded on the way.
// Returns InvalidArgument if quantity_micros or rate_micros is negative, or as
// ConversionRatio does for the units; OutOfRange if the 128-bit intermediate
// or the result overflows.
absl::StatusOr<int64_t> PremiumMicros(int64_t quantity_micros,
                                      Unit purchase_unit, Unit program_unit,
                                      int64_t rate_micros);

}  // namespace premium

#endif  // LEDGER_MONEY_UNITS_H_
