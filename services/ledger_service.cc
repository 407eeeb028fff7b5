#include "services/ledger_service.h"

#include <algorithm>
#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "services/credentials.h"
#include "services/grpc_status.h"
#include "services/spool.h"

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

// Entries of an AppendStream call, a batch message at a time, as the
// ledger pulls them. `next` gives the next batch, false at the end.
class BatchEntrySource final : public EntrySource {
 public:
  using NextBatch = std::function<absl::StatusOr<bool>(pb::AppendEntryBatch*)>;
  explicit BatchEntrySource(NextBatch next) : next_(std::move(next)) {}

  absl::StatusOr<std::vector<AppendEntry>> Next(size_t max_entries) override {
    std::vector<AppendEntry> entries;
    while (entries.size() < max_entries) {
      if (index_ == batch_.entries_size()) {
        if (done_) break;
        absl::StatusOr<bool> more = next_(&batch_);
        if (!more.ok()) return more.status();
        index_ = 0;
        if (!*more) {
          batch_.Clear();
          done_ = true;
        }
        continue;
      }
      pb::AppendEntry* entry = batch_.mutable_entries(index_++);
      entries.push_back(AppendEntry{std::move(*entry->mutable_kind()),
                                    std::move(*entry->mutable_payload())});
    }
    return entries;
  }

 private:
  const NextBatch next_;
  pb::AppendEntryBatch batch_;
  int index_ = 0;
  bool done_ = false;
};

// Spooled streams are at most this large: the ledger's own limit of one
// streamed request is smaller than any disk this would fill.
constexpr uint64_t kSpoolBytesMax = uint64_t{16} << 30;

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
  // The stream is read whole into a spool before the ledger takes its
  // write turn: a slow or stalled front must not hold every other append
  // up. Each batch is kept as a 4-byte length and the batch message.
  absl::StatusOr<std::unique_ptr<Spool>> spool = Spool::Create();
  if (!spool.ok()) return ToGrpcStatus(spool.status());
  const uint64_t announced = first.header().entry_count();
  uint64_t received = 0;
  pb::AppendStreamMessage message;
  std::string record;
  while (reader->Read(&message)) {
    if (!message.has_batch()) {
      return ToGrpcStatus(absl::InvalidArgumentError(
          "only the first message of an append stream is a header"));
    }
    received += static_cast<uint64_t>(message.batch().entries_size());
    if (received > announced) {
      return ToGrpcStatus(absl::InvalidArgumentError(
          absl::StrCat("the stream holds more than the ", announced,
                       " entries its header announced")));
    }
    const std::string batch = message.batch().SerializeAsString();
    if ((*spool)->size() + batch.size() + 4 > kSpoolBytesMax) {
      return ToGrpcStatus(absl::ResourceExhaustedError(absl::StrCat(
          "the stream is over the limit of ", kSpoolBytesMax, " bytes")));
    }
    record.clear();
    for (int shift = 0; shift < 32; shift += 8) {
      record.push_back(static_cast<char>((batch.size() >> shift) & 0xff));
    }
    record.append(batch);
    if (absl::Status s = (*spool)->Append(record); !s.ok()) {
      return ToGrpcStatus(s);
    }
  }
  uint64_t offset = 0;
  BatchEntrySource source(
      [&](pb::AppendEntryBatch* batch) -> absl::StatusOr<bool> {
        if (offset == (*spool)->size()) return false;
        absl::StatusOr<std::string> length = (*spool)->Read(offset, 4);
        if (!length.ok()) return length.status();
        if (length->size() != 4) return absl::DataLossError("spool truncated");
        uint32_t bytes = 0;
        for (int i = 3; i >= 0; --i) {
          bytes = (bytes << 8) | static_cast<uint8_t>((*length)[i]);
        }
        absl::StatusOr<std::string> data = (*spool)->Read(offset + 4, bytes);
        if (!data.ok()) return data.status();
        if (data->size() != bytes || !batch->ParseFromString(*data)) {
          return absl::DataLossError("spool truncated");
        }
        offset += 4 + bytes;
        return true;
      });
  absl::StatusOr<AppendReceipt> receipt = ledger_->AppendStreamed(
      first.header().actor(), first.header().idempotency_key(), announced,
      source);
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
  return begin_seq + AddWithinLimits(*entries, out);
}

size_t LedgerServiceImpl::AddWithinLimits(
    std::vector<StoredEntry>& entries,
    google::protobuf::RepeatedPtrField<pb::StoredEntry>* out) const {
  size_t bytes = 0;
  size_t added = 0;
  for (StoredEntry& entry : entries) {
    if (bytes > 0 &&
        bytes + entry.bytes.size() > options_.bytes_per_response_max) {
      break;
    }
    bytes += entry.bytes.size();
    pb::StoredEntry* stored = out->Add();
    *stored->mutable_entry() = std::move(entry.entry);
    stored->set_entry_bytes(std::move(entry.bytes));
    ++added;
  }
  return added;
}

grpc::Status LedgerServiceImpl::ReadEntries(
    grpc::ServerContext* context, const pb::ReadEntriesRequest* request,
    pb::ReadEntriesResponse* response) {
  if (absl::Status s = Authorize(*context); !s.ok()) return ToGrpcStatus(s);
  if (!request->seqs().empty()) {
    if (request->begin_seq() != 0 || request->end_seq() != 0 ||
        request->max_entries() != 0) {
      return ToGrpcStatus(absl::InvalidArgumentError(
          "seqs: give either seqs or begin_seq and end_seq, not both"));
    }
    const size_t count = std::min<size_t>(request->seqs().size(),
                                          options_.entries_per_response_max);
    absl::StatusOr<std::vector<StoredEntry>> entries = ledger_->ReadEntriesAt(
        absl::MakeConstSpan(request->seqs().data(), count));
    if (!entries.ok()) return ToGrpcStatus(entries.status());
    AddWithinLimits(*entries, response->mutable_entries());
    response->set_tree_size(ledger_->size());
    return grpc::Status::OK;
  }
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
  // A call without a deadline has a far-future one.
  const absl::Time call_deadline = absl::FromChrono(context->deadline());
  uint64_t next_seq = request->from_seq();
  while (!context->IsCancelled() && !stopping_.load()) {
    const uint64_t size = ledger_->size();
    if (next_seq >= size) {
      // Waking at the call's deadline, not up to a poll interval after it,
      // frees this handler thread for the next call as soon as the caller
      // has given up; otherwise a burst of calls that end together finds
      // their threads still asleep and gRPC starts new ones.
      const absl::Time now = absl::Now();
      if (now >= call_deadline) {
        return ToGrpcStatus(absl::DeadlineExceededError(
            "the call's deadline passed while waiting for entries"));
      }
      ledger_->WaitForGrowth(
          size, std::min(now + options_.tail_poll_interval, call_deadline));
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
