#include "services/record_pages.h"

#include <algorithm>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace premium {

namespace {

// Entries looked at per record wanted, at most: a page of one kind under a
// key shared with other kinds may be sparse, but a call stays bounded.
constexpr size_t kScanPerRecord = 8;
// Entries read per call at least, so that a sparse page's last few records
// do not cost a call each.
constexpr size_t kReadBatchMin = 16;

}  // namespace

absl::StatusOr<std::optional<uint64_t>> ParsePageToken(
    absl::string_view token) {
  if (token.empty()) return std::nullopt;
  uint64_t seq = 0;
  if (!absl::SimpleAtoi(token, &seq)) {
    return absl::InvalidArgumentError("page_token is not one this server gave");
  }
  return seq;
}

absl::StatusOr<int> PageSize(int requested) {
  if (requested < 0) {
    return absl::InvalidArgumentError("page_size must not be negative");
  }
  if (requested == 0) return kPageSizeDefault;
  return std::min(requested, kPageSizeMax);
}

absl::StatusOr<std::string> WalkPage(LedgerClient& ledger,
                                     absl::string_view lookup_key,
                                     std::optional<uint64_t> after,
                                     int page_size, const TakeEntry& take) {
  const size_t scan_max = static_cast<size_t>(page_size) * kScanPerRecord;
  size_t scanned = 0;
  int taken = 0;
  std::optional<uint64_t> last = after;
  while (taken < page_size && scanned < scan_max) {
    // A read asks for what the page still needs, so that little is read in
    // vain when every record is taken.
    const size_t wanted =
        std::max(static_cast<size_t>(page_size - taken), kReadBatchMin);
    absl::StatusOr<std::vector<StoredEntry>> entries = ledger.ReadByLookupKey(
        lookup_key, last, std::min(wanted, scan_max - scanned));
    if (!entries.ok()) return entries.status();
    if (entries->empty()) return std::string();
    for (const StoredEntry& entry : *entries) {
      absl::StatusOr<bool> added = take(entry);
      if (!added.ok()) return added.status();
      last = entry.entry.seq();
      ++scanned;
      if (*added && ++taken == page_size) break;
    }
  }
  // A full page may be the last one: the next call then returns an empty
  // page without a token, which is cheaper than looking ahead here.
  return absl::StrCat(*last);
}

}  // namespace premium
