#include "services/brand_service.h"

#include "services/grpc_status.h"

namespace premium {

namespace pb = wsr::premium::v1;

BrandServiceImpl::BrandServiceImpl(LedgerClient* ledger,
                                   Authenticator* authenticator,
                                   UploadLimits limits)
    : ledger_(ledger), authenticator_(authenticator), limits_(limits) {}

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
