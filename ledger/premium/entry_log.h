// The log a Reconciler (reconcile.h) reads back what it does not keep in
// memory: the record a Reversal withdraws, the line a WorkerDispute names,
// and the payroll lines of a pay period whose findings it recomputes. Kept
// apart from the Ledger so the premium rules run on any log: the ledger's
// own (services/audit_service.cc), or entries held in memory.
#ifndef PREMIUM_LEDGER_PREMIUM_ENTRY_LOG_H_
#define PREMIUM_LEDGER_PREMIUM_ENTRY_LOG_H_

#include <cstdint>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "wsr/premium/v1/entry.pb.h"

namespace premium {

class EntryLog {
 public:
  using Visitor =
      absl::FunctionRef<absl::Status(const wsr::premium::v1::Entry& entry)>;

  virtual ~EntryLog() = default;

  // The entry at `seq`; an error when there is none or it cannot be read.
  virtual absl::StatusOr<wsr::premium::v1::Entry> Read(uint64_t seq) const = 0;

  // Calls `visit` with each entry of [begin_seq, end_seq), in seq order, and
  // stops at the first error, its own or the visitor's. Every seq of the
  // range must be in the log: a range past its end is an error.
  virtual absl::Status Scan(uint64_t begin_seq, uint64_t end_seq,
                            Visitor visit) const = 0;
};

// A log held in a vector whose index is the seq (not owned: it may keep
// growing while this reads it).
class EntryVectorLog final : public EntryLog {
 public:
  explicit EntryVectorLog(const std::vector<wsr::premium::v1::Entry>* entries)
      : entries_(entries) {}

  absl::StatusOr<wsr::premium::v1::Entry> Read(uint64_t seq) const override;
  absl::Status Scan(uint64_t begin_seq, uint64_t end_seq,
                    Visitor visit) const override;

 private:
  const std::vector<wsr::premium::v1::Entry>* const entries_;
};

}  // namespace premium

#endif  // PREMIUM_LEDGER_PREMIUM_ENTRY_LOG_H_
