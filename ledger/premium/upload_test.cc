// Tests of uploaded purchase and payment files (DESIGN sections 3, 4, 8 and
// 9): what a good file turns into, field by field, and how every kind of bad
// input is refused with its line and column. The ledger is faked by an
// UploadContext over in-memory programs and suppliers that counts its
// lookups. Every expected amount is computed by hand in a comment beside it;
// amounts are micros (1 unit = 1,000,000 micros).
#include "ledger/premium/upload.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/premium/indexer.h"
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

constexpr char kPurchaseHeader[] =
    "invoice_id,supplier_id,program_id,purchase_date,quantity,unit\n";
constexpr char kPaymentHeader[] =
    "payment_id,supplier_id,program_id,paid_date,amount,currency\n";

// Ledger seqs of the fake program versions, distinct so a test can tell
// which version a purchase used.
constexpr uint64_t kFfpFirstSeq = 3;
constexpr uint64_t kFfpSecondSeq = 7;
constexpr uint64_t kBurgerKingSeq = 4;
constexpr uint64_t kEuroSeq = 5;
constexpr uint64_t kCountSeq = 6;

pb::ProgramVersion Version(absl::string_view id, absl::string_view currency,
                           absl::string_view unit, int64_t worker_rate_micros,
                           int64_t supplier_rate_micros,
                           absl::string_view effective_date) {
  pb::ProgramVersion version;
  version.set_program_id(std::string(id));
  version.set_name(absl::StrCat("Program ", id));
  version.set_currency(std::string(currency));
  version.set_unit(std::string(unit));
  version.set_worker_rate_micros(worker_rate_micros);
  version.set_supplier_rate_micros(supplier_rate_micros);
  version.set_payment_terms_days(14);
  version.set_distribution_deadline_days(14);
  version.set_allocation(pb::HOURS);
  version.set_tolerance_micros(1'000'000);
  version.set_effective_date(std::string(effective_date));
  return version;
}

void AddVersion(ProgramHistory& history, uint64_t seq,
                pb::ProgramVersion version, absl::CivilDay day) {
  ASSERT_THAT(history.Add(ProgramVersionRecord{seq, day, std::move(version)}),
              IsOk());
}

// The ledger as the upload sees it, with a count of every lookup.
class FakeLedger {
 public:
  FakeLedger() {
    // The Fair Food Program: 0.01 USD/lb from 2025-01-01, raised mid-season
    // to 0.015 USD/lb from 2025-03-01.
    AddVersion(programs_["ffp"], kFfpFirstSeq,
               Version("ffp", "USD", "lb", 10'000, 0, "2025-01-01"),
               absl::CivilDay(2025, 1, 1));
    AddVersion(programs_["ffp"], kFfpSecondSeq,
               Version("ffp", "USD", "lb", 15'000, 0, "2025-03-01"),
               absl::CivilDay(2025, 3, 1));
    // The Burger King variant: 0.01 for workers + 0.005 for the supplier.
    AddVersion(programs_["bk"], kBurgerKingSeq,
               Version("bk", "USD", "lb", 10'000, 5'000, "2025-01-01"),
               absl::CivilDay(2025, 1, 1));
    // A program in EUR per kg: 0.02 EUR/kg for workers.
    AddVersion(programs_["eu"], kEuroSeq,
               Version("eu", "EUR", "kg", 20'000, 0, "2025-01-01"),
               absl::CivilDay(2025, 1, 1));
    // A program per item at the smallest rate, for rounding: 0.000001/each.
    AddVersion(programs_["cnt"], kCountSeq,
               Version("cnt", "USD", "each", 1, 0, "2025-01-01"),
               absl::CivilDay(2025, 1, 1));
    suppliers_ = {"s1", "s2"};
  }

  UploadContext Context(absl::string_view party_id = "b1") {
    UploadContext context;
    context.party_id = std::string(party_id);
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
    context.supplier = [this](absl::string_view supplier_id) -> absl::Status {
      ++supplier_calls[std::string(supplier_id)];
      if (suppliers_.count(std::string(supplier_id)) == 0) {
        return absl::NotFoundError(absl::StrCat("no supplier ", supplier_id));
      }
      return absl::OkStatus();
    };
    return context;
  }

  std::map<std::string, int> program_calls;
  std::map<std::string, int> supplier_calls;

 private:
  std::map<std::string, ProgramHistory> programs_;
  std::set<std::string> suppliers_;
};

// Feeds `file` in chunks of `chunk_bytes` (0: whole) and finishes. Returns
// the first error, as a caller that stops at it would see.
absl::Status RunUpload(Upload& upload, absl::string_view file,
                       size_t chunk_bytes = 0) {
  if (chunk_bytes == 0) chunk_bytes = file.size() + 1;
  for (size_t offset = 0; offset < file.size(); offset += chunk_bytes) {
    if (absl::Status s = upload.Feed(file.substr(offset, chunk_bytes));
        !s.ok()) {
      return s;
    }
  }
  return upload.Finish();
}

std::vector<pb::PurchaseReport> Purchases(Upload& upload) {
  std::vector<pb::PurchaseReport> out;
  for (const AppendEntry& entry : upload.entries()) {
    EXPECT_EQ(entry.kind, kPurchaseReportKind);
    pb::PurchaseReport report;
    EXPECT_TRUE(report.ParseFromString(entry.payload));
    out.push_back(std::move(report));
  }
  return out;
}

std::vector<pb::PremiumPayment> Payments(Upload& upload) {
  std::vector<pb::PremiumPayment> out;
  for (const AppendEntry& entry : upload.entries()) {
    EXPECT_EQ(entry.kind, kPremiumPaymentKind);
    pb::PremiumPayment payment;
    EXPECT_TRUE(payment.ParseFromString(entry.payload));
    out.push_back(std::move(payment));
  }
  return out;
}

void ExpectPurchase(const pb::PurchaseReport& report, absl::string_view invoice,
                    absl::string_view supplier, absl::string_view program,
                    absl::string_view date, int64_t quantity_micros,
                    absl::string_view unit, int64_t premium_micros,
                    int64_t worker_premium_micros, uint64_t version_seq,
                    uint64_t line) {
  SCOPED_TRACE(absl::StrCat("invoice ", invoice));
  EXPECT_EQ(report.brand_id(), "b1");
  EXPECT_EQ(report.invoice_id(), invoice);
  EXPECT_EQ(report.supplier_id(), supplier);
  EXPECT_EQ(report.program_id(), program);
  EXPECT_EQ(report.purchase_date(), date);
  EXPECT_EQ(report.quantity_micros(), quantity_micros);
  EXPECT_EQ(report.unit(), unit);
  EXPECT_EQ(report.premium_micros(), premium_micros);
  EXPECT_EQ(report.worker_premium_micros(), worker_premium_micros);
  EXPECT_EQ(report.program_version_seq(), version_seq);
  EXPECT_EQ(report.source_line(), line);
}

// ---------------------------------------------------------------------------
// Good purchase files.

constexpr char kGoodPurchases[] =
    "invoice_id,supplier_id,program_id,purchase_date,quantity,unit\n"
    "inv-1,s1,ffp,2025-02-28,1000,lb\n"
    "inv-2,s1,ffp,2025-03-01,1000,lb\n"
    "inv-3,s2,ffp,2025-02-10,1000,kg\n"
    "inv-4,s1,bk,2025-04-01,1234.5,lb\n"
    "inv-5,s2,ffp,2025-03-15,2.5,cwt\n"
    "inv-6,s1,eu,2025-01-15,100.125,kg\n"
    "inv-7,s2,eu,2025-01-16,100,lb\n";

void ExpectGoodPurchases(Upload& upload) {
  const std::vector<pb::PurchaseReport> reports = Purchases(upload);
  ASSERT_EQ(reports.size(), 7u);
  // The day before the rate change: 1000 lb x 0.01 = 10.00, first version.
  ExpectPurchase(reports[0], "inv-1", "s1", "ffp", "2025-02-28", 1'000'000'000,
                 "lb", 10'000'000, 10'000'000, kFfpFirstSeq, 2);
  // The day of the rate change: 1000 lb x 0.015 = 15.00, second version.
  ExpectPurchase(reports[1], "inv-2", "s1", "ffp", "2025-03-01", 1'000'000'000,
                 "lb", 15'000'000, 15'000'000, kFfpSecondSeq, 3);
  // 1000 kg = 1000 / 0.45359237 lb = 2204.62262184878 lb; x 0.01 =
  // 22.0462262184878 -> 22.046226.
  ExpectPurchase(reports[2], "inv-3", "s2", "ffp", "2025-02-10", 1'000'000'000,
                 "kg", 22'046'226, 22'046'226, kFfpFirstSeq, 4);
  // Burger King: 1234.5 lb x (0.01 + 0.005) = 18.5175 in all, of which
  // 1234.5 x 0.01 = 12.345 for workers.
  ExpectPurchase(reports[3], "inv-4", "s1", "bk", "2025-04-01", 1'234'500'000,
                 "lb", 18'517'500, 12'345'000, kBurgerKingSeq, 5);
  // 2.5 cwt = 250 lb; x 0.015 (in force on 2025-03-15) = 3.75.
  ExpectPurchase(reports[4], "inv-5", "s2", "ffp", "2025-03-15", 2'500'000,
                 "cwt", 3'750'000, 3'750'000, kFfpSecondSeq, 6);
  // 100.125 kg x 0.02 EUR = 2.0025 EUR.
  ExpectPurchase(reports[5], "inv-6", "s1", "eu", "2025-01-15", 100'125'000,
                 "kg", 2'002'500, 2'002'500, kEuroSeq, 7);
  // 100 lb = 45.359237 kg; x 0.02 = 0.90718474 -> 0.907185.
  ExpectPurchase(reports[6], "inv-7", "s2", "eu", "2025-01-16", 100'000'000,
                 "lb", 907'185, 907'185, kEuroSeq, 8);
  EXPECT_THAT(upload.lines(), ElementsAre(2, 3, 4, 5, 6, 7, 8));
  // USD: 10 + 15 + 22.046226 + 18.5175 + 3.75 = 69.313726.
  // EUR: 2.0025 + 0.907185 = 2.909685.
  EXPECT_THAT(
      upload.totals_micros(),
      UnorderedElementsAre(Pair("USD", 69'313'726), Pair("EUR", 2'909'685)));
}

TEST(UploadPurchasesTest, GoodFileGivesOneExactEntryPerRow) {
  FakeLedger ledger;
  Upload upload(Upload::Kind::kPurchases, ledger.Context());
  ASSERT_THAT(RunUpload(upload, kGoodPurchases), IsOk());
  ExpectGoodPurchases(upload);
}

TEST(UploadPurchasesTest, SameRecordsHoweverTheFileIsSplit) {
  for (const size_t chunk_bytes : {1, 2, 7, 64}) {
    SCOPED_TRACE(absl::StrCat("chunks of ", chunk_bytes));
    FakeLedger ledger;
    Upload upload(Upload::Kind::kPurchases, ledger.Context());
    ASSERT_THAT(RunUpload(upload, kGoodPurchases, chunk_bytes), IsOk());
    ExpectGoodPurchases(upload);
  }
}

TEST(UploadPurchasesTest, PremiumRoundsHalfEvenToTheMicro) {
  FakeLedger ledger;
  Upload upload(Upload::Kind::kPurchases, ledger.Context());
  ASSERT_THAT(
      RunUpload(upload, absl::StrCat(kPurchaseHeader,
                                     "c-1,s1,cnt,2025-01-02,2.5,each\n"
                                     "c-2,s1,cnt,2025-01-02,3.5,each\n"
                                     "c-3,s1,cnt,2025-01-02,0.001,each\n")),
      IsOk());
  const std::vector<pb::PurchaseReport> reports = Purchases(upload);
  ASSERT_EQ(reports.size(), 3u);
  // 2.5 x 0.000001 = 0.0000025 -> 0.000002 (the even neighbour, not 3).
  EXPECT_EQ(reports[0].premium_micros(), 2);
  // 3.5 x 0.000001 = 0.0000035 -> 0.000004.
  EXPECT_EQ(reports[1].premium_micros(), 4);
  // 0.001 x 0.000001 = 0.000000001 -> 0.
  EXPECT_EQ(reports[2].premium_micros(), 0);
  // 2 + 4 + 0.
  EXPECT_THAT(upload.totals_micros(), UnorderedElementsAre(Pair("USD", 6)));
}

TEST(UploadPurchasesTest, ColumnsInAnyOrderGiveTheSameRecords) {
  FakeLedger ledger;
  Upload in_order(Upload::Kind::kPurchases, ledger.Context());
  ASSERT_THAT(RunUpload(in_order, kGoodPurchases), IsOk());
  // The same rows with the columns reversed.
  std::string reversed;
  for (absl::string_view line :
       absl::StrSplit(kGoodPurchases, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ',');
    std::reverse(fields.begin(), fields.end());
    absl::StrAppend(&reversed, absl::StrJoin(fields, ","), "\n");
  }
  ASSERT_THAT(reversed, StartsWith("unit,quantity,purchase_date,"));
  Upload shuffled(Upload::Kind::kPurchases, ledger.Context());
  ASSERT_THAT(RunUpload(shuffled, reversed), IsOk());
  ASSERT_EQ(shuffled.entries().size(), in_order.entries().size());
  for (size_t i = 0; i < in_order.entries().size(); ++i) {
    EXPECT_EQ(shuffled.entries()[i].kind, in_order.entries()[i].kind);
    EXPECT_EQ(shuffled.entries()[i].payload, in_order.entries()[i].payload)
        << "row " << i;
  }
  EXPECT_EQ(shuffled.totals_micros(), in_order.totals_micros());
}

TEST(UploadPurchasesTest, ByteOrderMarkCrlfBlankLinesAndQuotes) {
  FakeLedger ledger;
  Upload upload(Upload::Kind::kPurchases, ledger.Context());
  // A spreadsheet's export: BOM, CRLF, every field quoted, a blank line.
  const std::string file =
      "\xEF\xBB\xBF"
      "\"invoice_id\",\"supplier_id\",\"program_id\",\"purchase_date\","
      "\"quantity\",\"unit\"\r\n"
      "\"inv-1\",\"s1\",\"ffp\",\"2025-02-28\",\"1000\",\"lb\"\r\n"
      "\r\n"
      "inv-2,s1,ffp,2025-03-01,1000,lb\r\n";
  ASSERT_THAT(RunUpload(upload, file, 3), IsOk());
  const std::vector<pb::PurchaseReport> reports = Purchases(upload);
  ASSERT_EQ(reports.size(), 2u);
  ExpectPurchase(reports[0], "inv-1", "s1", "ffp", "2025-02-28", 1'000'000'000,
                 "lb", 10'000'000, 10'000'000, kFfpFirstSeq, 2);
  // Line 3 is blank; the row is on line 4.
  ExpectPurchase(reports[1], "inv-2", "s1", "ffp", "2025-03-01", 1'000'000'000,
                 "lb", 15'000'000, 15'000'000, kFfpSecondSeq, 4);
  EXPECT_THAT(upload.lines(), ElementsAre(2, 4));
}

TEST(UploadPurchasesTest, QuotedCommasAndNewlinesKeepLineNumbersRight) {
  FakeLedger ledger;
  Upload upload(Upload::Kind::kPurchases, ledger.Context());
  // No column may hold a comma or a line end, but the CSV layer must read
  // them as data and count the lines inside quotes.
  const std::string file =
      absl::StrCat(kPurchaseHeader,                              // line 1
                   "\"inv-1\",s1,ffp,2025-02-28,\"1000\",lb\n",  // line 2: good
                   "\"inv\n2\",s1,ffp,2025-02-28,5,lb\n",        // lines 3-4
                   "\"inv,3\",s1,ffp,2025-02-28,5,lb\n",         // line 5
                   "inv-4,s1,ffp,2025-02-28,\"1\n\n000\",lb\n",  // lines 6-8
                   "inv-5,s1,ffp,2025-02-28,-1,lb\n");           // line 9
  const absl::Status status = RunUpload(upload, file);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                               AllOf(StartsWith("4 bad rows (4 errors): "),
                                     HasSubstr("line 3, column invoice_id"),
                                     HasSubstr("line 5, column invoice_id"),
                                     HasSubstr("line 6, column quantity"),
                                     HasSubstr("line 9, column quantity"))));
  EXPECT_THAT(status.message(), Not(HasSubstr("line 2")));
  EXPECT_THAT(upload.entries(), IsEmpty());
}

// ---------------------------------------------------------------------------
// Bad purchase rows: each column malformed in turn.

struct BadRow {
  std::string row;
  std::string column;
  std::string reason;  // a part of the reason's text
};

void ExpectOneBadRow(Upload::Kind kind, absl::string_view header,
                     absl::string_view good_row, const BadRow& bad) {
  SCOPED_TRACE(bad.row);
  FakeLedger ledger;
  Upload upload(kind, ledger.Context());
  const absl::Status status =
      RunUpload(upload, absl::StrCat(header, good_row, "\n", bad.row, "\n"), 5);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                               AllOf(StartsWith(absl::StrCat(
                                         "1 bad row (1 error): line 3, column ",
                                         bad.column, ": ")),
                                     HasSubstr(bad.reason))));
  EXPECT_THAT(upload.entries(), IsEmpty());
  EXPECT_THAT(upload.lines(), IsEmpty());
}

TEST(UploadPurchasesTest, EachBadColumnIsNamedWithItsLine) {
  const std::vector<BadRow> rows = {
      {"INV-2,s1,ffp,2025-02-28,5,lb", "invoice_id", "\"INV-2\""},
      {"-inv,s1,ffp,2025-02-28,5,lb", "invoice_id", "\"-inv\""},
      {",s1,ffp,2025-02-28,5,lb", "invoice_id", "invoice_id is empty"},
      {absl::StrCat(std::string(65, 'a'), ",s1,ffp,2025-02-28,5,lb"),
       "invoice_id", "longer than 64"},
      {"inv-2,s9,ffp,2025-02-28,5,lb", "supplier_id", "\"s9\""},
      {"inv-2,S1,ffp,2025-02-28,5,lb", "supplier_id", "\"S1\""},
      {"inv-2,s1,nope,2025-02-28,5,lb", "program_id", "no program \"nope\""},
      {"inv-2,s1,Ffp,2025-02-28,5,lb", "program_id", "\"Ffp\""},
      {"inv-2,s1,ffp,2025-02-30,5,lb", "purchase_date", "not a calendar day"},
      {"inv-2,s1,ffp,28/02/2025,5,lb", "purchase_date", "YYYY-MM-DD"},
      {"inv-2,s1,ffp,2025-2-28,5,lb", "purchase_date", "YYYY-MM-DD"},
      {"inv-2,s1,ffp,,5,lb", "purchase_date", "YYYY-MM-DD"},
      {"inv-2,s1,ffp,2024-12-31,5,lb", "purchase_date",
       "before program ffp starts (2025-01-01)"},
      {"inv-2,s1,ffp,2025-02-28,1.2345,lb", "quantity", "\"1.2345\""},
      {"inv-2,s1,ffp,2025-02-28,-5,lb", "quantity", "\"-5\""},
      {"inv-2,s1,ffp,2025-02-28,0,lb", "quantity", "greater than 0"},
      {"inv-2,s1,ffp,2025-02-28,0.000,lb", "quantity", "greater than 0"},
      {"inv-2,s1,ffp,2025-02-28,1e3,lb", "quantity", "\"1e3\""},
      {"inv-2,s1,ffp,2025-02-28, 5,lb", "quantity", "\" 5\""},
      {"inv-2,s1,ffp,2025-02-28,5 ,lb", "quantity", "\"5 \""},
      {"inv-2,s1,ffp,2025-02-28,+5,lb", "quantity", "\"+5\""},
      {"inv-2,s1,ffp,2025-02-28,05,lb", "quantity", "\"05\""},
      {"inv-2,s1,ffp,2025-02-28,,lb", "quantity", ""},
      {"inv-2,s1,ffp,2025-02-28,10000000000000,lb", "quantity", "out of range"},
      // 9223372036854.775 cwt = 922337203685477.5 lb; x 0.015 (2025-03-01)
      // = 13835058055282.16 > 9223372036854.775807, the largest amount.
      {"inv-2,s1,ffp,2025-03-01,9223372036854.775,cwt", "quantity", ""},
      {"inv-2,s1,ffp,2025-02-28,5,ton", "unit", "\"ton\""},
      {"inv-2,s1,ffp,2025-02-28,5,LB", "unit", "\"LB\""},
      {"inv-2,s1,ffp,2025-02-28,5,lbs", "unit", "\"lbs\""},
      {"inv-2,s1,ffp,2025-02-28,5,each", "unit", ""},
      {"inv-2,s1,cnt,2025-02-28,5,kg", "unit", ""},
  };
  for (const BadRow& row : rows) {
    ExpectOneBadRow(Upload::Kind::kPurchases, kPurchaseHeader,
                    "inv-1,s1,ffp,2025-02-28,1000,lb", row);
  }
}

TEST(UploadPurchasesTest, TotalThatOverflowsIsRefused) {
  FakeLedger ledger;
  Upload upload(Upload::Kind::kPurchases, ledger.Context());
  // 5000000000000 cwt = 500000000000000 lb; x 0.01 = 5000000000000.00 USD
  // each: representable alone, but the two together exceed
  // 9223372036854.775807.
  EXPECT_THAT(
      RunUpload(upload,
                absl::StrCat(kPurchaseHeader,
                             "inv-1,s1,ffp,2025-02-28,5000000000000,cwt\n"
                             "inv-2,s1,ffp,2025-02-28,5000000000000,cwt\n")),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "1 bad row (1 error): line 3: the file's total overflows"));
  EXPECT_THAT(upload.entries(), IsEmpty());
  EXPECT_THAT(upload.totals_micros(), IsEmpty());
}

TEST(UploadPurchasesTest, DuplicatedInvoiceIdNamesBothLines) {
  FakeLedger ledger;
  Upload upload(Upload::Kind::kPurchases, ledger.Context());
  EXPECT_THAT(
      RunUpload(upload, absl::StrCat(kPurchaseHeader,
                                     "inv-1,s1,ffp,2025-02-28,1000,lb\n"
                                     "inv-2,s1,ffp,2025-02-28,1000,lb\n"
                                     "inv-1,s2,ffp,2025-03-28,10,lb\n")),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(StartsWith("1 bad row (1 error): line 4, column "
                                "invoice_id: "),
                     HasSubstr("\"inv-1\" appears again (first on line 2)"))));
  EXPECT_THAT(upload.entries(), IsEmpty());
}

TEST(UploadPurchasesTest, EveryBadRowIsReportedTogether) {
  FakeLedger ledger;
  Upload upload(Upload::Kind::kPurchases, ledger.Context());
  const absl::Status status = RunUpload(
      upload, absl::StrCat(kPurchaseHeader,
                           "inv-1,s1,ffp,2025-02-28,1000,lb\n"    // 2 good
                           "inv-2,s9,ffp,2025-02-28,1.0001,lb\n"  // 3 two
                           "inv-3,s1,ffp,2025-02-28,10,lb\n"      // 4 good
                           "inv-4,s1,ffp,2025-02-28,10\n"         // 5 width
                           "inv-5,s1,ffp,2025-13-01,10,ton\n"     // 6 two
                           "inv-6,s1,ffp,2025-02-28,10,lb\n"));   // 7 good
  EXPECT_THAT(status,
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(StartsWith("3 bad rows (5 errors): "),
                             HasSubstr("line 3, column supplier_id"),
                             HasSubstr("line 3, column quantity"),
                             HasSubstr("line 5: expected 6 fields, got 5"),
                             HasSubstr("line 6, column purchase_date"),
                             HasSubstr("line 6, column unit"))));
  EXPECT_THAT(upload.entries(), IsEmpty());
  EXPECT_THAT(upload.lines(), IsEmpty());
}

TEST(UploadPurchasesTest, RowsWithTooFewOrTooManyFields) {
  for (const auto& [row, count] : std::vector<std::pair<std::string, int>>{
           {"inv-2,s1,ffp,2025-02-28,5", 5},
           {"inv-2", 1},
           {"inv-2,s1,ffp,2025-02-28,5,lb,", 7},
           {" ", 1}}) {
    SCOPED_TRACE(row);
    FakeLedger ledger;
    Upload upload(Upload::Kind::kPurchases, ledger.Context());
    EXPECT_THAT(
        RunUpload(upload,
                  absl::StrCat(kPurchaseHeader,
                               "inv-1,s1,ffp,2025-02-28,1000,lb\n", row, "\n")),
        StatusIs(absl::StatusCode::kInvalidArgument,
                 absl::StrCat("1 bad row (1 error): line 3: expected 6 "
                              "fields, got ",
                              count)));
    EXPECT_THAT(upload.entries(), IsEmpty());
  }
}

// ---------------------------------------------------------------------------
// The file as a whole.

TEST(UploadFileTest, HeaderProblemsAreNamed) {
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"invoice_id,supplier_id,program_id,purchase_date,unit\n",
       "missing columns: quantity"},
      {"invoice_id,supplier_id,program_id,purchase_date,quantity,unit,unit\n",
       "column 7: duplicate column \"unit\" (first at column 6)"},
      {"invoice_id,supplier_id,program_id,purchase_date,quantity,unit,notes\n",
       "column 7: unknown column \"notes\""},
      {"invoice_id,supplier_id,program_id,purchase_date,Quantity,unit\n",
       "unknown column \"Quantity\" (did you mean \"quantity\"?"},
      {"invoice_id,supplier_id,program_id,purchase_date,quantity ,unit\n",
       "unknown column \"quantity \""},
      // A payments header on a purchases upload.
      {kPaymentHeader,
       "missing columns: invoice_id, purchase_date, quantity, unit"},
  };
  for (const auto& [header, problem] : headers) {
    SCOPED_TRACE(header);
    FakeLedger ledger;
    Upload upload(Upload::Kind::kPurchases, ledger.Context());
    const std::string file =
        absl::StrCat(header, "inv-1,s1,ffp,2025-02-28,1000,lb,x\n");
    EXPECT_THAT(RunUpload(upload, file),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(StartsWith("line 1: bad header row: "),
                               HasSubstr(problem))));
    EXPECT_THAT(upload.entries(), IsEmpty());
  }
}

TEST(UploadFileTest, ErrorsAreFinal) {
  // A caller that goes on after an error must not get records out of a bad
  // file: a second header row after a bad one does not make the file good.
  FakeLedger ledger;
  Upload upload(Upload::Kind::kPurchases, ledger.Context());
  const std::string file = absl::StrCat(
      "invoice,supplier_id,program_id,purchase_date,quantity,unit\n",
      kPurchaseHeader, "inv-1,s1,ffp,2025-02-28,1000,lb\n");
  const absl::Status first = upload.Feed(file);
  ASSERT_THAT(first, StatusIs(absl::StatusCode::kInvalidArgument,
                              HasSubstr("line 1: bad header row")));
  EXPECT_EQ(upload.Feed("inv-2,s1,ffp,2025-02-28,1000,lb\n"), first);
  EXPECT_EQ(upload.Finish(), first);
  EXPECT_THAT(upload.entries(), IsEmpty());
  EXPECT_THAT(upload.totals_micros(), IsEmpty());

  // A CSV syntax error after good rows: nothing of the good rows is kept.
  Upload syntax(Upload::Kind::kPurchases, ledger.Context());
  const absl::Status status =
      RunUpload(syntax, absl::StrCat(kPurchaseHeader,
                                     "inv-1,s1,ffp,2025-02-28,1000,lb\n"
                                     "inv-2,s1,ffp,2025-02-28,\"10"));
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                               HasSubstr("line 3")));
  EXPECT_EQ(syntax.Finish(), status);
  EXPECT_THAT(syntax.entries(), IsEmpty());
  EXPECT_THAT(syntax.lines(), IsEmpty());
  EXPECT_THAT(syntax.totals_micros(), IsEmpty());

  Upload mid(Upload::Kind::kPurchases, ledger.Context());
  const absl::Status bad_quote = mid.Feed(
      absl::StrCat(kPurchaseHeader, "inv-1,s1,ffp,2025-02-28,1000,lb\n",
                   "inv-2,s1,ffp,2025-02-28,1\"0,lb\n"));
  EXPECT_THAT(bad_quote, StatusIs(absl::StatusCode::kInvalidArgument,
                                  HasSubstr("line 3, column 5")));
  EXPECT_EQ(mid.Finish(), bad_quote);
  EXPECT_THAT(mid.entries(), IsEmpty());
}

TEST(UploadFileTest, EmptyAndHeaderOnlyFilesAreRefused) {
  for (const std::string file : {"", "\xEF\xBB\xBF", "\n\n", "\r\n"}) {
    FakeLedger ledger;
    Upload upload(Upload::Kind::kPurchases, ledger.Context());
    EXPECT_THAT(
        RunUpload(upload, file),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")))
        << absl::CHexEscape(file);
  }
  for (const std::string& file :
       {std::string(kPurchaseHeader), absl::StrCat(kPurchaseHeader, "\n\r\n"),
        std::string(kPurchaseHeader, sizeof(kPurchaseHeader) - 2)}) {
    FakeLedger ledger;
    Upload upload(Upload::Kind::kPurchases, ledger.Context());
    EXPECT_THAT(
        RunUpload(upload, file),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no rows")))
        << absl::CHexEscape(file);
    EXPECT_THAT(upload.entries(), IsEmpty());
  }
}

TEST(UploadFileTest, LookupsAreMadeOncePerDistinctId) {
  FakeLedger ledger;
  Upload upload(Upload::Kind::kPurchases, ledger.Context());
  const absl::Status status =
      RunUpload(upload,
                absl::StrCat(kPurchaseHeader,
                             "inv-1,s1,ffp,2025-02-28,1,lb\n"
                             "inv-2,s2,ffp,2025-02-28,1,lb\n"
                             "inv-3,s1,bk,2025-02-28,1,lb\n"
                             "inv-4,s9,ffp,2025-02-28,1,lb\n"   // 5
                             "inv-5,s1,nope,2025-02-28,1,lb\n"  // 6
                             "inv-6,s9,nope,2025-02-28,1,lb\n"  // 7
                             "inv-7,s2,bk,2025-02-28,1,lb\n"
                             "inv-8,S1,Ffp,2025-02-28,1,lb\n"),  // 9
                4);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                               AllOf(StartsWith("4 bad rows (6 errors): "),
                                     HasSubstr("line 5, column supplier_id"),
                                     HasSubstr("line 6, column program_id"),
                                     HasSubstr("line 7, column supplier_id"),
                                     HasSubstr("line 7, column program_id"),
                                     HasSubstr("line 9, column supplier_id"),
                                     HasSubstr("line 9, column program_id"))));
  // Malformed ids are never looked up.
  EXPECT_THAT(
      ledger.program_calls,
      UnorderedElementsAre(Pair("ffp", 1), Pair("bk", 1), Pair("nope", 1)));
  EXPECT_THAT(
      ledger.supplier_calls,
      UnorderedElementsAre(Pair("s1", 1), Pair("s2", 1), Pair("s9", 1)));
}

TEST(UploadFileTest, LedgerFailureIsNotBlamedOnTheFile) {
  // A lookup that fails for a reason other than NotFound is the server's
  // problem (a transient or data-loss error), not a bad row: the upload
  // fails with that status so the caller can retry or alert.
  FakeLedger ledger;
  Upload upload(Upload::Kind::kPurchases, ledger.Context());
  EXPECT_THAT(
      RunUpload(upload, absl::StrCat(kPurchaseHeader,
                                     "inv-1,s1,ffp,2025-02-28,1,lb\n"
                                     "inv-2,s1,broken,2025-02-28,1,lb\n")),
      StatusIs(absl::StatusCode::kUnavailable,
               HasSubstr("the ledger is unavailable")));
  EXPECT_THAT(upload.entries(), IsEmpty());
}

// ---------------------------------------------------------------------------
// Payments.

TEST(UploadPaymentsTest, GoodFileGivesOneExactEntryPerRow) {
  FakeLedger ledger;
  Upload upload(Upload::Kind::kPayments, ledger.Context());
  ASSERT_THAT(RunUpload(upload,
                        absl::StrCat(kPaymentHeader,
                                     "pay-1,s1,ffp,2025-03-14,10.00,USD\n"
                                     "pay-2,s2,bk,2025-04-10,18.52,USD\n"
                                     "pay-3,s1,eu,2025-02-01,2.9,EUR\n"
                                     "pay-4,s2,ffp,2025-06-01,0.01,USD\n"),
                        7),
              IsOk());
  const std::vector<pb::PremiumPayment> payments = Payments(upload);
  ASSERT_EQ(payments.size(), 4u);
  const struct {
    const char* id;
    const char* supplier;
    const char* program;
    const char* date;
    int64_t amount_micros;
    const char* currency;
  } expected[] = {
      {"pay-1", "s1", "ffp", "2025-03-14", 10'000'000, "USD"},
      {"pay-2", "s2", "bk", "2025-04-10", 18'520'000, "USD"},
      {"pay-3", "s1", "eu", "2025-02-01", 2'900'000, "EUR"},
      {"pay-4", "s2", "ffp", "2025-06-01", 10'000, "USD"},
  };
  for (size_t i = 0; i < payments.size(); ++i) {
    SCOPED_TRACE(expected[i].id);
    EXPECT_EQ(payments[i].brand_id(), "b1");
    EXPECT_EQ(payments[i].payment_id(), expected[i].id);
    EXPECT_EQ(payments[i].supplier_id(), expected[i].supplier);
    EXPECT_EQ(payments[i].program_id(), expected[i].program);
    EXPECT_EQ(payments[i].paid_date(), expected[i].date);
    EXPECT_EQ(payments[i].amount_micros(), expected[i].amount_micros);
    EXPECT_EQ(payments[i].currency(), expected[i].currency);
    EXPECT_EQ(payments[i].source_line(), i + 2);
  }
  EXPECT_THAT(upload.lines(), ElementsAre(2, 3, 4, 5));
  // USD: 10.00 + 18.52 + 0.01 = 28.53; EUR: 2.90.
  EXPECT_THAT(
      upload.totals_micros(),
      UnorderedElementsAre(Pair("USD", 28'530'000), Pair("EUR", 2'900'000)));
}

TEST(UploadPaymentsTest, ColumnsInAnyOrderBomAndCrlf) {
  FakeLedger ledger;
  Upload upload(Upload::Kind::kPayments, ledger.Context("b2"));
  ASSERT_THAT(
      RunUpload(upload,
                "\xEF\xBB\xBF"
                "currency,amount,paid_date,program_id,supplier_id,payment_id"
                "\r\n"
                "USD,\"1,000.00\",2025-03-14,ffp,s1,pay-x\r\n",
                2),
      StatusIs(absl::StatusCode::kInvalidArgument,
               StartsWith("1 bad row (1 error): line 2, column amount: ")));
  Upload good(Upload::Kind::kPayments, ledger.Context("b2"));
  ASSERT_THAT(
      RunUpload(good,
                "\xEF\xBB\xBF"
                "currency,amount,paid_date,program_id,supplier_id,payment_id"
                "\r\n"
                "USD,\"1000.00\",2025-03-14,ffp,s1,pay-x\r\n",
                2),
      IsOk());
  const std::vector<pb::PremiumPayment> payments = Payments(good);
  ASSERT_EQ(payments.size(), 1u);
  EXPECT_EQ(payments[0].brand_id(), "b2");
  EXPECT_EQ(payments[0].payment_id(), "pay-x");
  EXPECT_EQ(payments[0].supplier_id(), "s1");
  EXPECT_EQ(payments[0].program_id(), "ffp");
  EXPECT_EQ(payments[0].paid_date(), "2025-03-14");
  EXPECT_EQ(payments[0].amount_micros(), 1'000'000'000);
  EXPECT_EQ(payments[0].currency(), "USD");
  EXPECT_EQ(payments[0].source_line(), 2u);
}

TEST(UploadPaymentsTest, EachBadColumnIsNamedWithItsLine) {
  const std::vector<BadRow> rows = {
      {"Pay-2,s1,ffp,2025-03-14,10.00,USD", "payment_id", "\"Pay-2\""},
      {"pay 2,s1,ffp,2025-03-14,10.00,USD", "payment_id", "\"pay 2\""},
      {",s1,ffp,2025-03-14,10.00,USD", "payment_id", "payment_id is empty"},
      {"pay-2,s9,ffp,2025-03-14,10.00,USD", "supplier_id", "\"s9\""},
      {"pay-2,,ffp,2025-03-14,10.00,USD", "supplier_id", "empty"},
      {"pay-2,s1,nope,2025-03-14,10.00,USD", "program_id",
       "no program \"nope\""},
      {"pay-2,s1,ffp,2025-03-32,10.00,USD", "paid_date", "not a calendar day"},
      {"pay-2,s1,ffp,2025/03/14,10.00,USD", "paid_date", "YYYY-MM-DD"},
      {"pay-2,s1,ffp,1899-03-14,10.00,USD", "paid_date", "outside the years"},
      {"pay-2,s1,ffp,2025-03-14,10.005,USD", "amount", "\"10.005\""},
      {"pay-2,s1,ffp,2025-03-14,-10.00,USD", "amount", "\"-10.00\""},
      {"pay-2,s1,ffp,2025-03-14,0.00,USD", "amount", "greater than 0"},
      {"pay-2,s1,ffp,2025-03-14,1e3,USD", "amount", "\"1e3\""},
      {"pay-2,s1,ffp,2025-03-14, 10.00,USD", "amount", "\" 10.00\""},
      {"pay-2,s1,ffp,2025-03-14,$10.00,USD", "amount", "\"$10.00\""},
      {"pay-2,s1,ffp,2025-03-14,10.00,EUR", "currency",
       "currency EUR is not program ffp's currency (USD)"},
      {"pay-2,s1,ffp,2025-03-14,10.00,XYZ", "currency", "\"XYZ\""},
      {"pay-2,s1,ffp,2025-03-14,10.00,usd", "currency", "\"usd\""},
      {"pay-2,s1,ffp,2025-03-14,10.00,", "currency", "\"\""},
  };
  for (const BadRow& row : rows) {
    ExpectOneBadRow(Upload::Kind::kPayments, kPaymentHeader,
                    "pay-1,s1,ffp,2025-03-14,10.00,USD", row);
  }
}

TEST(UploadPaymentsTest, DuplicatedPaymentIdNamesBothLines) {
  FakeLedger ledger;
  Upload upload(Upload::Kind::kPayments, ledger.Context());
  EXPECT_THAT(
      RunUpload(upload, absl::StrCat(kPaymentHeader,
                                     "pay-1,s1,ffp,2025-03-14,10.00,USD\n"
                                     "pay-2,s1,ffp,2025-03-14,10.00,USD\n"
                                     "pay-3,s1,ffp,2025-03-14,10.00,USD\n"
                                     "pay-2,s2,bk,2025-03-15,1.00,USD\n")),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(StartsWith("1 bad row (1 error): line 5, column "
                                "payment_id: "),
                     HasSubstr("\"pay-2\" appears again (first on line 3)"))));
  EXPECT_THAT(upload.entries(), IsEmpty());
}

TEST(UploadPaymentsTest, HeaderAndWidthProblems) {
  FakeLedger ledger;
  Upload missing(Upload::Kind::kPayments, ledger.Context());
  EXPECT_THAT(RunUpload(missing,
                        "payment_id,supplier_id,program_id,amount,"
                        "currency\npay-1,s1,ffp,10.00,USD\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(StartsWith("line 1: bad header row: "),
                             HasSubstr("missing columns: paid_date"))));
  Upload header_only(Upload::Kind::kPayments, ledger.Context());
  EXPECT_THAT(
      RunUpload(header_only, kPaymentHeader),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no rows")));
  Upload narrow(Upload::Kind::kPayments, ledger.Context());
  EXPECT_THAT(RunUpload(narrow, absl::StrCat(kPaymentHeader,
                                             "pay-1,s1,ffp,2025-03-14,10.00\n"
                                             "pay-2,s1,ffp,2025-03-14,10.00,"
                                             "USD\n")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "1 bad row (1 error): line 2: expected 6 fields, "
                       "got 5"));
  EXPECT_THAT(narrow.entries(), IsEmpty());
  EXPECT_THAT(narrow.totals_micros(), IsEmpty());
}

TEST(UploadPaymentsTest, LookupsAreMadeOncePerDistinctId) {
  FakeLedger ledger;
  Upload upload(Upload::Kind::kPayments, ledger.Context());
  ASSERT_THAT(
      RunUpload(upload, absl::StrCat(kPaymentHeader,
                                     "pay-1,s1,ffp,2025-03-14,10.00,USD\n"
                                     "pay-2,s1,ffp,2025-03-15,10.00,USD\n"
                                     "pay-3,s2,ffp,2025-03-16,10.00,USD\n"
                                     "pay-4,s2,eu,2025-03-16,10.00,EUR\n"
                                     "pay-5,s1,eu,2025-03-16,10.00,EUR\n")),
      IsOk());
  EXPECT_EQ(upload.entries().size(), 5u);
  EXPECT_THAT(ledger.program_calls,
              UnorderedElementsAre(Pair("ffp", 1), Pair("eu", 1)));
  EXPECT_THAT(ledger.supplier_calls,
              UnorderedElementsAre(Pair("s1", 1), Pair("s2", 1)));
  // 3 x 10.00 USD and 2 x 10.00 EUR.
  EXPECT_THAT(
      upload.totals_micros(),
      UnorderedElementsAre(Pair("USD", 30'000'000), Pair("EUR", 20'000'000)));
}

}  // namespace
}  // namespace premium
