#include "services/server_secret.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "ledger/storage/format.h"
#include "ledger/util/files.h"

namespace premium {
namespace {

constexpr size_t kSecretBytes = 32;

// Only an allocation can fail once the context is keyed; there is no code to
// derive without it, and no caller could do better than stop.
[[noreturn]] void DieOnMacFailure(const char* what) {
  std::fprintf(stderr, "premium::ServerSecret: OpenSSL %s failed\n", what);
  std::abort();
}

}  // namespace

void ServerSecret::MacContextDeleter::operator()(EVP_MAC_CTX* context) const {
  EVP_MAC_CTX_free(context);
}

absl::StatusOr<std::unique_ptr<ServerSecret>> ServerSecret::Load(
    const std::string& path) {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) {
    if (errno == ENOENT) return absl::NotFoundError(path);
    return absl::InternalError(absl::StrCat("stat ", path));
  }
  if ((info.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is readable by others; it must have mode 0600"));
  }
  absl::StatusOr<std::string> text = ReadSmallFile(path, 4 * kSecretBytes);
  if (!text.ok()) return text.status();
  const std::string hex(absl::StripAsciiWhitespace(*text));
  const std::string key = absl::HexStringToBytes(hex);
  if (hex.size() != 2 * kSecretBytes || absl::BytesToHexString(key) != hex) {
    return absl::DataLossError(
        absl::StrCat(path, " must hold ", kSecretBytes, " bytes in hex"));
  }
  EVP_MAC* hmac = EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr);
  if (hmac == nullptr) return absl::InternalError("OpenSSL has no HMAC");
  // The context holds its own reference to the algorithm.
  MacContext keyed(EVP_MAC_CTX_new(hmac));
  EVP_MAC_free(hmac);
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  if (keyed == nullptr ||
      EVP_MAC_init(keyed.get(),
                   reinterpret_cast<const unsigned char*>(key.data()),
                   key.size(), params) != 1) {
    return absl::InternalError("OpenSSL could not key HMAC-SHA256");
  }
  return std::unique_ptr<ServerSecret>(new ServerSecret(std::move(keyed)));
}

absl::StatusOr<std::unique_ptr<ServerSecret>> ServerSecret::LoadOrCreate(
    const std::string& path) {
  absl::StatusOr<std::unique_ptr<ServerSecret>> secret = Load(path);
  if (!absl::IsNotFound(secret.status())) return secret;
  unsigned char key[kSecretBytes];
  if (RAND_priv_bytes(key, sizeof(key)) != 1) {
    return absl::InternalError("the CSPRNG failed to make the server secret");
  }
  const std::string hex = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(key), sizeof(key)));
  if (absl::Status s = WriteNewFile(path, hex + "\n", 0600); !s.ok()) {
    return s;
  }
  return Load(path);
}

merkle::Hash ServerSecret::Derive(
    absl::string_view purpose,
    std::initializer_list<absl::string_view> parts) const {
  std::string message =
      absl::StrCat(storage::EncodeFixed64(purpose.size()), purpose);
  for (absl::string_view part : parts) {
    absl::StrAppend(&message, storage::EncodeFixed64(part.size()), part);
  }
  const MacContext context(EVP_MAC_CTX_dup(keyed_.get()));
  if (context == nullptr) DieOnMacFailure("EVP_MAC_CTX_dup");
  merkle::Hash mac;
  size_t length = 0;
  if (EVP_MAC_update(context.get(),
                     reinterpret_cast<const unsigned char*>(message.data()),
                     message.size()) != 1 ||
      EVP_MAC_final(context.get(), mac.data(), &length, mac.size()) != 1 ||
      length != mac.size()) {
    DieOnMacFailure("HMAC-SHA256");
  }
  return mac;
}

}  // namespace premium
