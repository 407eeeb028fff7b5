#include "ledger/merkle/compact_range.h"

#include <bit>
#include <cassert>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace premium::merkle {

std::string NodeId::ToString() const {
  return absl::StrCat("(", level, ", ", index, ")");
}

std::vector<NodeId> CompactRange::NodeIdsForSize(uint64_t size) {
  assert(size <= kMaxTreeSize);
  std::vector<NodeId> ids;
  ids.reserve(std::popcount(size));
  uint64_t begin = 0;
  for (int level = 63; level >= 0; --level) {
    const uint64_t width = uint64_t{1} << level;
    if ((size & width) == 0) continue;
    // `begin` is a sum of larger powers of two, so it is aligned to `width`.
    ids.push_back(NodeId{level, begin >> level});
    begin += width;
  }
  return ids;
}

absl::StatusOr<CompactRange> CompactRange::FromNodes(uint64_t size,
                                                     std::vector<Hash> hashes) {
  if (size > kMaxTreeSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "compact range size ", size, " exceeds the maximum ", kMaxTreeSize));
  }
  const size_t expected = std::popcount(size);
  if (hashes.size() != expected) {
    return absl::InvalidArgumentError(
        absl::StrCat("compact range of size ", size, " needs ", expected,
                     " node hashes, got ", hashes.size()));
  }
  return CompactRange(size, std::move(hashes));
}

void CompactRange::Append(
    const Hash& leaf_hash,
    absl::FunctionRef<void(NodeId, const Hash&)> on_new_node) {
  if (size_ >= kMaxTreeSize) {
    // A caller bug; checked in every build because the alternative is a
    // silently wrong tree.
    std::fprintf(stderr, "premium::merkle: CompactRange::Append at size %llu\n",
                 static_cast<unsigned long long>(size_));
    std::abort();
  }
  NodeId id{0, size_};
  Hash hash = leaf_hash;
  on_new_node(id, hash);
  // Each trailing one bit of the old size is a perfect node on the border
  // that is the left sibling of the node just completed: merge them.
  while ((size_ >> id.level) & 1) {
    assert(!hashes_.empty());
    hash = HashChildren(hashes_.back(), hash);
    hashes_.pop_back();
    id = NodeId{id.level + 1, id.index >> 1};
    on_new_node(id, hash);
  }
  hashes_.push_back(hash);
  ++size_;
  assert(hashes_.size() == static_cast<size_t>(std::popcount(size_)));
}

Hash CompactRange::Root() const {
  if (hashes_.empty()) return EmptyRoot();
  Hash root = hashes_.back();
  for (auto it = hashes_.rbegin() + 1; it != hashes_.rend(); ++it) {
    root = HashChildren(*it, root);
  }
  return root;
}

}  // namespace premium::merkle
