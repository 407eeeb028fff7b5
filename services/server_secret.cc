#include "services/server_secret.h"

#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <cerrno>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "ledger/storage/format.h"
#include "ledger/util/files.h"

namespace premium {
namespace {

constexpr size_t kSecretBytes = 32;

}  // namespace

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
  return std::unique_ptr<ServerSecret>(new ServerSecret(key));
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
  merkle::Hash mac;
  unsigned int length = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
       mac.data(), &length);
  return mac;
}

}  // namespace premium
