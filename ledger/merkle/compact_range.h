// Node ids and the compact range: the right border of the tree that makes an
// append O(log n) hashes with no reads (after transparency-dev/merkle
// compact/nodes.go and compact/range.go).
//
// Every tree of size N is built from perfect subtrees; NodeId names one. A
// CompactRange of size N holds the hashes of the perfect subtrees that cover
// leaves [0, N) with as few nodes as possible: one per set bit of N, from the
// highest (leftmost, largest) to the lowest (rightmost, smallest). E.g. N = 13
// = 0b1101 is covered by the nodes (3, 0) = [0, 8), (2, 2) = [8, 12) and
// (0, 12) = [12, 13). That border is all an append needs, and folding it gives
// the root of the tree of size N.
#ifndef LEDGER_MERKLE_COMPACT_RANGE_H_
#define LEDGER_MERKLE_COMPACT_RANGE_H_

#include <compare>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "ledger/merkle/hasher.h"

namespace premium::merkle {

// The largest tree size supported: sizes are < 2^63, so that every node's
// end() and every shift in the proof arithmetic fits in a uint64_t with room
// to spare. At a million entries a second the limit is 292,000 years away.
inline constexpr uint64_t kMaxTreeSize = (uint64_t{1} << 63) - 1;

// The perfect subtree at `level` (0 = a leaf) and position `index` within
// that level: it covers leaves [index << level, (index + 1) << level). Its
// hash never changes once all its leaves exist. Storage keys nodes by
// (level, index).
struct NodeId {
  // In [0, 63]; a tree of at most kMaxTreeSize leaves has levels 0 to 62.
  int level = 0;
  uint64_t index = 0;

  // The first leaf covered.
  uint64_t begin() const { return index << level; }
  // One past the last leaf covered.
  uint64_t end() const { return (index + 1) << level; }

  // "(level, index)", for messages.
  std::string ToString() const;

  // Equality, and an arbitrary but total order (by level, then index) so that
  // ids can key ordered maps.
  friend bool operator==(const NodeId&, const NodeId&) = default;
  friend auto operator<=>(const NodeId&, const NodeId&) = default;
};

class CompactRange {
 public:
  // The empty range (size 0).
  CompactRange() = default;

  // The ids of the nodes of a compact range of `size`, left to right: one per
  // set bit of `size`, highest bit first. Empty for size 0. Requires
  // size <= kMaxTreeSize (asserted).
  static std::vector<NodeId> NodeIdsForSize(uint64_t size);

  // Rebuilds a range from stored node hashes, given in NodeIdsForSize(size)
  // order. InvalidArgument if size > kMaxTreeSize or if hashes.size() is not
  // popcount(size). The hashes themselves cannot be checked here; a caller
  // that wants to check them compares Root() with a signed checkpoint.
  static absl::StatusOr<CompactRange> FromNodes(uint64_t size,
                                                std::vector<Hash> hashes);

  // Appends one leaf and tells `on_new_node` about every node this completes,
  // bottom up: first the leaf itself (level 0), then each perfect node that
  // the leaf finishes (as many as the trailing one bits of the old size).
  // Across appends from size 0, on_new_node is therefore called exactly once
  // for every perfect node of the tree, when it becomes complete, which is
  // when it should be persisted. The callback must not touch this range.
  // O(log size) hashing. Requires size() < kMaxTreeSize (aborts otherwise,
  // in every build type, rather than corrupt the tree).
  void Append(const Hash& leaf_hash,
              absl::FunctionRef<void(NodeId, const Hash&)> on_new_node);

  // The RFC 6962 root of leaves [0, size()): EmptyRoot() for size 0,
  // otherwise the fold of hashes() from right to left,
  // HashChildren(h[0], HashChildren(h[1], ... h[k-1])). popcount(size) - 1
  // hashes.
  Hash Root() const;

  uint64_t size() const { return size_; }

  // The node hashes, in NodeIdsForSize(size()) order.
  const std::vector<Hash>& hashes() const { return hashes_; }

 private:
  CompactRange(uint64_t size, std::vector<Hash> hashes)
      : size_(size), hashes_(std::move(hashes)) {}

  uint64_t size_ = 0;
  // Invariant: hashes_.size() == popcount(size_).
  std::vector<Hash> hashes_;
};

}  // namespace premium::merkle

#endif  // LEDGER_MERKLE_COMPACT_RANGE_H_
