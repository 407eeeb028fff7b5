#include "services/worker_service.h"

#include "absl/container/btree_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "ledger/money/decimal.h"
#include "ledger/premium/indexer.h"
#include "ledger/premium/validation.h"
#include "services/grpc_status.h"
#include "services/ledger_service.h"
#include "services/paystub_code.h"

namespace premium {
namespace {

namespace pb = wsr::premium::v1;

// Lines of one worker at one supplier shown at most: ten years of weekly
// pay is about 520.
constexpr size_t kWorkerLinesMax = 5000;

int MinorDigits(absl::string_view currency) {
  const absl::StatusOr<int> digits = CurrencyMinorDigits("currency", currency);
  return digits.ok() ? *digits : 2;
}

void FillLine(const pb::PayrollLine& line, uint64_t seq, pb::WorkerLine* out) {
  out->set_program_id(line.program_id());
  out->set_period_start(line.period_start());
  out->set_period_end(line.period_end());
  out->set_pay_date(line.pay_date());
  out->set_hours(FormatMicros(line.hours_micros(), 2));
  out->set_premium_amount(
      FormatMicros(line.premium_micros(), MinorDigits(line.currency())));
  out->set_currency(line.currency());
  out->set_seq(seq);
}

}  // namespace

WorkerServiceImpl::WorkerServiceImpl(LedgerClient* ledger,
                                     FailureLimitOptions limits)
    : ledger_(ledger), failures_(std::move(limits)) {}

absl::StatusOr<WorkerServiceImpl::CodeLine> WorkerServiceImpl::FindLine(
    const grpc::ServerContext& context, absl::string_view code) {
  const std::string source = PeerAddress(context.peer());
  if (absl::Status s = failures_.Check(source); !s.ok()) return s;
  absl::StatusOr<std::string> canonical = NormalizePaystubCode(code);
  if (!canonical.ok()) {
    failures_.RecordFailure(source);
    return canonical.status();
  }
  const merkle::Hash hash = PaystubCodeHash(*canonical);
  absl::StatusOr<uint64_t> seq = ledger_->FindUnique(CodeKey(absl::string_view(
      reinterpret_cast<const char*>(hash.data()), hash.size())));
  if (absl::IsNotFound(seq.status())) {
    failures_.RecordFailure(source);
    return absl::NotFoundError("no payroll line has this code");
  }
  if (!seq.ok()) return seq.status();
  CodeLine found;
  found.seq = *seq;
  absl::StatusOr<StoredEntry> entry = ReadOneEntry(*ledger_, *seq);
  if (!entry.ok()) return entry.status();
  found.entry = *std::move(entry);
  if (found.entry.entry.kind() != kPayrollLineKind ||
      !found.line.ParseFromString(found.entry.entry.payload())) {
    return absl::DataLossError(
        absl::StrCat("entry ", *seq, " is not a payroll line"));
  }
  return found;
}

grpc::Status WorkerServiceImpl::LookupCode(grpc::ServerContext* context,
                                           const pb::LookupCodeRequest* request,
                                           pb::WorkerLookup* response) {
  const ScopedCallDeadline deadline(*context);
  absl::StatusOr<CodeLine> found = FindLine(*context, request->code());
  if (!found.ok()) return ToGrpcStatus(found.status());
  const pb::PayrollLine& line = found->line;
  response->set_supplier_id(line.supplier_id());
  response->set_worker_id(line.worker_id());
  FillLine(line, found->seq, response->mutable_line());
  response->set_entry_bytes(found->entry.bytes);

  absl::StatusOr<std::vector<StoredEntry>> entries =
      ledger_->ReadByLookupKey(WorkerKey(line.supplier_id(), line.worker_id()),
                               std::nullopt, kWorkerLinesMax);
  if (!entries.ok()) return ToGrpcStatus(entries.status());
  absl::btree_map<std::string, int64_t> totals_micros;
  for (const StoredEntry& entry : *entries) {
    const uint64_t seq = entry.entry.seq();
    pb::PayrollLine other;
    if (entry.entry.kind() != kPayrollLineKind ||
        !other.ParseFromString(entry.entry.payload())) {
      continue;  // disputes and other records of the worker are not lines
    }
    FillLine(other, seq, response->add_lines());
    absl::StatusOr<int64_t> sum =
        CheckedAdd(totals_micros[other.currency()], other.premium_micros());
    if (!sum.ok()) return ToGrpcStatus(sum.status());
    totals_micros[other.currency()] = *sum;
  }
  for (const auto& [currency, micros] : totals_micros) {
    (*response->mutable_totals())[currency] =
        FormatMicros(micros, MinorDigits(currency));
  }

  absl::StatusOr<SignedCheckpoint> checkpoint = ledger_->LatestCheckpoint();
  if (!checkpoint.ok()) return ToGrpcStatus(checkpoint.status());
  const uint64_t tree_size = checkpoint->checkpoint.tree_size;
  absl::StatusOr<std::vector<merkle::Hash>> proof =
      ledger_->InclusionProof(found->seq, tree_size);
  if (!proof.ok()) return ToGrpcStatus(proof.status());
  pb::InclusionProof* out = response->mutable_inclusion_proof();
  out->set_leaf_index(found->seq);
  out->set_tree_size(tree_size);
  for (const merkle::Hash& hash : *proof) {
    out->add_hashes(std::string(merkle::HashBytes(hash)));
  }
  absl::StatusOr<std::string> public_key = ledger_->PublicKeyPem();
  if (!public_key.ok()) return ToGrpcStatus(public_key.status());
  ToProto(*checkpoint, *public_key, response->mutable_checkpoint());
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::DisputeLine(
    grpc::ServerContext* context, const pb::DisputeLineRequest* request,
    pb::DisputeLineResponse* response) {
  const ScopedCallDeadline deadline(*context);
  absl::StatusOr<CodeLine> found = FindLine(*context, request->code());
  if (!found.ok()) return ToGrpcStatus(found.status());
  const pb::PayrollLine& line = found->line;
  absl::StatusOr<int64_t> amount =
      ParseMicros(std::string_view(request->paystub_amount()),
                  AmountSpec(MinorDigits(line.currency())));
  if (!amount.ok()) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        absl::StrCat("paystub_amount: ", amount.status().message())));
  }
  if (!request->note().empty()) {
    if (absl::Status s = ValidateText("note", request->note(), kNoteLengthMax);
        !s.ok()) {
      return ToGrpcStatus(s);
    }
  }
  pb::WorkerDispute dispute;
  dispute.set_line_seq(found->seq);
  dispute.set_supplier_id(line.supplier_id());
  dispute.set_program_id(line.program_id());
  dispute.set_worker_id(line.worker_id());
  dispute.set_period_start(line.period_start());
  dispute.set_period_end(line.period_end());
  dispute.set_paystub_amount_micros(*amount);
  dispute.set_note(request->note());
  const std::string payload = dispute.SerializeAsString();
  // The same dispute sent twice is recorded once.
  const merkle::Hash key_hash = merkle::HashLeaf(payload);
  AppendRequest append;
  append.actor =
      absl::StrCat("worker:", line.worker_id(), "@", line.supplier_id());
  // Two ids of up to kIdLengthMax do not always fit in an actor; the
  // dispute names the supplier either way.
  static_assert(sizeof("worker:") - 1 + kIdLengthMax <= kActorLengthMax);
  if (append.actor.size() > kActorLengthMax) {
    append.actor = absl::StrCat("worker:", line.worker_id());
  }
  append.idempotency_key = absl::StrCat(
      "dispute:", absl::BytesToHexString(absl::string_view(
                      reinterpret_cast<const char*>(key_hash.data()), 16)));
  append.entries.push_back(AppendEntry{kWorkerDisputeKind, payload});
  absl::StatusOr<AppendReceipt> receipt = ledger_->Append(append);
  if (!receipt.ok()) return ToGrpcStatus(receipt.status());
  response->set_seq(receipt->first_seq);
  response->set_replayed(receipt->replayed);
  return grpc::Status::OK;
}

}  // namespace premium
