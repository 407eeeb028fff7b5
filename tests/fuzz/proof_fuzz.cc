// Fuzz target of ledger/merkle/proof.h: VerifyInclusion, VerifyConsistency,
// RootFromInclusionProof and the proof plans, differentially.
//
// Two references written here from the RFCs alone:
//   - the RFC 6962 definitions (section 2.1): MTH over a tree of
//     deterministic leaves, and the PATH and SUBPROOF recursions, which give
//     the true proofs and, for any size, which subtree each proof hash is;
//   - the RFC 9162 verification algorithms (sections 2.1.3.2 and 2.1.4.2),
//     bit by bit as the RFC states them.
// Oracles, on every input:
//   - the library accepts exactly what the RFC 9162 algorithm accepts, and
//     computes the same root;
//   - InvalidArgument exactly when the sizes are out of order or the proof
//     has another length than the RFC 6962 recursion gives; otherwise the
//     only refusal is DataLoss;
//   - the plans name exactly the subtrees of the recursion, each as
//     perfect nodes tiling it (several only at the right edge);
// and, in the tree of real leaves (sizes up to kRealLeaves):
//   - the true proof verifies, and the plan assembled from the tree's node
//     hashes is the true proof;
//   - against the true root of the claimed size, a proof is accepted only if
//     it is exactly the true proof for the true leaf: every mutation of a
//     true proof (the fuzzer's or the table's) is refused.
// Sizes are arbitrary 64-bit values too (0, huge, index >= size): there the
// fuzzer can also ask for the root the RFC algorithm computes from its
// proof, so that the accepting path runs at every size.
#include <fuzzer/FuzzedDataProvider.h>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "ledger/merkle/compact_range.h"
#include "ledger/merkle/hasher.h"
#include "ledger/merkle/proof.h"
#include "tests/fuzz/fuzz_check.h"

namespace premium::merkle {
namespace {

// Leaves of the real tree; a little over a power of two so that sizes on
// both sides of 1024 occur.
constexpr uint64_t kRealLeaves = 1100;
// Proofs the fuzzer writes itself are at most this long (a valid one for a
// 64-bit size has at most 64 hashes; a few more exercise the length check).
constexpr size_t kProofHashesMax = 70;

struct Range {
  uint64_t begin;
  uint64_t end;
};

// The largest power of two smaller than n (n >= 2).
uint64_t SplitPoint(uint64_t n) { return std::bit_floor(n - 1); }

// ---------------------------------------------------------------------------
// RFC 6962 section 2.1, over ranges: which subtree each proof hash is.

// PATH(m, D[begin:end]) with m relative to begin, deepest first.
void PathRanges(uint64_t m, uint64_t begin, uint64_t end,
                std::vector<Range>& out) {
  if (end - begin == 1) return;
  const uint64_t k = SplitPoint(end - begin);
  if (m < k) {
    PathRanges(m, begin, begin + k, out);
    out.push_back(Range{begin + k, end});
  } else {
    PathRanges(m - k, begin + k, end, out);
    out.push_back(Range{begin, begin + k});
  }
}

// SUBPROOF(m, D[begin:end], b) with m relative to begin.
void SubproofRanges(uint64_t m, uint64_t begin, uint64_t end, bool whole,
                    std::vector<Range>& out) {
  const uint64_t n = end - begin;
  if (m == n) {
    if (!whole) out.push_back(Range{begin, end});
    return;
  }
  const uint64_t k = SplitPoint(n);
  if (m <= k) {
    SubproofRanges(m, begin, begin + k, whole, out);
    out.push_back(Range{begin + k, end});
  } else {
    SubproofRanges(m - k, begin + k, end, false, out);
    out.push_back(Range{begin, begin + k});
  }
}

std::vector<Range> InclusionRanges(uint64_t leaf_index, uint64_t tree_size) {
  std::vector<Range> ranges;
  PathRanges(leaf_index, 0, tree_size, ranges);
  return ranges;
}

std::vector<Range> ConsistencyRanges(uint64_t old_size, uint64_t new_size) {
  std::vector<Range> ranges;
  if (old_size == 0 || old_size == new_size) return ranges;
  SubproofRanges(old_size, 0, new_size, true, ranges);
  return ranges;
}

// ---------------------------------------------------------------------------
// The real tree: MTH over deterministic leaves, memoised.

class RealTree {
 public:
  RealTree() {
    for (uint64_t i = 0; i < kRealLeaves; ++i) {
      leaves_.push_back(HashLeaf(absl::StrCat("fuzz leaf ", i)));
    }
    // The reference agrees with the library's own tree building.
    CompactRange range;
    for (uint64_t size = 1; size <= kRealLeaves; ++size) {
      range.Append(leaves_[size - 1], [](NodeId, const Hash&) {});
      FUZZ_CHECK(range.Root() == Mth(Range{0, size}),
                 "CompactRange root differs from MTH at size ", size);
    }
    FUZZ_CHECK(Mth(Range{0, 0}) == EmptyRoot(), "empty root");
  }

  const Hash& Leaf(uint64_t index) const { return leaves_[index]; }

  Hash Mth(Range range) {
    if (range.begin == range.end) return EmptyRoot();
    if (range.end - range.begin == 1) return leaves_[range.begin];
    const uint64_t key = range.begin * (kRealLeaves + 1) + range.end;
    if (auto it = memo_.find(key); it != memo_.end()) return it->second;
    const uint64_t k = range.begin + SplitPoint(range.end - range.begin);
    const Hash hash =
        HashChildren(Mth(Range{range.begin, k}), Mth(Range{k, range.end}));
    memo_.emplace(key, hash);
    return hash;
  }

  std::vector<Hash> Hashes(const std::vector<Range>& ranges) {
    std::vector<Hash> hashes;
    for (const Range& range : ranges) hashes.push_back(Mth(range));
    return hashes;
  }

 private:
  std::vector<Hash> leaves_;
  std::unordered_map<uint64_t, Hash> memo_;
};

RealTree& Tree() {
  static RealTree* const tree = new RealTree();
  return *tree;
}

// ---------------------------------------------------------------------------
// RFC 9162 verification, step by step as sections 2.1.3.2 and 2.1.4.2 say.

struct RfcResult {
  bool ok = false;
  // The root the path leads to, when the algorithm got that far.
  std::optional<Hash> root;
  std::optional<Hash> old_root;
};

RfcResult RfcInclusion(const Hash& leaf_hash, uint64_t leaf_index,
                       uint64_t tree_size, absl::Span<const Hash> path,
                       const Hash& root) {
  if (leaf_index >= tree_size) return {};
  uint64_t fn = leaf_index;
  uint64_t sn = tree_size - 1;
  Hash r = leaf_hash;
  for (const Hash& p : path) {
    if (sn == 0) return {};
    if ((fn & 1) != 0 || fn == sn) {
      r = HashChildren(p, r);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = HashChildren(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return {};
  return RfcResult{.ok = r == root, .root = r};
}

RfcResult RfcConsistency(uint64_t first, uint64_t second,
                         const Hash& first_hash, const Hash& second_hash,
                         absl::Span<const Hash> proof) {
  // Outside the RFC's 0 < first < second: the header's rules.
  if (first > second) return {};
  if (first == 0) return RfcResult{.ok = proof.empty()};
  if (first == second) {
    return RfcResult{.ok = proof.empty() && first_hash == second_hash};
  }
  if (proof.empty()) return {};
  std::vector<Hash> path(proof.begin(), proof.end());
  if (std::has_single_bit(first)) path.insert(path.begin(), first_hash);
  uint64_t fn = first - 1;
  uint64_t sn = second - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = path[0];
  Hash sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    const Hash& c = path[i];
    if (sn == 0) return {};
    if ((fn & 1) != 0 || fn == sn) {
      fr = HashChildren(c, fr);
      sr = HashChildren(c, sr);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = HashChildren(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return {};
  return RfcResult{
      .ok = fr == first_hash && sr == second_hash, .root = sr, .old_root = fr};
}

// ---------------------------------------------------------------------------
// Checks.

std::string Hex(const Hash& hash) { return HashToHex(hash).substr(0, 12); }

// A plan must name the subtrees of `ranges`, each tiled by perfect nodes
// left to right; an element of several nodes only at the right edge.
void CheckPlan(const absl::StatusOr<std::vector<ProofElement>>& plan,
               const std::vector<Range>& ranges, uint64_t tree_size,
               const std::string& what) {
  FUZZ_CHECK(plan.ok(), what, ": ", plan.status().ToString());
  FUZZ_CHECK(plan->size() == ranges.size(), what, ": ", plan->size(),
             " elements, expected ", ranges.size());
  size_t ephemeral = 0;
  for (size_t e = 0; e < ranges.size(); ++e) {
    const std::vector<NodeId>& nodes = (*plan)[e].nodes;
    FUZZ_CHECK(!nodes.empty(), what, ": element ", e, " has no nodes");
    uint64_t next = ranges[e].begin;
    for (const NodeId& node : nodes) {
      FUZZ_CHECK(node.level >= 0 && node.level <= 62, what, ": level ",
                 node.level);
      FUZZ_CHECK(node.begin() == next && node.end() <= ranges[e].end, what,
                 ": element ", e, " node ", node.ToString(), " does not tile [",
                 ranges[e].begin, ", ", ranges[e].end, ")");
      next = node.end();
    }
    FUZZ_CHECK(next == ranges[e].end, what, ": element ", e, " ends at ", next,
               ", expected ", ranges[e].end);
    if (nodes.size() > 1) {
      ++ephemeral;
      FUZZ_CHECK(ranges[e].end == tree_size, what, ": element ", e,
                 " is not perfect but not at the right edge");
    }
  }
  FUZZ_CHECK(ephemeral <= 1, what, ": ", ephemeral, " ephemeral elements");
}

// Assembles `plan` from the real tree's node hashes.
std::vector<Hash> Assemble(const std::vector<ProofElement>& plan) {
  std::vector<Hash> node_hashes;
  for (const NodeId& node : NodesOf(plan)) {
    node_hashes.push_back(Tree().Mth(Range{node.begin(), node.end()}));
  }
  absl::StatusOr<std::vector<Hash>> proof = AssembleProof(plan, node_hashes);
  FUZZ_CHECK(proof.ok(), proof.status().ToString());
  return *std::move(proof);
}

// One hash the fuzzer picks: a subtree of the real tree that a proof could
// hold, a leaf, the empty root, or raw bytes.
Hash ConsumeHash(FuzzedDataProvider& data, uint64_t tree_size) {
  switch (data.ConsumeIntegralInRange<int>(0, 3)) {
    case 0: {
      const int level = data.ConsumeIntegralInRange<int>(0, 11);
      const uint64_t width = uint64_t{1} << level;
      const uint64_t limit =
          std::max<uint64_t>(1, std::min(tree_size, kRealLeaves));
      const uint64_t begin =
          data.ConsumeIntegralInRange<uint64_t>(0, (limit - 1) >> level)
          << level;
      return Tree().Mth(Range{begin, std::min(begin + width, limit)});
    }
    case 1:
      return Tree().Leaf(
          data.ConsumeIntegralInRange<uint64_t>(0, kRealLeaves - 1));
    case 2:
      return EmptyRoot();
    default: {
      Hash hash{};
      const std::string bytes = data.ConsumeBytesAsString(kHashBytes);
      std::memcpy(hash.data(), bytes.data(), bytes.size());
      return hash;
    }
  }
}

std::vector<Hash> ConsumeProof(FuzzedDataProvider& data, uint64_t tree_size) {
  std::vector<Hash> proof(
      data.ConsumeIntegralInRange<size_t>(0, kProofHashesMax));
  for (Hash& hash : proof) hash = ConsumeHash(data, tree_size);
  return proof;
}

// One mutation of `proof`, as the fuzzer chooses: flip a bit, drop, repeat,
// swap, replace or add a hash. The result may equal the input (swapping
// equal hashes); the oracles compare proofs, not mutation kinds.
void Mutate(FuzzedDataProvider& data, uint64_t tree_size,
            std::vector<Hash>& proof) {
  const size_t at =
      proof.empty() ? 0
                    : data.ConsumeIntegralInRange<size_t>(0, proof.size() - 1);
  switch (data.ConsumeIntegralInRange<int>(0, 5)) {
    case 0:
      if (!proof.empty()) {
        const size_t bit = data.ConsumeIntegralInRange<size_t>(0, 255);
        proof[at][bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      }
      break;
    case 1:
      if (!proof.empty()) proof.erase(proof.begin() + at);
      break;
    case 2:
      if (!proof.empty()) proof.insert(proof.begin() + at, proof[at]);
      break;
    case 3:
      if (proof.size() >= 2) {
        std::swap(proof[at], proof[(at + 1) % proof.size()]);
      }
      break;
    case 4:
      if (!proof.empty()) proof[at] = ConsumeHash(data, tree_size);
      break;
    default:
      proof.insert(proof.begin() + (proof.empty() ? 0 : at),
                   ConsumeHash(data, tree_size));
      break;
  }
}

// Sizes: mostly small, with the boundaries of the 64-bit range close by.
uint64_t ConsumeSize(FuzzedDataProvider& data) {
  switch (data.ConsumeIntegralInRange<int>(0, 3)) {
    case 0:
      return data.ConsumeIntegralInRange<uint64_t>(0, 70);
    case 1:
      return kMaxTreeSize - data.ConsumeIntegralInRange<uint64_t>(0, 3) +
             data.ConsumeIntegralInRange<uint64_t>(0, 3);
    case 2:
      return UINT64_MAX - data.ConsumeIntegralInRange<uint64_t>(0, 5);
    default:
      return data.ConsumeIntegral<uint64_t>();
  }
}

// The library against RFC 9162 and the length rule, for any input.
void CheckInclusionAgainstRfc(const Hash& leaf, uint64_t leaf_index,
                              uint64_t tree_size,
                              const std::vector<Hash>& proof, const Hash& root,
                              const std::string& what) {
  const absl::Status status =
      VerifyInclusion(leaf, leaf_index, tree_size, proof, root);
  const RfcResult rfc = RfcInclusion(leaf, leaf_index, tree_size, proof, root);
  FUZZ_CHECK(status.ok() == rfc.ok, what, ": library says ", status.ToString(),
             ", RFC 9162 says ", rfc.ok);
  const bool well_formed =
      leaf_index < tree_size &&
      proof.size() == InclusionRanges(leaf_index, tree_size).size();
  if (!status.ok()) {
    const absl::StatusCode expected = well_formed
                                          ? absl::StatusCode::kDataLoss
                                          : absl::StatusCode::kInvalidArgument;
    FUZZ_CHECK(status.code() == expected, what, ": ", status.ToString(),
               ", expected ", absl::StatusCodeToString(expected));
  }
  const absl::StatusOr<Hash> computed =
      RootFromInclusionProof(leaf, leaf_index, tree_size, proof);
  FUZZ_CHECK(computed.ok() == well_formed, what, ": RootFromInclusionProof ",
             computed.status().ToString());
  if (computed.ok()) {
    FUZZ_CHECK(rfc.root.has_value() && *computed == *rfc.root, what,
               ": RootFromInclusionProof ", Hex(*computed),
               " differs from RFC 9162's");
  }
}

void CheckConsistencyAgainstRfc(uint64_t old_size, uint64_t new_size,
                                const Hash& old_root, const Hash& new_root,
                                const std::vector<Hash>& proof,
                                const std::string& what) {
  const absl::Status status =
      VerifyConsistency(old_size, new_size, old_root, new_root, proof);
  const RfcResult rfc =
      RfcConsistency(old_size, new_size, old_root, new_root, proof);
  FUZZ_CHECK(status.ok() == rfc.ok, what, ": library says ", status.ToString(),
             ", RFC 9162 says ", rfc.ok);
  const bool well_formed =
      old_size <= new_size &&
      proof.size() == ConsistencyRanges(old_size, new_size).size();
  if (!status.ok()) {
    const absl::StatusCode expected = well_formed
                                          ? absl::StatusCode::kDataLoss
                                          : absl::StatusCode::kInvalidArgument;
    FUZZ_CHECK(status.code() == expected, what, ": ", status.ToString(),
               ", expected ", absl::StatusCodeToString(expected));
  }
}

void FuzzInclusionReal(FuzzedDataProvider& data) {
  const uint64_t tree_size =
      data.ConsumeIntegralInRange<uint64_t>(0, kRealLeaves);
  const uint64_t leaf_index =
      data.ConsumeIntegralInRange<uint64_t>(0, tree_size + 1);
  const std::string what =
      absl::StrCat("inclusion of ", leaf_index, " in ", tree_size);
  const Hash true_root = Tree().Mth(Range{0, tree_size});
  std::vector<Hash> true_proof;
  if (leaf_index < tree_size) {
    const std::vector<Range> ranges = InclusionRanges(leaf_index, tree_size);
    true_proof = Tree().Hashes(ranges);
    const absl::StatusOr<std::vector<ProofElement>> plan =
        InclusionProofPlan(leaf_index, tree_size);
    CheckPlan(plan, ranges, tree_size, what);
    FUZZ_CHECK(Assemble(*plan) == true_proof, what,
               ": assembled plan is not the true proof");
    const absl::Status status = VerifyInclusion(
        Tree().Leaf(leaf_index), leaf_index, tree_size, true_proof, true_root);
    FUZZ_CHECK(status.ok(), what, ": true proof refused: ", status.ToString());
  } else {
    FUZZ_CHECK(!InclusionProofPlan(leaf_index, tree_size).ok(), what,
               ": plan for a leaf outside the tree");
  }

  // The candidate: the true proof mutated, or one the fuzzer wrote.
  std::vector<Hash> proof;
  if (data.ConsumeBool()) {
    proof = true_proof;
    const int mutations = data.ConsumeIntegralInRange<int>(0, 3);
    for (int i = 0; i < mutations; ++i) Mutate(data, tree_size, proof);
  } else {
    proof = ConsumeProof(data, tree_size);
  }
  const uint64_t leaf_of =
      data.ConsumeIntegralInRange<uint64_t>(0, kRealLeaves - 1);
  const Hash leaf = data.ConsumeBool() && leaf_index < tree_size
                        ? Tree().Leaf(leaf_index)
                        : (data.ConsumeBool() ? Tree().Leaf(leaf_of)
                                              : ConsumeHash(data, tree_size));
  const bool against_true_root = data.ConsumeBool();
  const Hash root =
      against_true_root ? true_root : ConsumeHash(data, kRealLeaves);
  CheckInclusionAgainstRfc(leaf, leaf_index, tree_size, proof, root, what);
  if (VerifyInclusion(leaf, leaf_index, tree_size, proof, root).ok() &&
      root == true_root) {
    // Accepted against the real root of the claimed size: only the true
    // leaf with exactly the true proof can be (short of a SHA-256
    // collision).
    FUZZ_CHECK(leaf_index < tree_size && leaf == Tree().Leaf(leaf_index) &&
                   proof == true_proof,
               what, ": accepted a proof that is not the true one (",
               proof.size(), " hashes, true proof has ", true_proof.size(),
               ")");
  }
}

void FuzzConsistencyReal(FuzzedDataProvider& data) {
  const uint64_t new_size =
      data.ConsumeIntegralInRange<uint64_t>(0, kRealLeaves);
  const uint64_t old_size =
      data.ConsumeIntegralInRange<uint64_t>(0, new_size + 1);
  const std::string what =
      absl::StrCat("consistency of ", old_size, " with ", new_size);
  const Hash true_old_root = Tree().Mth(Range{0, std::min(old_size, new_size)});
  const Hash true_new_root = Tree().Mth(Range{0, new_size});
  std::vector<Hash> true_proof;
  if (old_size <= new_size) {
    const std::vector<Range> ranges = ConsistencyRanges(old_size, new_size);
    true_proof = Tree().Hashes(ranges);
    const absl::StatusOr<std::vector<ProofElement>> plan =
        ConsistencyProofPlan(old_size, new_size);
    CheckPlan(plan, ranges, new_size, what);
    FUZZ_CHECK(Assemble(*plan) == true_proof, what,
               ": assembled plan is not the true proof");
    const absl::Status status = VerifyConsistency(
        old_size, new_size, true_old_root, true_new_root, true_proof);
    FUZZ_CHECK(status.ok(), what, ": true proof refused: ", status.ToString());
  } else {
    FUZZ_CHECK(!ConsistencyProofPlan(old_size, new_size).ok(), what,
               ": plan for sizes out of order");
  }

  std::vector<Hash> proof;
  if (data.ConsumeBool()) {
    proof = true_proof;
    const int mutations = data.ConsumeIntegralInRange<int>(0, 3);
    for (int i = 0; i < mutations; ++i) Mutate(data, new_size, proof);
  } else {
    proof = ConsumeProof(data, new_size);
  }
  const Hash old_root =
      data.ConsumeBool() ? true_old_root : ConsumeHash(data, old_size);
  const Hash new_root =
      data.ConsumeBool() ? true_new_root : ConsumeHash(data, new_size);
  CheckConsistencyAgainstRfc(old_size, new_size, old_root, new_root, proof,
                             what);
  if (VerifyConsistency(old_size, new_size, old_root, new_root, proof).ok() &&
      old_size <= new_size && old_root == true_old_root &&
      new_root == true_new_root) {
    FUZZ_CHECK(proof == true_proof, what,
               ": accepted a proof that is not the true one (", proof.size(),
               " hashes, true proof has ", true_proof.size(), ")");
  }
}

// Any 64-bit sizes: no real tree, so the RFC differential, the length rule
// and the plans' shape; and, on request, the root the RFC algorithm derives
// from the fuzzer's proof, which the library must then accept.
void FuzzInclusionAnySize(FuzzedDataProvider& data) {
  const uint64_t tree_size = ConsumeSize(data);
  uint64_t leaf_index = 0;
  switch (data.ConsumeIntegralInRange<int>(0, 2)) {
    case 0:
      leaf_index = tree_size - data.ConsumeIntegralInRange<uint64_t>(0, 3);
      break;
    case 1:
      leaf_index = data.ConsumeIntegralInRange<uint64_t>(0, 70);
      break;
    default:
      leaf_index = data.ConsumeIntegral<uint64_t>();
      break;
  }
  const std::string what =
      absl::StrCat("inclusion of ", leaf_index, " in ", tree_size);
  const absl::StatusOr<std::vector<ProofElement>> plan =
      InclusionProofPlan(leaf_index, tree_size);
  if (leaf_index < tree_size && tree_size <= kMaxTreeSize) {
    CheckPlan(plan, InclusionRanges(leaf_index, tree_size), tree_size, what);
  } else {
    FUZZ_CHECK(plan.status().code() == absl::StatusCode::kInvalidArgument, what,
               ": plan ", plan.status().ToString());
  }
  const std::vector<Hash> proof = ConsumeProof(data, kRealLeaves);
  const Hash leaf = ConsumeHash(data, kRealLeaves);
  Hash root = ConsumeHash(data, kRealLeaves);
  if (data.ConsumeBool()) {
    const RfcResult rfc =
        RfcInclusion(leaf, leaf_index, tree_size, proof, root);
    if (rfc.root.has_value()) root = *rfc.root;
  }
  CheckInclusionAgainstRfc(leaf, leaf_index, tree_size, proof, root, what);
}

void FuzzConsistencyAnySize(FuzzedDataProvider& data) {
  const uint64_t new_size = ConsumeSize(data);
  uint64_t old_size = 0;
  switch (data.ConsumeIntegralInRange<int>(0, 2)) {
    case 0:
      old_size = new_size - data.ConsumeIntegralInRange<uint64_t>(0, 3);
      break;
    case 1:
      old_size = data.ConsumeIntegralInRange<uint64_t>(0, 70);
      break;
    default:
      old_size = data.ConsumeIntegral<uint64_t>();
      break;
  }
  const std::string what =
      absl::StrCat("consistency of ", old_size, " with ", new_size);
  const absl::StatusOr<std::vector<ProofElement>> plan =
      ConsistencyProofPlan(old_size, new_size);
  if (old_size <= new_size && new_size <= kMaxTreeSize) {
    CheckPlan(plan, ConsistencyRanges(old_size, new_size), new_size, what);
  } else {
    FUZZ_CHECK(plan.status().code() == absl::StatusCode::kInvalidArgument, what,
               ": plan ", plan.status().ToString());
  }
  const std::vector<Hash> proof = ConsumeProof(data, kRealLeaves);
  Hash old_root = ConsumeHash(data, kRealLeaves);
  Hash new_root = ConsumeHash(data, kRealLeaves);
  if (data.ConsumeBool()) {
    const RfcResult rfc =
        RfcConsistency(old_size, new_size, old_root, new_root, proof);
    if (rfc.root.has_value()) {
      new_root = *rfc.root;
      old_root = *rfc.old_root;
    }
  }
  CheckConsistencyAgainstRfc(old_size, new_size, old_root, new_root, proof,
                             what);
}

}  // namespace
}  // namespace premium::merkle

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  FuzzedDataProvider data(bytes, size);
  switch (data.ConsumeIntegralInRange<int>(0, 3)) {
    case 0:
      premium::merkle::FuzzInclusionReal(data);
      break;
    case 1:
      premium::merkle::FuzzConsistencyReal(data);
      break;
    case 2:
      premium::merkle::FuzzInclusionAnySize(data);
      break;
    default:
      premium::merkle::FuzzConsistencyAnySize(data);
      break;
  }
  return 0;
}
