#include "services/supplier_service.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "ledger/money/decimal.h"
#include "ledger/premium/indexer.h"
#include "services/brand_service.h"
#include "services/grpc_status.h"
#include "services/paystub_code.h"
#include "services/record_pages.h"
#include "wsr/premium/v1/records.pb.h"

namespace premium {

namespace pb = wsr::premium::v1;

namespace {

constexpr int32_t kCodesPageMax = 10'000;

void FillCode(const pb::PayrollLine& line, const std::string& code,
              pb::PaystubCode* out) {
  out->set_worker_id(line.worker_id());
  out->set_program_id(line.program_id());
  out->set_period_start(line.period_start());
  out->set_period_end(line.period_end());
  out->set_code(code);
  out->set_line(line.source_line());
}

}  // namespace

SupplierServiceImpl::SupplierServiceImpl(LedgerClient* ledger,
                                         Authenticator* authenticator,
                                         const ServerSecret* secret,
                                         UploadLimits limits)
    : ledger_(ledger),
      authenticator_(authenticator),
      secret_(secret),
      limits_(limits) {}

grpc::Status SupplierServiceImpl::UploadPayroll(
    grpc::ServerContext* context, grpc::ServerReader<pb::UploadChunk>* reader,
    pb::UploadPayrollResponse* response) {
  const ScopedCallDeadline deadline(*context);
  absl::StatusOr<Principal> supplier = authenticator_->Authenticate(*context);
  if (!supplier.ok()) return ToGrpcStatus(supplier.status());
  if (absl::Status s = Authenticator::Require(*supplier, {pb::SUPPLIER});
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  // Each line gets its code once the upload's idempotency key is known; the
  // ledger keeps only the code's hash. Codes of a file small enough to be
  // appended inline are returned inline too.
  const auto attach_codes = [&](absl::string_view idempotency_key,
                                uint64_t first_index,
                                std::vector<AppendEntry>* entries) {
    for (size_t i = 0; i < entries->size(); ++i) {
      pb::PayrollLine line;
      if (!line.ParseFromString((*entries)[i].payload)) {
        return absl::InternalError("a payroll line does not parse");
      }
      const std::string code = DerivePaystubCode(
          *secret_, supplier->party_id, idempotency_key, first_index + i);
      const merkle::Hash hash = PaystubCodeHash(*NormalizePaystubCode(code));
      line.set_code_sha256(std::string(merkle::HashBytes(hash)));
      (*entries)[i].payload = line.SerializeAsString();
      if (first_index + i < limits_.inline_records_max) {
        FillCode(line, code, response->add_codes());
      }
    }
    return absl::OkStatus();
  };
  absl::StatusOr<pb::UploadReceipt> receipt =
      ReceiveUpload(reader, *supplier, Upload::Kind::kPayroll, *ledger_,
                    limits_, attach_codes);
  if (!receipt.ok()) return ToGrpcStatus(receipt.status());
  if (static_cast<uint64_t>(response->codes_size()) != receipt->records()) {
    response->clear_codes();
    response->set_codes_paged(true);
  }
  const uint64_t first_seq = receipt->ledger().first_seq();
  for (int i = 0; i < response->codes_size(); ++i) {
    response->mutable_codes(i)->set_seq(first_seq + static_cast<uint64_t>(i));
  }
  *response->mutable_receipt() = *std::move(receipt);
  return grpc::Status::OK;
}

grpc::Status SupplierServiceImpl::ListPaystubCodes(
    grpc::ServerContext* context, const pb::ListPaystubCodesRequest* request,
    pb::ListPaystubCodesResponse* response) {
  const ScopedCallDeadline deadline(*context);
  absl::StatusOr<Principal> supplier = authenticator_->Authenticate(*context);
  if (!supplier.ok()) return ToGrpcStatus(supplier.status());
  if (absl::Status s = Authenticator::Require(*supplier, {pb::SUPPLIER});
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (request->page_size() < 0 || request->page_size() > kCodesPageMax) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        absl::StrCat("page_size must be 0 to ", kCodesPageMax)));
  }
  const uint64_t page_size =
      request->page_size() == 0 ? kCodesPageMax : request->page_size();
  uint64_t offset = 0;
  if (!request->page_token().empty() &&
      !absl::SimpleAtoi(request->page_token(), &offset)) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        "page_token: not a token this service returned"));
  }
  // Another party's upload, or no upload at all, look the same: NotFound.
  const auto not_found = [&] {
    return ToGrpcStatus(absl::NotFoundError(absl::StrCat(
        "no payroll upload of yours starts at seq ", request->first_seq())));
  };
  absl::StatusOr<StoredEntry> first =
      ReadOneEntry(*ledger_, request->first_seq());
  if (!first.ok()) {
    return absl::IsNotFound(first.status()) ||
                   absl::IsOutOfRange(first.status())
               ? not_found()
               : ToGrpcStatus(first.status());
  }
  const pb::Entry& head = first->entry;
  if (head.kind() != kPayrollLineKind || head.actor() != supplier->actor() ||
      head.request_index() != 0) {
    return not_found();
  }
  const uint64_t count = head.request_entry_count();
  if (offset > count) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        "page_token: not a token this service returned"));
  }
  const uint64_t end = std::min(count, offset + page_size);
  for (uint64_t next = offset; next < end;) {
    absl::StatusOr<std::vector<StoredEntry>> entries = ledger_->ReadEntries(
        request->first_seq() + next, request->first_seq() + end, 0);
    if (!entries.ok()) return ToGrpcStatus(entries.status());
    if (entries->empty()) {
      return ToGrpcStatus(absl::DataLossError(absl::StrCat(
          "the upload at seq ", request->first_seq(), " is missing entries")));
    }
    for (const StoredEntry& stored : *entries) {
      const pb::Entry& entry = stored.entry;
      pb::PayrollLine line;
      if (entry.kind() != kPayrollLineKind ||
          entry.idempotency_key() != head.idempotency_key() ||
          entry.request_index() != next ||
          !line.ParseFromString(entry.payload())) {
        return ToGrpcStatus(absl::DataLossError(absl::StrCat(
            "entry ", entry.seq(), " does not belong to the upload at seq ",
            request->first_seq())));
      }
      const std::string code = DerivePaystubCode(*secret_, supplier->party_id,
                                                 head.idempotency_key(), next);
      pb::PaystubCode* out = response->add_codes();
      FillCode(line, code, out);
      out->set_seq(entry.seq());
      ++next;
    }
  }
  if (end < count) response->set_next_page_token(absl::StrCat(end));
  return grpc::Status::OK;
}

grpc::Status SupplierServiceImpl::ListPayrollLines(
    grpc::ServerContext* context, const pb::ListOwnRecordsRequest* request,
    pb::ListPayrollLinesResponse* response) {
  const ScopedCallDeadline deadline(*context);
  absl::StatusOr<Principal> supplier = authenticator_->Authenticate(*context);
  if (!supplier.ok()) return ToGrpcStatus(supplier.status());
  if (absl::Status s = Authenticator::Require(*supplier, {pb::SUPPLIER});
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<int> page_size = PageSize(request->page_size());
  if (!page_size.ok()) return ToGrpcStatus(page_size.status());
  absl::StatusOr<std::optional<uint64_t>> after =
      ParsePageToken(request->page_token());
  if (!after.ok()) return ToGrpcStatus(after.status());
  absl::StatusOr<std::string> next =
      WalkPage(*ledger_, PayrollKey(supplier->party_id), *after, *page_size,
               [&](const StoredEntry& stored) -> absl::StatusOr<bool> {
                 pb::PayrollLine line;
                 if (stored.entry.kind() != kPayrollLineKind) return false;
                 if (!line.ParseFromString(stored.entry.payload())) {
                   return absl::DataLossError(absl::StrCat(
                       "entry ", stored.entry.seq(), " does not parse"));
                 }
                 pb::PayrollLineRecord* out = response->add_lines();
                 out->set_seq(stored.entry.seq());
                 out->set_program_id(line.program_id());
                 out->set_worker_id(line.worker_id());
                 out->set_period_start(line.period_start());
                 out->set_period_end(line.period_end());
                 out->set_pay_date(line.pay_date());
                 out->set_hours(FormatMicros(line.hours_micros(), 2));
                 out->set_gross_wages(
                     AmountText(line.gross_wages_micros(), line.currency()));
                 out->set_premium_amount(
                     AmountText(line.premium_micros(), line.currency()));
                 out->set_currency(line.currency());
                 return true;
               });
  if (!next.ok()) return ToGrpcStatus(next.status());
  response->set_next_page_token(*next);
  return grpc::Status::OK;
}

grpc::Status SupplierServiceImpl::ListPaymentsReceived(
    grpc::ServerContext* context, const pb::ListOwnRecordsRequest* request,
    pb::ListPaymentsResponse* response) {
  const ScopedCallDeadline deadline(*context);
  absl::StatusOr<Principal> supplier = authenticator_->Authenticate(*context);
  if (!supplier.ok()) return ToGrpcStatus(supplier.status());
  if (absl::Status s = Authenticator::Require(*supplier, {pb::SUPPLIER});
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  return ToGrpcStatus(ListPaymentsUnder(
      *ledger_, SupplierKey(supplier->party_id), *request, response));
}

}  // namespace premium
