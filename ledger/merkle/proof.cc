#include "ledger/merkle/proof.h"

#include <bit>
#include <cassert>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace premium::merkle {
namespace {

// The perfect nodes covering leaves [begin, end), left to right, when `begin`
// is a multiple of a power of two >= end - begin: the binary decomposition of
// end - begin, largest part first. That holds for every subtree of the RFC
// 6962 tree, and makes each part aligned to its own size.
ProofElement Decompose(uint64_t begin, uint64_t end) {
  assert(begin < end);
  ProofElement element;
  const uint64_t count = end - begin;
  element.nodes.reserve(std::popcount(count));
  for (int level = std::bit_width(count) - 1; level >= 0; --level) {
    const uint64_t width = uint64_t{1} << level;
    if ((count & width) == 0) continue;
    assert(begin % width == 0);
    element.nodes.push_back(NodeId{level, begin >> level});
    begin += width;
  }
  return element;
}

// Appends to `plan` the path from `node` up to the root of the tree of
// `tree_size`: at each level, the hash of the sibling subtree, if the tree has
// one. A sibling past the end of the tree does not exist (the RFC 6962 tree
// promotes a lone left child), and a sibling that straddles the end is the
// ephemeral subtree [sibling begin, tree_size).
void AppendPathToRoot(NodeId node, uint64_t tree_size,
                      std::vector<ProofElement>& plan) {
  assert(tree_size <= kMaxTreeSize);
  assert(node.end() <= tree_size);
  // With tree_size < 2^63, level stays <= 62 and no shift below overflows.
  for (int level = node.level; (uint64_t{1} << level) < tree_size; ++level) {
    const uint64_t width = uint64_t{1} << level;
    const uint64_t sibling_index = (node.index >> (level - node.level)) ^ 1;
    const uint64_t sibling_begin = sibling_index << level;
    if (sibling_begin >= tree_size) continue;
    if (tree_size - sibling_begin >= width) {
      plan.push_back(ProofElement{{NodeId{level, sibling_index}}});
    } else {
      plan.push_back(Decompose(sibling_begin, tree_size));
    }
  }
}

// HashChildren(h[0], HashChildren(h[1], ... h[n-1])): the hash of adjacent
// perfect subtrees that together form one RFC 6962 subtree.
Hash FoldRightToLeft(absl::Span<const Hash> hashes) {
  assert(!hashes.empty());
  Hash hash = hashes.back();
  for (size_t i = hashes.size() - 1; i > 0; --i) {
    hash = HashChildren(hashes[i - 1], hash);
  }
  return hash;
}

// The shape of an audit path for leaf_index < tree_size (verify.go's
// decompInclProof): `inner` hashes below the level where the leaf's path
// leaves the right edge of the tree, then `border` hashes of the left-hand
// subtrees along that edge.
struct PathShape {
  int inner;
  int border;
};

PathShape InclusionPathShape(uint64_t leaf_index, uint64_t tree_size) {
  assert(leaf_index < tree_size);
  const int inner = std::bit_width(leaf_index ^ (tree_size - 1));
  // Shifting a uint64_t by 64 is undefined; nothing is left at that point.
  const int border = inner >= 64 ? 0 : std::popcount(leaf_index >> inner);
  return PathShape{inner, border};
}

// Hashes `seed` with the inner part of a path: bit i of `index` says whether
// the seed side is the right (1) or the left (0) child at height i.
Hash ChainInner(Hash seed, absl::Span<const Hash> proof, uint64_t index) {
  for (size_t i = 0; i < proof.size(); ++i) {
    seed = ((index >> i) & 1) != 0 ? HashChildren(proof[i], seed)
                                   : HashChildren(seed, proof[i]);
  }
  return seed;
}

// As ChainInner, but only the left siblings: what the old tree saw of the
// path, since right siblings lie beyond its end.
Hash ChainInnerRight(Hash seed, absl::Span<const Hash> proof, uint64_t index) {
  for (size_t i = 0; i < proof.size(); ++i) {
    if (((index >> i) & 1) != 0) seed = HashChildren(proof[i], seed);
  }
  return seed;
}

// Along the right edge every sibling is on the left.
Hash ChainBorderRight(Hash seed, absl::Span<const Hash> proof) {
  for (const Hash& hash : proof) seed = HashChildren(hash, seed);
  return seed;
}

absl::Status CheckRoot(absl::string_view what, const Hash& computed,
                       const Hash& expected) {
  if (computed == expected) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat(what, " root mismatch: computed ",
                                          HashToHex(computed), ", expected ",
                                          HashToHex(expected)));
}

absl::Status CheckProofLength(absl::string_view what, size_t expected,
                              size_t actual) {
  if (expected == actual) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(what, " has the wrong length: expected ", expected,
                   " hashes, got ", actual));
}

}  // namespace

absl::StatusOr<std::vector<ProofElement>> InclusionProofPlan(
    uint64_t leaf_index, uint64_t tree_size) {
  if (leaf_index >= tree_size || tree_size > kMaxTreeSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "inclusion proof needs leaf_index < tree_size <= ", kMaxTreeSize,
        ", got leaf_index ", leaf_index, " and tree_size ", tree_size));
  }
  std::vector<ProofElement> plan;
  AppendPathToRoot(NodeId{0, leaf_index}, tree_size, plan);
  return plan;
}

absl::StatusOr<std::vector<ProofElement>> ConsistencyProofPlan(
    uint64_t old_size, uint64_t new_size) {
  if (old_size > new_size || new_size > kMaxTreeSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "consistency proof needs old_size <= new_size <= ", kMaxTreeSize,
        ", got old_size ", old_size, " and new_size ", new_size));
  }
  std::vector<ProofElement> plan;
  if (old_size == 0 || old_size == new_size) return plan;
  // The old tree ends with its smallest perfect subtree, `last`. The proof is
  // the path from `last` to the new root: it proves `last` in the new tree,
  // and its left siblings are exactly the rest of the old tree. The verifier
  // needs `last` itself as the seed, unless it is the whole old tree (old_size
  // a power of two), whose hash the verifier already has as the old root.
  const int level = std::countr_zero(old_size);
  const NodeId last{level, (old_size - 1) >> level};
  if (last.index != 0) plan.push_back(ProofElement{{last}});
  AppendPathToRoot(last, new_size, plan);
  return plan;
}

std::vector<NodeId> NodesOf(absl::Span<const ProofElement> plan) {
  std::vector<NodeId> ids;
  for (const ProofElement& element : plan) {
    ids.insert(ids.end(), element.nodes.begin(), element.nodes.end());
  }
  return ids;
}

absl::StatusOr<std::vector<Hash>> AssembleProof(
    absl::Span<const ProofElement> plan, absl::Span<const Hash> node_hashes) {
  size_t node_count = 0;
  for (const ProofElement& element : plan) {
    if (element.nodes.empty()) {
      return absl::InvalidArgumentError(
          "proof plan has an element with no nodes");
    }
    node_count += element.nodes.size();
  }
  if (node_hashes.size() != node_count) {
    return absl::InvalidArgumentError(
        absl::StrCat("proof plan has ", node_count, " nodes, got ",
                     node_hashes.size(), " node hashes"));
  }
  std::vector<Hash> proof;
  proof.reserve(plan.size());
  size_t next = 0;
  for (const ProofElement& element : plan) {
    proof.push_back(
        FoldRightToLeft(node_hashes.subspan(next, element.nodes.size())));
    next += element.nodes.size();
  }
  return proof;
}

absl::StatusOr<std::vector<Hash>> ResolveProof(
    absl::Span<const ProofElement> plan,
    absl::FunctionRef<absl::StatusOr<Hash>(NodeId)> read_node) {
  const std::vector<NodeId> ids = NodesOf(plan);
  std::vector<Hash> node_hashes;
  node_hashes.reserve(ids.size());
  for (const NodeId& id : ids) {
    absl::StatusOr<Hash> hash = read_node(id);
    if (!hash.ok()) return std::move(hash).status();
    node_hashes.push_back(*hash);
  }
  return AssembleProof(plan, node_hashes);
}

absl::StatusOr<Hash> RootFromInclusionProof(const Hash& leaf_hash,
                                            uint64_t leaf_index,
                                            uint64_t tree_size,
                                            absl::Span<const Hash> proof) {
  if (leaf_index >= tree_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "inclusion proof needs leaf_index < tree_size, got leaf_index ",
        leaf_index, " and tree_size ", tree_size));
  }
  const PathShape shape = InclusionPathShape(leaf_index, tree_size);
  if (absl::Status status = CheckProofLength(
          "inclusion proof", shape.inner + shape.border, proof.size());
      !status.ok()) {
    return status;
  }
  const Hash inner =
      ChainInner(leaf_hash, proof.first(shape.inner), leaf_index);
  return ChainBorderRight(inner, proof.subspan(shape.inner));
}

absl::Status VerifyInclusion(const Hash& leaf_hash, uint64_t leaf_index,
                             uint64_t tree_size, absl::Span<const Hash> proof,
                             const Hash& root) {
  absl::StatusOr<Hash> computed =
      RootFromInclusionProof(leaf_hash, leaf_index, tree_size, proof);
  if (!computed.ok()) return std::move(computed).status();
  return CheckRoot("inclusion proof:", *computed, root);
}

absl::Status VerifyConsistency(uint64_t old_size, uint64_t new_size,
                               const Hash& old_root, const Hash& new_root,
                               absl::Span<const Hash> proof) {
  if (old_size > new_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "consistency proof needs old_size <= new_size, got old_size ", old_size,
        " and new_size ", new_size));
  }
  if (old_size == new_size || old_size == 0) {
    if (absl::Status status =
            CheckProofLength(old_size == 0 ? "consistency proof from size 0"
                                           : "consistency proof between "
                                             "equal sizes",
                             0, proof.size());
        !status.ok()) {
      return status;
    }
    if (old_size == 0) return absl::OkStatus();
    return CheckRoot("consistency proof between equal sizes:", new_root,
                     old_root);
  }

  // The proof is the path of the old tree's last perfect subtree, of
  // 2^shift leaves, to the new root (see ConsistencyProofPlan), preceded by
  // that subtree's hash unless it is the whole old tree.
  PathShape shape = InclusionPathShape(old_size - 1, new_size);
  const int shift = std::countr_zero(old_size);
  assert(shift < shape.inner);  // Since old_size < new_size.
  shape.inner -= shift;
  const bool seed_is_old_root = old_size == uint64_t{1} << shift;
  const size_t seed_count = seed_is_old_root ? 0 : 1;
  if (absl::Status status = CheckProofLength(
          "consistency proof", seed_count + shape.inner + shape.border,
          proof.size());
      !status.ok()) {
    return status;
  }
  const Hash& seed = seed_is_old_root ? old_root : proof.front();
  const absl::Span<const Hash> path = proof.subspan(seed_count);
  const absl::Span<const Hash> inner = path.first(shape.inner);
  const absl::Span<const Hash> border = path.subspan(shape.inner);
  const uint64_t mask = (old_size - 1) >> shift;

  const Hash computed_old =
      ChainBorderRight(ChainInnerRight(seed, inner, mask), border);
  if (absl::Status status =
          CheckRoot("consistency proof: old", computed_old, old_root);
      !status.ok()) {
    return status;
  }
  const Hash computed_new =
      ChainBorderRight(ChainInner(seed, inner, mask), border);
  return CheckRoot("consistency proof: new", computed_new, new_root);
}

}  // namespace premium::merkle
