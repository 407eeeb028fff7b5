// Numbers distinct strings densely from 0, in the order first seen, and keeps
// each one once: its bytes in one shared buffer, its 8-byte end offset, and a
// 4-byte slot in the index (plus the containers' growth room).
// Reconciliation numbers every worker id of the ledger this way: a season may
// have a new worker id on every line, and a std::string per id in a deque
// with a hash map from views to numbers cost about 85 bytes a worker
// (heaptrack, soak test), against its length and about 20 here.
#ifndef PREMIUM_LEDGER_PREMIUM_STRING_NUMBERING_H_
#define PREMIUM_LEDGER_PREMIUM_STRING_NUMBERING_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"

namespace premium {

class StringNumbering {
 public:
  // Numbers are uint32_t: at most kNumbersMax strings.
  static constexpr uint64_t kNumbersMax = uint64_t{1} << 32;

  // `numbers_max` (<= kNumbersMax) lets a test reach the limit.
  explicit StringNumbering(uint64_t numbers_max = kNumbersMax);
  // The index's hasher refers to this object.
  StringNumbering(const StringNumbering&) = delete;
  StringNumbering& operator=(const StringNumbering&) = delete;

  // The number of `text`, given it when first seen; nullopt when it is new
  // and numbers_max strings are numbered already (nothing changes).
  std::optional<uint32_t> Number(absl::string_view text);

  // The string numbered `number`, which must be < size(). The view is valid
  // until the next call of Number.
  absl::string_view Text(uint32_t number) const;

  size_t size() const { return ends_.size(); }

 private:
  // Hash and equality of numbers by their text, and of a text to look up.
  struct Hash {
    using is_transparent = void;
    const StringNumbering* owner;
    size_t operator()(uint32_t number) const;
    size_t operator()(absl::string_view text) const;
  };
  struct Eq {
    using is_transparent = void;
    const StringNumbering* owner;
    bool operator()(uint32_t a, uint32_t b) const { return a == b; }
    bool operator()(uint32_t number, absl::string_view text) const;
    bool operator()(absl::string_view text, uint32_t number) const {
      return (*this)(number, text);
    }
  };

  const uint64_t numbers_max_;
  std::string bytes_;
  // ends_[n]: where string n ends in bytes_ (it starts where n - 1 ends).
  std::vector<uint64_t> ends_;
  absl::flat_hash_set<uint32_t, Hash, Eq> index_;
};

}  // namespace premium

#endif  // PREMIUM_LEDGER_PREMIUM_STRING_NUMBERING_H_
