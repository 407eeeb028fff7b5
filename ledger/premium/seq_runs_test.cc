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
  // Iterating yields what AppendTo does.
  EXPECT_EQ(std::vector<uint64_t>(runs.begin(), runs.end()), Seqs(runs));
}

TEST(SeqRunsTest, IteratesSeqBySeqAcrossRuns) {
  SeqRuns runs;
  EXPECT_EQ(runs.begin(), runs.end());
  for (uint64_t seq : {3, 4, 5, 8, 10, 11}) runs.Append(seq);
  EXPECT_THAT(runs, ElementsAre(3, 4, 5, 8, 10, 11));
  EXPECT_EQ(runs.back(), 11u);
  EXPECT_EQ(std::distance(runs.begin(), runs.end()), 6);
}

TEST(SeqRunsTest, FromSeqsTakesAnyOrderAndRepeatsOnce) {
  const SeqRuns runs = {9, 2, 3, 2, 1, 7, 8, 3};
  EXPECT_THAT(runs, ElementsAre(1, 2, 3, 7, 8, 9));
  EXPECT_THAT(runs.runs(),
              ElementsAre(SeqRuns::Run{.first_seq = 1, .count = 3},
                          SeqRuns::Run{.first_seq = 7, .count = 3}));
  EXPECT_EQ(runs.size(), 6u);
  EXPECT_EQ(runs, SeqRuns::FromSeqs({1, 2, 3, 7, 8, 9}));
  EXPECT_NE(runs, SeqRuns::FromSeqs({1, 2, 3, 7, 8}));
  EXPECT_TRUE(SeqRuns::FromSeqs({}).empty());
}

TEST(SeqRunsTest, FromRunsIsTheUnionOfOverlappingAdjacentAndApartRuns) {
  using Run = SeqRuns::Run;
  const SeqRuns runs = SeqRuns::FromRuns({
      Run{.first_seq = 20, .count = 5},  // 20..24
      Run{.first_seq = 0, .count = 2},   // 0..1
      Run{.first_seq = 22, .count = 1},  // inside 20..24
      Run{.first_seq = 2, .count = 3},   // adjacent: 0..4
      Run{.first_seq = 24, .count = 4},  // overlaps the end: 20..27
      Run{.first_seq = 40, .count = 1},
  });
  EXPECT_THAT(runs.runs(), ElementsAre(Run{.first_seq = 0, .count = 5},
                                       Run{.first_seq = 20, .count = 8},
                                       Run{.first_seq = 40, .count = 1}));
  EXPECT_EQ(runs.size(), 14u);
  EXPECT_EQ(runs.back(), 40u);
}

// FromRuns of random runs against a std::set of their seqs.
TEST(SeqRunsTest, FromRunsAgreesWithASetOfSeqs) {
  std::mt19937_64 rng(20261204);
  for (int round = 0; round < 200; ++round) {
    std::vector<SeqRuns::Run> given;
    std::set<uint64_t> expected;
    const int count = static_cast<int>(rng() % 30);
    for (int i = 0; i < count; ++i) {
      const SeqRuns::Run run{.first_seq = rng() % 200, .count = 1 + rng() % 12};
      given.push_back(run);
      for (uint64_t seq = run.first_seq; seq < run.end_seq(); ++seq) {
        expected.insert(seq);
      }
    }
    const SeqRuns runs = SeqRuns::FromRuns(given);
    ASSERT_EQ(runs.size(), expected.size());
    ASSERT_EQ(std::vector<uint64_t>(runs.begin(), runs.end()),
              std::vector<uint64_t>(expected.begin(), expected.end()));
    for (size_t i = 1; i < runs.runs().size(); ++i) {
      ASSERT_GT(runs.runs()[i].first_seq, runs.runs()[i - 1].end_seq());
    }
  }
}

}  // namespace
}  // namespace premium
