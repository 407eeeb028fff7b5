// The PostgreSQL side of the benchmark computes what our reconciliation
// computes: generated seasons (tests/season) are loaded into a scratch
// PostgreSQL by \copy, and sql/reconcile.sql must report, as of the
// season's date and of many days before it, exactly the ground truth of
// the five balance types (truth.cc, the definitions of
// ledger/premium/reconcile.h): the same rows in the same order, amounts to
// the micro-unit, dates included. Uploads must be what premiumd's are:
// durable, all or nothing, owned by the uploader.
#include "tests/bench/postgres.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "gtest/gtest.h"
#include "tests/season/season.h"

namespace premium::bench {
namespace {

namespace fs = std::filesystem;
using season::AllocationChoice;
using season::ExpectedDiscrepancy;
using season::Season;
using season::SeasonOptions;
using season::Style;

// The types reconcile.sql computes (the first five of DESIGN section 7).
bool IsBalanceType(const std::string& type) {
  for (const char* name :
       {"BRAND_UNDERPAID", "LATE_BRAND_PAYMENT", "BRAND_OVERPAID",
        "UNDISTRIBUTED_PREMIUM", "LATE_DISTRIBUTION"}) {
    if (type == name) return true;
  }
  return false;
}

// The balance rows of `rows`, in their order, as expected.csv rows.
std::vector<std::string> BalanceRows(
    const std::vector<ExpectedDiscrepancy>& rows) {
  std::vector<std::string> text;
  for (const ExpectedDiscrepancy& row : rows) {
    if (IsBalanceType(row.type)) text.push_back(season::ExpectedRow(row));
  }
  return text;
}

// A directory of the test's own, removed at the end. As root it must let
// the postgres user through to the cluster's directory inside it.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern =
        fs::path(::testing::TempDir()) / "premium-postgres-test.XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp " << pattern;
    }
    path_ = pattern;
    chmod(path_.c_str(), 0711);
  }
  ~ScratchDir() {
    std::error_code error;
    fs::remove_all(path_, error);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  std::string Sub(const std::string& name) const {
    return absl::StrCat(path_, "/", name);
  }

 private:
  std::string path_;
};

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

// Generates a season into `dir` and loads it.
Season LoadNew(ScratchPostgres& postgres, const SeasonOptions& options,
               const std::string& dir) {
  absl::StatusOr<Season> season = season::GenerateSeason(options);
  EXPECT_TRUE(season.ok()) << season.status();
  if (!season.ok()) return Season();
  EXPECT_TRUE(season::WriteSeason(*season, dir).ok());
  absl::StatusOr<SeasonLoad> load = LoadSeason(postgres, dir);
  EXPECT_TRUE(load.ok()) << load.status();
  if (load.ok()) {
    EXPECT_EQ(load->purchases.rows, season->purchase_count());
    EXPECT_EQ(load->payments.rows, season->payment_count());
    EXPECT_EQ(load->payroll.rows, season->payroll_line_count());
  }
  return *std::move(season);
}

// The one number `sql` selects; -1 (and a failure) if it did not.
int64_t Count(ScratchPostgres& postgres, const std::string& sql) {
  absl::StatusOr<std::vector<std::vector<std::string>>> rows =
      postgres.Query(sql);
  EXPECT_TRUE(rows.ok()) << rows.status();
  int64_t count = -1;
  if (rows.ok() && rows->size() == 1 && rows->front().size() == 1) {
    EXPECT_TRUE(absl::SimpleAtoi(rows->front().front(), &count));
  }
  return count;
}

// One cluster for the tests of a process: ctest runs each test in a
// process of its own anyway, and making a cluster takes a few seconds.
class PostgresTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ScratchDir();
    absl::StatusOr<std::unique_ptr<ScratchPostgres>> postgres =
        ScratchPostgres::Start(dir_->Sub("pg"));
    ASSERT_TRUE(postgres.ok()) << postgres.status();
    postgres_ = std::move(*postgres).release();
  }
  static void TearDownTestSuite() {
    if (postgres_ != nullptr) {
      EXPECT_TRUE(postgres_->Stop().ok());
    }
    delete postgres_;
    postgres_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(postgres_, nullptr); }

  static Season LoadNew(const SeasonOptions& options, const std::string& name) {
    return bench::LoadNew(*postgres_, options, dir_->Sub(name));
  }
  static int64_t Count(const std::string& sql) {
    return bench::Count(*postgres_, sql);
  }

  static ScratchDir* dir_;
  static ScratchPostgres* postgres_;
};

ScratchDir* PostgresTest::dir_ = nullptr;
ScratchPostgres* PostgresTest::postgres_ = nullptr;

// reconcile.sql as of `as_of` against the ground truth of the season's
// records as of that day.
void ExpectTruthAsOf(ScratchPostgres& postgres, const Season& loaded,
                     absl::CivilDay as_of) {
  Season season = loaded;
  season.as_of = as_of;
  absl::StatusOr<std::vector<ExpectedDiscrepancy>> truth =
      season::ComputeExpected(season);
  ASSERT_TRUE(truth.ok()) << truth.status();
  absl::StatusOr<ReconcileRun> run = Reconcile(postgres, as_of);
  ASSERT_TRUE(run.ok()) << run.status();
  for (const ExpectedDiscrepancy& row : run->rows) {
    EXPECT_TRUE(IsBalanceType(row.type)) << season::ExpectedRow(row);
  }
  EXPECT_EQ(BalanceRows(run->rows), BalanceRows(*truth))
      << "as of " << season::FormatDay(as_of) << "\nSQL:\n  "
      << absl::StrJoin(BalanceRows(run->rows), "\n  ") << "\ntruth:\n  "
      << absl::StrJoin(BalanceRows(*truth), "\n  ");
}

struct Case {
  const char* name;
  Style style;
  uint64_t seed;
  int brands;
  int suppliers;
  int weeks;
  int inject;
  AllocationChoice allocation = AllocationChoice::kStyleDefault;
};

// One test for all the seasons, so that they share one cluster: making one
// costs more than loading a small season.
TEST_F(PostgresTest, ReconcileSqlReportsTheGroundTruth) {
  for (const Case& c : {
           Case{"ffp_1", Style::kFairFood, 1, 2, 3, 6, 2},
           Case{"ffp_2_wages", Style::kFairFood, 2, 3, 5, 8, 1,
                AllocationChoice::kWages},
           Case{"mwd_1", Style::kMilkWithDignity, 1, 2, 3, 6, 1},
           Case{"mwd_3_hours", Style::kMilkWithDignity, 3, 2, 4, 8, 1,
                AllocationChoice::kHours},
       }) {
    SCOPED_TRACE(c.name);
    SeasonOptions options;
    options.style = c.style;
    options.seed = c.seed;
    options.brands = c.brands;
    options.suppliers = c.suppliers;
    options.weeks = c.weeks;
    options.inject_per_type = c.inject;
    options.allocation = c.allocation;
    const Season season = LoadNew(options, c.name);
    ASSERT_FALSE(HasFailure());

    // As of the season's date, each injection raised exactly its type.
    std::map<std::string, int> found;
    for (const ExpectedDiscrepancy& row : season.expected) ++found[row.type];
    for (const char* type :
         {"BRAND_UNDERPAID", "LATE_BRAND_PAYMENT", "BRAND_OVERPAID",
          "UNDISTRIBUTED_PREMIUM", "LATE_DISTRIBUTION"}) {
      EXPECT_EQ(found[type], c.inject) << type;
    }
    ExpectTruthAsOf(*postgres_, season, season.as_of);
    // And as of earlier days, when shortfalls and gaps are still open and
    // runs not yet cured: every other week from the first pay period on.
    for (absl::CivilDay day = season.periods.front().start + c.seed;
         day < season.as_of; day += 14) {
      ExpectTruthAsOf(*postgres_, season, day);
    }
  }
}

// Many more seasons, sizes and as-of dates, for when the SQL changes:
// POSTGRES_STRESS_SEEDS=N runs N of them (as tests/season's stress test
// chooses them), each as of every fifth day. Skipped otherwise: a season
// takes seconds.
TEST(PostgresStressTest, ManySeasons) {
  const char* seeds_text = std::getenv("POSTGRES_STRESS_SEEDS");
  uint64_t seeds = 0;
  if (seeds_text == nullptr || !absl::SimpleAtoi(seeds_text, &seeds)) {
    GTEST_SKIP() << "set POSTGRES_STRESS_SEEDS=N to run N seasons";
  }
  ScratchDir dir;
  absl::StatusOr<std::unique_ptr<ScratchPostgres>> postgres =
      ScratchPostgres::Start(dir.Sub("pg"));
  ASSERT_TRUE(postgres.ok()) << postgres.status();
  int reconciled = 0;
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    const SeasonOptions options = season::StressSeasonOptions(seed);
    // Too small for its injections: as tests/season's stress test does.
    if (absl::IsInvalidArgument(season::GenerateSeason(options).status())) {
      continue;
    }
    const Season season =
        LoadNew(**postgres, options, dir.Sub(absl::StrCat("seed-", seed)));
    ASSERT_FALSE(HasFailure());
    for (absl::CivilDay day = season.periods.front().start + seed % 5;
         day <= season.as_of; day += 5) {
      ExpectTruthAsOf(**postgres, season, day);
    }
    ExpectTruthAsOf(**postgres, season, season.as_of);
    ++reconciled;
  }
  std::printf("reconciled %d of %llu seasons\n", reconciled,
              static_cast<unsigned long long>(seeds));
}

SeasonOptions SmallCleanSeason() {
  SeasonOptions options;
  options.seed = 9;
  options.brands = 2;
  options.suppliers = 3;
  options.weeks = 3;
  return options;
}

TEST_F(PostgresTest, UploadsAreDurableAndAllOrNothing) {
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> settings =
      postgres_->Settings();
  ASSERT_TRUE(settings.ok()) << settings.status();
  std::map<std::string, std::string> by_name(settings->begin(),
                                             settings->end());
  EXPECT_EQ(by_name["fsync"], "on");
  EXPECT_EQ(by_name["synchronous_commit"], "on");
  EXPECT_EQ(by_name["full_page_writes"], "on");
  EXPECT_TRUE(absl::StartsWith(by_name["server_version"], "15"))
      << by_name["server_version"];
  EXPECT_FALSE(by_name["shared_buffers"].empty());
  EXPECT_FALSE(by_name["wal_level"].empty());

  const Season season = LoadNew(SmallCleanSeason(), "clean");
  ASSERT_FALSE(HasFailure());
  const std::string brand = season.brands[0].id;
  const std::string supplier = season.suppliers[0].id;
  const int64_t purchases = Count("SELECT count(*) FROM purchases");
  ASSERT_EQ(purchases, season.purchase_count());

  const std::string good =
      absl::StrCat("new-1,", supplier, ",ffp,2026-01-20,100,lb\n");
  // Each file: two good rows and one bad one, last, so that the good
  // ones have gone to the server before the bad one is seen.
  const std::vector<std::pair<const char*, std::string>> bad_rows = {
      {"too many decimals",
       absl::StrCat("new-3,", supplier, ",ffp,2026-01-20,1.2345,lb\n")},
      {"not a number",
       absl::StrCat("new-3,", supplier, ",ffp,2026-01-20,abc,lb\n")},
      {"not a quantity",
       absl::StrCat("new-3,", supplier, ",ffp,2026-01-20,0,lb\n")},
      {"unknown supplier", "new-3,nobody,ffp,2026-01-20,100,lb\n"},
      {"unknown program",
       absl::StrCat("new-3,", supplier, ",nope,2026-01-20,100,lb\n")},
      {"unknown unit",
       absl::StrCat("new-3,", supplier, ",ffp,2026-01-20,100,ton\n")},
      {"not a date",
       absl::StrCat("new-3,", supplier, ",ffp,2026-02-30,100,lb\n")},
      {"a bad id",
       absl::StrCat("New 3,", supplier, ",ffp,2026-01-20,100,lb\n")},
      {"an invoice twice in the file",
       absl::StrCat("new-1,", supplier, ",ffp,2026-01-21,100,lb\n")},
      {"an invoice already recorded",
       absl::StrCat(season.purchases[0][0].invoice_id, ",", supplier,
                    ",ffp,2026-01-21,100,lb\n")},
      {"a missing field",
       absl::StrCat("new-3,", supplier, ",ffp,2026-01-20\n")},
  };
  for (const auto& [what, bad_row] : bad_rows) {
    SCOPED_TRACE(what);
    const std::string path = dir_->Sub("bad.csv");
    WriteText(
        path,
        absl::StrCat("invoice_id,supplier_id,program_id,purchase_date,quantity,"
                     "unit\n",
                     good, "new-2,", supplier, ",ffp,2026-01-20,50,kg\n",
                     bad_row));
    absl::StatusOr<KindLoad> load =
        LoadFiles(*postgres_, FileKind::kPurchases, {{path, brand}});
    EXPECT_TRUE(absl::IsInvalidArgument(load.status())) << load.status();
    EXPECT_TRUE(absl::StrContains(load.status().message(), path))
        << load.status();
    EXPECT_EQ(Count("SELECT count(*) FROM purchases"), purchases);
  }

  // A header that is not the kind's is refused before anything runs.
  const std::string header_path = dir_->Sub("bad-header.csv");
  WriteText(header_path,
            absl::StrCat("invoice,supplier_id,program_id,purchase_date,"
                         "quantity,unit\n",
                         good));
  EXPECT_TRUE(absl::IsInvalidArgument(
      LoadFiles(*postgres_, FileKind::kPurchases, {{header_path, brand}})
          .status()));

  // The same file without its bad row loads whole, for its brand.
  const std::string path = dir_->Sub("good.csv");
  WriteText(path,
            absl::StrCat("invoice_id,supplier_id,program_id,purchase_date,"
                         "quantity,unit\n",
                         good, "new-2,", supplier, ",ffp,2026-01-20,50,kg\n"));
  absl::StatusOr<KindLoad> load =
      LoadFiles(*postgres_, FileKind::kPurchases, {{path, brand}});
  ASSERT_TRUE(load.ok()) << load.status();
  EXPECT_EQ(load->rows, 2);
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM purchases WHERE brand_id "
                               "= '",
                               brand, "' AND invoice_id LIKE 'new-%'")),
            2);
  // The same upload again is refused as a whole (premiumd would say it
  // appended nothing): the invoices are recorded.
  EXPECT_TRUE(absl::IsInvalidArgument(
      LoadFiles(*postgres_, FileKind::kPurchases, {{path, brand}}).status()));
  EXPECT_EQ(Count("SELECT count(*) FROM purchases"), purchases + 2);
}

TEST_F(PostgresTest, PayrollCopyFillsTheSupplier) {
  const Season season = LoadNew(SmallCleanSeason(), "payroll");
  ASSERT_FALSE(HasFailure());
  // Every season line is its supplier's, with a code of its own.
  for (size_t s = 0; s < season.suppliers.size(); ++s) {
    EXPECT_EQ(Count(absl::StrCat(
                  "SELECT count(*) FROM payroll_lines WHERE supplier_id = '",
                  season.suppliers[s].id, "'")),
              static_cast<int64_t>(season.payroll[s].lines.size()));
  }
  EXPECT_EQ(Count("SELECT count(DISTINCT code) FROM payroll_lines"),
            season.payroll_line_count());

  // One more upload, its columns in another order, for a supplier.
  const std::string supplier = season.suppliers[1].id;
  const std::string path = dir_->Sub("payroll-more.csv");
  WriteText(
      path,
      "worker_id,currency,premium_amount,program_id,period_start,"
      "period_end,pay_date,hours,gross_wages\n"
      "w-new-1,USD,4.50,ffp,2026-03-02,2026-03-08,2026-03-13,40,600.00\n"
      "w-new-2,USD,2.25,ffp,2026-03-02,2026-03-08,2026-03-13,20,300.00\n"
      "w-new-2,USD,2.25,ffp,2026-03-02,2026-03-08,2026-03-13,20,300.00\n");
  absl::StatusOr<KindLoad> load = LoadPayrollFile(*postgres_, path, supplier);
  ASSERT_TRUE(load.ok()) << load.status();
  EXPECT_EQ(load->files, 1);
  EXPECT_EQ(load->rows, 3);
  absl::StatusOr<std::vector<std::vector<std::string>>> rows = postgres_->Query(
      "SELECT supplier_id, worker_id, premium_amount, hours, code\n"
      "FROM payroll_lines WHERE worker_id LIKE 'w-new-%' ORDER BY line_id;\n");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0], (std::vector<std::string>{supplier, "w-new-1", "4.50",
                                                  "40", (*rows)[0][4]}));
  // A worker's duplicate line is kept (it is a discrepancy to report),
  // each line with its own code.
  EXPECT_EQ((*rows)[1][0], supplier);
  EXPECT_EQ((*rows)[2][1], "w-new-2");
  EXPECT_NE((*rows)[1][4], (*rows)[2][4]);
  EXPECT_EQ(Count("SELECT count(DISTINCT code) FROM payroll_lines"),
            season.payroll_line_count() + 3);

  // The worker's lookups are served by the indexes, by code and by
  // supplier and worker.
  for (const auto& [index, where] :
       {std::pair{"payroll_lines_code_key",
                  absl::StrCat("code = '", (*rows)[0][4], "'")},
        std::pair{"payroll_lines_worker",
                  absl::StrCat("supplier_id = '", supplier,
                               "' AND worker_id = 'w-new-2'")}}) {
    absl::StatusOr<std::vector<std::vector<std::string>>> plan =
        postgres_->Query(
            absl::StrCat("SET enable_seqscan = off;\n"
                         "EXPLAIN SELECT * FROM payroll_lines WHERE ",
                         where, ";\n"));
    ASSERT_TRUE(plan.ok()) << plan.status();
    std::string text;
    for (const auto& line : *plan) absl::StrAppend(&text, line[0], "\n");
    EXPECT_TRUE(absl::StrContains(text, index)) << text;
  }

  // Without an owner there is no upload.
  EXPECT_TRUE(absl::IsInvalidArgument(
      postgres_
          ->RunSql(absl::StrCat("\\copy payroll_lines (worker_id, currency, "
                                "premium_amount, program_id, period_start, "
                                "period_end, pay_date, hours, gross_wages) "
                                "FROM '",
                                path, "' WITH (FORMAT csv, HEADER true)\n"))
          .status()));
  EXPECT_EQ(Count("SELECT count(*) FROM payroll_lines"),
            season.payroll_line_count() + 3);
}

}  // namespace
}  // namespace premium::bench
