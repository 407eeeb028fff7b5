#include "services/ledger_client.h"

#include <algorithm>
#include <deque>
#include <future>

#include "absl/strings/str_cat.h"
#include "services/grpc_status.h"
#include "services/ledger_service.h"
#include "wsr/premium/v1/ledger.grpc.pb.h"

namespace premium {
namespace {

// The deadline of the call this thread serves (ScopedCallDeadline).
thread_local absl::Time current_call_deadline = absl::InfiniteFuture();

namespace pb = wsr::premium::v1;

class InProcessLedgerClient final : public LedgerClient {
 public:
  explicit InProcessLedgerClient(Ledger* ledger) : ledger_(ledger) {}

  absl::StatusOr<AppendReceipt> Append(const AppendRequest& request) override {
    return ledger_->Append(request);
  }
  absl::StatusOr<AppendReceipt> AppendStreamed(
      absl::string_view actor, absl::string_view idempotency_key,
      uint64_t entry_count, EntrySource& source) override {
    return ledger_->AppendStreamed(actor, idempotency_key, entry_count, source);
  }
  absl::StatusOr<std::vector<StoredEntry>> ReadEntries(
      uint64_t begin_seq, uint64_t end_seq, size_t max_entries) override {
    return ledger_->ReadEntries(begin_seq, end_seq, max_entries);
  }
  absl::StatusOr<std::vector<StoredEntry>> ReadEntriesAt(
      absl::Span<const uint64_t> seqs) override {
    return ledger_->ReadEntriesAt(seqs);
  }
  absl::StatusOr<uint64_t> FindUnique(absl::string_view key) override {
    return ledger_->FindUnique(key);
  }
  absl::StatusOr<std::vector<uint64_t>> FindByLookupKey(
      absl::string_view key, std::optional<uint64_t> after_seq,
      size_t max_results) override {
    return ledger_->FindByLookupKey(key, after_seq, max_results);
  }
  absl::StatusOr<std::vector<StoredEntry>> ReadByLookupKey(
      absl::string_view key, std::optional<uint64_t> after_seq,
      size_t max_results) override {
    return ledger_->ReadByLookupKey(key, after_seq, max_results);
  }
  absl::StatusOr<SignedCheckpoint> LatestCheckpoint() override {
    return ledger_->LatestCheckpoint();
  }
  absl::StatusOr<SignedCheckpoint> CheckpointAt(uint64_t tree_size) override {
    return ledger_->CheckpointAt(tree_size);
  }
  absl::StatusOr<std::vector<merkle::Hash>> InclusionProof(
      uint64_t leaf_index, uint64_t tree_size) override {
    return ledger_->InclusionProof(leaf_index, tree_size);
  }
  absl::StatusOr<std::string> PublicKeyPem() override {
    return ledger_->verifier().public_key_pem();
  }

 private:
  Ledger* const ledger_;
};

absl::StatusOr<SignedCheckpoint> FromProto(const pb::Checkpoint& checkpoint) {
  absl::StatusOr<merkle::Hash> root =
      merkle::HashFromBytes(checkpoint.root_hash());
  if (!root.ok()) {
    return absl::DataLossError("the ledger sent a malformed root hash");
  }
  SignedCheckpoint out;
  out.checkpoint =
      Checkpoint{checkpoint.origin(), checkpoint.tree_size(), *root};
  out.body = CheckpointBody(out.checkpoint);
  out.signature = checkpoint.signature();
  return out;
}

// The ledger's answer as this front's users should see it: a refused
// service token is the front's misconfiguration, not the user's lack of
// permission, so it is reported as such.
absl::Status LedgerStatus(const grpc::Status& status) {
  const absl::Status s = FromGrpcStatus(status);
  if (absl::IsPermissionDenied(s) || absl::IsUnauthenticated(s)) {
    return absl::InternalError(
        absl::StrCat("the ledger refused this front service's token (check "
                     "--ledger-token-file): ",
                     s.message()));
  }
  return s;
}

// Entries per message of a streamed append (a few MiB at most).
constexpr size_t kStreamedBatchEntries = 10'000;
constexpr absl::Duration kStreamedAppendTimeout = absl::Minutes(30);
// Seqs asked for in one ReadEntries call (LedgerServiceOptions'
// entries_per_response_max by default; a server with a lower limit answers
// fewer, and the rest are asked for again).
constexpr size_t kReadAtSeqsPerCall = 1000;

// An entry as the ledger sent it, parsed from the bytes that will be hashed
// rather than taken from the server's parsed copy; DataLoss unless it is
// entry `seq`.
absl::StatusOr<StoredEntry> FromWire(pb::StoredEntry& stored, uint64_t seq) {
  StoredEntry entry;
  if (!entry.entry.ParseFromString(stored.entry_bytes()) ||
      entry.entry.seq() != seq) {
    return absl::DataLossError(
        absl::StrCat("the ledger sent a malformed entry for seq ", seq));
  }
  entry.bytes = std::move(*stored.mutable_entry_bytes());
  return entry;
}

class RemoteLedgerClient final : public LedgerClient {
 public:
  RemoteLedgerClient(std::shared_ptr<grpc::Channel> channel,
                     std::string service_token, absl::Duration call_timeout)
      : stub_(pb::LedgerService::NewStub(channel)),
        authorization_(absl::StrCat("Bearer ", service_token)),
        call_timeout_(call_timeout) {}

  absl::StatusOr<AppendReceipt> Append(const AppendRequest& request) override {
    pb::AppendRequest message;
    message.set_actor(request.actor);
    message.set_idempotency_key(request.idempotency_key);
    for (const AppendEntry& entry : request.entries) {
      pb::AppendEntry* out = message.add_entries();
      out->set_kind(entry.kind);
      out->set_payload(entry.payload);
    }
    pb::AppendResponse response;
    auto context = NewContext();
    if (absl::Status s =
            LedgerStatus(stub_->Append(context.get(), message, &response));
        !s.ok()) {
      return s;
    }
    const pb::AppendReceipt& receipt = response.receipt();
    return AppendReceipt{receipt.first_seq(), receipt.entry_count(),
                         receipt.tree_size(), receipt.append_time_micros(),
                         receipt.replayed()};
  }

  absl::StatusOr<AppendReceipt> AppendStreamed(
      absl::string_view actor, absl::string_view idempotency_key,
      uint64_t entry_count, EntrySource& source) override {
    auto context = NewContext();
    // A large request takes longer than one call's usual time, but no
    // longer than the caller waits.
    context->set_deadline(absl::ToChronoTime(std::min(
        absl::Now() + kStreamedAppendTimeout, ScopedCallDeadline::Current())));
    pb::AppendResponse response;
    std::unique_ptr<grpc::ClientWriter<pb::AppendStreamMessage>> writer =
        stub_->AppendStream(context.get(), &response);
    pb::AppendStreamMessage message;
    pb::AppendStreamHeader* header = message.mutable_header();
    header->set_actor(std::string(actor));
    header->set_idempotency_key(std::string(idempotency_key));
    header->set_entry_count(entry_count);
    bool sent = writer->Write(message);
    absl::Status source_status;
    while (sent) {
      absl::StatusOr<std::vector<AppendEntry>> entries =
          source.Next(kStreamedBatchEntries);
      if (!entries.ok()) {
        // Ending the stream early makes the ledger refuse the request.
        source_status = entries.status();
        context->TryCancel();
        break;
      }
      if (entries->empty()) break;
      message.Clear();
      for (AppendEntry& entry : *entries) {
        pb::AppendEntry* out = message.mutable_batch()->add_entries();
        out->set_kind(std::move(entry.kind));
        out->set_payload(std::move(entry.payload));
      }
      sent = writer->Write(message);
    }
    writer->WritesDone();
    const grpc::Status status = writer->Finish();
    if (!source_status.ok()) return source_status;
    if (absl::Status s = LedgerStatus(status); !s.ok()) return s;
    const pb::AppendReceipt& receipt = response.receipt();
    return AppendReceipt{receipt.first_seq(), receipt.entry_count(),
                         receipt.tree_size(), receipt.append_time_micros(),
                         receipt.replayed()};
  }

  absl::StatusOr<std::vector<StoredEntry>> ReadEntries(
      uint64_t begin_seq, uint64_t end_seq, size_t max_entries) override {
    pb::ReadEntriesRequest request;
    request.set_begin_seq(begin_seq);
    request.set_end_seq(end_seq);
    request.set_max_entries(
        static_cast<uint32_t>(std::min<size_t>(max_entries, UINT32_MAX)));
    pb::ReadEntriesResponse response;
    auto context = NewContext();
    if (absl::Status s =
            LedgerStatus(stub_->ReadEntries(context.get(), request, &response));
        !s.ok()) {
      return s;
    }
    std::vector<StoredEntry> entries;
    entries.reserve(response.entries_size());
    uint64_t expected_seq = begin_seq;
    for (pb::StoredEntry& stored : *response.mutable_entries()) {
      absl::StatusOr<StoredEntry> entry = FromWire(stored, expected_seq);
      if (!entry.ok()) return entry.status();
      entries.push_back(*std::move(entry));
      ++expected_seq;
    }
    return entries;
  }

  // The server answers as many of the seqs as its response limits allow:
  // one call per response, not per entry.
  absl::StatusOr<std::vector<StoredEntry>> ReadEntriesAt(
      absl::Span<const uint64_t> seqs) override {
    std::vector<StoredEntry> entries;
    entries.reserve(seqs.size());
    while (entries.size() < seqs.size()) {
      const absl::Span<const uint64_t> rest =
          seqs.subspan(entries.size(), kReadAtSeqsPerCall);
      pb::ReadEntriesRequest request;
      request.mutable_seqs()->Add(rest.begin(), rest.end());
      pb::ReadEntriesResponse response;
      auto context = NewContext();
      if (absl::Status s = LedgerStatus(
              stub_->ReadEntries(context.get(), request, &response));
          !s.ok()) {
        return s;
      }
      if (response.entries().empty() ||
          static_cast<size_t>(response.entries_size()) > rest.size()) {
        return absl::DataLossError(
            absl::StrCat("the ledger answered a read of ", rest.size(),
                         " entries with ", response.entries_size()));
      }
      for (int i = 0; i < response.entries_size(); ++i) {
        absl::StatusOr<StoredEntry> entry =
            FromWire(*response.mutable_entries(i), rest[i]);
        if (!entry.ok()) return entry.status();
        entries.push_back(*std::move(entry));
      }
    }
    return entries;
  }

  absl::StatusOr<uint64_t> FindUnique(absl::string_view key) override {
    pb::FindEntriesRequest request;
    request.set_unique_key(std::string(key));
    absl::StatusOr<std::vector<uint64_t>> seqs = Find(request);
    if (!seqs.ok()) return seqs.status();
    if (seqs->size() != 1) {
      return absl::DataLossError("the ledger answered a unique key with " +
                                 std::to_string(seqs->size()) + " entries");
    }
    return seqs->front();
  }

  absl::StatusOr<std::vector<uint64_t>> FindByLookupKey(
      absl::string_view key, std::optional<uint64_t> after_seq,
      size_t max_results) override {
    pb::FindEntriesRequest request;
    request.set_lookup_key(std::string(key));
    if (after_seq.has_value()) request.set_after_seq(*after_seq);
    request.set_max_results(
        static_cast<uint32_t>(std::min<size_t>(max_results, UINT32_MAX)));
    return Find(request);
  }

  // LedgerService finds and reads in separate calls; the server checks each
  // entry against the leaf in its node family.
  absl::StatusOr<std::vector<StoredEntry>> ReadByLookupKey(
      absl::string_view key, std::optional<uint64_t> after_seq,
      size_t max_results) override {
    absl::StatusOr<std::vector<uint64_t>> seqs =
        FindByLookupKey(key, after_seq, max_results);
    if (!seqs.ok()) return seqs.status();
    return ReadEntriesAt(*seqs);
  }

  absl::StatusOr<SignedCheckpoint> LatestCheckpoint() override {
    pb::GetCheckpointRequest request;
    return GetCheckpoint(request);
  }

  absl::StatusOr<SignedCheckpoint> CheckpointAt(uint64_t tree_size) override {
    pb::GetCheckpointRequest request;
    request.set_tree_size(tree_size);
    return GetCheckpoint(request);
  }

  absl::StatusOr<std::vector<merkle::Hash>> InclusionProof(
      uint64_t leaf_index, uint64_t tree_size) override {
    pb::GetInclusionProofRequest request;
    request.set_leaf_index(leaf_index);
    request.set_tree_size(tree_size);
    pb::GetInclusionProofResponse response;
    auto context = NewContext();
    if (absl::Status s = LedgerStatus(
            stub_->GetInclusionProof(context.get(), request, &response));
        !s.ok()) {
      return s;
    }
    std::vector<merkle::Hash> proof;
    for (const std::string& bytes : response.hashes()) {
      absl::StatusOr<merkle::Hash> hash = merkle::HashFromBytes(bytes);
      if (!hash.ok()) {
        return absl::DataLossError("the ledger sent a malformed proof hash");
      }
      proof.push_back(*hash);
    }
    return proof;
  }

  absl::StatusOr<std::string> PublicKeyPem() override {
    pb::GetCheckpointRequest request;
    pb::GetCheckpointResponse response;
    auto context = NewContext();
    if (absl::Status s = LedgerStatus(
            stub_->GetCheckpoint(context.get(), request, &response));
        !s.ok()) {
      return s;
    }
    return response.checkpoint().public_key_pem();
  }

 private:
  std::unique_ptr<grpc::ClientContext> NewContext() const {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(absl::ToChronoTime(
        std::min(absl::Now() + call_timeout_, ScopedCallDeadline::Current())));
    context->AddMetadata("authorization", authorization_);
    return context;
  }

  absl::StatusOr<std::vector<uint64_t>> Find(
      const pb::FindEntriesRequest& request) {
    pb::FindEntriesResponse response;
    auto context = NewContext();
    if (absl::Status s =
            LedgerStatus(stub_->FindEntries(context.get(), request, &response));
        !s.ok()) {
      return s;
    }
    return std::vector<uint64_t>(response.seqs().begin(),
                                 response.seqs().end());
  }

  absl::StatusOr<SignedCheckpoint> GetCheckpoint(
      const pb::GetCheckpointRequest& request) {
    pb::GetCheckpointResponse response;
    auto context = NewContext();
    if (absl::Status s = LedgerStatus(
            stub_->GetCheckpoint(context.get(), request, &response));
        !s.ok()) {
      return s;
    }
    return FromProto(response.checkpoint());
  }

  std::unique_ptr<pb::LedgerService::Stub> stub_;
  const std::string authorization_;
  const absl::Duration call_timeout_;
};

}  // namespace

std::unique_ptr<LedgerClient> NewInProcessLedgerClient(Ledger* ledger) {
  return std::make_unique<InProcessLedgerClient>(ledger);
}

std::unique_ptr<LedgerClient> NewRemoteLedgerClient(
    std::shared_ptr<grpc::Channel> channel, std::string service_token,
    absl::Duration call_timeout) {
  return std::make_unique<RemoteLedgerClient>(
      std::move(channel), std::move(service_token), call_timeout);
}

absl::StatusOr<StoredEntry> ReadOneEntry(LedgerClient& client, uint64_t seq) {
  const uint64_t seqs[] = {seq};
  absl::StatusOr<std::vector<StoredEntry>> entries = client.ReadEntriesAt(seqs);
  if (absl::IsOutOfRange(entries.status())) {
    return absl::NotFoundError(absl::StrCat("no entry ", seq));
  }
  if (!entries.ok()) return entries.status();
  return std::move(entries->front());
}

absl::StatusOr<pb::Entry> LedgerClientLog::Read(uint64_t seq) const {
  absl::StatusOr<StoredEntry> stored = ReadOneEntry(*client_, seq);
  if (!stored.ok()) return stored.status();
  return std::move(stored->entry);
}

absl::Status LedgerClientLog::Scan(uint64_t begin_seq, uint64_t end_seq,
                                   Visitor visit) const {
  // The next batches are read on other threads while this one is visited:
  // reading (RocksDB, each entry checked against its leaf, parsed) takes
  // more than applying, so two are read at once (premiumd's start on the
  // benchmark's 1M-line ledger, 10 runs each: 2.9-3.2 -> 2.2-2.7 s).
  constexpr size_t kBatchesAhead = 2;
  using Batch = absl::StatusOr<std::vector<StoredEntry>>;
  struct Pending {
    uint64_t first_seq;
    std::future<Batch> batch;
  };
  const absl::Time deadline = ScopedCallDeadline::Current();
  const auto read = [this, end_seq, deadline](uint64_t first_seq,
                                              uint64_t max_entries) {
    const ScopedCallDeadline scoped(deadline);
    return client_->ReadEntries(first_seq, end_seq, max_entries);
  };
  // A scan of one batch (a pay period read back) gains nothing from
  // another thread and is read on this one, when it is waited for.
  const std::launch policy = end_seq - begin_seq > batch_entries_
                                 ? std::launch::async
                                 : std::launch::deferred;
  const auto start = [&read, policy](uint64_t first_seq, uint64_t max_entries) {
    return Pending{first_seq, std::async(policy, read, first_seq, max_entries)};
  };
  std::deque<Pending> ahead;
  // Where the batch read last should end if it comes back whole.
  uint64_t read_seq = begin_seq;
  uint64_t next_seq = begin_seq;
  while (next_seq < end_seq) {
    while (ahead.size() < kBatchesAhead && read_seq < end_seq) {
      const uint64_t count =
          std::min<uint64_t>(batch_entries_, end_seq - read_seq);
      ahead.push_back(start(read_seq, count));
      read_seq += count;
    }
    // A batch came back short (a remote ledger caps a response's bytes):
    // the rest of it is read before the batches read ahead of it.
    if (ahead.empty() || ahead.front().first_seq != next_seq) {
      const uint64_t hole_end =
          ahead.empty() ? end_seq : ahead.front().first_seq;
      ahead.push_front(start(
          next_seq, std::min<uint64_t>(batch_entries_, hole_end - next_seq)));
    }
    const Batch entries = ahead.front().batch.get();
    ahead.pop_front();
    if (!entries.ok()) return entries.status();
    // Callers ask for entries they know are there (below a checkpoint's
    // size, or applied before): one missing is lost.
    if (entries->empty()) {
      return absl::DataLossError(
          absl::StrCat("the ledger returned no entry at ", next_seq, " of [",
                       begin_seq, ", ", end_seq, ")"));
    }
    for (const StoredEntry& stored : *entries) {
      if (stored.entry.seq() != next_seq) {
        return absl::DataLossError(absl::StrCat("the ledger returned entry ",
                                                stored.entry.seq(), " where ",
                                                next_seq, " was next"));
      }
      if (absl::Status s = visit(stored.entry); !s.ok()) return s;
      ++next_seq;
    }
  }
  return absl::OkStatus();
}

ScopedCallDeadline::ScopedCallDeadline(absl::Time deadline)
    : previous_(current_call_deadline) {
  current_call_deadline = std::min(previous_, deadline);
}

ScopedCallDeadline::ScopedCallDeadline(const grpc::ServerContext& context)
    : ScopedCallDeadline(absl::FromChrono(context.deadline())) {}

ScopedCallDeadline::~ScopedCallDeadline() { current_call_deadline = previous_; }

absl::Time ScopedCallDeadline::Current() { return current_call_deadline; }

}  // namespace premium
