// LedgerService: the gRPC face of the ledger
// (proto/wsr/premium/v1/ledger.proto).
//
// Appending and reading entries is for the front services only: those calls
// need the ledger's service token (written to <data-dir>/ledger.token on first
// start), since entries hold every party's records. Checkpoints and proofs
// reveal only hashes and are open to everyone, so that any worker, brand or
// auditor can check what they were shown.
#ifndef PREMIUM_SERVICES_LEDGER_SERVICE_H_
#define PREMIUM_SERVICES_LEDGER_SERVICE_H_

#include <atomic>

#include "ledger/ledger.h"
#include "ledger/merkle/hasher.h"
#include "wsr/premium/v1/ledger.grpc.pb.h"

namespace premium {

struct LedgerServiceOptions {
  // Entries in one ReadEntries response or one TailEntries message at most.
  uint32_t entries_per_response_max = 1000;
  // Entry bytes in one response at most (at least one entry is always sent),
  // well under gRPC's default 4 MiB receive limit.
  size_t bytes_per_response_max = 2 << 20;
  // Sequence numbers in one FindEntries response at most.
  uint32_t find_results_max = 10'000;
  // How long a tail stream sleeps between checks for cancellation and for
  // Stop; it also wakes at the call's deadline and ends there.
  absl::Duration tail_poll_interval = absl::Seconds(1);
};

class LedgerServiceImpl final
    : public wsr::premium::v1::LedgerService::Service {
 public:
  // `ledger` is not owned and must outlive the service. Callers of Append,
  // ReadEntries and TailEntries must present the token whose SHA-256 is
  // `service_token_hash`.
  LedgerServiceImpl(Ledger* ledger, const merkle::Hash& service_token_hash,
                    LedgerServiceOptions options = {});

  // Ends every tail stream (they return OK at their next poll) and makes new
  // ones return UNAVAILABLE. Called before the server shuts down.
  void Stop();

  grpc::Status Append(grpc::ServerContext* context,
                      const wsr::premium::v1::AppendRequest* request,
                      wsr::premium::v1::AppendResponse* response) override;
  grpc::Status AppendStream(
      grpc::ServerContext* context,
      grpc::ServerReader<wsr::premium::v1::AppendStreamMessage>* reader,
      wsr::premium::v1::AppendResponse* response) override;
  grpc::Status ReadEntries(
      grpc::ServerContext* context,
      const wsr::premium::v1::ReadEntriesRequest* request,
      wsr::premium::v1::ReadEntriesResponse* response) override;
  grpc::Status FindEntries(
      grpc::ServerContext* context,
      const wsr::premium::v1::FindEntriesRequest* request,
      wsr::premium::v1::FindEntriesResponse* response) override;
  grpc::Status TailEntries(
      grpc::ServerContext* context,
      const wsr::premium::v1::TailEntriesRequest* request,
      grpc::ServerWriter<wsr::premium::v1::TailEntriesResponse>* writer)
      override;
  grpc::Status GetCheckpoint(
      grpc::ServerContext* context,
      const wsr::premium::v1::GetCheckpointRequest* request,
      wsr::premium::v1::GetCheckpointResponse* response) override;
  grpc::Status GetInclusionProof(
      grpc::ServerContext* context,
      const wsr::premium::v1::GetInclusionProofRequest* request,
      wsr::premium::v1::GetInclusionProofResponse* response) override;
  grpc::Status GetConsistencyProof(
      grpc::ServerContext* context,
      const wsr::premium::v1::GetConsistencyProofRequest* request,
      wsr::premium::v1::GetConsistencyProofResponse* response) override;

 private:
  absl::Status Authorize(const grpc::ServerContext& context) const;
  // Appends entries [begin_seq, end_seq) to `out` within the response limits;
  // returns the seq after the last one added.
  absl::StatusOr<uint64_t> FillEntries(
      uint64_t begin_seq, uint64_t end_seq, uint32_t max_entries,
      google::protobuf::RepeatedPtrField<wsr::premium::v1::StoredEntry>* out)
      const;
  // Moves the first of `entries` to `out` within bytes_per_response_max (the
  // first always goes); returns how many.
  size_t AddWithinLimits(
      std::vector<StoredEntry>& entries,
      google::protobuf::RepeatedPtrField<wsr::premium::v1::StoredEntry>* out)
      const;

  Ledger* const ledger_;
  const merkle::Hash service_token_hash_;
  const LedgerServiceOptions options_;
  std::atomic<bool> stopping_{false};
};

// Fills the wire form of a signed checkpoint.
void ToProto(const SignedCheckpoint& checkpoint,
             const std::string& public_key_pem,
             wsr::premium::v1::Checkpoint* out);

}  // namespace premium

#endif  // PREMIUM_SERVICES_LEDGER_SERVICE_H_
