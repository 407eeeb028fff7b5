// premium-season: writes a generated season (tests/season/season.h) into a
// directory, for the reconciliation test, the benchmark and demos.
//
//   premium-season --style ffp --seed 7 --out /tmp/season --inject 2
//   # a big one: about 1M payroll lines, 100k purchases, 10k payments
//   premium-season --style ffp --seed 1 --out /tmp/big --brands 14
//       --suppliers 40 --weeks 26 --lines 1000000 --purchases 100000
//       --payments 10000 --inject 3
#include <chrono>
#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "tests/season/season.h"

namespace {

using premium::season::AllocationChoice;
using premium::season::Season;
using premium::season::SeasonOptions;
using premium::season::Style;

absl::Status ParseDay(const std::string& text, absl::CivilDay& day) {
  if (text.size() != 10 || !absl::ParseCivilTime(text, &day) ||
      premium::season::FormatDay(day) != text) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a YYYY-MM-DD date: \"", text, "\""));
  }
  return absl::OkStatus();
}

absl::Status Run(SeasonOptions options, const std::string& as_of,
                 const std::string& start, const std::string& out) {
  if (!as_of.empty()) {
    absl::CivilDay day;
    if (absl::Status s = ParseDay(as_of, day); !s.ok()) return s;
    options.as_of = day;
  }
  if (!start.empty()) {
    absl::CivilDay day;
    if (absl::Status s = ParseDay(start, day); !s.ok()) return s;
    options.start = day;
  }
  const auto began = std::chrono::steady_clock::now();
  absl::StatusOr<Season> season = premium::season::GenerateSeason(options);
  if (!season.ok()) return season.status();
  if (absl::Status s = premium::season::WriteSeason(*season, out); !s.ok()) {
    return s;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began)
          .count();
  std::printf(
      "wrote %s: %s season, seed %llu, %zu program versions, %zu brands, "
      "%zu suppliers, %lld purchases, %lld payments, %lld payroll lines in "
      "%zu periods, %zu suspensions, %zu disputes, %zu expected "
      "discrepancies as of %s, in %.2f s\n",
      out.c_str(), options.style == Style::kFairFood ? "ffp" : "mwd",
      static_cast<unsigned long long>(options.seed), season->versions.size(),
      season->brands.size(), season->suppliers.size(),
      static_cast<long long>(season->purchase_count()),
      static_cast<long long>(season->payment_count()),
      static_cast<long long>(season->payroll_line_count()),
      season->periods.size(), season->suspensions.size(),
      season->disputes.size(), season->expected.size(),
      premium::season::FormatDay(season->as_of).c_str(), seconds);
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "premium-season: writes a realistic premium season (purchases, "
      "payments and payroll CSV files, season.json) with injected "
      "discrepancies and their ground truth (expected.csv)"};
  SeasonOptions options;
  std::string out;
  std::string as_of;
  std::string start;
  std::string allocation = "default";
  std::string style = "ffp";
  app.add_option("--style", style, "ffp (Fair Food) or mwd (Milk with Dignity)")
      ->check(CLI::IsMember({"ffp", "mwd"}))
      ->capture_default_str();
  app.add_option("--seed", options.seed, "random seed")->capture_default_str();
  app.add_option("--out", out, "directory to write into (created)")->required();
  app.add_option("--brands", options.brands, "brands")->capture_default_str();
  app.add_option("--suppliers", options.suppliers, "suppliers")
      ->capture_default_str();
  app.add_option("--workers", options.workers_per_supplier,
                 "workers per supplier, on average (ignored with --lines)")
      ->capture_default_str();
  app.add_option("--weeks", options.weeks, "weeks of purchases")
      ->capture_default_str();
  app.add_option("--lines", options.payroll_lines_approx,
                 "payroll lines to aim for (sets --workers)");
  app.add_option("--suppliers-per-brand", options.suppliers_per_brand,
                 "suppliers each brand buys from (0: enough to cover all)");
  app.add_option("--payments", options.payments_approx,
                 "payments to aim for (sets --suppliers-per-brand)");
  app.add_option("--invoices", options.invoices_per_week,
                 "invoices per brand, supplier and week, on average")
      ->capture_default_str();
  app.add_option("--purchases", options.purchases_approx,
                 "purchases to aim for (sets --invoices)");
  app.add_option("--inject", options.inject_per_type,
                 "discrepancies to inject of each of the 10 types")
      ->capture_default_str();
  app.add_option("--allocation", allocation,
                 "default (ffp: hours, mwd: wages), hours or wages")
      ->check(CLI::IsMember({"default", "hours", "wages"}))
      ->capture_default_str();
  app.add_option("--start", start,
                 "first day, YYYY-MM-DD (default 2026-01-05 ffp, 2026-01-01 "
                 "mwd)");
  app.add_option("--as-of", as_of,
                 "reconciliation date of expected.csv, YYYY-MM-DD (default: "
                 "30 days after the last pay date)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }
  if (style == "mwd") options.style = Style::kMilkWithDignity;
  if (allocation == "hours") options.allocation = AllocationChoice::kHours;
  if (allocation == "wages") options.allocation = AllocationChoice::kWages;
  if (absl::Status s = Run(options, as_of, start, out); !s.ok()) {
    std::fprintf(stderr, "premium-season: %s: %s\n",
                 absl::StatusCodeToString(s.code()).c_str(),
                 std::string(s.message()).c_str());
    return 1;
  }
  return 0;
}
