#include "services/ledger_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "services/credentials.h"
#include "services/grpc_status.h"

namespace premium {
namespace {

namespace pb = wsr::premium::v1;

absl::string_view MetadataValue(const grpc::ServerContext& context,
                                absl::string_view key) {
  const auto& metadata = context.client_metadata();
  const auto it = metadata.find(grpc::string_ref(key.data(), key.size()));
  if (it == metadata.end()) return {};
  return absl::string_view(it->second.data(), it->second.size());
}

void AddHashes(absl::Span<const merkle::Hash> hashes,
               google::protobuf::RepeatedPtrField<std::string>* out) {
  out->Reserve(static_cast<int>(hashes.size()));
  for (const merkle::Hash& hash : hashes) {
    out->Add(std::string(merkle::HashBytes(hash)));
  }
}

}  // namespace

void ToProto(const SignedCheckpoint& checkpoint,
             const std::string& public_key_pem, pb::Checkpoint* out) {
  out->set_origin(checkpoint.checkpoint.origin);
  out->set_tree_size(checkpoint.checkpoint.tree_size);
  out->set_root_hash(
      std::string(merkle::HashBytes(checkpoint.checkpoint.root_hash)));
  out->set_body(checkpoint.body);
  out->set_signature(checkpoint.signature);
  out->set_public_key_pem(public_key_pem);
}

LedgerServiceImpl::LedgerServiceImpl(Ledger* ledger,
                                     const merkle::Hash& service_token_hash,
                                     LedgerServiceOptions options)
    : ledger_(ledger),
      service_token_hash_(service_token_hash),
      options_(options) {}

void LedgerServiceImpl::Stop() { stopping_.store(true); }

absl::Status LedgerServiceImpl::Authorize(
    const grpc::ServerContext& context) const {
  absl::StatusOr<absl::string_view> token =
      BearerToken(MetadataValue(context, "authorization"));
  if (!token.ok()) return token.status();
  if (!TokenMatches(*token, service_token_hash_)) {
    return absl::PermissionDeniedError(
        "only the ledger's front services may append or read entries");
  }
  return absl::OkStatus();
}

namespace {

void FillReceipt(const AppendReceipt& receipt, pb::AppendReceipt* out) {
  out->set_first_seq(receipt.first_seq);
  out->set_entry_count(receipt.entry_count);
  out->set_tree_size(receipt.tree_size);
  out->set_append_time_micros(receipt.append_time_micros);
  out->set_replayed(receipt.replayed);
}

// The batches of an AppendStream call, as the ledger pulls them.
class StreamEntrySource final : public EntrySource {
 public:
  explicit StreamEntrySource(
      grpc::ServerReader<pb::AppendStreamMessage>* reader)
      : reader_(reader) {}

  absl::StatusOr<std::vector<AppendEntry>> Next(size_t max_entries) override {
    std::vector<AppendEntry> entries;
    while (entries.size() < max_entries) {
      if (next_ == pending_.batch().entries_size()) {
        if (done_) break;
        if (!reader_->Read(&pending_)) {
          done_ = true;
          break;
        }
        if (!pending_.has_batch()) {
          return absl::InvalidArgumentError(
              "only the first message of an append stream is a header");
        }
        next_ = 0;
        continue;
      }
      pb::AppendEntry* entry = pending_.mutable_batch()->mutable_entries(next_);
      entries.push_back(AppendEntry{std::move(*entry->mutable_kind()),
                                    std::move(*entry->mutable_payload())});
      ++next_;
    }
    return entries;
  }

 private:
  grpc::ServerReader<pb::AppendStreamMessage>* const reader_;
  pb::AppendStreamMessage pending_;
  int next_ = 0;
  bool done_ = false;
};

}  // namespace

grpc::Status LedgerServiceImpl::Append(grpc::ServerContext* context,
                                       const pb::AppendRequest* request,
                                       pb::AppendResponse* response) {
  if (absl::Status s = Authorize(*context); !s.ok()) return ToGrpcStatus(s);
  AppendRequest append;
  append.actor = request->actor();
  append.idempotency_key = request->idempotency_key();
  append.entries.reserve(request->entries_size());
  for (const pb::AppendEntry& entry : request->entries()) {
    append.entries.push_back(AppendEntry{entry.kind(), entry.payload()});
  }
  absl::StatusOr<AppendReceipt> receipt = ledger_->Append(append);
  if (!receipt.ok()) return ToGrpcStatus(receipt.status());
  FillReceipt(*receipt, response->mutable_receipt());
  return grpc::Status::OK;
}

grpc::Status LedgerServiceImpl::AppendStream(
    grpc::ServerContext* context,
    grpc::ServerReader<pb::AppendStreamMessage>* reader,
    pb::AppendResponse* response) {
  if (absl::Status s = Authorize(*context); !s.ok()) return ToGrpcStatus(s);
  pb::AppendStreamMessage first;
  if (!reader->Read(&first) || !first.has_header()) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        "an append stream starts with a message holding its header"));
  }
  StreamEntrySource source(reader);
  absl::StatusOr<AppendReceipt> receipt = ledger_->AppendStreamed(
      first.header().actor(), first.header().idempotency_key(),
      first.header().entry_count(), source);
  if (!receipt.ok()) return ToGrpcStatus(receipt.status());
  FillReceipt(*receipt, response->mutable_receipt());
  return grpc::Status::OK;
}

absl::StatusOr<uint64_t> LedgerServiceImpl::FillEntries(
    uint64_t begin_seq, uint64_t end_seq, uint32_t max_entries,
    google::protobuf::RepeatedPtrField<pb::StoredEntry>* out) const {
  if (max_entries == 0 || max_entries > options_.entries_per_response_max) {
    max_entries = options_.entries_per_response_max;
  }
  absl::StatusOr<std::vector<StoredEntry>> entries =
      ledger_->ReadEntries(begin_seq, end_seq, max_entries);
  if (!entries.ok()) return entries.status();
  size_t bytes = 0;
  uint64_t next_seq = begin_seq;
  for (StoredEntry& entry : *entries) {
    if (bytes > 0 &&
        bytes + entry.bytes.size() > options_.bytes_per_response_max) {
      break;
    }
    bytes += entry.bytes.size();
    pb::StoredEntry* stored = out->Add();
    *stored->mutable_entry() = std::move(entry.entry);
    stored->set_entry_bytes(std::move(entry.bytes));
    ++next_seq;
  }
  return next_seq;
}

grpc::Status LedgerServiceImpl::ReadEntries(
    grpc::ServerContext* context, const pb::ReadEntriesRequest* request,
    pb::ReadEntriesResponse* response) {
  if (absl::Status s = Authorize(*context); !s.ok()) return ToGrpcStatus(s);
  if (request->begin_seq() > request->end_seq()) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        absl::StrCat("begin_seq ", request->begin_seq(), " is after end_seq ",
                     request->end_seq())));
  }
  absl::StatusOr<uint64_t> next =
      FillEntries(request->begin_seq(), request->end_seq(),
                  request->max_entries(), response->mutable_entries());
  // Read after the entries, so that every entry returned is inside it.
  response->set_tree_size(ledger_->size());
  return ToGrpcStatus(next.status());
}

grpc::Status LedgerServiceImpl::FindEntries(
    grpc::ServerContext* context, const pb::FindEntriesRequest* request,
    pb::FindEntriesResponse* response) {
  if (absl::Status s = Authorize(*context); !s.ok()) return ToGrpcStatus(s);
  switch (request->key_case()) {
    case pb::FindEntriesRequest::kUniqueKey: {
      absl::StatusOr<uint64_t> seq = ledger_->FindUnique(request->unique_key());
      if (!seq.ok()) return ToGrpcStatus(seq.status());
      response->add_seqs(*seq);
      return grpc::Status::OK;
    }
    case pb::FindEntriesRequest::kLookupKey: {
      uint32_t max_results = request->max_results();
      if (max_results == 0 || max_results > options_.find_results_max) {
        max_results = options_.find_results_max;
      }
      absl::StatusOr<std::vector<uint64_t>> seqs = ledger_->FindByLookupKey(
          request->lookup_key(),
          request->has_after_seq()
              ? std::optional<uint64_t>(request->after_seq())
              : std::nullopt,
          max_results);
      if (!seqs.ok()) return ToGrpcStatus(seqs.status());
      response->mutable_seqs()->Add(seqs->begin(), seqs->end());
      return grpc::Status::OK;
    }
    case pb::FindEntriesRequest::KEY_NOT_SET:
      break;
  }
  return ToGrpcStatus(
      absl::InvalidArgumentError("key: set unique_key or lookup_key"));
}

grpc::Status LedgerServiceImpl::TailEntries(
    grpc::ServerContext* context, const pb::TailEntriesRequest* request,
    grpc::ServerWriter<pb::TailEntriesResponse>* writer) {
  if (absl::Status s = Authorize(*context); !s.ok()) return ToGrpcStatus(s);
  if (stopping_.load()) {
    return ToGrpcStatus(absl::UnavailableError("the server is stopping"));
  }
  uint64_t next_seq = request->from_seq();
  while (!context->IsCancelled() && !stopping_.load()) {
    const uint64_t size = ledger_->size();
    if (next_seq >= size) {
      ledger_->WaitForGrowth(size, absl::Now() + options_.tail_poll_interval);
      continue;
    }
    pb::TailEntriesResponse response;
    absl::StatusOr<uint64_t> next =
        FillEntries(next_seq, size, 0, response.mutable_entries());
    if (!next.ok()) return ToGrpcStatus(next.status());
    next_seq = *next;
    // A failed write means the client went away; there is no one to tell.
    if (!writer->Write(response)) return grpc::Status::OK;
  }
  return grpc::Status::OK;
}

grpc::Status LedgerServiceImpl::GetCheckpoint(
    grpc::ServerContext* /*context*/, const pb::GetCheckpointRequest* request,
    pb::GetCheckpointResponse* response) {
  absl::StatusOr<SignedCheckpoint> checkpoint =
      request->has_tree_size() ? ledger_->CheckpointAt(request->tree_size())
                               : ledger_->LatestCheckpoint();
  if (!checkpoint.ok()) return ToGrpcStatus(checkpoint.status());
  ToProto(*checkpoint, ledger_->verifier().public_key_pem(),
          response->mutable_checkpoint());
  return grpc::Status::OK;
}

grpc::Status LedgerServiceImpl::GetInclusionProof(
    grpc::ServerContext* /*context*/,
    const pb::GetInclusionProofRequest* request,
    pb::GetInclusionProofResponse* response) {
  const uint64_t tree_size =
      request->has_tree_size()
          ? request->tree_size()
          : ledger_->LatestCheckpoint().checkpoint.tree_size;
  absl::StatusOr<std::vector<merkle::Hash>> proof =
      ledger_->InclusionProof(request->leaf_index(), tree_size);
  if (!proof.ok()) return ToGrpcStatus(proof.status());
  response->set_leaf_index(request->leaf_index());
  response->set_tree_size(tree_size);
  AddHashes(*proof, response->mutable_hashes());
  return grpc::Status::OK;
}

grpc::Status LedgerServiceImpl::GetConsistencyProof(
    grpc::ServerContext* /*context*/,
    const pb::GetConsistencyProofRequest* request,
    pb::GetConsistencyProofResponse* response) {
  const uint64_t new_size =
      request->has_new_size()
          ? request->new_size()
          : ledger_->LatestCheckpoint().checkpoint.tree_size;
  absl::StatusOr<std::vector<merkle::Hash>> proof =
      ledger_->ConsistencyProof(request->old_size(), new_size);
  if (!proof.ok()) return ToGrpcStatus(proof.status());
  response->set_old_size(request->old_size());
  response->set_new_size(new_size);
  AddHashes(*proof, response->mutable_hashes());
  return grpc::Status::OK;
}

}  // namespace premium
