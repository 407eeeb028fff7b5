// Generated seasons through the product as its users drive it: a real
// premiumd on 127.0.0.1:0 in a fresh data directory, and premiumctl only.
// The admin adds every program version of season.json and registers every
// brand, supplier and an auditor; each brand submits its purchases and
// payments, each supplier uploads its payroll (keeping its paystub codes),
// the auditor suspends suppliers, workers dispute lines with the codes of
// their paystubs. Then `premiumctl audit reconcile --output csv` must print
// exactly expected.csv (same ids, types, severities, keys, dates and amounts
// as text; every discrepancy OPEN with evidence), `audit summary` must have
// one entry per program, and the ledger must verify once premiumd stopped.
//
// Disputes count from the UTC day they were appended (reconcile.h), so the
// reconciliation is run as of today, or as of the season's own as-of date
// when that is later: expected.csv holds for any date on or after it.
#include "tests/season/season_cli.h"

#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "ledger/money/decimal.h"
#include "ledger/testing/child_process.h"
#include "nlohmann/json.hpp"
#include "tests/season/season.h"

namespace premium::season {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::premium::testing::Child;
using ::premium::testing::CommandResult;
using ::premium::testing::RunCommand;

constexpr absl::Duration kCommandTimeout = absl::Seconds(30);
constexpr absl::Duration kStartTimeout = absl::Seconds(20);
constexpr char kAuditorId[] = "season-auditor";

// The columns of expected.csv; the CLI's CSV has these, then status and
// evidence.
const std::vector<std::string>& ExpectedColumns() {
  static const auto* columns = new std::vector<std::string>{
      "id",          "type",      "severity",     "program_id", "brand_id",
      "supplier_id", "worker_id", "period_start", "period_end", "invoice_id",
      "expected",    "actual",    "difference",   "currency"};
  return *columns;
}
const std::vector<std::string>& AmountColumns() {
  static const auto* columns =
      new std::vector<std::string>{"expected", "actual", "difference"};
  return *columns;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A fresh directory, removed with everything in it when the object goes.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = ::testing::TempDir();
    if (pattern.empty() || pattern.back() != '/') pattern += '/';
    pattern += "premium_season_cli.XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp " << pattern << " failed";
    }
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code error;
    fs::remove_all(path_, error);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// RFC 4180 records (quoted fields may hold commas, quotes and newlines).
std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  bool quoted = false;
  bool any = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
      continue;
    }
    any = true;
    if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      record.push_back(std::move(field));
      field.clear();
    } else if (c == '\n') {
      record.push_back(std::move(field));
      field.clear();
      records.push_back(std::move(record));
      record.clear();
      any = false;
    } else if (c != '\r') {
      field += c;
    }
  }
  if (any) {
    record.push_back(std::move(field));
    records.push_back(std::move(record));
  }
  return records;
}

// A CSV table: its header and its rows by column name.
struct Table {
  std::vector<std::string> header;
  std::vector<std::map<std::string, std::string>> rows;
};

absl::StatusOr<Table> ParseTable(const std::string& text) {
  std::vector<std::vector<std::string>> records = ParseCsv(text);
  if (records.empty()) return absl::InvalidArgumentError("no header row");
  Table table;
  table.header = records.front();
  for (size_t r = 1; r < records.size(); ++r) {
    if (records[r].size() != table.header.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("row ", r + 1, " has ", records[r].size(),
                       " fields, the header ", table.header.size()));
    }
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < table.header.size(); ++i) {
      row[table.header[i]] = records[r][i];
    }
    table.rows.push_back(std::move(row));
  }
  return table;
}

std::string UtcToday() {
  return absl::FormatCivilTime(
      absl::ToCivilDay(absl::Now(), absl::UTCTimeZone()));
}

double Seconds(absl::Time since) {
  return absl::ToDoubleSeconds(absl::Now() - since);
}

// The season's parameters: small, so that the test stays within seconds.
struct Case {
  const char* name;
  Style style;
  uint64_t seed;
  int brands;
  int suppliers;
  int weeks;
  int inject;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

// Field by field comparison of the reconciliation's CSV with expected.csv;
// every difference, one a line (empty when they agree).
std::string Compare(const Table& expected, const Table& got) {
  std::string report;
  const auto note = [&report](const std::string& line) {
    absl::StrAppend(&report, "\n  ", line);
  };
  std::vector<std::string> want_header = ExpectedColumns();
  want_header.insert(want_header.end(), {"status", "evidence"});
  if (got.header != want_header) {
    note(absl::StrCat("CLI header is \"", absl::StrJoin(got.header, ","),
                      "\", not \"", absl::StrJoin(want_header, ","), "\""));
  }
  std::map<std::string, const std::map<std::string, std::string>*> by_id;
  for (const auto& row : got.rows) {
    const std::string& id = row.at("id");
    if (!by_id.emplace(id, &row).second) note(absl::StrCat("twice: ", id));
  }
  std::set<std::string> expected_ids;
  for (const auto& want : expected.rows) {
    const std::string& id = want.at("id");
    expected_ids.insert(id);
    const auto found = by_id.find(id);
    if (found == by_id.end()) {
      note(absl::StrCat("missing (expected, not reported): ", id, " ",
                        want.at("type"), " difference ",
                        want.at("difference")));
      continue;
    }
    const std::map<std::string, std::string>& row = *found->second;
    for (const std::string& column : ExpectedColumns()) {
      const auto value = row.find(column);
      const std::string got_value =
          value == row.end() ? "(no column)" : value->second;
      if (got_value == want.at(column)) continue;
      std::string line =
          absl::StrCat(id, ": ", column, " expected \"", want.at(column),
                       "\", got \"", got_value, "\"");
      if (std::find(AmountColumns().begin(), AmountColumns().end(), column) !=
          AmountColumns().end()) {
        const absl::StatusOr<int64_t> a =
            ParseMicros(want.at(column), kInternalAmountSpec);
        const absl::StatusOr<int64_t> b =
            ParseMicros(got_value, kInternalAmountSpec);
        if (a.ok() && b.ok() && *a == *b) {
          absl::StrAppend(&line, " (same amount, other format)");
        } else if (a.ok() && b.ok()) {
          absl::StrAppend(&line, " (off by ", FormatMicros(*b - *a, 2), ")");
        }
      }
      note(line);
    }
    const auto status = row.find("status");
    if (status != row.end() && status->second != "OPEN") {
      note(absl::StrCat(id, ": status ", status->second, ", not OPEN"));
    }
    const auto evidence = row.find("evidence");
    if (evidence != row.end() && evidence->second.empty()) {
      note(absl::StrCat(id, ": no evidence"));
    }
  }
  for (const auto& row : got.rows) {
    const std::string& id = row.at("id");
    if (expected_ids.contains(id)) continue;
    const auto field = [&row](const char* column) {
      const auto it = row.find(column);
      return it == row.end() ? std::string() : it->second;
    };
    note(absl::StrCat("extra (reported, not expected): ", id, " ",
                      field("type"), " expected ", field("expected"),
                      " actual ", field("actual"), " difference ",
                      field("difference"), " dates ", field("period_start"),
                      "..", field("period_end")));
  }
  return report;
}

// One season, in its own directory and premiumd, from generation to the
// verified ledger (Run).
class CliSeason {
 public:
  CliSeason() = default;
  ~CliSeason() {
    if (premiumd_ != nullptr && premiumd_->running()) {
      premiumd_->Signal(SIGTERM);
      premiumd_->WaitForExit(absl::Seconds(20));
    }
  }
  CliSeason(const CliSeason&) = delete;
  CliSeason& operator=(const CliSeason&) = delete;

  // Generates the season of `options`, loads and reconciles it through the
  // binaries, with test failures for every difference from the ground
  // truth. `name` labels the failures and the timing line.
  void Run(const std::string& name, const SeasonOptions& options);

 private:
  fs::path season_dir() const { return dir_.path() / "season"; }
  std::string data_dir() const { return (dir_.path() / "data").string(); }
  std::string admin_token() const { return data_dir() + "/admin.token"; }
  std::string token(const std::string& party) const {
    return (dir_.path() / "tokens" / absl::StrCat(party, ".token")).string();
  }
  std::string codes_file(const std::string& supplier) const {
    return (dir_.path() / "codes" / absl::StrCat(supplier, ".csv")).string();
  }

  // Starts premiumd on 127.0.0.1:0 and sets `server_` from its first line,
  // "premiumd: serving ... on 127.0.0.1:PORT".
  void StartPremiumd() {
    premiumd_ = Child::Start(
        {PREMIUMD_PATH, "--data-dir", data_dir(), "--listen", "127.0.0.1:0"});
    ASSERT_NE(premiumd_, nullptr);
    const std::optional<std::string> line =
        premiumd_->WaitForFirstLine(kStartTimeout);
    ASSERT_TRUE(line.has_value()) << "stderr: " << premiumd_->err();
    ASSERT_TRUE(absl::StartsWith(*line, "premiumd: serving ")) << *line;
    const size_t at = line->rfind(" on 127.0.0.1:");
    ASSERT_NE(at, std::string::npos) << *line;
    int port = 0;
    ASSERT_TRUE(absl::SimpleAtoi(line->substr(at + 14), &port)) << *line;
    ASSERT_GT(port, 0);
    server_ = absl::StrCat("127.0.0.1:", port);
  }

  // premiumctl against `server_` with `token_file` (none if empty): its
  // standard output, or an error naming the command and its stderr.
  absl::StatusOr<std::string> Ctl(const std::string& token_file,
                                  const std::vector<std::string>& args) {
    std::vector<std::string> command = {PREMIUMCTL_PATH, "--server", server_};
    if (!token_file.empty()) {
      command.insert(command.end(), {"--token-file", token_file});
    }
    command.insert(command.end(), args.begin(), args.end());
    ++commands_;
    const CommandResult result = RunCommand(command, kCommandTimeout);
    if (result.exit_code != 0 || !result.err.empty()) {
      return absl::InternalError(
          absl::StrCat("premiumctl ", absl::StrJoin(args, " "), ": exit ",
                       result.exit_code, ", stderr: ", result.err));
    }
    return result.out;
  }

  // Everything in season_dir(), through premiumctl only.
  absl::Status LoadSeason(const json& season) {
    // The admin: every program version, then the parties.
    for (const json& v : season.at("programs")) {
      absl::StatusOr<std::string> added = Ctl(admin_token(), ProgramAddArgs(v));
      if (!added.ok()) return added.status();
    }
    fs::create_directories(dir_.path() / "tokens");
    fs::create_directories(dir_.path() / "codes");
    std::vector<std::tuple<std::string, std::string, std::string>> parties;
    for (const json& p : season.at("parties")) {
      parties.emplace_back(p.at("role").get<std::string>(),
                           p.at("id").get<std::string>(),
                           p.at("name").get<std::string>());
    }
    parties.emplace_back("auditor", kAuditorId, "Season Auditor");
    for (const auto& [role, id, name] : parties) {
      absl::StatusOr<std::string> added =
          Ctl(admin_token(), {"party", "add", "--role", role, "--id", id,
                              "--name", name, "--token-out", token(id)});
      if (!added.ok()) return added.status();
      if (role == "brand") brands_.push_back(id);
      if (role == "supplier") suppliers_.push_back(id);
    }

    // The brands' and suppliers' files (not written when without rows).
    for (const std::string& brand : brands_) {
      for (const char* what : {"purchases", "payments"}) {
        const fs::path file =
            season_dir() / absl::StrCat(what, "-", brand, ".csv");
        if (!fs::exists(file)) continue;
        absl::StatusOr<std::string> sent =
            Ctl(token(brand), {what, "submit", file.string()});
        if (!sent.ok()) return sent.status();
      }
    }
    for (const std::string& supplier : suppliers_) {
      const fs::path file =
          season_dir() / absl::StrCat("payroll-", supplier, ".csv");
      if (!fs::exists(file)) continue;
      absl::StatusOr<std::string> sent =
          Ctl(token(supplier), {"payroll", "upload", file.string(),
                                "--codes-out", codes_file(supplier)});
      if (!sent.ok()) return sent.status();
      absl::StatusOr<Table> table = ParseTable(ReadFile(codes_file(supplier)));
      if (!table.ok()) return table.status();
      const std::vector<std::string> want = {
          "worker_id", "program_id", "period_start", "period_end", "code"};
      if (table->header != want) {
        return absl::InternalError(absl::StrCat(
            "codes-out header: ", absl::StrJoin(table->header, ",")));
      }
      for (const auto& row : table->rows) {
        codes_by_supplier_[supplier].emplace(
            std::tuple{row.at("worker_id"), row.at("program_id"),
                       row.at("period_start"), row.at("period_end")},
            row.at("code"));
      }
      // Every line has its code.
      const size_t lines = ParseCsv(ReadFile(file)).size() - 1;
      if (table->rows.size() != lines) {
        return absl::InternalError(
            absl::StrCat(supplier, ": ", table->rows.size(), " codes for ",
                         lines, " payroll lines"));
      }
    }

    // The auditor's suspensions. season.json has no reinstatement: a
    // suspension without "to" lasts until the end of the season.
    for (const json& s : season.at("suspensions")) {
      std::vector<std::string> args = {
          "audit",      "suspend",
          "--program",  s.at("program").get<std::string>(),
          "--supplier", s.at("supplier").get<std::string>(),
          "--from",     s.at("from").get<std::string>(),
          "--reason",   s.at("reason").get<std::string>()};
      const std::string to = s.value("to", std::string());
      if (!to.empty()) args.insert(args.end(), {"--to", to});
      absl::StatusOr<std::string> suspended = Ctl(token(kAuditorId), args);
      if (!suspended.ok()) return suspended.status();
    }

    // The workers' disputes, with the codes on their paystubs.
    for (const json& d : season.at("disputes")) {
      const std::string supplier = d.at("supplier").get<std::string>();
      const auto key = std::tuple{d.at("worker").get<std::string>(),
                                  d.at("program").get<std::string>(),
                                  d.at("period_start").get<std::string>(),
                                  d.at("period_end").get<std::string>()};
      const auto& supplier_codes = codes_by_supplier_[supplier];
      const auto code = supplier_codes.find(key);
      if (code == supplier_codes.end()) {
        return absl::NotFoundError(absl::StrCat(
            "no paystub code for the dispute of ", std::get<0>(key), " at ",
            supplier, " in ", std::get<1>(key), " ", std::get<2>(key), ".. ",
            std::get<3>(key)));
      }
      absl::StatusOr<std::string> disputed = Ctl(
          "", {"worker", "dispute", "--code", code->second, "--paystub-amount",
               d.at("paystub_amount").get<std::string>(), "--note",
               d.at("note").get<std::string>()});
      if (!disputed.ok()) return disputed.status();
    }
    return absl::OkStatus();
  }

  void StopPremiumdAndVerify() {
    premiumd_->Signal(SIGTERM);
    const std::optional<int> stopped =
        premiumd_->WaitForExit(absl::Seconds(20));
    EXPECT_EQ(stopped, 0) << premiumd_->err();
    premiumd_.reset();
    const CommandResult verify = RunCommand(
        {PREMIUMD_PATH, "verify", "--data-dir", data_dir()}, kCommandTimeout);
    EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
    EXPECT_TRUE(absl::StartsWith(verify.out, "premiumd verify: OK"))
        << verify.out;
  }

  ScratchDir dir_;
  std::unique_ptr<Child> premiumd_;
  std::string server_;
  std::vector<std::string> brands_;
  std::vector<std::string> suppliers_;
  // Per supplier: (worker, program, period start, period end) -> the code
  // of the first such line in its codes-out file.
  std::map<
      std::string,
      std::map<std::tuple<std::string, std::string, std::string, std::string>,
               std::string>>
      codes_by_supplier_;
  int commands_ = 0;
};

void CliSeason::Run(const std::string& name, const SeasonOptions& options) {
  const absl::Time start = absl::Now();
  absl::StatusOr<Season> generated = GenerateSeason(options);
  ASSERT_TRUE(generated.ok()) << generated.status();
  ASSERT_TRUE(WriteSeason(*generated, season_dir().string()).ok());
  ASSERT_EQ(generated->expected.size(),
            static_cast<size_t>(kTypeCount * options.inject_per_type));

  ASSERT_NO_FATAL_FAILURE(StartPremiumd());
  const absl::Time started = absl::Now();
  const json season = json::parse(ReadFile(season_dir() / "season.json"));
  const absl::Status loaded = LoadSeason(season);
  ASSERT_TRUE(loaded.ok()) << loaded;
  const absl::Time load_done = absl::Now();

  // Today, or the season's as-of date when that is later (ISO dates compare
  // as text).
  const std::string season_as_of = season.at("as_of").get<std::string>();
  const std::string as_of = std::max(UtcToday(), season_as_of);
  absl::StatusOr<std::string> csv =
      Ctl(token(kAuditorId),
          {"audit", "reconcile", "--as-of", as_of, "--output", "csv"});
  ASSERT_TRUE(csv.ok()) << csv.status();
  absl::StatusOr<Table> got = ParseTable(*csv);
  ASSERT_TRUE(got.ok()) << got.status() << "\n" << *csv;
  absl::StatusOr<Table> expected =
      ParseTable(ReadFile(season_dir() / "expected.csv"));
  ASSERT_TRUE(expected.ok()) << expected.status();
  ASSERT_EQ(expected->header, ExpectedColumns());
  const std::string report = Compare(*expected, *got);
  EXPECT_TRUE(report.empty())
      << name << " (seed " << options.seed << ", season as of " << season_as_of
      << ") reconciled through premiumctl as of " << as_of << ": "
      << expected->rows.size() << " expected, " << got->rows.size()
      << " reported:" << report;

  // The summary: one entry per program.
  absl::StatusOr<std::string> summary_text =
      Ctl(token(kAuditorId),
          {"audit", "summary", "--as-of", as_of, "--output", "json"});
  ASSERT_TRUE(summary_text.ok()) << summary_text.status();
  const json summary = json::parse(*summary_text, nullptr,
                                   /*allow_exceptions=*/false);
  ASSERT_FALSE(summary.is_discarded()) << *summary_text;
  EXPECT_EQ(summary.value("as_of", ""), as_of);
  ASSERT_TRUE(summary.contains("programs") && summary["programs"].is_array())
      << *summary_text;
  std::set<std::string> program_ids;
  for (const json& v : season.at("programs")) {
    program_ids.insert(v.at("id").get<std::string>());
  }
  std::multiset<std::string> summarized;
  for (const json& p : summary["programs"]) {
    summarized.insert(p.value("program_id", ""));
  }
  EXPECT_EQ(summarized,
            std::multiset<std::string>(program_ids.begin(), program_ids.end()))
      << *summary_text;
  const absl::Time audit_done = absl::Now();

  ASSERT_NO_FATAL_FAILURE(StopPremiumdAndVerify());
  std::printf(
      "%s: %zu purchases, %zu payments, %zu payroll lines, %zu expected; "
      "%d premiumctl runs; start %.2f s, load %.2f s, reconcile and summary "
      "%.2f s, stop and verify %.2f s, total %.2f s\n",
      name.c_str(), static_cast<size_t>(generated->purchase_count()),
      static_cast<size_t>(generated->payment_count()),
      static_cast<size_t>(generated->payroll_line_count()),
      generated->expected.size(), commands_,
      absl::ToDoubleSeconds(started - start),
      absl::ToDoubleSeconds(load_done - started),
      absl::ToDoubleSeconds(audit_done - load_done), Seconds(audit_done),
      Seconds(start));
}

SeasonOptions OptionsOf(const Case& c) {
  SeasonOptions options;
  options.style = c.style;
  options.seed = c.seed;
  options.brands = c.brands;
  options.suppliers = c.suppliers;
  options.weeks = c.weeks;
  options.inject_per_type = c.inject;
  return options;
}

class SeasonCliTest : public ::testing::TestWithParam<Case> {};

TEST_P(SeasonCliTest, ReconcileThroughTheCliReportsExactlyTheGroundTruth) {
  CliSeason season;
  season.Run(GetParam().name, OptionsOf(GetParam()));
}

INSTANTIATE_TEST_SUITE_P(
    Seasons, SeasonCliTest,
    ::testing::Values(Case{"ffp_cli", Style::kFairFood, 21, 2, 3, 6, 2},
                      Case{"mwd_cli", Style::kMilkWithDignity, 22, 2, 3, 8, 1}),
    [](const ::testing::TestParamInfo<Case>& info) {
      return std::string(info.param.name);
    });

// More seasons, of other sizes, allocations and seeds, when
// SEASON_CLI_SEEDS=N asks for N of them (about 2 s each); skipped otherwise.
// Seasons too small for their injections are left out.
TEST(SeasonCliStressTest, ManySeasons) {
  const char* seeds_text = std::getenv("SEASON_CLI_SEEDS");
  uint64_t seeds = 0;
  if (seeds_text == nullptr || !absl::SimpleAtoi(seeds_text, &seeds) ||
      seeds == 0) {
    GTEST_SKIP() << "set SEASON_CLI_SEEDS=N to run N seasons";
  }
  for (uint64_t seed = 1000; seed < 1000 + seeds; ++seed) {
    SeasonOptions options;
    options.style = seed % 2 == 0 ? Style::kFairFood : Style::kMilkWithDignity;
    options.seed = seed;
    options.brands = 2 + seed % 3;
    options.suppliers = 3 + seed % 4;
    options.workers_per_supplier = 6 + seed % 9;
    options.weeks = 6 + seed % 5;
    options.inject_per_type = 1 + seed % 2;
    options.invoices_per_week = 1 + seed % 3;
    if (seed % 3 == 0) options.allocation = AllocationChoice::kHours;
    if (seed % 5 == 0) options.allocation = AllocationChoice::kWages;
    if (absl::IsInvalidArgument(GenerateSeason(options).status())) continue;
    CliSeason season;
    season.Run(absl::StrCat("stress_", seed), options);
  }
}

}  // namespace
}  // namespace premium::season
