#include "ledger/money/units.h"

#include <cstdint>
#include <numeric>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/money/decimal.h"
#include "ledger/money/quote.h"

namespace premium {
namespace {

using ::testing::HasSubstr;

// A message quotes text as Escape renders it.
using money_internal::Escape;

constexpr Unit kAllUnits[] = {Unit::kPound, Unit::kKilogram,
                              Unit::kHundredweight, Unit::kEach};
constexpr Unit kWeightUnits[] = {Unit::kPound, Unit::kKilogram,
                                 Unit::kHundredweight};

// Shorthand for readable test tables: whole units and micros.
constexpr int64_t Units(int64_t units) { return units * kMicrosPerUnit; }

// ---------------------------------------------------------------------------
// ParseUnit and UnitName.

TEST(ParseUnitTest, AcceptsExactlyTheFourNames) {
  EXPECT_EQ(*ParseUnit("lb"), Unit::kPound);
  EXPECT_EQ(*ParseUnit("kg"), Unit::kKilogram);
  EXPECT_EQ(*ParseUnit("cwt"), Unit::kHundredweight);
  EXPECT_EQ(*ParseUnit("each"), Unit::kEach);
}

TEST(ParseUnitTest, RefusesEverythingElse) {
  const std::string_view refused[] = {"",
                                      "LB",
                                      "Lb",
                                      "lbs",
                                      "pound",
                                      " lb",
                                      "lb ",
                                      "lb\n",
                                      "KG",
                                      "kgs",
                                      "kilo",
                                      "CWT",
                                      "Cwt",
                                      "cw",
                                      "Each",
                                      "EACH",
                                      "ea",
                                      "unit",
                                      "l b",
                                      "lb.",
                                      "1",
                                      "-",
                                      std::string_view("lb\0", 3)};
  for (const std::string_view text : refused) {
    absl::StatusOr<Unit> unit = ParseUnit(text);
    ASSERT_FALSE(unit.ok()) << "accepted " << UnitName(*unit);
    EXPECT_EQ(unit.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(unit.status().message(),
                HasSubstr(absl::StrCat("\"", Escape(text), "\"")));
    EXPECT_THAT(unit.status().message(),
                HasSubstr("\"lb\", \"kg\", \"cwt\", \"each\""));
  }
}

TEST(ParseUnitTest, TruncatesLongTextInTheMessage) {
  const std::string text(10'000, 'x');
  absl::StatusOr<Unit> unit = ParseUnit(text);
  ASSERT_FALSE(unit.ok());
  EXPECT_LT(unit.status().message().size(), 200u);
}

TEST(UnitNameTest, RoundTripsThroughParseUnit) {
  for (const Unit unit : kAllUnits) {
    absl::StatusOr<Unit> parsed = ParseUnit(std::string(UnitName(unit)));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, unit);
  }
}

// ---------------------------------------------------------------------------
// ConversionRatio.

struct RatioCase {
  Unit from;
  Unit to;
  int64_t numerator;
  int64_t denominator;
};

TEST(ConversionRatioTest, EveryConvertiblePair) {
  const RatioCase cases[] = {
      {Unit::kPound, Unit::kPound, 1, 1},
      {Unit::kPound, Unit::kKilogram, 45'359'237, 100'000'000},
      {Unit::kPound, Unit::kHundredweight, 1, 100},
      {Unit::kKilogram, Unit::kPound, 100'000'000, 45'359'237},
      {Unit::kKilogram, Unit::kKilogram, 1, 1},
      // 1 cwt = 45.359237 kg.
      {Unit::kKilogram, Unit::kHundredweight, 1'000'000, 45'359'237},
      {Unit::kHundredweight, Unit::kPound, 100, 1},
      {Unit::kHundredweight, Unit::kKilogram, 45'359'237, 1'000'000},
      {Unit::kHundredweight, Unit::kHundredweight, 1, 1},
      {Unit::kEach, Unit::kEach, 1, 1},
  };
  for (const RatioCase& c : cases) {
    SCOPED_TRACE(absl::StrCat(std::string(UnitName(c.from)), " -> ",
                              std::string(UnitName(c.to))));
    absl::StatusOr<UnitRatio> ratio = ConversionRatio(c.from, c.to);
    ASSERT_TRUE(ratio.ok()) << ratio.status();
    EXPECT_EQ(ratio->numerator, c.numerator);
    EXPECT_EQ(ratio->denominator, c.denominator);
  }
}

TEST(ConversionRatioTest, RatiosAreReducedInverseAndCompose) {
  for (const Unit from : kWeightUnits) {
    for (const Unit to : kWeightUnits) {
      SCOPED_TRACE(absl::StrCat(std::string(UnitName(from)), " -> ",
                                std::string(UnitName(to))));
      const UnitRatio forward = *ConversionRatio(from, to);
      const UnitRatio backward = *ConversionRatio(to, from);
      EXPECT_EQ(std::gcd(forward.numerator, forward.denominator), 1);
      EXPECT_EQ(forward.numerator, backward.denominator);
      EXPECT_EQ(forward.denominator, backward.numerator);
      for (const Unit via : kWeightUnits) {
        // from -> via -> to equals from -> to, compared as exact fractions.
        const UnitRatio first = *ConversionRatio(from, via);
        const UnitRatio second = *ConversionRatio(via, to);
        const __int128 lhs = static_cast<__int128>(first.numerator) *
                             second.numerator * forward.denominator;
        const __int128 rhs = static_cast<__int128>(first.denominator) *
                             second.denominator * forward.numerator;
        EXPECT_TRUE(lhs == rhs) << "via " << UnitName(via);
      }
    }
  }
}

TEST(ConversionRatioTest, RefusesEachToWeightAndBack) {
  for (const Unit weight : kWeightUnits) {
    for (const auto& [from, to] :
         {std::pair{Unit::kEach, weight}, std::pair{weight, Unit::kEach}}) {
      absl::StatusOr<UnitRatio> ratio = ConversionRatio(from, to);
      ASSERT_FALSE(ratio.ok());
      EXPECT_EQ(ratio.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_THAT(ratio.status().message(), HasSubstr("\"each\" is a count"));
      EXPECT_THAT(
          ratio.status().message(),
          HasSubstr(absl::StrCat("\"", std::string(UnitName(weight)), "\"")));
    }
  }
}

TEST(ConversionRatioTest, RefusesValuesOutsideTheEnum) {
  const Unit bogus = static_cast<Unit>(42);
  EXPECT_EQ(ConversionRatio(bogus, Unit::kPound).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ConversionRatio(Unit::kPound, bogus).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ConversionRatio(bogus, bogus).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------
// ConvertQuantityMicros.

struct ConvertCase {
  int64_t quantity_micros;
  Unit from;
  Unit to;
  int64_t expected_micros;
};

TEST(ConvertQuantityMicrosTest, ConvertsAndRoundsHalfEvenToTheMicro) {
  const ConvertCase cases[] = {
      {Units(1), Unit::kPound, Unit::kKilogram, 453'592},    // .37 rounds down
      {Units(1), Unit::kKilogram, Unit::kPound, 2'204'623},  // 2.20462262...
      {Units(100), Unit::kPound, Unit::kHundredweight, Units(1)},
      {Units(1), Unit::kHundredweight, Unit::kPound, Units(100)},
      {Units(1), Unit::kHundredweight, Unit::kKilogram, 45'359'237},
      {Units(1), Unit::kKilogram, Unit::kHundredweight, 22'046},  // 0.0220462
      {Units(1000), Unit::kKilogram, Unit::kPound, 2'204'622'622},
      {Units(7), Unit::kEach, Unit::kEach, Units(7)},
      {Units(7), Unit::kKilogram, Unit::kKilogram, Units(7)},
      {0, Unit::kKilogram, Unit::kPound, 0},
      // lb -> cwt divides by 100: ties at 50 micros.
      {50, Unit::kPound, Unit::kHundredweight, 0},     // 0.5 -> 0
      {150, Unit::kPound, Unit::kHundredweight, 2},    // 1.5 -> 2
      {250, Unit::kPound, Unit::kHundredweight, 2},    // 2.5 -> 2
      {-150, Unit::kPound, Unit::kHundredweight, -2},  // symmetric
      {kMaxMicros, Unit::kPound, Unit::kKilogram, 4'183'651'181'588'685'104},
  };
  for (const ConvertCase& c : cases) {
    SCOPED_TRACE(absl::StrCat(FormatMicros(c.quantity_micros, 0), " ",
                              std::string(UnitName(c.from)), " -> ",
                              std::string(UnitName(c.to))));
    absl::StatusOr<int64_t> converted =
        ConvertQuantityMicros(c.quantity_micros, c.from, c.to);
    ASSERT_TRUE(converted.ok()) << converted.status();
    EXPECT_EQ(*converted, c.expected_micros);
  }
}

TEST(ConvertQuantityMicrosTest, ReportsOverflowAndEachToWeight) {
  EXPECT_EQ(ConvertQuantityMicros(kMaxMicros, Unit::kKilogram, Unit::kPound)
                .status()
                .code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(
      ConvertQuantityMicros(kMaxMicros, Unit::kHundredweight, Unit::kPound)
          .status()
          .code(),
      absl::StatusCode::kOutOfRange);
  EXPECT_EQ(ConvertQuantityMicros(Units(1), Unit::kEach, Unit::kPound)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ConvertQuantityMicros(Units(1), Unit::kKilogram, Unit::kEach)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------
// PremiumMicros.

struct PremiumCase {
  std::string_view description;
  int64_t quantity_micros;
  Unit purchase_unit;
  Unit program_unit;
  int64_t rate_micros;
  int64_t expected_premium_micros;
};

TEST(PremiumMicrosTest, ComputesPremiumExactlyAndRoundsOnce) {
  const PremiumCase cases[] = {
      {"1000 lb at 0.015/lb = 15", Units(1000), Unit::kPound, Unit::kPound,
       15'000, Units(15)},
      {"FFP: 1000 lb at 0.01/lb = 10", Units(1000), Unit::kPound, Unit::kPound,
       10'000, Units(10)},
      // 1000 kg = 2204.62262184878 lb; * 0.01 = 22.0462262184878.
      {"1000 kg at 0.01/lb", Units(1000), Unit::kKilogram, Unit::kPound, 10'000,
       22'046'226},
      {"250 lb at 0.5/cwt = 1.25", Units(250), Unit::kPound,
       Unit::kHundredweight, 500'000, 1'250'000},
      // 1000 lb = 453.59237 kg; * 0.01 = 4.5359237.
      {"1000 lb at 0.01/kg", Units(1000), Unit::kPound, Unit::kKilogram, 10'000,
       4'535'924},
      // 100 kg = 2.20462262184878 cwt; * 1 = 2.204622|62 -> 2.204623.
      {"100 kg at 1/cwt", Units(100), Unit::kKilogram, Unit::kHundredweight,
       Units(1), 2'204'623},
      // 3 cwt = 300 lb = 136.077711 kg exactly; * 0.02 = 2.72155422.
      {"3 cwt at 0.02/kg", Units(3), Unit::kHundredweight, Unit::kKilogram,
       20'000, 2'721'554},
      // 1 cwt = 100 lb; * 0.01 = 1.
      {"1 cwt at 0.01/lb", Units(1), Unit::kHundredweight, Unit::kPound, 10'000,
       Units(1)},
      // Milk with Dignity style: 12345.678 cwt at 0.02/cwt = 246.91356.
      {"12345.678 cwt at 0.02/cwt", 12'345'678'000, Unit::kHundredweight,
       Unit::kHundredweight, 20'000, 246'913'560},
      {"1000 each at 0.10 each", Units(1000), Unit::kEach, Unit::kEach, 100'000,
       Units(100)},
      {"zero quantity", 0, Unit::kKilogram, Unit::kPound, 10'000, 0},
      {"zero rate", Units(1000), Unit::kKilogram, Unit::kPound, 0, 0},
      // Ties at the micro are rounded half-even: 150 lb * 0.000001/cwt =
      // 1.5 micros -> 2; 250 lb -> 2.5 micros -> 2; 0.000001 lb * 0.5/lb =
      // 0.5 micros -> 0; 0.000003 lb * 0.5/lb = 1.5 micros -> 2.
      {"tie 1.5 -> 2", Units(150), Unit::kPound, Unit::kHundredweight, 1, 2},
      {"tie 2.5 -> 2", Units(250), Unit::kPound, Unit::kHundredweight, 1, 2},
      {"tie 0.5 -> 0", 1, Unit::kPound, Unit::kPound, 500'000, 0},
      {"tie 1.5 micro -> 2", 3, Unit::kPound, Unit::kPound, 500'000, 2},
  };
  for (const PremiumCase& c : cases) {
    SCOPED_TRACE(c.description);
    absl::StatusOr<int64_t> premium_micros = PremiumMicros(
        c.quantity_micros, c.purchase_unit, c.program_unit, c.rate_micros);
    ASSERT_TRUE(premium_micros.ok()) << premium_micros.status();
    EXPECT_EQ(*premium_micros, c.expected_premium_micros)
        << FormatMicros(*premium_micros, 2);
  }
}

TEST(PremiumMicrosTest, NeverRoundsTheConvertedQuantityFirst) {
  // 0.000001 kg = 0.0000022046226 lb, which alone would round to 0.000002 lb
  // and give 0.002 at 1000/lb. The exact premium is 0.0022046226 -> 0.002205.
  EXPECT_EQ(*ConvertQuantityMicros(1, Unit::kKilogram, Unit::kPound), 2);
  EXPECT_EQ(*PremiumMicros(1, Unit::kKilogram, Unit::kPound, Units(1000)),
            2'205);
  // 1 kg at 1,000,000 per lb: 2,204,622.62184878 -> 2204622.621849, where
  // rounding the quantity to 2.204623 lb first would give 2,204,623.
  EXPECT_EQ(
      *PremiumMicros(Units(1), Unit::kKilogram, Unit::kPound, Units(1'000'000)),
      2'204'622'621'849);
}

TEST(PremiumMicrosTest, ReportsOverflow) {
  // The 128-bit intermediate overflows: 2^63 * 10^8 * 2^63 > 2^127.
  absl::StatusOr<int64_t> premium_micros =
      PremiumMicros(kMaxMicros, Unit::kKilogram, Unit::kPound, kMaxMicros);
  ASSERT_FALSE(premium_micros.ok());
  EXPECT_EQ(premium_micros.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(premium_micros.status().message(), HasSubstr("PremiumMicros"));
  EXPECT_THAT(premium_micros.status().message(), HasSubstr("128 bits"));

  // Fits in 128 bits, but the result does not fit in int64 micros:
  // 9223372036854 lb at 2/lb.
  premium_micros = PremiumMicros(Units(9'223'372'036'854), Unit::kPound,
                                 Unit::kPound, Units(2));
  ASSERT_FALSE(premium_micros.ok());
  EXPECT_EQ(premium_micros.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(premium_micros.status().message(),
              HasSubstr("9223372036854 lb at 2 per lb"));

  // The largest quantity at 1/lb still fits exactly; converting it to a
  // smaller unit at 1 per unit does not.
  EXPECT_EQ(*PremiumMicros(kMaxMicros, Unit::kPound, Unit::kPound, Units(1)),
            kMaxMicros);
  EXPECT_EQ(PremiumMicros(kMaxMicros, Unit::kKilogram, Unit::kPound, Units(1))
                .status()
                .code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(PremiumMicros(kMaxMicros, Unit::kPound, Unit::kPound, 1'000'001)
                .status()
                .code(),
            absl::StatusCode::kOutOfRange);
}

TEST(PremiumMicrosTest, RefusesNegativeInputs) {
  absl::StatusOr<int64_t> premium_micros =
      PremiumMicros(-1, Unit::kPound, Unit::kPound, 10'000);
  ASSERT_FALSE(premium_micros.ok());
  EXPECT_EQ(premium_micros.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(premium_micros.status().message(),
              HasSubstr("quantity -0.000001 is negative"));

  premium_micros = PremiumMicros(Units(1), Unit::kPound, Unit::kPound, -1);
  ASSERT_FALSE(premium_micros.ok());
  EXPECT_EQ(premium_micros.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(premium_micros.status().message(),
              HasSubstr("rate -0.000001 is negative"));
}

TEST(PremiumMicrosTest, RefusesEachToWeight) {
  for (const Unit weight : kWeightUnits) {
    EXPECT_EQ(
        PremiumMicros(Units(1), Unit::kEach, weight, 10'000).status().code(),
        absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(
        PremiumMicros(Units(1), weight, Unit::kEach, 10'000).status().code(),
        absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace premium
