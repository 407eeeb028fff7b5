#include "ledger/checkpoint/checkpoint.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "ledger/util/files.h"

namespace premium {
namespace {

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

constexpr size_t kKeyFileBytesMax = 16 * 1024;

std::string JoinPath(const std::string& dir, absl::string_view file) {
  return absl::StrCat(dir, "/", file);
}

absl::StatusOr<std::string> PublicKeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_PUBKEY(bio.get(), key) != 1) {
    return absl::InternalError("cannot encode the public key as PEM");
  }
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(length));
}

absl::StatusOr<std::string> PrivateKeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr,
                               nullptr) != 1) {
    return absl::InternalError("cannot encode the private key as PEM");
  }
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(length));
}

bool IsEd25519(EVP_PKEY* key) {
  return EVP_PKEY_get_id(key) == EVP_PKEY_ED25519;
}

}  // namespace

absl::Status ValidateOrigin(absl::string_view origin) {
  if (origin.empty() || origin.size() > kOriginLengthMax) {
    return absl::InvalidArgumentError(
        absl::StrCat("origin must be 1 to ", kOriginLengthMax, " characters"));
  }
  for (const char c : origin) {
    if (c <= ' ' || c > '~') {
      return absl::InvalidArgumentError(
          "origin must be printable ASCII without spaces");
    }
  }
  return absl::OkStatus();
}

std::string CheckpointBody(const Checkpoint& checkpoint) {
  const merkle::Hash& root = checkpoint.root_hash;
  return absl::StrCat(
      checkpoint.origin, "\n", checkpoint.tree_size, "\n",
      absl::Base64Escape(absl::string_view(
          reinterpret_cast<const char*>(root.data()), root.size())),
      "\n");
}

absl::StatusOr<Checkpoint> ParseCheckpointBody(absl::string_view body) {
  if (body.size() > kOriginLengthMax + 128) {
    return absl::InvalidArgumentError("checkpoint body is too long");
  }
  std::vector<absl::string_view> lines = absl::StrSplit(body, '\n');
  // A body ends with a newline, so the split leaves one empty last piece.
  if (lines.size() != 4 || !lines[3].empty()) {
    return absl::InvalidArgumentError(
        "checkpoint body must be exactly three lines, each ending in \\n");
  }
  Checkpoint checkpoint;
  if (absl::Status status = ValidateOrigin(lines[0]); !status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint line 1: ", status.message()));
  }
  checkpoint.origin = std::string(lines[0]);
  const absl::string_view size_text = lines[1];
  const bool digits_only =
      !size_text.empty() && size_text.size() <= 20 &&
      std::all_of(size_text.begin(), size_text.end(), absl::ascii_isdigit);
  if (!digits_only || (size_text.size() > 1 && size_text[0] == '0') ||
      !absl::SimpleAtoi(size_text, &checkpoint.tree_size)) {
    return absl::InvalidArgumentError(
        "checkpoint line 2: tree size must be a decimal number without "
        "leading zeros");
  }
  std::string root;
  if (!absl::Base64Unescape(lines[2], &root) ||
      root.size() != checkpoint.root_hash.size() ||
      absl::Base64Escape(root) != lines[2]) {
    return absl::InvalidArgumentError(
        "checkpoint line 3: root hash must be 32 bytes in padded base64");
  }
  std::memcpy(checkpoint.root_hash.data(), root.data(), root.size());
  return checkpoint;
}

struct CheckpointVerifier::Key {
  PkeyPtr pkey;
};

CheckpointVerifier::CheckpointVerifier(std::unique_ptr<Key> key,
                                       std::string public_key_pem)
    : key_(std::move(key)), public_key_pem_(std::move(public_key_pem)) {}

CheckpointVerifier::~CheckpointVerifier() = default;

absl::StatusOr<std::unique_ptr<CheckpointVerifier>>
CheckpointVerifier::FromPublicKeyPem(absl::string_view public_key_pem) {
  if (public_key_pem.size() > kKeyFileBytesMax) {
    return absl::InvalidArgumentError("public key PEM is too long");
  }
  BioPtr bio(BIO_new_mem_buf(public_key_pem.data(),
                             static_cast<int>(public_key_pem.size())));
  PkeyPtr pkey(bio == nullptr
                   ? nullptr
                   : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (pkey == nullptr || !IsEd25519(pkey.get())) {
    return absl::InvalidArgumentError(
        "public key is not an Ed25519 public key in PEM");
  }
  absl::StatusOr<std::string> canonical_pem = PublicKeyPem(pkey.get());
  if (!canonical_pem.ok()) return canonical_pem.status();
  auto key = std::make_unique<Key>();
  key->pkey = std::move(pkey);
  return std::unique_ptr<CheckpointVerifier>(
      new CheckpointVerifier(std::move(key), *std::move(canonical_pem)));
}

absl::Status CheckpointVerifier::Verify(absl::string_view body,
                                        absl::string_view signature) const {
  if (signature.size() != kEd25519SignatureBytes) {
    return absl::PermissionDeniedError(
        absl::StrCat("signature must be ", kEd25519SignatureBytes,
                     " bytes, got ", signature.size()));
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr,
                                             nullptr, key_->pkey.get()) != 1) {
    return absl::InternalError("cannot initialise Ed25519 verification");
  }
  const int result = EVP_DigestVerify(
      ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
      signature.size(), reinterpret_cast<const unsigned char*>(body.data()),
      body.size());
  if (result != 1) {
    return absl::PermissionDeniedError(
        "checkpoint signature does not verify with the ledger's public key");
  }
  return absl::OkStatus();
}

struct CheckpointSigner::Key {
  PkeyPtr pkey;
};

CheckpointSigner::CheckpointSigner(std::unique_ptr<Key> key,
                                   std::unique_ptr<CheckpointVerifier> verifier)
    : key_(std::move(key)), verifier_(std::move(verifier)) {}

CheckpointSigner::~CheckpointSigner() = default;

absl::StatusOr<std::unique_ptr<CheckpointSigner>>
CheckpointSigner::CreateInDirectory(const std::string& dir) {
  PkeyPtr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (pkey == nullptr) {
    return absl::InternalError("cannot generate an Ed25519 key");
  }
  absl::StatusOr<std::string> private_pem = PrivateKeyPem(pkey.get());
  if (!private_pem.ok()) return private_pem.status();
  absl::StatusOr<std::string> public_pem = PublicKeyPem(pkey.get());
  if (!public_pem.ok()) return public_pem.status();
  if (absl::Status s =
          WriteNewFile(JoinPath(dir, kPrivateKeyFile), *private_pem, 0600);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          WriteNewFile(JoinPath(dir, kPublicKeyFile), *public_pem, 0644);
      !s.ok()) {
    return s;
  }
  return LoadFromDirectory(dir);
}

absl::StatusOr<std::unique_ptr<CheckpointSigner>>
CheckpointSigner::LoadFromDirectory(const std::string& dir) {
  const std::string private_path = JoinPath(dir, kPrivateKeyFile);
  struct stat info;
  if (::stat(private_path.c_str(), &info) != 0) {
    if (errno == ENOENT) return absl::NotFoundError(private_path);
    return absl::InternalError(
        absl::StrCat("stat ", private_path, ": ", std::strerror(errno)));
  }
  if ((info.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        private_path, " is readable by others; it must have mode 0600"));
  }
  absl::StatusOr<std::string> private_pem =
      ReadSmallFile(private_path, kKeyFileBytesMax);
  if (!private_pem.ok()) return private_pem.status();
  absl::StatusOr<std::string> public_pem =
      ReadSmallFile(JoinPath(dir, kPublicKeyFile), kKeyFileBytesMax);
  if (!public_pem.ok()) return public_pem.status();

  BioPtr bio(BIO_new_mem_buf(private_pem->data(),
                             static_cast<int>(private_pem->size())));
  PkeyPtr pkey(bio == nullptr ? nullptr
                              : PEM_read_bio_PrivateKey(bio.get(), nullptr,
                                                        nullptr, nullptr));
  if (pkey == nullptr || !IsEd25519(pkey.get())) {
    return absl::DataLossError(
        absl::StrCat(private_path, " is not an Ed25519 private key in PEM"));
  }
  absl::StatusOr<std::string> derived_public_pem = PublicKeyPem(pkey.get());
  if (!derived_public_pem.ok()) return derived_public_pem.status();
  if (*derived_public_pem != *public_pem) {
    return absl::DataLossError(absl::StrCat(JoinPath(dir, kPublicKeyFile),
                                            " does not match ", private_path));
  }
  absl::StatusOr<std::unique_ptr<CheckpointVerifier>> verifier =
      CheckpointVerifier::FromPublicKeyPem(*public_pem);
  if (!verifier.ok()) return verifier.status();
  auto key = std::make_unique<Key>();
  key->pkey = std::move(pkey);
  return std::unique_ptr<CheckpointSigner>(
      new CheckpointSigner(std::move(key), *std::move(verifier)));
}

absl::StatusOr<std::string> CheckpointSigner::Sign(
    absl::string_view body) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr,
                                           key_->pkey.get()) != 1) {
    return absl::InternalError("cannot initialise Ed25519 signing");
  }
  std::string signature(kEd25519SignatureBytes, '\0');
  size_t length = signature.size();
  if (EVP_DigestSign(
          ctx.get(), reinterpret_cast<unsigned char*>(signature.data()),
          &length, reinterpret_cast<const unsigned char*>(body.data()),
          body.size()) != 1 ||
      length != kEd25519SignatureBytes) {
    return absl::InternalError("Ed25519 signing failed");
  }
  return signature;
}

}  // namespace premium
