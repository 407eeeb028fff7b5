#include "ledger/money/decimal.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ledger/money/quote.h"

namespace premium {
namespace {

static_assert(kMicrosScale == 6);
static_assert(kMicrosPerUnit == 1'000'000);
static_assert(kMinMicros == -kMaxMicros);
static_assert(kDecimalTextMaxBytes >= sizeof("-9223372036854.775807") - 1);

// kPowersOfTen[n] == 10^n for n in [0, kMicrosScale].
constexpr std::array<int64_t, kMicrosScale + 1> kPowersOfTen = {
    1, 10, 100, 1'000, 10'000, 100'000, 1'000'000};
static_assert(kPowersOfTen[kMicrosScale] == kMicrosPerUnit);

bool InMicrosRange(int64_t value) { return value >= kMinMicros; }

using money_internal::ToAbsl;

std::string Quote(std::string_view text) {
  return money_internal::Quote(text, kDecimalTextMaxBytes);
}

absl::Status RefuseText(std::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("decimal ", Quote(text), " ", why));
}

// The lexical parts of text that matches -?(0|[1-9][0-9]*)(\.[0-9]+)?.
struct DecimalParts {
  bool negative = false;
  std::string_view integer_digits;   // Never empty.
  std::string_view fraction_digits;  // Empty when there is no point.
};

// Refuses characters that never belong in a decimal, each with its own
// message so that the person fixing the file knows what to look for.
absl::Status CheckCharacters(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      return RefuseText(text, absl::StrCat("contains whitespace at position ",
                                           i, "; remove it"));
    }
  }
  if (text.front() == '+') {
    return RefuseText(text,
                      "has a leading '+'; write positive values unsigned");
  }
  if (text.find_first_of("eE") != std::string_view::npos) {
    return RefuseText(text, "uses exponent notation; write all digits");
  }
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '-' && i > 0) {
      return RefuseText(text, absl::StrCat("has a '-' at position ", i,
                                           "; only a leading '-' is allowed"));
    }
    if (c != '-' && c != '.' &&
        !absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return RefuseText(
          text, absl::StrCat("contains the character ",
                             Quote(text.substr(i, 1)), " at position ", i,
                             "; only digits, '.' and '-' are allowed"));
    }
  }
  return absl::OkStatus();
}

// Splits text into sign, integer digits and fraction digits, refusing
// anything outside the grammar. Does not look at magnitudes.
absl::StatusOr<DecimalParts> SplitDecimal(std::string_view text) {
  if (text.empty()) return RefuseText(text, "is empty");
  if (text.size() > kDecimalTextMaxBytes) {
    return RefuseText(text, absl::StrCat("is longer than the limit of ",
                                         kDecimalTextMaxBytes, " characters"));
  }
  if (absl::Status status = CheckCharacters(text); !status.ok()) return status;

  DecimalParts parts;
  std::string_view body = text;
  if (body.front() == '-') {
    parts.negative = true;
    body.remove_prefix(1);
  }
  if (body.empty()) return RefuseText(text, "has no digits");
  const size_t point = body.find('.');
  if (point != std::string_view::npos &&
      body.find('.', point + 1) != std::string_view::npos) {
    return RefuseText(text, "has more than one decimal point");
  }
  parts.integer_digits = body.substr(0, point);
  if (point != std::string_view::npos) {
    parts.fraction_digits = body.substr(point + 1);
    if (parts.fraction_digits.empty()) {
      return RefuseText(text, "has no digit after the decimal point");
    }
  }
  if (parts.integer_digits.empty()) {
    return RefuseText(text, "has no digit before the decimal point");
  }
  if (parts.integer_digits.size() > 1 && parts.integer_digits.front() == '0') {
    return RefuseText(text,
                      "has a leading zero; write the integer part unpadded");
  }
  return parts;
}

// Appends one decimal digit to magnitude_micros (magnitude * 10 + digit),
// returning false instead of overflowing.
bool AppendDigit(int digit, int64_t& magnitude_micros) {
  assert(digit >= 0 && digit <= 9);
  return !__builtin_mul_overflow(magnitude_micros, 10, &magnitude_micros) &&
         !__builtin_add_overflow(magnitude_micros, digit, &magnitude_micros);
}

// The magnitude of the parsed value in micros, or nullopt if it exceeds
// kMaxMicros. Requires at most kMicrosScale fraction digits.
std::optional<int64_t> MagnitudeMicros(const DecimalParts& parts) {
  assert(parts.fraction_digits.size() <= kMicrosScale);
  int64_t magnitude_micros = 0;
  for (const char c : parts.integer_digits) {
    if (!AppendDigit(c - '0', magnitude_micros)) return std::nullopt;
  }
  for (const char c : parts.fraction_digits) {
    if (!AppendDigit(c - '0', magnitude_micros)) return std::nullopt;
  }
  for (size_t i = parts.fraction_digits.size(); i < kMicrosScale; ++i) {
    if (!AppendDigit(0, magnitude_micros)) return std::nullopt;
  }
  assert(magnitude_micros >= 0);
  return magnitude_micros;
}

bool AllZeros(std::string_view digits) {
  return digits.find_first_not_of('0') == std::string_view::npos;
}

// round_half_even(numerator / divisor), or nullopt if the result is outside
// [kMinMicros, kMaxMicros]. Requires divisor > 0. Rounds the magnitude and
// reapplies the sign, so rounding is symmetric around zero.
std::optional<int64_t> DivideRoundHalfEven(__int128 numerator,
                                           int64_t divisor) {
  assert(divisor > 0);
  const bool negative = numerator < 0;
  // Unsigned negation is defined even for the most negative __int128.
  const unsigned __int128 magnitude =
      negative ? -static_cast<unsigned __int128>(numerator)
               : static_cast<unsigned __int128>(numerator);
  const unsigned __int128 udivisor = static_cast<unsigned __int128>(divisor);
  unsigned __int128 quotient = magnitude / udivisor;
  const unsigned __int128 remainder = magnitude % udivisor;
  const unsigned __int128 rest = udivisor - remainder;  // remainder < udivisor
  if (remainder > rest || (remainder == rest && (quotient & 1) != 0)) {
    ++quotient;  // Cannot wrap: quotient <= 2^127.
  }
  if (quotient > static_cast<unsigned __int128>(kMaxMicros)) {
    return std::nullopt;
  }
  const int64_t result = static_cast<int64_t>(quotient);
  return negative ? -result : result;
}

absl::Status OutOfRangeResult(absl::string_view operation) {
  return absl::OutOfRangeError(absl::StrCat(
      operation, ": result is outside the micros range [",
      FormatMicros(kMinMicros, 0), ", ", FormatMicros(kMaxMicros, 0), "]"));
}

}  // namespace

absl::StatusOr<int64_t> ParseMicros(std::string_view text, DecimalSpec spec) {
  if (spec.max_fraction_digits < 0 || spec.max_fraction_digits > kMicrosScale) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ParseMicros: max_fraction_digits ", spec.max_fraction_digits,
        " is outside [0, ", kMicrosScale, "] (parsing ", Quote(text), ")"));
  }
  absl::StatusOr<DecimalParts> parts = SplitDecimal(text);
  if (!parts.ok()) return parts.status();

  const size_t fraction_digit_count = parts->fraction_digits.size();
  if (fraction_digit_count > static_cast<size_t>(spec.max_fraction_digits)) {
    return RefuseText(
        text,
        absl::StrCat("has ", fraction_digit_count, " fraction digits; at most ",
                     spec.max_fraction_digits, " are allowed here"));
  }
  if (parts->negative && AllZeros(parts->integer_digits) &&
      AllZeros(parts->fraction_digits)) {
    return RefuseText(text, "is a negative zero; write zero unsigned");
  }
  if (parts->negative && !spec.allow_negative) {
    return RefuseText(text, "is negative; this value must not be negative");
  }
  const std::optional<int64_t> magnitude_micros = MagnitudeMicros(*parts);
  if (!magnitude_micros.has_value()) {
    return absl::OutOfRangeError(absl::StrCat(
        "decimal ", Quote(text), " is out of range: its magnitude exceeds ",
        FormatMicros(kMaxMicros, 0)));
  }
  // Cannot overflow: the magnitude is at most kMaxMicros.
  return parts->negative ? -*magnitude_micros : *magnitude_micros;
}

std::string FormatMicros(int64_t micros, int min_fraction_digits) {
  assert(min_fraction_digits >= 0 && min_fraction_digits <= kMicrosScale);
  min_fraction_digits = std::clamp(min_fraction_digits, 0, kMicrosScale);
  const bool negative = micros < 0;
  // Unsigned negation so that INT64_MIN formats without overflow.
  const uint64_t magnitude_micros = negative ? 0 - static_cast<uint64_t>(micros)
                                             : static_cast<uint64_t>(micros);
  const uint64_t units = magnitude_micros / kMicrosPerUnit;
  uint64_t fraction = magnitude_micros % kMicrosPerUnit;
  int fraction_digits = kMicrosScale;
  while (fraction_digits > min_fraction_digits && fraction % 10 == 0) {
    fraction /= 10;
    --fraction_digits;
  }
  std::string text = absl::StrCat(negative ? "-" : "", units);
  if (fraction_digits > 0) {
    absl::StrAppend(&text, ".",
                    absl::StrFormat("%0*d", fraction_digits, fraction));
  }
  return text;
}

absl::StatusOr<int64_t> CheckedAdd(int64_t a_micros, int64_t b_micros) {
  int64_t sum_micros = 0;
  if (!InMicrosRange(a_micros) || !InMicrosRange(b_micros) ||
      __builtin_add_overflow(a_micros, b_micros, &sum_micros) ||
      !InMicrosRange(sum_micros)) {
    return OutOfRangeResult(absl::StrCat("CheckedAdd(",
                                         FormatMicros(a_micros, 0), ", ",
                                         FormatMicros(b_micros, 0), ")"));
  }
  return sum_micros;
}

absl::StatusOr<int64_t> CheckedSub(int64_t a_micros, int64_t b_micros) {
  int64_t difference_micros = 0;
  if (!InMicrosRange(a_micros) || !InMicrosRange(b_micros) ||
      __builtin_sub_overflow(a_micros, b_micros, &difference_micros) ||
      !InMicrosRange(difference_micros)) {
    return OutOfRangeResult(absl::StrCat("CheckedSub(",
                                         FormatMicros(a_micros, 0), ", ",
                                         FormatMicros(b_micros, 0), ")"));
  }
  return difference_micros;
}

absl::StatusOr<int64_t> CheckedNegate(int64_t micros) {
  if (!InMicrosRange(micros)) {
    return OutOfRangeResult(
        absl::StrCat("CheckedNegate(", FormatMicros(micros, 0), ")"));
  }
  return -micros;
}

absl::StatusOr<int64_t> MulMulDivRoundHalfEven(int64_t a, int64_t b, int64_t c,
                                               int64_t divisor) {
  // Built only on failure: this runs once per purchase.
  const auto operation = [&] {
    return absl::StrCat("MulMulDivRoundHalfEven(", a, ", ", b, ", ", c, ", ",
                        divisor, ")");
  };
  if (divisor <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(operation(), ": divisor must be positive"));
  }
  // |a * b| <= 2^126 always fits; only the third factor can overflow.
  const __int128 ab = static_cast<__int128>(a) * b;
  __int128 abc = 0;
  if (__builtin_mul_overflow(ab, static_cast<__int128>(c), &abc)) {
    return absl::OutOfRangeError(
        absl::StrCat(operation(), ": product overflows 128 bits"));
  }
  const std::optional<int64_t> result = DivideRoundHalfEven(abc, divisor);
  if (!result.has_value()) return OutOfRangeResult(operation());
  return *result;
}

absl::StatusOr<int64_t> MulDivRoundHalfEven(int64_t a, int64_t b,
                                            int64_t divisor) {
  const auto operation = [&] {
    return absl::StrCat("MulDivRoundHalfEven(", a, ", ", b, ", ", divisor, ")");
  };
  if (divisor <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(operation(), ": divisor must be positive"));
  }
  // |a * b| <= 2^126: the 128-bit product cannot overflow.
  const std::optional<int64_t> result =
      DivideRoundHalfEven(static_cast<__int128>(a) * b, divisor);
  if (!result.has_value()) return OutOfRangeResult(operation());
  return *result;
}

absl::StatusOr<int64_t> MultiplyMicros(int64_t a_micros, int64_t b_micros) {
  const std::optional<int64_t> product_micros = DivideRoundHalfEven(
      static_cast<__int128>(a_micros) * b_micros, kMicrosPerUnit);
  if (!product_micros.has_value()) {
    return OutOfRangeResult(absl::StrCat("MultiplyMicros(",
                                         FormatMicros(a_micros, 0), ", ",
                                         FormatMicros(b_micros, 0), ")"));
  }
  return *product_micros;
}

absl::StatusOr<int64_t> RoundMicrosHalfEven(int64_t micros,
                                            int fraction_digits) {
  if (fraction_digits < 0 || fraction_digits > kMicrosScale) {
    return absl::InvalidArgumentError(
        absl::StrCat("RoundMicrosHalfEven: fraction_digits ", fraction_digits,
                     " is outside [0, ", kMicrosScale, "]"));
  }
  const int64_t step_micros = kPowersOfTen[kMicrosScale - fraction_digits];
  const std::optional<int64_t> steps = DivideRoundHalfEven(micros, step_micros);
  int64_t rounded_micros = 0;
  if (!steps.has_value() ||
      __builtin_mul_overflow(*steps, step_micros, &rounded_micros) ||
      !InMicrosRange(rounded_micros)) {
    return OutOfRangeResult(absl::StrCat("RoundMicrosHalfEven(",
                                         FormatMicros(micros, 0), ", ",
                                         fraction_digits, ")"));
  }
  assert(rounded_micros % step_micros == 0);
  return rounded_micros;
}

absl::Status MicrosSum::Add(int64_t micros) {
  absl::StatusOr<int64_t> total_micros = CheckedAdd(total_micros_, micros);
  if (!total_micros.ok()) return total_micros.status();
  total_micros_ = *total_micros;
  return absl::OkStatus();
}

}  // namespace premium
