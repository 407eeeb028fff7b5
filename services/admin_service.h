// AdminService (proto/wsr/premium/v1/admin.proto): programs and parties.
// Thin: it authenticates the admin, validates, and appends through the
// LedgerClient; the rules live in ledger/premium.
#ifndef PREMIUM_SERVICES_ADMIN_SERVICE_H_
#define PREMIUM_SERVICES_ADMIN_SERVICE_H_

#include <functional>

#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "ledger/premium/program.h"
#include "ledger/premium/standing.h"
#include "services/auth.h"
#include "services/ledger_client.h"
#include "services/server_secret.h"
#include "wsr/premium/v1/admin.grpc.pb.h"

namespace premium {

// Parses the text form of a program version (decimal strings, defaults of
// DESIGN section 8) into the stored form. `today` is the default effective
// date. InvalidArgument names the field.
absl::StatusOr<wsr::premium::v1::ProgramVersion> ProgramVersionFromSpec(
    const wsr::premium::v1::ProgramVersionSpec& spec, absl::CivilDay today);
wsr::premium::v1::ProgramVersionSpec SpecFromProgramVersion(
    const wsr::premium::v1::ProgramVersion& version);

// Reads every version of a program from the ledger. NotFound if it has none.
absl::StatusOr<ProgramHistory> LoadProgramHistory(LedgerClient& ledger,
                                                  absl::string_view program_id);

// A supplier's suspensions and reinstatements in a program, in ledger order.
absl::StatusOr<StandingHistory> LoadStanding(LedgerClient& ledger,
                                             absl::string_view program_id,
                                             absl::string_view supplier_id);

// InvalidArgument unless `request_id` can be an idempotency key.
absl::Status ValidateRequestId(absl::string_view request_id);

class AdminServiceImpl final : public wsr::premium::v1::AdminService::Service {
 public:
  // None is owned; all must outlive the service. `today` gives the default
  // effective date (UTC) and is injectable for tests.
  AdminServiceImpl(LedgerClient* ledger, Authenticator* authenticator,
                   const ServerSecret* secret,
                   std::function<absl::CivilDay()> today);

  grpc::Status AddProgramVersion(
      grpc::ServerContext* context,
      const wsr::premium::v1::AddProgramVersionRequest* request,
      wsr::premium::v1::Program* response) override;
  grpc::Status GetProgram(grpc::ServerContext* context,
                          const wsr::premium::v1::GetProgramRequest* request,
                          wsr::premium::v1::Program* response) override;
  grpc::Status ListPrograms(
      grpc::ServerContext* context,
      const wsr::premium::v1::ListProgramsRequest* request,
      wsr::premium::v1::ListProgramsResponse* response) override;
  grpc::Status RegisterParty(
      grpc::ServerContext* context,
      const wsr::premium::v1::RegisterPartyRequest* request,
      wsr::premium::v1::RegisterPartyResponse* response) override;
  grpc::Status ChangePartyToken(
      grpc::ServerContext* context,
      const wsr::premium::v1::ChangePartyTokenRequest* request,
      wsr::premium::v1::ChangePartyTokenResponse* response) override;
  grpc::Status ListParties(
      grpc::ServerContext* context,
      const wsr::premium::v1::ListPartiesRequest* request,
      wsr::premium::v1::ListPartiesResponse* response) override;

 private:
  absl::StatusOr<Principal> AuthenticateAdmin(
      const grpc::ServerContext& context);
  absl::Status FillProgram(absl::string_view program_id,
                           wsr::premium::v1::Program* out);

  LedgerClient* const ledger_;
  Authenticator* const authenticator_;
  const ServerSecret* const secret_;
  const std::function<absl::CivilDay()> today_;
  // Checking a new version against a program's history and appending it
  // must not interleave with another version of the same program.
  absl::Mutex program_mu_;
  // Serializes token changes, so two cannot revoke the same tokens.
  absl::Mutex token_mu_;
};

// The token a registration returns: derived from the server secret and the
// request, so a retried registration returns the same token.
std::string DerivePartyToken(const ServerSecret& secret,
                             wsr::premium::v1::Role role,
                             absl::string_view request_id,
                             absl::string_view party_id);

}  // namespace premium

#endif  // PREMIUM_SERVICES_ADMIN_SERVICE_H_
