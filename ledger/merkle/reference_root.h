// For tests: the Merkle tree hash computed the slow, obvious way, to check
// the library's fast paths against.
#ifndef PREMIUM_LEDGER_MERKLE_REFERENCE_ROOT_H_
#define PREMIUM_LEDGER_MERKLE_REFERENCE_ROOT_H_

#include <cstdint>
#include <vector>

#include "ledger/merkle/hasher.h"

namespace premium::merkle {

// RFC 6962 MTH straight from section 2.1, over leaf hashes [begin, end).
inline Hash ReferenceRoot(const std::vector<Hash>& leaves, uint64_t begin,
                          uint64_t end) {
  if (end == begin) return EmptyRoot();
  if (end - begin == 1) return leaves[begin];
  uint64_t k = 1;
  while (2 * k < end - begin) k *= 2;
  return HashChildren(ReferenceRoot(leaves, begin, begin + k),
                      ReferenceRoot(leaves, begin + k, end));
}

}  // namespace premium::merkle

#endif  // PREMIUM_LEDGER_MERKLE_REFERENCE_ROOT_H_
