#include "ledger/premium/standing.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace premium {
namespace {

namespace pb = wsr::premium::v1;

pb::Suspension Suspend(const std::string& from, const std::string& to = "") {
  pb::Suspension suspension;
  suspension.set_program_id("ffp");
  suspension.set_supplier_id("s1");
  suspension.set_from_date(from);
  suspension.set_to_date(to);
  suspension.set_reason("audit finding");
  return suspension;
}

pb::Reinstatement Reinstate(const std::string& day) {
  pb::Reinstatement reinstatement;
  reinstatement.set_program_id("ffp");
  reinstatement.set_supplier_id("s1");
  reinstatement.set_effective_date(day);
  return reinstatement;
}

TEST(StandingHistoryTest, NoSuspensionMeansGoodStanding) {
  StandingHistory history;
  EXPECT_EQ(history.SuspendedOn(absl::CivilDay(2025, 3, 1)), nullptr);
  EXPECT_TRUE(history.periods().empty());
}

TEST(StandingHistoryTest, OpenSuspensionLastsUntilReinstated) {
  StandingHistory history;
  ASSERT_TRUE(history.AddSuspension(7, Suspend("2025-03-01")).ok());
  EXPECT_EQ(history.SuspendedOn(absl::CivilDay(2025, 2, 28)), nullptr);
  ASSERT_NE(history.SuspendedOn(absl::CivilDay(2025, 3, 1)), nullptr);
  EXPECT_NE(history.SuspendedOn(absl::CivilDay(2030, 1, 1)), nullptr);

  // Reinstated on April 10: suspended through April 9, buying allowed from
  // the 10th on.
  ASSERT_TRUE(history.AddReinstatement(9, Reinstate("2025-04-10")).ok());
  const SuspensionPeriod* last =
      history.SuspendedOn(absl::CivilDay(2025, 4, 9));
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(last->suspension_seq, 7u);
  EXPECT_EQ(last->reinstatement_seq, 9u);
  EXPECT_EQ(history.SuspendedOn(absl::CivilDay(2025, 4, 10)), nullptr);
}

TEST(StandingHistoryTest, BoundedSuspensionEndsOnItsLastDay) {
  StandingHistory history;
  ASSERT_TRUE(
      history.AddSuspension(1, Suspend("2025-03-01", "2025-03-31")).ok());
  EXPECT_NE(history.SuspendedOn(absl::CivilDay(2025, 3, 31)), nullptr);
  EXPECT_EQ(history.SuspendedOn(absl::CivilDay(2025, 4, 1)), nullptr);
  // Nothing open to reinstate.
  EXPECT_EQ(history.AddReinstatement(2, Reinstate("2025-04-02")).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(StandingHistoryTest, RefusesMalformedRecords) {
  StandingHistory history;
  EXPECT_EQ(history.AddSuspension(1, Suspend("2025-02-30")).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      history.AddSuspension(1, Suspend("2025-03-10", "2025-03-09")).code(),
      absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(history.AddSuspension(1, Suspend("2025-03-10")).ok());
  // A reinstatement on the first day would leave an empty period.
  EXPECT_EQ(history.AddReinstatement(2, Reinstate("2025-03-10")).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(history.AddReinstatement(2, Reinstate("soon")).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(history.periods().size(), 1u);
  EXPECT_FALSE(history.periods()[0].to.has_value());
}

TEST(StandingHistoryTest, ReinstatementClosesTheLatestOpenSuspension) {
  StandingHistory history;
  ASSERT_TRUE(
      history.AddSuspension(1, Suspend("2025-01-01", "2025-01-31")).ok());
  ASSERT_TRUE(history.AddSuspension(2, Suspend("2025-06-01")).ok());
  ASSERT_TRUE(history.AddReinstatement(3, Reinstate("2025-07-01")).ok());
  ASSERT_EQ(history.periods().size(), 2u);
  EXPECT_EQ(history.periods()[0].reinstatement_seq, 0u);
  EXPECT_EQ(history.periods()[1].reinstatement_seq, 3u);
  EXPECT_EQ(*history.periods()[1].to, absl::CivilDay(2025, 6, 30));
}

}  // namespace
}  // namespace premium
