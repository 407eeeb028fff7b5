// Offline verification of a ledger's data directory: what `premiumd verify`
// runs. It trusts nothing that it did not recompute.
#ifndef PREMIUM_LEDGER_VERIFY_H_
#define PREMIUM_LEDGER_VERIFY_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "ledger/ledger.h"

namespace premium {

struct VerifyOptions {
  std::string data_dir;
  // The indexer the ledger was written with; null means the ledger derives
  // no keys, so its index must be empty.
  const Indexer* indexer = nullptr;
  // RocksDB's own check of every block checksum of every file. Reads the
  // whole database once more, on the second thread (see VerifyLedger).
  bool check_block_checksums = true;
};

struct VerifyReport {
  uint64_t tree_size = 0;
  uint64_t entries_checked = 0;
  uint64_t entry_bytes = 0;
  uint64_t nodes_checked = 0;
  uint64_t checkpoints_checked = 0;
  uint64_t requests_checked = 0;
  uint64_t derived_keys_checked = 0;
  // The first sequence number found bad, when the fault can be tied to one.
  std::optional<uint64_t> first_bad_seq;
};

// Re-reads the whole ledger in `options.data_dir` without changing it:
// RocksDB block checksums; every entry (dense seqs, parse, append times,
// whole requests); every leaf and node hash, recomputed from the entries and
// compared with the stored tree; every stored checkpoint's root and Ed25519
// signature; every idempotency record against the request it names; the
// index against the derived keys of the entries (the same count, and the
// same digest under a key drawn at random for each run, so that no one can
// aim a forged index at it; the records are read back one by one only to
// name the first bad entry); and that nothing is stored beyond the
// committed tree size.
//
// Two threads: one walks the log in order and recomputes; the other runs
// RocksDB's checksum passes and counts the stored records, which the walk
// does not depend on. A damaged block is reported before anything the walk
// found.
//
// OK when all of it holds. Otherwise DataLoss whose message starts with
// "seq N: " when the fault can be tied to an entry (report->first_bad_seq is
// then N), and names the record otherwise. NotFound when there is no ledger.
// `report` (may be null) holds what was checked up to the first fault.
absl::Status VerifyLedger(const VerifyOptions& options, VerifyReport* report);

}  // namespace premium

#endif  // PREMIUM_LEDGER_VERIFY_H_
