#include "ledger/premium/seq_runs.h"

#include <cstdint>
#include <random>
#include <set>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace premium {
namespace {

using ::testing::ElementsAre;

std::vector<uint64_t> Seqs(const SeqRuns& runs) {
  std::vector<uint64_t> seqs;
  runs.AppendTo(&seqs);
  return seqs;
}

TEST(SeqRunsTest, ConsecutiveSeqsShareOneRun) {
  SeqRuns runs;
  for (uint64_t seq = 10; seq < 1'010; ++seq) runs.Append(seq);
  runs.Append(2'000);
  ASSERT_EQ(runs.runs().size(), 2u);
  EXPECT_EQ(runs.runs()[0].first_seq, 10u);
  EXPECT_EQ(runs.runs()[0].count, 1'000u);
  EXPECT_EQ(runs.runs()[1].first_seq, 2'000u);
  EXPECT_EQ(runs.runs()[1].count, 1u);
  EXPECT_EQ(runs.size(), 1'001u);
  EXPECT_TRUE(runs.Contains(10));
  EXPECT_TRUE(runs.Contains(1'009));
  EXPECT_FALSE(runs.Contains(9));
  EXPECT_FALSE(runs.Contains(1'010));
  EXPECT_FALSE(runs.Contains(1'999));
  EXPECT_TRUE(runs.Contains(2'000));
  EXPECT_FALSE(runs.Contains(2'001));
}

TEST(SeqRunsTest, EraseSplitsShortensOrDropsARun) {
  SeqRuns runs;
  for (uint64_t seq : {1, 2, 3, 4, 5, 9}) runs.Append(seq);
  EXPECT_TRUE(runs.Erase(3));  // splits
  EXPECT_THAT(Seqs(runs), ElementsAre(1, 2, 4, 5, 9));
  EXPECT_EQ(runs.runs().size(), 3u);
  EXPECT_TRUE(runs.Erase(1));  // shortens at the front
  EXPECT_TRUE(runs.Erase(5));  // and at the back
  EXPECT_TRUE(runs.Erase(9));  // drops
  EXPECT_THAT(Seqs(runs), ElementsAre(2, 4));
  EXPECT_EQ(runs.size(), 2u);
  EXPECT_FALSE(runs.Erase(3));
  EXPECT_FALSE(runs.Erase(9));
  EXPECT_FALSE(runs.Erase(0));
  EXPECT_THAT(Seqs(runs), ElementsAre(2, 4));
  EXPECT_TRUE(runs.Erase(2));
  EXPECT_TRUE(runs.Erase(4));
  EXPECT_TRUE(runs.empty());
  EXPECT_TRUE(runs.runs().empty());
}

TEST(SeqRunsTest, AppendAfterEraseOfTheLastSeq) {
  SeqRuns runs;
  runs.Append(7);
  runs.Append(8);
  EXPECT_TRUE(runs.Erase(8));
  runs.Append(8);
  runs.Append(9);
  EXPECT_THAT(Seqs(runs), ElementsAre(7, 8, 9));
  EXPECT_EQ(runs.runs().size(), 1u);
}

// Against a std::set, under random appends and erases.
TEST(SeqRunsTest, AgreesWithASetOfSeqs) {
  std::mt19937_64 rng(20261203);
  SeqRuns runs;
  std::set<uint64_t> expected;
  uint64_t next_seq = 0;
  for (int step = 0; step < 20'000; ++step) {
    if (rng() % 3 != 0 || expected.empty()) {
      next_seq += 1 + (rng() % 4 == 0 ? rng() % 5 : 0);
      runs.Append(next_seq);
      expected.insert(next_seq);
    } else {
      const uint64_t seq = rng() % (next_seq + 2);
      ASSERT_EQ(runs.Erase(seq), expected.erase(seq) == 1) << seq;
    }
    ASSERT_EQ(runs.size(), expected.size());
  }
  EXPECT_EQ(Seqs(runs),
            std::vector<uint64_t>(expected.begin(), expected.end()));
  for (uint64_t seq = 0; seq <= next_seq + 1; ++seq) {
    ASSERT_EQ(runs.Contains(seq), expected.count(seq) == 1) << seq;
  }
  for (size_t i = 1; i < runs.runs().size(); ++i) {
    ASSERT_GT(runs.runs()[i].first_seq, runs.runs()[i - 1].end_seq());
  }
}

}  // namespace
}  // namespace premium
