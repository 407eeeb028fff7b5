#include "ledger/premium/entry_log.h"

#include "absl/strings/str_cat.h"

namespace premium {

absl::StatusOr<wsr::premium::v1::Entry> EntryVectorLog::Read(
    uint64_t seq) const {
  if (seq >= entries_->size()) {
    return absl::OutOfRangeError(
        absl::StrCat("no entry ", seq, ": the log holds ", entries_->size()));
  }
  return (*entries_)[seq];
}

absl::Status EntryVectorLog::Scan(uint64_t begin_seq, uint64_t end_seq,
                                  Visitor visit) const {
  if (begin_seq > end_seq || end_seq > entries_->size()) {
    return absl::OutOfRangeError(absl::StrCat("no entries [", begin_seq, ", ",
                                              end_seq, "): the log holds ",
                                              entries_->size()));
  }
  for (uint64_t seq = begin_seq; seq < end_seq; ++seq) {
    if (absl::Status s = visit((*entries_)[seq]); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace premium
