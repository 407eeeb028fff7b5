#include "ledger/premium/string_numbering.h"

#include <algorithm>

#include "absl/hash/hash.h"

namespace premium {

StringNumbering::StringNumbering(uint64_t numbers_max)
    : numbers_max_(std::min(numbers_max, kNumbersMax)),
      index_(/*bucket_count=*/0, Hash{this}, Eq{this}) {}

size_t StringNumbering::Hash::operator()(uint32_t number) const {
  return (*this)(owner->Text(number));
}

size_t StringNumbering::Hash::operator()(absl::string_view text) const {
  return absl::Hash<absl::string_view>()(text);
}

bool StringNumbering::Eq::operator()(uint32_t number,
                                     absl::string_view text) const {
  return owner->Text(number) == text;
}

std::optional<uint32_t> StringNumbering::Number(absl::string_view text) {
  if (ends_.size() >= numbers_max_) {
    auto it = index_.find(text);
    if (it == index_.end()) return std::nullopt;
    return *it;
  }
  // One probe whether the text is new or not. The index grows, reading the
  // stored texts back, before the callback stores the new one.
  return *index_.lazy_emplace(text, [&](const auto& construct) {
    const auto number = static_cast<uint32_t>(ends_.size());
    bytes_.append(text.data(), text.size());
    ends_.push_back(bytes_.size());
    construct(number);
  });
}

absl::string_view StringNumbering::Text(uint32_t number) const {
  const uint64_t begin = number == 0 ? 0 : ends_[number - 1];
  return absl::string_view(bytes_).substr(begin, ends_[number] - begin);
}

}  // namespace premium
