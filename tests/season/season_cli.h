// A season through premiumctl: the arguments that add one program version of
// season.json (tests/season/season.h), for every program that drives a
// season through the command line (season_cli_test, premium-bench).
#ifndef PREMIUM_TESTS_SEASON_SEASON_CLI_H_
#define PREMIUM_TESTS_SEASON_SEASON_CLI_H_

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace premium::season {

// `premiumctl program add ...` of one entry of season.json's "programs";
// throws nlohmann::json's exceptions on a malformed entry (test code).
inline std::vector<std::string> ProgramAddArgs(const nlohmann::json& version) {
  return {"program",
          "add",
          "--id",
          version.at("id").get<std::string>(),
          "--name",
          version.at("name").get<std::string>(),
          "--currency",
          version.at("currency").get<std::string>(),
          "--unit",
          version.at("unit").get<std::string>(),
          "--worker-rate",
          version.at("worker_rate").get<std::string>(),
          "--supplier-rate",
          version.at("supplier_rate").get<std::string>(),
          "--payment-terms-days",
          absl::StrCat(version.at("payment_terms_days").get<int>()),
          "--distribution-deadline-days",
          absl::StrCat(version.at("distribution_deadline_days").get<int>()),
          "--allocation",
          version.at("allocation").get<std::string>(),
          "--tolerance",
          version.at("tolerance").get<std::string>(),
          "--effective",
          version.at("effective").get<std::string>()};
}

}  // namespace premium::season

#endif  // PREMIUM_TESTS_SEASON_SEASON_CLI_H_
