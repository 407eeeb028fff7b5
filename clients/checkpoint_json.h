// The JSON form of a signed checkpoint (DESIGN section 8), and the checks a
// client makes before it trusts one.
//
//   {"origin": "...", "tree_size": N, "root_hash": "<base64>",
//    "signature": "<base64 Ed25519 signature over the body>",
//    "public_key": "<PEM>"}
#ifndef PREMIUM_CLIENTS_CHECKPOINT_JSON_H_
#define PREMIUM_CLIENTS_CHECKPOINT_JSON_H_

#include <string>

#include "absl/status/statusor.h"
#include "ledger/checkpoint/checkpoint.h"
#include "nlohmann/json.hpp"
#include "wsr/premium/v1/ledger.pb.h"

namespace premium {

nlohmann::ordered_json CheckpointToJson(
    const wsr::premium::v1::Checkpoint& checkpoint);

// Parses the JSON form. InvalidArgument naming the field for anything
// missing or malformed. The body is rebuilt from the fields, never taken from
// the input.
absl::StatusOr<wsr::premium::v1::Checkpoint> CheckpointFromJson(
    const nlohmann::json& json);

// Checks that `checkpoint` is signed by `trusted` and that its body is the
// one its fields describe. A checkpoint whose own public_key differs from the
// trusted key is refused (PermissionDenied), whatever it says.
absl::Status VerifyCheckpoint(const wsr::premium::v1::Checkpoint& checkpoint,
                              const CheckpointVerifier& trusted);

}  // namespace premium

#endif  // PREMIUM_CLIENTS_CHECKPOINT_JSON_H_
