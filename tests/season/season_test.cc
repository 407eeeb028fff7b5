// Generated seasons through the reconciliation: the files are turned into
// ledger entries exactly as the services would (the Upload library for the
// CSV files; ProgramVersion, Suspension and WorkerDispute entries from
// season.json), fed to premium::Reconciler, and what it reports as of the
// season's as-of date must be expected.csv exactly: no miss, no false
// alarm, the same ids, key fields, dates and amounts to the micro-unit.
#include "tests/season/season.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "ledger/ledger.h"
#include "ledger/money/decimal.h"
#include "ledger/premium/indexer.h"
#include "ledger/premium/program.h"
#include "ledger/premium/reconcile.h"
#include "ledger/premium/upload.h"
#include "ledger/premium/validation.h"
#include "nlohmann/json.hpp"
#include "wsr/premium/v1/entry.pb.h"
#include "wsr/premium/v1/records.pb.h"

namespace premium::season {
namespace {

namespace fs = std::filesystem;
namespace pb = wsr::premium::v1;
using nlohmann::json;

// Uploads are fed in chunks of this size, as the services stream them.
constexpr size_t kChunkBytes = 64 * 1024;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

fs::path FreshDir(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) /
                       absl::StrCat("premium-season-", getpid(), "-", name);
  fs::remove_all(dir);
  return dir;
}

absl::StatusOr<pb::ProgramVersion> ParseVersion(const json& v) {
  pb::ProgramVersion version;
  version.set_program_id(v.at("id").get<std::string>());
  version.set_name(v.at("name").get<std::string>());
  version.set_currency(v.at("currency").get<std::string>());
  version.set_unit(v.at("unit").get<std::string>());
  absl::StatusOr<int64_t> worker_rate =
      ParseMicros(v.at("worker_rate").get<std::string>(), kRateSpec);
  absl::StatusOr<int64_t> supplier_rate =
      ParseMicros(v.at("supplier_rate").get<std::string>(), kRateSpec);
  absl::StatusOr<int64_t> tolerance =
      ParseMicros(v.at("tolerance").get<std::string>(), AmountSpec(2));
  for (const auto* parsed : {&worker_rate, &supplier_rate, &tolerance}) {
    if (!parsed->ok()) return parsed->status();
  }
  version.set_worker_rate_micros(*worker_rate);
  version.set_supplier_rate_micros(*supplier_rate);
  version.set_tolerance_micros(*tolerance);
  version.set_payment_terms_days(v.at("payment_terms_days").get<int32_t>());
  version.set_distribution_deadline_days(
      v.at("distribution_deadline_days").get<int32_t>());
  const std::string allocation = v.at("allocation").get<std::string>();
  version.set_allocation(allocation == "hours"   ? pb::HOURS
                         : allocation == "wages" ? pb::WAGES
                                                 : pb::NONE);
  version.set_effective_date(v.at("effective").get<std::string>());
  if (absl::Status s = ValidateProgramVersion(version); !s.ok()) return s;
  return version;
}

// The ledger the services would have built from a season directory.
class SeasonLedger {
 public:
  absl::Status Load(const fs::path& dir) {
    const json season = json::parse(ReadFile(dir / "season.json"));
    absl::StatusOr<absl::CivilDay> as_of =
        ParseDate("as_of", season.at("as_of").get<std::string>());
    if (!as_of.ok()) return as_of.status();
    as_of_ = *as_of;
    as_of_micros_ =
        absl::ToUnixMicros(absl::FromCivil(as_of_, absl::UTCTimeZone()));
    for (const json& v : season.at("programs")) {
      absl::StatusOr<pb::ProgramVersion> version = ParseVersion(v);
      if (!version.ok()) return version.status();
      const uint64_t seq = Append("admin", kProgramVersionKind, *version);
      absl::StatusOr<absl::CivilDay> effective =
          ParseDate("effective", version->effective_date());
      if (!effective.ok()) return effective.status();
      if (absl::Status s = histories_[version->program_id()].Add(
              {seq, *effective, *version});
          !s.ok()) {
        return s;
      }
    }
    std::vector<std::string> brands;
    for (const json& p : season.at("parties")) {
      pb::PartyRegistration party;
      const std::string role = p.at("role").get<std::string>();
      party.set_role(role == "brand" ? pb::BRAND : pb::SUPPLIER);
      party.set_party_id(p.at("id").get<std::string>());
      party.set_name(p.at("name").get<std::string>());
      party.set_token_sha256(std::string(32, 'x'));
      Append("admin", kPartyRegistrationKind, party);
      (role == "brand" ? brands : suppliers_).push_back(party.party_id());
    }
    for (const std::string& brand : brands) {
      for (const auto& [kind, prefix] :
           {std::pair{Upload::Kind::kPurchases, "purchases-"},
            std::pair{Upload::Kind::kPayments, "payments-"}}) {
        const fs::path file = dir / absl::StrCat(prefix, brand, ".csv");
        if (!fs::exists(file)) continue;
        if (absl::Status s = UploadFile(kind, brand, file); !s.ok()) return s;
      }
    }
    for (const std::string& supplier : suppliers_) {
      const fs::path file = dir / absl::StrCat("payroll-", supplier, ".csv");
      if (!fs::exists(file)) continue;
      if (absl::Status s = UploadFile(Upload::Kind::kPayroll, supplier, file);
          !s.ok()) {
        return s;
      }
    }
    for (const json& s : season.at("suspensions")) {
      pb::Suspension suspension;
      suspension.set_program_id(s.at("program").get<std::string>());
      suspension.set_supplier_id(s.at("supplier").get<std::string>());
      suspension.set_from_date(s.at("from").get<std::string>());
      suspension.set_to_date(s.at("to").get<std::string>());
      suspension.set_reason(s.at("reason").get<std::string>());
      Append("auditor:season", kSuspensionKind, suspension);
    }
    for (const json& d : season.at("disputes")) {
      pb::WorkerDispute dispute;
      dispute.set_program_id(d.at("program").get<std::string>());
      dispute.set_supplier_id(d.at("supplier").get<std::string>());
      dispute.set_worker_id(d.at("worker").get<std::string>());
      dispute.set_period_start(d.at("period_start").get<std::string>());
      dispute.set_period_end(d.at("period_end").get<std::string>());
      const auto line = line_seqs_.find(
          {dispute.program_id(), dispute.supplier_id(), dispute.worker_id(),
           dispute.period_start(), dispute.period_end()});
      if (line == line_seqs_.end()) {
        return absl::NotFoundError(absl::StrCat(
            "no payroll line for the dispute of ", dispute.worker_id()));
      }
      dispute.set_line_seq(line->second);
      absl::StatusOr<int64_t> amount =
          ParseMicros(d.at("paystub_amount").get<std::string>(), AmountSpec(2));
      if (!amount.ok()) return amount.status();
      dispute.set_paystub_amount_micros(*amount);
      dispute.set_note(d.at("note").get<std::string>());
      Append(absl::StrCat("worker:", dispute.worker_id()), kWorkerDisputeKind,
             dispute);
    }
    return absl::OkStatus();
  }

  absl::CivilDay as_of() const { return as_of_; }
  const std::vector<pb::Entry>& entries() const { return entries_; }
  size_t payroll_lines() const { return payroll_lines_; }

 private:
  uint64_t Append(const std::string& actor, absl::string_view kind,
                  const google::protobuf::Message& payload) {
    return AppendRaw(actor, std::string(kind), payload.SerializeAsString());
  }

  uint64_t AppendRaw(const std::string& actor, std::string kind,
                     std::string payload) {
    pb::Entry entry;
    entry.set_seq(entries_.size());
    // Everything is appended on the as-of day: a dispute counts from the
    // day it was appended (reconcile.h), the other records by their dates.
    entry.set_append_time_micros(as_of_micros_ + entry.seq());
    entry.set_actor(actor);
    entry.set_kind(std::move(kind));
    entry.set_payload(std::move(payload));
    entry.set_idempotency_key(absl::StrCat("season-", entry.seq()));
    entry.set_request_index(0);
    entry.set_request_entry_count(1);
    entries_.push_back(std::move(entry));
    return entries_.back().seq();
  }

  absl::Status UploadFile(Upload::Kind kind, const std::string& party,
                          const fs::path& file) {
    UploadContext context;
    context.party_id = party;
    context.program =
        [this](absl::string_view program_id) -> absl::StatusOr<ProgramHistory> {
      const auto it = histories_.find(std::string(program_id));
      if (it == histories_.end()) return absl::NotFoundError("no program");
      return it->second;
    };
    context.supplier = [this](absl::string_view supplier_id) -> absl::Status {
      return std::find(suppliers_.begin(), suppliers_.end(), supplier_id) !=
                     suppliers_.end()
                 ? absl::OkStatus()
                 : absl::NotFoundError("no supplier");
    };
    Upload upload(kind, std::move(context));
    const std::string text = ReadFile(file);
    for (size_t at = 0; at < text.size(); at += kChunkBytes) {
      if (absl::Status s =
              upload.Feed(absl::string_view(text).substr(at, kChunkBytes));
          !s.ok()) {
        return s;
      }
    }
    if (absl::Status s = upload.Finish(); !s.ok()) {
      return absl::Status(s.code(),
                          absl::StrCat(file.string(), ": ", s.message()));
    }
    const std::string actor = absl::StrCat(
        kind == Upload::Kind::kPayroll ? "supplier:" : "brand:", party);
    for (AppendEntry& entry : upload.entries()) {
      const uint64_t seq = AppendRaw(actor, entry.kind, entry.payload);
      if (kind != Upload::Kind::kPayroll) continue;
      ++payroll_lines_;
      pb::PayrollLine line;
      line.ParseFromString(entries_.back().payload());
      // The first line of a key is the one a dispute names.
      line_seqs_.emplace(
          std::tuple{line.program_id(), line.supplier_id(), line.worker_id(),
                     line.period_start(), line.period_end()},
          seq);
    }
    return absl::OkStatus();
  }

  absl::CivilDay as_of_;
  int64_t as_of_micros_ = 0;
  std::map<std::string, ProgramHistory> histories_;
  std::vector<std::string> suppliers_;
  std::vector<pb::Entry> entries_;
  std::map<std::tuple<std::string, std::string, std::string, std::string,
                      std::string>,
           uint64_t>
      line_seqs_;
  size_t payroll_lines_ = 0;
};

// A finding as an expected.csv row.
std::string Row(const Discrepancy& d) {
  ExpectedDiscrepancy row;
  row.id = d.id;
  row.type = std::string(DiscrepancyTypeName(d.type));
  row.severity = std::string(SeverityName(d.severity));
  row.program_id = d.program_id;
  row.brand_id = d.brand_id;
  row.supplier_id = d.supplier_id;
  row.worker_id = d.worker_id;
  if (d.period_start.has_value())
    row.period_start = FormatDate(*d.period_start);
  if (d.period_end.has_value()) row.period_end = FormatDate(*d.period_end);
  row.invoice_id = d.invoice_id;
  row.expected_micros = d.expected_micros;
  row.actual_micros = d.actual_micros;
  row.difference_micros = d.difference_micros;
  row.currency = d.currency;
  return ExpectedRow(row);
}

std::vector<std::string> ExpectedRows(const fs::path& dir) {
  std::vector<std::string> rows =
      absl::StrSplit(ReadFile(dir / "expected.csv"), '\n', absl::SkipEmpty());
  EXPECT_FALSE(rows.empty());
  if (!rows.empty()) {
    EXPECT_EQ(rows.front(), kExpectedHeader);
    rows.erase(rows.begin());
  }
  return rows;
}

// Reconciles the season in `dir` and compares with its expected.csv.
void ReconcileAndCompare(const fs::path& dir) {
  SeasonLedger ledger;
  ASSERT_TRUE(ledger.Load(dir).ok()) << ledger.Load(dir);
  const std::vector<pb::Entry>& entries = ledger.entries();
  const EntryVectorLog log(&entries);
  Reconciler reconciler(&log);
  for (const pb::Entry& entry : entries) {
    ASSERT_EQ(reconciler.next_seq(), entry.seq());
    const absl::Status applied = reconciler.Apply(entry.seq(), entry);
    ASSERT_TRUE(applied.ok()) << "seq " << entry.seq() << ": " << applied;
  }
  absl::StatusOr<std::vector<Finding>> findings =
      reconciler.Reconcile({.as_of = ledger.as_of()});
  ASSERT_TRUE(findings.ok()) << findings.status();

  std::vector<std::string> reported;
  for (const Finding& finding : *findings) {
    const Discrepancy& d = *finding.discrepancy;
    reported.push_back(Row(d));
    EXPECT_FALSE(finding.resolved) << d.id;
    EXPECT_FALSE(d.evidence.empty()) << d.id;
    if (!d.evidence.empty()) {
      EXPECT_LT(d.evidence.back(), entries.size()) << d.id;
    }
  }
  std::vector<std::string> expected = ExpectedRows(dir);
  std::sort(reported.begin(), reported.end());
  std::sort(expected.begin(), expected.end());
  std::vector<std::string> missed;
  std::vector<std::string> false_alarms;
  std::set_difference(expected.begin(), expected.end(), reported.begin(),
                      reported.end(), std::back_inserter(missed));
  std::set_difference(reported.begin(), reported.end(), expected.begin(),
                      expected.end(), std::back_inserter(false_alarms));
  std::string report;
  for (const auto& [title, rows] :
       {std::pair{"expected, not reported (miss):", &missed},
        std::pair{"reported, not expected (false alarm):", &false_alarms}}) {
    if (rows->empty()) continue;
    absl::StrAppend(&report, "\n", title);
    for (size_t i = 0; i < rows->size() && i < 40; ++i) {
      absl::StrAppend(&report, "\n  ", (*rows)[i]);
    }
  }
  EXPECT_TRUE(missed.empty() && false_alarms.empty())
      << dir << " as of " << FormatDate(ledger.as_of()) << " ("
      << entries.size() << " entries, " << ledger.payroll_lines()
      << " payroll lines, " << expected.size() << " expected):" << report;
}

absl::StatusOr<Season> GenerateInto(const SeasonOptions& options,
                                    const fs::path& dir) {
  absl::StatusOr<Season> season = GenerateSeason(options);
  if (!season.ok()) return season.status();
  if (absl::Status s = WriteSeason(*season, dir.string()); !s.ok()) return s;
  return season;
}

struct Case {
  const char* name;
  Style style;
  uint64_t seed;
  int brands;
  int suppliers;
  int workers;
  int weeks;
  int64_t lines;
  int inject;
  AllocationChoice allocation = AllocationChoice::kStyleDefault;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class SeasonTest : public ::testing::TestWithParam<Case> {};

TEST_P(SeasonTest, ReconciliationReportsExactlyTheGroundTruth) {
  const Case& c = GetParam();
  SeasonOptions options;
  options.style = c.style;
  options.seed = c.seed;
  options.brands = c.brands;
  options.suppliers = c.suppliers;
  options.workers_per_supplier = c.workers;
  options.weeks = c.weeks;
  options.payroll_lines_approx = c.lines;
  options.inject_per_type = c.inject;
  options.allocation = c.allocation;
  const fs::path dir = FreshDir(c.name);
  absl::StatusOr<Season> season = GenerateInto(options, dir);
  ASSERT_TRUE(season.ok()) << season.status();
  EXPECT_EQ(season->expected.size(),
            static_cast<size_t>(kTypeCount * c.inject));
  ReconcileAndCompare(dir);
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(
    Seasons, SeasonTest,
    ::testing::Values(
        Case{"ffp_small_1", Style::kFairFood, 1, 2, 3, 10, 6, 0, 2},
        Case{"ffp_small_2", Style::kFairFood, 2, 2, 3, 10, 6, 0, 2},
        Case{"ffp_small_3", Style::kFairFood, 3, 2, 3, 10, 6, 0, 1},
        Case{"mwd_small_1", Style::kMilkWithDignity, 1, 2, 3, 10, 6, 0, 1},
        Case{"mwd_small_2", Style::kMilkWithDignity, 2, 2, 3, 10, 8, 0, 1},
        Case{"mwd_small_hours_3", Style::kMilkWithDignity, 3, 2, 3, 10, 6, 0, 1,
             AllocationChoice::kHours},
        Case{"ffp_medium", Style::kFairFood, 11, 6, 10, 10, 12, 20'000, 3},
        Case{"mwd_medium", Style::kMilkWithDignity, 12, 4, 8, 10, 12, 8'000,
             2}),
    [](const ::testing::TestParamInfo<Case>& info) {
      return std::string(info.param.name);
    });

// With nothing injected there is nothing to report, in either style.
TEST(SeasonCleanTest, ACleanSeasonHasNoDiscrepancy) {
  for (Style style : {Style::kFairFood, Style::kMilkWithDignity}) {
    SeasonOptions options;
    options.style = style;
    options.seed = 5;
    options.brands = 3;
    options.suppliers = 4;
    options.weeks = 8;
    const fs::path dir =
        FreshDir(style == Style::kFairFood ? "clean_ffp" : "clean_mwd");
    absl::StatusOr<Season> season = GenerateInto(options, dir);
    ASSERT_TRUE(season.ok()) << season.status();
    EXPECT_TRUE(season->expected.empty());
    EXPECT_TRUE(ExpectedRows(dir).empty());
    ReconcileAndCompare(dir);
    fs::remove_all(dir);
  }
}

// As of a day in the middle of the season, records dated later do not
// count. The day is the day after a pay date, so that no pay period has
// ended without being paid (which would make a payroll line's business
// date matter).
TEST(SeasonAsOfTest, MidSeasonAsOfCountsOnlyWhatWasDated) {
  SeasonOptions options;
  options.seed = 4;
  options.brands = 3;
  options.suppliers = 4;
  options.weeks = 14;
  options.inject_per_type = 1;
  options.as_of = absl::CivilDay(2026, 1, 5) + 7 * 9 + 6 + 5 + 1;
  const fs::path dir = FreshDir("mid_season");
  absl::StatusOr<Season> season = GenerateInto(options, dir);
  ASSERT_TRUE(season.ok()) << season.status();
  ReconcileAndCompare(dir);
  fs::remove_all(dir);
}

// Many seeds, sizes, allocations and as-of dates (any day from the fourth
// week on), in about a second; SEASON_STRESS_SEEDS=N runs N of them
// instead of 60 (600 take about 8 s). Seasons too small for their
// injections are skipped.
TEST(SeasonStressTest, ManySeasons) {
  const char* seeds_text = std::getenv("SEASON_STRESS_SEEDS");
  const uint64_t seeds = seeds_text == nullptr ? 60 : std::stoull(seeds_text);
  int reconciled = 0;
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    const SeasonOptions options = StressSeasonOptions(seed);
    const fs::path dir = FreshDir(absl::StrCat("stress_", seed));
    absl::StatusOr<Season> season = GenerateInto(options, dir);
    if (absl::IsInvalidArgument(season.status())) continue;  // too small
    ASSERT_TRUE(season.ok()) << "seed " << seed << ": " << season.status();
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    ReconcileAndCompare(dir);
    ++reconciled;
    fs::remove_all(dir);
  }
  std::printf("reconciled %d of %llu seasons\n", reconciled,
              static_cast<unsigned long long>(seeds));
  EXPECT_GE(reconciled * 4, static_cast<int>(seeds) * 3);
}

std::map<std::string, std::string> DirFiles(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    files[entry.path().filename().string()] = ReadFile(entry.path());
  }
  return files;
}

TEST(SeasonDeterminismTest, SameSeedSameFilesOtherSeedOtherFiles) {
  SeasonOptions options;
  options.style = Style::kMilkWithDignity;
  options.seed = 77;
  options.inject_per_type = 1;
  options.weeks = 8;
  const fs::path first = FreshDir("same_1");
  const fs::path second = FreshDir("same_2");
  const fs::path other = FreshDir("other");
  ASSERT_TRUE(GenerateInto(options, first).ok());
  ASSERT_TRUE(GenerateInto(options, second).ok());
  options.seed = 78;
  ASSERT_TRUE(GenerateInto(options, other).ok());
  const auto files = DirFiles(first);
  EXPECT_GE(files.size(), 9u);
  EXPECT_TRUE(files == DirFiles(second));
  EXPECT_FALSE(files == DirFiles(other));
  for (const fs::path& dir : {first, second, other}) fs::remove_all(dir);
}

TEST(SeasonOptionsTest, TooSmallForTheInjectionsIsRefused) {
  SeasonOptions options;
  options.style = Style::kMilkWithDignity;
  // One program and three suppliers: 3 accounts, not 4.
  options.inject_per_type = 2;
  EXPECT_EQ(GenerateSeason(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.inject_per_type = 1;
  options.weeks = 3;
  EXPECT_EQ(GenerateSeason(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace premium::season
