// Tests of the benchmark's load generators (load.h): against a real premiumd
// with a small ledger (a program, a supplier and one payroll upload whose
// codes-out file gives the codes), and the raw ingest against the files it
// writes, reopened and counted.
#include "tests/bench/load.h"

#include <cstdint>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/storage/format.h"
#include "ledger/storage/store.h"
#include "services/testing/service_testing.h"

namespace premium::bench {
namespace {

using ::premium::testing::CommandResult;
using ::premium::testing::IsOk;
using ::premium::testing::PremiumdCliTest;
using ::premium::testing::StatusIs;
using ::premium::testing::TempDir;
using ::premium::testing::WriteFileOrDie;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Key;
using ::testing::Le;
using ::testing::SizeIs;

constexpr char kPayrollHeader[] =
    "program_id,worker_id,period_start,period_end,pay_date,hours,gross_wages,"
    "premium_amount,currency";
constexpr int kPayrollLines = 40;

// `lines` payroll lines of program ffp, one per worker, each ending with
// `line_end`.
std::string PayrollFile(int lines, absl::string_view line_end = "\n") {
  std::string file = absl::StrCat(kPayrollHeader, line_end);
  for (int i = 0; i < lines; ++i) {
    absl::StrAppend(&file, "ffp,w", i, ",2025-01-06,2025-01-12,2025-01-17,40,",
                    "600.00,12.00,USD", line_end);
  }
  return file;
}

// Short runs: the test checks the figures, not the server.
LoadOptions ShortRun(const std::string& server, int clients,
                     absl::Duration duration) {
  LoadOptions options;
  options.server_address = server;
  options.clients = clients;
  options.duration = duration;
  options.warmup = absl::Milliseconds(200);
  options.call_deadline = absl::Seconds(5);
  options.connect_timeout = absl::Seconds(5);
  return options;
}

uint64_t ErrorCount(const LoadResult& result) {
  uint64_t count = 0;
  for (const auto& [code, error] : result.errors_by_code) count += error.count;
  return count;
}

void ExpectSanePercentiles(const LatencySummary& latency) {
  EXPECT_GT(latency.p50_us, 0);
  EXPECT_LE(latency.p50_us, latency.p90_us);
  EXPECT_LE(latency.p90_us, latency.p99_us);
  EXPECT_LE(latency.p99_us, latency.p999_us);
  EXPECT_LE(latency.p999_us, latency.max_us);
  EXPECT_GT(latency.mean_us, 0);
  EXPECT_LE(latency.mean_us, latency.max_us);
}

// ---------------------------------------------------------------------------
// Against premiumd.

class LoadTest : public PremiumdCliTest {
 protected:
  // premiumd with program ffp, supplier s1 and kPayrollLines payroll lines,
  // whose codes go to codes_path().
  void SetUp() override {
    PremiumdCliTest::SetUp();
    ASSERT_NO_FATAL_FAILURE(StartPremiumd());
    CommandResult result =
        Ctl(admin_token(),
            {"program", "add", "--id", "ffp", "--name", "Fair Food Program",
             "--currency", "USD", "--unit", "lb", "--worker-rate", "0.01",
             "--effective", "2025-01-01"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    result = Ctl(admin_token(),
                 {"party", "add", "--role", "supplier", "--id", "s1", "--name",
                  "Grower One", "--token-out", token("s1")});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const std::string payroll = dir_.Sub("payroll.csv");
    ASSERT_NO_FATAL_FAILURE(
        WriteFileOrDie(payroll, PayrollFile(kPayrollLines)));
    result = Ctl(token("s1"),
                 {"payroll", "upload", payroll, "--codes-out", codes_path()});
    ASSERT_EQ(result.exit_code, 0) << result.err;
  }

  std::string codes_path() const { return dir_.Sub("codes.csv"); }
};

TEST_F(LoadTest, LoadsTheCodesOfACodesOutFile) {
  const std::vector<std::string> paths = {codes_path()};
  absl::StatusOr<std::vector<std::string>> codes = LoadPaystubCodes(paths);
  ASSERT_THAT(codes, IsOk());
  ASSERT_THAT(*codes, SizeIs(kPayrollLines));
  for (const std::string& code : *codes) {
    EXPECT_TRUE(testing::IsPrintedCode(code)) << code;
  }
  // Two files: both lists, in order; and the limit.
  const std::vector<std::string> twice = {codes_path(), codes_path()};
  absl::StatusOr<std::vector<std::string>> doubled = LoadPaystubCodes(twice);
  ASSERT_THAT(doubled, IsOk());
  EXPECT_THAT(*doubled, SizeIs(2 * kPayrollLines));
  EXPECT_THAT(LoadPaystubCodes(twice, kPayrollLines + 1),
              StatusIs(absl::StatusCode::kResourceExhausted));
}

TEST_F(LoadTest, LookupsOfKnownCodesSucceed) {
  const std::vector<std::string> paths = {codes_path()};
  absl::StatusOr<std::vector<std::string>> codes = LoadPaystubCodes(paths);
  ASSERT_THAT(codes, IsOk());
  absl::StatusOr<LoadResult> result =
      RunLookupLoad(ShortRun(server_, 4, absl::Seconds(1)), *codes);
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->clients, 4);
  EXPECT_GT(result->calls, 0u);
  EXPECT_EQ(result->errors, 0u);
  EXPECT_EQ(result->warmup_errors, 0u);
  EXPECT_TRUE(result->errors_by_code.empty())
      << result->errors_by_code.begin()->second.first_message;
  EXPECT_GE(result->seconds, 1.0);
  EXPECT_GT(result->calls_per_second, 0);
  EXPECT_EQ(result->latency.count, result->calls);
  ExpectSanePercentiles(result->latency);
}

TEST_F(LoadTest, LookupsOfUnknownCodesAreAllCountedAsErrors) {
  // Well-formed codes that no line has: NOT_FOUND until the failed-lookup
  // limiter blocks this source, RESOURCE_EXHAUSTED after.
  const std::vector<std::string> bogus = {"0000-0000-0000-0000",
                                          "ZZZZ-ZZZZ-ZZZZ-ZZZZ"};
  const absl::Time start = absl::Now();
  absl::StatusOr<LoadResult> result =
      RunLookupLoad(ShortRun(server_, 2, absl::Milliseconds(500)), bogus);
  ASSERT_THAT(result, IsOk());
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_GT(result->calls, 0u);
  EXPECT_EQ(result->errors, result->calls);
  EXPECT_EQ(result->warmup_errors, result->warmup_calls);
  EXPECT_EQ(ErrorCount(*result), result->calls + result->warmup_calls);
  EXPECT_THAT(result->errors_by_code,
              Contains(Key(absl::StatusCode::kNotFound)));
  ASSERT_THAT(result->errors_by_code,
              Contains(Key(absl::StatusCode::kResourceExhausted)));
  EXPECT_FALSE(result->errors_by_code.at(absl::StatusCode::kResourceExhausted)
                   .first_message.empty());
}

TEST_F(LoadTest, EmptyCallsSucceed) {
  absl::StatusOr<LoadResult> result =
      RunEmptyCallLoad(ShortRun(server_, 4, absl::Milliseconds(500)));
  ASSERT_THAT(result, IsOk());
  EXPECT_GT(result->calls, 0u);
  EXPECT_EQ(result->errors, 0u);
  EXPECT_EQ(ErrorCount(*result), 0u);
  ExpectSanePercentiles(result->latency);
}

// ---------------------------------------------------------------------------
// Without a server.

TEST(LoadOptionsTest, BadOptionsAreRefused) {
  const std::vector<std::string> codes = {"0000-0000-0000-0000"};
  LoadOptions options = ShortRun("127.0.0.1:1", 0, absl::Seconds(1));
  EXPECT_THAT(RunLookupLoad(options, codes),
              StatusIs(absl::StatusCode::kInvalidArgument));
  options.clients = kClientsMax + 1;
  EXPECT_THAT(RunEmptyCallLoad(options),
              StatusIs(absl::StatusCode::kInvalidArgument));
  options.clients = 1;
  options.duration = absl::ZeroDuration();
  EXPECT_THAT(RunEmptyCallLoad(options),
              StatusIs(absl::StatusCode::kInvalidArgument));
  options.duration = absl::Seconds(1);
  EXPECT_THAT(RunLookupLoad(options, {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(LoadOptionsTest, AServerThatIsNotThereIsUnavailable) {
  LoadOptions options = ShortRun("127.0.0.1:1", 2, absl::Seconds(1));
  options.connect_timeout = absl::Milliseconds(300);
  EXPECT_THAT(RunEmptyCallLoad(options),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("connect")));
}

TEST(LoadPaystubCodesTest, RefusesWhatIsNotACodesFile) {
  TempDir dir;
  const std::string payroll = dir.Sub("payroll.csv");
  ASSERT_NO_FATAL_FAILURE(WriteFileOrDie(payroll, PayrollFile(2)));
  EXPECT_THAT(
      LoadPaystubCodes(std::vector<std::string>{payroll}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("payroll.csv")));
  const std::string empty_code = dir.Sub("codes.csv");
  ASSERT_NO_FATAL_FAILURE(
      WriteFileOrDie(empty_code,
                     "worker_id,program_id,period_start,period_end,code\n"
                     "w1,ffp,2025-01-06,2025-01-12,\n"));
  EXPECT_THAT(LoadPaystubCodes(std::vector<std::string>{empty_code}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("line 2: empty code")));
  EXPECT_THAT(LoadPaystubCodes(std::vector<std::string>{dir.Sub("absent")}),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(LatencyHistogramTest, PercentilesAreOrderedAndClose) {
  LatencyHistogram histogram;
  EXPECT_EQ(histogram.PercentileNs(0.5), 0u);
  // 1 us to 10 ms, one value each.
  for (uint64_t us = 1; us <= 10'000; ++us) histogram.Record(us * 1000);
  EXPECT_EQ(histogram.count(), 10'000u);
  EXPECT_EQ(histogram.max_ns(), 10'000'000u);
  const uint64_t p50 = histogram.PercentileNs(0.5);
  const uint64_t p99 = histogram.PercentileNs(0.99);
  // At most 1/128 above the exact value, never below it.
  EXPECT_GE(p50, 5'000'000u);
  EXPECT_LE(p50, 5'000'000u + 5'000'000u / 128);
  EXPECT_GE(p99, 9'900'000u);
  EXPECT_LE(p99, 9'900'000u + 9'900'000u / 128);
  EXPECT_EQ(histogram.PercentileNs(1.0), histogram.max_ns());
  EXPECT_NEAR(histogram.mean_ns(), 5'000'500.0, 1.0);

  LatencyHistogram other;
  other.Record(3);
  other.Record(uint64_t{1} << 63);
  histogram.Merge(other);
  EXPECT_EQ(histogram.count(), 10'002u);
  EXPECT_EQ(histogram.PercentileNs(0.00001), 3u);
  EXPECT_EQ(histogram.max_ns(), uint64_t{1} << 63);
  EXPECT_THAT(histogram.PercentileNs(0.999), Le(histogram.max_ns()));
}

// ---------------------------------------------------------------------------
// Raw ingest.

// The values of the entries column family of the store in `dir`, by key
// order, checking that the keys are SeqKey(0), SeqKey(1), ...
std::vector<std::string> StoredLines(const std::string& dir) {
  std::vector<std::string> lines;
  storage::Store::Options options;
  options.path = dir;
  options.mode = storage::Store::Mode::kReadOnly;
  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      storage::Store::Open(options);
  EXPECT_THAT(store, IsOk());
  if (!store.ok()) return lines;
  std::unique_ptr<rocksdb::Iterator> it =
      (*store)->NewIterator(storage::Family::kEntries);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    EXPECT_EQ(it->key().ToString(), storage::SeqKey(lines.size()));
    lines.push_back(it->value().ToString());
  }
  EXPECT_TRUE(it->status().ok()) << it->status().ToString();
  return lines;
}

TEST(RawRocksIngestTest, WritesEveryDataLineOfEveryFile) {
  TempDir dir;
  // Three batches and a bit; CRLF line ends, a blank line, a quoted field
  // with a comma and a line end, and no line end at the very end.
  const std::string first = dir.Sub("first.csv");
  ASSERT_NO_FATAL_FAILURE(WriteFileOrDie(first, PayrollFile(2500, "\r\n")));
  const std::string second = dir.Sub("second.csv");
  const std::string quoted =
      "ffp,\"w,\"\"x\"\"\ny\",2025-01-06,2025-01-12,2025-01-17,1,2.00,0.01,USD";
  ASSERT_NO_FATAL_FAILURE(WriteFileOrDie(
      second, absl::StrCat(PayrollFile(3), "\n", quoted, "\nffp,last")));
  RawIngestOptions options;
  options.dir = dir.Sub("db");
  options.batch_lines = 1000;
  const std::vector<std::string> files = {first, second};
  absl::StatusOr<RawIngestResult> result = RunRawRocksIngest(options, files);
  ASSERT_THAT(result, IsOk());
  const uint64_t lines = 2500 + 3 + 2;
  EXPECT_EQ(result->files, 2u);
  EXPECT_EQ(result->lines, lines);
  // 3 batches for the first file (a batch never spans files), 1 for the
  // second.
  EXPECT_EQ(result->batches, 4u);
  EXPECT_GT(result->lines_per_second, 0);
  EXPECT_GT(result->megabytes_per_second, 0);

  const std::vector<std::string> stored = StoredLines(options.dir);
  ASSERT_EQ(stored.size(), lines);
  EXPECT_EQ(stored[0],
            "ffp,w0,2025-01-06,2025-01-12,2025-01-17,40,600.00,12.00,USD");
  EXPECT_EQ(stored[2500], stored[0]);
  EXPECT_EQ(stored[lines - 2], quoted);
  EXPECT_EQ(stored[lines - 1], "ffp,last");
  EXPECT_EQ(result->bytes,
            std::accumulate(stored.begin(), stored.end(), uint64_t{0},
                            [](uint64_t sum, const std::string& line) {
                              return sum + line.size();
                            }));

  // The store must be fresh.
  EXPECT_THAT(RunRawRocksIngest(options, files),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(RawRocksIngestTest, RefusesBadInput) {
  TempDir dir;
  const std::string long_line = dir.Sub("long.csv");
  ASSERT_NO_FATAL_FAILURE(WriteFileOrDie(
      long_line, absl::StrCat(kPayrollHeader, "\n", std::string(100, 'x'))));
  RawIngestOptions options;
  options.dir = dir.Sub("db");
  options.line_bytes_max = 99;
  EXPECT_THAT(
      RunRawRocksIngest(options, std::vector<std::string>{long_line}),
      StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("long.csv")));
  options.dir = dir.Sub("db2");
  EXPECT_THAT(
      RunRawRocksIngest(options, std::vector<std::string>{dir.Sub("absent")}),
      StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(RunRawRocksIngest(options, {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  options.batch_lines = 0;
  EXPECT_THAT(RunRawRocksIngest(options, std::vector<std::string>{long_line}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace premium::bench
