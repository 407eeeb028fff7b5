#include "ledger/merkle/compact_range.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/merkle/hasher.h"
#include "ledger/merkle/reference_root.h"

namespace premium::merkle {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<Hash> MakeLeaves(size_t count) {
  std::vector<Hash> leaves;
  leaves.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    leaves.push_back(HashLeaf(absl::StrCat("entry ", i)));
  }
  return leaves;
}

TEST(NodeIdTest, CoverageEqualityAndText) {
  const NodeId node{3, 5};
  EXPECT_EQ(node.begin(), 40u);
  EXPECT_EQ(node.end(), 48u);
  EXPECT_EQ(node, (NodeId{3, 5}));
  EXPECT_NE(node, (NodeId{3, 4}));
  EXPECT_NE(node, (NodeId{2, 5}));
  EXPECT_EQ(node.ToString(), "(3, 5)");
  EXPECT_EQ((NodeId{0, 7}.begin()), 7u);
  EXPECT_EQ((NodeId{0, 7}.end()), 8u);
}

TEST(CompactRangeTest, NodeIdsForSize) {
  EXPECT_TRUE(CompactRange::NodeIdsForSize(0).empty());
  EXPECT_THAT(CompactRange::NodeIdsForSize(1), ElementsAre(NodeId{0, 0}));
  EXPECT_THAT(CompactRange::NodeIdsForSize(8), ElementsAre(NodeId{3, 0}));
  EXPECT_THAT(CompactRange::NodeIdsForSize(13),
              ElementsAre(NodeId{3, 0}, NodeId{2, 2}, NodeId{0, 12}));
  const std::vector<NodeId> largest =
      CompactRange::NodeIdsForSize(kMaxTreeSize);
  ASSERT_EQ(largest.size(), 63u);
  EXPECT_EQ(largest.front(), (NodeId{62, 0}));
  EXPECT_EQ(largest.back(), (NodeId{0, kMaxTreeSize - 1}));
  // The nodes tile [0, size) left to right for every size.
  for (uint64_t size = 0; size < 600; ++size) {
    uint64_t next = 0;
    for (const NodeId& id : CompactRange::NodeIdsForSize(size)) {
      EXPECT_EQ(id.begin(), next) << "size " << size;
      next = id.end();
    }
    EXPECT_EQ(next, size);
  }
}

TEST(CompactRangeTest, EmptyRange) {
  const CompactRange range;
  EXPECT_EQ(range.size(), 0u);
  EXPECT_TRUE(range.hashes().empty());
  EXPECT_EQ(range.Root(), EmptyRoot());
}

TEST(CompactRangeTest, RootMatchesReferenceForEverySizeUpTo300) {
  const std::vector<Hash> leaves = MakeLeaves(300);
  CompactRange range;
  for (uint64_t size = 0;; ++size) {
    ASSERT_EQ(range.size(), size);
    ASSERT_EQ(range.Root(), ReferenceRoot(leaves, 0, size)) << "size " << size;
    // The border is exactly the reference hashes of NodeIdsForSize.
    const std::vector<NodeId> ids = CompactRange::NodeIdsForSize(size);
    ASSERT_EQ(range.hashes().size(), ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      ASSERT_EQ(range.hashes()[i],
                ReferenceRoot(leaves, ids[i].begin(), ids[i].end()));
    }
    if (size == leaves.size()) break;
    range.Append(leaves[size], [](NodeId, const Hash&) {});
  }
}

TEST(CompactRangeTest, RootMatchesReferenceAtRandomSizes) {
  constexpr uint64_t kLeafCount = 20'000;
  const std::vector<Hash> leaves = MakeLeaves(kLeafCount);
  std::mt19937_64 random(6962);
  std::vector<uint64_t> checkpoints;
  for (int i = 0; i < 25; ++i) checkpoints.push_back(random() % kLeafCount);
  checkpoints.push_back(4096);
  checkpoints.push_back(kLeafCount);
  std::sort(checkpoints.begin(), checkpoints.end());
  CompactRange range;
  for (uint64_t checkpoint : checkpoints) {
    while (range.size() < checkpoint) {
      range.Append(leaves[range.size()], [](NodeId, const Hash&) {});
    }
    EXPECT_EQ(range.Root(), ReferenceRoot(leaves, 0, checkpoint))
        << "size " << checkpoint;
  }
}

// Appending leaves 0..size-1 must report every perfect node of the tree of
// `size` exactly once, with its reference hash, in the append that completes
// it, bottom up.
void ExpectEveryNodeReportedOnce(uint64_t size) {
  const std::vector<Hash> leaves = MakeLeaves(size);
  std::map<NodeId, int> calls;
  CompactRange range;
  for (uint64_t i = 0; i < size; ++i) {
    int previous_level = -1;
    range.Append(leaves[i], [&](NodeId id, const Hash& hash) {
      ++calls[id];
      // Completed by leaf i, so it ends right after leaf i.
      EXPECT_EQ(id.end(), i + 1) << id.ToString();
      EXPECT_EQ(id.level, previous_level + 1) << id.ToString();
      previous_level = id.level;
      EXPECT_EQ(hash, ReferenceRoot(leaves, id.begin(), id.end()))
          << id.ToString();
    });
  }
  size_t perfect_nodes = 0;
  for (int level = 0; (uint64_t{1} << level) <= size; ++level) {
    for (uint64_t index = 0; ((index + 1) << level) <= size; ++index) {
      ++perfect_nodes;
      const NodeId id{level, index};
      const auto it = calls.find(id);
      EXPECT_TRUE(it != calls.end() && it->second == 1)
          << "size " << size << " node " << id.ToString();
    }
  }
  // No call for anything that is not a perfect node of the tree.
  EXPECT_EQ(calls.size(), perfect_nodes) << "size " << size;
}

TEST(CompactRangeTest, ReportsEveryPerfectNodeExactlyOnce) {
  for (uint64_t size : {1, 2, 3, 7, 8, 64, 100, 300, 1025}) {
    ExpectEveryNodeReportedOnce(size);
  }
}

TEST(CompactRangeTest, FromNodesRoundTrip) {
  const std::vector<Hash> leaves = MakeLeaves(200);
  CompactRange range;
  for (uint64_t size = 0; size < 100; ++size) {
    absl::StatusOr<CompactRange> restored =
        CompactRange::FromNodes(range.size(), range.hashes());
    ASSERT_TRUE(restored.ok()) << restored.status();
    EXPECT_EQ(restored->size(), size);
    EXPECT_EQ(restored->Root(), range.Root());
    // A restored range carries on exactly like the original.
    for (uint64_t i = size; i < size + 100; ++i) {
      restored->Append(leaves[i], [](NodeId, const Hash&) {});
    }
    EXPECT_EQ(restored->Root(), ReferenceRoot(leaves, 0, size + 100));
    range.Append(leaves[size], [](NodeId, const Hash&) {});
  }
}

TEST(CompactRangeTest, FromNodesRefusesWrongCounts) {
  const Hash hash = HashLeaf("x");
  for (uint64_t size : {0, 1, 5, 13, 64}) {
    const size_t expected = std::popcount(size);
    for (size_t count : {expected + 1, expected + 2, expected - 1}) {
      if (count == expected - 1 && expected == 0) continue;
      absl::StatusOr<CompactRange> range =
          CompactRange::FromNodes(size, std::vector<Hash>(count, hash));
      EXPECT_EQ(range.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_THAT(range.status().message(),
                  HasSubstr(absl::StrCat("needs ", expected,
                                         " node hashes, got ", count)));
    }
  }
}

TEST(CompactRangeTest, FromNodesRefusesSizesBeyondTheLimit) {
  absl::StatusOr<CompactRange> range = CompactRange::FromNodes(
      kMaxTreeSize + 1, std::vector<Hash>(1, HashLeaf("x")));
  EXPECT_EQ(range.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(
      CompactRange::FromNodes(kMaxTreeSize, std::vector<Hash>(63)).ok());
}

TEST(CompactRangeDeathTest, AppendBeyondTheLimitAborts) {
  absl::StatusOr<CompactRange> range =
      CompactRange::FromNodes(kMaxTreeSize, std::vector<Hash>(63));
  ASSERT_TRUE(range.ok());
  EXPECT_DEATH(range->Append(HashLeaf("x"), [](NodeId, const Hash&) {}),
               "CompactRange::Append");
}

}  // namespace
}  // namespace premium::merkle
