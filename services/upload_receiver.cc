#include "services/upload_receiver.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "ledger/merkle/hasher.h"
#include "ledger/money/decimal.h"
#include "ledger/premium/indexer.h"
#include "ledger/premium/validation.h"
#include "services/admin_service.h"
#include "services/spool.h"

namespace premium {
namespace {

namespace pb = wsr::premium::v1;

UploadContext LedgerUploadContext(LedgerClient& ledger,
                                  const Principal& principal) {
  UploadContext context;
  context.party_id = principal.party_id;
  context.program = [&ledger](absl::string_view program_id) {
    return LoadProgramHistory(ledger, program_id);
  };
  context.supplier = [&ledger](absl::string_view supplier_id) -> absl::Status {
    absl::StatusOr<uint64_t> seq = ledger.FindUnique(PartyKey(supplier_id));
    if (!seq.ok()) return seq.status();
    absl::StatusOr<StoredEntry> entry = ReadOneEntry(ledger, *seq);
    if (!entry.ok()) return entry.status();
    pb::PartyRegistration party;
    if (!party.ParseFromString(entry->entry.payload()) ||
        party.role() != pb::SUPPLIER) {
      return absl::NotFoundError(
          absl::StrCat("\"", supplier_id, "\" is not a supplier"));
    }
    return absl::OkStatus();
  };
  return context;
}

// The records of a spooled file, parsed again a batch at a time and
// completed by `before_append`. The file was validated whole before, so
// parsing it again must succeed; a difference is an internal error.
class SpoolSource final : public EntrySource {
 public:
  static constexpr size_t kReadBytes = 1 << 20;

  SpoolSource(const Spool* spool, Upload::Kind kind, UploadContext context,
              std::string idempotency_key, const BeforeAppend* before_append)
      : spool_(spool),
        upload_(kind, std::move(context)),
        idempotency_key_(std::move(idempotency_key)),
        before_append_(before_append) {}

  absl::StatusOr<std::vector<AppendEntry>> Next(size_t max_entries) override {
    std::vector<AppendEntry> batch;
    std::vector<uint64_t> lines;
    if (absl::Status s = NextWithLines(max_entries, &batch, &lines); !s.ok()) {
      return s;
    }
    return batch;
  }

  // As Next, with each entry's line of the file.
  absl::Status NextWithLines(size_t max_entries,
                             std::vector<AppendEntry>* batch,
                             std::vector<uint64_t>* lines) {
    while (pending_.size() - taken_ < max_entries && !finished_) {
      absl::StatusOr<std::string> chunk = spool_->Read(offset_, kReadBytes);
      if (!chunk.ok()) return chunk.status();
      offset_ += chunk->size();
      absl::Status parsed =
          chunk->empty() ? upload_.Finish() : upload_.Feed(*chunk);
      if (!parsed.ok()) {
        return absl::InternalError(absl::StrCat(
            "the spooled upload no longer parses: ", parsed.message()));
      }
      finished_ = chunk->empty();
      if (taken_ > 0) {
        pending_.erase(pending_.begin(), pending_.begin() + taken_);
        pending_lines_.erase(pending_lines_.begin(),
                             pending_lines_.begin() + taken_);
        taken_ = 0;
      }
      upload_.TakeRecords(&pending_, &pending_lines_);
    }
    const size_t count = std::min(max_entries, pending_.size() - taken_);
    for (size_t i = 0; i < count; ++i) {
      batch->push_back(std::move(pending_[taken_ + i]));
      lines->push_back(pending_lines_[taken_ + i]);
    }
    taken_ += count;
    if (before_append_ != nullptr && *before_append_ && !batch->empty()) {
      if (absl::Status s = (*before_append_)(idempotency_key_, given_, batch);
          !s.ok()) {
        return s;
      }
    }
    given_ += batch->size();
    return absl::OkStatus();
  }

 private:
  const Spool* const spool_;
  Upload upload_;
  const std::string idempotency_key_;
  const BeforeAppend* const before_append_;
  uint64_t offset_ = 0;
  bool finished_ = false;
  std::vector<AppendEntry> pending_;
  std::vector<uint64_t> pending_lines_;
  size_t taken_ = 0;
  uint64_t given_ = 0;
};

// Names the rows whose business id another upload already recorded: the
// ledger's refusal says only that one key was taken. `next_batch` yields the
// file's records and their lines, a batch at a time, none at the end.
absl::Status ExplainTakenKeys(
    const std::function<absl::Status(std::vector<AppendEntry>*,
                                     std::vector<uint64_t>*)>& next_batch,
    LedgerClient& ledger, const absl::Status& refusal) {
  const PremiumIndexer indexer;
  csv::ErrorList errors;
  for (;;) {
    std::vector<AppendEntry> entries;
    std::vector<uint64_t> lines;
    if (absl::Status s = next_batch(&entries, &lines); !s.ok()) return s;
    if (entries.empty()) break;
    for (size_t i = 0; i < entries.size(); ++i) {
      wsr::premium::v1::Entry entry;
      entry.set_kind(entries[i].kind);
      entry.set_payload(entries[i].payload);
      const bool purchase = entry.kind() == kPurchaseReportKind;
      const bool payment = entry.kind() == kPremiumPaymentKind;
      // A payroll line's one unique key is its code's hash, derived from the
      // idempotency key: it is taken only when that key was used before for
      // another file, which the ledger's own refusal says. The row is no
      // duplicate.
      if (!purchase && !payment) continue;
      DerivedKeys keys;
      if (!indexer.Derive(entry, &keys).ok()) continue;
      for (const std::string& key : keys.unique_keys) {
        absl::StatusOr<uint64_t> holder = ledger.FindUnique(key);
        if (holder.ok()) {
          errors.Add(
              lines[i], purchase ? "invoice_id" : "payment_id",
              absl::StrCat(purchase ? "invoice" : "payment",
                           " is already recorded (ledger seq ", *holder, ")"));
        }
      }
    }
  }
  return errors.empty() ? refusal : errors.ToStatus();
}

}  // namespace

absl::StatusOr<pb::UploadReceipt> ReceiveUpload(
    grpc::ServerReader<pb::UploadChunk>* reader, const Principal& principal,
    Upload::Kind kind, LedgerClient& ledger, const UploadLimits& limits,
    const BeforeAppend& before_append) {
  assert(limits.inline_records_max >= 1);
  pb::UploadChunk chunk;
  if (!reader->Read(&chunk) || !chunk.has_header()) {
    return absl::InvalidArgumentError(
        "an upload starts with a message holding its header");
  }
  const pb::UploadHeader header = chunk.header();
  if (!header.request_id().empty()) {
    if (absl::Status s = ValidateRequestId(header.request_id()); !s.ok()) {
      return s;
    }
  }
  absl::StatusOr<std::unique_ptr<Spool>> spool = Spool::Create();
  if (!spool.ok()) return spool.status();
  Upload upload(kind, LedgerUploadContext(ledger, principal));
  merkle::Sha256Stream content_hash;
  uint64_t file_bytes = 0;
  // Up to limits.inline_records_max records stay in memory for one Append; past
  // it the file is validated only, and its records made again from the spool.
  bool streamed = false;
  std::vector<AppendEntry> entries;
  std::vector<uint64_t> lines;
  while (reader->Read(&chunk)) {
    if (!chunk.has_data()) {
      return absl::InvalidArgumentError("only the first message is a header");
    }
    file_bytes += chunk.data().size();
    if (chunk.data().size() > limits.chunk_bytes_max ||
        file_bytes > limits.file_bytes_max) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "the file is larger than the limit of ", limits.file_bytes_max,
          " bytes (or a message is over ", limits.chunk_bytes_max, ")"));
    }
    content_hash.Update(chunk.data());
    if (absl::Status s = (*spool)->Append(chunk.data()); !s.ok()) return s;
    if (absl::Status s = upload.Feed(chunk.data()); !s.ok()) return s;
    upload.TakeRecords(&entries, &lines);
    streamed |= upload.record_count() > limits.inline_records_max;
    if (streamed) {
      entries.clear();
      lines.clear();
    }
  }
  if (absl::Status s = upload.Finish(); !s.ok()) return s;
  upload.TakeRecords(&entries, &lines);
  // A last line without a line break is counted only by Finish.
  streamed |= upload.record_count() > limits.inline_records_max;

  const std::string idempotency_key =
      header.request_id().empty()
          ? absl::StrCat("sha256:", merkle::HashToHex(content_hash.Finish()))
          : header.request_id();
  const uint64_t records = upload.record_count();
  absl::StatusOr<AppendReceipt> receipt;
  if (!streamed) {
    AppendRequest append;
    append.actor = principal.actor();
    append.idempotency_key = idempotency_key;
    append.entries = std::move(entries);
    if (before_append) {
      if (absl::Status s =
              before_append(append.idempotency_key, 0, &append.entries);
          !s.ok()) {
        return s;
      }
    }
    receipt = ledger.Append(append);
    if (absl::IsAlreadyExists(receipt.status())) {
      bool given = false;
      return ExplainTakenKeys(
          [&](std::vector<AppendEntry>* batch,
              std::vector<uint64_t>* batch_lines) {
            if (!given) {
              *batch = std::move(append.entries);
              *batch_lines = std::move(lines);
              given = true;
            }
            return absl::OkStatus();
          },
          ledger, receipt.status());
    }
  } else {
    SpoolSource source(spool->get(), kind,
                       LedgerUploadContext(ledger, principal), idempotency_key,
                       &before_append);
    receipt = ledger.AppendStreamed(principal.actor(), idempotency_key, records,
                                    source);
    if (absl::IsAlreadyExists(receipt.status())) {
      SpoolSource again(spool->get(), kind,
                        LedgerUploadContext(ledger, principal), idempotency_key,
                        nullptr);
      return ExplainTakenKeys(
          [&](std::vector<AppendEntry>* batch,
              std::vector<uint64_t>* batch_lines) {
            return again.NextWithLines(SpoolSource::kReadBytes / 64, batch,
                                       batch_lines);
          },
          ledger, receipt.status());
    }
  }
  if (!receipt.ok()) return receipt.status();

  pb::UploadReceipt out;
  out.set_records(records);
  out.set_replayed(receipt->replayed);
  pb::AppendReceipt* ledger_receipt = out.mutable_ledger();
  ledger_receipt->set_first_seq(receipt->first_seq);
  ledger_receipt->set_entry_count(receipt->entry_count);
  ledger_receipt->set_tree_size(receipt->tree_size);
  ledger_receipt->set_append_time_micros(receipt->append_time_micros);
  ledger_receipt->set_replayed(receipt->replayed);
  for (const auto& [currency, micros] : upload.totals_micros()) {
    const absl::StatusOr<int> digits =
        CurrencyMinorDigits("currency", currency);
    (*out.mutable_totals())[currency] =
        FormatMicros(micros, digits.ok() ? *digits : 2);
  }
  return out;
}

}  // namespace premium
