#include "clients/checkpoint_json.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "ledger/merkle/hasher.h"

namespace premium {
namespace {

namespace pb = wsr::premium::v1;

absl::StatusOr<std::string> StringField(const nlohmann::json& json,
                                        const char* name) {
  const auto it = json.find(name);
  if (it == json.end() || !it->is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint field \"", name, "\" must be a string"));
  }
  return it->get<std::string>();
}

absl::StatusOr<std::string> Base64Field(const nlohmann::json& json,
                                        const char* name, size_t bytes) {
  absl::StatusOr<std::string> text = StringField(json, name);
  if (!text.ok()) return text.status();
  std::string decoded;
  if (!absl::Base64Unescape(*text, &decoded) || decoded.size() != bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "checkpoint field \"", name, "\" must be ", bytes, " bytes in base64"));
  }
  return decoded;
}

}  // namespace

nlohmann::ordered_json CheckpointToJson(const pb::Checkpoint& checkpoint) {
  nlohmann::ordered_json json;
  json["origin"] = checkpoint.origin();
  json["tree_size"] = checkpoint.tree_size();
  json["root_hash"] = absl::Base64Escape(checkpoint.root_hash());
  json["signature"] = absl::Base64Escape(checkpoint.signature());
  json["public_key"] = checkpoint.public_key_pem();
  return json;
}

absl::StatusOr<pb::Checkpoint> CheckpointFromJson(const nlohmann::json& json) {
  if (!json.is_object()) {
    return absl::InvalidArgumentError("a checkpoint must be a JSON object");
  }
  pb::Checkpoint checkpoint;
  absl::StatusOr<std::string> origin = StringField(json, "origin");
  if (!origin.ok()) return origin.status();
  if (absl::Status s = ValidateOrigin(*origin); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint field \"origin\": ", s.message()));
  }
  const auto size = json.find("tree_size");
  if (size == json.end() || !size->is_number_unsigned()) {
    return absl::InvalidArgumentError(
        "checkpoint field \"tree_size\" must be a non-negative integer");
  }
  absl::StatusOr<std::string> root =
      Base64Field(json, "root_hash", merkle::kHashBytes);
  if (!root.ok()) return root.status();
  absl::StatusOr<std::string> signature =
      Base64Field(json, "signature", kEd25519SignatureBytes);
  if (!signature.ok()) return signature.status();
  absl::StatusOr<std::string> public_key = StringField(json, "public_key");
  if (!public_key.ok()) return public_key.status();

  Checkpoint parsed{*origin, size->get<uint64_t>(), {}};
  std::copy(root->begin(), root->end(), parsed.root_hash.begin());
  checkpoint.set_origin(*origin);
  checkpoint.set_tree_size(parsed.tree_size);
  checkpoint.set_root_hash(*root);
  checkpoint.set_body(CheckpointBody(parsed));
  checkpoint.set_signature(*signature);
  checkpoint.set_public_key_pem(*public_key);
  return checkpoint;
}

absl::Status VerifyCheckpoint(const pb::Checkpoint& checkpoint,
                              const CheckpointVerifier& trusted) {
  absl::StatusOr<merkle::Hash> root =
      merkle::HashFromBytes(checkpoint.root_hash());
  if (!root.ok()) {
    return absl::InvalidArgumentError("checkpoint root hash is not 32 bytes");
  }
  if (absl::Status s = ValidateOrigin(checkpoint.origin()); !s.ok()) return s;
  const std::string body = CheckpointBody(
      Checkpoint{checkpoint.origin(), checkpoint.tree_size(), *root});
  if (!checkpoint.body().empty() && checkpoint.body() != body) {
    return absl::PermissionDeniedError(
        "checkpoint body does not match its origin, size and root");
  }
  absl::StatusOr<std::unique_ptr<CheckpointVerifier>> claimed =
      CheckpointVerifier::FromPublicKeyPem(checkpoint.public_key_pem());
  if (!claimed.ok() ||
      (*claimed)->public_key_pem() != trusted.public_key_pem()) {
    return absl::PermissionDeniedError(
        "checkpoint is signed by a key other than the trusted one");
  }
  return trusted.Verify(body, checkpoint.signature());
}

}  // namespace premium
