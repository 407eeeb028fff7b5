#include "services/auth.h"

#include "absl/strings/str_cat.h"
#include "ledger/merkle/hasher.h"
#include "ledger/premium/indexer.h"
#include "services/credentials.h"

namespace premium {

namespace pb = wsr::premium::v1;

std::string RoleName(pb::Role role) {
  switch (role) {
    case pb::ADMIN:
      return "admin";
    case pb::BRAND:
      return "brand";
    case pb::SUPPLIER:
      return "supplier";
    case pb::AUDITOR:
      return "auditor";
    default:
      return "unspecified";
  }
}

std::string Principal::actor() const {
  return absl::StrCat(RoleName(role), ":", party_id);
}

Authenticator::Authenticator(LedgerClient* ledger) : ledger_(ledger) {}

absl::StatusOr<Principal> Authenticator::Authenticate(
    const grpc::ServerContext& context) {
  const auto& metadata = context.client_metadata();
  const auto it = metadata.find("authorization");
  const absl::string_view header =
      it == metadata.end()
          ? absl::string_view()
          : absl::string_view(it->second.data(), it->second.size());
  absl::StatusOr<absl::string_view> token = BearerToken(header);
  if (!token.ok()) return token.status();
  const merkle::Hash hash = HashToken(*token);
  const std::string key = TokenKey(absl::string_view(
      reinterpret_cast<const char*>(hash.data()), hash.size()));
  // Revocation is checked on every call, never cached: it must take effect
  // at once, in every process.
  const absl::string_view hash_bytes(reinterpret_cast<const char*>(hash.data()),
                                     hash.size());
  absl::StatusOr<uint64_t> revoked =
      ledger_->FindUnique(RevokedTokenKey(hash_bytes));
  if (revoked.ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("the token was revoked (ledger seq ", *revoked, ")"));
  }
  if (!absl::IsNotFound(revoked.status())) return revoked.status();
  {
    absl::MutexLock lock(&mu_);
    if (auto cached = cache_.find(key); cached != cache_.end()) {
      return cached->second;
    }
  }
  absl::StatusOr<uint64_t> seq = ledger_->FindUnique(key);
  if (absl::IsNotFound(seq.status())) {
    return absl::PermissionDeniedError("the token belongs to no party");
  }
  if (!seq.ok()) return seq.status();
  absl::StatusOr<StoredEntry> entry = ReadOneEntry(*ledger_, *seq);
  if (!entry.ok()) return entry.status();
  Principal principal;
  pb::PartyRegistration registration;
  pb::TokenChange change;
  if (entry->entry.kind() == kPartyRegistrationKind &&
      registration.ParseFromString(entry->entry.payload())) {
    principal = Principal{registration.role(), registration.party_id()};
  } else if (entry->entry.kind() == kTokenChangeKind &&
             change.ParseFromString(entry->entry.payload())) {
    principal = Principal{change.role(), change.party_id()};
  } else {
    return absl::DataLossError(
        absl::StrCat("entry ", *seq, " issues no token"));
  }
  absl::MutexLock lock(&mu_);
  if (cache_.size() >= kCacheEntriesMax) cache_.clear();
  cache_.emplace(key, principal);
  return principal;
}

absl::Status Authenticator::Require(const Principal& principal,
                                    std::initializer_list<pb::Role> roles) {
  for (const pb::Role role : roles) {
    if (principal.role == role) return absl::OkStatus();
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "the ", RoleName(principal.role), " role may not make this call"));
}

}  // namespace premium
