// premiumctl supplier standing: whether a brand may buy from a supplier.
#include <cstdio>
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "clients/premiumctl/commands.h"
#include "nlohmann/json.hpp"
#include "services/grpc_status.h"
#include "wsr/premium/v1/brand.grpc.pb.h"

namespace premium::ctl {
namespace {

namespace pb = wsr::premium::v1;

struct StandingFlags {
  std::string program_id;
  std::string supplier_id;
  std::string as_of;
};

nlohmann::ordered_json PeriodJson(const pb::SuspensionPeriod& period) {
  return {{"from_date", period.from_date()},
          {"to_date", period.to_date()},
          {"reason", period.reason()},
          {"suspension_seq", period.suspension_seq()},
          {"reinstatement_seq", period.reinstatement_seq()}};
}

absl::Status Standing(const Connection& connection,
                      const StandingFlags& flags) {
  auto stub = pb::BrandService::NewStub(connection.channel());
  pb::GetSupplierStandingRequest request;
  request.set_program_id(flags.program_id);
  request.set_supplier_id(flags.supplier_id);
  request.set_as_of(flags.as_of);
  pb::SupplierStanding standing;
  if (absl::Status s = FromGrpcStatus(stub->GetSupplierStanding(
          connection.NewContext().get(), request, &standing));
      !s.ok()) {
    return s;
  }
  if (connection.output() == OutputFormat::kJson) {
    nlohmann::ordered_json json;
    json["program_id"] = standing.program_id();
    json["supplier_id"] = standing.supplier_id();
    json["as_of"] = standing.as_of();
    json["suspended"] = standing.suspended();
    json["current"] = standing.suspended() ? PeriodJson(standing.current())
                                           : nlohmann::ordered_json::object();
    json["periods"] = nlohmann::ordered_json::array();
    for (const pb::SuspensionPeriod& period : standing.periods()) {
      json["periods"].push_back(PeriodJson(period));
    }
    std::cout << json.dump(2) << "\n";
    return absl::OkStatus();
  }
  if (connection.output() == OutputFormat::kCsv) {
    std::printf("program_id,supplier_id,as_of,suspended\n%s,%s,%s,%s\n",
                standing.program_id().c_str(), standing.supplier_id().c_str(),
                standing.as_of().c_str(),
                standing.suspended() ? "true" : "false");
    return absl::OkStatus();
  }
  if (!standing.suspended()) {
    std::printf("%s is in good standing in %s on %s\n",
                standing.supplier_id().c_str(), standing.program_id().c_str(),
                standing.as_of().c_str());
  } else {
    const pb::SuspensionPeriod& current = standing.current();
    std::printf("%s is SUSPENDED from %s on %s: since %s, %s; reason: %s\n",
                standing.supplier_id().c_str(), standing.program_id().c_str(),
                standing.as_of().c_str(), current.from_date().c_str(),
                current.to_date().empty()
                    ? "until reinstated"
                    : absl::StrCat("until ", current.to_date()).c_str(),
                current.reason().c_str());
  }
  return absl::OkStatus();
}

}  // namespace

void AddStandingCommands(CLI::App& app, const ActionSink& set_action) {
  CLI::App* supplier = app.add_subcommand("supplier", "suppliers");
  supplier->require_subcommand(1);
  auto flags = std::make_shared<StandingFlags>();
  CLI::App* standing = supplier->add_subcommand(
      "standing", "is the supplier suspended from the program?");
  standing->add_option("--program", flags->program_id)->required();
  standing->add_option("--supplier", flags->supplier_id)->required();
  standing->add_option("--as-of", flags->as_of, "YYYY-MM-DD, default today");
  standing->callback([set_action, flags] {
    set_action([flags](const Connection& connection) {
      return Standing(connection, *flags);
    });
  });
}

}  // namespace premium::ctl
