// premiumctl worker lookup | dispute: the paystub code is the credential.
// A lookup is checked here, not trusted (VerifyWorkerLookup): the line's
// entry bytes must hash to a leaf that the inclusion proof ties to the root
// of a signed checkpoint, and the line shown must be the one in those bytes.
// The key the checkpoint must be signed by comes from --public-key or
// --checkpoint (whose tree the lookup's must extend); without either, only
// the key the server names can be used, and its fingerprint is printed for a
// person to compare with the one the program publishes.
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "clients/checkpoint_json.h"
#include "clients/premiumctl/commands.h"
#include "clients/verify_answers.h"
#include "nlohmann/json.hpp"
#include "services/grpc_status.h"
#include "wsr/premium/v1/ledger.grpc.pb.h"
#include "wsr/premium/v1/worker.grpc.pb.h"

namespace premium::ctl {
namespace {

namespace pb = wsr::premium::v1;

nlohmann::ordered_json LineJson(const pb::WorkerLine& line) {
  return {{"program_id", line.program_id()},
          {"period_start", line.period_start()},
          {"period_end", line.period_end()},
          {"pay_date", line.pay_date()},
          {"hours", line.hours()},
          {"premium_amount", line.premium_amount()},
          {"currency", line.currency()},
          {"seq", line.seq()}};
}

struct LookupFlags {
  std::string code;
  std::string public_key_path;
  std::string checkpoint_path;
};

// The anchor the flags name; one without a key when they name none.
absl::StatusOr<TrustAnchor> ReadAnchor(const LookupFlags& flags) {
  TrustAnchor anchor;
  if (!flags.public_key_path.empty()) {
    absl::StatusOr<TrustAnchor> key =
        ReadPublicKeyAnchor(flags.public_key_path);
    if (!key.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--public-key ", flags.public_key_path, ": ",
                       key.status().message()));
    }
    anchor = *std::move(key);
  }
  if (!flags.checkpoint_path.empty()) {
    // With --public-key too, the saved checkpoint must be signed by that key.
    absl::StatusOr<TrustAnchor> held =
        ReadCheckpointAnchor(flags.checkpoint_path, std::move(anchor.key));
    if (!held.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--checkpoint ", flags.checkpoint_path, ": ",
                       held.status().message()));
    }
    anchor = *std::move(held);
  }
  return anchor;
}

// The server's proof that the lookup's tree extends the checkpoint held:
// asked for only when the lookup's checkpoint is signed by the anchor's key
// and larger, so that a bad checkpoint is reported as such by
// VerifyWorkerLookup rather than as the server's refusal of a proof.
absl::StatusOr<std::vector<std::string>> FetchConsistencyProof(
    const Connection& connection, const TrustAnchor& anchor,
    const pb::WorkerLookup& lookup) {
  const pb::Checkpoint& checkpoint = lookup.checkpoint();
  if (!anchor.checkpoint.has_value() ||
      checkpoint.tree_size() <= anchor.checkpoint->tree_size() ||
      !VerifyCheckpoint(checkpoint, *anchor.key).ok()) {
    return std::vector<std::string>();
  }
  auto stub = pb::LedgerService::NewStub(connection.channel());
  pb::GetConsistencyProofRequest request;
  request.set_old_size(anchor.checkpoint->tree_size());
  request.set_new_size(checkpoint.tree_size());
  pb::GetConsistencyProofResponse response;
  const absl::Status status = FromGrpcStatus(stub->GetConsistencyProof(
      connection.NewContext().get(), request, &response));
  if (!status.ok()) {
    return absl::Status(
        status.code(),
        absl::StrCat("cannot get the consistency proof from ",
                     request.old_size(), " to ", request.new_size(), ": ",
                     status.message()));
  }
  return std::vector<std::string>(response.hashes().begin(),
                                  response.hashes().end());
}

// The line under the "verified:" line: which key signed, and why to trust it.
void PrintKeyTrust(const pb::WorkerLookup& lookup, const TrustAnchor& anchor) {
  if (anchor.key == nullptr) {
    // VerifyWorkerLookup parsed this key.
    const std::unique_ptr<CheckpointVerifier> claimed =
        *CheckpointVerifier::FromPublicKeyPem(
            lookup.checkpoint().public_key_pem());
    std::printf(
        "signing key: SHA-256 %s, as the server names it; not checked against "
        "a key you hold: compare it with the key your program publishes, or "
        "pass --public-key or --checkpoint\n",
        PublicKeyFingerprint(*claimed).c_str());
    return;
  }
  const std::string fingerprint = PublicKeyFingerprint(*anchor.key);
  if (!anchor.checkpoint.has_value()) {
    std::printf("signing key: SHA-256 %s, the key of --public-key\n",
                fingerprint.c_str());
    return;
  }
  std::printf(
      "signing key: SHA-256 %s, the key of --checkpoint; the ledger kept the "
      "%llu entries of that checkpoint and only appended since\n",
      fingerprint.c_str(),
      static_cast<unsigned long long>(anchor.checkpoint->tree_size()));
}

absl::Status Lookup(const Connection& connection, const LookupFlags& flags) {
  // The anchor is read first: a bad file is the user's to fix, before any
  // call is made.
  absl::StatusOr<TrustAnchor> anchor = ReadAnchor(flags);
  if (!anchor.ok()) return anchor.status();
  const std::string& code = flags.code;
  auto stub = pb::WorkerService::NewStub(connection.channel());
  pb::LookupCodeRequest request;
  request.set_code(code);
  pb::WorkerLookup lookup;
  if (absl::Status s = FromGrpcStatus(
          stub->LookupCode(connection.NewContext().get(), request, &lookup));
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::vector<std::string>> consistency_proof =
      FetchConsistencyProof(connection, *anchor, lookup);
  if (!consistency_proof.ok()) return consistency_proof.status();
  const absl::Status verified = VerifyWorkerLookup(
      lookup, code, anchor->key ? &*anchor : nullptr, *consistency_proof);
  if (!verified.ok()) {
    return absl::DataLossError(absl::StrCat(
        "the server's answer does not verify: ", verified.message()));
  }
  if (connection.output() == OutputFormat::kJson) {
    nlohmann::ordered_json json;
    json["supplier_id"] = lookup.supplier_id();
    json["worker_id"] = lookup.worker_id();
    json["lines"] = nlohmann::ordered_json::array();
    for (const pb::WorkerLine& line : lookup.lines()) {
      json["lines"].push_back(LineJson(line));
    }
    json["totals"] = nlohmann::ordered_json::object();
    for (const auto& [currency, amount] : lookup.totals()) {
      json["totals"][currency] = amount;
    }
    json["line"] = LineJson(lookup.line());
    json["entry_bytes"] = absl::Base64Escape(lookup.entry_bytes());
    nlohmann::ordered_json hashes = nlohmann::ordered_json::array();
    for (const std::string& hash : lookup.inclusion_proof().hashes()) {
      hashes.push_back(absl::BytesToHexString(hash));
    }
    json["inclusion_proof"] = {
        {"leaf_index", lookup.inclusion_proof().leaf_index()},
        {"tree_size", lookup.inclusion_proof().tree_size()},
        {"hashes", hashes}};
    json["checkpoint"] = CheckpointToJson(lookup.checkpoint());
    std::cout << json.dump(2) << "\n";
    return absl::OkStatus();
  }
  const bool csv = connection.output() == OutputFormat::kCsv;
  std::printf(csv ? "program_id,period_start,period_end,pay_date,hours,"
                    "premium_amount,currency,seq\n"
                  : "worker %s at %s\n%-10s %-10s %-10s %-10s %8s %12s %-4s "
                    "%s\n",
              lookup.worker_id().c_str(), lookup.supplier_id().c_str(),
              "program", "from", "to", "paid", "hours", "premium", "cur",
              "seq");
  for (const pb::WorkerLine& line : lookup.lines()) {
    std::printf(csv ? "%s,%s,%s,%s,%s,%s,%s,%llu\n"
                    : "%-10s %-10s %-10s %-10s %8s %12s %-4s %llu\n",
                line.program_id().c_str(), line.period_start().c_str(),
                line.period_end().c_str(), line.pay_date().c_str(),
                line.hours().c_str(), line.premium_amount().c_str(),
                line.currency().c_str(),
                static_cast<unsigned long long>(line.seq()));
  }
  if (csv) return absl::OkStatus();
  for (const auto& [currency, amount] : lookup.totals()) {
    std::printf("total premium: %s %s\n", currency.c_str(), amount.c_str());
  }
  std::printf(
      "verified: the line of %s to %s is entry %llu of the ledger's tree of "
      "%llu entries, signed as \"%s\" (root %s)\n",
      lookup.line().period_start().c_str(), lookup.line().period_end().c_str(),
      static_cast<unsigned long long>(lookup.line().seq()),
      static_cast<unsigned long long>(lookup.checkpoint().tree_size()),
      lookup.checkpoint().origin().c_str(),
      absl::Base64Escape(lookup.checkpoint().root_hash()).c_str());
  PrintKeyTrust(lookup, *anchor);
  return absl::OkStatus();
}

struct DisputeFlags {
  std::string code;
  std::string paystub_amount;
  std::string note;
};

absl::Status Dispute(const Connection& connection, const DisputeFlags& flags) {
  auto stub = pb::WorkerService::NewStub(connection.channel());
  pb::DisputeLineRequest request;
  request.set_code(flags.code);
  request.set_paystub_amount(flags.paystub_amount);
  request.set_note(flags.note);
  pb::DisputeLineResponse response;
  if (absl::Status s = FromGrpcStatus(
          stub->DisputeLine(connection.NewContext().get(), request, &response));
      !s.ok()) {
    return s;
  }
  if (connection.output() == OutputFormat::kJson) {
    nlohmann::ordered_json json;
    json["seq"] = response.seq();
    json["replayed"] = response.replayed();
    std::cout << json.dump(2) << "\n";
  } else {
    std::printf("%s (ledger seq %llu); an auditor will review it\n",
                response.replayed() ? "this dispute was already recorded"
                                    : "dispute recorded",
                static_cast<unsigned long long>(response.seq()));
  }
  return absl::OkStatus();
}

}  // namespace

void AddWorkerCommands(CLI::App& app, const ActionSink& set_action) {
  CLI::App* worker =
      app.add_subcommand("worker", "a worker's paystub code (no token needed)");
  worker->require_subcommand(1);
  auto lookup_flags = std::make_shared<LookupFlags>();
  CLI::App* lookup = worker->add_subcommand(
      "lookup", "show the premium recorded for the code's worker, verified");
  lookup
      ->add_option("--code", lookup_flags->code,
                   "the code printed on the paystub")
      ->required();
  lookup->add_option("--public-key", lookup_flags->public_key_path,
                     "the ledger's public key (PEM), as the program "
                     "publishes it: the checkpoint must be signed by it");
  lookup->add_option("--checkpoint", lookup_flags->checkpoint_path,
                     "a checkpoint saved earlier (ledger checkpoint --out): "
                     "signed by its key, the lookup's tree must extend it");
  lookup->callback([set_action, lookup_flags] {
    set_action([lookup_flags](const Connection& connection) {
      return Lookup(connection, *lookup_flags);
    });
  });
  auto flags = std::make_shared<DisputeFlags>();
  CLI::App* dispute =
      worker->add_subcommand("dispute", "say a recorded line is wrong");
  dispute->add_option("--code", flags->code)->required();
  dispute
      ->add_option("--paystub-amount", flags->paystub_amount,
                   "the premium the paystub shows")
      ->required();
  dispute->add_option("--note", flags->note);
  dispute->callback([set_action, flags] {
    set_action([flags](const Connection& connection) {
      return Dispute(connection, *flags);
    });
  });
}

}  // namespace premium::ctl
