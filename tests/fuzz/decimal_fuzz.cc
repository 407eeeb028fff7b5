// Fuzz target of ledger/money/decimal.h: ParseMicros with every DecimalSpec
// the product uses, FormatMicros, and the checked arithmetic, each against
// a reference written here from the header's contract alone.
//
// Input: one mode byte, then
//   mode 0: the text to parse;
//   mode 1: operands for CheckedAdd/Sub/Negate, MultiplyMicros,
//           MulDivRoundHalfEven, MulMulDivRoundHalfEven, RoundMicrosHalfEven;
//   mode 2: a value and digit count for FormatMicros;
//   mode 3: a run of additions to one MicrosSum.
// Oracles:
//   - ParseMicros accepts exactly the grammar of the header (no leading
//     zeros, no exponent, no "-0", precision per spec, ...), with the value
//     and the error code the reference computes; every refusal quotes the
//     text; an accepted text is canonical (FormatMicros gives it back) and
//     its value formats to text that parses back to it;
//   - the arithmetic agrees with exact __int128 (and, for the triple product,
//     192-bit) references, rounds half-even, and reports OutOfRange exactly
//     when the exact result leaves [kMinMicros, kMaxMicros].
#include <fuzzer/FuzzedDataProvider.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "ledger/money/decimal.h"
#include "tests/fuzz/fuzz_check.h"

namespace premium {
namespace {

using int128 = __int128;
using uint128 = unsigned __int128;

constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();

// The specs the product parses with (AmountSpec for currencies with 0 and 2
// minor digits, as ledger/premium/validation.cc knows them, and 3 as the
// header's example), and specs ParseMicros must refuse.
constexpr DecimalSpec kSpecs[] = {
    AmountSpec(0),
    AmountSpec(2),
    AmountSpec(3),
    kQuantitySpec,
    kHoursSpec,
    kRateSpec,
    kInternalAmountSpec,
    DecimalSpec{.max_fraction_digits = -1, .allow_negative = true},
    DecimalSpec{.max_fraction_digits = kMicrosScale + 1,
                .allow_negative = true},
};

std::string Describe(std::string_view text) {
  return absl::StrCat(
      "\"", absl::CHexEscape(absl::string_view(text.data(), text.size())),
      "\"");
}

std::string Describe(int128 value) {
  if (value == 0) return "0";
  const bool negative = value < 0;
  uint128 magnitude =
      negative ? -static_cast<uint128>(value) : static_cast<uint128>(value);
  std::string digits;
  while (magnitude > 0) {
    digits.insert(digits.begin(), static_cast<char>('0' + magnitude % 10));
    magnitude /= 10;
  }
  return negative ? "-" + digits : digits;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// ---------------------------------------------------------------------------
// ParseMicros.

struct Expected {
  absl::StatusCode code = absl::StatusCode::kOk;
  int64_t micros = 0;
  size_t fraction_digits = 0;  // of the text, when it parses
};

// The header's contract, rule by rule. A text that breaks any rule is
// InvalidArgument; OutOfRange is left for text that is otherwise valid.
Expected ReferenceParse(std::string_view text, DecimalSpec spec) {
  const Expected invalid{.code = absl::StatusCode::kInvalidArgument};
  if (spec.max_fraction_digits < 0 || spec.max_fraction_digits > kMicrosScale) {
    return invalid;
  }
  if (text.empty() || text.size() > kDecimalTextMaxBytes) return invalid;
  size_t i = 0;
  const bool negative = text[0] == '-';
  if (negative) i = 1;
  const size_t integer_begin = i;
  while (i < text.size() && IsDigit(text[i])) ++i;
  const std::string_view integer =
      text.substr(integer_begin, i - integer_begin);
  std::string_view fraction;
  bool has_point = false;
  if (i < text.size() && text[i] == '.') {
    has_point = true;
    const size_t fraction_begin = ++i;
    while (i < text.size() && IsDigit(text[i])) ++i;
    fraction = text.substr(fraction_begin, i - fraction_begin);
  }
  if (i != text.size()) return invalid;  // any other character, anywhere
  if (integer.empty() || (has_point && fraction.empty())) return invalid;
  if (integer.size() > 1 && integer[0] == '0') return invalid;
  if (fraction.size() > static_cast<size_t>(spec.max_fraction_digits)) {
    return invalid;
  }
  const bool zero = integer.find_first_not_of('0') == std::string_view::npos &&
                    fraction.find_first_not_of('0') == std::string_view::npos;
  if (negative && zero) return invalid;
  if (negative && !spec.allow_negative) return invalid;
  // 30 integer digits are far beyond the range and still fit in 128 bits
  // once scaled by 10^6.
  if (integer.size() > 30)
    return Expected{.code = absl::StatusCode::kOutOfRange};
  uint128 magnitude = 0;
  for (const char c : integer) magnitude = magnitude * 10 + (c - '0');
  for (size_t digit = 0; digit < static_cast<size_t>(kMicrosScale); ++digit) {
    magnitude =
        magnitude * 10 + (digit < fraction.size()
                              ? static_cast<unsigned>(fraction[digit] - '0')
                              : 0u);
  }
  if (magnitude > static_cast<uint128>(kMaxMicros)) {
    return Expected{.code = absl::StatusCode::kOutOfRange};
  }
  const int64_t value = static_cast<int64_t>(magnitude);
  return Expected{.code = absl::StatusCode::kOk,
                  .micros = negative ? -value : value,
                  .fraction_digits = fraction.size()};
}

// What FormatMicros must return, computed digit by digit.
std::string ReferenceFormat(int64_t micros, int min_fraction_digits) {
  const int128 value = micros;
  const uint128 magnitude =
      value < 0 ? static_cast<uint128>(-value) : static_cast<uint128>(value);
  const uint128 units = magnitude / kMicrosPerUnit;
  std::string fraction;
  uint128 rest = magnitude % kMicrosPerUnit;
  for (int i = 0; i < kMicrosScale; ++i) {
    fraction.insert(fraction.begin(), static_cast<char>('0' + rest % 10));
    rest /= 10;
  }
  while (fraction.size() > static_cast<size_t>(min_fraction_digits) &&
         fraction.back() == '0') {
    fraction.pop_back();
  }
  std::string text =
      absl::StrCat(value < 0 ? "-" : "", Describe(int128(units)));
  if (!fraction.empty()) absl::StrAppend(&text, ".", fraction);
  return text;
}

void CheckFormat(int64_t micros, int min_fraction_digits) {
  const std::string text = FormatMicros(micros, min_fraction_digits);
  FUZZ_CHECK(text == ReferenceFormat(micros, min_fraction_digits),
             "FormatMicros(", micros, ", ", min_fraction_digits, ") = ", text,
             ", expected ", ReferenceFormat(micros, min_fraction_digits));
  const absl::StatusOr<int64_t> parsed = ParseMicros(text, kInternalAmountSpec);
  if (micros == kInt64Min) {
    FUZZ_CHECK(parsed.status().code() == absl::StatusCode::kOutOfRange,
               "INT64_MIN formats to ", text,
               " which must be out of range: ", parsed.status().ToString());
  } else {
    FUZZ_CHECK(
        parsed.ok() && *parsed == micros, "FormatMicros(", micros, ", ",
        min_fraction_digits, ") = ", text, " parses back as ",
        parsed.ok() ? absl::StrCat(*parsed) : parsed.status().ToString());
  }
}

void CheckParse(std::string_view text, DecimalSpec spec) {
  const absl::StatusOr<int64_t> parsed = ParseMicros(text, spec);
  const Expected expected = ReferenceParse(text, spec);
  const std::string what = absl::StrCat(
      "ParseMicros(", Describe(text), ", {", spec.max_fraction_digits, ", ",
      spec.allow_negative, "}) = ",
      parsed.ok() ? absl::StrCat(*parsed) : parsed.status().ToString());
  FUZZ_CHECK(parsed.status().code() == expected.code, what, "; expected code ",
             absl::StatusCodeToString(expected.code));
  if (!parsed.ok()) {
    // Every refusal quotes what it refused (cut to the length limit).
    const std::string quoted = absl::StrCat(
        "\"",
        absl::CHexEscape(absl::string_view(
            text.data(), std::min(text.size(), kDecimalTextMaxBytes))),
        "\"");
    FUZZ_CHECK(parsed.status().message().find(quoted) != std::string::npos,
               what, "; the message does not quote ", quoted);
    return;
  }
  FUZZ_CHECK(*parsed == expected.micros, what, "; expected ", expected.micros);
  FUZZ_CHECK(*parsed >= kMinMicros && *parsed <= kMaxMicros, what);
  // The grammar has one spelling per value and precision: formatting with
  // the text's own number of fraction digits gives the text back.
  const std::string canonical =
      FormatMicros(*parsed, static_cast<int>(expected.fraction_digits));
  FUZZ_CHECK(canonical == text, what, "; formats back as ", canonical);
  // And the value, formatted at the spec's precision, parses with the spec.
  const std::string at_precision =
      FormatMicros(*parsed, spec.max_fraction_digits);
  const absl::StatusOr<int64_t> again = ParseMicros(at_precision, spec);
  FUZZ_CHECK(again.ok() && *again == *parsed, what, "; ", at_precision,
             " does not parse back with the same spec");
  CheckFormat(*parsed, static_cast<int>(expected.fraction_digits));
}

// ---------------------------------------------------------------------------
// Arithmetic.

bool InRange(int128 value) {
  return value >= kMinMicros && value <= kMaxMicros;
}

// round_half_even(numerator / divisor) for divisor > 0, by floor division
// and a comparison of twice the remainder with the divisor: another route
// than the library's, which rounds the magnitude.
int128 ReferenceDivide(int128 numerator, int64_t divisor) {
  int128 quotient = numerator / divisor;
  int128 remainder = numerator % divisor;
  if (remainder < 0) {
    remainder += divisor;
    quotient -= 1;
  }
  // Now numerator = quotient * divisor + remainder, 0 <= remainder < divisor.
  const int128 twice = remainder * 2;
  if (twice > divisor || (twice == divisor && (quotient & 1) != 0)) {
    quotient += 1;
  }
  return quotient;
}

void ExpectResult(const absl::StatusOr<int64_t>& actual,
                  std::optional<int128> exact, const std::string& what) {
  const std::string got =
      actual.ok() ? absl::StrCat(*actual) : actual.status().ToString();
  if (exact.has_value() && InRange(*exact)) {
    FUZZ_CHECK(actual.ok() && *actual == *exact, what, " = ", got,
               ", expected ", Describe(*exact));
  } else {
    FUZZ_CHECK(actual.status().code() == absl::StatusCode::kOutOfRange, what,
               " = ", got, ", expected OutOfRange (exact result ",
               exact.has_value() ? Describe(*exact) : "beyond 128 bits", ")");
  }
}

// Whether |ab| * |c| >= 2^127, computed in three 64-bit limbs so that it
// does not rely on the overflow builtins the library uses.
bool ProductReaches2To127(uint128 ab_magnitude, uint64_t c_magnitude) {
  const uint128 low =
      static_cast<uint64_t>(ab_magnitude) * static_cast<uint128>(c_magnitude);
  const uint128 high = static_cast<uint64_t>(ab_magnitude >> 64) *
                       static_cast<uint128>(c_magnitude);
  // product = high * 2^64 + low; bits 127 and up are those of
  // (high + (low >> 64)) >> 63.
  const uint128 upper = high + (low >> 64);
  return (upper >> 63) != 0;
}

int64_t ConsumeOperand(FuzzedDataProvider& data) {
  // Boundaries are where arithmetic goes wrong; libFuzzer's comparison
  // tracing finds most of them, the table makes them cheap.
  static constexpr std::array<int64_t, 12> kInteresting = {0,
                                                           1,
                                                           -1,
                                                           2,
                                                           kMaxMicros,
                                                           kMinMicros,
                                                           kInt64Min,
                                                           kMicrosPerUnit,
                                                           500'000,
                                                           -500'000,
                                                           kMaxMicros - 1,
                                                           int64_t{1} << 62};
  if (data.ConsumeBool()) {
    return kInteresting[data.ConsumeIntegralInRange<size_t>(
        0, kInteresting.size() - 1)];
  }
  return data.ConsumeIntegral<int64_t>();
}

void CheckArithmetic(FuzzedDataProvider& data) {
  const int64_t a = ConsumeOperand(data);
  const int64_t b = ConsumeOperand(data);
  const int64_t c = ConsumeOperand(data);
  const int64_t divisor = ConsumeOperand(data);
  const int digits = data.ConsumeIntegralInRange<int>(-2, kMicrosScale + 2);
  const auto operands_ok = [](std::initializer_list<int64_t> values) {
    for (const int64_t value : values) {
      if (value == kInt64Min) return false;
    }
    return true;
  };

  ExpectResult(
      CheckedAdd(a, b),
      operands_ok({a, b}) ? std::optional<int128>(int128{a} + b) : std::nullopt,
      absl::StrCat("CheckedAdd(", a, ", ", b, ")"));
  ExpectResult(
      CheckedSub(a, b),
      operands_ok({a, b}) ? std::optional<int128>(int128{a} - b) : std::nullopt,
      absl::StrCat("CheckedSub(", a, ", ", b, ")"));
  ExpectResult(
      CheckedNegate(a),
      operands_ok({a}) ? std::optional<int128>(-int128{a}) : std::nullopt,
      absl::StrCat("CheckedNegate(", a, ")"));
  ExpectResult(MultiplyMicros(a, b),
               ReferenceDivide(int128{a} * b, kMicrosPerUnit),
               absl::StrCat("MultiplyMicros(", a, ", ", b, ")"));

  const std::string muldiv =
      absl::StrCat("MulDivRoundHalfEven(", a, ", ", b, ", ", divisor, ")");
  if (divisor <= 0) {
    FUZZ_CHECK(MulDivRoundHalfEven(a, b, divisor).status().code() ==
                   absl::StatusCode::kInvalidArgument,
               muldiv, " must refuse the divisor");
  } else {
    ExpectResult(MulDivRoundHalfEven(a, b, divisor),
                 ReferenceDivide(int128{a} * b, divisor), muldiv);
  }

  const std::string mulmuldiv = absl::StrCat("MulMulDivRoundHalfEven(", a, ", ",
                                             b, ", ", c, ", ", divisor, ")");
  if (divisor <= 0) {
    FUZZ_CHECK(MulMulDivRoundHalfEven(a, b, c, divisor).status().code() ==
                   absl::StatusCode::kInvalidArgument,
               mulmuldiv, " must refuse the divisor");
  } else {
    const int128 ab = int128{a} * b;
    const uint128 ab_magnitude =
        ab < 0 ? -static_cast<uint128>(ab) : static_cast<uint128>(ab);
    const uint64_t c_magnitude =
        c < 0 ? 0 - static_cast<uint64_t>(c) : static_cast<uint64_t>(c);
    std::optional<int128> exact;
    // A product of magnitude 2^127 or more divided by an int64 divisor
    // is at least 2^64: out of range however it is rounded.
    if (!ProductReaches2To127(ab_magnitude, c_magnitude)) {
      exact = ReferenceDivide(ab * c, divisor);
    }
    ExpectResult(MulMulDivRoundHalfEven(a, b, c, divisor), exact, mulmuldiv);
  }

  const std::string round =
      absl::StrCat("RoundMicrosHalfEven(", a, ", ", digits, ")");
  const absl::StatusOr<int64_t> rounded = RoundMicrosHalfEven(a, digits);
  if (digits < 0 || digits > kMicrosScale) {
    FUZZ_CHECK(rounded.status().code() == absl::StatusCode::kInvalidArgument,
               round, " must refuse the digits");
  } else {
    int64_t step = 1;
    for (int i = digits; i < kMicrosScale; ++i) step *= 10;
    ExpectResult(rounded, ReferenceDivide(a, step) * step, round);
  }
}

void CheckSum(FuzzedDataProvider& data) {
  MicrosSum sum;
  int128 total = 0;
  while (data.remaining_bytes() > 0) {
    const int64_t addend = ConsumeOperand(data);
    const int128 next = total + addend;
    const bool fits = addend != kInt64Min && InRange(next);
    const absl::Status status = sum.Add(addend);
    FUZZ_CHECK(status.ok() == fits, "MicrosSum ", Describe(total), " + ",
               addend, ": ", status.ToString());
    if (fits) {
      total = next;
    } else {
      FUZZ_CHECK(status.code() == absl::StatusCode::kOutOfRange,
                 status.ToString());
    }
    FUZZ_CHECK(sum.total_micros() == total, "MicrosSum total ",
               sum.total_micros(), ", expected ", Describe(total));
  }
}

}  // namespace
}  // namespace premium

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = bytes[0] % 4;
  FuzzedDataProvider data(bytes + 1, size - 1);
  switch (mode) {
    case 0: {
      const std::string_view text(reinterpret_cast<const char*>(bytes + 1),
                                  size - 1);
      for (const premium::DecimalSpec& spec : premium::kSpecs) {
        premium::CheckParse(text, spec);
      }
      break;
    }
    case 1:
      premium::CheckArithmetic(data);
      break;
    case 2: {
      const int64_t micros = premium::ConsumeOperand(data);
      for (int digits = 0; digits <= premium::kMicrosScale; ++digits) {
        premium::CheckFormat(micros, digits);
      }
      break;
    }
    case 3:
      premium::CheckSum(data);
      break;
  }
  return 0;
}
