// Tests of uploaded payroll files (DESIGN sections 4, 7, 8 and 9): what a
// good file turns into, field by field, and how every malformed column is
// refused with its line and column, all or nothing. The ledger is faked by an
// UploadContext over in-memory programs that counts its lookups. Amounts are
// micros (1 unit = 1,000,000 micros); every expected value is worked out by
// hand in a comment beside it.
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/civil_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/premium/indexer.h"
#include "ledger/premium/upload.h"
#include "ledger/testing/ledger_testing.h"
#include "wsr/premium/v1/records.pb.h"

namespace premium {
namespace {

namespace pb = ::wsr::premium::v1;

using ::premium::testing::IsOk;
using ::premium::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pair;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

constexpr char kHeader[] =
    "program_id,worker_id,period_start,period_end,pay_date,hours,gross_wages,"
    "premium_amount,currency\n";

pb::ProgramVersion Version(absl::string_view id, absl::string_view currency,
                           absl::string_view effective_date) {
  pb::ProgramVersion version;
  version.set_program_id(std::string(id));
  version.set_name(absl::StrCat("Program ", id));
  version.set_currency(std::string(currency));
  version.set_unit("lb");
  version.set_worker_rate_micros(10'000);
  version.set_payment_terms_days(14);
  version.set_distribution_deadline_days(14);
  version.set_allocation(pb::HOURS);
  version.set_tolerance_micros(1'000'000);
  version.set_effective_date(std::string(effective_date));
  return version;
}

// The ledger as a payroll upload sees it: programs "ffp" (USD), "eu" (EUR)
// and "jp" (JPY, no minor unit); "broken" fails as an unavailable ledger.
class FakeLedger {
 public:
  FakeLedger() {
    Add("ffp", "USD", 3);
    Add("eu", "EUR", 4);
    Add("jp", "JPY", 5);
  }

  UploadContext Context(absl::string_view supplier_id = "s1") {
    UploadContext context;
    context.party_id = std::string(supplier_id);
    context.program =
        [this](absl::string_view program_id) -> absl::StatusOr<ProgramHistory> {
      ++program_calls[std::string(program_id)];
      if (program_id == "broken") {
        return absl::UnavailableError("the ledger is unavailable");
      }
      const auto it = programs_.find(std::string(program_id));
      if (it == programs_.end()) {
        return absl::NotFoundError(absl::StrCat("no program ", program_id));
      }
      return it->second;
    };
    // A payroll file names no supplier: the uploader is the supplier.
    context.supplier = [this](absl::string_view) -> absl::Status {
      ++supplier_calls;
      return absl::OkStatus();
    };
    return context;
  }

  std::map<std::string, int> program_calls;
  int supplier_calls = 0;

 private:
  void Add(absl::string_view id, absl::string_view currency, uint64_t seq) {
    ProgramHistory& history = programs_[std::string(id)];
    EXPECT_THAT(
        history.Add(ProgramVersionRecord{seq, absl::CivilDay(2025, 1, 1),
                                         Version(id, currency, "2025-01-01")}),
        IsOk());
  }
  std::map<std::string, ProgramHistory> programs_;
};

// Feeds `file` in chunks of `chunk_bytes` and finishes; the first error.
absl::Status FeedAll(Upload& upload, absl::string_view file,
                     size_t chunk_bytes = 1 << 20) {
  for (size_t offset = 0; offset < file.size(); offset += chunk_bytes) {
    if (absl::Status s = upload.Feed(file.substr(offset, chunk_bytes));
        !s.ok()) {
      return s;
    }
  }
  return upload.Finish();
}

std::vector<pb::PayrollLine> Lines(Upload& upload) {
  std::vector<pb::PayrollLine> lines;
  for (const AppendEntry& entry : upload.entries()) {
    EXPECT_EQ(entry.kind, kPayrollLineKind);
    pb::PayrollLine line;
    EXPECT_TRUE(line.ParseFromString(entry.payload));
    lines.push_back(line);
  }
  return lines;
}

// One data row by column name; columns not given take a good value.
std::string Row(std::map<std::string, std::string> values = {}) {
  const std::map<std::string, std::string> good = {
      {"program_id", "ffp"},
      {"worker_id", "w-001"},
      {"period_start", "2025-01-06"},
      {"period_end", "2025-01-12"},
      {"pay_date", "2025-01-17"},
      {"hours", "40.5"},
      {"gross_wages", "607.50"},
      {"premium_amount", "12.15"},
      {"currency", "USD"}};
  std::vector<std::string> fields;
  for (absl::string_view column : kPayrollColumns) {
    const auto it = values.find(std::string(column));
    fields.push_back(it != values.end() ? it->second
                                        : good.at(std::string(column)));
  }
  return absl::StrCat(absl::StrJoin(fields, ","), "\n");
}

// Three workers of supplier s1 in the week of 2025-01-06; lines 2 to 4.
constexpr char kGoodRows[] =
    "ffp,w-001,2025-01-06,2025-01-12,2025-01-17,40.5,607.50,12.15,USD\n"
    "ffp,w-002,2025-01-06,2025-01-12,2025-01-17,38,570.00,11.40,USD\n"
    "ffp,w.003_x,2025-01-06,2025-01-12,2025-01-12,0,0,0.00,USD\n";

TEST(PayrollUploadTest, GoodFileMakesOneExactLinePerRow) {
  FakeLedger ledger;
  Upload upload(Upload::Kind::kPayroll, ledger.Context("s1"));
  ASSERT_THAT(FeedAll(upload, absl::StrCat(kHeader, kGoodRows)), IsOk());

  const std::vector<pb::PayrollLine> lines = Lines(upload);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].supplier_id(), "s1");
  EXPECT_EQ(lines[0].program_id(), "ffp");
  EXPECT_EQ(lines[0].worker_id(), "w-001");
  EXPECT_EQ(lines[0].period_start(), "2025-01-06");
  EXPECT_EQ(lines[0].period_end(), "2025-01-12");
  EXPECT_EQ(lines[0].pay_date(), "2025-01-17");
  EXPECT_EQ(lines[0].hours_micros(), 40'500'000);         // 40.5 h
  EXPECT_EQ(lines[0].gross_wages_micros(), 607'500'000);  // 607.50
  EXPECT_EQ(lines[0].premium_micros(), 12'150'000);       // 12.15
  EXPECT_EQ(lines[0].currency(), "USD");
  EXPECT_EQ(lines[0].source_line(), 2u);
  // The code is the service's to add: the library leaves it empty.
  EXPECT_TRUE(lines[0].code_sha256().empty());

  EXPECT_EQ(lines[1].worker_id(), "w-002");
  EXPECT_EQ(lines[1].hours_micros(), 38'000'000);         // 38 h
  EXPECT_EQ(lines[1].gross_wages_micros(), 570'000'000);  // 570.00
  EXPECT_EQ(lines[1].premium_micros(), 11'400'000);       // 11.40
  EXPECT_EQ(lines[1].source_line(), 3u);

  // Zero hours and premium are recorded as such; a pay date on the last day
  // of the period is fine.
  EXPECT_EQ(lines[2].worker_id(), "w.003_x");
  EXPECT_EQ(lines[2].pay_date(), "2025-01-12");
  EXPECT_EQ(lines[2].hours_micros(), 0);
  EXPECT_EQ(lines[2].gross_wages_micros(), 0);
  EXPECT_EQ(lines[2].premium_micros(), 0);
  EXPECT_EQ(lines[2].source_line(), 4u);

  EXPECT_THAT(upload.lines(), ElementsAre(2u, 3u, 4u));
  // 12.15 + 11.40 + 0.00 = 23.55
  EXPECT_THAT(upload.totals_micros(),
              UnorderedElementsAre(Pair("USD", 23'550'000)));
  // One lookup per distinct program; a payroll file names no supplier.
  EXPECT_THAT(ledger.program_calls, ElementsAre(Pair("ffp", 1)));
  EXPECT_EQ(ledger.supplier_calls, 0);
}

TEST(PayrollUploadTest, EachEntryHoldsOneWorkersLineOnly) {
  // DESIGN section 5: each line is its own leaf, so the bytes a worker is
  // shown name no other worker.
  FakeLedger ledger;
  Upload upload(Upload::Kind::kPayroll, ledger.Context());
  ASSERT_THAT(FeedAll(upload, absl::StrCat(kHeader, kGoodRows)), IsOk());
  ASSERT_EQ(upload.entries().size(), 3u);
  EXPECT_THAT(upload.entries()[0].payload, HasSubstr("w-001"));
  EXPECT_THAT(upload.entries()[0].payload, Not(HasSubstr("w-002")));
  EXPECT_THAT(upload.entries()[0].payload, Not(HasSubstr("w.003_x")));
  EXPECT_THAT(upload.entries()[1].payload, Not(HasSubstr("w-001")));
}

TEST(PayrollUploadTest, SupplierIdComesFromTheUploader) {
  FakeLedger ledger;
  Upload upload(Upload::Kind::kPayroll, ledger.Context("farm-22"));
  ASSERT_THAT(FeedAll(upload, absl::StrCat(kHeader, Row())), IsOk());
  const std::vector<pb::PayrollLine> lines = Lines(upload);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].supplier_id(), "farm-22");
}

TEST(PayrollUploadTest, ColumnsInAnyOrder) {
  FakeLedger ledger;
  Upload in_order(Upload::Kind::kPayroll, ledger.Context());
  ASSERT_THAT(FeedAll(in_order, absl::StrCat(kHeader, kGoodRows)), IsOk());

  // The same three rows with the columns reversed.
  const std::string reversed =
      "currency,premium_amount,gross_wages,hours,pay_date,period_end,"
      "period_start,worker_id,program_id\n"
      "USD,12.15,607.50,40.5,2025-01-17,2025-01-12,2025-01-06,w-001,ffp\n"
      "USD,11.40,570.00,38,2025-01-17,2025-01-12,2025-01-06,w-002,ffp\n"
      "USD,0.00,0,0,2025-01-12,2025-01-12,2025-01-06,w.003_x,ffp\n";
  Upload shuffled(Upload::Kind::kPayroll, ledger.Context());
  ASSERT_THAT(FeedAll(shuffled, reversed), IsOk());

  ASSERT_EQ(shuffled.entries().size(), in_order.entries().size());
  for (size_t i = 0; i < in_order.entries().size(); ++i) {
    EXPECT_EQ(shuffled.entries()[i].kind, in_order.entries()[i].kind);
    EXPECT_EQ(shuffled.entries()[i].payload, in_order.entries()[i].payload)
        << "row " << i;
  }
  EXPECT_EQ(shuffled.totals_micros(), in_order.totals_micros());
}

TEST(PayrollUploadTest, ByteOrderMarkCrlfAndAnyChunkingReadTheSame) {
  FakeLedger ledger;
  Upload plain(Upload::Kind::kPayroll, ledger.Context());
  ASSERT_THAT(FeedAll(plain, absl::StrCat(kHeader, kGoodRows)), IsOk());

  // What a spreadsheet on Windows saves: a BOM and CRLF line ends, and no
  // line end after the last row.
  std::string windows = absl::StrReplaceAll(
      absl::StrCat("\xEF\xBB\xBF", kHeader, kGoodRows), {{"\n", "\r\n"}});
  windows.resize(windows.size() - 2);
  for (const size_t chunk_bytes :
       {size_t{1}, size_t{2}, size_t{7}, size_t{1} << 20}) {
    SCOPED_TRACE(absl::StrCat("chunks of ", chunk_bytes));
    Upload upload(Upload::Kind::kPayroll, ledger.Context());
    ASSERT_THAT(FeedAll(upload, windows, chunk_bytes), IsOk());
    ASSERT_EQ(upload.entries().size(), plain.entries().size());
    for (size_t i = 0; i < plain.entries().size(); ++i) {
      // Same currency "USD", not "USD\r"; same source lines.
      EXPECT_EQ(upload.entries()[i].payload, plain.entries()[i].payload);
    }
    EXPECT_THAT(upload.lines(), ElementsAre(2u, 3u, 4u));
  }
}

TEST(PayrollUploadTest, BlankLinesCountForLineNumbers) {
  FakeLedger ledger;
  Upload upload(Upload::Kind::kPayroll, ledger.Context());
  ASSERT_THAT(FeedAll(upload, absl::StrCat(kHeader, "\n", Row(), "\n\n",
                                           Row({{"worker_id", "w-009"}}))),
              IsOk());
  EXPECT_THAT(upload.lines(), ElementsAre(3u, 6u));
  const std::vector<pb::PayrollLine> lines = Lines(upload);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].source_line(), 3u);
  EXPECT_EQ(lines[1].source_line(), 6u);
}

struct BadField {
  std::string column;
  std::string value;
  // A part of the reason.
  std::string reason;
};

std::string PrintBadField(const ::testing::TestParamInfo<BadField>& info) {
  std::string name = absl::StrCat(info.param.column, "_", info.index);
  for (char& c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

class PayrollBadFieldTest : public ::testing::TestWithParam<BadField> {};

// Row 3 (after a good row 2) carries the one bad value: the whole file is
// refused, naming line 3 and the column, and nothing of row 2 survives.
TEST_P(PayrollBadFieldTest, NamesLineAndColumnAndKeepsNothing) {
  const BadField& bad = GetParam();
  FakeLedger ledger;
  Upload upload(Upload::Kind::kPayroll, ledger.Context());
  const std::string file =
      absl::StrCat(kHeader, Row(), Row({{bad.column, bad.value}}),
                   Row({{"worker_id", "w9"}}));
  const absl::Status status = FeedAll(upload, file);
  EXPECT_THAT(
      status,
      StatusIs(
          absl::StatusCode::kInvalidArgument,
          AllOf(StartsWith("1 bad row ("),
                HasSubstr(absl::StrCat("line 3, column ", bad.column, ": ")),
                HasSubstr(bad.reason), Not(HasSubstr("line 2")),
                Not(HasSubstr("line 4")))));
  EXPECT_THAT(upload.entries(), IsEmpty());
  EXPECT_THAT(upload.lines(), IsEmpty());
  EXPECT_THAT(upload.totals_micros(), IsEmpty());
  // Errors are final.
  EXPECT_EQ(upload.Finish(), status);
  EXPECT_EQ(upload.Feed(Row()), status);
}

INSTANTIATE_TEST_SUITE_P(
    EveryColumn, PayrollBadFieldTest,
    ::testing::Values(
        // program_id: not an id, or no such program.
        BadField{"program_id", "FFP", "lowercase"},
        BadField{"program_id", "", "program_id is empty"},
        BadField{"program_id", "-ffp", "starting with a letter or digit"},
        BadField{"program_id", "nope", "no program \"nope\""},
        // worker_id: the id syntax of DESIGN section 9.
        BadField{"worker_id", "W-001", "lowercase"},
        BadField{"worker_id", "", "worker_id is empty"},
        BadField{"worker_id", "w 001", "lowercase"},
        BadField{"worker_id", "w/001", "lowercase"},
        BadField{"worker_id", std::string(65, 'w'), "longer than 64"},
        // Dates: exactly YYYY-MM-DD, a real day, in range.
        BadField{"period_start", "2025-1-06", "YYYY-MM-DD"},
        BadField{"period_start", "2025-13-01", "not a calendar day"},
        BadField{"period_start", "06/01/2025", "YYYY-MM-DD"},
        BadField{"period_end", "2025-02-30", "not a calendar day"},
        BadField{"period_end", "", "YYYY-MM-DD"},
        BadField{"period_end", "2025-01-05", "period_end is before"},
        BadField{"pay_date", "20250117", "YYYY-MM-DD"},
        BadField{"pay_date", "1899-01-17", "outside the years"},
        BadField{"pay_date", "2025-01-05", "pay_date is before period_start"},
        // Hours: at most 2 decimals, never negative, strict syntax.
        BadField{"hours", "40.125", "40.125"},
        BadField{"hours", "40.500", "40.500"}, BadField{"hours", "-1", "-1"},
        BadField{"hours", "-0.5", "-0.5"}, BadField{"hours", "4e1", "4e1"},
        BadField{"hours", " 40", "40"}, BadField{"hours", "", ""},
        BadField{"hours", "040", "040"},
        // Amounts: at most the currency's 2 decimals, never negative.
        BadField{"gross_wages", "607.505", "607.505"},
        BadField{"gross_wages", "-607.50", "-607.50"},
        BadField{"gross_wages", "$607.50", "$607.50"},
        BadField{"premium_amount", "12.155", "12.155"},
        BadField{"premium_amount", "12.150", "12.150"},
        BadField{"premium_amount", "-0.01", "-0.01"},
        BadField{"premium_amount", "", ""},
        // Currency: a known code, and the program's.
        BadField{"currency", "EUR", "not program ffp's currency (USD)"},
        BadField{"currency", "usd", "not a supported ISO 4217"},
        BadField{"currency", "XYZ", "not a supported ISO 4217"}),
    PrintBadField);

TEST(PayrollUploadTest, AmountPrecisionFollowsTheCurrency) {
  FakeLedger ledger;
  // JPY has no minor unit: "1500" is good, "1500.5" is not.
  Upload yen(Upload::Kind::kPayroll, ledger.Context());
  ASSERT_THAT(
      FeedAll(yen, absl::StrCat(kHeader, Row({{"program_id", "jp"},
                                              {"gross_wages", "120000"},
                                              {"premium_amount", "1500"},
                                              {"currency", "JPY"}}))),
      IsOk());
  ASSERT_EQ(Lines(yen).size(), 1u);
  EXPECT_EQ(Lines(yen)[0].premium_micros(), 1'500'000'000);  // 1500 yen

  Upload fraction(Upload::Kind::kPayroll, ledger.Context());
  EXPECT_THAT(
      FeedAll(fraction, absl::StrCat(kHeader, Row({{"program_id", "jp"},
                                                   {"gross_wages", "120000"},
                                                   {"premium_amount", "1500.5"},
                                                   {"currency", "JPY"}}))),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("line 2, column premium_amount")));
  EXPECT_THAT(fraction.entries(), IsEmpty());
}

TEST(PayrollUploadTest, EveryBadRowAndColumnIsNamed) {
  FakeLedger ledger;
  Upload upload(Upload::Kind::kPayroll, ledger.Context());
  const std::string file = absl::StrCat(
      kHeader, Row({{"hours", "1.234"}, {"currency", "EUR"}}),  // line 2
      Row(),                                                    // line 3
      Row({{"worker_id", "Bad"}}),                              // line 4
      "ffp,w-001,2025-01-06\n",                                 // line 5
      Row({{"period_end", "2024-12-31"}, {"pay_date", "x"}}));  // line 6
  const absl::Status status = FeedAll(upload, file);
  ASSERT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                               StartsWith("4 bad rows (6 errors): ")));
  const std::string message(status.message());
  for (const char* expected :
       {"line 2, column hours", "line 2, column currency",
        "line 4, column worker_id", "line 5: expected 9 fields, got 3",
        "line 6, column period_end", "line 6, column pay_date"}) {
    EXPECT_THAT(message, HasSubstr(expected));
  }
  EXPECT_THAT(message, Not(HasSubstr("line 3")));
  // In file order.
  EXPECT_LT(message.find("line 2"), message.find("line 4"));
  EXPECT_LT(message.find("line 4"), message.find("line 5"));
  EXPECT_LT(message.find("line 5"), message.find("line 6"));
  EXPECT_THAT(upload.entries(), IsEmpty());
}

TEST(PayrollUploadTest, DuplicateWorkerAndPeriodIsAccepted) {
  // Reconciliation reports DUPLICATE_PAYROLL_LINE with both lines as
  // evidence; refusing the file would hide what the supplier recorded.
  FakeLedger ledger;
  Upload upload(Upload::Kind::kPayroll, ledger.Context());
  ASSERT_THAT(FeedAll(upload, absl::StrCat(kHeader, Row(), Row(),
                                           Row({{"premium_amount", "3.00"}}))),
              IsOk());
  const std::vector<pb::PayrollLine> lines = Lines(upload);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(upload.entries()[0].payload.size(),
            upload.entries()[1].payload.size());
  EXPECT_EQ(lines[0].worker_id(), lines[1].worker_id());
  EXPECT_EQ(lines[0].source_line(), 2u);
  EXPECT_EQ(lines[1].source_line(), 3u);
  EXPECT_EQ(lines[2].premium_micros(), 3'000'000);
  // 12.15 + 12.15 + 3.00 = 27.30
  EXPECT_THAT(upload.totals_micros(),
              UnorderedElementsAre(Pair("USD", 27'300'000)));
}

TEST(PayrollUploadTest, TotalsPerCurrency) {
  FakeLedger ledger;
  Upload upload(Upload::Kind::kPayroll, ledger.Context());
  const std::string file =
      absl::StrCat(kHeader, Row({{"premium_amount", "12.15"}}),
                   Row({{"program_id", "eu"},
                        {"currency", "EUR"},
                        {"premium_amount", "7.05"}}),
                   Row({{"premium_amount", "0.85"}}),
                   Row({{"program_id", "eu"},
                        {"currency", "EUR"},
                        {"premium_amount", "0.95"}}),
                   Row({{"program_id", "jp"},
                        {"currency", "JPY"},
                        {"gross_wages", "9000"},
                        {"premium_amount", "250"}}));
  ASSERT_THAT(FeedAll(upload, file), IsOk());
  // USD 12.15 + 0.85 = 13.00; EUR 7.05 + 0.95 = 8.00; JPY 250.
  EXPECT_THAT(
      upload.totals_micros(),
      UnorderedElementsAre(Pair("USD", 13'000'000), Pair("EUR", 8'000'000),
                           Pair("JPY", 250'000'000)));
  EXPECT_THAT(
      ledger.program_calls,
      UnorderedElementsAre(Pair("ffp", 1), Pair("eu", 1), Pair("jp", 1)));
}

TEST(PayrollUploadTest, TotalThatOverflowsIsRefused) {
  // 9,000,000,000,000.00 is 9e18 micros, within int64; twice it is not.
  FakeLedger ledger;
  Upload upload(Upload::Kind::kPayroll, ledger.Context());
  const std::string big = "9000000000000.00";
  EXPECT_THAT(
      FeedAll(upload, absl::StrCat(kHeader, Row({{"premium_amount", big}}),
                                   Row({{"premium_amount", big}}))),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("line 3: the file's total overflows")));
  EXPECT_THAT(upload.entries(), IsEmpty());
  EXPECT_THAT(upload.totals_micros(), IsEmpty());
}

TEST(PayrollUploadTest, HeaderRowMustBeThePayrollColumns) {
  FakeLedger ledger;
  {
    Upload upload(Upload::Kind::kPayroll, ledger.Context());
    EXPECT_THAT(
        FeedAll(
            upload,
            "program_id,worker_id,period_start,period_end,pay_date,hours,"
            "gross_wages,premium_amount\n"
            "ffp,w-001,2025-01-06,2025-01-12,2025-01-17,40.5,607.50,12.15\n"),
        StatusIs(absl::StatusCode::kInvalidArgument,
                 AllOf(HasSubstr("line 1"), HasSubstr("bad header row"),
                       HasSubstr("currency"))));
  }
  {
    // A purchase file sent as payroll.
    Upload upload(Upload::Kind::kPayroll, ledger.Context());
    EXPECT_THAT(
        FeedAll(
            upload,
            "invoice_id,supplier_id,program_id,purchase_date,quantity,unit\n"
            "inv-1,s1,ffp,2025-01-10,100,lb\n"),
        StatusIs(absl::StatusCode::kInvalidArgument,
                 HasSubstr("bad header row")));
    EXPECT_THAT(upload.entries(), IsEmpty());
  }
  {
    // Names are exact: "Worker_ID" is not "worker_id".
    Upload upload(Upload::Kind::kPayroll, ledger.Context());
    EXPECT_THAT(
        FeedAll(upload, absl::StrCat(absl::StrReplaceAll(
                                         kHeader, {{"worker_id", "Worker_ID"}}),
                                     Row())),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Worker_ID")));
  }
}

TEST(PayrollUploadTest, EmptyFileAndHeaderOnlyAreRefused) {
  FakeLedger ledger;
  Upload empty(Upload::Kind::kPayroll, ledger.Context());
  EXPECT_THAT(FeedAll(empty, ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
  Upload header_only(Upload::Kind::kPayroll, ledger.Context());
  EXPECT_THAT(
      FeedAll(header_only, kHeader),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no rows")));
}

TEST(PayrollUploadTest, CsvSyntaxErrorNamesItsLine) {
  FakeLedger ledger;
  Upload upload(Upload::Kind::kPayroll, ledger.Context());
  EXPECT_THAT(
      FeedAll(upload,
              absl::StrCat(kHeader, Row(),
                           "ffp,w-0\"02,2025-01-06,2025-01-12,2025-01-17,1,1,1,"
                           "USD\n")),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 3")));
  EXPECT_THAT(upload.entries(), IsEmpty());
}

TEST(PayrollUploadTest, LedgerFailureIsNotBlamedOnTheFile) {
  FakeLedger ledger;
  Upload upload(Upload::Kind::kPayroll, ledger.Context());
  const absl::Status status = FeedAll(
      upload, absl::StrCat(kHeader, Row(), Row({{"program_id", "broken"}})));
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(upload.entries(), IsEmpty());
  EXPECT_EQ(upload.Finish(), status);
}

TEST(PayrollUploadTest, FieldLimitIsResourceExhausted) {
  FakeLedger ledger;
  csv::Limits limits;
  limits.field_bytes_max = 32;
  Upload upload(Upload::Kind::kPayroll, ledger.Context(), limits);
  EXPECT_THAT(
      FeedAll(upload, absl::StrCat(kHeader,
                                   Row({{"worker_id", std::string(40, 'w')}}))),
      StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("line 2")));
  EXPECT_THAT(upload.entries(), IsEmpty());
}

}  // namespace
}  // namespace premium
