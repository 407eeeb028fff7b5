// Tests of programs and their premium rule (DESIGN sections 3 and 4): the
// validation of a program version, the version in force on a date, the
// premium a purchase owes and the worker portion of a payment. Every expected
// amount is computed by hand in a comment beside it; amounts are micros
// (1 unit = 1,000,000 micros).
#include "ledger/premium/program.h"

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/money/decimal.h"
#include "ledger/money/units.h"
#include "ledger/premium/validation.h"
#include "ledger/testing/ledger_testing.h"
#include "wsr/premium/v1/records.pb.h"

namespace premium {
namespace {

namespace pb = ::wsr::premium::v1;

using ::premium::testing::IsOk;
using ::premium::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

// Whole units (of quantity or money) as micros.
constexpr int64_t Units(int64_t units) { return units * kMicrosPerUnit; }

// The Fair Food Program: 0.01 USD per lb, all of it for workers.
pb::ProgramVersion FairFoodProgram() {
  pb::ProgramVersion version;
  version.set_program_id("ffp");
  version.set_name("Fair Food Program");
  version.set_currency("USD");
  version.set_unit("lb");
  version.set_worker_rate_micros(10'000);  // 0.01
  version.set_supplier_rate_micros(0);
  version.set_payment_terms_days(kPaymentTermsDaysDefault);
  version.set_distribution_deadline_days(kDistributionDeadlineDaysDefault);
  version.set_allocation(pb::HOURS);
  version.set_tolerance_micros(kToleranceMicrosDefault);  // 1.00
  version.set_effective_date("2024-01-01");
  return version;
}

// The Burger King variant: 0.01 USD per lb for workers plus 0.005 the
// supplier may keep.
pb::ProgramVersion BurgerKingVariant() {
  pb::ProgramVersion version = FairFoodProgram();
  version.set_program_id("ffp-bk");
  version.set_name("Fair Food Program, Burger King variant");
  version.set_supplier_rate_micros(5'000);  // 0.005
  return version;
}

// Milk with Dignity style: per hundredweight of milk, a worker part and a
// farm part.
pb::ProgramVersion MilkWithDignity() {
  pb::ProgramVersion version = FairFoodProgram();
  version.set_program_id("mwd");
  version.set_name("Milk with Dignity");
  version.set_unit("cwt");
  version.set_worker_rate_micros(50'000);    // 0.05 per cwt
  version.set_supplier_rate_micros(10'000);  // 0.01 per cwt
  version.set_allocation(pb::WAGES);
  return version;
}

ProgramVersionRecord Record(uint64_t seq, pb::ProgramVersion version,
                            const std::string& effective_date) {
  version.set_effective_date(effective_date);
  ProgramVersionRecord record;
  record.seq = seq;
  record.effective_date = *ParseDate("effective_date", effective_date);
  record.version = std::move(version);
  return record;
}

absl::CivilDay Day(const std::string& text) { return *ParseDate("date", text); }

// ---------------------------------------------------------------------------
// ValidateProgramVersion.

TEST(ValidateProgramVersionTest, AcceptsTheSeedPrograms) {
  EXPECT_THAT(ValidateProgramVersion(FairFoodProgram()), IsOk());
  EXPECT_THAT(ValidateProgramVersion(BurgerKingVariant()), IsOk());
  EXPECT_THAT(ValidateProgramVersion(MilkWithDignity()), IsOk());
}

TEST(ValidateProgramVersionTest, AcceptsTheEdgesOfEachRange) {
  const std::vector<std::function<void(pb::ProgramVersion&)>> edges = {
      [](pb::ProgramVersion& v) { v.set_worker_rate_micros(1); },  // 0.000001
      [](pb::ProgramVersion& v) {
        v.set_worker_rate_micros(kInt64Max - 1);
        v.set_supplier_rate_micros(1);  // The sum is exactly kMaxMicros.
      },
      [](pb::ProgramVersion& v) { v.set_payment_terms_days(0); },
      [](pb::ProgramVersion& v) { v.set_payment_terms_days(kDaysMax); },
      [](pb::ProgramVersion& v) { v.set_distribution_deadline_days(0); },
      [](pb::ProgramVersion& v) { v.set_distribution_deadline_days(kDaysMax); },
      [](pb::ProgramVersion& v) { v.set_allocation(pb::WAGES); },
      [](pb::ProgramVersion& v) { v.set_allocation(pb::NONE); },
      [](pb::ProgramVersion& v) { v.set_tolerance_micros(0); },
      [](pb::ProgramVersion& v) { v.set_tolerance_micros(10'000); },  // 0.01
      [](pb::ProgramVersion& v) {
        v.set_currency("JPY");
        v.set_tolerance_micros(Units(100));  // 100 yen
      },
      [](pb::ProgramVersion& v) { v.set_unit("kg"); },
      [](pb::ProgramVersion& v) { v.set_unit("each"); },
      [](pb::ProgramVersion& v) { v.set_name("Coalición de Trabajadores"); },
      [](pb::ProgramVersion& v) { v.set_effective_date("1990-01-01"); },
      [](pb::ProgramVersion& v) { v.set_effective_date("2199-12-31"); },
  };
  for (size_t i = 0; i < edges.size(); ++i) {
    pb::ProgramVersion version = FairFoodProgram();
    edges[i](version);
    EXPECT_THAT(ValidateProgramVersion(version), IsOk())
        << "edge " << i << ": " << version.ShortDebugString();
  }
}

// Each field broken in turn: InvalidArgument whose message starts with the
// field's name.
TEST(ValidateProgramVersionTest, RefusesEachBrokenFieldNamingIt) {
  struct Case {
    std::string field;
    std::function<void(pb::ProgramVersion&)> breaks;
  };
  const std::vector<Case> cases = {
      {"program_id", [](pb::ProgramVersion& v) { v.set_program_id(""); }},
      {"program_id", [](pb::ProgramVersion& v) { v.set_program_id("FFP"); }},
      {"program_id", [](pb::ProgramVersion& v) { v.set_program_id("-ffp"); }},
      {"program_id", [](pb::ProgramVersion& v) { v.set_program_id("f/p"); }},
      {"program_id",
       [](pb::ProgramVersion& v) { v.set_program_id(std::string(65, 'f')); }},
      {"name", [](pb::ProgramVersion& v) { v.set_name(""); }},
      {"name", [](pb::ProgramVersion& v) { v.set_name("Fair\nFood"); }},
      {"name", [](pb::ProgramVersion& v) { v.set_name("Fair \xC3"); }},
      {"name",
       [](pb::ProgramVersion& v) {
         v.set_name(std::string(kNameLengthMax + 1, 'n'));
       }},
      {"currency", [](pb::ProgramVersion& v) { v.set_currency(""); }},
      {"currency", [](pb::ProgramVersion& v) { v.set_currency("usd"); }},
      {"currency", [](pb::ProgramVersion& v) { v.set_currency("XXX"); }},
      {"unit", [](pb::ProgramVersion& v) { v.set_unit("ton"); }},
      {"unit", [](pb::ProgramVersion& v) { v.set_unit(""); }},
      {"unit", [](pb::ProgramVersion& v) { v.set_unit("LB"); }},
      {"unit", [](pb::ProgramVersion& v) { v.set_unit("lbs"); }},
      {"worker_rate",
       [](pb::ProgramVersion& v) { v.set_worker_rate_micros(0); }},
      {"worker_rate",
       [](pb::ProgramVersion& v) { v.set_worker_rate_micros(-10'000); }},
      {"worker_rate",
       [](pb::ProgramVersion& v) {
         v.set_worker_rate_micros(std::numeric_limits<int64_t>::min());
       }},
      {"supplier_rate",
       [](pb::ProgramVersion& v) { v.set_supplier_rate_micros(-1); }},
      {"supplier_rate",
       [](pb::ProgramVersion& v) { v.set_supplier_rate_micros(-5'000); }},
      // Each rate fits, their sum does not.
      {"worker_rate + supplier_rate",
       [](pb::ProgramVersion& v) {
         v.set_worker_rate_micros(kInt64Max);
         v.set_supplier_rate_micros(1);
       }},
      {"payment_terms_days",
       [](pb::ProgramVersion& v) { v.set_payment_terms_days(-1); }},
      {"payment_terms_days",
       [](pb::ProgramVersion& v) { v.set_payment_terms_days(kDaysMax + 1); }},
      {"distribution_deadline_days",
       [](pb::ProgramVersion& v) { v.set_distribution_deadline_days(-1); }},
      {"distribution_deadline_days",
       [](pb::ProgramVersion& v) {
         v.set_distribution_deadline_days(kDaysMax + 1);
       }},
      {"allocation",
       [](pb::ProgramVersion& v) {
         v.set_allocation(pb::ALLOCATION_UNSPECIFIED);
       }},
      // A value no enumerator names, as a newer writer could send: field 9,
      // varint 7.
      {"allocation",
       [](pb::ProgramVersion& v) {
         ASSERT_TRUE(v.MergeFromString(std::string("\x48\x07", 2)));
         ASSERT_EQ(static_cast<int>(v.allocation()), 7);
       }},
      {"tolerance", [](pb::ProgramVersion& v) { v.set_tolerance_micros(-1); }},
      {"tolerance",
       [](pb::ProgramVersion& v) { v.set_tolerance_micros(-1'000'000); }},
      // 1.005 has 3 decimals; USD has 2.
      {"tolerance",
       [](pb::ProgramVersion& v) { v.set_tolerance_micros(1'005'000); }},
      {"tolerance", [](pb::ProgramVersion& v) { v.set_tolerance_micros(1); }},
      {"tolerance",
       [](pb::ProgramVersion& v) { v.set_tolerance_micros(kInt64Max); }},
      // 0.50 yen: JPY has no minor unit.
      {"tolerance",
       [](pb::ProgramVersion& v) {
         v.set_currency("JPY");
         v.set_tolerance_micros(500'000);
       }},
      {"effective_date",
       [](pb::ProgramVersion& v) { v.set_effective_date(""); }},
      {"effective_date",
       [](pb::ProgramVersion& v) { v.set_effective_date("2023-02-29"); }},
      {"effective_date",
       [](pb::ProgramVersion& v) { v.set_effective_date("2024-1-01"); }},
      {"effective_date",
       [](pb::ProgramVersion& v) { v.set_effective_date("1989-12-31"); }},
  };
  for (const Case& c : cases) {
    pb::ProgramVersion version = FairFoodProgram();
    c.breaks(version);
    EXPECT_THAT(
        ValidateProgramVersion(version),
        StatusIs(absl::StatusCode::kInvalidArgument, StartsWith(c.field)))
        << version.ShortDebugString();
  }
}

// ---------------------------------------------------------------------------
// ProgramHistory.

TEST(ProgramHistoryTest, EmptyHistoryHasNoVersionInForce) {
  ProgramHistory history;
  EXPECT_TRUE(history.empty());
  EXPECT_THAT(history.InForceOn(Day("2024-01-01")),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(ProgramHistoryTest, FindsTheVersionInForceWhateverTheOrderOfAdding) {
  ProgramHistory history;
  // Added out of order: the last change first, the creation in the middle.
  pb::ProgramVersion version = FairFoodProgram();
  version.set_worker_rate_micros(30'000);
  ASSERT_THAT(history.Add(Record(30, version, "2025-03-01")), IsOk());
  version.set_worker_rate_micros(10'000);
  ASSERT_THAT(history.Add(Record(10, version, "2024-01-01")), IsOk());
  version.set_worker_rate_micros(20'000);
  ASSERT_THAT(history.Add(Record(20, version, "2024-07-01")), IsOk());

  EXPECT_FALSE(history.empty());
  EXPECT_EQ(history.first().seq, 10u);
  ASSERT_EQ(history.versions().size(), 3u);
  EXPECT_EQ(history.versions()[0].effective_date, Day("2024-01-01"));
  EXPECT_EQ(history.versions()[1].effective_date, Day("2024-07-01"));
  EXPECT_EQ(history.versions()[2].effective_date, Day("2025-03-01"));

  // The day before the program starts: no rate, and the message says when it
  // starts.
  EXPECT_THAT(
      history.InForceOn(Day("2023-12-31")),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("2024-01-01")));
  EXPECT_THAT(
      history.InForceOn(Day("1990-01-01")),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("2024-01-01")));

  const struct {
    std::string day;
    uint64_t seq;
    int64_t worker_rate_micros;
  } expected[] = {
      {"2024-01-01", 10, 10'000},  // The effective day itself.
      {"2024-01-02", 10, 10'000},
      {"2024-06-30", 10, 10'000},  // The day before a change.
      {"2024-07-01", 20, 20'000},  // The day of a change.
      {"2025-02-28", 20, 20'000},
      {"2025-03-01", 30, 30'000},
      {"2199-12-31", 30, 30'000},  // The last version lasts.
  };
  for (const auto& e : expected) {
    absl::StatusOr<const ProgramVersionRecord*> in_force =
        history.InForceOn(Day(e.day));
    ASSERT_THAT(in_force, IsOk()) << e.day;
    EXPECT_EQ((*in_force)->seq, e.seq) << e.day;
    EXPECT_EQ((*in_force)->version.worker_rate_micros(), e.worker_rate_micros)
        << e.day;
  }
}

TEST(ProgramHistoryTest, RefusesAChangeOfCurrencyOrUnit) {
  ProgramHistory history;
  ASSERT_THAT(history.Add(Record(1, FairFoodProgram(), "2024-01-01")), IsOk());

  pb::ProgramVersion in_euros = FairFoodProgram();
  in_euros.set_currency("EUR");
  EXPECT_THAT(history.Add(Record(2, in_euros, "2024-06-01")),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("currency or unit")));
  pb::ProgramVersion per_kg = FairFoodProgram();
  per_kg.set_unit("kg");
  EXPECT_THAT(history.Add(Record(3, per_kg, "2024-06-01")),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("currency or unit")));
  // Also for a version dated before the first one.
  EXPECT_THAT(history.Add(Record(4, per_kg, "2023-06-01")),
              StatusIs(absl::StatusCode::kFailedPrecondition));

  // Nothing was added.
  ASSERT_EQ(history.versions().size(), 1u);
  EXPECT_EQ(history.first().seq, 1u);
  EXPECT_EQ((*history.InForceOn(Day("2024-12-31")))->seq, 1u);
}

TEST(ProgramHistoryTest, RefusesADuplicateEffectiveDate) {
  ProgramHistory history;
  ASSERT_THAT(history.Add(Record(1, FairFoodProgram(), "2024-01-01")), IsOk());
  ASSERT_THAT(history.Add(Record(2, FairFoodProgram(), "2024-06-01")), IsOk());
  pb::ProgramVersion changed = FairFoodProgram();
  changed.set_worker_rate_micros(20'000);
  for (const std::string date : {"2024-01-01", "2024-06-01"}) {
    EXPECT_THAT(
        history.Add(Record(3, changed, date)),
        StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(date)))
        << date;
  }
  ASSERT_EQ(history.versions().size(), 2u);
  EXPECT_EQ((*history.InForceOn(Day("2024-01-01")))->seq, 1u);
  EXPECT_EQ((*history.InForceOn(Day("2024-06-01")))->seq, 2u);
}

// ---------------------------------------------------------------------------
// ComputePurchasePremium.

void ExpectPremium(const pb::ProgramVersion& version, int64_t quantity_micros,
                   Unit unit, int64_t premium_micros,
                   int64_t worker_premium_micros) {
  absl::StatusOr<PurchasePremium> premium =
      ComputePurchasePremium(version, quantity_micros, unit);
  ASSERT_THAT(premium, IsOk());
  EXPECT_EQ(premium->premium_micros, premium_micros)
      << FormatMicros(premium->premium_micros, 0);
  EXPECT_EQ(premium->worker_premium_micros, worker_premium_micros)
      << FormatMicros(premium->worker_premium_micros, 0);
}

TEST(ComputePurchasePremiumTest, FairFoodProgram) {
  // 1000 lb x 0.01 = 10.000000, all of it the workers'.
  ExpectPremium(FairFoodProgram(), Units(1000), Unit::kPound, 10'000'000,
                10'000'000);
}

TEST(ComputePurchasePremiumTest, BurgerKingVariant) {
  // 1000 lb x (0.01 + 0.005) = 15.000000; workers' part 1000 x 0.01 = 10.
  ExpectPremium(BurgerKingVariant(), Units(1000), Unit::kPound, 15'000'000,
                10'000'000);
}

TEST(ComputePurchasePremiumTest, ZeroQuantityOwesNothing) {
  ExpectPremium(BurgerKingVariant(), 0, Unit::kPound, 0, 0);
  ExpectPremium(BurgerKingVariant(), 0, Unit::kKilogram, 0, 0);
}

TEST(ComputePurchasePremiumTest, KilogramsToAPoundProgram) {
  // 1000 kg = 1000 / 0.45359237 lb = 2204.622621848776... lb;
  // x 0.01 = 22.04622621848776... -> half-even to the micro: 22.046226
  // (the dropped digits .218... are below half).
  ExpectPremium(FairFoodProgram(), Units(1000), Unit::kKilogram, 22'046'226,
                22'046'226);
  // x 0.015 = 33.06933932773164... -> 33.069339; workers' x 0.01 as above.
  ExpectPremium(BurgerKingVariant(), Units(1000), Unit::kKilogram, 33'069'339,
                22'046'226);
}

TEST(ComputePurchasePremiumTest, PoundsToAKilogramProgram) {
  pb::ProgramVersion per_kg = FairFoodProgram();
  per_kg.set_unit("kg");
  // 1000 lb = 453.59237 kg exactly; x 0.01 = 4.5359237 -> 4.535924 (the
  // dropped .7 of a micro rounds up).
  ExpectPremium(per_kg, Units(1000), Unit::kPound, 4'535'924, 4'535'924);
  // 1 lb x 0.01 = 0.0045359237 -> 0.004536.
  ExpectPremium(per_kg, Units(1), Unit::kPound, 4'536, 4'536);
}

TEST(ComputePurchasePremiumTest, SmallestQuantity) {
  // 0.001 lb (the finest quantity a report carries) x 0.01 = 0.00001.
  ExpectPremium(FairFoodProgram(), 1'000, Unit::kPound, 10, 10);
  // x 0.015 = 0.000015; workers' x 0.01 = 0.00001.
  ExpectPremium(BurgerKingVariant(), 1'000, Unit::kPound, 15, 10);
}

TEST(ComputePurchasePremiumTest, HundredweightProgram) {
  // 25000 lb = 250 cwt; x (0.05 + 0.01) = 15.000000; workers' 250 x 0.05 =
  // 12.500000.
  ExpectPremium(MilkWithDignity(), Units(25'000), Unit::kPound, 15'000'000,
                12'500'000);
  // The same milk reported in cwt owes the same.
  ExpectPremium(MilkWithDignity(), Units(250), Unit::kHundredweight, 15'000'000,
                12'500'000);
  // 1 lb = 0.01 cwt; x 0.06 = 0.0006; x 0.05 = 0.0005.
  ExpectPremium(MilkWithDignity(), Units(1), Unit::kPound, 600, 500);
}

TEST(ComputePurchasePremiumTest, KilogramsToAHundredweightProgram) {
  // 1000 kg = 2204.622621848776... lb = 22.04622621848776... cwt;
  // x 0.06 = 1.3227735731092656... -> 1.322774 (.573 of a micro rounds up);
  // x 0.05 = 1.102311310924388...  -> 1.102311 (.310 rounds down).
  ExpectPremium(MilkWithDignity(), Units(1000), Unit::kKilogram, 1'322'774,
                1'102'311);
}

TEST(ComputePurchasePremiumTest, CountsDoNotConvertToWeights) {
  EXPECT_THAT(ComputePurchasePremium(FairFoodProgram(), Units(10), Unit::kEach),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ComputePurchasePremium(MilkWithDignity(), Units(10), Unit::kEach),
              StatusIs(absl::StatusCode::kInvalidArgument));
  pb::ProgramVersion per_each = FairFoodProgram();
  per_each.set_unit("each");
  EXPECT_THAT(ComputePurchasePremium(per_each, Units(10), Unit::kPound),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // Each to each: 10 x 0.01 = 0.1.
  ExpectPremium(per_each, Units(10), Unit::kEach, 100'000, 100'000);
}

TEST(ComputePurchasePremiumTest, RefusesABadProgramUnitOrANegativeQuantity) {
  pb::ProgramVersion per_ton = FairFoodProgram();
  per_ton.set_unit("ton");
  EXPECT_THAT(ComputePurchasePremium(per_ton, Units(1), Unit::kPound),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ComputePurchasePremium(FairFoodProgram(), -1, Unit::kPound),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// Ties at the micro round to the even micro, and premium and worker part
// are each rounded once from the exact product.
TEST(ComputePurchasePremiumTest, TiesRoundHalfEvenToTheMicro) {
  pb::ProgramVersion version = FairFoodProgram();
  version.set_worker_rate_micros(1);  // 0.000001 per lb
  // 0.5 lb x 0.000001 = 0.0000005 -> 0 (0 is even).
  ExpectPremium(version, 500'000, Unit::kPound, 0, 0);
  // 1.5 lb -> 0.0000015 -> 0.000002.
  ExpectPremium(version, 1'500'000, Unit::kPound, 2, 2);
  // 2.5 lb -> 0.0000025 -> 0.000002.
  ExpectPremium(version, 2'500'000, Unit::kPound, 2, 2);
  // 3.5 lb -> 0.0000035 -> 0.000004.
  ExpectPremium(version, 3'500'000, Unit::kPound, 4, 4);
  // Off the tie by a thousandth of a pound: to the nearest.
  // 2.499 lb -> 0.000002499 -> 0.000002; 2.501 lb -> 0.000002501 -> 0.000003.
  ExpectPremium(version, 2'499'000, Unit::kPound, 2, 2);
  ExpectPremium(version, 2'501'000, Unit::kPound, 3, 3);
  // 0.501 lb -> 0.000000501 -> 0.000001 (not zero: above half).
  ExpectPremium(version, 501'000, Unit::kPound, 1, 1);

  // Worker 0.000001 + supplier 0.000002: 0.5 lb owes 0.0000015 -> 0.000002
  // in all, of which the workers' 0.0000005 -> 0. Each is rounded from the
  // exact product, not derived from the other.
  version.set_supplier_rate_micros(2);
  ExpectPremium(version, 500'000, Unit::kPound, 2, 0);
}

TEST(ComputePurchasePremiumTest, TiesAfterAConversionRoundOnce) {
  pb::ProgramVersion per_kg = FairFoodProgram();
  per_kg.set_unit("kg");
  per_kg.set_worker_rate_micros(1);  // 0.000001 per kg
  // 50,000,000 lb = 22,679,618.5 kg exactly; x 0.000001 = 22.6796185
  // -> 22.679618 (even).
  ExpectPremium(per_kg, Units(50'000'000), Unit::kPound, 22'679'618,
                22'679'618);
  // 150,000,000 lb = 68,038,855.5 kg; x 0.000001 = 68.0388555 -> 68.038856
  // (even).
  ExpectPremium(per_kg, Units(150'000'000), Unit::kPound, 68'038'856,
                68'038'856);
}

TEST(ComputePurchasePremiumTest, LargestResultFitsAndOneMoreOverflows) {
  pb::ProgramVersion version = FairFoodProgram();
  version.set_worker_rate_micros(Units(1));  // 1.00 per lb
  // kMaxMicros lb x 1.00 = kMaxMicros exactly: the largest amount there is.
  ExpectPremium(version, kMaxMicros, Unit::kPound, kMaxMicros, kMaxMicros);
  // x 1.000001 is beyond it.
  version.set_worker_rate_micros(Units(1) + 1);
  EXPECT_THAT(ComputePurchasePremium(version, kMaxMicros, Unit::kPound),
              StatusIs(absl::StatusCode::kOutOfRange));
}

TEST(ComputePurchasePremiumTest, OverflowIsOutOfRange) {
  pb::ProgramVersion version = FairFoodProgram();
  version.set_worker_rate_micros(kInt64Max / 2);
  version.set_supplier_rate_micros(kInt64Max / 2);
  // Huge quantity x huge rate: far beyond int64 (and, through the kg to lb
  // ratio 100000000/45359237, beyond 128 bits in the intermediate).
  for (const Unit unit :
       {Unit::kPound, Unit::kKilogram, Unit::kHundredweight}) {
    EXPECT_THAT(ComputePurchasePremium(version, kMaxMicros, unit),
                StatusIs(absl::StatusCode::kOutOfRange))
        << UnitName(unit);
  }
  // 10,000,000,000 lb x 1,000 per lb = 10^13: above kMaxMicros
  // (9,223,372,036,854.775807).
  version.set_worker_rate_micros(Units(1000));
  version.set_supplier_rate_micros(0);
  EXPECT_THAT(
      ComputePurchasePremium(version, Units(10'000'000'000), Unit::kPound),
      StatusIs(absl::StatusCode::kOutOfRange));
  // The rates themselves overflow when added.
  version.set_worker_rate_micros(kInt64Max);
  version.set_supplier_rate_micros(1);
  EXPECT_THAT(ComputePurchasePremium(version, Units(1), Unit::kPound),
              StatusIs(absl::StatusCode::kOutOfRange));
}

// A mid-season rate change: each purchase uses the rate in force on its
// date.
TEST(ComputePurchasePremiumTest, MidSeasonRateChange) {
  ProgramHistory history;
  pb::ProgramVersion version = FairFoodProgram();
  version.set_worker_rate_micros(15'000);  // 0.015 from March
  ASSERT_THAT(history.Add(Record(20, version, "2025-03-01")), IsOk());
  version.set_worker_rate_micros(10'000);  // 0.01 from January
  ASSERT_THAT(history.Add(Record(10, version, "2025-01-01")), IsOk());

  const auto premium_on = [&](const std::string& date)
      -> absl::StatusOr<std::pair<uint64_t, PurchasePremium>> {
    absl::StatusOr<const ProgramVersionRecord*> in_force =
        history.InForceOn(Day(date));
    if (!in_force.ok()) return in_force.status();
    absl::StatusOr<PurchasePremium> premium =
        ComputePurchasePremium((*in_force)->version, Units(1000), Unit::kPound);
    if (!premium.ok()) return premium.status();
    return std::make_pair((*in_force)->seq, *premium);
  };

  // 1000 lb on 2025-02-28 x 0.01 = 10.000000.
  absl::StatusOr<std::pair<uint64_t, PurchasePremium>> february =
      premium_on("2025-02-28");
  ASSERT_THAT(february, IsOk());
  EXPECT_EQ(february->first, 10u);
  EXPECT_EQ(february->second.premium_micros, 10'000'000);
  EXPECT_EQ(february->second.worker_premium_micros, 10'000'000);

  // 1000 lb on 2025-03-01 x 0.015 = 15.000000.
  absl::StatusOr<std::pair<uint64_t, PurchasePremium>> march =
      premium_on("2025-03-01");
  ASSERT_THAT(march, IsOk());
  EXPECT_EQ(march->first, 20u);
  EXPECT_EQ(march->second.premium_micros, 15'000'000);
  EXPECT_EQ(march->second.worker_premium_micros, 15'000'000);

  // Before the program: no premium can be computed.
  EXPECT_THAT(
      premium_on("2024-12-31"),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("2025-01-01")));
}

// ---------------------------------------------------------------------------
// WorkerPortionMicros.

TEST(WorkerPortionMicrosTest, SeedPrograms) {
  // BK: 150.00 x 0.01 / 0.015 = 100.000000.
  EXPECT_EQ(*WorkerPortionMicros(BurgerKingVariant(), Units(150)), Units(100));
  // FFP: 150.00 x 0.01 / 0.01 = 150.000000, all of it.
  EXPECT_EQ(*WorkerPortionMicros(FairFoodProgram(), Units(150)), Units(150));
  // MwD: 15.00 x 0.05 / 0.06 = 12.500000.
  EXPECT_EQ(*WorkerPortionMicros(MilkWithDignity(), Units(15)), 12'500'000);
  EXPECT_EQ(*WorkerPortionMicros(BurgerKingVariant(), 0), 0);
}

TEST(WorkerPortionMicrosTest, NonExactSplitRoundsHalfEven) {
  pb::ProgramVersion version = FairFoodProgram();
  version.set_worker_rate_micros(10'000);    // 0.01
  version.set_supplier_rate_micros(20'000);  // 0.02
  // 0.01 x 0.01 / 0.03 = 0.00333333... -> 0.003333.
  EXPECT_EQ(*WorkerPortionMicros(version, 10'000), 3'333);
  // 0.02 x 1/3 = 0.00666666... -> 0.006667.
  EXPECT_EQ(*WorkerPortionMicros(version, 20'000), 6'667);
  // 100.00 x 1/3 = 33.33333333... -> 33.333333.
  EXPECT_EQ(*WorkerPortionMicros(version, Units(100)), 33'333'333);

  // Half and half: 0.000001 / 2 = 0.0000005 -> 0; 0.000003 / 2 -> 0.000002;
  // 0.000005 / 2 -> 0.000002; 0.000007 / 2 -> 0.000004.
  version.set_supplier_rate_micros(10'000);
  EXPECT_EQ(*WorkerPortionMicros(version, 1), 0);
  EXPECT_EQ(*WorkerPortionMicros(version, 3), 2);
  EXPECT_EQ(*WorkerPortionMicros(version, 5), 2);
  EXPECT_EQ(*WorkerPortionMicros(version, 7), 4);
}

TEST(WorkerPortionMicrosTest, LargestAmountDoesNotOverflow) {
  // The portion is at most the amount, and the product is 128-bit.
  EXPECT_EQ(*WorkerPortionMicros(FairFoodProgram(), kMaxMicros), kMaxMicros);
  // kMaxMicros x 2/3 = 6148914691236517204.666... -> ...205.
  EXPECT_EQ(*WorkerPortionMicros(BurgerKingVariant(), kMaxMicros),
            6'148'914'691'236'517'205);
}

TEST(WorkerPortionMicrosTest, RefusesRatesThatDoNotMakeASplit) {
  pb::ProgramVersion version = FairFoodProgram();
  version.set_worker_rate_micros(0);
  version.set_supplier_rate_micros(0);
  EXPECT_THAT(WorkerPortionMicros(version, Units(1)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  version.set_worker_rate_micros(kInt64Max);
  version.set_supplier_rate_micros(1);
  EXPECT_THAT(WorkerPortionMicros(version, Units(1)),
              StatusIs(absl::StatusCode::kOutOfRange));
}

}  // namespace
}  // namespace premium
