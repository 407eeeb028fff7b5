// BrandService (proto/wsr/premium/v1/brand.proto): purchases and payments
// uploaded by a brand. Thin: authenticate, then ReceiveUpload.
#ifndef PREMIUM_SERVICES_BRAND_SERVICE_H_
#define PREMIUM_SERVICES_BRAND_SERVICE_H_

#include <functional>

#include "absl/time/civil_time.h"
#include "services/auth.h"
#include "services/ledger_client.h"
#include "services/upload_receiver.h"
#include "wsr/premium/v1/brand.grpc.pb.h"

namespace premium {

class BrandServiceImpl final : public wsr::premium::v1::BrandService::Service {
 public:
  // Neither is owned; both must outlive the service. `today` (UTC by
  // default) is the default as-of date of a standing.
  BrandServiceImpl(LedgerClient* ledger, Authenticator* authenticator,
                   UploadLimits limits = {},
                   std::function<absl::CivilDay()> today = nullptr);

  grpc::Status SubmitPurchases(
      grpc::ServerContext* context,
      grpc::ServerReader<wsr::premium::v1::UploadChunk>* reader,
      wsr::premium::v1::UploadReceipt* response) override;
  grpc::Status SubmitPayments(
      grpc::ServerContext* context,
      grpc::ServerReader<wsr::premium::v1::UploadChunk>* reader,
      wsr::premium::v1::UploadReceipt* response) override;
  grpc::Status GetSupplierStanding(
      grpc::ServerContext* context,
      const wsr::premium::v1::GetSupplierStandingRequest* request,
      wsr::premium::v1::SupplierStanding* response) override;

 private:
  grpc::Status Submit(grpc::ServerContext* context,
                      grpc::ServerReader<wsr::premium::v1::UploadChunk>* reader,
                      Upload::Kind kind,
                      wsr::premium::v1::UploadReceipt* response);

  LedgerClient* const ledger_;
  Authenticator* const authenticator_;
  const UploadLimits limits_;
  const std::function<absl::CivilDay()> today_;
};

}  // namespace premium

#endif  // PREMIUM_SERVICES_BRAND_SERVICE_H_
