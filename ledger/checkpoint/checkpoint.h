// Signed checkpoints: a commitment to the whole ledger at one tree size.
//
// The signed body follows the C2SP tlog-checkpoint note body:
//
//   <origin>\n
//   <tree size, decimal, no leading zeros>\n
//   <root hash, standard base64 with padding>\n
//
// and the signature is Ed25519 (RFC 8032) over exactly those bytes. Anyone
// holding the public key can check a checkpoint without the ledger.
#ifndef PREMIUM_LEDGER_CHECKPOINT_CHECKPOINT_H_
#define PREMIUM_LEDGER_CHECKPOINT_CHECKPOINT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ledger/merkle/hasher.h"

namespace premium {

inline constexpr size_t kOriginLengthMax = 128;
inline constexpr size_t kEd25519SignatureBytes = 64;

struct Checkpoint {
  std::string origin;
  uint64_t tree_size = 0;
  merkle::Hash root_hash{};
};

// An origin is 1 to kOriginLengthMax printable ASCII characters without
// spaces, so that the body stays one line per field.
absl::Status ValidateOrigin(absl::string_view origin);

// The exact bytes that are signed.
std::string CheckpointBody(const Checkpoint& checkpoint);

// Parses a body that CheckpointBody produced. InvalidArgument, naming the line,
// for anything else (extra lines, leading zeros, bad base64, wrong length).
absl::StatusOr<Checkpoint> ParseCheckpointBody(absl::string_view body);

// Verifies Ed25519 signatures with one public key. Thread-safe.
class CheckpointVerifier {
 public:
  // InvalidArgument unless `public_key_pem` is an Ed25519 SubjectPublicKeyInfo
  // in PEM.
  static absl::StatusOr<std::unique_ptr<CheckpointVerifier>> FromPublicKeyPem(
      absl::string_view public_key_pem);
  ~CheckpointVerifier();

  // OK when `signature` is a valid signature of `body`; otherwise
  // PermissionDenied (a forged or foreign checkpoint is an attack, not bad
  // syntax).
  absl::Status Verify(absl::string_view body,
                      absl::string_view signature) const;

  const std::string& public_key_pem() const { return public_key_pem_; }

 private:
  struct Key;
  CheckpointVerifier(std::unique_ptr<Key> key, std::string public_key_pem);
  std::unique_ptr<Key> key_;
  std::string public_key_pem_;
};

// Signs checkpoints with the ledger's Ed25519 key. Thread-safe.
class CheckpointSigner {
 public:
  // The key files inside a data directory.
  static constexpr absl::string_view kPrivateKeyFile = "signing_key.pem";
  static constexpr absl::string_view kPublicKeyFile = "signing_key.pub.pem";

  // Creates a new key in `dir`: the private key (PKCS#8 PEM) with mode 0600
  // and the public key (PEM) with mode 0644, each written whole or not at
  // all. AlreadyExists if either is there: a ledger's key is never replaced
  // silently.
  static absl::StatusOr<std::unique_ptr<CheckpointSigner>> CreateInDirectory(
      const std::string& dir);
  // Loads the key made by CreateInDirectory. NotFound if absent;
  // FailedPrecondition if the private key file is readable by others;
  // DataLoss if it does not parse or does not match the public key file.
  static absl::StatusOr<std::unique_ptr<CheckpointSigner>> LoadFromDirectory(
      const std::string& dir);
  ~CheckpointSigner();

  // Returns the 64-byte signature of `body`. Ed25519 is deterministic: the
  // same body always gets the same signature.
  absl::StatusOr<std::string> Sign(absl::string_view body) const;

  const CheckpointVerifier& verifier() const { return *verifier_; }
  const std::string& public_key_pem() const {
    return verifier_->public_key_pem();
  }

 private:
  struct Key;
  CheckpointSigner(std::unique_ptr<Key> key,
                   std::unique_ptr<CheckpointVerifier> verifier);
  std::unique_ptr<Key> key_;
  std::unique_ptr<CheckpointVerifier> verifier_;
};

}  // namespace premium

#endif  // PREMIUM_LEDGER_CHECKPOINT_CHECKPOINT_H_
