#include "services/brand_service.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "ledger/premium/indexer.h"
#include "ledger/premium/standing.h"
#include "ledger/premium/validation.h"
#include "services/admin_service.h"
#include "services/grpc_status.h"

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

grpc::Status BrandServiceImpl::Submit(
    grpc::ServerContext* context, grpc::ServerReader<pb::UploadChunk>* reader,
    Upload::Kind kind, pb::UploadReceipt* response) {
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
