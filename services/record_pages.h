// Pages of records for the list calls: page sizes, page tokens, and a walk
// over the entries under one lookup key. Shared by the services that list.
#ifndef PREMIUM_SERVICES_RECORD_PAGES_H_
#define PREMIUM_SERVICES_RECORD_PAGES_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/ledger_client.h"

namespace premium {

inline constexpr int kPageSizeDefault = 100;
inline constexpr int kPageSizeMax = 1000;

// Page tokens are the seq of the last entry looked at: opaque to clients,
// stable under appends because the log only grows. nullopt for the first
// page; InvalidArgument for a token this server cannot have given.
absl::StatusOr<std::optional<uint64_t>> ParsePageToken(absl::string_view token);

// The page size to use for a request's page_size: InvalidArgument if
// negative, the default for 0, at most kPageSizeMax.
absl::StatusOr<int> PageSize(int requested);

// Walks the entries under `lookup_key` after `after`, in seq order, giving
// each to `take` (which returns whether it added a record to the page),
// until `page_size` records were added or 8 x `page_size` entries looked
// at. Returns the next page token, empty when the walk reached the end.
using TakeEntry = std::function<absl::StatusOr<bool>(const StoredEntry&)>;
absl::StatusOr<std::string> WalkPage(LedgerClient& ledger,
                                     absl::string_view lookup_key,
                                     std::optional<uint64_t> after,
                                     int page_size, const TakeEntry& take);

}  // namespace premium

#endif  // PREMIUM_SERVICES_RECORD_PAGES_H_
