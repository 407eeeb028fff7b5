#include "services/upload_receiver.h"

#include <openssl/evp.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "ledger/money/decimal.h"
#include "ledger/premium/indexer.h"
#include "ledger/premium/validation.h"
#include "services/admin_service.h"

namespace premium {
namespace {

namespace pb = wsr::premium::v1;

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {
    EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr);
  }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  void Update(absl::string_view data) {
    EVP_DigestUpdate(ctx_, data.data(), data.size());
  }
  std::string HexDigest() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(ctx_, digest, &length);
    return absl::BytesToHexString(
        absl::string_view(reinterpret_cast<const char*>(digest), length));
  }

 private:
  EVP_MD_CTX* ctx_;
};

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

// Names the rows whose business id another upload already recorded: the
// ledger's refusal says only that one key was taken.
absl::Status ExplainTakenKeys(Upload& upload, LedgerClient& ledger,
                              const absl::Status& refusal) {
  const PremiumIndexer indexer;
  csv::ErrorList errors;
  for (size_t i = 0; i < upload.entries().size(); ++i) {
    wsr::premium::v1::Entry entry;
    entry.set_kind(upload.entries()[i].kind);
    entry.set_payload(upload.entries()[i].payload);
    DerivedKeys keys;
    if (!indexer.Derive(entry, &keys).ok()) continue;
    const bool purchase = entry.kind() == kPurchaseReportKind;
    const bool payment = entry.kind() == kPremiumPaymentKind;
    // A payroll line's one unique key is its code's hash, derived from the
    // idempotency key: it is taken only when that key was used before for
    // another file, which the ledger's own refusal says. The row is no
    // duplicate.
    if (!purchase && !payment) continue;
    for (const std::string& key : keys.unique_keys) {
      absl::StatusOr<uint64_t> holder = ledger.FindUnique(key);
      if (holder.ok()) {
        errors.Add(
            upload.lines()[i], purchase ? "invoice_id" : "payment_id",
            absl::StrCat(purchase ? "invoice" : "payment",
                         " is already recorded (ledger seq ", *holder, ")"));
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
  Upload upload(kind, LedgerUploadContext(ledger, principal));
  Sha256 content_hash;
  uint64_t file_bytes = 0;
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
    if (absl::Status s = upload.Feed(chunk.data()); !s.ok()) return s;
  }
  if (absl::Status s = upload.Finish(); !s.ok()) return s;

  AppendRequest append;
  append.actor = principal.actor();
  append.idempotency_key =
      header.request_id().empty()
          ? absl::StrCat("sha256:", content_hash.HexDigest())
          : header.request_id();
  append.entries = std::move(upload.entries());
  if (before_append) {
    if (absl::Status s = before_append(append.idempotency_key, &append.entries);
        !s.ok()) {
      return s;
    }
  }
  const size_t records = append.entries.size();
  absl::StatusOr<AppendReceipt> receipt = ledger.Append(append);
  if (absl::IsAlreadyExists(receipt.status())) {
    upload.entries() = std::move(append.entries);
    return ExplainTakenKeys(upload, ledger, receipt.status());
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
