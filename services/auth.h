// Who is calling: bearer tokens resolved to the party they were issued to,
// through the ledger's PartyRegistration entries (DESIGN section 6).
#ifndef PREMIUM_SERVICES_AUTH_H_
#define PREMIUM_SERVICES_AUTH_H_

#include <grpcpp/grpcpp.h>

#include <initializer_list>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "services/ledger_client.h"
#include "wsr/premium/v1/records.pb.h"

namespace premium {

struct Principal {
  wsr::premium::v1::Role role = wsr::premium::v1::ROLE_UNSPECIFIED;
  std::string party_id;

  // How the ledger records this caller as an entry's actor: "brand:acme".
  std::string actor() const;
};

// The actor of entries the server appends on its own behalf (the admin's
// registration on first start).
inline constexpr char kSystemActor[] = "system";
inline constexpr char kAdminPartyId[] = "admin";

// "admin", "brand", "supplier" or "auditor".
std::string RoleName(wsr::premium::v1::Role role);

class Authenticator {
 public:
  // `ledger` is not owned and must outlive the authenticator.
  explicit Authenticator(LedgerClient* ledger);

  // The caller of `context`: Unauthenticated without a well-formed
  // "authorization: Bearer <token>"; PermissionDenied for a token that no
  // party holds or that was revoked (checked on every call).
  absl::StatusOr<Principal> Authenticate(const grpc::ServerContext& context);

  // PermissionDenied unless the principal has one of `roles`.
  static absl::Status Require(
      const Principal& principal,
      std::initializer_list<wsr::premium::v1::Role> roles);

 private:
  // Resolved tokens (token key -> party). The entry that issued a token is
  // never changed, so what it says stays right (revocation is a separate
  // record, checked on each call); the cap bounds memory.
  static constexpr size_t kCacheEntriesMax = 10'000;

  LedgerClient* const ledger_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Principal> cache_ ABSL_GUARDED_BY(mu_);
};

}  // namespace premium

#endif  // PREMIUM_SERVICES_AUTH_H_
