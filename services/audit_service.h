// AuditService (proto/wsr/premium/v1/audit.proto): reconciliation, outcome
// figures, resolutions and suppliers' standing, for auditors (and, read
// only, admins).
//
// The service keeps a Reconciler (ledger/premium/reconcile.h): derived
// state, rebuilt from the log when the process starts and brought up to date
// with the entries appended since, at the start of every call. It is never
// the source of truth: the ledger is.
#ifndef PREMIUM_SERVICES_AUDIT_SERVICE_H_
#define PREMIUM_SERVICES_AUDIT_SERVICE_H_

#include <cstdint>
#include <functional>

#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "ledger/premium/reconcile.h"
#include "services/auth.h"
#include "services/ledger_client.h"
#include "wsr/premium/v1/audit.grpc.pb.h"

namespace premium {

class AuditServiceImpl final : public wsr::premium::v1::AuditService::Service {
 public:
  // Neither is owned; both must outlive the service. `today` (UTC by
  // default) is the default as-of date.
  AuditServiceImpl(LedgerClient* ledger, Authenticator* authenticator,
                   std::function<absl::CivilDay()> today = nullptr);

  // Reads the log into the reconciler now rather than on the first call.
  absl::Status CatchUp();

  grpc::Status Reconcile(
      grpc::ServerContext* context,
      const wsr::premium::v1::ReconcileRequest* request,
      wsr::premium::v1::ReconcileResponse* response) override;
  grpc::Status Summarize(
      grpc::ServerContext* context,
      const wsr::premium::v1::SummarizeRequest* request,
      wsr::premium::v1::SummarizeResponse* response) override;
  grpc::Status ResolveDiscrepancy(
      grpc::ServerContext* context,
      const wsr::premium::v1::ResolveDiscrepancyRequest* request,
      wsr::premium::v1::ResolveDiscrepancyResponse* response) override;
  grpc::Status SuspendSupplier(
      grpc::ServerContext* context,
      const wsr::premium::v1::SuspendSupplierRequest* request,
      wsr::premium::v1::StandingChange* response) override;
  grpc::Status ReinstateSupplier(
      grpc::ServerContext* context,
      const wsr::premium::v1::ReinstateSupplierRequest* request,
      wsr::premium::v1::StandingChange* response) override;

 private:
  // Feeds the reconciler every entry appended since it last looked; the
  // tree size it has reached.
  absl::StatusOr<uint64_t> CatchUpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<absl::CivilDay> AsOf(absl::string_view text) const;
  // Appends a Suspension or Reinstatement after checking it against the
  // supplier's standing; a retry of an appended request is replayed.
  absl::Status ChangeStanding(const Principal& auditor,
                              absl::string_view request_id,
                              absl::string_view program_id,
                              absl::string_view supplier_id, const char* kind,
                              const google::protobuf::Message& record,
                              wsr::premium::v1::StandingChange* response);

  LedgerClient* const ledger_;
  Authenticator* const authenticator_;
  const std::function<absl::CivilDay()> today_;

  // What the reconciler reads back (pay periods' lines) instead of keeping.
  const LedgerClientLog log_;
  absl::Mutex mu_;
  Reconciler reconciler_ ABSL_GUARDED_BY(mu_);
  // Serializes standing changes, so two cannot both pass the checks.
  absl::Mutex standing_mu_ ABSL_ACQUIRED_BEFORE(mu_);
};

}  // namespace premium

#endif  // PREMIUM_SERVICES_AUDIT_SERVICE_H_
