// premiumctl ledger checkpoint | consistency: fetch a signed checkpoint, and
// check locally that the ledger only grew since one held before.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "clients/checkpoint_json.h"
#include "clients/premiumctl/commands.h"
#include "clients/verify_answers.h"
#include "ledger/util/files.h"
#include "services/grpc_status.h"
#include "wsr/premium/v1/ledger.grpc.pb.h"

namespace premium::ctl {
namespace {

namespace pb = wsr::premium::v1;

// WriteNewFile's AlreadyExists carries only the path, which the caller
// already prints: say what is wrong with it instead.
std::string WriteProblem(const absl::Status& status) {
  if (absl::IsAlreadyExists(status)) return "file exists (never overwritten)";
  return std::string(status.message());
}

absl::StatusOr<pb::Checkpoint> FetchCheckpoint(const Connection& connection) {
  auto stub = pb::LedgerService::NewStub(connection.channel());
  pb::GetCheckpointRequest request;
  pb::GetCheckpointResponse response;
  const grpc::Status status =
      stub->GetCheckpoint(connection.NewContext().get(), request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response.checkpoint();
}

void PrintCheckpointTable(const pb::Checkpoint& checkpoint) {
  const nlohmann::ordered_json json = CheckpointToJson(checkpoint);
  std::printf("origin      %s\n", checkpoint.origin().c_str());
  std::printf("tree size   %llu\n",
              static_cast<unsigned long long>(checkpoint.tree_size()));
  std::printf("root hash   %s\n", json["root_hash"].get<std::string>().c_str());
  std::printf("signature   %s\n", json["signature"].get<std::string>().c_str());
}

absl::Status Checkpoint(const Connection& connection,
                        const std::string& out_path) {
  absl::StatusOr<pb::Checkpoint> checkpoint = FetchCheckpoint(connection);
  if (!checkpoint.ok()) return checkpoint.status();
  // Self-consistency only: trust in the key comes from elsewhere (an earlier
  // checkpoint, the program's published key).
  absl::StatusOr<std::unique_ptr<CheckpointVerifier>> verifier =
      CheckpointVerifier::FromPublicKeyPem(checkpoint->public_key_pem());
  if (!verifier.ok()) return verifier.status();
  if (absl::Status s = VerifyCheckpoint(*checkpoint, **verifier); !s.ok()) {
    return absl::DataLossError(
        absl::StrCat("the server sent a bad checkpoint: ", s.message()));
  }
  const std::string json = CheckpointToJson(*checkpoint).dump(2) + "\n";
  if (!out_path.empty()) {
    if (absl::Status s = WriteNewFile(out_path, json, 0644); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--out ", out_path, ": ", WriteProblem(s)));
    }
  }
  if (connection.output() == OutputFormat::kJson) {
    std::fputs(json.c_str(), stdout);
  } else if (connection.output() == OutputFormat::kCsv) {
    const nlohmann::ordered_json fields = CheckpointToJson(*checkpoint);
    std::printf("origin,tree_size,root_hash,signature\n%s,%llu,%s,%s\n",
                checkpoint->origin().c_str(),
                static_cast<unsigned long long>(checkpoint->tree_size()),
                fields["root_hash"].get<std::string>().c_str(),
                fields["signature"].get<std::string>().c_str());
  } else {
    PrintCheckpointTable(*checkpoint);
  }
  return absl::OkStatus();
}

absl::Status Consistency(const Connection& connection,
                         const std::string& from_path) {
  // The key in the checkpoint the user already holds is the trust anchor.
  absl::StatusOr<TrustAnchor> anchor = ReadCheckpointAnchor(from_path);
  if (!anchor.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--from ", from_path, ": ", anchor.status().message()));
  }
  const pb::Checkpoint& old_checkpoint = *anchor->checkpoint;
  absl::StatusOr<pb::Checkpoint> new_checkpoint = FetchCheckpoint(connection);
  if (!new_checkpoint.ok()) return new_checkpoint.status();
  // Refused before a proof is asked for: there is none for a smaller tree.
  if (absl::Status s = VerifyLaterCheckpoint(old_checkpoint, *new_checkpoint);
      !s.ok()) {
    return absl::DataLossError(absl::StrCat("INCONSISTENT: ", s.message()));
  }

  auto stub = pb::LedgerService::NewStub(connection.channel());
  pb::GetConsistencyProofRequest request;
  request.set_old_size(old_checkpoint.tree_size());
  request.set_new_size(new_checkpoint->tree_size());
  pb::GetConsistencyProofResponse response;
  const grpc::Status status = stub->GetConsistencyProof(
      connection.NewContext().get(), request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  const std::vector<std::string> proof(response.hashes().begin(),
                                       response.hashes().end());
  if (absl::Status s =
          VerifyConsistencyAnswer(old_checkpoint, *new_checkpoint, proof);
      !s.ok()) {
    return absl::DataLossError(absl::StrCat("INCONSISTENT: ", s.message()));
  }
  if (connection.output() == OutputFormat::kJson) {
    nlohmann::ordered_json json;
    json["consistent"] = true;
    json["old_tree_size"] = old_checkpoint.tree_size();
    json["new_tree_size"] = new_checkpoint->tree_size();
    json["checkpoint"] = CheckpointToJson(*new_checkpoint);
    std::cout << json.dump(2) << "\n";
  } else {
    std::printf(
        "consistent: the ledger grew from %llu to %llu entries and kept "
        "every earlier one\n",
        static_cast<unsigned long long>(old_checkpoint.tree_size()),
        static_cast<unsigned long long>(new_checkpoint->tree_size()));
  }
  return absl::OkStatus();
}

}  // namespace

void AddLedgerCommands(CLI::App& app, const ActionSink& set_action) {
  CLI::App* ledger = app.add_subcommand("ledger", "checkpoints and proofs");
  ledger->require_subcommand(1);

  auto out_path = std::make_shared<std::string>();
  CLI::App* checkpoint = ledger->add_subcommand(
      "checkpoint", "print the newest signed checkpoint");
  checkpoint->add_option("--out", *out_path,
                         "also save it as JSON to this new file");
  checkpoint->callback([set_action, out_path] {
    set_action([out_path](const Connection& connection) {
      return Checkpoint(connection, *out_path);
    });
  });

  auto from_path = std::make_shared<std::string>();
  CLI::App* consistency = ledger->add_subcommand(
      "consistency",
      "verify locally that the ledger only grew since a saved checkpoint");
  consistency->add_option("--from", *from_path, "the saved checkpoint (JSON)")
      ->required();
  consistency->callback([set_action, from_path] {
    set_action([from_path](const Connection& connection) {
      return Consistency(connection, *from_path);
    });
  });
}

}  // namespace premium::ctl
