// Tests of the list calls for a party's own records: BrandService's
// ListPurchases and ListPayments, SupplierService's ListPayrollLines and
// ListPaymentsReceived, through a real gRPC server on 127.0.0.1:0 wired as
// premiumd wires it (a Ledger with the PremiumIndexer in a temporary
// directory, the in-process LedgerClient, the Authenticator, the server
// secret and the role services, the admin registered as premiumd's
// BootstrapAdmin does), with the records uploaded through the services as
// the parties would. The last tests drive the premiumd and premiumctl
// binaries: `purchases list`, `payments list`, `payments received` and
// `payroll list` in each output format.
//
// Programs (all from 2025-01-01):
//   ffp  USD per lb, worker_rate 0.01
//   bk   USD per lb, worker_rate 0.01 + supplier_rate 0.005
//   eu   EUR per kg, worker_rate 0.02
// Every expected amount is computed by hand in a comment beside it.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/ledger.h"
#include "ledger/merkle/hasher.h"
#include "ledger/premium/indexer.h"
#include "ledger/testing/child_process.h"
#include "ledger/testing/ledger_testing.h"
#include "nlohmann/json.hpp"
#include "services/admin_service.h"
#include "services/audit_service.h"
#include "services/auth.h"
#include "services/brand_service.h"
#include "services/credentials.h"
#include "services/ledger_client.h"
#include "services/server_secret.h"
#include "services/supplier_service.h"
#include "services/testing/service_testing.h"
#include "services/upload_receiver.h"
#include "services/worker_service.h"
#include "wsr/premium/v1/admin.grpc.pb.h"
#include "wsr/premium/v1/audit.grpc.pb.h"
#include "wsr/premium/v1/brand.grpc.pb.h"
#include "wsr/premium/v1/records.pb.h"
#include "wsr/premium/v1/supplier.grpc.pb.h"
#include "wsr/premium/v1/worker.grpc.pb.h"

namespace premium {
namespace {

namespace pb = ::wsr::premium::v1;

using ::premium::testing::Bearer;
using ::premium::testing::CommandResult;
using ::premium::testing::Context;
using ::premium::testing::EqualsProto;
using ::premium::testing::ExpectOneLine;
using ::premium::testing::GrpcIs;
using ::premium::testing::GrpcOk;
using ::premium::testing::Lines;
using ::premium::testing::PremiumdCliTest;
using ::premium::testing::WriteFileOrDie;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

const absl::CivilDay kToday(2025, 2, 28);
const absl::Time kAppendTime = absl::FromCivil(
    absl::CivilSecond(2025, 2, 10, 12, 0, 0), absl::UTCTimeZone());

constexpr char kPurchasesHeader[] =
    "invoice_id,supplier_id,program_id,purchase_date,quantity,unit\n";
constexpr char kPaymentsHeader[] =
    "payment_id,supplier_id,program_id,paid_date,amount,currency\n";
constexpr char kPayrollHeader[] =
    "program_id,worker_id,period_start,period_end,pay_date,hours,gross_wages,"
    "premium_amount,currency\n";

// Expected records, built field by field.
pb::Purchase MakePurchase(uint64_t seq, const std::string& brand,
                          const std::string& invoice,
                          const std::string& supplier,
                          const std::string& program, const std::string& date,
                          const std::string& quantity, const std::string& unit,
                          const std::string& premium,
                          const std::string& worker_premium,
                          const std::string& currency) {
  pb::Purchase p;
  p.set_seq(seq);
  p.set_brand_id(brand);
  p.set_invoice_id(invoice);
  p.set_supplier_id(supplier);
  p.set_program_id(program);
  p.set_purchase_date(date);
  p.set_quantity(quantity);
  p.set_unit(unit);
  p.set_premium(premium);
  p.set_worker_premium(worker_premium);
  p.set_currency(currency);
  return p;
}

pb::Payment MakePayment(uint64_t seq, const std::string& brand,
                        const std::string& payment_id,
                        const std::string& supplier, const std::string& program,
                        const std::string& date, const std::string& amount,
                        const std::string& currency) {
  pb::Payment p;
  p.set_seq(seq);
  p.set_brand_id(brand);
  p.set_payment_id(payment_id);
  p.set_supplier_id(supplier);
  p.set_program_id(program);
  p.set_paid_date(date);
  p.set_amount(amount);
  p.set_currency(currency);
  return p;
}

pb::PayrollLineRecord MakeLine(uint64_t seq, const std::string& program,
                               const std::string& worker,
                               const std::string& start, const std::string& end,
                               const std::string& pay_date,
                               const std::string& hours,
                               const std::string& gross_wages,
                               const std::string& premium,
                               const std::string& currency) {
  pb::PayrollLineRecord l;
  l.set_seq(seq);
  l.set_program_id(program);
  l.set_worker_id(worker);
  l.set_period_start(start);
  l.set_period_end(end);
  l.set_pay_date(pay_date);
  l.set_hours(hours);
  l.set_gross_wages(gross_wages);
  l.set_premium_amount(premium);
  l.set_currency(currency);
  return l;
}

template <typename Message>
void ExpectRecords(const google::protobuf::RepeatedPtrField<Message>& got,
                   const std::vector<Message>& want) {
  ASSERT_EQ(static_cast<size_t>(got.size()), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("record ", i));
    EXPECT_THAT(got[static_cast<int>(i)], EqualsProto(want[i]));
  }
}

// The four lists, called the same way.
enum class List { kPurchases, kPayments, kPaymentsReceived, kPayrollLines };

const char* ListName(List list) {
  switch (list) {
    case List::kPurchases:
      return "ListPurchases";
    case List::kPayments:
      return "ListPayments";
    case List::kPaymentsReceived:
      return "ListPaymentsReceived";
    case List::kPayrollLines:
      return "ListPayrollLines";
  }
  return "?";
}

// One page of any list: its status, its records' seqs, its next token.
struct Page {
  grpc::Status status;
  std::vector<uint64_t> seqs;
  std::string next;
};

// Every page of one list, read while next_page_token is set.
struct Walk {
  std::vector<uint64_t> seqs;
  std::vector<size_t> page_records;
  // The next_page_token of each page, the last one included.
  std::vector<std::string> tokens;
};

enum class BrandFile { kPurchases, kPayments };

class ListRecordsTest : public testing::PremiumServicesTest {
 protected:
  ListRecordsTest() : PremiumServicesTest(kToday, kAppendTime) {}

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(PremiumServicesTest::SetUp());
    ASSERT_NO_FATAL_FAILURE(SetUpProgramsAndParties());
  }

  std::string As(const std::string& party) { return Bearer(tokens_[party]); }

  void AddProgramOrDie(const std::string& id, const std::string& currency,
                       const std::string& unit, const std::string& worker_rate,
                       const std::string& supplier_rate) {
    pb::AddProgramVersionRequest request;
    request.set_request_id(absl::StrCat("program-", id));
    pb::ProgramVersionSpec& spec = *request.mutable_version();
    spec.set_program_id(id);
    spec.set_name(absl::StrCat("Program ", id));
    spec.set_currency(currency);
    spec.set_unit(unit);
    spec.set_worker_rate(worker_rate);
    spec.set_supplier_rate(supplier_rate);
    spec.set_effective_date("2025-01-01");
    pb::Program program;
    ASSERT_THAT(admin_stub_->AddProgramVersion(
                    Context(Bearer(admin_token_)).get(), request, &program),
                GrpcOk());
  }

  // Programs ffp, bk, eu; brands b1, b2, b3; suppliers s1, s2, s3; auditor
  // a1.
  void SetUpProgramsAndParties() {
    ASSERT_NO_FATAL_FAILURE(AddProgramOrDie("ffp", "USD", "lb", "0.01", ""));
    ASSERT_NO_FATAL_FAILURE(
        AddProgramOrDie("bk", "USD", "lb", "0.01", "0.005"));
    ASSERT_NO_FATAL_FAILURE(AddProgramOrDie("eu", "EUR", "kg", "0.02", ""));
    for (const char* brand : {"b1", "b2", "b3"}) {
      tokens_[brand] = RegisterOrDie(pb::BRAND, brand);
    }
    for (const char* supplier : {"s1", "s2", "s3"}) {
      tokens_[supplier] = RegisterOrDie(pb::SUPPLIER, supplier);
    }
    tokens_["a1"] = RegisterOrDie(pb::AUDITOR, "a1");
  }

  // Uploads a brand's purchases or payments (rows after the header); the
  // first seq appended.
  uint64_t SubmitOrDie(const std::string& brand, BrandFile kind,
                       absl::string_view rows) {
    const std::string file = absl::StrCat(
        kind == BrandFile::kPurchases ? kPurchasesHeader : kPaymentsHeader,
        rows);
    pb::UploadReceipt receipt;
    auto context = Context(As(brand));
    std::unique_ptr<grpc::ClientWriter<pb::UploadChunk>> writer =
        kind == BrandFile::kPurchases
            ? brand_stub_->SubmitPurchases(context.get(), &receipt)
            : brand_stub_->SubmitPayments(context.get(), &receipt);
    EXPECT_THAT(testing::StreamUpload(writer.get(), file), GrpcOk()) << file;
    EXPECT_FALSE(receipt.replayed());
    return receipt.ledger().first_seq();
  }

  // Uploads a supplier's payroll (rows after the header); the lines' seqs.
  std::vector<uint64_t> UploadPayrollOrDie(const std::string& supplier,
                                           absl::string_view rows) {
    pb::UploadPayrollResponse response;
    auto context = Context(As(supplier));
    std::unique_ptr<grpc::ClientWriter<pb::UploadChunk>> writer =
        supplier_stub_->UploadPayroll(context.get(), &response);
    EXPECT_THAT(
        testing::StreamUpload(writer.get(), absl::StrCat(kPayrollHeader, rows)),
        GrpcOk());
    std::vector<uint64_t> seqs;
    for (const pb::PaystubCode& code : response.codes()) {
      seqs.push_back(code.seq());
    }
    return seqs;
  }

  static pb::ListOwnRecordsRequest Request(int page_size,
                                           const std::string& token) {
    pb::ListOwnRecordsRequest request;
    request.set_page_size(page_size);
    request.set_page_token(token);
    return request;
  }

  grpc::Status ListPurchases(const std::string& auth, int page_size,
                             const std::string& token,
                             pb::ListPurchasesResponse* response) {
    return brand_stub_->ListPurchases(Context(auth).get(),
                                      Request(page_size, token), response);
  }
  grpc::Status ListPayments(const std::string& auth, int page_size,
                            const std::string& token,
                            pb::ListPaymentsResponse* response) {
    return brand_stub_->ListPayments(Context(auth).get(),
                                     Request(page_size, token), response);
  }
  grpc::Status ListPaymentsReceived(const std::string& auth, int page_size,
                                    const std::string& token,
                                    pb::ListPaymentsResponse* response) {
    return supplier_stub_->ListPaymentsReceived(
        Context(auth).get(), Request(page_size, token), response);
  }
  grpc::Status ListPayrollLines(const std::string& auth, int page_size,
                                const std::string& token,
                                pb::ListPayrollLinesResponse* response) {
    return supplier_stub_->ListPayrollLines(
        Context(auth).get(), Request(page_size, token), response);
  }

  // One page of `list`, as `auth`.
  Page ListPage(List list, const std::string& auth, int page_size,
                const std::string& token) {
    Page page;
    switch (list) {
      case List::kPurchases: {
        pb::ListPurchasesResponse r;
        page.status = ListPurchases(auth, page_size, token, &r);
        for (const pb::Purchase& p : r.purchases())
          page.seqs.push_back(p.seq());
        page.next = r.next_page_token();
        break;
      }
      case List::kPayments:
      case List::kPaymentsReceived: {
        pb::ListPaymentsResponse r;
        page.status = list == List::kPayments
                          ? ListPayments(auth, page_size, token, &r)
                          : ListPaymentsReceived(auth, page_size, token, &r);
        for (const pb::Payment& p : r.payments()) page.seqs.push_back(p.seq());
        page.next = r.next_page_token();
        break;
      }
      case List::kPayrollLines: {
        pb::ListPayrollLinesResponse r;
        page.status = ListPayrollLines(auth, page_size, token, &r);
        for (const pb::PayrollLineRecord& l : r.lines()) {
          page.seqs.push_back(l.seq());
        }
        page.next = r.next_page_token();
        break;
      }
    }
    return page;
  }

  // Reads `list` from `token` while next_page_token is set (at most 1,000
  // pages), every page OK and at most `page_size` records.
  Walk WalkList(List list, const std::string& auth, int page_size,
                const std::string& token = "") {
    Walk walk;
    std::string next = token;
    for (int i = 0; i < 1000; ++i) {
      const Page page = ListPage(list, auth, page_size, next);
      EXPECT_THAT(page.status, GrpcOk()) << ListName(list) << " page " << i;
      if (!page.status.ok()) return walk;
      EXPECT_LE(page.seqs.size(), static_cast<size_t>(page_size));
      walk.seqs.insert(walk.seqs.end(), page.seqs.begin(), page.seqs.end());
      walk.page_records.push_back(page.seqs.size());
      walk.tokens.push_back(page.next);
      if (page.next.empty()) return walk;
      next = page.next;
    }
    ADD_FAILURE() << ListName(list) << ": more than 1,000 pages";
    return walk;
  }

  // One purchase (or payment) per upload; its seq.
  uint64_t OnePurchase(const std::string& brand, const std::string& invoice,
                       const std::string& supplier) {
    return SubmitOrDie(
        brand, BrandFile::kPurchases,
        absl::StrCat(invoice, ",", supplier, ",ffp,2025-01-06,100,lb\n"));
  }
  uint64_t OnePayment(const std::string& brand, const std::string& payment,
                      const std::string& supplier) {
    return SubmitOrDie(
        brand, BrandFile::kPayments,
        absl::StrCat(payment, ",", supplier, ",ffp,2025-01-17,1.00,USD\n"));
  }
};

// ---------------------------------------------------------------------------
// Each party sees its own records, every field as recorded.

TEST_F(ListRecordsTest, EachPartySeesExactlyItsOwnRecords) {
  // b1's first purchases:
  //   inv-1 s1 bk  28000 lb   -> 28000 × 0.015 = 420.00, workers 280.00
  //   inv-2 s2 ffp 18500.5 lb -> 18500.5 × 0.01 = 185.005
  //   inv-3 s1 eu  1000 lb    -> 453.59237 kg × 0.02 = 9.0718474 EUR,
  //                              half-even to the micro-unit 9.071847
  //   inv-4 s2 ffp 0.001 lb   -> 0.00001
  const uint64_t b1_purchases =
      SubmitOrDie("b1", BrandFile::kPurchases,
                  "inv-1,s1,bk,2025-01-06,28000,lb\n"
                  "inv-2,s2,ffp,2025-01-07,18500.5,lb\n"
                  "inv-3,s1,eu,2025-01-08,1000,lb\n"
                  "inv-4,s2,ffp,2025-01-09,0.001,lb\n");
  // b2 reuses b1's invoice id: business keys are per brand.
  //   inv-1 s1 ffp 300 lb -> 3.00;  inv-9 s2 eu 12.5 kg -> 0.25 EUR
  const uint64_t b2_purchases = SubmitOrDie("b2", BrandFile::kPurchases,
                                            "inv-1,s1,ffp,2025-01-10,300,lb\n"
                                            "inv-9,s2,eu,2025-01-11,12.5,kg\n");
  const uint64_t b1_payments =
      SubmitOrDie("b1", BrandFile::kPayments,
                  "pay-1,s1,bk,2025-01-17,420.00,USD\n"
                  "pay-2,s2,ffp,2025-01-20,185.01,USD\n"
                  "pay-3,s1,eu,2025-01-21,9.07,EUR\n");
  const std::vector<uint64_t> s1_lines = UploadPayrollOrDie(
      "s1",
      "ffp,w1,2025-01-13,2025-01-19,2025-01-24,40,600,4,USD\n"
      "ffp,w2,2025-01-13,2025-01-19,2025-01-24,37.5,562.50,3.75,USD\n"
      "eu,w3,2025-01-20,2025-01-26,2025-01-31,20.25,300.10,9.07,EUR\n");
  ASSERT_EQ(s1_lines.size(), 3u);
  const uint64_t b2_payments = SubmitOrDie("b2", BrandFile::kPayments,
                                           "pay-1,s1,ffp,2025-01-15,3,USD\n"
                                           "pay-2,s2,ffp,2025-01-16,0.5,USD\n");
  const std::vector<uint64_t> s2_lines = UploadPayrollOrDie(
      "s2", "ffp,w9,2025-01-20,2025-01-26,2025-01-31,30,450.00,3.00,USD\n");
  ASSERT_EQ(s2_lines.size(), 1u);
  // Later, one more purchase of b1: still in seq order after the others.
  //   inv-5 s1 ffp 2000.5 lb -> 20.005
  const uint64_t b1_later = SubmitOrDie("b1", BrandFile::kPurchases,
                                        "inv-5,s1,ffp,2025-01-22,2000.5,lb\n");

  {
    SCOPED_TRACE("b1 purchases");
    pb::ListPurchasesResponse response;
    ASSERT_THAT(ListPurchases(As("b1"), 0, "", &response), GrpcOk());
    ExpectRecords(
        response.purchases(),
        {MakePurchase(b1_purchases, "b1", "inv-1", "s1", "bk", "2025-01-06",
                      "28000", "lb", "420.00", "280.00", "USD"),
         MakePurchase(b1_purchases + 1, "b1", "inv-2", "s2", "ffp",
                      "2025-01-07", "18500.5", "lb", "185.005", "185.005",
                      "USD"),
         MakePurchase(b1_purchases + 2, "b1", "inv-3", "s1", "eu", "2025-01-08",
                      "1000", "lb", "9.071847", "9.071847", "EUR"),
         MakePurchase(b1_purchases + 3, "b1", "inv-4", "s2", "ffp",
                      "2025-01-09", "0.001", "lb", "0.00001", "0.00001", "USD"),
         MakePurchase(b1_later, "b1", "inv-5", "s1", "ffp", "2025-01-22",
                      "2000.5", "lb", "20.005", "20.005", "USD")});
    EXPECT_EQ(response.next_page_token(), "");
  }
  {
    SCOPED_TRACE("b2 purchases");
    pb::ListPurchasesResponse response;
    ASSERT_THAT(ListPurchases(As("b2"), 0, "", &response), GrpcOk());
    ExpectRecords(
        response.purchases(),
        {MakePurchase(b2_purchases, "b2", "inv-1", "s1", "ffp", "2025-01-10",
                      "300", "lb", "3.00", "3.00", "USD"),
         // 12.5 kg × 0.02 = 0.25.
         MakePurchase(b2_purchases + 1, "b2", "inv-9", "s2", "eu", "2025-01-11",
                      "12.5", "kg", "0.25", "0.25", "EUR")});
    EXPECT_EQ(response.next_page_token(), "");
  }
  const pb::Payment b1_pay1 = MakePayment(b1_payments, "b1", "pay-1", "s1",
                                          "bk", "2025-01-17", "420.00", "USD");
  const pb::Payment b1_pay2 = MakePayment(b1_payments + 1, "b1", "pay-2", "s2",
                                          "ffp", "2025-01-20", "185.01", "USD");
  const pb::Payment b1_pay3 = MakePayment(b1_payments + 2, "b1", "pay-3", "s1",
                                          "eu", "2025-01-21", "9.07", "EUR");
  // Amounts shown with the currency's cents, whatever the file wrote.
  const pb::Payment b2_pay1 = MakePayment(b2_payments, "b2", "pay-1", "s1",
                                          "ffp", "2025-01-15", "3.00", "USD");
  const pb::Payment b2_pay2 = MakePayment(b2_payments + 1, "b2", "pay-2", "s2",
                                          "ffp", "2025-01-16", "0.50", "USD");
  {
    SCOPED_TRACE("b1 payments");
    pb::ListPaymentsResponse response;
    ASSERT_THAT(ListPayments(As("b1"), 0, "", &response), GrpcOk());
    ExpectRecords(response.payments(), {b1_pay1, b1_pay2, b1_pay3});
    EXPECT_EQ(response.next_page_token(), "");
  }
  {
    SCOPED_TRACE("b2 payments");
    pb::ListPaymentsResponse response;
    ASSERT_THAT(ListPayments(As("b2"), 0, "", &response), GrpcOk());
    ExpectRecords(response.payments(), {b2_pay1, b2_pay2});
  }
  {
    SCOPED_TRACE("s1 payments received: b1's and b2's to s1, in seq order");
    pb::ListPaymentsResponse response;
    ASSERT_THAT(ListPaymentsReceived(As("s1"), 0, "", &response), GrpcOk());
    ExpectRecords(response.payments(), {b1_pay1, b1_pay3, b2_pay1});
    EXPECT_EQ(response.next_page_token(), "");
  }
  {
    SCOPED_TRACE("s2 payments received");
    pb::ListPaymentsResponse response;
    ASSERT_THAT(ListPaymentsReceived(As("s2"), 0, "", &response), GrpcOk());
    ExpectRecords(response.payments(), {b1_pay2, b2_pay2});
  }
  {
    SCOPED_TRACE("s1 payroll lines");
    pb::ListPayrollLinesResponse response;
    ASSERT_THAT(ListPayrollLines(As("s1"), 0, "", &response), GrpcOk());
    ExpectRecords(
        response.lines(),
        {MakeLine(s1_lines[0], "ffp", "w1", "2025-01-13", "2025-01-19",
                  "2025-01-24", "40.00", "600.00", "4.00", "USD"),
         MakeLine(s1_lines[1], "ffp", "w2", "2025-01-13", "2025-01-19",
                  "2025-01-24", "37.50", "562.50", "3.75", "USD"),
         MakeLine(s1_lines[2], "eu", "w3", "2025-01-20", "2025-01-26",
                  "2025-01-31", "20.25", "300.10", "9.07", "EUR")});
    EXPECT_EQ(response.next_page_token(), "");
  }
  {
    SCOPED_TRACE("s2 payroll lines");
    pb::ListPayrollLinesResponse response;
    ASSERT_THAT(ListPayrollLines(As("s2"), 0, "", &response), GrpcOk());
    ExpectRecords(
        response.lines(),
        {MakeLine(s2_lines[0], "ffp", "w9", "2025-01-20", "2025-01-26",
                  "2025-01-31", "30.00", "450.00", "3.00", "USD")});
  }
  // Parties with nothing recorded get an empty last page.
  for (const auto& [list, party] : std::vector<std::pair<List, std::string>>{
           {List::kPurchases, "b3"},
           {List::kPayments, "b3"},
           {List::kPaymentsReceived, "s3"},
           {List::kPayrollLines, "s3"}}) {
    SCOPED_TRACE(absl::StrCat(ListName(list), " as ", party));
    const Page page = ListPage(list, As(party), 0, "");
    EXPECT_THAT(page.status, GrpcOk());
    EXPECT_THAT(page.seqs, IsEmpty());
    EXPECT_EQ(page.next, "");
  }
  // Listing appends nothing.
  const uint64_t size = ledger_->size();
  ASSERT_EQ(WalkList(List::kPurchases, As("b1"), 1).seqs.size(), 5u);
  EXPECT_EQ(ledger_->size(), size);
}

// ---------------------------------------------------------------------------
// Who may call what.

TEST_F(ListRecordsTest, OnlyTheOwningRoleMayList) {
  OnePurchase("b1", "inv-1", "s1");
  OnePayment("b1", "pay-1", "s1");
  ASSERT_EQ(UploadPayrollOrDie(
                "s1", "ffp,w1,2025-01-13,2025-01-19,2025-01-24,40,600,4,USD\n")
                .size(),
            1u);
  using Code = grpc::StatusCode;
  constexpr Code kOk = Code::OK;
  constexpr Code kUnauthenticated = Code::UNAUTHENTICATED;
  constexpr Code kDenied = Code::PERMISSION_DENIED;
  const std::vector<List> lists = {List::kPurchases, List::kPayments,
                                   List::kPaymentsReceived,
                                   List::kPayrollLines};
  struct Row {
    std::string caller;
    std::string authorization;
    std::vector<Code> codes;  // One per list above.
  };
  const std::vector<Row> rows = {
      {"no metadata", "", std::vector<Code>(4, kUnauthenticated)},
      {"a token without Bearer", tokens_["b1"],
       std::vector<Code>(4, kUnauthenticated)},
      {"another scheme", "Basic YTE6c2VjcmV0",
       std::vector<Code>(4, kUnauthenticated)},
      // Well formed, but no party holds it: the Authenticator's answer.
      {"an unknown token", Bearer("brand_NOTATOKEN"),
       std::vector<Code>(4, kDenied)},
      {"brand b1", As("b1"), {kOk, kOk, kDenied, kDenied}},
      {"supplier s1", As("s1"), {kDenied, kDenied, kOk, kOk}},
      {"admin", Bearer(admin_token_), std::vector<Code>(4, kDenied)},
      {"auditor a1", As("a1"), std::vector<Code>(4, kDenied)},
  };
  for (const Row& row : rows) {
    for (size_t i = 0; i < lists.size(); ++i) {
      SCOPED_TRACE(absl::StrCat(row.caller, " calls ", ListName(lists[i])));
      const Page page = ListPage(lists[i], row.authorization, 0, "");
      EXPECT_THAT(page.status, GrpcIs(row.codes[i]));
      if (page.status.ok()) {
        EXPECT_EQ(page.seqs.size(), 1u);
      } else {
        EXPECT_THAT(page.seqs, IsEmpty());
        EXPECT_EQ(page.next, "");
      }
    }
  }
  // Authorization comes before the request is looked at: a bad page size
  // from the wrong role is still PERMISSION_DENIED.
  pb::ListPurchasesResponse response;
  EXPECT_THAT(ListPurchases(As("s1"), -1, "x", &response),
              GrpcIs(Code::PERMISSION_DENIED));
  EXPECT_THAT(ListPurchases("", -1, "x", &response),
              GrpcIs(Code::UNAUTHENTICATED));
}

// ---------------------------------------------------------------------------
// Pages.

// b1's 7 purchases and 5 payments, one per upload, interleaved in the log
// with records of others; `purchases` and `payments` get their seqs.
class ListPagesTest : public ListRecordsTest {
 protected:
  void LoadInterleaved() {
    // P = b1 purchase, Y = b1 payment, x = someone else's record.
    // P Y P P x Y P x Y P P Y Y P
    purchases_.push_back(OnePurchase("b1", "inv-1", "s1"));
    payments_.push_back(OnePayment("b1", "pay-1", "s1"));
    purchases_.push_back(OnePurchase("b1", "inv-2", "s2"));
    purchases_.push_back(OnePurchase("b1", "inv-3", "s1"));
    OnePurchase("b2", "inv-1", "s1");
    payments_.push_back(OnePayment("b1", "pay-2", "s2"));
    purchases_.push_back(OnePurchase("b1", "inv-4", "s1"));
    ASSERT_EQ(UploadPayrollOrDie(
                  "s1",
                  "ffp,w1,2025-01-13,2025-01-19,2025-01-24,40,600,4,USD\n"
                  "ffp,w2,2025-01-13,2025-01-19,2025-01-24,40,600,4,USD\n"
                  "ffp,w3,2025-01-13,2025-01-19,2025-01-24,40,600,4,USD\n")
                  .size(),
              3u);
    payments_.push_back(OnePayment("b1", "pay-3", "s1"));
    purchases_.push_back(OnePurchase("b1", "inv-5", "s2"));
    purchases_.push_back(OnePurchase("b1", "inv-6", "s1"));
    payments_.push_back(OnePayment("b1", "pay-4", "s1"));
    payments_.push_back(OnePayment("b1", "pay-5", "s2"));
    purchases_.push_back(OnePurchase("b1", "inv-7", "s1"));
    ASSERT_EQ(purchases_.size(), 7u);
    ASSERT_EQ(payments_.size(), 5u);
    ASSERT_TRUE(std::is_sorted(purchases_.begin(), purchases_.end()));
    ASSERT_TRUE(std::is_sorted(payments_.begin(), payments_.end()));
  }

  std::vector<uint64_t> purchases_;
  std::vector<uint64_t> payments_;
};

TEST_F(ListPagesTest, PagesOfTwoWalkEachListOnceInOrder) {
  ASSERT_NO_FATAL_FAILURE(LoadInterleaved());
  for (const auto& [list, want] :
       std::vector<std::pair<List, std::vector<uint64_t>>>{
           {List::kPurchases, purchases_}, {List::kPayments, payments_}}) {
    SCOPED_TRACE(ListName(list));
    const Walk walk = WalkList(list, As("b1"), 2);
    EXPECT_THAT(walk.seqs, ElementsAreArray(want));
    ASSERT_FALSE(walk.tokens.empty());
    EXPECT_EQ(walk.tokens.back(), "");
    // Every page but the last has a token; tokens only move forward.
    uint64_t previous = 0;
    for (size_t i = 0; i + 1 < walk.tokens.size(); ++i) {
      uint64_t token = 0;
      ASSERT_TRUE(absl::SimpleAtoi(walk.tokens[i], &token)) << walk.tokens[i];
      EXPECT_GT(token, previous) << "page " << i;
      previous = token;
    }
    // Size 1 and size 0 (the default, 100) walk the same records.
    EXPECT_THAT(WalkList(list, As("b1"), 1).seqs, ElementsAreArray(want));
    const Page all = ListPage(list, As("b1"), 0, "");
    EXPECT_THAT(all.status, GrpcOk());
    EXPECT_THAT(all.seqs, ElementsAreArray(want));
    EXPECT_EQ(all.next, "");
  }
  // s1's received payments share the key with purchases from s1, and its
  // payroll key holds only its lines.
  std::vector<uint64_t> to_s1;
  for (const size_t i : {0u, 2u, 3u}) to_s1.push_back(payments_[i]);
  EXPECT_THAT(WalkList(List::kPaymentsReceived, As("s1"), 2).seqs,
              ElementsAreArray(to_s1));
  const Walk lines = WalkList(List::kPayrollLines, As("s1"), 2);
  EXPECT_EQ(lines.seqs.size(), 3u);
  EXPECT_THAT(lines.page_records, ElementsAre(2u, 1u));
}

TEST_F(ListPagesTest, ASparsePageMayBeEmptyAndStillHaveAToken) {
  // b3: 20 purchases, then one payment. A page of payments of size 1 looks
  // at no more than 8 entries, so the walk passes pages with no records.
  std::string rows;
  for (int i = 0; i < 20; ++i) {
    absl::StrAppend(&rows, "inv-", i, ",s1,ffp,2025-01-06,100,lb\n");
  }
  const uint64_t first = SubmitOrDie("b3", BrandFile::kPurchases, rows);
  const uint64_t payment = OnePayment("b3", "pay-1", "s1");
  const Page page = ListPage(List::kPayments, As("b3"), 1, "");
  ASSERT_THAT(page.status, GrpcOk());
  EXPECT_THAT(page.seqs, IsEmpty());
  EXPECT_NE(page.next, "");
  const Walk walk = WalkList(List::kPayments, As("b3"), 1);
  EXPECT_THAT(walk.seqs, ElementsAre(payment));
  EXPECT_GE(walk.page_records.size(), 3u);  // 20 purchases / 8 per page.
  // And the purchases, 20 of them, one by one.
  const Walk purchases = WalkList(List::kPurchases, As("b3"), 1);
  ASSERT_EQ(purchases.seqs.size(), 20u);
  EXPECT_EQ(purchases.seqs.front(), first);
  EXPECT_EQ(purchases.seqs.back(), first + 19);
}

TEST_F(ListPagesTest, PageSizeDefaultsTo100AndIsCappedAt1000) {
  // 1,001 purchases of b1 in one file, then one payment.
  std::string rows;
  for (int i = 0; i < 1001; ++i) {
    absl::StrAppend(&rows, "inv-", i, ",s1,ffp,2025-01-06,1,lb\n");
  }
  const uint64_t first = SubmitOrDie("b1", BrandFile::kPurchases, rows);
  OnePayment("b1", "pay-1", "s1");

  const Page by_default = ListPage(List::kPurchases, As("b1"), 0, "");
  ASSERT_THAT(by_default.status, GrpcOk());
  ASSERT_EQ(by_default.seqs.size(), 100u);
  EXPECT_EQ(by_default.seqs.front(), first);
  EXPECT_EQ(by_default.seqs.back(), first + 99);
  EXPECT_NE(by_default.next, "");

  for (const int size : {1001, std::numeric_limits<int32_t>::max()}) {
    SCOPED_TRACE(absl::StrCat("page_size ", size));
    const Page capped = ListPage(List::kPurchases, As("b1"), size, "");
    ASSERT_THAT(capped.status, GrpcOk());
    ASSERT_EQ(capped.seqs.size(), 1000u);
    EXPECT_EQ(capped.seqs.back(), first + 999);
    ASSERT_NE(capped.next, "");
    const Page rest = ListPage(List::kPurchases, As("b1"), size, capped.next);
    ASSERT_THAT(rest.status, GrpcOk());
    EXPECT_THAT(rest.seqs, ElementsAre(first + 1000));
    EXPECT_EQ(rest.next, "");
  }
  const Page exactly = ListPage(List::kPurchases, As("b1"), 1000, "");
  ASSERT_THAT(exactly.status, GrpcOk());
  EXPECT_EQ(exactly.seqs.size(), 1000u);
}

TEST_F(ListPagesTest, BadPageSizesAndTokensAreInvalidArgument) {
  ASSERT_NO_FATAL_FAILURE(LoadInterleaved());
  const std::vector<std::pair<List, std::string>> lists = {
      {List::kPurchases, "b1"},
      {List::kPayments, "b1"},
      {List::kPaymentsReceived, "s1"},
      {List::kPayrollLines, "s1"}};
  for (const auto& [list, party] : lists) {
    for (const int size : {-1, std::numeric_limits<int32_t>::min()}) {
      SCOPED_TRACE(absl::StrCat(ListName(list), " page_size ", size));
      const Page page = ListPage(list, As(party), size, "");
      EXPECT_THAT(page.status, GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                                      HasSubstr("page_size")));
      EXPECT_THAT(page.seqs, IsEmpty());
    }
    for (const std::string token : {"abc", "-1", "1.5", "12abc", "0x10",
                                    "seq:3", "99999999999999999999999"}) {
      SCOPED_TRACE(absl::StrCat(ListName(list), " page_token ", token));
      const Page page = ListPage(list, As(party), 2, token);
      EXPECT_THAT(page.status, GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                                      HasSubstr("page_token")));
      EXPECT_THAT(page.seqs, IsEmpty());
    }
    // A numeric token past the end of the log is not one this server gave;
    // it may be refused, but must not fail otherwise or return records.
    for (const std::string& token :
         {absl::StrCat(ledger_->size() + 100),
          absl::StrCat(std::numeric_limits<uint64_t>::max())}) {
      SCOPED_TRACE(absl::StrCat(ListName(list), " page_token ", token));
      const Page page = ListPage(list, As(party), 2, token);
      if (page.status.ok()) {
        EXPECT_THAT(page.seqs, IsEmpty());
        EXPECT_EQ(page.next, "");
      } else {
        EXPECT_THAT(page.status, GrpcIs(grpc::StatusCode::INVALID_ARGUMENT));
      }
    }
  }
}

TEST_F(ListPagesTest, ATokenStaysGoodAcrossLaterUploads) {
  ASSERT_NO_FATAL_FAILURE(LoadInterleaved());
  // First pages of purchases and of payments, taken now.
  const Page purchases = ListPage(List::kPurchases, As("b1"), 2, "");
  ASSERT_THAT(purchases.status, GrpcOk());
  ASSERT_THAT(purchases.seqs, ElementsAre(purchases_[0], purchases_[1]));
  ASSERT_NE(purchases.next, "");
  const Page payments = ListPage(List::kPayments, As("b1"), 2, "");
  ASSERT_THAT(payments.status, GrpcOk());
  ASSERT_THAT(payments.seqs, ElementsAre(payments_[0], payments_[1]));
  ASSERT_NE(payments.next, "");
  // The end of the purchases, reached: the token of the last full page.
  const Walk to_end = WalkList(List::kPurchases, As("b1"), 7);
  ASSERT_THAT(to_end.seqs, ElementsAreArray(purchases_));
  ASSERT_FALSE(to_end.tokens.empty());
  std::string last_full_page_token;
  for (const std::string& token : to_end.tokens) {
    if (!token.empty()) last_full_page_token = token;
  }
  ASSERT_NE(last_full_page_token, "");

  // More uploads: b1's and others', a file of two purchases among them.
  std::vector<uint64_t> new_purchases;
  std::vector<uint64_t> new_payments;
  OnePurchase("b2", "inv-2", "s1");
  const uint64_t two = SubmitOrDie("b1", BrandFile::kPurchases,
                                   "inv-8,s1,ffp,2025-01-23,5,lb\n"
                                   "inv-9,s2,ffp,2025-01-24,6,lb\n");
  new_purchases = {two, two + 1};
  new_payments.push_back(OnePayment("b1", "pay-6", "s1"));
  new_purchases.push_back(OnePurchase("b1", "inv-10", "s1"));

  std::vector<uint64_t> want_purchases(purchases_.begin() + 2,
                                       purchases_.end());
  want_purchases.insert(want_purchases.end(), new_purchases.begin(),
                        new_purchases.end());
  std::vector<uint64_t> want_payments(payments_.begin() + 2, payments_.end());
  want_payments.insert(want_payments.end(), new_payments.begin(),
                       new_payments.end());
  EXPECT_THAT(WalkList(List::kPurchases, As("b1"), 2, purchases.next).seqs,
              ElementsAreArray(want_purchases));
  EXPECT_THAT(WalkList(List::kPayments, As("b1"), 2, payments.next).seqs,
              ElementsAreArray(want_payments));
  // From where the earlier walk ended: exactly the new purchases.
  EXPECT_THAT(
      WalkList(List::kPurchases, As("b1"), 2, last_full_page_token).seqs,
      ElementsAreArray(new_purchases));
}

// ---------------------------------------------------------------------------
// The binaries.

std::vector<std::string> Keys(const nlohmann::ordered_json& object) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : object.items()) keys.push_back(key);
  return keys;
}

std::vector<std::string> Words(const std::string& line) {
  return absl::StrSplit(line, ' ', absl::SkipEmpty());
}

class ListCliTest : public PremiumdCliTest {
 protected:
  void TearDown() override {
    if (premiumd_ != nullptr) {
      premiumd_->Signal(SIGTERM);
      premiumd_->WaitForExit(absl::Seconds(20));
    }
  }

  // Runs a list command in json, csv and table output and checks the three
  // agree; `want` are the records' fields after the seq, in `columns`
  // order. Returns the seqs.
  std::vector<uint64_t> ExpectListing(
      const std::string& party, const std::vector<std::string>& command,
      const std::string& json_key, const std::vector<std::string>& columns,
      const std::vector<std::vector<std::string>>& want) {
    SCOPED_TRACE(absl::StrCat(party, ": ", absl::StrJoin(command, " ")));
    std::vector<std::string> args = {"--output", "json"};
    args.insert(args.end(), command.begin(), command.end());
    const std::string json_text = CtlOrDie(token(party), args);
    const nlohmann::ordered_json document = nlohmann::ordered_json::parse(
        json_text, nullptr, /*allow_exceptions=*/false);
    std::vector<uint64_t> seqs;
    EXPECT_FALSE(document.is_discarded()) << json_text;
    if (document.is_discarded()) return seqs;
    EXPECT_TRUE(document.is_object()) << json_text;
    EXPECT_THAT(Keys(document), ElementsAre(json_key)) << json_text;
    const nlohmann::ordered_json& list = document[json_key];
    EXPECT_TRUE(list.is_array()) << json_text;
    EXPECT_EQ(list.size(), want.size()) << json_text;
    if (!list.is_array() || list.size() != want.size()) return seqs;
    for (size_t i = 0; i < want.size(); ++i) {
      const nlohmann::ordered_json& record = list[i];
      EXPECT_THAT(Keys(record), ElementsAreArray(columns)) << record;
      EXPECT_TRUE(record["seq"].is_number_unsigned()) << record;
      if (!record["seq"].is_number_unsigned()) return seqs;
      seqs.push_back(record["seq"].get<uint64_t>());
      for (size_t c = 1; c < columns.size(); ++c) {
        EXPECT_TRUE(record[columns[c]].is_string()) << columns[c];
        EXPECT_EQ(record[columns[c]], want[i][c - 1]) << columns[c];
      }
    }
    EXPECT_TRUE(std::is_sorted(seqs.begin(), seqs.end()));

    // CSV: the header row, then one row per record.
    args[1] = "csv";
    const std::vector<std::string> csv = Lines(CtlOrDie(token(party), args));
    EXPECT_EQ(csv.size(), want.size() + 1);
    if (csv.empty()) return seqs;
    EXPECT_EQ(csv[0], absl::StrJoin(columns, ","));
    for (size_t i = 0; i < want.size() && i + 1 < csv.size(); ++i) {
      EXPECT_EQ(csv[i + 1],
                absl::StrCat(seqs[i], ",", absl::StrJoin(want[i], ",")));
    }

    // Table: a header of the column names in capitals, a row per record,
    // then the count.
    const std::vector<std::string> table =
        Lines(CtlOrDie(token(party), command));
    if (want.empty()) {
      EXPECT_THAT(table, ElementsAre("0 records"));
      return seqs;
    }
    EXPECT_EQ(table.size(), want.size() + 2);
    if (table.size() != want.size() + 2) return seqs;
    std::vector<std::string> header;
    for (const std::string& column : columns) {
      header.push_back(absl::AsciiStrToUpper(column));
    }
    EXPECT_THAT(Words(table[0]), ElementsAreArray(header));
    for (size_t i = 0; i < want.size(); ++i) {
      std::vector<std::string> row = {absl::StrCat(seqs[i])};
      row.insert(row.end(), want[i].begin(), want[i].end());
      EXPECT_THAT(Words(table[i + 1]), ElementsAreArray(row));
    }
    EXPECT_EQ(table.back(), absl::StrCat(want.size(), " records"));
    return seqs;
  }
};

TEST_F(ListCliTest, EachPartyListsItsOwnRecordsInEveryFormat) {
  ASSERT_NO_FATAL_FAILURE(StartPremiumd());
  CtlOrDie(admin_token(),
           {"program", "add", "--id", "ffp", "--name", "Fair Food Program",
            "--currency", "USD", "--unit", "lb", "--worker-rate", "0.01",
            "--effective", "2025-01-01"});
  CtlOrDie(admin_token(),
           {"program", "add", "--id", "bk", "--name", "Burger King variant",
            "--currency", "USD", "--unit", "lb", "--worker-rate", "0.01",
            "--supplier-rate", "0.005", "--effective", "2025-01-01"});
  for (const auto& [role, id] :
       std::vector<std::pair<std::string, std::string>>{{"brand", "b1"},
                                                        {"brand", "b2"},
                                                        {"supplier", "s1"},
                                                        {"supplier", "s2"}}) {
    CtlOrDie(admin_token(),
             {"party", "add", "--role", role, "--id", id, "--name",
              absl::StrCat("Party ", id), "--token-out", token(id)});
  }
  const auto submit = [&](const std::string& party,
                          const std::vector<std::string>& command,
                          const std::string& name, const std::string& text) {
    const std::string file = dir_.Sub(name);
    WriteFileOrDie(file, text);
    std::vector<std::string> args = command;
    args.push_back(file);
    CtlOrDie(token(party), args);
  };
  // 28000 × 0.015 = 420.00 (workers 280.00); 18500.5 × 0.01 = 185.005.
  submit("b1", {"purchases", "submit"}, "b1-purchases.csv",
         absl::StrCat(kPurchasesHeader,
                      "inv-1,s1,bk,2025-01-06,28000,lb\n"
                      "inv-2,s2,ffp,2025-01-07,18500.5,lb\n"));
  // 300 × 0.01 = 3.00.
  submit("b2", {"purchases", "submit"}, "b2-purchases.csv",
         absl::StrCat(kPurchasesHeader, "inv-1,s1,ffp,2025-01-10,300,lb\n"));
  submit("b1", {"payments", "submit"}, "b1-payments.csv",
         absl::StrCat(kPaymentsHeader,
                      "pay-1,s1,bk,2025-01-17,420.00,USD\n"
                      "pay-2,s2,ffp,2025-01-20,185.01,USD\n"));
  submit("b2", {"payments", "submit"}, "b2-payments.csv",
         absl::StrCat(kPaymentsHeader, "pay-1,s1,ffp,2025-01-15,3,USD\n"));
  submit("s1", {"payroll", "upload"}, "s1-payroll.csv",
         absl::StrCat(
             kPayrollHeader,
             "ffp,w1,2025-01-13,2025-01-19,2025-01-24,40,600.00,4.00,USD\n"
             "ffp,w2,2025-01-13,2025-01-19,2025-01-24,37.5,562.5,3.75,USD\n"));

  const std::vector<std::string> purchase_columns = {
      "seq",        "invoice_id",    "supplier_id",
      "program_id", "purchase_date", "quantity",
      "unit",       "premium",       "worker_premium",
      "currency"};
  const std::vector<std::string> payment_columns = {
      "seq",        "payment_id", "brand_id", "supplier_id",
      "program_id", "paid_date",  "amount",   "currency"};
  const std::vector<std::string> line_columns = {
      "seq",      "program_id", "worker_id",   "period_start",   "period_end",
      "pay_date", "hours",      "gross_wages", "premium_amount", "currency"};
  ExpectListing("b1", {"purchases", "list"}, "purchases", purchase_columns,
                {{"inv-1", "s1", "bk", "2025-01-06", "28000", "lb", "420.00",
                  "280.00", "USD"},
                 {"inv-2", "s2", "ffp", "2025-01-07", "18500.5", "lb",
                  "185.005", "185.005", "USD"}});
  ExpectListing("b2", {"purchases", "list"}, "purchases", purchase_columns,
                {{"inv-1", "s1", "ffp", "2025-01-10", "300", "lb", "3.00",
                  "3.00", "USD"}});
  const std::vector<uint64_t> b1_payments = ExpectListing(
      "b1", {"payments", "list"}, "payments", payment_columns,
      {{"pay-1", "b1", "s1", "bk", "2025-01-17", "420.00", "USD"},
       {"pay-2", "b1", "s2", "ffp", "2025-01-20", "185.01", "USD"}});
  const std::vector<uint64_t> b2_payments = ExpectListing(
      "b2", {"payments", "list"}, "payments", payment_columns,
      {{"pay-1", "b2", "s1", "ffp", "2025-01-15", "3.00", "USD"}});
  // s1 received b1's pay-1 and b2's pay-1 (b1's was uploaded first).
  const std::vector<uint64_t> received = ExpectListing(
      "s1", {"payments", "received"}, "payments", payment_columns,
      {{"pay-1", "b1", "s1", "bk", "2025-01-17", "420.00", "USD"},
       {"pay-1", "b2", "s1", "ffp", "2025-01-15", "3.00", "USD"}});
  ASSERT_EQ(b1_payments.size(), 2u);
  ASSERT_EQ(b2_payments.size(), 1u);
  EXPECT_THAT(received, ElementsAre(b1_payments[0], b2_payments[0]));
  ExpectListing("s1", {"payroll", "list"}, "lines", line_columns,
                {{"ffp", "w1", "2025-01-13", "2025-01-19", "2025-01-24",
                  "40.00", "600.00", "4.00", "USD"},
                 {"ffp", "w2", "2025-01-13", "2025-01-19", "2025-01-24",
                  "37.50", "562.50", "3.75", "USD"}});
  // s2 has no payroll: an empty listing in each format.
  ExpectListing("s2", {"payroll", "list"}, "lines", line_columns, {});

  // The wrong role: non-zero, one line naming PERMISSION_DENIED (what a
  // failed json or csv listing leaves on standard output is the next
  // test's).
  for (const auto& [party, command] :
       std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"b1", {"payroll", "list"}},
           {"b1", {"payments", "received"}},
           {"s1", {"purchases", "list"}},
           {"s1", {"payments", "list"}}}) {
    for (const std::string output : {"table", "json", "csv"}) {
      SCOPED_TRACE(absl::StrCat(party, ": --output ", output, " ",
                                absl::StrJoin(command, " ")));
      std::vector<std::string> args = {"--output", output};
      args.insert(args.end(), command.begin(), command.end());
      const CommandResult result = Ctl(token(party), args);
      EXPECT_NE(result.exit_code, 0);
      EXPECT_THAT(result.err, HasSubstr("PERMISSION_DENIED"));
      ExpectOneLine(result.err);
      if (output == "table") {
        EXPECT_EQ(result.out, "");
      }
    }
  }
  // And without a token.
  const CommandResult anonymous = Ctl("", {"purchases", "list"});
  EXPECT_NE(anonymous.exit_code, 0);
  EXPECT_THAT(anonymous.err, HasSubstr("UNAUTHENTICATED"));
  ExpectOneLine(anonymous.err);

  ASSERT_NO_FATAL_FAILURE(StopPremiumdAndVerify());
}

// DESIGN section 8: a failed command prints one line on standard error and
// no output; a json listing that fails must not leave the start of a JSON
// document (nor a csv listing its header row) on standard output, where a
// pipeline would read it as the answer.
TEST_F(ListCliTest, AFailedListingWritesNothingToStandardOutput) {
  ASSERT_NO_FATAL_FAILURE(StartPremiumd());
  for (const auto& [role, id] :
       std::vector<std::pair<std::string, std::string>>{{"brand", "b1"},
                                                        {"supplier", "s1"}}) {
    CtlOrDie(admin_token(),
             {"party", "add", "--role", role, "--id", id, "--name",
              absl::StrCat("Party ", id), "--token-out", token(id)});
  }
  for (const auto& [party, command] :
       std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"b1", {"payroll", "list"}}, {"s1", {"purchases", "list"}}}) {
    for (const std::string output : {"json", "csv"}) {
      SCOPED_TRACE(absl::StrCat(party, ": --output ", output, " ",
                                absl::StrJoin(command, " ")));
      std::vector<std::string> args = {"--output", output};
      args.insert(args.end(), command.begin(), command.end());
      const CommandResult result = Ctl(token(party), args);
      EXPECT_NE(result.exit_code, 0);
      EXPECT_THAT(result.err, HasSubstr("PERMISSION_DENIED"));
      EXPECT_EQ(result.out, "");
    }
  }
}

}  // namespace
}  // namespace premium
