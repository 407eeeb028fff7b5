// What a client checks before it believes a ledger server (DESIGN section 5:
// anyone can check "with nothing but the public key"): a worker's lookup
// (WorkerService.LookupCode), and that the ledger only grew since a
// checkpoint the client saved (LedgerService.GetCheckpoint and
// GetConsistencyProof).
//
// Trust comes from outside the answer, as a TrustAnchor: the ledger's public
// key as the program publishes it, or a checkpoint saved earlier, whose key
// then anchors and whose tree every later answer must extend. Without an
// anchor a lookup can only be checked against the key it names itself, which
// proves that it is self-consistent, not that it is the ledger's: show
// PublicKeyFingerprint so that a person can compare that key with the
// published one.
//
// A failed check of a server's answer is DataLoss naming the first check that
// failed: the server lies or its data is corrupt, so callers should alert,
// not retry. Everything but the Read* functions is pure; all are
// thread-safe.
#ifndef PREMIUM_CLIENTS_VERIFY_ANSWERS_H_
#define PREMIUM_CLIENTS_VERIFY_ANSWERS_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "ledger/checkpoint/checkpoint.h"
#include "wsr/premium/v1/ledger.pb.h"
#include "wsr/premium/v1/worker.pb.h"

namespace premium {

// The largest key or checkpoint file the Read* functions read; real ones are
// under 1 KiB.
inline constexpr size_t kTrustFileBytesMax = 64 * 1024;

// What the client trusts before it asks the server anything.
struct TrustAnchor {
  // The key the ledger signs its checkpoints with. Never null in an anchor
  // that a Read* function returned.
  std::unique_ptr<CheckpointVerifier> key;
  // A checkpoint saved earlier, signed by `key`. Answers must then be of a
  // tree that extends it: same origin, no fewer entries, and a consistency
  // proof from its tree to theirs.
  std::optional<wsr::premium::v1::Checkpoint> checkpoint;
};

// Reads the ledger's public key from a PEM file (as premiumd writes it:
// <data-dir>/signing_key.pub.pem). InvalidArgument saying what is wrong
// ("no such file", "not an Ed25519 public key in PEM"); the message leaves
// out the path, which the caller names with its flag.
absl::StatusOr<TrustAnchor> ReadPublicKeyAnchor(const std::string& path);

// Reads a checkpoint saved as JSON (premiumctl ledger checkpoint --out) and
// checks that it is signed by `key`; with a null `key`, by the key the
// checkpoint names, which becomes the anchor's key (so a damaged file is
// still caught). InvalidArgument as ReadPublicKeyAnchor, also for a file
// that is not valid JSON or not a checkpoint signed so.
absl::StatusOr<TrustAnchor> ReadCheckpointAnchor(
    const std::string& path, std::unique_ptr<CheckpointVerifier> key = nullptr);

// The SHA-256 of the key's DER SubjectPublicKeyInfo, as 64 lowercase hex
// digits: what `openssl pkey -pubin -in KEY.pem -outform DER | sha256sum`
// prints, so that a person can compare keys without software of ours.
std::string PublicKeyFingerprint(const CheckpointVerifier& key);

// Checks a worker's lookup answer to `typed_code`:
//   1. its checkpoint is signed by trust->key (null `trust`: by the key the
//      checkpoint names; see above) and its body is its fields;
//   2. with trust->checkpoint: the lookup's tree extends it
//      (VerifyConsistencyAnswer with `consistency_proof`, the server's
//      GetConsistencyProof hashes from that checkpoint's size to the lookup's
//      tree size; ignored without trust->checkpoint);
//   3. the inclusion proof is for the line's seq in the checkpoint's tree;
//   4. the entry bytes are a payroll line of this supplier and worker whose
//      code hash is the typed code's, and the line shown (and its row among
//      the lines) says what those bytes hold;
//   5. the proof leads from the entry bytes to the checkpoint's root.
// OK, or DataLoss naming the first check that failed.
absl::Status VerifyWorkerLookup(
    const wsr::premium::v1::WorkerLookup& lookup, absl::string_view typed_code,
    const TrustAnchor* trust,
    absl::Span<const std::string> consistency_proof = {});

// The checks of a later checkpoint that need no proof: `new_checkpoint` is
// signed by the key of `old_checkpoint` (one the client held and checked
// before: the anchor), names the same origin, and has no fewer entries.
// Lets a caller refuse before it asks for a proof. OK, or DataLoss naming
// the first check that failed (InvalidArgument if `old_checkpoint` names no
// valid key).
absl::Status VerifyLaterCheckpoint(
    const wsr::premium::v1::Checkpoint& old_checkpoint,
    const wsr::premium::v1::Checkpoint& new_checkpoint);

// VerifyLaterCheckpoint, then that `proof_hashes` (raw 32-byte hashes, as
// GetConsistencyProof returns them) prove the tree of `old_checkpoint` a
// prefix of the tree of `new_checkpoint`: history was only appended to.
// Errors as VerifyLaterCheckpoint.
absl::Status VerifyConsistencyAnswer(
    const wsr::premium::v1::Checkpoint& old_checkpoint,
    const wsr::premium::v1::Checkpoint& new_checkpoint,
    absl::Span<const std::string> proof_hashes);

}  // namespace premium

#endif  // PREMIUM_CLIENTS_VERIFY_ANSWERS_H_
