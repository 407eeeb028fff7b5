#include "services/paystub_code.h"

#include "absl/strings/str_cat.h"
#include "services/credentials.h"

namespace premium {

std::string DerivePaystubCode(const ServerSecret& secret,
                              absl::string_view supplier_id,
                              absl::string_view idempotency_key,
                              uint64_t line_index) {
  const std::string index = absl::StrCat(line_index);
  const merkle::Hash mac =
      secret.Derive("paystub-code", {supplier_id, idempotency_key, index});
  // 10 bytes are exactly 16 base32 characters.
  const std::string canonical = CrockfordBase32(
      absl::string_view(reinterpret_cast<const char*>(mac.data()), 10));
  return absl::StrCat(canonical.substr(0, 4), "-", canonical.substr(4, 4), "-",
                      canonical.substr(8, 4), "-", canonical.substr(12, 4));
}

absl::StatusOr<std::string> NormalizePaystubCode(absl::string_view typed) {
  constexpr size_t kTypedLengthMax = 64;
  if (typed.size() > kTypedLengthMax) {
    return absl::InvalidArgumentError("code is too long");
  }
  std::string canonical;
  for (const char c : typed) {
    if (c == '-' || c == ' ') continue;
    char upper = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    if (upper == 'O') upper = '0';
    if (upper == 'I' || upper == 'L') upper = '1';
    const bool valid = (upper >= '0' && upper <= '9') ||
                       (upper >= 'A' && upper <= 'Z' && upper != 'U');
    if (!valid) {
      return absl::InvalidArgumentError(
          "code may hold only letters and digits (hyphens and spaces are "
          "ignored)");
    }
    canonical.push_back(upper);
  }
  if (canonical.size() != kPaystubCodeCharacters) {
    return absl::InvalidArgumentError(absl::StrCat(
        "code must have ", kPaystubCodeCharacters, " letters and digits"));
  }
  return canonical;
}

merkle::Hash PaystubCodeHash(absl::string_view canonical_code) {
  return merkle::Sha256Of(
      std::string_view(canonical_code.data(), canonical_code.size()));
}

}  // namespace premium
