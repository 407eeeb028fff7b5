// Exact fixed-point decimals for money, quantities, hours and rates.
//
// Every value in the ledger is an int64_t count of micro-units ("micros"):
// 1 unit = 1,000,000 micros, so 12.34 USD is 12'340'000 amount_micros and
// 0.015 USD/lb is 15'000 rate_micros. One representation serves every kind of
// value; what differs between kinds is how many fraction digits their text may
// carry (DESIGN section 4), which is a parameter of ParseMicros.
//
// Range: every function here keeps values within [-kMaxMicros, kMaxMicros],
// i.e. |value| <= INT64_MAX. INT64_MIN is never produced, so negating a value
// can never overflow; a result that would be INT64_MIN is reported as out of
// range like any other overflow.
//
// No floating point, no exceptions. Every failure is an absl::Status:
//   - InvalidArgument: the text or an argument is malformed or not allowed;
//   - OutOfRange: the exact result does not fit in the micros range.
// The message names the operation and, for text, quotes the offending input.
//
// All functions are pure and thread-safe.

#ifndef LEDGER_MONEY_DECIMAL_H_
#define LEDGER_MONEY_DECIMAL_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace premium {

// Fraction digits of the internal representation.
inline constexpr int kMicrosScale = 6;
inline constexpr int64_t kMicrosPerUnit = 1'000'000;

// The symmetric range of a micros value: |value| <= kMaxMicros.
inline constexpr int64_t kMaxMicros = std::numeric_limits<int64_t>::max();
inline constexpr int64_t kMinMicros = -kMaxMicros;

// ParseMicros refuses longer text before looking at it. The longest valid
// value, "-9223372036854.775807", has 21 characters; the limit leaves room for
// a clear "too many fraction digits" or "out of range" diagnosis of text that
// is close to valid, while bounding the work and the size of error messages.
inline constexpr size_t kDecimalTextMaxBytes = 64;

// What text a kind of value may carry.
struct DecimalSpec {
  // At most this many digits after the decimal point, counting trailing
  // zeros. Must be in [0, kMicrosScale]; ParseMicros refuses other specs.
  int max_fraction_digits;
  // Whether a leading '-' is accepted.
  bool allow_negative;
};

// Payroll and payment amounts: at most the currency's minor unit of fraction
// digits (2 for USD, 0 for JPY, 3 for KWD), never negative (a correction is a
// new entry that reverses the old one, not a negative amount). A currency with
// more than kMicrosScale minor digits yields a spec ParseMicros refuses.
constexpr DecimalSpec AmountSpec(int currency_minor_digits) {
  return DecimalSpec{.max_fraction_digits = currency_minor_digits,
                     .allow_negative = false};
}
// Quantities purchased (lb, kg, cwt, each): at most 3 fraction digits.
inline constexpr DecimalSpec kQuantitySpec{.max_fraction_digits = 3,
                                           .allow_negative = false};
// Hours worked: at most 2 fraction digits.
inline constexpr DecimalSpec kHoursSpec{.max_fraction_digits = 2,
                                        .allow_negative = false};
// Premium rates per unit: at most 6 fraction digits.
inline constexpr DecimalSpec kRateSpec{.max_fraction_digits = kMicrosScale,
                                       .allow_negative = false};
// Amounts computed inside the ledger (premium owed, balances, differences):
// full micro precision, signed. Every FormatMicros output parses with it.
inline constexpr DecimalSpec kInternalAmountSpec{
    .max_fraction_digits = kMicrosScale, .allow_negative = true};

// Parses decimal text into micros. The grammar is strict:
//
//   -?(0|[1-9][0-9]*)(\.[0-9]+)?
//
// with at most spec.max_fraction_digits fraction digits and the '-' only if
// spec.allow_negative. Nothing is normalised: a value that a spreadsheet or an
// upstream system mangled (" 12", "1.5E3", "007" from a zero-padded export)
// must be seen and fixed at the source, not silently read as something the
// file did not say. The integer part has one spelling; trailing fraction
// zeros within the allowed precision ("12.50", "0.0") are accepted because
// that is how amounts are conventionally written.
//
// On success returns the exact value in micros, within [kMinMicros,
// kMaxMicros].
// Returns InvalidArgument, with a message quoting the text, when:
//   - spec.max_fraction_digits is outside [0, kMicrosScale];
//   - the text is empty or longer than kDecimalTextMaxBytes;
//   - it contains whitespace anywhere, or any character outside "-.0-9";
//   - it has a leading '+', or uses exponent notation ("1e3");
//   - it has a leading zero ("01", "00.10", "-01");
//   - it lacks a digit before or after the point (".5", "5.", "-");
//   - it has more fraction digits than allowed, trailing zeros included
//     ("12.500" with 2 allowed: the precision rule is about what the file
//     says, and a third digit shows the producer did not round to cents);
//   - it is negative and the spec does not allow it;
//   - it is a negative zero ("-0", "-0.00"): no correct producer writes one,
//     so it signals a bug upstream.
// Returns OutOfRange, with a message quoting the text, when the magnitude
// exceeds 9223372036854.775807 (kMaxMicros).
absl::StatusOr<int64_t> ParseMicros(std::string_view text, DecimalSpec spec);

// Formats micros as exact decimal text: a '-' for negative values (never
// "-0"), the integer part without leading zeros, then at least
// min_fraction_digits fraction digits and more only as needed to be exact (at
// most kMicrosScale). Examples: (10000, 2) -> "0.01", (5000, 2) -> "0.005",
// (1500000, 2) -> "1.50", (0, 0) -> "0", (-1, 0) -> "-0.000001".
//
// min_fraction_digits must be in [0, kMicrosScale] (asserted; clamped into
// that range when assertions are off). Every micros value, INT64_MIN included,
// formats exactly. For every x in [kMinMicros, kMaxMicros] and every k,
// ParseMicros(FormatMicros(x, k), kInternalAmountSpec) == x.
std::string FormatMicros(int64_t micros, int min_fraction_digits);

// Checked arithmetic on micros. Each returns the exact result, or OutOfRange
// naming the operation and its operands when an operand or the result is
// outside [kMinMicros, kMaxMicros].
absl::StatusOr<int64_t> CheckedAdd(int64_t a_micros, int64_t b_micros);
absl::StatusOr<int64_t> CheckedSub(int64_t a_micros, int64_t b_micros);
absl::StatusOr<int64_t> CheckedNegate(int64_t micros);

// Returns a * b / divisor rounded half-even (ties to the even neighbour,
// symmetrically for negative results: -0.5 -> 0, -1.5 -> -2), computed exactly
// with a 128-bit intermediate, so a * b never overflows.
// Returns InvalidArgument if divisor <= 0, OutOfRange if the rounded result is
// outside [kMinMicros, kMaxMicros].
absl::StatusOr<int64_t> MulDivRoundHalfEven(int64_t a, int64_t b,
                                            int64_t divisor);

// Returns a * b * c / divisor rounded half-even, computed exactly in 128 bits
// and rounded once. Used where rounding an intermediate result would change
// the answer (unit conversion times a rate).
// Returns InvalidArgument if divisor <= 0, OutOfRange if a * b * c does not
// fit in 128 bits or the rounded result is outside [kMinMicros, kMaxMicros].
// (Whenever the 128-bit product overflows, the quotient by any int64 divisor
// is beyond int64 anyway, so no representable result is refused.)
absl::StatusOr<int64_t> MulMulDivRoundHalfEven(int64_t a, int64_t b, int64_t c,
                                               int64_t divisor);

// Returns a_micros * b_micros in micros (e.g. quantity_micros * rate_micros
// = amount_micros), rounded half-even to the micro.
// Returns OutOfRange if the result is outside [kMinMicros, kMaxMicros].
absl::StatusOr<int64_t> MultiplyMicros(int64_t a_micros, int64_t b_micros);

// Rounds micros half-even to fraction_digits decimal places (2 rounds to
// cents): 0.005 -> 0.00, 0.015 -> 0.02, -0.005 -> 0.00, -0.015 -> -0.02.
// The result is still in micros (a multiple of 10^(6 - fraction_digits)).
// Returns InvalidArgument if fraction_digits is outside [0, kMicrosScale],
// OutOfRange if the rounded value is outside [kMinMicros, kMaxMicros] (only
// possible within half a step of the range's ends).
absl::StatusOr<int64_t> RoundMicrosHalfEven(int64_t micros,
                                            int fraction_digits);

// An exact running total of micros values. Not thread-safe.
class MicrosSum {
 public:
  // Adds micros to the total. On success the total grows by exactly micros.
  // On OutOfRange (operand or new total outside [kMinMicros, kMaxMicros]) the
  // total is unchanged and later calls may still succeed; callers that must
  // not lose an addend should stop at the first error.
  absl::Status Add(int64_t micros);

  int64_t total_micros() const { return total_micros_; }

 private:
  int64_t total_micros_ = 0;
};

}  // namespace premium

#endif  // LEDGER_MONEY_DECIMAL_H_
