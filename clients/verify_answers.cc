#include "clients/verify_answers.h"

#include <cassert>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "clients/checkpoint_json.h"
#include "ledger/merkle/hasher.h"
#include "ledger/merkle/proof.h"
#include "ledger/money/decimal.h"
#include "ledger/util/files.h"
#include "nlohmann/json.hpp"
#include "services/paystub_code.h"
#include "wsr/premium/v1/entry.pb.h"
#include "wsr/premium/v1/records.pb.h"

namespace premium {
namespace {

namespace pb = wsr::premium::v1;

// ReadSmallFile's NotFound carries only the path, which the caller prints
// with its flag: say what is wrong with the file instead.
absl::Status FileProblem(const absl::Status& status) {
  if (absl::IsNotFound(status)) {
    return absl::InvalidArgumentError("no such file");
  }
  if (absl::IsResourceExhausted(status)) {
    return absl::InvalidArgumentError(
        absl::StrCat("larger than ", kTrustFileBytesMax, " bytes"));
  }
  return absl::InvalidArgumentError(status.message());
}

absl::Status DataLoss(absl::string_view prefix, const absl::Status& status) {
  return absl::DataLossError(absl::StrCat(prefix, status.message()));
}

// The proof's hashes (a span or a repeated proto field of raw bytes), each
// exactly kHashBytes: a shorter or longer one is garbage, not a hash,
// whatever it would hash to.
template <typename Strings>
absl::StatusOr<std::vector<merkle::Hash>> ProofHashes(
    const Strings& proof_bytes) {
  std::vector<merkle::Hash> hashes;
  hashes.reserve(proof_bytes.size());
  for (const std::string& bytes : proof_bytes) {
    absl::StatusOr<merkle::Hash> hash = merkle::HashFromBytes(bytes);
    if (!hash.ok()) {
      return absl::DataLossError(
          absl::StrCat("malformed proof hash ", hashes.size(), ": ",
                       bytes.size(), " bytes, not ", merkle::kHashBytes));
    }
    hashes.push_back(*hash);
  }
  return hashes;
}

// Whether `shown` says what `recorded` holds. Amounts are compared as exact
// decimals.
bool SameLine(const pb::WorkerLine& shown, const pb::PayrollLine& recorded) {
  const absl::StatusOr<int64_t> hours =
      ParseMicros(shown.hours(), kInternalAmountSpec);
  const absl::StatusOr<int64_t> premium =
      ParseMicros(shown.premium_amount(), kInternalAmountSpec);
  return shown.program_id() == recorded.program_id() &&
         shown.period_start() == recorded.period_start() &&
         shown.period_end() == recorded.period_end() &&
         shown.pay_date() == recorded.pay_date() &&
         shown.currency() == recorded.currency() && hours.ok() &&
         *hours == recorded.hours_micros() && premium.ok() &&
         *premium == recorded.premium_micros();
}

// Step 4 of VerifyWorkerLookup: what is shown is what is proven, and what is
// proven is the line the typed code unlocks, not another worker's valid
// answer.
absl::Status VerifyLookupLine(const pb::WorkerLookup& lookup,
                              absl::string_view typed_code) {
  pb::Entry entry;
  if (!entry.ParseFromString(lookup.entry_bytes()) ||
      entry.seq() != lookup.line().seq()) {
    return absl::DataLossError("the entry bytes are not this line's entry");
  }
  pb::PayrollLine recorded;
  if (entry.kind() != pb::PayrollLine::descriptor()->full_name() ||
      !recorded.ParseFromString(entry.payload()) ||
      recorded.supplier_id() != lookup.supplier_id() ||
      recorded.worker_id() != lookup.worker_id()) {
    return absl::DataLossError("the entry bytes are not this worker's line");
  }
  absl::StatusOr<std::string> canonical = NormalizePaystubCode(typed_code);
  if (!canonical.ok() || recorded.code_sha256() !=
                             merkle::HashBytes(PaystubCodeHash(*canonical))) {
    return absl::DataLossError("the line proven is not the one of this code");
  }
  for (const pb::WorkerLine& shown : lookup.lines()) {
    if (shown.seq() == lookup.line().seq() && !SameLine(shown, recorded)) {
      return absl::DataLossError("a line shown is not the line proven");
    }
  }
  if (!SameLine(lookup.line(), recorded)) {
    return absl::DataLossError("the line shown is not the line proven");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TrustAnchor> ReadPublicKeyAnchor(const std::string& path) {
  absl::StatusOr<std::string> pem = ReadSmallFile(path, kTrustFileBytesMax);
  if (!pem.ok()) return FileProblem(pem.status());
  TrustAnchor anchor;
  absl::StatusOr<std::unique_ptr<CheckpointVerifier>> key =
      CheckpointVerifier::FromPublicKeyPem(*pem);
  if (!key.ok()) return absl::InvalidArgumentError(key.status().message());
  anchor.key = *std::move(key);
  return anchor;
}

absl::StatusOr<TrustAnchor> ReadCheckpointAnchor(
    const std::string& path, std::unique_ptr<CheckpointVerifier> key) {
  absl::StatusOr<std::string> text = ReadSmallFile(path, kTrustFileBytesMax);
  if (!text.ok()) return FileProblem(text.status());
  const nlohmann::json json =
      nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return absl::InvalidArgumentError("not valid JSON");
  absl::StatusOr<pb::Checkpoint> checkpoint = CheckpointFromJson(json);
  if (!checkpoint.ok()) return checkpoint.status();
  if (key == nullptr) {
    absl::StatusOr<std::unique_ptr<CheckpointVerifier>> own =
        CheckpointVerifier::FromPublicKeyPem(checkpoint->public_key_pem());
    if (!own.ok()) return absl::InvalidArgumentError(own.status().message());
    key = *std::move(own);
  }
  if (absl::Status s = VerifyCheckpoint(*checkpoint, *key); !s.ok()) {
    return absl::InvalidArgumentError(s.message());
  }
  TrustAnchor anchor;
  anchor.key = std::move(key);
  anchor.checkpoint = *std::move(checkpoint);
  return anchor;
}

std::string PublicKeyFingerprint(const CheckpointVerifier& key) {
  // The verifier's PEM is OpenSSL's canonical encoding: a BEGIN line, the
  // DER in base64 lines, an END line.
  std::string base64;
  for (absl::string_view line :
       absl::StrSplit(key.public_key_pem(), '\n', absl::SkipWhitespace())) {
    if (!absl::StartsWith(line, "-----")) {
      absl::StrAppend(&base64, absl::StripAsciiWhitespace(line));
    }
  }
  std::string der;
  const bool decoded = absl::Base64Unescape(base64, &der);
  assert(decoded && "a verifier's PEM is canonical");
  (void)decoded;
  return merkle::HashToHex(merkle::Sha256Of(der));
}

absl::Status VerifyWorkerLookup(
    const pb::WorkerLookup& lookup, absl::string_view typed_code,
    const TrustAnchor* trust, absl::Span<const std::string> consistency_proof) {
  const pb::Checkpoint& checkpoint = lookup.checkpoint();
  std::unique_ptr<CheckpointVerifier> claimed;
  if (trust == nullptr || trust->key == nullptr) {
    absl::StatusOr<std::unique_ptr<CheckpointVerifier>> key =
        CheckpointVerifier::FromPublicKeyPem(checkpoint.public_key_pem());
    if (!key.ok()) return DataLoss("the checkpoint's key: ", key.status());
    claimed = *std::move(key);
  }
  const CheckpointVerifier& key = claimed != nullptr ? *claimed : *trust->key;
  // Its messages name the checkpoint already.
  if (absl::Status s = VerifyCheckpoint(checkpoint, key); !s.ok()) {
    return absl::DataLossError(s.message());
  }
  if (trust != nullptr && trust->checkpoint.has_value()) {
    if (absl::Status s = VerifyConsistencyAnswer(*trust->checkpoint, checkpoint,
                                                 consistency_proof);
        !s.ok()) {
      return DataLoss("INCONSISTENT with the checkpoint held: ", s);
    }
  }
  const pb::InclusionProof& proof = lookup.inclusion_proof();
  if (proof.tree_size() != checkpoint.tree_size() ||
      proof.leaf_index() != lookup.line().seq()) {
    return absl::DataLossError(absl::StrCat(
        "the proof (entry ", proof.leaf_index(), " of ", proof.tree_size(),
        ") is not for this line and checkpoint (entry ", lookup.line().seq(),
        " of ", checkpoint.tree_size(), ")"));
  }
  if (absl::Status s = VerifyLookupLine(lookup, typed_code); !s.ok()) return s;
  absl::StatusOr<std::vector<merkle::Hash>> hashes =
      ProofHashes(proof.hashes());
  if (!hashes.ok()) return hashes.status();
  // VerifyCheckpoint has checked the root's length.
  const merkle::Hash root = *merkle::HashFromBytes(checkpoint.root_hash());
  if (absl::Status s = merkle::VerifyInclusion(
          merkle::HashLeaf(std::string_view(lookup.entry_bytes())),
          proof.leaf_index(), proof.tree_size(), *hashes, root);
      !s.ok()) {
    return DataLoss("the inclusion proof: ", s);
  }
  return absl::OkStatus();
}

absl::Status VerifyLaterCheckpoint(const pb::Checkpoint& old_checkpoint,
                                   const pb::Checkpoint& new_checkpoint) {
  absl::StatusOr<std::unique_ptr<CheckpointVerifier>> trusted =
      CheckpointVerifier::FromPublicKeyPem(old_checkpoint.public_key_pem());
  if (!trusted.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the checkpoint held: ", trusted.status().message()));
  }
  if (absl::Status s = VerifyCheckpoint(new_checkpoint, **trusted); !s.ok()) {
    return DataLoss("the server's checkpoint: ", s);
  }
  if (new_checkpoint.origin() != old_checkpoint.origin()) {
    // The new origin passed ValidateOrigin (printable, no spaces); the old
    // one is the caller's own.
    return absl::DataLossError(absl::StrCat(
        "the server's checkpoint names another origin (\"",
        new_checkpoint.origin(), "\", not \"", old_checkpoint.origin(), "\")"));
  }
  if (new_checkpoint.tree_size() < old_checkpoint.tree_size()) {
    return absl::DataLossError(
        absl::StrCat("the ledger shrank from ", old_checkpoint.tree_size(),
                     " to ", new_checkpoint.tree_size(), " entries"));
  }
  return absl::OkStatus();
}

absl::Status VerifyConsistencyAnswer(
    const pb::Checkpoint& old_checkpoint, const pb::Checkpoint& new_checkpoint,
    absl::Span<const std::string> proof_hashes) {
  if (absl::Status s = VerifyLaterCheckpoint(old_checkpoint, new_checkpoint);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::vector<merkle::Hash>> proof = ProofHashes(proof_hashes);
  if (!proof.ok()) return proof.status();
  // VerifyLaterCheckpoint checked the new root's length (VerifyCheckpoint);
  // the old one is the anchor's, checked when it was read, but a caller may
  // hand any checkpoint in.
  absl::StatusOr<merkle::Hash> old_root =
      merkle::HashFromBytes(old_checkpoint.root_hash());
  if (!old_root.ok()) {
    return absl::InvalidArgumentError(
        "the checkpoint held: root hash is not 32 bytes");
  }
  const absl::Status verified = merkle::VerifyConsistency(
      old_checkpoint.tree_size(), new_checkpoint.tree_size(), *old_root,
      *merkle::HashFromBytes(new_checkpoint.root_hash()), *proof);
  if (!verified.ok()) {
    return absl::DataLossError(absl::StrCat(
        "the consistency proof from ", old_checkpoint.tree_size(), " to ",
        new_checkpoint.tree_size(), " does not verify: ", verified.message()));
  }
  return absl::OkStatus();
}

}  // namespace premium
