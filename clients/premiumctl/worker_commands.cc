// premiumctl worker lookup | dispute: the paystub code is the credential.
// A lookup is checked here, not trusted: the line's entry bytes must hash to
// a leaf that the inclusion proof ties to the root of a checkpoint signed by
// the key the checkpoint names (compare its fingerprint with the one your
// program publishes), and the line shown must be the one in those bytes.
#include <cstdio>
#include <iostream>
#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "clients/checkpoint_json.h"
#include "clients/premiumctl/commands.h"
#include "ledger/merkle/proof.h"
#include "ledger/money/decimal.h"
#include "nlohmann/json.hpp"
#include "services/grpc_status.h"
#include "services/paystub_code.h"
#include "wsr/premium/v1/records.pb.h"
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

// Whether `shown` says what `recorded` holds. Amounts are compared as
// exact decimals.
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

// What a worker's helper would check with nothing but the public key.
absl::Status VerifyLookup(const pb::WorkerLookup& lookup,
                          absl::string_view typed_code) {
  absl::StatusOr<std::unique_ptr<CheckpointVerifier>> key =
      CheckpointVerifier::FromPublicKeyPem(
          lookup.checkpoint().public_key_pem());
  if (!key.ok()) return key.status();
  if (absl::Status s = VerifyCheckpoint(lookup.checkpoint(), **key); !s.ok()) {
    return s;
  }
  const pb::InclusionProof& proof = lookup.inclusion_proof();
  if (proof.tree_size() != lookup.checkpoint().tree_size() ||
      proof.leaf_index() != lookup.line().seq()) {
    return absl::DataLossError("the proof is not for this line and checkpoint");
  }
  wsr::premium::v1::Entry entry;
  if (!entry.ParseFromString(lookup.entry_bytes()) ||
      entry.seq() != lookup.line().seq()) {
    return absl::DataLossError("the entry bytes are not this line's entry");
  }
  // What is shown must be what is proven: the line, and its row among the
  // lines, are the payroll line in the entry bytes.
  pb::PayrollLine recorded;
  if (entry.kind() != pb::PayrollLine::descriptor()->full_name() ||
      !recorded.ParseFromString(entry.payload()) ||
      recorded.supplier_id() != lookup.supplier_id() ||
      recorded.worker_id() != lookup.worker_id()) {
    return absl::DataLossError("the entry bytes are not this worker's line");
  }
  // And the line proven is the one the typed code unlocks, not another
  // worker's valid answer.
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
  std::vector<merkle::Hash> hashes;
  for (const std::string& bytes : proof.hashes()) {
    absl::StatusOr<merkle::Hash> hash = merkle::HashFromBytes(bytes);
    if (!hash.ok()) return absl::DataLossError("malformed proof hash");
    hashes.push_back(*hash);
  }
  absl::StatusOr<merkle::Hash> root =
      merkle::HashFromBytes(lookup.checkpoint().root_hash());
  if (!root.ok()) return absl::DataLossError("malformed root hash");
  return merkle::VerifyInclusion(
      merkle::HashLeaf(std::string_view(lookup.entry_bytes())),
      proof.leaf_index(), proof.tree_size(), hashes, *root);
}

absl::Status Lookup(const Connection& connection, const std::string& code) {
  auto stub = pb::WorkerService::NewStub(connection.channel());
  pb::LookupCodeRequest request;
  request.set_code(code);
  pb::WorkerLookup lookup;
  if (absl::Status s = FromGrpcStatus(
          stub->LookupCode(connection.NewContext().get(), request, &lookup));
      !s.ok()) {
    return s;
  }
  const absl::Status verified = VerifyLookup(lookup, code);
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
  auto code = std::make_shared<std::string>();
  CLI::App* lookup = worker->add_subcommand(
      "lookup", "show the premium recorded for the code's worker, verified");
  lookup->add_option("--code", *code, "the code printed on the paystub")
      ->required();
  lookup->callback([set_action, code] {
    set_action([code](const Connection& connection) {
      return Lookup(connection, *code);
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
