// WorkerService (proto/wsr/premium/v1/worker.proto): a worker's paystub code
// unlocks that worker's lines at that supplier, with the inclusion proof and
// signed checkpoint to check them, and lets the worker dispute a line.
#ifndef PREMIUM_SERVICES_WORKER_SERVICE_H_
#define PREMIUM_SERVICES_WORKER_SERVICE_H_

#include "services/ledger_client.h"
#include "services/rate_limiter.h"
#include "wsr/premium/v1/records.pb.h"
#include "wsr/premium/v1/worker.grpc.pb.h"

namespace premium {

class WorkerServiceImpl final
    : public wsr::premium::v1::WorkerService::Service {
 public:
  // `ledger` is not owned and must outlive the service.
  WorkerServiceImpl(LedgerClient* ledger, FailureLimitOptions limits = {});

  grpc::Status LookupCode(grpc::ServerContext* context,
                          const wsr::premium::v1::LookupCodeRequest* request,
                          wsr::premium::v1::WorkerLookup* response) override;
  grpc::Status DisputeLine(
      grpc::ServerContext* context,
      const wsr::premium::v1::DisputeLineRequest* request,
      wsr::premium::v1::DisputeLineResponse* response) override;

 private:
  struct CodeLine {
    uint64_t seq = 0;
    StoredEntry entry;
    wsr::premium::v1::PayrollLine line;
  };
  // The line a code belongs to. Failures (malformed or unknown codes) count
  // against the caller's address.
  absl::StatusOr<CodeLine> FindLine(const grpc::ServerContext& context,
                                    absl::string_view code);

  LedgerClient* const ledger_;
  FailureLimiter failures_;
};

}  // namespace premium

#endif  // PREMIUM_SERVICES_WORKER_SERVICE_H_
