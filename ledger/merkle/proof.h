// Inclusion and consistency proofs for the RFC 6962 / RFC 9162 Merkle tree
// (RFC 9162 sections 2.1.3 and 2.1.4; after transparency-dev/merkle
// proof/proof.go and proof/verify.go).
//
// Building a proof is split in three so that the math stays free of storage:
//
//   1. a *plan* (InclusionProofPlan, ConsistencyProofPlan) says which stored
//      nodes the proof needs, from the sizes alone;
//   2. the caller reads those nodes, one by one (ResolveProof) or in one
//      batch (NodesOf, then AssembleProof);
//   3. the node hashes are folded into the proof hashes.
//
// Every proof hash is the root of a subtree D[a:b] of the tree of size N.
// Either it is a perfect subtree, i.e. one stored node, or it lies at the
// right edge of the tree, b = N, and is not perfect: an "ephemeral" subtree,
// whose hash is the fold (right to left) of the perfect nodes of its binary
// decomposition, exactly as CompactRange::Root folds the border of a tree. A
// proof has at most one ephemeral element, so a proof needs O(log N) node
// reads: at most 2 * ceil(log2(N)) + 1. Every node a plan names is complete
// in the tree of size N (its end() <= N), so it exists in storage once the
// tree has N leaves.
//
// Verification is pure and checks its preconditions before hashing:
//   - InvalidArgument: the request or the proof is malformed: an index or
//     sizes out of order, or a proof of the wrong length (the message names
//     the expected and the actual length). Nothing was hashed; the proof is
//     garbage, not evidence.
//   - DataLoss: a well-formed proof that does not lead to the given root
//     ("root mismatch: computed X, expected Y"). If the root comes from a
//     signed checkpoint, the log or whoever served the proof is lying or its
//     data is corrupt; callers should alert, not retry.
//
// The root hash does not commit to the tree size: a proof for one size can
// verify against the same root with another size whose tree has the same
// shape along the proof's path. Always take the size and the root together
// from one signed checkpoint.
//
// All functions are pure and thread-safe (the callbacks are called on the
// calling thread).
#ifndef LEDGER_MERKLE_PROOF_H_
#define LEDGER_MERKLE_PROOF_H_

#include <cstdint>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "ledger/merkle/compact_range.h"
#include "ledger/merkle/hasher.h"

namespace premium::merkle {

// One hash of a proof, as the stored nodes it is made of: a single node for a
// perfect subtree; several, left to right, for an ephemeral subtree at the
// right edge of the tree, whose hash is their fold from right to left.
struct ProofElement {
  std::vector<NodeId> nodes;

  friend bool operator==(const ProofElement&, const ProofElement&) = default;
};

// The plan of the RFC 6962 audit path for leaf `leaf_index` in the tree of
// `tree_size`, from the leaf's sibling up to the child of the root. Empty for
// a tree of size 1. InvalidArgument, naming both numbers, unless
// leaf_index < tree_size <= kMaxTreeSize.
absl::StatusOr<std::vector<ProofElement>> InclusionProofPlan(
    uint64_t leaf_index, uint64_t tree_size);

// The plan of the RFC 6962 consistency proof that the tree of `old_size` is a
// prefix of the tree of `new_size`. Empty when old_size == 0 (the empty tree
// is a prefix of every tree) or old_size == new_size (nothing to prove).
// InvalidArgument, naming both sizes, unless
// old_size <= new_size <= kMaxTreeSize.
absl::StatusOr<std::vector<ProofElement>> ConsistencyProofPlan(
    uint64_t old_size, uint64_t new_size);

// All node ids of `plan`, in order (element by element, left to right within
// an element), for a batched read.
std::vector<NodeId> NodesOf(absl::Span<const ProofElement> plan);

// The proof hashes of `plan` from the hashes of its nodes, given in NodesOf
// order. InvalidArgument if node_hashes has the wrong count or an element of
// the plan has no nodes.
absl::StatusOr<std::vector<Hash>> AssembleProof(
    absl::Span<const ProofElement> plan, absl::Span<const Hash> node_hashes);

// Reads every node of `plan` through `read_node`, in NodesOf order, each
// exactly once, and assembles the proof. The first read error is returned
// unchanged and no further node is read.
absl::StatusOr<std::vector<Hash>> ResolveProof(
    absl::Span<const ProofElement> plan,
    absl::FunctionRef<absl::StatusOr<Hash>(NodeId)> read_node);

// The root that `proof`, an audit path for `leaf_hash` at `leaf_index`,
// leads to in a tree of `tree_size`. InvalidArgument unless
// leaf_index < tree_size and proof has the expected length. Any uint64_t
// sizes are accepted: this is the verifier's side and needs no storage.
absl::StatusOr<Hash> RootFromInclusionProof(const Hash& leaf_hash,
                                            uint64_t leaf_index,
                                            uint64_t tree_size,
                                            absl::Span<const Hash> proof);

// OK if `proof` shows that `leaf_hash` is leaf `leaf_index` of the tree of
// `tree_size` whose root is `root`. InvalidArgument as RootFromInclusionProof;
// DataLoss on a root mismatch.
absl::Status VerifyInclusion(const Hash& leaf_hash, uint64_t leaf_index,
                             uint64_t tree_size, absl::Span<const Hash> proof,
                             const Hash& root);

// OK if `proof` shows that the tree of `old_size` with `old_root` is a prefix
// of the tree of `new_size` with `new_root`.
//   - InvalidArgument if old_size > new_size or the proof has the wrong
//     length. When old_size == new_size or old_size == 0 the only valid proof
//     is empty.
//   - old_size == new_size: DataLoss unless old_root == new_root.
//   - old_size == 0 (with an empty proof): OK for any roots, since the empty
//     tree is a prefix of every tree.
//   - otherwise DataLoss, naming which root, if either does not match.
absl::Status VerifyConsistency(uint64_t old_size, uint64_t new_size,
                               const Hash& old_root, const Hash& new_root,
                               absl::Span<const Hash> proof);

}  // namespace premium::merkle

#endif  // LEDGER_MERKLE_PROOF_H_
