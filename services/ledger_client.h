// LedgerClient: the one way the front services reach the ledger. The
// in-process implementation calls a Ledger directly (premiumd all-in-one);
// the remote one calls LedgerService over gRPC (the microservice
// deployment). Both return the same statuses for the same situations, so a
// front service cannot tell which it has.
#ifndef PREMIUM_SERVICES_LEDGER_CLIENT_H_
#define PREMIUM_SERVICES_LEDGER_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ledger/ledger.h"
#include "ledger/merkle/hasher.h"
#include "ledger/premium/entry_log.h"

namespace premium {

class LedgerClient {
 public:
  virtual ~LedgerClient() = default;

  // As Ledger::Append.
  virtual absl::StatusOr<AppendReceipt> Append(
      const AppendRequest& request) = 0;
  // As Ledger::AppendStreamed: a request too large for Append.
  virtual absl::StatusOr<AppendReceipt> AppendStreamed(
      absl::string_view actor, absl::string_view idempotency_key,
      uint64_t entry_count, EntrySource& source) = 0;
  // Entries [begin_seq, end_seq), possibly fewer than asked (read on from
  // the last one returned); as Ledger::ReadEntries.
  virtual absl::StatusOr<std::vector<StoredEntry>> ReadEntries(
      uint64_t begin_seq, uint64_t end_seq, size_t max_entries) = 0;
  // As Ledger::ReadEntriesAt: the entries at `seqs`, in that order.
  virtual absl::StatusOr<std::vector<StoredEntry>> ReadEntriesAt(
      absl::Span<const uint64_t> seqs) = 0;
  // As Ledger::FindUnique and Ledger::FindByLookupKey.
  virtual absl::StatusOr<uint64_t> FindUnique(absl::string_view key) = 0;
  virtual absl::StatusOr<std::vector<uint64_t>> FindByLookupKey(
      absl::string_view key, std::optional<uint64_t> after_seq,
      size_t max_results) = 0;
  // As Ledger::ReadByLookupKey: the entries FindByLookupKey finds.
  virtual absl::StatusOr<std::vector<StoredEntry>> ReadByLookupKey(
      absl::string_view key, std::optional<uint64_t> after_seq,
      size_t max_results) = 0;
  virtual absl::StatusOr<SignedCheckpoint> LatestCheckpoint() = 0;
  virtual absl::StatusOr<SignedCheckpoint> CheckpointAt(uint64_t tree_size) = 0;
  virtual absl::StatusOr<std::vector<merkle::Hash>> InclusionProof(
      uint64_t leaf_index, uint64_t tree_size) = 0;
  // The ledger's checkpoint signing key, PEM.
  virtual absl::StatusOr<std::string> PublicKeyPem() = 0;
};

// `ledger` is not owned and must outlive the client.
std::unique_ptr<LedgerClient> NewInProcessLedgerClient(Ledger* ledger);

// Calls LedgerService on `channel`, presenting `service_token`. Each call
// has `call_timeout` to complete.
std::unique_ptr<LedgerClient> NewRemoteLedgerClient(
    std::shared_ptr<grpc::Channel> channel, std::string service_token,
    absl::Duration call_timeout = absl::Seconds(30));

// Passes the deadline of the call a front service is serving on to the
// remote ledger calls it makes meanwhile, on this thread: each ends no later
// than `deadline` (nor later than its own call_timeout). Handlers declare one
// first thing; it restores the previous deadline when it goes.
class ScopedCallDeadline {
 public:
  explicit ScopedCallDeadline(absl::Time deadline);
  explicit ScopedCallDeadline(const grpc::ServerContext& context);
  ~ScopedCallDeadline();
  ScopedCallDeadline(const ScopedCallDeadline&) = delete;
  ScopedCallDeadline& operator=(const ScopedCallDeadline&) = delete;

  // The deadline in force on this thread (InfiniteFuture when none).
  static absl::Time Current();

 private:
  const absl::Time previous_;
};

// Reads one entry through `client`: NotFound if absent.
absl::StatusOr<StoredEntry> ReadOneEntry(LedgerClient& client, uint64_t seq);

// The ledger behind a LedgerClient (not owned) as the premium rules read
// it back, `batch_entries` entries a call. Scan reads the next batch on
// another thread while the visitor takes the current one: at most two
// batches are held. The client must take calls from any thread.
class LedgerClientLog final : public EntryLog {
 public:
  LedgerClientLog(LedgerClient* client, size_t batch_entries)
      : client_(client), batch_entries_(batch_entries) {}

  absl::StatusOr<wsr::premium::v1::Entry> Read(uint64_t seq) const override;
  absl::Status Scan(uint64_t begin_seq, uint64_t end_seq,
                    Visitor visit) const override;

 private:
  LedgerClient* const client_;
  const size_t batch_entries_;
};

}  // namespace premium

#endif  // PREMIUM_SERVICES_LEDGER_CLIENT_H_
