// BrandService (proto/wsr/premium/v1/brand.proto): purchases and payments
// uploaded by a brand. Thin: authenticate, then ReceiveUpload.
#ifndef PREMIUM_SERVICES_BRAND_SERVICE_H_
#define PREMIUM_SERVICES_BRAND_SERVICE_H_

#include <functional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/time/civil_time.h"
#include "services/auth.h"
#include "services/ledger_client.h"
#include "services/upload_receiver.h"
#include "wsr/premium/v1/brand.grpc.pb.h"

namespace premium {

// The currency of each program a list call meets, looked up once.
class CurrencyCache {
 public:
  explicit CurrencyCache(LedgerClient* ledger) : ledger_(ledger) {}
  absl::StatusOr<std::string> Of(absl::string_view program_id);

 private:
  LedgerClient* const ledger_;
  absl::flat_hash_map<std::string, std::string> currencies_;
};

// An amount as text with its currency's minor digits (at least).
std::string AmountText(int64_t micros, absl::string_view currency);

// One page of the premium payments under `lookup_key` (a brand's own, or
// those made to a supplier).
absl::Status ListPaymentsUnder(
    LedgerClient& ledger, absl::string_view lookup_key,
    const wsr::premium::v1::ListOwnRecordsRequest& request,
    wsr::premium::v1::ListPaymentsResponse* response);

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
  grpc::Status ListPurchases(
      grpc::ServerContext* context,
      const wsr::premium::v1::ListOwnRecordsRequest* request,
      wsr::premium::v1::ListPurchasesResponse* response) override;
  grpc::Status ListPayments(
      grpc::ServerContext* context,
      const wsr::premium::v1::ListOwnRecordsRequest* request,
      wsr::premium::v1::ListPaymentsResponse* response) override;

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
