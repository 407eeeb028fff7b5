// premiumctl program add | party add: the admin's set-up commands.
#include <cstdio>
#include <iostream>
#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "clients/premiumctl/commands.h"
#include "ledger/merkle/hasher.h"
#include "ledger/util/files.h"
#include "nlohmann/json.hpp"
#include "services/credentials.h"
#include "services/grpc_status.h"
#include "wsr/premium/v1/admin.grpc.pb.h"

namespace premium::ctl {
namespace {

namespace pb = wsr::premium::v1;

void PrintProgram(const pb::Program& program, OutputFormat output) {
  if (output == OutputFormat::kJson) {
    nlohmann::ordered_json json;
    json["program_id"] = program.program_id();
    json["versions"] = nlohmann::ordered_json::array();
    for (const pb::ProgramVersionView& view : program.versions()) {
      const pb::ProgramVersionSpec& s = view.spec();
      json["versions"].push_back(
          {{"effective_date", s.effective_date()},
           {"name", s.name()},
           {"currency", s.currency()},
           {"unit", s.unit()},
           {"worker_rate", s.worker_rate()},
           {"supplier_rate", s.supplier_rate()},
           {"payment_terms_days", s.payment_terms_days()},
           {"distribution_deadline_days", s.distribution_deadline_days()},
           {"allocation", s.allocation()},
           {"tolerance", s.tolerance()},
           {"seq", view.seq()}});
    }
    std::cout << json.dump(2) << "\n";
    return;
  }
  const bool csv = output == OutputFormat::kCsv;
  std::printf(csv ? "program_id,effective_date,name,currency,unit,worker_rate,"
                    "supplier_rate,payment_terms_days,"
                    "distribution_deadline_days,allocation,tolerance,seq\n"
                  : "%-12s %-10s %-6s %-5s %-12s %-12s %-5s %-8s %-10s %-10s "
                    "%s\n",
              "program", "effective", "cur", "unit", "worker_rate",
              "supplier_rate", "terms", "deadline", "allocation", "tolerance",
              "seq");
  for (const pb::ProgramVersionView& view : program.versions()) {
    const pb::ProgramVersionSpec& s = view.spec();
    if (csv) {
      // Names are free text: quote them as RFC 4180 says.
      std::string name = s.name();
      absl::StrReplaceAll({{"\"", "\"\""}}, &name);
      std::printf("%s,%s,\"%s\",%s,%s,%s,%s,%d,%d,%s,%s,%llu\n",
                  program.program_id().c_str(), s.effective_date().c_str(),
                  name.c_str(), s.currency().c_str(), s.unit().c_str(),
                  s.worker_rate().c_str(), s.supplier_rate().c_str(),
                  s.payment_terms_days(), s.distribution_deadline_days(),
                  s.allocation().c_str(), s.tolerance().c_str(),
                  static_cast<unsigned long long>(view.seq()));
    } else {
      std::printf(
          "%-12s %-10s %-6s %-5s %-12s %-12s %-5d %-8d %-10s %-10s "
          "%llu\n",
          program.program_id().c_str(), s.effective_date().c_str(),
          s.currency().c_str(), s.unit().c_str(), s.worker_rate().c_str(),
          s.supplier_rate().c_str(), s.payment_terms_days(),
          s.distribution_deadline_days(), s.allocation().c_str(),
          s.tolerance().c_str(), static_cast<unsigned long long>(view.seq()));
    }
  }
}

struct ProgramFlags {
  pb::ProgramVersionSpec spec;
  int payment_terms_days = 14;
  int distribution_deadline_days = 14;
};

absl::Status AddProgram(const Connection& connection,
                        const ProgramFlags& flags) {
  pb::AddProgramVersionRequest request;
  *request.mutable_version() = flags.spec;
  request.mutable_version()->set_payment_terms_days(flags.payment_terms_days);
  request.mutable_version()->set_distribution_deadline_days(
      flags.distribution_deadline_days);
  if (request.version().effective_date().empty()) {
    request.mutable_version()->set_effective_date(Today());
  }
  request.set_request_id(RequestIdFor("program-add", request));
  auto stub = pb::AdminService::NewStub(connection.channel());
  pb::Program program;
  const grpc::Status status =
      stub->AddProgramVersion(connection.NewContext().get(), request, &program);
  if (!status.ok()) return FromGrpcStatus(status);
  PrintProgram(program, connection.output());
  return absl::OkStatus();
}

absl::StatusOr<pb::Role> ParseRole(absl::string_view role) {
  if (role == "brand") return pb::BRAND;
  if (role == "supplier") return pb::SUPPLIER;
  if (role == "auditor") return pb::AUDITOR;
  return absl::InvalidArgumentError(absl::StrCat(
      "--role must be brand, supplier or auditor, not \"", role, "\""));
}

struct PartyFlags {
  std::string role;
  std::string id;
  std::string name;
  std::string token_out;
};

struct TokenFlags {
  std::string id;
  std::string reason;
  std::string token_out;
  bool revoke_only = false;
};

// party rotate-token / party revoke.
absl::Status ChangeToken(const Connection& connection,
                         const TokenFlags& flags) {
  pb::ChangePartyTokenRequest request;
  request.set_party_id(flags.id);
  request.set_reason(flags.reason);
  request.set_revoke_only(flags.revoke_only);
  // A fresh request id each time: typing the command again must change the
  // tokens again (a token leaked twice is revoked twice), not replay the
  // first change as other commands do.
  absl::StatusOr<std::string> request_id = GenerateToken(
      flags.revoke_only ? "cli-party-revoke-" : "cli-party-rotate-");
  if (!request_id.ok()) return request_id.status();
  request.set_request_id(*request_id);
  auto stub = pb::AdminService::NewStub(connection.channel());
  pb::ChangePartyTokenResponse response;
  if (absl::Status s = FromGrpcStatus(stub->ChangePartyToken(
          connection.NewContext().get(), request, &response));
      !s.ok()) {
    return s;
  }
  if (!flags.token_out.empty() && !response.token().empty()) {
    if (absl::Status s =
            WriteNewFile(flags.token_out, response.token() + "\n", 0600);
        !s.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("changed, but --token-out ", flags.token_out, ": ",
                       s.message(), "; the token is: ", response.token()));
    }
  }
  if (connection.output() == OutputFormat::kJson) {
    nlohmann::ordered_json json;
    json["party_id"] = flags.id;
    json["revoked"] = response.revoked();
    json["seq"] = response.seq();
    json["replayed"] = response.replayed();
    json["token"] = response.token();
    std::cout << json.dump(2) << "\n";
  } else if (connection.output() == OutputFormat::kCsv) {
    PrintCsvRecord({"party_id", "revoked", "seq", "replayed", "token"});
    PrintCsvRecord({flags.id, absl::StrCat(response.revoked()),
                    absl::StrCat(response.seq()),
                    response.replayed() ? "true" : "false", response.token()});
  } else {
    std::printf("%s: %u token(s) revoked (ledger seq %llu)%s\n",
                flags.id.c_str(), response.revoked(),
                static_cast<unsigned long long>(response.seq()),
                response.replayed() ? "; recorded before" : "");
    if (!response.token().empty()) {
      std::printf("new token: %s\n", response.token().c_str());
    }
  }
  return absl::OkStatus();
}

absl::Status AddParty(const Connection& connection, const PartyFlags& flags) {
  absl::StatusOr<pb::Role> role = ParseRole(flags.role);
  if (!role.ok()) return role.status();
  pb::RegisterPartyRequest request;
  request.set_role(*role);
  request.set_party_id(flags.id);
  request.set_name(flags.name);
  request.set_request_id(RequestIdFor("party-add", request));
  auto stub = pb::AdminService::NewStub(connection.channel());
  pb::RegisterPartyResponse response;
  const grpc::Status status =
      stub->RegisterParty(connection.NewContext().get(), request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  if (!flags.token_out.empty()) {
    if (absl::Status s =
            WriteNewFile(flags.token_out, response.token() + "\n", 0600);
        !s.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("registered, but --token-out ", flags.token_out, ": ",
                       s.message(), "; the token is: ", response.token()));
    }
  }
  if (connection.output() == OutputFormat::kJson) {
    nlohmann::ordered_json json;
    json["role"] = flags.role;
    json["party_id"] = response.party().party_id();
    json["name"] = response.party().name();
    json["seq"] = response.party().seq();
    json["token"] = response.token();
    std::cout << json.dump(2) << "\n";
  } else if (connection.output() == OutputFormat::kCsv) {
    std::printf("role,party_id,seq,token\n%s,%s,%llu,%s\n", flags.role.c_str(),
                response.party().party_id().c_str(),
                static_cast<unsigned long long>(response.party().seq()),
                response.token().c_str());
  } else {
    std::printf("registered %s %s (ledger seq %llu)\ntoken: %s\n",
                flags.role.c_str(), response.party().party_id().c_str(),
                static_cast<unsigned long long>(response.party().seq()),
                response.token().c_str());
  }
  return absl::OkStatus();
}

}  // namespace

void AddAdminCommands(CLI::App& app, const ActionSink& set_action) {
  CLI::App* program = app.add_subcommand("program", "premium programs");
  program->require_subcommand(1);
  auto program_flags = std::make_shared<ProgramFlags>();
  pb::ProgramVersionSpec& spec = program_flags->spec;
  CLI::App* add = program->add_subcommand(
      "add", "create a program, or add a rate change effective on a date");
  add->add_option_function<std::string>(
         "--id", [&spec](const std::string& v) { spec.set_program_id(v); })
      ->required();
  add->add_option_function<std::string>(
         "--name", [&spec](const std::string& v) { spec.set_name(v); })
      ->required();
  add->add_option_function<std::string>(
         "--currency", [&spec](const std::string& v) { spec.set_currency(v); })
      ->required();
  add->add_option_function<std::string>(
         "--unit", [&spec](const std::string& v) { spec.set_unit(v); })
      ->required();
  add->add_option_function<std::string>(
         "--worker-rate",
         [&spec](const std::string& v) { spec.set_worker_rate(v); })
      ->required();
  add->add_option_function<std::string>(
      "--supplier-rate",
      [&spec](const std::string& v) { spec.set_supplier_rate(v); },
      "default 0");
  add->add_option("--payment-terms-days", program_flags->payment_terms_days)
      ->capture_default_str();
  add->add_option("--distribution-deadline-days",
                  program_flags->distribution_deadline_days)
      ->capture_default_str();
  add->add_option_function<std::string>(
      "--allocation", [&spec](const std::string& v) { spec.set_allocation(v); },
      "hours (default), wages or none");
  add->add_option_function<std::string>(
      "--tolerance", [&spec](const std::string& v) { spec.set_tolerance(v); },
      "default 1.00");
  add->add_option_function<std::string>(
      "--effective",
      [&spec](const std::string& v) { spec.set_effective_date(v); },
      "YYYY-MM-DD, default today (UTC)");
  add->callback([set_action, program_flags] {
    set_action([program_flags](const Connection& connection) {
      return AddProgram(connection, *program_flags);
    });
  });

  CLI::App* party = app.add_subcommand("party", "brands, suppliers, auditors");
  party->require_subcommand(1);
  auto party_flags = std::make_shared<PartyFlags>();
  CLI::App* party_add =
      party->add_subcommand("add", "register a party and print its token");
  party_add->add_option("--role", party_flags->role, "brand|supplier|auditor")
      ->required();
  party_add->add_option("--id", party_flags->id)->required();
  party_add->add_option("--name", party_flags->name)->required();
  party_add->add_option("--token-out", party_flags->token_out,
                        "also write the token to this new file (mode 0600)");
  party_add->callback([set_action, party_flags] {
    set_action([party_flags](const Connection& connection) {
      return AddParty(connection, *party_flags);
    });
  });

  for (const bool revoke_only : {false, true}) {
    auto token_flags = std::make_shared<TokenFlags>();
    token_flags->revoke_only = revoke_only;
    CLI::App* command =
        revoke_only
            ? party->add_subcommand(
                  "revoke",
                  "revoke every token of a party (it is locked out until "
                  "rotate-token)")
            : party->add_subcommand(
                  "rotate-token",
                  "issue a party a new token and revoke its others");
    command->add_option("--id", token_flags->id)->required();
    command->add_option("--reason", token_flags->reason)->required();
    if (!revoke_only) {
      command->add_option("--token-out", token_flags->token_out,
                          "also write the token to this new file (mode 0600)");
    }
    command->callback([set_action, token_flags] {
      set_action([token_flags](const Connection& connection) {
        return ChangeToken(connection, *token_flags);
      });
    });
  }
}

}  // namespace premium::ctl
