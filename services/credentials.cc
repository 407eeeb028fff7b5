#include "services/credentials.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ledger/util/files.h"

namespace premium {
namespace {

constexpr size_t kTokenRandomBytes = 32;
constexpr size_t kTokenFileBytesMax = 256;
constexpr absl::string_view kCrockfordAlphabet =
    "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr absl::string_view kBearerPrefix = "Bearer ";

}  // namespace

std::string CrockfordBase32(absl::string_view bytes) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (const char c : bytes) {
    buffer = (buffer << 8) | static_cast<unsigned char>(c);
    bits += 8;
    while (bits >= 5) {
      out.push_back(kCrockfordAlphabet[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kCrockfordAlphabet[(buffer << (5 - bits)) & 31]);
  return out;
}

absl::StatusOr<std::string> GenerateToken(absl::string_view prefix) {
  unsigned char random[kTokenRandomBytes];
  if (RAND_priv_bytes(random, sizeof(random)) != 1) {
    return absl::InternalError("the CSPRNG failed to produce a token");
  }
  return absl::StrCat(
      prefix, CrockfordBase32(absl::string_view(
                  reinterpret_cast<const char*>(random), sizeof(random))));
}

merkle::Hash HashToken(absl::string_view token) {
  return merkle::Sha256Of(std::string_view(token.data(), token.size()));
}

bool TokenMatches(absl::string_view token, const merkle::Hash& token_hash) {
  const merkle::Hash candidate = HashToken(token);
  return CRYPTO_memcmp(candidate.data(), token_hash.data(), candidate.size()) ==
         0;
}

absl::Status WriteTokenFile(const std::string& path, absl::string_view token) {
  return WriteNewFile(path, absl::StrCat(token, "\n"), 0600);
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  absl::StatusOr<std::string> contents =
      ReadSmallFile(path, kTokenFileBytesMax);
  if (!contents.ok()) {
    if (absl::IsResourceExhausted(contents.status())) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, " is too large to be a token file"));
    }
    return contents.status();
  }
  const absl::string_view token = absl::StripAsciiWhitespace(*contents);
  if (token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, " holds no token"));
  }
  return std::string(token);
}

absl::StatusOr<absl::string_view> BearerToken(absl::string_view header) {
  if (header.empty()) {
    return absl::UnauthenticatedError(
        "missing \"authorization: Bearer <token>\" metadata");
  }
  if (!absl::StartsWith(header, kBearerPrefix) ||
      header.size() == kBearerPrefix.size() ||
      header.size() > kBearerPrefix.size() + kTokenFileBytesMax) {
    return absl::UnauthenticatedError(
        "authorization metadata must be \"Bearer <token>\"");
  }
  return header.substr(kBearerPrefix.size());
}

}  // namespace premium
