// SupplierService (proto/wsr/premium/v1/supplier.proto): payroll uploads and
// their paystub codes. Thin: authenticate, ReceiveUpload, attach codes.
#ifndef PREMIUM_SERVICES_SUPPLIER_SERVICE_H_
#define PREMIUM_SERVICES_SUPPLIER_SERVICE_H_

#include "services/auth.h"
#include "services/ledger_client.h"
#include "services/server_secret.h"
#include "services/upload_receiver.h"
#include "wsr/premium/v1/supplier.grpc.pb.h"

namespace premium {

class SupplierServiceImpl final
    : public wsr::premium::v1::SupplierService::Service {
 public:
  // None is owned; all must outlive the service.
  SupplierServiceImpl(LedgerClient* ledger, Authenticator* authenticator,
                      const ServerSecret* secret, UploadLimits limits = {});

  grpc::Status UploadPayroll(
      grpc::ServerContext* context,
      grpc::ServerReader<wsr::premium::v1::UploadChunk>* reader,
      wsr::premium::v1::UploadPayrollResponse* response) override;
  grpc::Status ListPaystubCodes(
      grpc::ServerContext* context,
      const wsr::premium::v1::ListPaystubCodesRequest* request,
      wsr::premium::v1::ListPaystubCodesResponse* response) override;
  grpc::Status ListPayrollLines(
      grpc::ServerContext* context,
      const wsr::premium::v1::ListOwnRecordsRequest* request,
      wsr::premium::v1::ListPayrollLinesResponse* response) override;
  grpc::Status ListPaymentsReceived(
      grpc::ServerContext* context,
      const wsr::premium::v1::ListOwnRecordsRequest* request,
      wsr::premium::v1::ListPaymentsResponse* response) override;

 private:
  LedgerClient* const ledger_;
  Authenticator* const authenticator_;
  const ServerSecret* const secret_;
  const UploadLimits limits_;
};

}  // namespace premium

#endif  // PREMIUM_SERVICES_SUPPLIER_SERVICE_H_
