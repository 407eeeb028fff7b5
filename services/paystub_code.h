// Paystub codes (DESIGN section 6): a worker's credential for one payroll
// line. 16 Crockford base32 characters (80 bits, so that codes stay unique
// across the billions of lines a program makes), printed in four groups
// ("7KQ2-M9XD-4RTB-WZ3H") and read back case-insensitively, ignoring hyphens
// and spaces, with the look-alikes O, I and L read as 0, 1 and 1.
//
// A code is derived from the server secret, the supplier, the upload's
// idempotency key and the line's position in the file: unguessable without
// the secret, the same on a retried upload, and never stored (the ledger
// keeps its SHA-256).
#ifndef PREMIUM_SERVICES_PAYSTUB_CODE_H_
#define PREMIUM_SERVICES_PAYSTUB_CODE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ledger/merkle/hasher.h"
#include "services/server_secret.h"

namespace premium {

inline constexpr size_t kPaystubCodeCharacters = 16;

// The code as printed, with hyphens.
std::string DerivePaystubCode(const ServerSecret& secret,
                              absl::string_view supplier_id,
                              absl::string_view idempotency_key,
                              uint64_t line_index);

// The canonical form (16 upper-case characters, no hyphens) of what a
// worker typed. InvalidArgument for anything that cannot be a code.
absl::StatusOr<std::string> NormalizePaystubCode(absl::string_view typed);

// SHA-256 of the canonical form: what PayrollLine.code_sha256 holds.
merkle::Hash PaystubCodeHash(absl::string_view canonical_code);

}  // namespace premium

#endif  // PREMIUM_SERVICES_PAYSTUB_CODE_H_
