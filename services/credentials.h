// Bearer tokens: made from the OS's CSPRNG, shown once, kept only as a
// SHA-256 hash by the server.
#ifndef PREMIUM_SERVICES_CREDENTIALS_H_
#define PREMIUM_SERVICES_CREDENTIALS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ledger/merkle/hasher.h"

namespace premium {

// 256 bits of randomness, as 52 Crockford base32 characters with a prefix
// naming what the token is for ("ledger_", "admin_", ...), so a leaked token
// is recognisable in logs and secret scanners.
absl::StatusOr<std::string> GenerateToken(absl::string_view prefix);

// Crockford base32 (alphabet 0-9 A-Z without I, L, O, U), no padding: the
// form of tokens and paystub codes, which people may have to type.
std::string CrockfordBase32(absl::string_view bytes);

// What the server stores and compares: SHA-256 of the token text.
merkle::Hash HashToken(absl::string_view token);

// Compares in constant time, so response timing does not reveal how much of
// a guessed token was right.
bool TokenMatches(absl::string_view token, const merkle::Hash& token_hash);

// Writes `token` to a new file with mode 0600. AlreadyExists if present.
absl::Status WriteTokenFile(const std::string& path, absl::string_view token);
// Reads a token file, without the trailing newline. NotFound if absent;
// InvalidArgument if it is empty or larger than a token can be.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

// The bearer token of a request's "authorization" metadata value, or
// Unauthenticated naming what is wrong with it.
absl::StatusOr<absl::string_view> BearerToken(absl::string_view header);

}  // namespace premium

#endif  // PREMIUM_SERVICES_CREDENTIALS_H_
