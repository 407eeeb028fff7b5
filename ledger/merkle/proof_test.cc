#include "ledger/merkle/proof.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/merkle/compact_range.h"
#include "ledger/merkle/hasher.h"

namespace premium::merkle {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr uint64_t kReferenceLeafCount = 100'000;
constexpr uint64_t kExhaustiveSizeMax = 64;
constexpr int kRandomCases = 300;

// The RFC 6962 definitions (section 2.1), written out literally over
// absolute leaf ranges [begin, end), with MTH memoised so that proofs in a
// tree of 100,000 leaves stay cheap. Independent of the code under test
// except for HashLeaf and HashChildren.
class ReferenceTree {
 public:
  explicit ReferenceTree(uint64_t leaf_count) {
    leaves_.reserve(leaf_count);
    for (uint64_t i = 0; i < leaf_count; ++i) {
      // Distinct entries, so distinct subtrees have distinct hashes.
      leaves_.push_back(HashLeaf(absl::StrCat("entry ", i)));
    }
  }

  const Hash& Leaf(uint64_t index) const { return leaves_[index]; }

  // MTH(D[begin:end]).
  Hash Mth(uint64_t begin, uint64_t end) {
    if (begin == end) return EmptyRoot();
    if (end - begin == 1) return leaves_[begin];
    const uint64_t key = begin * (kReferenceLeafCount + 1) + end;
    if (auto it = memo_.find(key); it != memo_.end()) return it->second;
    const uint64_t k = LargestPowerOfTwoBelow(end - begin);
    const Hash hash = HashChildren(Mth(begin, begin + k), Mth(begin + k, end));
    memo_.emplace(key, hash);
    return hash;
  }

  Hash Root(uint64_t size) { return Mth(0, size); }

  // PATH(m, D[begin:end]), m relative to begin.
  std::vector<Hash> Path(uint64_t m, uint64_t begin, uint64_t end) {
    const uint64_t n = end - begin;
    if (n == 1) return {};
    const uint64_t k = LargestPowerOfTwoBelow(n);
    std::vector<Hash> path;
    if (m < k) {
      path = Path(m, begin, begin + k);
      path.push_back(Mth(begin + k, end));
    } else {
      path = Path(m - k, begin + k, end);
      path.push_back(Mth(begin, begin + k));
    }
    return path;
  }

  std::vector<Hash> InclusionProof(uint64_t leaf_index, uint64_t tree_size) {
    return Path(leaf_index, 0, tree_size);
  }

  // SUBPROOF(m, D[begin:end], b), m relative to begin.
  std::vector<Hash> SubProof(uint64_t m, uint64_t begin, uint64_t end, bool b) {
    const uint64_t n = end - begin;
    if (m == n) {
      if (b) return {};
      return {Mth(begin, end)};
    }
    const uint64_t k = LargestPowerOfTwoBelow(n);
    std::vector<Hash> proof;
    if (m <= k) {
      proof = SubProof(m, begin, begin + k, b);
      proof.push_back(Mth(begin + k, end));
    } else {
      proof = SubProof(m - k, begin + k, end, false);
      proof.push_back(Mth(begin, begin + k));
    }
    return proof;
  }

  // PROOF(m, D[n]) for 0 < m < n; empty otherwise (RFC 9162 2.1.4).
  std::vector<Hash> ConsistencyProof(uint64_t old_size, uint64_t new_size) {
    if (old_size == 0 || old_size == new_size) return {};
    return SubProof(old_size, 0, new_size, true);
  }

 private:
  static uint64_t LargestPowerOfTwoBelow(uint64_t n) {
    uint64_t k = 1;
    while (2 * k < n) k *= 2;
    return k;
  }

  std::vector<Hash> leaves_;
  std::unordered_map<uint64_t, Hash> memo_;
};

// ceil(log2(n)) for n >= 1.
int CeilLog2(uint64_t n) { return n <= 1 ? 0 : std::bit_width(n - 1); }

Hash FlipBit(Hash hash, int bit) {
  hash[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
  return hash;
}

class ProofTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tree_ = new ReferenceTree(kReferenceLeafCount);
  }
  static void TearDownTestSuite() {
    delete tree_;
    tree_ = nullptr;
  }

  // Resolves `plan` against the reference tree as the node store of the tree
  // of `tree_size`: a read of a node that is not complete at that size fails
  // the test. Also checks that the batched path gives the same proof, and
  // that the number of node reads stays within the documented bound.
  static std::vector<Hash> Resolve(const std::vector<ProofElement>& plan,
                                   uint64_t tree_size) {
    int reads = 0;
    absl::StatusOr<std::vector<Hash>> proof =
        ResolveProof(plan, [&](NodeId id) -> absl::StatusOr<Hash> {
          ++reads;
          EXPECT_GE(id.level, 0);
          EXPECT_LE(id.end(), tree_size)
              << id.ToString() << " is not stored at size " << tree_size;
          return tree_->Mth(id.begin(), id.end());
        });
    EXPECT_TRUE(proof.ok()) << proof.status();
    EXPECT_LE(reads, 2 * CeilLog2(tree_size) + 1) << "size " << tree_size;
    EXPECT_LE(reads, 2 * CeilLog2(tree_size) + 2) << "size " << tree_size;

    const std::vector<NodeId> ids = NodesOf(plan);
    EXPECT_EQ(ids.size(), static_cast<size_t>(reads));
    std::vector<Hash> node_hashes;
    for (const NodeId& id : ids) {
      node_hashes.push_back(tree_->Mth(id.begin(), id.end()));
    }
    absl::StatusOr<std::vector<Hash>> assembled =
        AssembleProof(plan, node_hashes);
    EXPECT_TRUE(assembled.ok()) << assembled.status();
    EXPECT_EQ(assembled.value_or(std::vector<Hash>{}),
              proof.value_or(std::vector<Hash>{}));
    // At most one element is ephemeral.
    EXPECT_LE(std::count_if(plan.begin(), plan.end(),
                            [](const ProofElement& element) {
                              return element.nodes.size() > 1;
                            }),
              1);
    return proof.value_or(std::vector<Hash>{});
  }

  // Builds the inclusion proof, compares it with the RFC's PATH, verifies it
  // and checks that every kind of tampering is refused.
  static void CheckInclusion(uint64_t leaf_index, uint64_t tree_size,
                             bool flip_every_bit) {
    SCOPED_TRACE(absl::StrCat("leaf ", leaf_index, " of ", tree_size));
    absl::StatusOr<std::vector<ProofElement>> plan =
        InclusionProofPlan(leaf_index, tree_size);
    ASSERT_TRUE(plan.ok()) << plan.status();
    const std::vector<Hash> proof = Resolve(*plan, tree_size);
    ASSERT_EQ(proof, tree_->InclusionProof(leaf_index, tree_size));

    const Hash leaf = tree_->Leaf(leaf_index);
    const Hash root = tree_->Root(tree_size);
    ASSERT_TRUE(VerifyInclusion(leaf, leaf_index, tree_size, proof, root).ok());
    absl::StatusOr<Hash> computed =
        RootFromInclusionProof(leaf, leaf_index, tree_size, proof);
    ASSERT_TRUE(computed.ok());
    EXPECT_EQ(*computed, root);

    ExpectInclusionTamperingRefused(leaf_index, tree_size, proof,
                                    flip_every_bit);
  }

  static void ExpectInclusionTamperingRefused(uint64_t leaf_index,
                                              uint64_t tree_size,
                                              const std::vector<Hash>& proof,
                                              bool flip_every_bit) {
    const Hash leaf = tree_->Leaf(leaf_index);
    const Hash root = tree_->Root(tree_size);
    auto verify = [&](const std::vector<Hash>& tampered) {
      return VerifyInclusion(leaf, leaf_index, tree_size, tampered, root);
    };
    // Bit flips: a few bit positions of every element, and every bit position
    // of one chosen element.
    for (size_t i = 0; i < proof.size(); ++i) {
      const bool chosen = flip_every_bit && i == leaf_index % proof.size();
      for (int bit = 0; bit < 256; ++bit) {
        if (!chosen && bit != 0 && bit != 7 && bit != 131 && bit != 255) {
          continue;
        }
        std::vector<Hash> tampered = proof;
        tampered[i] = FlipBit(tampered[i], bit);
        EXPECT_EQ(verify(tampered).code(), absl::StatusCode::kDataLoss)
            << "element " << i << " bit " << bit;
      }
    }
    // One hash dropped, one added.
    for (size_t i = 0; i < proof.size(); ++i) {
      std::vector<Hash> tampered = proof;
      tampered.erase(tampered.begin() + i);
      EXPECT_EQ(verify(tampered).code(), absl::StatusCode::kInvalidArgument);
    }
    for (size_t i = 0; i <= proof.size(); ++i) {
      std::vector<Hash> tampered = proof;
      tampered.insert(tampered.begin() + i, root);
      EXPECT_EQ(verify(tampered).code(), absl::StatusCode::kInvalidArgument);
    }
    // Two hashes swapped (all elements are distinct).
    for (size_t i = 0; i + 1 < proof.size(); ++i) {
      std::vector<Hash> tampered = proof;
      std::swap(tampered[i], tampered[proof.size() - 1]);
      if (tampered == proof) continue;
      EXPECT_FALSE(verify(tampered).ok()) << "swap " << i;
    }
    // Wrong leaf hash, wrong root.
    EXPECT_EQ(
        VerifyInclusion(FlipBit(leaf, 3), leaf_index, tree_size, proof, root)
            .code(),
        absl::StatusCode::kDataLoss);
    EXPECT_EQ(
        VerifyInclusion(leaf, leaf_index, tree_size, proof, FlipBit(root, 200))
            .code(),
        absl::StatusCode::kDataLoss);
    // Wrong leaf index, and another leaf's proof.
    for (uint64_t other : {leaf_index - 1, leaf_index + 1, tree_size,
                           leaf_index ^ 4, leaf_index / 2}) {
      if (other == leaf_index) continue;
      EXPECT_FALSE(VerifyInclusion(leaf, other, tree_size, proof, root).ok())
          << "claimed index " << other;
      if (other < tree_size) {
        EXPECT_FALSE(VerifyInclusion(leaf, leaf_index, tree_size,
                                     tree_->InclusionProof(other, tree_size),
                                     root)
                         .ok())
            << "proof of leaf " << other;
      }
    }
    // Wrong tree size, with the root of that size (the root alone does not
    // commit to the size; see proof.h).
    for (uint64_t other_size : {tree_size - 1, tree_size + 1}) {
      if (other_size > kReferenceLeafCount) continue;
      EXPECT_FALSE(VerifyInclusion(leaf, leaf_index, other_size, proof,
                                   tree_->Root(other_size))
                       .ok())
          << "claimed size " << other_size;
    }
  }

  static void CheckConsistency(uint64_t old_size, uint64_t new_size,
                               bool flip_every_bit) {
    SCOPED_TRACE(absl::StrCat("consistency ", old_size, " -> ", new_size));
    absl::StatusOr<std::vector<ProofElement>> plan =
        ConsistencyProofPlan(old_size, new_size);
    ASSERT_TRUE(plan.ok()) << plan.status();
    const std::vector<Hash> proof = Resolve(*plan, new_size);
    ASSERT_EQ(proof, tree_->ConsistencyProof(old_size, new_size));

    const Hash old_root = tree_->Root(old_size);
    const Hash new_root = tree_->Root(new_size);
    ASSERT_TRUE(
        VerifyConsistency(old_size, new_size, old_root, new_root, proof).ok());
    ExpectConsistencyTamperingRefused(old_size, new_size, proof,
                                      flip_every_bit);
  }

  static void ExpectConsistencyTamperingRefused(uint64_t old_size,
                                                uint64_t new_size,
                                                const std::vector<Hash>& proof,
                                                bool flip_every_bit) {
    const Hash old_root = tree_->Root(old_size);
    const Hash new_root = tree_->Root(new_size);
    auto verify = [&](const std::vector<Hash>& tampered) {
      return VerifyConsistency(old_size, new_size, old_root, new_root,
                               tampered);
    };
    for (size_t i = 0; i < proof.size(); ++i) {
      const bool chosen = flip_every_bit && i == old_size % proof.size();
      for (int bit = 0; bit < 256; ++bit) {
        if (!chosen && bit != 0 && bit != 7 && bit != 131 && bit != 255) {
          continue;
        }
        std::vector<Hash> tampered = proof;
        tampered[i] = FlipBit(tampered[i], bit);
        EXPECT_EQ(verify(tampered).code(), absl::StatusCode::kDataLoss)
            << "element " << i << " bit " << bit;
      }
    }
    for (size_t i = 0; i < proof.size(); ++i) {
      std::vector<Hash> tampered = proof;
      tampered.erase(tampered.begin() + i);
      EXPECT_EQ(verify(tampered).code(), absl::StatusCode::kInvalidArgument);
    }
    for (size_t i = 0; i <= proof.size(); ++i) {
      std::vector<Hash> tampered = proof;
      tampered.insert(tampered.begin() + i, new_root);
      EXPECT_EQ(verify(tampered).code(), absl::StatusCode::kInvalidArgument);
    }
    for (size_t i = 0; i + 1 < proof.size(); ++i) {
      std::vector<Hash> tampered = proof;
      std::swap(tampered[i], tampered[proof.size() - 1]);
      if (tampered == proof) continue;
      EXPECT_FALSE(verify(tampered).ok()) << "swap " << i;
    }
    // Wrong roots.
    EXPECT_EQ(VerifyConsistency(old_size, new_size, FlipBit(old_root, 9),
                                new_root, proof)
                  .code(),
              absl::StatusCode::kDataLoss);
    EXPECT_EQ(VerifyConsistency(old_size, new_size, old_root,
                                FlipBit(new_root, 9), proof)
                  .code(),
              absl::StatusCode::kDataLoss);
    if (old_size != new_size) {
      // Swapped roots, swapped sizes.
      EXPECT_EQ(VerifyConsistency(old_size, new_size, new_root, old_root, proof)
                    .code(),
                absl::StatusCode::kDataLoss);
      EXPECT_EQ(VerifyConsistency(new_size, old_size, new_root, old_root, proof)
                    .code(),
                absl::StatusCode::kInvalidArgument);
    }
    // Wrong sizes (each with the root of that size), and the proof between
    // other sizes.
    for (int64_t old_delta : {-1, 0, 1}) {
      for (int64_t new_delta : {-1, 0, 1}) {
        if (old_delta == 0 && new_delta == 0) continue;
        const uint64_t other_old = old_size + old_delta;
        const uint64_t other_new = new_size + new_delta;
        if (other_old > other_new || other_new > kReferenceLeafCount) continue;
        // An empty proof rightly proves the trivial claims.
        const bool trivial = other_old == 0 || other_old == other_new;
        if (proof.empty() && trivial) continue;
        EXPECT_FALSE(VerifyConsistency(other_old, other_new,
                                       tree_->Root(other_old),
                                       tree_->Root(other_new), proof)
                         .ok())
            << "claimed " << other_old << " -> " << other_new;
        if (trivial) continue;
        EXPECT_FALSE(
            VerifyConsistency(old_size, new_size, old_root, new_root,
                              tree_->ConsistencyProof(other_old, other_new))
                .ok())
            << "proof of " << other_old << " -> " << other_new;
      }
    }
  }

  static ReferenceTree* tree_;
};

ReferenceTree* ProofTest::tree_ = nullptr;

TEST_F(ProofTest, InclusionEveryLeafOfEverySizeUpTo64) {
  for (uint64_t size = 1; size <= kExhaustiveSizeMax; ++size) {
    for (uint64_t index = 0; index < size; ++index) {
      CheckInclusion(index, size, /*flip_every_bit=*/true);
    }
  }
}

TEST_F(ProofTest, ConsistencyEveryPairOfSizesUpTo64) {
  for (uint64_t new_size = 1; new_size <= kExhaustiveSizeMax; ++new_size) {
    for (uint64_t old_size = 1; old_size <= new_size; ++old_size) {
      CheckConsistency(old_size, new_size, /*flip_every_bit=*/true);
    }
  }
}

TEST_F(ProofTest, InclusionAtRandomSizes) {
  std::mt19937_64 random(9162);
  for (int i = 0; i < kRandomCases; ++i) {
    const uint64_t size = 1 + random() % kReferenceLeafCount;
    // Bias towards the right edge, where ephemeral nodes appear.
    const uint64_t index =
        i % 3 == 0 ? size - 1 - random() % std::min<uint64_t>(size, 64)
                   : random() % size;
    CheckInclusion(index, size, /*flip_every_bit=*/i % 10 == 0);
  }
  CheckInclusion(0, kReferenceLeafCount, true);
  CheckInclusion(kReferenceLeafCount - 1, kReferenceLeafCount, true);
  CheckInclusion(65535, 65536, true);
  CheckInclusion(65536, 65537, true);
}

TEST_F(ProofTest, ConsistencyAtRandomSizes) {
  std::mt19937_64 random(6962);
  for (int i = 0; i < kRandomCases; ++i) {
    uint64_t old_size = 1 + random() % kReferenceLeafCount;
    uint64_t new_size = 1 + random() % kReferenceLeafCount;
    if (old_size > new_size) std::swap(old_size, new_size);
    if (i % 4 == 0)
      new_size = std::min(old_size + random() % 100, kReferenceLeafCount);
    CheckConsistency(old_size, new_size, /*flip_every_bit=*/i % 10 == 0);
  }
  CheckConsistency(1, kReferenceLeafCount, true);
  CheckConsistency(65536, kReferenceLeafCount, true);
  CheckConsistency(kReferenceLeafCount - 1, kReferenceLeafCount, true);
  CheckConsistency(65535, 65537, true);
}

TEST_F(ProofTest, RootAtSizeIsTheFoldOfNodeIdsForSize) {
  for (uint64_t size : {1, 2, 3, 13, 64, 1000, 99'999}) {
    std::vector<Hash> hashes;
    for (const NodeId& id : CompactRange::NodeIdsForSize(size)) {
      hashes.push_back(tree_->Mth(id.begin(), id.end()));
    }
    absl::StatusOr<CompactRange> range =
        CompactRange::FromNodes(size, std::move(hashes));
    ASSERT_TRUE(range.ok());
    EXPECT_EQ(range->Root(), tree_->Root(size)) << "size " << size;
  }
}

TEST_F(ProofTest, RootDoesNotCommitToTreeSize) {
  // Why proof.h says to take size and root from one checkpoint: the proof of
  // leaf 0 in the tree of size 3 ([leaf 1, leaf 2]) also "verifies" leaf 0 in
  // a tree of size 4 whose root is claimed to be root(3).
  const std::vector<Hash> proof = tree_->InclusionProof(0, 3);
  EXPECT_TRUE(
      VerifyInclusion(tree_->Leaf(0), 0, 4, proof, tree_->Root(3)).ok());
  EXPECT_FALSE(
      VerifyInclusion(tree_->Leaf(0), 0, 4, proof, tree_->Root(4)).ok());
}

TEST(ProofPlanTest, SmallPlansByHand) {
  // Tree of 7: leaf 6's path is [(1, 2) = [4, 6), (2, 0) = [0, 4)].
  EXPECT_THAT(
      InclusionProofPlan(6, 7).value(),
      ElementsAre(ProofElement{{NodeId{1, 2}}}, ProofElement{{NodeId{2, 0}}}));
  // Leaf 0 of 7: the last element is the ephemeral [4, 7) = (1, 2) + (0, 6).
  EXPECT_THAT(
      InclusionProofPlan(0, 7).value(),
      ElementsAre(ProofElement{{NodeId{0, 1}}}, ProofElement{{NodeId{1, 1}}},
                  ProofElement{{NodeId{1, 2}, NodeId{0, 6}}}));
  EXPECT_TRUE(InclusionProofPlan(0, 1).value().empty());
  // 4 -> 7: old size is a power of two, so no seed; then [4, 7).
  EXPECT_THAT(ConsistencyProofPlan(4, 7).value(),
              ElementsAre(ProofElement{{NodeId{1, 2}, NodeId{0, 6}}}));
  // 6 -> 8: seed (1, 2) = [4, 6), then its sibling [6, 8), then [0, 4).
  EXPECT_THAT(
      ConsistencyProofPlan(6, 8).value(),
      ElementsAre(ProofElement{{NodeId{1, 2}}}, ProofElement{{NodeId{1, 3}}},
                  ProofElement{{NodeId{2, 0}}}));
}

TEST(ProofPlanTest, EmptyConsistencyProofs) {
  EXPECT_TRUE(ConsistencyProofPlan(0, 0).value().empty());
  EXPECT_TRUE(ConsistencyProofPlan(0, 1000).value().empty());
  EXPECT_TRUE(ConsistencyProofPlan(1000, 1000).value().empty());
}

TEST(ProofPlanTest, BadArgumentsAreInvalidArgument) {
  for (auto [index, size] : std::vector<std::pair<uint64_t, uint64_t>>{
           {0, 0}, {5, 5}, {6, 5}, {0, kMaxTreeSize + 1}}) {
    absl::StatusOr<std::vector<ProofElement>> plan =
        InclusionProofPlan(index, size);
    EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(
        plan.status().message(),
        HasSubstr(absl::StrCat("leaf_index ", index, " and tree_size ", size)));
  }
  for (auto [old_size, new_size] : std::vector<std::pair<uint64_t, uint64_t>>{
           {6, 5}, {1, 0}, {0, kMaxTreeSize + 1}}) {
    absl::StatusOr<std::vector<ProofElement>> plan =
        ConsistencyProofPlan(old_size, new_size);
    EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(plan.status().message(),
                HasSubstr(absl::StrCat("old_size ", old_size, " and new_size ",
                                       new_size)));
  }
}

TEST(ProofPlanTest, HugeTreesNeedFewNodes) {
  for (uint64_t size : {kMaxTreeSize, kMaxTreeSize - 1, uint64_t{1} << 62,
                        (uint64_t{1} << 62) + 1}) {
    for (uint64_t index : {uint64_t{0}, size / 3, size - 1}) {
      absl::StatusOr<std::vector<ProofElement>> plan =
          InclusionProofPlan(index, size);
      ASSERT_TRUE(plan.ok());
      const std::vector<NodeId> ids = NodesOf(*plan);
      EXPECT_LE(ids.size(), 2u * CeilLog2(size) + 1);
      for (const NodeId& id : ids) EXPECT_LE(id.end(), size);
      EXPECT_EQ(plan->size(),
                static_cast<size_t>(std::bit_width(index ^ (size - 1))) +
                    std::popcount(index >> std::bit_width(index ^ (size - 1))));
    }
    for (uint64_t old_size : {uint64_t{1}, size / 3, size - 1}) {
      absl::StatusOr<std::vector<ProofElement>> plan =
          ConsistencyProofPlan(old_size, size);
      ASSERT_TRUE(plan.ok());
      const std::vector<NodeId> ids = NodesOf(*plan);
      EXPECT_LE(ids.size(), 2u * CeilLog2(size) + 1);
      for (const NodeId& id : ids) EXPECT_LE(id.end(), size);
    }
  }
}

TEST(ResolveProofTest, ReadErrorsPropagateUnchangedAndStopReading) {
  const std::vector<ProofElement> plan = InclusionProofPlan(0, 7).value();
  ASSERT_EQ(NodesOf(plan).size(), 4u);
  int reads = 0;
  const absl::Status error = absl::NotFoundError("node (1, 1) not stored");
  absl::StatusOr<std::vector<Hash>> proof =
      ResolveProof(plan, [&](NodeId id) -> absl::StatusOr<Hash> {
        ++reads;
        if (id == NodeId{1, 1}) return error;
        return HashLeaf(id.ToString());
      });
  EXPECT_EQ(proof.status(), error);
  EXPECT_EQ(reads, 2);
}

TEST(ResolveProofTest, AssembleFoldsEphemeralElements) {
  const std::vector<ProofElement> plan = InclusionProofPlan(0, 7).value();
  const Hash a = HashLeaf("a"), b = HashLeaf("b"), c = HashLeaf("c"),
             d = HashLeaf("d");
  absl::StatusOr<std::vector<Hash>> proof =
      AssembleProof(plan, std::vector<Hash>{a, b, c, d});
  ASSERT_TRUE(proof.ok()) << proof.status();
  EXPECT_THAT(*proof, ElementsAre(a, b, HashChildren(c, d)));
}

TEST(ResolveProofTest, AssembleRefusesMalformedInput) {
  const std::vector<ProofElement> plan = InclusionProofPlan(0, 7).value();
  const Hash a = HashLeaf("a");
  absl::StatusOr<std::vector<Hash>> proof =
      AssembleProof(plan, std::vector<Hash>(3, a));
  EXPECT_EQ(proof.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(proof.status().message(),
              HasSubstr("has 4 nodes, got 3 node hashes"));
  EXPECT_EQ(AssembleProof(plan, std::vector<Hash>(5, a)).status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::vector<ProofElement> empty_element = {ProofElement{}};
  EXPECT_EQ(AssembleProof(empty_element, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(AssembleProof({}, {}).value().empty());
}

TEST(VerifyTest, InclusionPreconditions) {
  const Hash leaf = HashLeaf("x");
  absl::Status status = VerifyInclusion(leaf, 5, 5, {}, leaf);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("leaf_index 5 and tree_size 5"));
  EXPECT_EQ(VerifyInclusion(leaf, 0, 0, {}, leaf).code(),
            absl::StatusCode::kInvalidArgument);
  // Size 1: the leaf is the root, the proof is empty.
  EXPECT_TRUE(VerifyInclusion(leaf, 0, 1, {}, leaf).ok());
  EXPECT_EQ(VerifyInclusion(leaf, 0, 1, {}, HashLeaf("y")).code(),
            absl::StatusCode::kDataLoss);
  status = VerifyInclusion(leaf, 0, 1, std::vector<Hash>{leaf}, leaf);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("expected 0 hashes, got 1"));
  // The largest sizes are handled without overflow: leaf 0 of 2^64 - 1
  // needs 64 hashes, the last leaf 63.
  const uint64_t max = ~uint64_t{0};
  status = VerifyInclusion(leaf, 0, max, {}, leaf);
  EXPECT_THAT(status.message(), HasSubstr("expected 64 hashes, got 0"));
  status = VerifyInclusion(leaf, max - 1, max, {}, leaf);
  EXPECT_THAT(status.message(), HasSubstr("expected 63 hashes, got 0"));
}

TEST(VerifyTest, MismatchNamesBothRoots) {
  const Hash leaf = HashLeaf("x");
  const Hash other = HashLeaf("y");
  const absl::Status status = VerifyInclusion(leaf, 0, 1, {}, other);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr(absl::StrCat(
                                    "root mismatch: computed ", HashToHex(leaf),
                                    ", expected ", HashToHex(other))));
}

TEST(VerifyTest, ConsistencyEdgeCases) {
  const Hash a = HashLeaf("a");
  const Hash b = HashLeaf("b");
  // Equal sizes: empty proof and equal roots.
  EXPECT_TRUE(VerifyConsistency(5, 5, a, a, {}).ok());
  EXPECT_EQ(VerifyConsistency(5, 5, a, b, {}).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(VerifyConsistency(5, 5, a, a, std::vector<Hash>{a}).code(),
            absl::StatusCode::kInvalidArgument);
  // From the empty tree: empty proof, any roots.
  EXPECT_TRUE(VerifyConsistency(0, 5, EmptyRoot(), b, {}).ok());
  EXPECT_TRUE(VerifyConsistency(0, 0, a, b, {}).ok());
  EXPECT_EQ(VerifyConsistency(0, 5, a, b, std::vector<Hash>{a}).code(),
            absl::StatusCode::kInvalidArgument);
  // Shrinking is never consistent.
  const absl::Status status = VerifyConsistency(6, 5, a, b, {});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("old_size 6 and new_size 5"));
  // Growing needs a proof.
  EXPECT_EQ(VerifyConsistency(4, 5, a, b, {}).code(),
            absl::StatusCode::kInvalidArgument);
  // Huge sizes are handled without overflow.
  const uint64_t max = ~uint64_t{0};
  EXPECT_EQ(VerifyConsistency(1, max, a, b, {}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(VerifyConsistency(max - 1, max, a, b, {}).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace premium::merkle
