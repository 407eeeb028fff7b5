#include "services/brand_service.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "ledger/money/decimal.h"
#include "ledger/premium/indexer.h"
#include "ledger/premium/standing.h"
#include "ledger/premium/validation.h"
#include "services/admin_service.h"
#include "services/grpc_status.h"
#include "services/record_pages.h"

namespace premium {

namespace pb = wsr::premium::v1;

namespace {

void FillPeriod(const SuspensionPeriod& period, pb::SuspensionPeriod* out) {
  out->set_from_date(FormatDate(period.from));
  if (period.to.has_value()) out->set_to_date(FormatDate(*period.to));
  out->set_reason(period.reason);
  out->set_suspension_seq(period.suspension_seq);
  out->set_reinstatement_seq(period.reinstatement_seq);
}

}  // namespace

absl::StatusOr<std::string> CurrencyCache::Of(absl::string_view program_id) {
  auto it = currencies_.find(program_id);
  if (it != currencies_.end()) return it->second;
  absl::StatusOr<ProgramHistory> history =
      LoadProgramHistory(*ledger_, program_id);
  if (!history.ok()) return history.status();
  const std::string currency = history->first().version.currency();
  currencies_.emplace(std::string(program_id), currency);
  return currency;
}

std::string AmountText(int64_t micros, absl::string_view currency) {
  absl::StatusOr<int> digits = CurrencyMinorDigits("currency", currency);
  return FormatMicros(micros, digits.ok() ? *digits : 2);
}

namespace {

void FillPayment(uint64_t seq, const pb::PremiumPayment& payment,
                 pb::Payment* out) {
  out->set_seq(seq);
  out->set_brand_id(payment.brand_id());
  out->set_payment_id(payment.payment_id());
  out->set_supplier_id(payment.supplier_id());
  out->set_program_id(payment.program_id());
  out->set_paid_date(payment.paid_date());
  out->set_amount(AmountText(payment.amount_micros(), payment.currency()));
  out->set_currency(payment.currency());
}

}  // namespace

BrandServiceImpl::BrandServiceImpl(LedgerClient* ledger,
                                   Authenticator* authenticator,
                                   UploadLimits limits,
                                   std::function<absl::CivilDay()> today)
    : ledger_(ledger),
      authenticator_(authenticator),
      limits_(limits),
      today_(today ? std::move(today) : [] {
        return absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
      }) {}

grpc::Status BrandServiceImpl::GetSupplierStanding(
    grpc::ServerContext* context, const pb::GetSupplierStandingRequest* request,
    pb::SupplierStanding* response) {
  const ScopedCallDeadline deadline(*context);
  absl::StatusOr<Principal> caller = authenticator_->Authenticate(*context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (caller->role == pb::SUPPLIER &&
      caller->party_id != request->supplier_id()) {
    return ToGrpcStatus(absl::PermissionDeniedError(
        "a supplier may see only its own standing"));
  }
  for (const auto& [field, id] : {std::pair<const char*, const std::string&>{
                                      "program_id", request->program_id()},
                                  {"supplier_id", request->supplier_id()}}) {
    if (absl::Status s = ValidateId(field, id); !s.ok()) {
      return ToGrpcStatus(s);
    }
  }
  absl::StatusOr<absl::CivilDay> as_of =
      request->as_of().empty() ? absl::StatusOr<absl::CivilDay>(today_())
                               : ParseDate("as_of", request->as_of());
  if (!as_of.ok()) return ToGrpcStatus(as_of.status());
  if (absl::StatusOr<ProgramHistory> program =
          LoadProgramHistory(*ledger_, request->program_id());
      !program.ok()) {
    return ToGrpcStatus(program.status());
  }
  if (!ledger_->FindUnique(PartyKey(request->supplier_id())).ok()) {
    return ToGrpcStatus(absl::NotFoundError(
        absl::StrCat("no supplier \"", request->supplier_id(), "\"")));
  }
  absl::StatusOr<StandingHistory> history =
      LoadStanding(*ledger_, request->program_id(), request->supplier_id());
  if (!history.ok()) return ToGrpcStatus(history.status());
  response->set_program_id(request->program_id());
  response->set_supplier_id(request->supplier_id());
  response->set_as_of(FormatDate(*as_of));
  if (const SuspensionPeriod* current = history->SuspendedOn(*as_of)) {
    response->set_suspended(true);
    FillPeriod(*current, response->mutable_current());
  }
  for (const SuspensionPeriod& period : history->periods()) {
    FillPeriod(period, response->add_periods());
  }
  return grpc::Status::OK;
}

grpc::Status BrandServiceImpl::ListPurchases(
    grpc::ServerContext* context, const pb::ListOwnRecordsRequest* request,
    pb::ListPurchasesResponse* response) {
  const ScopedCallDeadline deadline(*context);
  absl::StatusOr<Principal> brand = authenticator_->Authenticate(*context);
  if (!brand.ok()) return ToGrpcStatus(brand.status());
  if (absl::Status s = Authenticator::Require(*brand, {pb::BRAND}); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<int> page_size = PageSize(request->page_size());
  if (!page_size.ok()) return ToGrpcStatus(page_size.status());
  absl::StatusOr<std::optional<uint64_t>> after =
      ParsePageToken(request->page_token());
  if (!after.ok()) return ToGrpcStatus(after.status());
  CurrencyCache currencies(ledger_);
  absl::StatusOr<std::string> next = WalkPage(
      *ledger_, BrandKey(brand->party_id), *after, *page_size,
      [&](const StoredEntry& stored) -> absl::StatusOr<bool> {
        pb::PurchaseReport purchase;
        if (stored.entry.kind() != kPurchaseReportKind) return false;
        if (!purchase.ParseFromString(stored.entry.payload())) {
          return absl::DataLossError(
              absl::StrCat("entry ", stored.entry.seq(), " does not parse"));
        }
        absl::StatusOr<std::string> currency =
            currencies.Of(purchase.program_id());
        if (!currency.ok()) return currency.status();
        pb::Purchase* out = response->add_purchases();
        out->set_seq(stored.entry.seq());
        out->set_brand_id(purchase.brand_id());
        out->set_invoice_id(purchase.invoice_id());
        out->set_supplier_id(purchase.supplier_id());
        out->set_program_id(purchase.program_id());
        out->set_purchase_date(purchase.purchase_date());
        out->set_quantity(FormatMicros(purchase.quantity_micros(), 0));
        out->set_unit(purchase.unit());
        // Premium is exact to the micro-unit: shown whole, with at
        // least the currency's minor digits.
        out->set_premium(AmountText(purchase.premium_micros(), *currency));
        out->set_worker_premium(
            AmountText(purchase.worker_premium_micros(), *currency));
        out->set_currency(*currency);
        return true;
      });
  if (!next.ok()) return ToGrpcStatus(next.status());
  response->set_next_page_token(*next);
  return grpc::Status::OK;
}

grpc::Status BrandServiceImpl::ListPayments(
    grpc::ServerContext* context, const pb::ListOwnRecordsRequest* request,
    pb::ListPaymentsResponse* response) {
  const ScopedCallDeadline deadline(*context);
  absl::StatusOr<Principal> brand = authenticator_->Authenticate(*context);
  if (!brand.ok()) return ToGrpcStatus(brand.status());
  if (absl::Status s = Authenticator::Require(*brand, {pb::BRAND}); !s.ok()) {
    return ToGrpcStatus(s);
  }
  return ToGrpcStatus(ListPaymentsUnder(*ledger_, BrandKey(brand->party_id),
                                        *request, response));
}

absl::Status ListPaymentsUnder(LedgerClient& ledger,
                               absl::string_view lookup_key,
                               const pb::ListOwnRecordsRequest& request,
                               pb::ListPaymentsResponse* response) {
  absl::StatusOr<int> page_size = PageSize(request.page_size());
  if (!page_size.ok()) return page_size.status();
  absl::StatusOr<std::optional<uint64_t>> after =
      ParsePageToken(request.page_token());
  if (!after.ok()) return after.status();
  absl::StatusOr<std::string> next = WalkPage(
      ledger, lookup_key, *after, *page_size,
      [&](const StoredEntry& stored) -> absl::StatusOr<bool> {
        pb::PremiumPayment payment;
        if (stored.entry.kind() != kPremiumPaymentKind) return false;
        if (!payment.ParseFromString(stored.entry.payload())) {
          return absl::DataLossError(
              absl::StrCat("entry ", stored.entry.seq(), " does not parse"));
        }
        FillPayment(stored.entry.seq(), payment, response->add_payments());
        return true;
      });
  if (!next.ok()) return next.status();
  response->set_next_page_token(*next);
  return absl::OkStatus();
}

grpc::Status BrandServiceImpl::Submit(
    grpc::ServerContext* context, grpc::ServerReader<pb::UploadChunk>* reader,
    Upload::Kind kind, pb::UploadReceipt* response) {
  const ScopedCallDeadline deadline(*context);
  absl::StatusOr<Principal> brand = authenticator_->Authenticate(*context);
  if (!brand.ok()) return ToGrpcStatus(brand.status());
  if (absl::Status s = Authenticator::Require(*brand, {pb::BRAND}); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<pb::UploadReceipt> receipt =
      ReceiveUpload(reader, *brand, kind, *ledger_, limits_);
  if (!receipt.ok()) return ToGrpcStatus(receipt.status());
  *response = *std::move(receipt);
  return grpc::Status::OK;
}

grpc::Status BrandServiceImpl::SubmitPurchases(
    grpc::ServerContext* context, grpc::ServerReader<pb::UploadChunk>* reader,
    pb::UploadReceipt* response) {
  return Submit(context, reader, Upload::Kind::kPurchases, response);
}

grpc::Status BrandServiceImpl::SubmitPayments(
    grpc::ServerContext* context, grpc::ServerReader<pb::UploadChunk>* reader,
    pb::UploadReceipt* response) {
  return Submit(context, reader, Upload::Kind::kPayments, response);
}

}  // namespace premium
