#include "ledger/money/decimal.h"

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/money/quote.h"

namespace premium {
namespace {

using ::testing::HasSubstr;

// A message quotes text as Escape renders it.
using money_internal::Escape;

constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
constexpr DecimalSpec kCentsSpec = AmountSpec(2);

// ---------------------------------------------------------------------------
// ParseMicros: accepted forms.

struct AcceptCase {
  std::string_view text;
  DecimalSpec spec;
  int64_t expected_micros;
};

TEST(ParseMicrosTest, AcceptsValidText) {
  const AcceptCase cases[] = {
      {"0", kQuantitySpec, 0},
      {"0", AmountSpec(0), 0},
      {"1", kQuantitySpec, 1'000'000},
      {"10", kHoursSpec, 10'000'000},
      {"100", AmountSpec(0), 100'000'000},
      {"0.0", kQuantitySpec, 0},
      {"0.00", kCentsSpec, 0},
      {"0.01", kCentsSpec, 10'000},
      {"12.34", kCentsSpec, 12'340'000},
      {"12.50", kCentsSpec, 12'500'000},
      {"12.5", kCentsSpec, 12'500'000},
      {"12.345", AmountSpec(3), 12'345'000},
      {"1.500", kQuantitySpec, 1'500'000},
      {"1000.125", kQuantitySpec, 1'000'125'000},
      {"40.25", kHoursSpec, 40'250'000},
      {"0.015", kRateSpec, 15'000},
      {"0.000001", kRateSpec, 1},
      {"0.100000", kRateSpec, 100'000},
      {"9223372036854", kInternalAmountSpec, 9'223'372'036'854'000'000},
      {"9223372036854.775807", kInternalAmountSpec, kMaxMicros},
      {"9223372036854.775807", kRateSpec, kMaxMicros},
      {"9223372036854.775806", kInternalAmountSpec, kMaxMicros - 1},
      {"-9223372036854.775807", kInternalAmountSpec, kMinMicros},
      {"-0.000001", kInternalAmountSpec, -1},
      {"-5", kInternalAmountSpec, -5'000'000},
      {"-12.34", kInternalAmountSpec, -12'340'000},
      {"-0.5", kInternalAmountSpec, -500'000},
      {"-1.000000", kInternalAmountSpec, -1'000'000},
  };
  for (const AcceptCase& c : cases) {
    SCOPED_TRACE(c.text);
    absl::StatusOr<int64_t> micros = ParseMicros(c.text, c.spec);
    ASSERT_TRUE(micros.ok()) << micros.status();
    EXPECT_EQ(*micros, c.expected_micros);
  }
}

// ---------------------------------------------------------------------------
// ParseMicros: refused forms, with the code and what the message must say.

struct RefuseCase {
  std::string_view text;
  DecimalSpec spec;
  absl::StatusCode code;
  std::string_view message_fragment;
};

void ExpectRefused(const RefuseCase& c) {
  SCOPED_TRACE(Escape(c.text));
  absl::StatusOr<int64_t> micros = ParseMicros(c.text, c.spec);
  ASSERT_FALSE(micros.ok()) << "parsed as " << *micros;
  EXPECT_EQ(micros.status().code(), c.code) << micros.status();
  // The message quotes the offending text (escaped, truncated if long).
  const std::string quoted =
      absl::StrCat("\"", Escape(c.text.substr(0, kDecimalTextMaxBytes)), "\"");
  EXPECT_THAT(micros.status().message(), HasSubstr(quoted));
  EXPECT_THAT(micros.status().message(), HasSubstr(c.message_fragment));
}

constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;
constexpr absl::StatusCode kOutOfRange = absl::StatusCode::kOutOfRange;

TEST(ParseMicrosTest, RefusesEmptyAndOverlongText) {
  const std::string at_limit =
      "1." + std::string(kDecimalTextMaxBytes - 2, '0');
  const std::string over_limit = at_limit + "0";
  const std::string huge(100'000, '7');
  const RefuseCase cases[] = {
      {"", kInternalAmountSpec, kInvalid, "is empty"},
      // At the limit the text is parsed (and refused for its precision);
      // one byte more is refused unread.
      {at_limit, kInternalAmountSpec, kInvalid, "fraction digits"},
      {over_limit, kInternalAmountSpec, kInvalid,
       "longer than the limit of 64"},
      {huge, kInternalAmountSpec, kInvalid, "longer than the limit"},
  };
  for (const RefuseCase& c : cases) ExpectRefused(c);
}

TEST(ParseMicrosTest, RefusesWhitespaceAnywhere) {
  const RefuseCase cases[] = {
      {" 1", kQuantitySpec, kInvalid, "whitespace at position 0"},
      {"1 ", kQuantitySpec, kInvalid, "whitespace at position 1"},
      {"1 000", kQuantitySpec, kInvalid, "whitespace"},
      {"1\t", kQuantitySpec, kInvalid, "whitespace"},
      {"1\n", kQuantitySpec, kInvalid, "whitespace"},
      {"\r\n", kQuantitySpec, kInvalid, "whitespace"},
      {"- 1", kInternalAmountSpec, kInvalid, "whitespace"},
      {" ", kQuantitySpec, kInvalid, "whitespace"},
  };
  for (const RefuseCase& c : cases) ExpectRefused(c);
}

TEST(ParseMicrosTest, RefusesSignsOtherThanOneLeadingMinus) {
  const RefuseCase cases[] = {
      {"+1", kQuantitySpec, kInvalid, "leading '+'"},
      {"+0", kInternalAmountSpec, kInvalid, "leading '+'"},
      {"+", kInternalAmountSpec, kInvalid, "leading '+'"},
      {"--1", kInternalAmountSpec, kInvalid, "only a leading '-'"},
      {"1-", kInternalAmountSpec, kInvalid, "only a leading '-'"},
      {"-", kInternalAmountSpec, kInvalid, "has no digits"},
      {"-+1", kInternalAmountSpec, kInvalid, "character \"+\""},
  };
  for (const RefuseCase& c : cases) ExpectRefused(c);
}

TEST(ParseMicrosTest, RefusesExponentAndOtherCharacters) {
  const RefuseCase cases[] = {
      {"1e3", kQuantitySpec, kInvalid, "exponent"},
      {"1E3", kQuantitySpec, kInvalid, "exponent"},
      {"1.5e-3", kQuantitySpec, kInvalid, "exponent"},
      {"1e", kQuantitySpec, kInvalid, "exponent"},
      {"1,000", kQuantitySpec, kInvalid, "character \",\" at position 1"},
      {"1,5", kQuantitySpec, kInvalid, "character \",\""},
      {"abc", kQuantitySpec, kInvalid, "character \"a\" at position 0"},
      {"0x10", kQuantitySpec, kInvalid, "character \"x\""},
      {"NaN", kQuantitySpec, kInvalid, "character \"N\""},
      {"inf", kQuantitySpec, kInvalid, "character \"i\""},
      {"$5", kQuantitySpec, kInvalid, "character \"$\""},
      {"5%", kQuantitySpec, kInvalid, "character \"%\""},
      {"1_000", kQuantitySpec, kInvalid, "character \"_\""},
      {"'1", kQuantitySpec, kInvalid, "character \"\\'\""},
      {"\"1\"", kQuantitySpec, kInvalid, "character \"\\\"\""},
      // A non-breaking space (UTF-8 C2 A0), as spreadsheets paste it.
      {"1\xc2\xa0", kQuantitySpec, kInvalid,
       "character \"\\xc2\" at position 1"},
      // Fullwidth digit one (UTF-8 EF BC 91).
      {"\xef\xbc\x91", kQuantitySpec, kInvalid, "character \"\\xef\""},
      {std::string_view("1\0", 2), kQuantitySpec, kInvalid,
       "character \"\\x00\""},
  };
  for (const RefuseCase& c : cases) ExpectRefused(c);
}

TEST(ParseMicrosTest, RefusesLeadingZeros) {
  const RefuseCase cases[] = {
      {"00", kQuantitySpec, kInvalid, "leading zero"},
      {"01", kQuantitySpec, kInvalid, "leading zero"},
      {"00.10", kCentsSpec, kInvalid, "leading zero"},
      {"007", kQuantitySpec, kInvalid, "leading zero"},
      {"-01", kInternalAmountSpec, kInvalid, "leading zero"},
      {"-00.5", kInternalAmountSpec, kInvalid, "leading zero"},
      {"09223372036854.775807", kInternalAmountSpec, kInvalid, "leading zero"},
  };
  for (const RefuseCase& c : cases) ExpectRefused(c);
}

TEST(ParseMicrosTest, RefusesMissingDigitsAroundThePoint) {
  const RefuseCase cases[] = {
      {".5", kQuantitySpec, kInvalid, "no digit before the decimal point"},
      {"-.5", kInternalAmountSpec, kInvalid, "no digit before"},
      {"5.", kQuantitySpec, kInvalid, "no digit after the decimal point"},
      {"-5.", kInternalAmountSpec, kInvalid, "no digit after"},
      {".", kQuantitySpec, kInvalid, "no digit after"},
      {"1.2.3", kQuantitySpec, kInvalid, "more than one decimal point"},
      {"1..2", kQuantitySpec, kInvalid, "more than one decimal point"},
  };
  for (const RefuseCase& c : cases) ExpectRefused(c);
}

TEST(ParseMicrosTest, RefusesMoreFractionDigitsThanTheSpecAllows) {
  const RefuseCase cases[] = {
      {"12.500", kCentsSpec, kInvalid, "has 3 fraction digits; at most 2"},
      {"0.001", kCentsSpec, kInvalid, "has 3 fraction digits; at most 2"},
      {"0.000", kCentsSpec, kInvalid, "has 3 fraction digits"},
      {"1.5", AmountSpec(0), kInvalid, "has 1 fraction digits; at most 0"},
      {"1.0", AmountSpec(0), kInvalid, "at most 0"},
      {"1.2345", AmountSpec(3), kInvalid, "at most 3"},
      {"1.0000", kQuantitySpec, kInvalid, "has 4 fraction digits; at most 3"},
      {"40.125", kHoursSpec, kInvalid, "at most 2"},
      {"0.0000001", kRateSpec, kInvalid, "has 7 fraction digits; at most 6"},
      {"1.0000000", kInternalAmountSpec, kInvalid, "at most 6"},
      {"-1.0000001", kInternalAmountSpec, kInvalid, "at most 6"},
  };
  for (const RefuseCase& c : cases) ExpectRefused(c);
}

TEST(ParseMicrosTest, RefusesNegativeWhereNotAllowed) {
  const RefuseCase cases[] = {
      {"-1", kQuantitySpec, kInvalid, "is negative"},
      {"-0.01", kCentsSpec, kInvalid, "is negative"},
      {"-8", kHoursSpec, kInvalid, "is negative"},
      {"-0.000001", kRateSpec, kInvalid, "is negative"},
  };
  for (const RefuseCase& c : cases) ExpectRefused(c);
}

TEST(ParseMicrosTest, RefusesNegativeZero) {
  const RefuseCase cases[] = {
      {"-0", kInternalAmountSpec, kInvalid, "negative zero"},
      {"-0.00", kInternalAmountSpec, kInvalid, "negative zero"},
      {"-0.000000", kInternalAmountSpec, kInvalid, "negative zero"},
      {"-0", kQuantitySpec, kInvalid, "negative zero"},
      {"-0.00", kCentsSpec, kInvalid, "negative zero"},
  };
  for (const RefuseCase& c : cases) ExpectRefused(c);
}

TEST(ParseMicrosTest, RefusesMagnitudesBeyondInt64Micros) {
  const RefuseCase cases[] = {
      {"9223372036854.775808", kInternalAmountSpec, kOutOfRange,
       "out of range"},
      {"-9223372036854.775808", kInternalAmountSpec, kOutOfRange,
       "exceeds 9223372036854.775807"},
      {"9223372036854.775810", kInternalAmountSpec, kOutOfRange,
       "out of range"},
      {"9223372036854.8", kInternalAmountSpec, kOutOfRange, "out of range"},
      {"9223372036855", kInternalAmountSpec, kOutOfRange, "out of range"},
      {"9223372036855", AmountSpec(0), kOutOfRange, "out of range"},
      // 2^64 micros: would wrap to zero in unsigned arithmetic.
      {"18446744073709.551616", kInternalAmountSpec, kOutOfRange,
       "out of range"},
      {"99999999999999999999", kInternalAmountSpec, kOutOfRange,
       "out of range"},
      {"-99999999999999999999.999999", kInternalAmountSpec, kOutOfRange,
       "out of range"},
      {"1000000000000000000000000000000000000000", kInternalAmountSpec,
       kOutOfRange, "out of range"},
  };
  for (const RefuseCase& c : cases) ExpectRefused(c);
}

TEST(ParseMicrosTest, RefusesAnInvalidSpec) {
  const DecimalSpec too_precise{.max_fraction_digits = 7,
                                .allow_negative = false};
  const DecimalSpec negative_digits{.max_fraction_digits = -1,
                                    .allow_negative = false};
  ExpectRefused({"1", too_precise, kInvalid, "max_fraction_digits 7"});
  ExpectRefused({"1", negative_digits, kInvalid, "max_fraction_digits -1"});
  ExpectRefused({"1", AmountSpec(8), kInvalid, "max_fraction_digits 8"});
}

TEST(ParseMicrosTest, EveryDigitPositionRoundsTrip) {
  // One unit in each decimal position, and the largest value with each
  // number of fraction digits: catches an off-by-one in the scaling.
  int64_t micros = 1;
  for (int fraction_digits = kMicrosScale; fraction_digits >= 0;
       --fraction_digits) {
    const std::string text = FormatMicros(micros, fraction_digits);
    absl::StatusOr<int64_t> parsed =
        ParseMicros(text, DecimalSpec{.max_fraction_digits = fraction_digits,
                                      .allow_negative = false});
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, micros) << text;
    micros *= 10;
  }
}

// ---------------------------------------------------------------------------
// FormatMicros.

TEST(FormatMicrosTest, Examples) {
  struct Case {
    int64_t micros;
    int min_fraction_digits;
    std::string_view expected;
  };
  const Case cases[] = {
      {10'000, 2, "0.01"},
      {5'000, 2, "0.005"},
      {1'500'000, 2, "1.50"},
      {0, 0, "0"},
      {0, 2, "0.00"},
      {0, 6, "0.000000"},
      {-1, 0, "-0.000001"},
      {-1, 2, "-0.000001"},
      {1, 6, "0.000001"},
      {1'000'000, 0, "1"},
      {1'000'000, 3, "1.000"},
      {-1'000'000, 0, "-1"},
      {12'340'000, 0, "12.34"},
      {12'340'000, 2, "12.34"},
      {12'340'000, 4, "12.3400"},
      {-12'345'600, 2, "-12.3456"},
      {100'000'000, 0, "100"},
      {kMaxMicros, 0, "9223372036854.775807"},
      {kMaxMicros, 6, "9223372036854.775807"},
      {kMinMicros, 2, "-9223372036854.775807"},
      // INT64_MIN is never produced here but still formats exactly.
      {kInt64Min, 0, "-9223372036854.775808"},
      {9'223'372'036'854'000'000, 2, "9223372036854.00"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(FormatMicros(c.micros, c.min_fraction_digits), c.expected)
        << c.micros << " with " << c.min_fraction_digits;
  }
}

// Checks the shape FormatMicros promises for one value, then the round trip.
void ExpectFormatRoundTrips(int64_t micros) {
  for (int min_fraction_digits = 0; min_fraction_digits <= kMicrosScale;
       ++min_fraction_digits) {
    const std::string text = FormatMicros(micros, min_fraction_digits);
    SCOPED_TRACE(text);
    const size_t point = text.find('.');
    const size_t fraction_digits =
        point == std::string::npos ? 0 : text.size() - point - 1;
    EXPECT_GE(fraction_digits, static_cast<size_t>(min_fraction_digits));
    EXPECT_LE(fraction_digits, static_cast<size_t>(kMicrosScale));
    if (fraction_digits > static_cast<size_t>(min_fraction_digits)) {
      EXPECT_NE(text.back(), '0') << "more digits than needed";
    }
    EXPECT_EQ(text.front() == '-', micros < 0) << "sign, or a negative zero";
    absl::StatusOr<int64_t> parsed = ParseMicros(text, kInternalAmountSpec);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, micros);
  }
}

TEST(FormatMicrosTest, RoundTripsAtBoundaries) {
  std::vector<int64_t> values = {0,
                                 1,
                                 -1,
                                 9,
                                 10,
                                 999'999,
                                 1'000'000,
                                 1'000'001,
                                 -999'999,
                                 -1'000'000,
                                 -1'000'001,
                                 kMaxMicros,
                                 kMaxMicros - 1,
                                 kMinMicros,
                                 kMinMicros + 1,
                                 kMaxMicros / kMicrosPerUnit * kMicrosPerUnit};
  for (int64_t power = 1; power <= kMaxMicros / 10; power *= 10) {
    values.push_back(power);
    values.push_back(-power);
    values.push_back(power - 1);
    values.push_back(power + 1);
  }
  for (const int64_t micros : values) ExpectFormatRoundTrips(micros);
}

// SplitMix64: a fixed, portable sequence, so failures reproduce.
uint64_t NextRandom(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

TEST(FormatMicrosTest, RoundTripsAPseudoRandomSweep) {
  uint64_t state = 20240601;
  constexpr int kValueCount = 20'000;
  for (int i = 0; i < kValueCount; ++i) {
    const uint64_t bits = NextRandom(state);
    // Vary the magnitude so small values (cents, single micros) are as well
    // covered as huge ones.
    const int shift = static_cast<int>(NextRandom(state) % 64);
    int64_t micros = static_cast<int64_t>(bits >> shift);
    if (micros == kInt64Min) micros = kMinMicros;
    ExpectFormatRoundTrips(micros);
    if (HasFailure()) return;  // One failing value is enough to report.
  }
}

// ---------------------------------------------------------------------------
// Checked addition, subtraction and negation.

TEST(CheckedArithmeticTest, AddWithinRange) {
  EXPECT_EQ(*CheckedAdd(1, 2), 3);
  EXPECT_EQ(*CheckedAdd(kMaxMicros, 0), kMaxMicros);
  EXPECT_EQ(*CheckedAdd(kMaxMicros - 1, 1), kMaxMicros);
  EXPECT_EQ(*CheckedAdd(kMinMicros + 1, -1), kMinMicros);
  EXPECT_EQ(*CheckedAdd(kMaxMicros, kMinMicros), 0);
  EXPECT_EQ(*CheckedAdd(-5, 3), -2);
}

TEST(CheckedArithmeticTest, AddOverflowByOneAtBothEnds) {
  for (const auto& [a, b] : std::vector<std::pair<int64_t, int64_t>>{
           {kMaxMicros, 1},
           {1, kMaxMicros},
           {kMaxMicros, kMaxMicros},
           // Would be INT64_MIN: outside the symmetric range.
           {kMinMicros, -1},
           {-1, kMinMicros},
           {kMinMicros, -2},
           {kMinMicros, kMinMicros},
           // An operand outside the range is refused even if the sum fits.
           {kInt64Min, 1},
           {1, kInt64Min},
       }) {
    absl::StatusOr<int64_t> sum = CheckedAdd(a, b);
    ASSERT_FALSE(sum.ok()) << a << " + " << b;
    EXPECT_EQ(sum.status().code(), absl::StatusCode::kOutOfRange);
    EXPECT_THAT(sum.status().message(), HasSubstr("CheckedAdd("));
  }
}

TEST(CheckedArithmeticTest, SubWithinRange) {
  EXPECT_EQ(*CheckedSub(3, 5), -2);
  EXPECT_EQ(*CheckedSub(0, kMaxMicros), kMinMicros);
  EXPECT_EQ(*CheckedSub(kMaxMicros, kMaxMicros), 0);
  EXPECT_EQ(*CheckedSub(kMaxMicros - 1, -1), kMaxMicros);
  EXPECT_EQ(*CheckedSub(-1, kMaxMicros - 1), kMinMicros);
}

TEST(CheckedArithmeticTest, SubOverflowByOneAtBothEnds) {
  EXPECT_EQ(*CheckedSub(0, kMinMicros), kMaxMicros);
  for (const auto& [a, b] : std::vector<std::pair<int64_t, int64_t>>{
           {kMaxMicros, -1},
           {kMinMicros, 1},
           {-1, kMaxMicros},  // Would be INT64_MIN.
           {-2, kMaxMicros},
           {kMaxMicros, kMinMicros},
           {kInt64Min, -1},
           {0, kInt64Min},
       }) {
    absl::StatusOr<int64_t> difference = CheckedSub(a, b);
    ASSERT_FALSE(difference.ok()) << a << " - " << b;
    EXPECT_EQ(difference.status().code(), absl::StatusCode::kOutOfRange);
    EXPECT_THAT(difference.status().message(), HasSubstr("CheckedSub("));
  }
}

TEST(CheckedArithmeticTest, Negate) {
  EXPECT_EQ(*CheckedNegate(0), 0);
  EXPECT_EQ(*CheckedNegate(1), -1);
  EXPECT_EQ(*CheckedNegate(kMaxMicros), kMinMicros);
  EXPECT_EQ(*CheckedNegate(kMinMicros), kMaxMicros);
  absl::StatusOr<int64_t> negated = CheckedNegate(kInt64Min);
  ASSERT_FALSE(negated.ok());
  EXPECT_EQ(negated.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(negated.status().message(), HasSubstr("CheckedNegate("));
}

TEST(CheckedArithmeticTest, OverflowMessageShowsOperandsAsDecimals) {
  absl::StatusOr<int64_t> sum = CheckedAdd(kMaxMicros, 1);
  ASSERT_FALSE(sum.ok());
  EXPECT_THAT(sum.status().message(),
              HasSubstr("CheckedAdd(9223372036854.775807, 0.000001)"));
}

// ---------------------------------------------------------------------------
// MulDivRoundHalfEven and MulMulDivRoundHalfEven.

struct MulDivCase {
  int64_t a;
  int64_t b;
  int64_t divisor;
  int64_t expected;
};

TEST(MulDivRoundHalfEvenTest, RoundsTiesToEven) {
  const MulDivCase cases[] = {
      {1, 1, 2, 0},      // 0.5 -> 0
      {3, 1, 2, 2},      // 1.5 -> 2
      {5, 1, 2, 2},      // 2.5 -> 2
      {7, 1, 2, 4},      // 3.5 -> 4
      {-1, 1, 2, 0},     // -0.5 -> 0
      {-3, 1, 2, -2},    // -1.5 -> -2
      {-5, 1, 2, -2},    // -2.5 -> -2
      {1, -5, 2, -2},    // sign of either factor
      {-1, -5, 2, 2},    // two negatives
      {25, 1, 10, 2},    // 2.5 -> 2
      {35, 1, 10, 4},    // 3.5 -> 4
      {-35, 1, 10, -4},  // -3.5 -> -4
  };
  for (const MulDivCase& c : cases) {
    EXPECT_EQ(*MulDivRoundHalfEven(c.a, c.b, c.divisor), c.expected)
        << c.a << " * " << c.b << " / " << c.divisor;
  }
}

TEST(MulDivRoundHalfEvenTest, RoundsNonTiesToNearest) {
  const MulDivCase cases[] = {
      {1, 1, 3, 0},                              // 0.333
      {2, 1, 3, 1},                              // 0.667
      {-2, 1, 3, -1},                            // -0.667
      {-1, 1, 3, 0},                             // -0.333
      {5001, 1, 10'000, 1},                      // just above a tie
      {4999, 1, 10'000, 0},                      // just below a tie
      {-5001, 1, 10'000, -1}, {10, 10, 10, 10},  // exact
      {0, 123, 7, 0},
  };
  for (const MulDivCase& c : cases) {
    EXPECT_EQ(*MulDivRoundHalfEven(c.a, c.b, c.divisor), c.expected)
        << c.a << " * " << c.b << " / " << c.divisor;
  }
}

TEST(MulDivRoundHalfEvenTest, UsesA128BitIntermediate) {
  const MulDivCase cases[] = {
      {kMaxMicros, kMaxMicros, kMaxMicros, kMaxMicros},
      {kMaxMicros, kMaxMicros - 1, kMaxMicros, kMaxMicros - 1},
      {kMaxMicros, 3, 3, kMaxMicros},
      {kMinMicros, 3, 3, kMinMicros},
      {1'000'000'000'000'000'000, 1'000'000'000'000'000'000,
       1'000'000'000'000'000'000, 1'000'000'000'000'000'000},
      // (2^63 - 1) * 3 / 6 = 2^62 - 0.5: a tie, rounded to the even 2^62.
      {kMaxMicros, 3, 6, 4'611'686'018'427'387'904},
      {kMinMicros, 3, 6, -4'611'686'018'427'387'904},
      // INT64_MIN is a valid factor; only results are range-checked.
      {kInt64Min, 3, 6, -4'611'686'018'427'387'904},
      // 2^125 / (2^63 - 1) = 2^62 + 2^62 / (2^63 - 1), a hair above a tie.
      {kInt64Min, 4'611'686'018'427'387'904, kMaxMicros,
       -4'611'686'018'427'387'905},
  };
  for (const MulDivCase& c : cases) {
    absl::StatusOr<int64_t> result = MulDivRoundHalfEven(c.a, c.b, c.divisor);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(*result, c.expected) << c.a << " * " << c.b << " / " << c.divisor;
  }
}

TEST(MulDivRoundHalfEvenTest, ReportsOverflowAndBadDivisor) {
  struct Case {
    int64_t a;
    int64_t b;
    int64_t divisor;
    absl::StatusCode code;
  };
  const Case cases[] = {
      {kMaxMicros, 2, 1, absl::StatusCode::kOutOfRange},
      {kMaxMicros, kMaxMicros, 1, absl::StatusCode::kOutOfRange},
      // (2^63 - 1)^2 / (2^63 - 2) = 2^63 + a little: over by one.
      {kMaxMicros, kMaxMicros, kMaxMicros - 1, absl::StatusCode::kOutOfRange},
      {kMaxMicros, -kMaxMicros, kMaxMicros - 1, absl::StatusCode::kOutOfRange},
      // 2^126 / (2^63 - 1) = 2^63 + 1 + a little.
      {kInt64Min, kInt64Min, kMaxMicros, absl::StatusCode::kOutOfRange},
      // A result of INT64_MIN is outside the symmetric range.
      {kInt64Min, 1, 1, absl::StatusCode::kOutOfRange},
      {kMinMicros, 2, 2, absl::StatusCode::kOk},
      {1, 1, 0, absl::StatusCode::kInvalidArgument},
      {1, 1, -1, absl::StatusCode::kInvalidArgument},
      {1, 1, kInt64Min, absl::StatusCode::kInvalidArgument},
  };
  for (const Case& c : cases) {
    absl::StatusOr<int64_t> result = MulDivRoundHalfEven(c.a, c.b, c.divisor);
    EXPECT_EQ(result.status().code(), c.code)
        << c.a << " * " << c.b << " / " << c.divisor;
    if (!result.ok()) {
      EXPECT_THAT(result.status().message(), HasSubstr("MulDivRoundHalfEven("));
    }
  }
}

TEST(MulMulDivRoundHalfEvenTest, ComputesExactlyAndRoundsOnce) {
  EXPECT_EQ(*MulMulDivRoundHalfEven(2, 3, 4, 5), 5);    // 24/5 = 4.8
  EXPECT_EQ(*MulMulDivRoundHalfEven(1, 1, 5, 2), 2);    // 2.5 -> 2
  EXPECT_EQ(*MulMulDivRoundHalfEven(1, 3, 1, 2), 2);    // 1.5 -> 2
  EXPECT_EQ(*MulMulDivRoundHalfEven(-1, 3, 1, 2), -2);  // -1.5 -> -2
  EXPECT_EQ(*MulMulDivRoundHalfEven(1, -1, 5, 2), -2);  // -2.5 -> -2
  // 10^36 needs 120 bits.
  EXPECT_EQ(
      *MulMulDivRoundHalfEven(1'000'000'000'000, 1'000'000'000'000,
                              1'000'000'000'000, 1'000'000'000'000'000'000),
      1'000'000'000'000'000'000);
  EXPECT_EQ(*MulMulDivRoundHalfEven(kMaxMicros, kMaxMicros, 1, kMaxMicros),
            kMaxMicros);
}

TEST(MulMulDivRoundHalfEvenTest, ReportsOverflowOf128BitsAndOfTheResult) {
  // (2^63 - 1)^2 * 3 > 2^127.
  absl::StatusOr<int64_t> result =
      MulMulDivRoundHalfEven(kMaxMicros, kMaxMicros, 3, kMaxMicros);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(result.status().message(), HasSubstr("overflows 128 bits"));

  // (2^63 - 1)^2 * 2 < 2^127 fits, but the quotient 2 * (2^63 - 1) does not.
  result = MulMulDivRoundHalfEven(kMaxMicros, kMaxMicros, 2, kMaxMicros);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(result.status().message(), HasSubstr("outside the micros range"));

  result = MulMulDivRoundHalfEven(kInt64Min, kInt64Min, kInt64Min, kMaxMicros);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kOutOfRange);

  // The product is exactly -2^127: representable in 128 bits, so only the
  // result check can catch it (and taking its magnitude must not overflow).
  result = MulMulDivRoundHalfEven(kInt64Min, kInt64Min, -2, 1);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(result.status().message(), HasSubstr("outside the micros range"));
  // -2^127 / (2^63 - 1) is about -2^64: still out of range.
  EXPECT_EQ(MulMulDivRoundHalfEven(kInt64Min, kInt64Min, -2, kMaxMicros)
                .status()
                .code(),
            absl::StatusCode::kOutOfRange);

  result = MulMulDivRoundHalfEven(kMaxMicros, 2, 1, 1);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kOutOfRange);

  EXPECT_EQ(MulMulDivRoundHalfEven(1, 1, 1, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MulMulDivRoundHalfEven(1, 1, 1, -7).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------
// MultiplyMicros.

TEST(MultiplyMicrosTest, MultipliesAndRoundsHalfEvenToTheMicro) {
  EXPECT_EQ(*MultiplyMicros(1'500'000, 2'000'000), 3'000'000);  // 1.5 * 2
  EXPECT_EQ(*MultiplyMicros(-1'500'000, 2'000'000), -3'000'000);
  // 1000 lb at 0.015 USD/lb.
  EXPECT_EQ(*MultiplyMicros(1'000'000'000, 15'000), 15'000'000);
  // 0.000001 * 0.5 = 0.0000005: a tie, to the even 0.
  EXPECT_EQ(*MultiplyMicros(1, 500'000), 0);
  // 0.000003 * 0.5 = 0.0000015: a tie, to the even 0.000002.
  EXPECT_EQ(*MultiplyMicros(3, 500'000), 2);
  EXPECT_EQ(*MultiplyMicros(-3, 500'000), -2);
  EXPECT_EQ(*MultiplyMicros(kMaxMicros, 1'000'000), kMaxMicros);
  EXPECT_EQ(*MultiplyMicros(kMinMicros, 1'000'000), kMinMicros);
  EXPECT_EQ(*MultiplyMicros(0, kMaxMicros), 0);
}

TEST(MultiplyMicrosTest, ReportsOverflow) {
  for (const auto& [a, b] : std::vector<std::pair<int64_t, int64_t>>{
           {kMaxMicros, 1'000'001},
           {kMinMicros, 1'000'001},
           {kMaxMicros, kMaxMicros},
           {kInt64Min, 1'000'000},
       }) {
    absl::StatusOr<int64_t> product = MultiplyMicros(a, b);
    ASSERT_FALSE(product.ok()) << a << " * " << b;
    EXPECT_EQ(product.status().code(), absl::StatusCode::kOutOfRange);
    EXPECT_THAT(product.status().message(), HasSubstr("MultiplyMicros("));
  }
}

// ---------------------------------------------------------------------------
// RoundMicrosHalfEven.

TEST(RoundMicrosHalfEvenTest, RoundsToCents) {
  struct Case {
    int64_t micros;
    int64_t expected_micros;
  };
  const Case cases[] = {
      {0, 0},
      {5'000, 0},              // 0.005 -> 0.00
      {15'000, 20'000},        // 0.015 -> 0.02
      {25'000, 20'000},        // 0.025 -> 0.02
      {35'000, 40'000},        // 0.035 -> 0.04
      {-5'000, 0},             // -0.005 -> 0 (never a negative zero)
      {-15'000, -20'000},      // -0.015 -> -0.02
      {-25'000, -20'000},      // -0.025 -> -0.02
      {4'999, 0},              // below a tie
      {5'001, 10'000},         // above a tie
      {-5'001, -10'000},       // above a tie, negative
      {1'234'567, 1'230'000},  // 1.234567 -> 1.23
      {1'235'000, 1'240'000},  // 1.235 -> 1.24
      {1'245'000, 1'240'000},  // 1.245 -> 1.24
      {22'046'226, 22'050'000},
      {9'223'372'036'854'774'999, 9'223'372'036'854'770'000},
      {kMinMicros + 5'807, -9'223'372'036'854'770'000},
  };
  for (const Case& c : cases) {
    absl::StatusOr<int64_t> rounded = RoundMicrosHalfEven(c.micros, 2);
    ASSERT_TRUE(rounded.ok()) << rounded.status();
    EXPECT_EQ(*rounded, c.expected_micros) << FormatMicros(c.micros, 0);
  }
}

TEST(RoundMicrosHalfEvenTest, RoundsToOtherPrecisions) {
  EXPECT_EQ(*RoundMicrosHalfEven(2'500'000, 0), 2'000'000);
  EXPECT_EQ(*RoundMicrosHalfEven(3'500'000, 0), 4'000'000);
  EXPECT_EQ(*RoundMicrosHalfEven(-2'500'000, 0), -2'000'000);
  EXPECT_EQ(*RoundMicrosHalfEven(-3'500'000, 0), -4'000'000);
  EXPECT_EQ(*RoundMicrosHalfEven(1'234'500, 3), 1'234'000);
  EXPECT_EQ(*RoundMicrosHalfEven(1'235'500, 3), 1'236'000);
  EXPECT_EQ(*RoundMicrosHalfEven(123'456, 5), 123'460);
  EXPECT_EQ(*RoundMicrosHalfEven(123'455, 5), 123'460);
  EXPECT_EQ(*RoundMicrosHalfEven(123'445, 5), 123'440);
  EXPECT_EQ(*RoundMicrosHalfEven(kMaxMicros, 6), kMaxMicros);
  EXPECT_EQ(*RoundMicrosHalfEven(kMinMicros, 6), kMinMicros);
  EXPECT_EQ(*RoundMicrosHalfEven(-1, 6), -1);
}

TEST(RoundMicrosHalfEvenTest, ReportsOverflowAndBadDigits) {
  // 9223372036854.775807 to cents is ...854.78, beyond the range.
  for (const auto& [micros, digits] : std::vector<std::pair<int64_t, int>>{
           {kMaxMicros, 2},
           {kMinMicros, 2},
           {kMaxMicros, 0},
           {kMaxMicros, 1},
           {kInt64Min, 6},
       }) {
    absl::StatusOr<int64_t> rounded = RoundMicrosHalfEven(micros, digits);
    ASSERT_FALSE(rounded.ok()) << micros << " to " << digits;
    EXPECT_EQ(rounded.status().code(), absl::StatusCode::kOutOfRange);
    EXPECT_THAT(rounded.status().message(), HasSubstr("RoundMicrosHalfEven("));
  }
  EXPECT_EQ(RoundMicrosHalfEven(1, -1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RoundMicrosHalfEven(1, 7).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------
// MicrosSum.

TEST(MicrosSumTest, SumsExactly) {
  MicrosSum sum;
  EXPECT_EQ(sum.total_micros(), 0);
  ASSERT_TRUE(sum.Add(10'000).ok());
  ASSERT_TRUE(sum.Add(20'000).ok());
  ASSERT_TRUE(sum.Add(-5'000).ok());
  EXPECT_EQ(sum.total_micros(), 25'000);
}

TEST(MicrosSumTest, OverflowLeavesTheTotalUnchanged) {
  MicrosSum sum;
  ASSERT_TRUE(sum.Add(kMaxMicros).ok());
  const absl::Status status = sum.Add(1);
  EXPECT_EQ(status.code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(sum.total_micros(), kMaxMicros);
  ASSERT_TRUE(sum.Add(-1).ok());
  EXPECT_EQ(sum.total_micros(), kMaxMicros - 1);
  EXPECT_EQ(sum.Add(kInt64Min).code(), absl::StatusCode::kOutOfRange);
}

}  // namespace
}  // namespace premium
