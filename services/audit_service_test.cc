// Tests of AuditService through a real gRPC server on 127.0.0.1:0, wired as
// premiumd wires it (a Ledger with the PremiumIndexer in a temporary
// directory, the in-process LedgerClient, the Authenticator, the server
// secret and the other role services, with the admin registered the way
// premiumd's BootstrapAdmin does). The season is set up through the
// services, as the parties would: AdminService registers, BrandService and
// SupplierService take the uploads, WorkerService the dispute. The last test
// drives the premiumd and premiumctl binaries as an auditor would.
//
// The season most tests start from (LoadSeason). Program ffp: USD per lb,
// worker_rate 0.01 and supplier_rate 0 (so a payment's worker portion is all
// of it), payment terms and distribution deadline 14 days, tolerance 1.00,
// allocation by hours, from 2025-01-01.
//   brand b1   inv-1 s1 2025-01-06 1000 lb   -> 10.00 owed, due 01-20
//              inv-2 s1 2025-01-13 2000.5 lb -> 20.005 owed, due 01-27
//              inv-3 s2 2025-01-08 500 lb    -> 5.00 owed, due 01-22
//              pay-1 s1 2025-01-17 10.00  (on paychecks by 01-31)
//              pay-2 s2 2025-01-20 5.00   (on paychecks by 02-03)
//   brand b2   inv-1 s1 2025-01-10 300 lb    -> 3.00 owed, due 01-24
//              pay-1 s1 2025-01-15 3.00   (on paychecks by 01-29)
//   supplier s1, period 01-13..01-19 paid 01-24: w1 40 h 4.00, w2 40 h 4.00,
//              w1 again 10 h 1.00; period 01-20..01-26 paid 01-31:
//              w1 40 h 4.00
//   supplier s2, period 01-20..01-26 paid 01-31: w9 30 h 3.00
//   worker w2 at s1 disputes their 4.00 line: the paystub shows 3.00.
// Every entry is appended at 2025-02-10 12:00 UTC (the ledger's fake clock),
// so the dispute counts from that day; the audit service's today, the
// default as-of date, is 2025-02-28.
//
// Every expected amount is computed by hand in a comment beside it.
#include "services/audit_service.h"

#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

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
#include "ledger/premium/seq_runs.h"
#include "ledger/testing/child_process.h"
#include "ledger/testing/ledger_testing.h"
#include "nlohmann/json.hpp"
#include "services/admin_service.h"
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
using ::premium::testing::ReadFileOrDie;
using ::premium::testing::WriteFileOrDie;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

// The audit service's (and the other services') today.
const absl::CivilDay kToday(2025, 2, 28);
// When every entry is appended: a dispute counts from 2025-02-10.
const absl::Time kAppendTime = absl::FromCivil(
    absl::CivilSecond(2025, 2, 10, 12, 0, 0), absl::UTCTimeZone());

constexpr char kPurchasesHeader[] =
    "invoice_id,supplier_id,program_id,purchase_date,quantity,unit\n";
constexpr char kPaymentsHeader[] =
    "payment_id,supplier_id,program_id,paid_date,amount,currency\n";
constexpr char kPayrollHeader[] =
    "program_id,worker_id,period_start,period_end,pay_date,hours,gross_wages,"
    "premium_amount,currency\n";

// 1000 × 0.01 = 10.00; 2000.5 × 0.01 = 20.005; 500 × 0.01 = 5.00.
constexpr char kB1Purchases[] =
    "inv-1,s1,ffp,2025-01-06,1000,lb\n"
    "inv-2,s1,ffp,2025-01-13,2000.5,lb\n"
    "inv-3,s2,ffp,2025-01-08,500,lb\n";
constexpr char kB1Payments[] =
    "pay-1,s1,ffp,2025-01-17,10.00,USD\n"
    "pay-2,s2,ffp,2025-01-20,5.00,USD\n";
// 300 × 0.01 = 3.00, paid in full before it was due.
constexpr char kB2Purchases[] = "inv-1,s1,ffp,2025-01-10,300,lb\n";
constexpr char kB2Payments[] = "pay-1,s1,ffp,2025-01-15,3.00,USD\n";
// Every line pays 0.10 an hour: no allocation skew.
constexpr char kS1Payroll[] =
    "ffp,w1,2025-01-13,2025-01-19,2025-01-24,40,600.00,4.00,USD\n"
    "ffp,w2,2025-01-13,2025-01-19,2025-01-24,40,600.00,4.00,USD\n"
    "ffp,w1,2025-01-13,2025-01-19,2025-01-24,10,150.00,1.00,USD\n"
    "ffp,w1,2025-01-20,2025-01-26,2025-01-31,40,600.00,4.00,USD\n";
constexpr char kS2Payroll[] =
    "ffp,w9,2025-01-20,2025-01-26,2025-01-31,30,450.00,3.00,USD\n";

constexpr char kUnderpaidId[] = "brand_underpaid:ffp:b1:s1";
constexpr char kUndistributedId[] = "undistributed_premium:ffp:s2";
constexpr char kDuplicateId[] =
    "duplicate_payroll_line:ffp:s1:w1:2025-01-13:2025-01-19";
constexpr char kDisputeId[] = "worker_dispute:ffp:s1:w2:2025-01-13:2025-01-19";

std::vector<uint64_t> Sorted(std::vector<uint64_t> seqs) {
  std::sort(seqs.begin(), seqs.end());
  return seqs;
}

// An expected discrepancy of program ffp (USD); what does not apply is empty.
struct Want {
  std::string id;
  pb::DiscrepancyType type = pb::DISCREPANCY_TYPE_UNSPECIFIED;
  pb::Severity severity = pb::SEVERITY_UNSPECIFIED;
  std::string brand_id;
  std::string supplier_id;
  std::string worker_id;
  std::string period_start;
  std::string period_end;
  std::string invoice_id;
  std::string expected;
  std::string actual;
  std::string difference;
  std::vector<uint64_t> evidence;
  pb::DiscrepancyStatus status = pb::OPEN;
  uint64_t resolution_seq = 0;
};

// As the service sends evidence: runs of consecutive seqs.
void SetEvidence(std::vector<uint64_t> seqs, pb::Discrepancy* d) {
  d->clear_evidence();
  const SeqRuns runs = SeqRuns::FromSeqs(std::move(seqs));
  for (const SeqRuns::Run& run : runs.runs()) {
    pb::SeqRun* out = d->add_evidence();
    out->set_first_seq(run.first_seq);
    out->set_count(run.count);
  }
}

std::vector<uint64_t> EvidenceSeqs(const pb::Discrepancy& d) {
  std::vector<uint64_t> seqs;
  for (const pb::SeqRun& run : d.evidence()) {
    for (uint64_t i = 0; i < run.count(); ++i) {
      seqs.push_back(run.first_seq() + i);
    }
  }
  return seqs;
}

void AddEvidence(uint64_t seq, pb::Discrepancy* d) {
  std::vector<uint64_t> seqs = EvidenceSeqs(*d);
  seqs.push_back(seq);
  SetEvidence(std::move(seqs), d);
}

pb::Discrepancy Make(const Want& want) {
  pb::Discrepancy d;
  d.set_id(want.id);
  d.set_type(want.type);
  d.set_severity(want.severity);
  d.set_program_id("ffp");
  d.set_brand_id(want.brand_id);
  d.set_supplier_id(want.supplier_id);
  d.set_worker_id(want.worker_id);
  d.set_period_start(want.period_start);
  d.set_period_end(want.period_end);
  d.set_invoice_id(want.invoice_id);
  d.set_expected(want.expected);
  d.set_actual(want.actual);
  d.set_difference(want.difference);
  d.set_currency("USD");
  d.set_status(want.status);
  SetEvidence(want.evidence, &d);
  d.set_resolution_seq(want.resolution_seq);
  return d;
}

void ExpectDiscrepancies(
    const google::protobuf::RepeatedPtrField<pb::Discrepancy>& got,
    const std::vector<pb::Discrepancy>& want) {
  std::vector<std::string> got_ids;
  for (const pb::Discrepancy& d : got) got_ids.push_back(d.id());
  std::vector<std::string> want_ids;
  for (const pb::Discrepancy& d : want) want_ids.push_back(d.id());
  EXPECT_THAT(got_ids, ElementsAreArray(want_ids));
  for (size_t i = 0; i < want.size() && i < static_cast<size_t>(got.size());
       ++i) {
    SCOPED_TRACE(want[i].id());
    EXPECT_THAT(got[static_cast<int>(i)], EqualsProto(want[i]));
  }
}

std::vector<std::string> Ids(const pb::ReconcileResponse& response) {
  std::vector<std::string> ids;
  for (const pb::Discrepancy& d : response.discrepancies()) {
    ids.push_back(d.id());
  }
  return ids;
}

pb::ReconcileRequest ReconcileAsOf(absl::string_view as_of) {
  pb::ReconcileRequest request;
  request.set_as_of(std::string(as_of));
  return request;
}

// The seqs of the season's entries, from the receipts.
struct Season {
  uint64_t b1_inv1 = 0;
  uint64_t b1_inv2 = 0;
  uint64_t b1_inv3 = 0;
  uint64_t b1_pay1 = 0;
  uint64_t b1_pay2 = 0;
  uint64_t b2_inv1 = 0;
  uint64_t b2_pay1 = 0;
  // In file order: w1, w2, w1 (again) of 01-13..01-19; w1 of 01-20..01-26.
  std::vector<uint64_t> s1_lines;
  std::vector<std::string> s1_codes;
  uint64_t s2_line = 0;
  uint64_t dispute = 0;
};

enum class BrandFile { kPurchases, kPayments };

class AuditServiceTest : public testing::PremiumServicesTest {
 protected:
  AuditServiceTest() : PremiumServicesTest(kToday, kAppendTime) {}

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(PremiumServicesTest::SetUp());
    ASSERT_NO_FATAL_FAILURE(SetUpProgramAndParties());
  }

  std::string Auditor() { return Bearer(tokens_["a1"]); }

  // Program ffp; brands b1 and b2, suppliers s1 and s2, auditor a1.
  void SetUpProgramAndParties() {
    pb::AddProgramVersionRequest request;
    request.set_request_id("program-ffp");
    pb::ProgramVersionSpec& spec = *request.mutable_version();
    spec.set_program_id("ffp");
    spec.set_name("Fair Food Program");
    spec.set_currency("USD");
    spec.set_unit("lb");
    spec.set_worker_rate("0.01");
    spec.set_effective_date("2025-01-01");
    pb::Program program;
    ASSERT_THAT(admin_stub_->AddProgramVersion(
                    Context(Bearer(admin_token_)).get(), request, &program),
                GrpcOk());
    tokens_["b1"] = RegisterOrDie(pb::BRAND, "b1");
    tokens_["b2"] = RegisterOrDie(pb::BRAND, "b2");
    tokens_["s1"] = RegisterOrDie(pb::SUPPLIER, "s1");
    tokens_["s2"] = RegisterOrDie(pb::SUPPLIER, "s2");
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
    auto context = Context(Bearer(tokens_[brand]));
    std::unique_ptr<grpc::ClientWriter<pb::UploadChunk>> writer =
        kind == BrandFile::kPurchases
            ? brand_stub_->SubmitPurchases(context.get(), &receipt)
            : brand_stub_->SubmitPayments(context.get(), &receipt);
    EXPECT_THAT(testing::StreamUpload(writer.get(), file), GrpcOk()) << file;
    EXPECT_FALSE(receipt.replayed());
    return receipt.ledger().first_seq();
  }

  // Uploads a supplier's payroll (rows after the header).
  pb::UploadPayrollResponse UploadPayrollOrDie(const std::string& supplier,
                                               absl::string_view rows) {
    pb::UploadPayrollResponse response;
    auto context = Context(Bearer(tokens_[supplier]));
    std::unique_ptr<grpc::ClientWriter<pb::UploadChunk>> writer =
        supplier_stub_->UploadPayroll(context.get(), &response);
    EXPECT_THAT(
        testing::StreamUpload(writer.get(), absl::StrCat(kPayrollHeader, rows)),
        GrpcOk());
    return response;
  }

  // A worker's dispute, made with nothing but the paystub code.
  uint64_t DisputeOrDie(const std::string& code, const std::string& amount,
                        const std::string& note) {
    return testing::DisputeOrDie(*worker_stub_, code, amount, note);
  }

  void LoadSeason() {
    season_.b1_inv1 = SubmitOrDie("b1", BrandFile::kPurchases, kB1Purchases);
    season_.b1_inv2 = season_.b1_inv1 + 1;
    season_.b1_inv3 = season_.b1_inv1 + 2;
    season_.b1_pay1 = SubmitOrDie("b1", BrandFile::kPayments, kB1Payments);
    season_.b1_pay2 = season_.b1_pay1 + 1;
    season_.b2_inv1 = SubmitOrDie("b2", BrandFile::kPurchases, kB2Purchases);
    season_.b2_pay1 = SubmitOrDie("b2", BrandFile::kPayments, kB2Payments);
    const pb::UploadPayrollResponse s1 = UploadPayrollOrDie("s1", kS1Payroll);
    ASSERT_EQ(s1.codes_size(), 4);
    for (const pb::PaystubCode& code : s1.codes()) {
      season_.s1_lines.push_back(code.seq());
      season_.s1_codes.push_back(code.code());
    }
    ASSERT_EQ(s1.codes(1).worker_id(), "w2");
    const pb::UploadPayrollResponse s2 = UploadPayrollOrDie("s2", kS2Payroll);
    ASSERT_EQ(s2.codes_size(), 1);
    season_.s2_line = s2.codes(0).seq();
    season_.dispute =
        DisputeOrDie(season_.s1_codes[1], "3.00", "my paystub shows 3.00");
    ASSERT_EQ(season_.dispute + 1, ledger_->size());
  }

  // The season's discrepancies as of 2025-02-28, in (program, type, id)
  // order.
  pb::Discrepancy Underpaid() const {
    // Shortfall(t) = Owed(t - 14) - Paid(t): 01-17 paid 10.00 -> -10;
    // 01-20 inv-1 due -> 0; 01-27 inv-2 due -> 30.005 - 10 = 20.005 > 1.00,
    // the run that begins 01-27 and still runs. The difference 20.005
    // rounds half-even to 20.00.
    return Make(
        {.id = kUnderpaidId,
         .type = pb::BRAND_UNDERPAID,
         .severity = pb::HIGH,
         .brand_id = "b1",
         .supplier_id = "s1",
         .period_start = "2025-01-27",
         .expected = "30.005",
         .actual = "10.00",
         .difference = "20.00",
         .evidence = {season_.b1_inv1, season_.b1_inv2, season_.b1_pay1}});
  }
  pb::Discrepancy Undistributed() const {
    // Gap(t) = Received(t - 14) - Distributed(t): 01-31 w9's 3.00 on
    // paychecks -> -3; 02-03 pay-2's 5.00 due -> 2.00 > 1.00 from 02-03.
    return Make({.id = kUndistributedId,
                 .type = pb::UNDISTRIBUTED_PREMIUM,
                 .severity = pb::HIGH,
                 .supplier_id = "s2",
                 .period_start = "2025-02-03",
                 .expected = "5.00",
                 .actual = "3.00",
                 .difference = "2.00",
                 .evidence = {season_.b1_pay2, season_.s2_line}});
  }
  pb::Discrepancy Duplicate() const {
    // w1's first line 4.00; both lines 4.00 + 1.00 = 5.00.
    return Make({.id = kDuplicateId,
                 .type = pb::DUPLICATE_PAYROLL_LINE,
                 .severity = pb::HIGH,
                 .supplier_id = "s1",
                 .worker_id = "w1",
                 .period_start = "2025-01-13",
                 .period_end = "2025-01-19",
                 .expected = "4.00",
                 .actual = "5.00",
                 .difference = "1.00",
                 .evidence = {season_.s1_lines[0], season_.s1_lines[2]}});
  }
  pb::Discrepancy Dispute() const {
    // Recorded 4.00, the paystub shows 3.00.
    return Make({.id = kDisputeId,
                 .type = pb::WORKER_DISPUTE,
                 .severity = pb::HIGH,
                 .supplier_id = "s1",
                 .worker_id = "w2",
                 .period_start = "2025-01-13",
                 .period_end = "2025-01-19",
                 .expected = "4.00",
                 .actual = "3.00",
                 .difference = "1.00",
                 .evidence = {season_.s1_lines[1], season_.dispute}});
  }

  grpc::Status Reconcile(const pb::ReconcileRequest& request,
                         pb::ReconcileResponse* response,
                         const std::string& authorization) {
    return audit_stub_->Reconcile(Context(authorization).get(), request,
                                  response);
  }
  pb::ReconcileResponse ReconcileOrDie(const pb::ReconcileRequest& request) {
    pb::ReconcileResponse response;
    EXPECT_THAT(Reconcile(request, &response, Auditor()), GrpcOk())
        << request.ShortDebugString();
    EXPECT_THAT(response.next_page_token(), IsEmpty());
    return response;
  }

  grpc::Status Summarize(const pb::SummarizeRequest& request,
                         pb::SummarizeResponse* response,
                         const std::string& authorization) {
    return audit_stub_->Summarize(Context(authorization).get(), request,
                                  response);
  }

  grpc::Status Resolve(const std::string& request_id, const std::string& id,
                       const std::string& note, const std::string& as_of,
                       pb::ResolveDiscrepancyResponse* response,
                       const std::string& authorization) {
    pb::ResolveDiscrepancyRequest request;
    request.set_request_id(request_id);
    request.set_discrepancy_id(id);
    request.set_note(note);
    request.set_as_of(as_of);
    return audit_stub_->ResolveDiscrepancy(Context(authorization).get(),
                                           request, response);
  }
  grpc::Status Resolve(const std::string& request_id, const std::string& id,
                       const std::string& note,
                       pb::ResolveDiscrepancyResponse* response) {
    return Resolve(request_id, id, note, "", response, Auditor());
  }

  grpc::Status Suspend(const std::string& request_id,
                       const std::string& program_id,
                       const std::string& supplier_id, const std::string& from,
                       const std::string& to, const std::string& reason,
                       pb::StandingChange* response,
                       const std::string& authorization) {
    pb::SuspendSupplierRequest request;
    request.set_request_id(request_id);
    request.set_program_id(program_id);
    request.set_supplier_id(supplier_id);
    request.set_from_date(from);
    request.set_to_date(to);
    request.set_reason(reason);
    return audit_stub_->SuspendSupplier(Context(authorization).get(), request,
                                        response);
  }
  grpc::Status Suspend(const std::string& request_id,
                       const std::string& supplier_id, const std::string& from,
                       const std::string& to,
                       pb::StandingChange* response = nullptr) {
    pb::StandingChange ignored;
    return Suspend(request_id, "ffp", supplier_id, from, to,
                   "failed the audit of January",
                   response ? response : &ignored, Auditor());
  }

  grpc::Status Reinstate(const std::string& request_id,
                         const std::string& program_id,
                         const std::string& supplier_id,
                         const std::string& effective,
                         const std::string& reason,
                         pb::StandingChange* response,
                         const std::string& authorization) {
    pb::ReinstateSupplierRequest request;
    request.set_request_id(request_id);
    request.set_program_id(program_id);
    request.set_supplier_id(supplier_id);
    request.set_effective_date(effective);
    request.set_reason(reason);
    return audit_stub_->ReinstateSupplier(Context(authorization).get(), request,
                                          response);
  }
  grpc::Status Reinstate(const std::string& request_id,
                         const std::string& supplier_id,
                         const std::string& effective,
                         pb::StandingChange* response = nullptr) {
    pb::StandingChange ignored;
    return Reinstate(request_id, "ffp", supplier_id, effective,
                     "corrective plan accepted", response ? response : &ignored,
                     Auditor());
  }

  pb::SupplierStanding StandingOrDie(const std::string& supplier_id,
                                     const std::string& as_of) {
    pb::GetSupplierStandingRequest request;
    request.set_program_id("ffp");
    request.set_supplier_id(supplier_id);
    request.set_as_of(as_of);
    pb::SupplierStanding standing;
    EXPECT_THAT(brand_stub_->GetSupplierStanding(
                    Context(Bearer(tokens_["b1"])).get(), request, &standing),
                GrpcOk());
    return standing;
  }

  Season season_;
};

// ---------------------------------------------------------------------------
// Who may call what.

TEST_F(AuditServiceTest, EachCallerGetsTheAnswerItsRoleAllows) {
  ASSERT_NO_FATAL_FAILURE(LoadSeason());
  using Code = grpc::StatusCode;
  constexpr Code kOk = Code::OK;
  constexpr Code kUnauthenticated = Code::UNAUTHENTICATED;
  constexpr Code kDenied = Code::PERMISSION_DENIED;
  // Each call is one an auditor may make and that succeeds, made in this
  // order: resolve a flagged discrepancy, suspend s2 from 03-01 until
  // reinstated, reinstate it from 03-10.
  const std::vector<
      std::pair<const char*, std::function<grpc::Status(const std::string&)>>>
      calls = {
          {"Reconcile",
           [&](const std::string& auth) {
             pb::ReconcileResponse response;
             return Reconcile(pb::ReconcileRequest(), &response, auth);
           }},
          {"Summarize",
           [&](const std::string& auth) {
             pb::SummarizeResponse response;
             return Summarize(pb::SummarizeRequest(), &response, auth);
           }},
          {"ResolveDiscrepancy",
           [&](const std::string& auth) {
             pb::ResolveDiscrepancyResponse response;
             return Resolve("auth-resolve", kDuplicateId, "checked", "",
                            &response, auth);
           }},
          {"SuspendSupplier",
           [&](const std::string& auth) {
             pb::StandingChange response;
             return Suspend("auth-suspend", "ffp", "s2", "2025-03-01", "",
                            "no payroll records", &response, auth);
           }},
          {"ReinstateSupplier",
           [&](const std::string& auth) {
             pb::StandingChange response;
             return Reinstate("auth-reinstate", "ffp", "s2", "2025-03-10",
                              "records supplied", &response, auth);
           }},
      };
  struct Row {
    std::string caller;
    std::string authorization;
    std::vector<Code> codes;  // One per call above.
  };
  const std::vector<Row> rows = {
      {"no metadata", "", std::vector<Code>(5, kUnauthenticated)},
      {"a token without Bearer", tokens_["a1"],
       std::vector<Code>(5, kUnauthenticated)},
      {"another scheme", "Basic YTE6c2VjcmV0",
       std::vector<Code>(5, kUnauthenticated)},
      // Well formed, but no party holds it.
      {"an unknown token", Bearer("auditor_NOTATOKEN"),
       std::vector<Code>(5, kDenied)},
      {"brand b1", Bearer(tokens_["b1"]), std::vector<Code>(5, kDenied)},
      {"supplier s1", Bearer(tokens_["s1"]), std::vector<Code>(5, kDenied)},
      {"admin", Bearer(admin_token_), {kOk, kOk, kDenied, kDenied, kDenied}},
      {"auditor a1", Auditor(), std::vector<Code>(5, kOk)},
  };
  for (const Row& row : rows) {
    const uint64_t size_before = ledger_->size();
    uint64_t appends = 0;
    for (size_t i = 0; i < calls.size(); ++i) {
      SCOPED_TRACE(absl::StrCat(row.caller, " calls ", calls[i].first));
      const grpc::Status status = calls[i].second(row.authorization);
      EXPECT_THAT(status, GrpcIs(row.codes[i]));
      // The three calls that write append one entry each when allowed.
      if (i >= 2 && status.ok()) ++appends;
    }
    EXPECT_EQ(ledger_->size(), size_before + appends) << row.caller;
  }
  // The auditor's three writes are in the ledger, under its name.
  PL_ASSERT_OK_AND_ASSIGN(const StoredEntry last,
                          ledger_->ReadEntry(ledger_->size() - 1));
  EXPECT_EQ(last.entry.kind(), kReinstatementKind);
  EXPECT_EQ(last.entry.actor(), "auditor:a1");
  EXPECT_EQ(last.entry.idempotency_key(), "auth-reinstate");
}

// ---------------------------------------------------------------------------
// Reconcile

TEST_F(AuditServiceTest, ReconcileFlagsTheSeasonsDiscrepancies) {
  ASSERT_NO_FATAL_FAILURE(LoadSeason());
  // Also clean, as of 2025-02-28 (tolerance 1.00, "> tol" flags):
  //   b1/s2: 01-20 paid 5.00 -> -5; 01-22 inv-3 due -> 0.
  //   b2/s1: 01-15 paid 3.00 -> -3; 01-24 inv-1 due -> 0.
  //   s1's paychecks: 01-24 9.00 on them -> -9; 01-29 b2's 3.00 due -> -6;
  //   01-31 pay-1's 10.00 due and 4.00 more on them -> 13 - 13 = 0.
  //   No line without hours; every line 0.10 an hour.
  const pb::ReconcileResponse response = ReconcileOrDie(pb::ReconcileRequest());
  EXPECT_EQ(response.as_of(), "2025-02-28");  // The service's today.
  EXPECT_EQ(response.tree_size(), ledger_->size());
  ExpectDiscrepancies(response.discrepancies(),
                      {Underpaid(), Undistributed(), Duplicate(), Dispute()});

  // The same, asked for by date; and again (from the reconciler's cache).
  for (int i = 0; i < 2; ++i) {
    const pb::ReconcileResponse again =
        ReconcileOrDie(ReconcileAsOf("2025-02-28"));
    EXPECT_THAT(again, EqualsProto(response));
  }
}

TEST_F(AuditServiceTest, ReconcileFiltersByProgramBrandAndSupplier) {
  ASSERT_NO_FATAL_FAILURE(LoadSeason());
  const auto ids = [&](const std::string& program, const std::string& brand,
                       const std::string& supplier) {
    pb::ReconcileRequest request;
    request.set_program_id(program);
    request.set_brand_id(brand);
    request.set_supplier_id(supplier);
    const pb::ReconcileResponse response = ReconcileOrDie(request);
    EXPECT_EQ(response.tree_size(), ledger_->size());
    return Ids(response);
  };
  EXPECT_THAT(ids("ffp", "", ""), ElementsAre(kUnderpaidId, kUndistributedId,
                                              kDuplicateId, kDisputeId));
  // Pay periods and a supplier's distribution concern no brand.
  EXPECT_THAT(ids("", "b1", ""), ElementsAre(kUnderpaidId));
  EXPECT_THAT(ids("", "b2", ""), IsEmpty());
  EXPECT_THAT(ids("", "", "s1"),
              ElementsAre(kUnderpaidId, kDuplicateId, kDisputeId));
  EXPECT_THAT(ids("", "", "s2"), ElementsAre(kUndistributedId));
  EXPECT_THAT(ids("ffp", "b1", "s1"), ElementsAre(kUnderpaidId));
  EXPECT_THAT(ids("", "b1", "s2"), IsEmpty());
  // A program with nothing in it.
  EXPECT_THAT(ids("other", "", ""), IsEmpty());

  // The filtered discrepancies are the same as unfiltered ones.
  pb::ReconcileRequest s2;
  s2.set_supplier_id("s2");
  ExpectDiscrepancies(ReconcileOrDie(s2).discrepancies(), {Undistributed()});
}

TEST_F(AuditServiceTest, ReconcileCountsOnlyWhatIsDatedByAsOf) {
  ASSERT_NO_FATAL_FAILURE(LoadSeason());
  // 2025-01-20: inv-1 due and paid (-10 + 10 = 0), nothing else due, no
  // paychecks yet.
  pb::ReconcileResponse early = ReconcileOrDie(ReconcileAsOf("2025-01-20"));
  EXPECT_EQ(early.as_of(), "2025-01-20");
  EXPECT_THAT(early.discrepancies(), IsEmpty());
  EXPECT_EQ(early.tree_size(), ledger_->size());

  // 2025-01-31: inv-2 is due (underpaid from 01-27, as at 02-28); pay-2 is
  // not yet due on paychecks (02-03); the dispute was made on 02-10.
  ExpectDiscrepancies(
      ReconcileOrDie(ReconcileAsOf("2025-01-31")).discrepancies(),
      {Underpaid(), Duplicate()});

  // 2025-02-09, the day before the dispute; 2025-02-10 its day.
  ExpectDiscrepancies(
      ReconcileOrDie(ReconcileAsOf("2025-02-09")).discrepancies(),
      {Underpaid(), Undistributed(), Duplicate()});
  ExpectDiscrepancies(
      ReconcileOrDie(ReconcileAsOf("2025-02-10")).discrepancies(),
      {Underpaid(), Undistributed(), Duplicate(), Dispute()});
}

TEST_F(AuditServiceTest, ReconcileRefusesBadInput) {
  ASSERT_NO_FATAL_FAILURE(LoadSeason());
  const auto status = [&](const pb::ReconcileRequest& request) {
    pb::ReconcileResponse response;
    return Reconcile(request, &response, Auditor());
  };
  for (const char* as_of : {"2025-02-30", "28/02/2025", "2025-2-28", "today"}) {
    EXPECT_THAT(status(ReconcileAsOf(as_of)),
                GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("as_of")))
        << as_of;
  }
  pb::ReconcileRequest bad_program;
  bad_program.set_program_id("FFP!");
  EXPECT_THAT(status(bad_program), GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                                          HasSubstr("program_id")));
  pb::ReconcileRequest bad_brand;
  bad_brand.set_brand_id("Brand One");
  EXPECT_THAT(status(bad_brand), GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                                        HasSubstr("brand_id")));
  pb::ReconcileRequest bad_supplier;
  bad_supplier.set_supplier_id("s1:w1");
  EXPECT_THAT(status(bad_supplier), GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                                           HasSubstr("supplier_id")));
  for (const int page_size : {-1, 1001}) {
    pb::ReconcileRequest request;
    request.set_page_size(page_size);
    EXPECT_THAT(status(request), GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                                        HasSubstr("page_size")))
        << page_size;
  }
  // The largest page is allowed.
  pb::ReconcileRequest largest;
  largest.set_page_size(1000);
  EXPECT_THAT(status(largest), GrpcOk());
  // Not base64; base64 of something that is not a discrepancy id.
  for (const char* token : {"!!not a token!!", "bm9uc2Vuc2U", "Zm9vOmJhcjpi"}) {
    pb::ReconcileRequest request;
    request.set_page_token(token);
    EXPECT_THAT(status(request), GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                                        HasSubstr("page_token")))
        << token;
  }
}

TEST_F(AuditServiceTest, PagesOfOneWalkEveryDiscrepancyOnceInOrder) {
  ASSERT_NO_FATAL_FAILURE(LoadSeason());
  const pb::ReconcileResponse all = ReconcileOrDie(ReconcileAsOf("2025-02-28"));
  ASSERT_EQ(all.discrepancies_size(), 4);

  pb::ReconcileRequest request = ReconcileAsOf("2025-02-28");
  request.set_page_size(1);
  std::vector<pb::Discrepancy> walked;
  for (int page = 0; page < 10; ++page) {
    SCOPED_TRACE(absl::StrCat("page ", page));
    pb::ReconcileResponse response;
    ASSERT_THAT(Reconcile(request, &response, Auditor()), GrpcOk());
    EXPECT_EQ(response.as_of(), "2025-02-28");
    EXPECT_EQ(response.tree_size(), ledger_->size());
    ASSERT_EQ(response.discrepancies_size(), 1);
    walked.push_back(response.discrepancies(0));
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  // Four pages, the last without a token; exactly the whole answer, in
  // (program, type, id) order.
  ASSERT_EQ(walked.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_THAT(walked[i], EqualsProto(all.discrepancies(i)));
  }
  // Pages of three: 3 then 1.
  request.clear_page_token();
  request.set_page_size(3);
  pb::ReconcileResponse first;
  ASSERT_THAT(Reconcile(request, &first, Auditor()), GrpcOk());
  EXPECT_THAT(Ids(first),
              ElementsAre(kUnderpaidId, kUndistributedId, kDuplicateId));
  ASSERT_FALSE(first.next_page_token().empty());
  request.set_page_token(first.next_page_token());
  pb::ReconcileResponse second;
  ASSERT_THAT(Reconcile(request, &second, Auditor()), GrpcOk());
  EXPECT_THAT(Ids(second), ElementsAre(kDisputeId));
  EXPECT_THAT(second.next_page_token(), IsEmpty());
}

TEST_F(AuditServiceTest, APaymentThatCuresTheShortfallMakesItLate) {
  ASSERT_NO_FATAL_FAILURE(LoadSeason());
  ExpectDiscrepancies(ReconcileOrDie(pb::ReconcileRequest()).discrepancies(),
                      {Underpaid(), Undistributed(), Duplicate(), Dispute()});

  // b1 pays s1 the rest, 20.01, on 2025-02-20.
  const uint64_t pay3 = SubmitOrDie("b1", BrandFile::kPayments,
                                    "pay-3,s1,ffp,2025-02-20,20.01,USD\n");
  const pb::ReconcileResponse after = ReconcileOrDie(pb::ReconcileRequest());
  EXPECT_EQ(after.tree_size(), ledger_->size());
  // The shortfall ran from 01-27 (20.005) to 02-20, when it fell to
  // 30.005 - 30.01 = -0.005: cured. Its largest day: expected 30.005, actual
  // 10.00, difference 20.005 -> 20.00 (half-even). Overpaid by 0.005 is not
  // above the tolerance. pay-3's worker portion is not due on paychecks
  // before 03-06.
  const pb::Discrepancy late = Make(
      {.id = "late_brand_payment:ffp:b1:s1",
       .type = pb::LATE_BRAND_PAYMENT,
       .severity = pb::MEDIUM,
       .brand_id = "b1",
       .supplier_id = "s1",
       .period_start = "2025-01-27",
       .period_end = "2025-02-20",
       .expected = "30.005",
       .actual = "10.00",
       .difference = "20.00",
       .evidence = {season_.b1_inv1, season_.b1_inv2, season_.b1_pay1, pay3}});
  ExpectDiscrepancies(after.discrepancies(),
                      {late, Undistributed(), Duplicate(), Dispute()});

  // The day before the payment it was still underpaid.
  ExpectDiscrepancies(
      ReconcileOrDie(ReconcileAsOf("2025-02-19")).discrepancies(),
      {Underpaid(), Undistributed(), Duplicate(), Dispute()});

  // By 2025-03-31 pay-3's 20.01 is due on s1's paychecks (03-06), which
  // hold 13.00: received 3.00 + 10.00 + 20.01 = 33.01, gap 20.01 from 03-06.
  const pb::Discrepancy s1_undistributed =
      Make({.id = "undistributed_premium:ffp:s1",
            .type = pb::UNDISTRIBUTED_PREMIUM,
            .severity = pb::HIGH,
            .supplier_id = "s1",
            .period_start = "2025-03-06",
            .expected = "33.01",
            .actual = "13.00",
            .difference = "20.01",
            .evidence = Sorted({season_.b1_pay1, season_.b2_pay1, pay3,
                                season_.s1_lines[0], season_.s1_lines[1],
                                season_.s1_lines[2], season_.s1_lines[3]})});
  const pb::ReconcileResponse march =
      ReconcileOrDie(ReconcileAsOf("2025-03-31"));
  ExpectDiscrepancies(
      march.discrepancies(),
      {late, s1_undistributed, Undistributed(), Duplicate(), Dispute()});
  // Evidence travels as runs of seqs, as long as they can be: b2's payment
  // and s1's upload of four lines right after it are one run.
  ASSERT_EQ(march.discrepancies(1).id(), "undistributed_premium:ffp:s1");
  ASSERT_EQ(season_.s1_lines[0], season_.b2_pay1 + 1);
  ASSERT_EQ(season_.s1_lines[3], season_.s1_lines[0] + 3);
  std::vector<std::string> runs;
  for (const pb::SeqRun& run : march.discrepancies(1).evidence()) {
    runs.push_back(absl::StrCat(run.first_seq(), "+", run.count()));
  }
  EXPECT_THAT(runs, ElementsAre(absl::StrCat(season_.b1_pay1, "+1"),
                                absl::StrCat(season_.b2_pay1, "+5"),
                                absl::StrCat(pay3, "+1")));
  EXPECT_EQ(
      EvidenceSeqs(march.discrepancies(1)),
      Sorted({season_.b1_pay1, season_.b2_pay1, pay3, season_.s1_lines[0],
              season_.s1_lines[1], season_.s1_lines[2], season_.s1_lines[3]}));
  // And back to today: the same as before.
  EXPECT_THAT(ReconcileOrDie(pb::ReconcileRequest()), EqualsProto(after));

  // s2 pays the 2.00 it held back on 2025-02-14: the gap ran from 02-03
  // (5.00 due, 3.00 on paychecks) to 02-14 (5.00 - 5.00 = 0).
  const pb::UploadPayrollResponse s2 = UploadPayrollOrDie(
      "s2", "ffp,w9,2025-02-03,2025-02-09,2025-02-14,20,300.00,2.00,USD\n");
  ASSERT_EQ(s2.codes_size(), 1);
  const pb::Discrepancy late_distribution =
      Make({.id = "late_distribution:ffp:s2",
            .type = pb::LATE_DISTRIBUTION,
            .severity = pb::MEDIUM,
            .supplier_id = "s2",
            .period_start = "2025-02-03",
            .period_end = "2025-02-14",
            .expected = "5.00",
            .actual = "3.00",
            .difference = "2.00",
            .evidence = {season_.b1_pay2, season_.s2_line, s2.codes(0).seq()}});
  ExpectDiscrepancies(ReconcileOrDie(pb::ReconcileRequest()).discrepancies(),
                      {late, late_distribution, Duplicate(), Dispute()});
}

TEST_F(AuditServiceTest, ARetriedResolutionIsReplayedAfterTheFiguresMoved) {
  // DESIGN section 5: a retry with the same key and the same content returns
  // the original receipt and appends nothing, whatever was appended since.
  ASSERT_NO_FATAL_FAILURE(LoadSeason());
  pb::ResolveDiscrepancyResponse first;
  ASSERT_THAT(Resolve("resolve-dup", kDuplicateId, "checked", &first),
              GrpcOk());
  pb::ResolveDiscrepancyResponse underpaid;
  ASSERT_THAT(Resolve("resolve-underpaid", kUnderpaidId, "agreed", &underpaid),
              GrpcOk());
  // The duplicate's difference moves to 1.50; b1 pays what it owed, so
  // BRAND_UNDERPAID is no longer flagged.
  UploadPayrollOrDie(
      "s1", "ffp,w1,2025-01-13,2025-01-19,2025-01-24,5,75.00,0.50,USD\n");
  SubmitOrDie("b1", BrandFile::kPayments,
              "pay-3,s1,ffp,2025-02-20,20.01,USD\n");
  const uint64_t size = ledger_->size();

  // The client never saw the answers and sends the same requests again.
  pb::ResolveDiscrepancyResponse retry;
  EXPECT_THAT(Resolve("resolve-dup", kDuplicateId, "checked", &retry),
              GrpcOk());
  EXPECT_TRUE(retry.replayed());
  EXPECT_EQ(retry.seq(), first.seq());
  pb::ResolveDiscrepancyResponse underpaid_retry;
  EXPECT_THAT(
      Resolve("resolve-underpaid", kUnderpaidId, "agreed", &underpaid_retry),
      GrpcOk());
  EXPECT_TRUE(underpaid_retry.replayed());
  EXPECT_EQ(underpaid_retry.seq(), underpaid.seq());
  EXPECT_EQ(ledger_->size(), size);
}

// ---------------------------------------------------------------------------
// ResolveDiscrepancy

TEST_F(AuditServiceTest, ResolveRecordsReplaysAndReopensOnAChangedAmount) {
  ASSERT_NO_FATAL_FAILURE(LoadSeason());
  const uint64_t size_before = ledger_->size();
  pb::ResolveDiscrepancyResponse response;
  // b2 paid s1 in full: not flagged.
  EXPECT_THAT(Resolve("r-0", "brand_underpaid:ffp:b2:s1", "fine", &response),
              GrpcIs(grpc::StatusCode::NOT_FOUND));
  // Not flagged as of 2025-01-31: the dispute was made on 02-10.
  EXPECT_THAT(
      Resolve("r-0", kDisputeId, "fine", "2025-01-31", &response, Auditor()),
      GrpcIs(grpc::StatusCode::NOT_FOUND));
  EXPECT_THAT(Resolve("r-0", "nonsense", "fine", &response),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_THAT(Resolve("r-0", kDuplicateId, "", &response),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("note")));
  EXPECT_THAT(
      Resolve("", kDuplicateId, "fine", &response),
      GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("request_id")));
  EXPECT_THAT(
      Resolve("r-0", kDuplicateId, "fine", "2025-13-01", &response, Auditor()),
      GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("as_of")));
  EXPECT_EQ(ledger_->size(), size_before);

  const std::string note = "w1's second line corrects the first";
  ASSERT_THAT(Resolve("resolve-dup", kDuplicateId, note, &response), GrpcOk());
  const uint64_t resolution = response.seq();
  EXPECT_EQ(resolution, size_before);
  EXPECT_FALSE(response.replayed());
  EXPECT_EQ(ledger_->size(), size_before + 1);
  pb::Discrepancy resolved = Duplicate();
  resolved.set_status(pb::RESOLVED);
  resolved.set_resolution_seq(resolution);
  EXPECT_THAT(response.discrepancy(), EqualsProto(resolved));
  // The entry records who, what and at which difference.
  PL_ASSERT_OK_AND_ASSIGN(const StoredEntry entry,
                          ledger_->ReadEntry(resolution));
  EXPECT_EQ(entry.entry.kind(), kDiscrepancyResolutionKind);
  EXPECT_EQ(entry.entry.actor(), "auditor:a1");
  pb::DiscrepancyResolution record;
  ASSERT_TRUE(record.ParseFromString(entry.entry.payload()));
  EXPECT_EQ(record.discrepancy_id(), kDuplicateId);
  EXPECT_EQ(record.note(), note);
  EXPECT_EQ(record.difference_micros(), 1'000'000);

  // A retry: replayed, nothing appended.
  pb::ResolveDiscrepancyResponse retry;
  ASSERT_THAT(Resolve("resolve-dup", kDuplicateId, note, &retry), GrpcOk());
  EXPECT_TRUE(retry.replayed());
  EXPECT_EQ(retry.seq(), resolution);
  EXPECT_THAT(retry.discrepancy(), EqualsProto(resolved));
  EXPECT_EQ(ledger_->size(), size_before + 1);

  // Reconcile shows it resolved, the others open.
  ExpectDiscrepancies(ReconcileOrDie(pb::ReconcileRequest()).discrepancies(),
                      {Underpaid(), Undistributed(), resolved, Dispute()});

  // s1 uploads another line for w1 in that period (5 h, 0.50): the
  // difference is now 4.00 + 1.00 + 0.50 - 4.00 = 1.50, so it is open
  // again, its latest resolution still named.
  const pb::UploadPayrollResponse extra = UploadPayrollOrDie(
      "s1", "ffp,w1,2025-01-13,2025-01-19,2025-01-24,5,75.00,0.50,USD\n");
  ASSERT_EQ(extra.codes_size(), 1);
  pb::Discrepancy reopened = Duplicate();
  reopened.set_actual("5.50");
  reopened.set_difference("1.50");
  AddEvidence(extra.codes(0).seq(), &reopened);
  reopened.set_resolution_seq(resolution);
  // s1's paychecks now hold 13.50 against 13.00 due: still clean.
  ExpectDiscrepancies(ReconcileOrDie(pb::ReconcileRequest()).discrepancies(),
                      {Underpaid(), Undistributed(), reopened, Dispute()});

  // Resolved again at the new amount.
  ASSERT_THAT(
      Resolve("resolve-dup-2", kDuplicateId, "both corrections", &response),
      GrpcOk());
  EXPECT_FALSE(response.replayed());
  reopened.set_status(pb::RESOLVED);
  reopened.set_resolution_seq(response.seq());
  EXPECT_THAT(response.discrepancy(), EqualsProto(reopened));
}

TEST_F(AuditServiceTest, ANewDisputeReopensAResolvedDispute) {
  ASSERT_NO_FATAL_FAILURE(LoadSeason());
  pb::ResolveDiscrepancyResponse response;
  ASSERT_THAT(Resolve("resolve-dispute", kDisputeId,
                      "paystub misprinted; payroll shows 4.00", &response),
              GrpcOk());
  EXPECT_EQ(response.discrepancy().status(), pb::RESOLVED);
  const uint64_t resolution = response.seq();

  // The worker disputes the line again, still 3.00: the same difference,
  // but a dispute after the resolution.
  const uint64_t again =
      DisputeOrDie(season_.s1_codes[1], "3.00", "it still says 3.00");
  pb::Discrepancy reopened = Dispute();
  AddEvidence(again, &reopened);
  reopened.set_resolution_seq(resolution);
  ExpectDiscrepancies(ReconcileOrDie(pb::ReconcileRequest()).discrepancies(),
                      {Underpaid(), Undistributed(), Duplicate(), reopened});
}

// ---------------------------------------------------------------------------
// SuspendSupplier and ReinstateSupplier

TEST_F(AuditServiceTest, SuspendAndReinstateCheckTheirInput) {
  const uint64_t size_before = ledger_->size();
  pb::StandingChange change;
  const std::string reason = "failed the audit of January";
  EXPECT_THAT(Suspend("s-0", "nope", "s2", "2025-02-01", "", reason, &change,
                      Auditor()),
              GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("nope")));
  EXPECT_THAT(Suspend("s-0", "s9", "2025-02-01", ""),
              GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("s9")));
  EXPECT_THAT(
      Suspend("s-0", "b1", "2025-02-01", ""),
      GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("not a supplier")));
  EXPECT_THAT(Suspend("s-0", "s2", "2025-02-01", "2025-01-31"),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_THAT(
      Suspend("s-0", "s2", "2025-02-30", ""),
      GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("from_date")));
  EXPECT_THAT(Suspend("s-0", "s2", "2025-02-01", "someday"),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("to_date")));
  EXPECT_THAT(
      Suspend("s-0", "ffp", "s2", "2025-02-01", "", "", &change, Auditor()),
      GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("reason")));
  EXPECT_THAT(
      Suspend("", "s2", "2025-02-01", ""),
      GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("request_id")));
  EXPECT_THAT(
      Reinstate("r-0", "nope", "s2", "2025-03-01", "ok", &change, Auditor()),
      GrpcIs(grpc::StatusCode::NOT_FOUND));
  EXPECT_THAT(Reinstate("r-0", "s9", "2025-03-01"),
              GrpcIs(grpc::StatusCode::NOT_FOUND));
  EXPECT_THAT(Reinstate("r-0", "b1", "2025-03-01"),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_THAT(
      Reinstate("r-0", "s2", ""),
      GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("effective_date")));
  // Nothing to end.
  EXPECT_THAT(Reinstate("r-0", "s2", "2025-03-01"),
              GrpcIs(grpc::StatusCode::FAILED_PRECONDITION));
  EXPECT_EQ(ledger_->size(), size_before);
}

TEST_F(AuditServiceTest, SuspensionsAreCheckedReplayedAndShownToBrands) {
  ASSERT_NO_FATAL_FAILURE(LoadSeason());
  // s2 from 02-01 to 02-14.
  pb::StandingChange s2;
  ASSERT_THAT(Suspend("suspend-s2", "s2", "2025-02-01", "2025-02-14", &s2),
              GrpcOk());
  EXPECT_FALSE(s2.replayed());
  EXPECT_EQ(s2.seq(), ledger_->size() - 1);
  pb::StandingChange retry;
  ASSERT_THAT(Suspend("suspend-s2", "s2", "2025-02-01", "2025-02-14", &retry),
              GrpcOk());
  EXPECT_TRUE(retry.replayed());
  EXPECT_EQ(retry.seq(), s2.seq());
  EXPECT_EQ(ledger_->size(), s2.seq() + 1);
  PL_ASSERT_OK_AND_ASSIGN(const StoredEntry entry,
                          ledger_->ReadEntry(s2.seq()));
  EXPECT_EQ(entry.entry.kind(), kSuspensionKind);
  EXPECT_EQ(entry.entry.actor(), "auditor:a1");

  // Overlapping it, on its last day, or around it: refused.
  for (const auto& [from, to] :
       std::vector<std::pair<std::string, std::string>>{
           {"2025-02-14", ""},
           {"2025-01-15", "2025-02-01"},
           {"2025-02-05", "2025-02-06"},
           {"2025-01-01", "2025-03-01"}}) {
    EXPECT_THAT(
        Suspend(absl::StrCat("overlap-", from, "-", to), "s2", from, to),
        GrpcIs(grpc::StatusCode::FAILED_PRECONDITION))
        << from << " to " << to;
  }
  // It has an end: nothing to reinstate.
  EXPECT_THAT(Reinstate("reinstate-s2", "s2", "2025-03-01"),
              GrpcIs(grpc::StatusCode::FAILED_PRECONDITION));
  EXPECT_EQ(ledger_->size(), s2.seq() + 1);

  // s1 from 02-20 until reinstated; reinstated from 03-01.
  pb::StandingChange s1;
  ASSERT_THAT(Suspend("suspend-s1", "s1", "2025-02-20", "", &s1), GrpcOk());
  // A second open suspension overlaps it.
  EXPECT_THAT(Suspend("suspend-s1-again", "s1", "2025-04-01", ""),
              GrpcIs(grpc::StatusCode::FAILED_PRECONDITION));
  // A reinstatement must come after the suspension's first day.
  EXPECT_THAT(Reinstate("reinstate-s1-early", "s1", "2025-02-20"),
              GrpcIs(grpc::StatusCode::FAILED_PRECONDITION));
  pb::StandingChange reinstated;
  ASSERT_THAT(Reinstate("reinstate-s1", "s1", "2025-03-01", &reinstated),
              GrpcOk());
  EXPECT_FALSE(reinstated.replayed());
  EXPECT_EQ(reinstated.seq(), s1.seq() + 1);
  pb::StandingChange reinstated_again;
  ASSERT_THAT(Reinstate("reinstate-s1", "s1", "2025-03-01", &reinstated_again),
              GrpcOk());
  EXPECT_TRUE(reinstated_again.replayed());
  EXPECT_EQ(reinstated_again.seq(), reinstated.seq());
  // Nothing left open.
  EXPECT_THAT(Reinstate("reinstate-s1-twice", "s1", "2025-03-02"),
              GrpcIs(grpc::StatusCode::FAILED_PRECONDITION));
  EXPECT_EQ(ledger_->size(), reinstated.seq() + 1);

  // What a brand sees before buying.
  pb::SuspensionPeriod s2_period;
  s2_period.set_from_date("2025-02-01");
  s2_period.set_to_date("2025-02-14");
  s2_period.set_reason("failed the audit of January");
  s2_period.set_suspension_seq(s2.seq());
  const pb::SupplierStanding s2_during = StandingOrDie("s2", "2025-02-14");
  EXPECT_TRUE(s2_during.suspended());
  EXPECT_THAT(s2_during.current(), EqualsProto(s2_period));
  ASSERT_EQ(s2_during.periods_size(), 1);
  EXPECT_THAT(s2_during.periods(0), EqualsProto(s2_period));
  EXPECT_FALSE(StandingOrDie("s2", "2025-02-15").suspended());
  EXPECT_FALSE(StandingOrDie("s2", "2025-01-31").suspended());

  pb::SuspensionPeriod s1_period;
  s1_period.set_from_date("2025-02-20");
  s1_period.set_to_date("2025-02-28");  // The day before reinstatement.
  s1_period.set_reason("failed the audit of January");
  s1_period.set_suspension_seq(s1.seq());
  s1_period.set_reinstatement_seq(reinstated.seq());
  // Default as of: the service's today, 02-28, the last day suspended.
  const pb::SupplierStanding s1_today = StandingOrDie("s1", "");
  EXPECT_EQ(s1_today.as_of(), "2025-02-28");
  EXPECT_TRUE(s1_today.suspended());
  EXPECT_THAT(s1_today.current(), EqualsProto(s1_period));
  const pb::SupplierStanding s1_after = StandingOrDie("s1", "2025-03-01");
  EXPECT_FALSE(s1_after.suspended());
  ASSERT_EQ(s1_after.periods_size(), 1);
  EXPECT_THAT(s1_after.periods(0), EqualsProto(s1_period));

  // Purchases inside the suspensions, and either side of them.
  const uint64_t b1_first = SubmitOrDie("b1", BrandFile::kPurchases,
                                        "inv-10,s2,ffp,2025-02-05,100,lb\n"
                                        "inv-11,s2,ffp,2025-02-15,100,lb\n"
                                        "inv-12,s2,ffp,2025-01-31,100,lb\n");
  const uint64_t b2_first = SubmitOrDie("b2", BrandFile::kPurchases,
                                        "inv-20,s1,ffp,2025-02-25,100,lb\n"
                                        "inv-21,s1,ffp,2025-03-01,100,lb\n"
                                        "inv-22,s1,ffp,2025-02-20,100,lb\n");
  // 100 × 0.01 = 1.00 owed on each; the premium owed is the difference.
  const auto flagged = [&](const std::string& brand,
                           const std::string& supplier,
                           const std::string& invoice, const std::string& date,
                           std::vector<uint64_t> evidence) {
    return Make({.id = absl::StrCat("purchase_from_suspended_supplier:ffp:",
                                    brand, ":", supplier, ":", invoice),
                 .type = pb::PURCHASE_FROM_SUSPENDED_SUPPLIER,
                 .severity = pb::HIGH,
                 .brand_id = brand,
                 .supplier_id = supplier,
                 .period_start = date,
                 .period_end = date,
                 .invoice_id = invoice,
                 .expected = "0.00",
                 .actual = "1.00",
                 .difference = "1.00",
                 .evidence = std::move(evidence)});
  };
  const std::vector<pb::Discrepancy> want = {
      flagged("b1", "s2", "inv-10", "2025-02-05", {s2.seq(), b1_first}),
      flagged("b2", "s1", "inv-20", "2025-02-25",
              {s1.seq(), reinstated.seq(), b2_first}),
      flagged("b2", "s1", "inv-22", "2025-02-20",
              {s1.seq(), reinstated.seq(), b2_first + 2}),
  };
  const pb::ReconcileResponse response =
      ReconcileOrDie(ReconcileAsOf("2025-03-31"));
  google::protobuf::RepeatedPtrField<pb::Discrepancy> purchases;
  for (const pb::Discrepancy& d : response.discrepancies()) {
    if (d.type() == pb::PURCHASE_FROM_SUSPENDED_SUPPLIER) *purchases.Add() = d;
  }
  ExpectDiscrepancies(purchases, want);
  // By brand b2: its two, and the three 1.00 it has not paid for:
  // inv-22 due 03-06 (1.00, not above the tolerance), inv-20 due 03-11
  // (2.00 > 1.00: the run begins), inv-21 due 03-15 (3.00). Owed when due
  // 3.00 + 3.00 = 6.00, paid 3.00.
  pb::ReconcileRequest b2 = ReconcileAsOf("2025-03-31");
  b2.set_brand_id("b2");
  ExpectDiscrepancies(
      ReconcileOrDie(b2).discrepancies(),
      {Make({.id = "brand_underpaid:ffp:b2:s1",
             .type = pb::BRAND_UNDERPAID,
             .severity = pb::HIGH,
             .brand_id = "b2",
             .supplier_id = "s1",
             .period_start = "2025-03-11",
             .expected = "6.00",
             .actual = "3.00",
             .difference = "3.00",
             .evidence = {season_.b2_inv1, season_.b2_pay1, b2_first,
                          b2_first + 1, b2_first + 2}}),
       want[1], want[2]});

  // After the reinstatement a suspension may start the next day, not on the
  // last day suspended; a retry of the first suspension is still replayed.
  EXPECT_THAT(Suspend("suspend-s1-overlap", "s1", "2025-02-28", "2025-03-02"),
              GrpcIs(grpc::StatusCode::FAILED_PRECONDITION));
  pb::StandingChange s1_retry;
  ASSERT_THAT(Suspend("suspend-s1", "s1", "2025-02-20", "", &s1_retry),
              GrpcOk());
  EXPECT_TRUE(s1_retry.replayed());
  EXPECT_EQ(s1_retry.seq(), s1.seq());
  const uint64_t size = ledger_->size();
  pb::StandingChange s1_later;
  ASSERT_THAT(
      Suspend("suspend-s1-later", "s1", "2025-03-02", "2025-03-05", &s1_later),
      GrpcOk());
  EXPECT_FALSE(s1_later.replayed());
  EXPECT_EQ(s1_later.seq(), size);
  EXPECT_EQ(StandingOrDie("s1", "2025-03-03").current().suspension_seq(),
            s1_later.seq());
}

// ---------------------------------------------------------------------------
// Summarize

pb::Outcome MakeOutcome(const std::string& brand, const std::string& supplier,
                        const std::string& owed, const std::string& paid,
                        const std::string& received,
                        const std::string& pass_through,
                        std::optional<int> median_days) {
  pb::Outcome outcome;
  outcome.set_program_id("ffp");
  outcome.set_brand_id(brand);
  outcome.set_supplier_id(supplier);
  outcome.set_currency("USD");
  outcome.set_owed(owed);
  outcome.set_paid(paid);
  // supplier_rate 0: the worker portion is all of what was paid.
  outcome.set_worker_portion_paid(paid);
  outcome.set_received_by_workers(received);
  outcome.set_pass_through(pass_through);
  if (median_days.has_value()) {
    outcome.set_median_days_to_paychecks(*median_days);
  }
  return outcome;
}

TEST_F(AuditServiceTest, SummarizeFollowsTheMoneyToPaychecks) {
  ASSERT_NO_FATAL_FAILURE(LoadSeason());
  // s1's payments first in, first out in date order: b2's 3.00 (01-15)
  // takes 3.00 of w1's 4.00 line paid 01-24: complete, 9 days. pay-1's
  // 10.00 (01-17) takes the 1.00 left, w2's 4.00 and w1's 1.00 (01-24), then
  // 4.00 of w1's line paid 01-31: complete, 14 days. s2: pay-2's 5.00
  // (01-20) meets only w9's 3.00: 3.00 received, not complete.
  //   s1: owed 10 + 20.005 + 3 = 33.005, paid 13.00, received 13.00,
  //       1.0000, median of {9, 14} = 9 (the lower middle).
  //   s2: owed 5.00, paid 5.00, received 3.00, 0.6000, no median.
  //   b1: owed 10 + 20.005 + 5 = 35.005, paid 15.00, received 10 + 3 =
  //       13.00, 13 / 15 = 0.866666... -> 0.8667, median of {14} = 14.
  //   b2: owed 3.00, paid 3.00, received 3.00, 1.0000, median 9.
  //   ffp: owed 38.005, paid 18.00, received 16.00, 16 / 18 = 0.888888...
  //        -> 0.8889, median of {9, 14} = 9.
  pb::SummarizeResponse response;
  ASSERT_THAT(Summarize(pb::SummarizeRequest(), &response, Auditor()),
              GrpcOk());
  pb::SummarizeResponse want;
  want.set_as_of("2025-02-28");
  want.set_tree_size(ledger_->size());
  *want.add_programs() =
      MakeOutcome("", "", "38.005", "18.00", "16.00", "0.8889", 9);
  *want.add_suppliers() =
      MakeOutcome("", "s1", "33.005", "13.00", "13.00", "1.0000", 9);
  *want.add_suppliers() =
      MakeOutcome("", "s2", "5.00", "5.00", "3.00", "0.6000", std::nullopt);
  *want.add_brands() =
      MakeOutcome("b1", "", "35.005", "15.00", "13.00", "0.8667", 14);
  *want.add_brands() =
      MakeOutcome("b2", "", "3.00", "3.00", "3.00", "1.0000", 9);
  EXPECT_THAT(response, EqualsProto(want));

  // The same for the program by name, and for the admin.
  pb::SummarizeRequest ffp;
  ffp.set_program_id("ffp");
  ffp.set_as_of("2025-02-28");
  pb::SummarizeResponse by_name;
  ASSERT_THAT(Summarize(ffp, &by_name, Bearer(admin_token_)), GrpcOk());
  EXPECT_THAT(by_name, EqualsProto(want));

  // As of 2025-01-20 every purchase and payment is dated, no paycheck yet:
  // received 0.00 everywhere, pass-through 0.0000, no median.
  pb::SummarizeRequest early;
  early.set_as_of("2025-01-20");
  ASSERT_THAT(Summarize(early, &response, Auditor()), GrpcOk());
  want.set_as_of("2025-01-20");
  want.clear_programs();
  want.clear_suppliers();
  want.clear_brands();
  *want.add_programs() =
      MakeOutcome("", "", "38.005", "18.00", "0.00", "0.0000", std::nullopt);
  *want.add_suppliers() =
      MakeOutcome("", "s1", "33.005", "13.00", "0.00", "0.0000", std::nullopt);
  *want.add_suppliers() =
      MakeOutcome("", "s2", "5.00", "5.00", "0.00", "0.0000", std::nullopt);
  *want.add_brands() =
      MakeOutcome("b1", "", "35.005", "15.00", "0.00", "0.0000", std::nullopt);
  *want.add_brands() =
      MakeOutcome("b2", "", "3.00", "3.00", "0.00", "0.0000", std::nullopt);
  EXPECT_THAT(response, EqualsProto(want));

  // As of 2025-01-09: inv-1 (10.00) and inv-3 (5.00) of b1, nothing paid:
  // no pass-through at all.
  pb::SummarizeRequest first_days;
  first_days.set_as_of("2025-01-09");
  ASSERT_THAT(Summarize(first_days, &response, Auditor()), GrpcOk());
  ASSERT_EQ(response.programs_size(), 1);
  EXPECT_THAT(response.programs(0),
              EqualsProto(MakeOutcome("", "", "15.00", "0.00", "0.00", "",
                                      std::nullopt)));

  pb::SummarizeRequest unknown;
  unknown.set_program_id("nope");
  EXPECT_THAT(Summarize(unknown, &response, Auditor()),
              GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("nope")));
  pb::SummarizeRequest bad_date;
  bad_date.set_as_of("2025-02-29");
  EXPECT_THAT(Summarize(bad_date, &response, Auditor()),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("as_of")));
  pb::SummarizeRequest bad_program;
  bad_program.set_program_id("Fair Food");
  EXPECT_THAT(
      Summarize(bad_program, &response, Auditor()),
      GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("program_id")));
}

// ---------------------------------------------------------------------------
// A restart rebuilds the same state from the log.

TEST_F(AuditServiceTest, ARestartedServiceReconcilesTheSame) {
  ASSERT_NO_FATAL_FAILURE(LoadSeason());
  pb::ResolveDiscrepancyResponse resolved;
  ASSERT_THAT(Resolve("resolve-dup", kDuplicateId, "checked", &resolved),
              GrpcOk());
  pb::StandingChange suspended;
  ASSERT_THAT(
      Suspend("suspend-s2", "s2", "2025-01-01", "2025-01-10", &suspended),
      GrpcOk());
  const pb::ReconcileResponse before = ReconcileOrDie(pb::ReconcileRequest());
  // The resolution and the suspension (inv-3 of 01-08) are in it.
  ASSERT_EQ(before.discrepancies_size(), 5);
  pb::SummarizeResponse summary_before;
  ASSERT_THAT(Summarize(pb::SummarizeRequest(), &summary_before, Auditor()),
              GrpcOk());
  const uint64_t size = ledger_->size();

  ASSERT_NO_FATAL_FAILURE(Restart());
  EXPECT_EQ(ledger_->size(), size);
  const pb::ReconcileResponse after = ReconcileOrDie(pb::ReconcileRequest());
  EXPECT_THAT(after, EqualsProto(before));
  pb::SummarizeResponse summary_after;
  ASSERT_THAT(Summarize(pb::SummarizeRequest(), &summary_after, Auditor()),
              GrpcOk());
  EXPECT_THAT(summary_after, EqualsProto(summary_before));
  // And a retry of the resolution is still a replay.
  pb::ResolveDiscrepancyResponse retry;
  ASSERT_THAT(Resolve("resolve-dup", kDuplicateId, "checked", &retry),
              GrpcOk());
  EXPECT_TRUE(retry.replayed());
  EXPECT_EQ(retry.seq(), resolved.seq());
  EXPECT_EQ(ledger_->size(), size);
}

// ---------------------------------------------------------------------------
// The binaries, as an auditor drives them.

std::vector<std::string> Keys(const nlohmann::ordered_json& object) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : object.items()) keys.push_back(key);
  return keys;
}

std::string UtcToday() {
  return absl::FormatCivilTime(
      absl::ToCivilDay(absl::Now(), absl::UTCTimeZone()));
}

class AuditCliTest : public PremiumdCliTest {
 protected:
};

TEST_F(AuditCliTest, AnAuditorReconcilesResolvesSuspendsAndReinstates) {
  ASSERT_NO_FATAL_FAILURE(StartPremiumd());
  CtlOrDie(admin_token(),
           {"program", "add", "--id", "ffp", "--name", "Fair Food Program",
            "--currency", "USD", "--unit", "lb", "--worker-rate", "0.01",
            "--effective", "2025-01-01"});
  for (const auto& [role, id] :
       std::vector<std::pair<std::string, std::string>>{{"brand", "b1"},
                                                        {"supplier", "s1"},
                                                        {"supplier", "s2"},
                                                        {"auditor", "a1"}}) {
    CtlOrDie(admin_token(),
             {"party", "add", "--role", role, "--id", id, "--name",
              absl::StrCat("Party ", id), "--token-out", token(id)});
  }
  // The season's b1 and s1, s2 files (b2 left out).
  const std::string purchases = dir_.Sub("purchases.csv");
  WriteFileOrDie(purchases, absl::StrCat(kPurchasesHeader, kB1Purchases));
  CtlOrDie(token("b1"), {"purchases", "submit", purchases});
  const std::string payments = dir_.Sub("payments.csv");
  WriteFileOrDie(payments, absl::StrCat(kPaymentsHeader, kB1Payments));
  CtlOrDie(token("b1"), {"payments", "submit", payments});
  const std::string s1_payroll = dir_.Sub("s1-payroll.csv");
  WriteFileOrDie(s1_payroll, absl::StrCat(kPayrollHeader, kS1Payroll));
  const std::string s1_codes = dir_.Sub("s1-codes.csv");
  CtlOrDie(token("s1"),
           {"payroll", "upload", s1_payroll, "--codes-out", s1_codes});
  const std::string s2_payroll = dir_.Sub("s2-payroll.csv");
  WriteFileOrDie(s2_payroll, absl::StrCat(kPayrollHeader, kS2Payroll));
  CtlOrDie(token("s2"), {"payroll", "upload", s2_payroll});
  // w2's code: the second row of the codes file.
  const std::vector<std::string> code_lines = Lines(ReadFileOrDie(s1_codes));
  ASSERT_EQ(code_lines.size(), 5u);
  const std::vector<std::string> w2_row = absl::StrSplit(code_lines[2], ',');
  ASSERT_EQ(w2_row.size(), 5u);
  ASSERT_EQ(w2_row[0], "w2");
  CtlOrDie("", {"worker", "dispute", "--code", w2_row[4], "--paystub-amount",
                "3.00", "--note", "my paystub shows 3.00"});

  // As of today (the dispute's day), the season without b2 has the same
  // four discrepancies: s1's paychecks (9.00 on 01-24, 13.00 by 01-31) are
  // ahead of pay-1's 10.00 due on 01-31.
  const std::string today = UtcToday();
  const std::string json_text =
      CtlOrDie(token("a1"),
               {"--output", "json", "audit", "reconcile", "--as-of", today});
  const nlohmann::ordered_json document = nlohmann::ordered_json::parse(
      json_text, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(document.is_discarded()) << json_text;
  ASSERT_TRUE(document.is_object()) << json_text;
  EXPECT_THAT(Keys(document), ElementsAre("as_of", "discrepancies"));
  EXPECT_EQ(document["as_of"], today);
  const nlohmann::ordered_json& list = document["discrepancies"];
  ASSERT_TRUE(list.is_array());
  ASSERT_EQ(list.size(), 4u) << json_text;
  for (const nlohmann::ordered_json& d : list) {
    EXPECT_THAT(Keys(d),
                ElementsAre("id", "type", "severity", "program_id", "brand_id",
                            "supplier_id", "worker_id", "period_start",
                            "period_end", "invoice_id", "expected", "actual",
                            "difference", "currency", "status", "evidence"));
    for (const auto& [key, value] : d.items()) {
      if (key == "evidence") {
        ASSERT_TRUE(value.is_array()) << key;
        EXPECT_FALSE(value.empty());
        for (const nlohmann::ordered_json& seq : value) {
          EXPECT_TRUE(seq.is_number_unsigned()) << seq;
        }
        EXPECT_TRUE(std::is_sorted(value.begin(), value.end()));
      } else {
        EXPECT_TRUE(value.is_string()) << key << ": " << value;
      }
    }
  }
  std::vector<std::string> ids;
  for (const nlohmann::ordered_json& d : list) {
    ids.push_back(d["id"].get<std::string>());
  }
  EXPECT_THAT(ids, ElementsAre(kUnderpaidId, kUndistributedId, kDuplicateId,
                               kDisputeId));
  // Shortfall: 30.005 due by 01-27, 10.00 paid.
  const nlohmann::ordered_json& underpaid = list[0];
  EXPECT_EQ(underpaid["type"], "BRAND_UNDERPAID");
  EXPECT_EQ(underpaid["severity"], "HIGH");
  EXPECT_EQ(underpaid["program_id"], "ffp");
  EXPECT_EQ(underpaid["brand_id"], "b1");
  EXPECT_EQ(underpaid["supplier_id"], "s1");
  EXPECT_EQ(underpaid["worker_id"], "");
  EXPECT_EQ(underpaid["period_start"], "2025-01-27");
  EXPECT_EQ(underpaid["period_end"], "");
  EXPECT_EQ(underpaid["invoice_id"], "");
  EXPECT_EQ(underpaid["expected"], "30.005");
  EXPECT_EQ(underpaid["actual"], "10.00");
  EXPECT_EQ(underpaid["difference"], "20.00");
  EXPECT_EQ(underpaid["currency"], "USD");
  EXPECT_EQ(underpaid["status"], "OPEN");
  EXPECT_EQ(underpaid["evidence"].size(), 3u);  // inv-1, inv-2, pay-1.
  // Recorded 4.00, the paystub shows 3.00.
  EXPECT_EQ(list[3]["type"], "WORKER_DISPUTE");
  EXPECT_EQ(list[3]["worker_id"], "w2");
  EXPECT_EQ(list[3]["expected"], "4.00");
  EXPECT_EQ(list[3]["actual"], "3.00");
  EXPECT_EQ(list[3]["evidence"].size(), 2u);  // The line and the dispute.

  // CSV: the same columns, one row each.
  const std::vector<std::string> csv =
      Lines(CtlOrDie(token("a1"), {"--output", "csv", "audit", "reconcile",
                                   "--as-of", today}));
  ASSERT_EQ(csv.size(), 5u);
  EXPECT_EQ(csv[0],
            "id,type,severity,program_id,brand_id,supplier_id,worker_id,"
            "period_start,period_end,invoice_id,expected,actual,difference,"
            "currency,status,evidence");
  EXPECT_THAT(csv[1], StartsWith("brand_underpaid:ffp:b1:s1,BRAND_UNDERPAID,"
                                 "HIGH,ffp,b1,s1,,2025-01-27,,,30.005,10.00,"
                                 "20.00,USD,OPEN,"));

  // The table ends with the count.
  const std::vector<std::string> table =
      Lines(CtlOrDie(token("a1"), {"audit", "reconcile", "--as-of", today}));
  ASSERT_FALSE(table.empty());
  EXPECT_THAT(table.back(), StartsWith(absl::StrCat(
                                "4 discrepancies (4 open) as of ", today)));
  // The admin may read too.
  CtlOrDie(admin_token(), {"audit", "reconcile", "--as-of", today});

  // Summary: pay-1's 10.00 reached paychecks by 01-31 (14 days), pay-2's
  // 5.00 only 3.00 of it: 13 / 15 = 0.8667.
  const std::string summary_text = CtlOrDie(
      token("a1"), {"--output", "json", "audit", "summary", "--as-of", today});
  const nlohmann::ordered_json summary = nlohmann::ordered_json::parse(
      summary_text, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(summary.is_discarded()) << summary_text;
  EXPECT_THAT(Keys(summary),
              ElementsAre("as_of", "programs", "suppliers", "brands"));
  ASSERT_EQ(summary["programs"].size(), 1u) << summary_text;
  const nlohmann::ordered_json& program = summary["programs"][0];
  EXPECT_EQ(program["program_id"], "ffp");
  EXPECT_EQ(program["owed"], "35.005");  // 10 + 20.005 + 5
  EXPECT_EQ(program["paid"], "15.00");
  EXPECT_EQ(program["worker_portion_paid"], "15.00");
  EXPECT_EQ(program["received_by_workers"], "13.00");
  EXPECT_EQ(program["pass_through"], "0.8667");
  EXPECT_EQ(program["median_days_to_paychecks"], 14);
  ASSERT_EQ(summary["suppliers"].size(), 2u);
  EXPECT_EQ(summary["suppliers"][1]["supplier_id"], "s2");
  EXPECT_EQ(summary["suppliers"][1]["pass_through"], "0.6000");
  EXPECT_TRUE(summary["suppliers"][1]["median_days_to_paychecks"].is_null());
  ASSERT_EQ(summary["brands"].size(), 1u);
  EXPECT_EQ(summary["brands"][0]["brand_id"], "b1");

  // Resolve the duplicate; the same command again is a replay.
  const std::vector<std::string> resolve = {
      "audit",  "resolve",           "--id",    kDuplicateId,
      "--note", "a correction line", "--as-of", today};
  EXPECT_THAT(CtlOrDie(token("a1"), resolve),
              AllOf(StartsWith(absl::StrCat(kDuplicateId, " resolved")),
                    HasSubstr("1.00 USD")));
  EXPECT_THAT(CtlOrDie(token("a1"), resolve),
              HasSubstr("it had been recorded before"));
  const nlohmann::ordered_json resolved = nlohmann::ordered_json::parse(
      CtlOrDie(token("a1"),
               {"--output", "json", "audit", "reconcile", "--as-of", today}),
      nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(resolved.is_discarded());
  ASSERT_EQ(resolved["discrepancies"].size(), 4u);
  EXPECT_EQ(resolved["discrepancies"][2]["id"], kDuplicateId);
  EXPECT_EQ(resolved["discrepancies"][2]["status"], "RESOLVED");
  EXPECT_EQ(resolved["discrepancies"][0]["status"], "OPEN");
  EXPECT_THAT(
      Lines(CtlOrDie(token("a1"), {"audit", "reconcile", "--as-of", today}))
          .back(),
      StartsWith(absl::StrCat("4 discrepancies (3 open) as of ", today)));

  // Errors: non-zero, one line.
  const CommandResult unknown = Ctl(
      token("a1"),
      {"audit", "resolve", "--id", "brand_underpaid:ffp:b1:s2", "--note", "x"});
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_EQ(unknown.out, "");
  EXPECT_THAT(unknown.err, HasSubstr("NOT_FOUND"));
  ExpectOneLine(unknown.err);
  const CommandResult as_brand =
      Ctl(token("b1"), {"audit", "suspend", "--program", "ffp", "--supplier",
                        "s2", "--from", "2025-02-01", "--reason", "x"});
  EXPECT_NE(as_brand.exit_code, 0);
  EXPECT_EQ(as_brand.out, "");
  EXPECT_THAT(as_brand.err, HasSubstr("PERMISSION_DENIED"));
  ExpectOneLine(as_brand.err);
  const CommandResult as_admin = Ctl(
      admin_token(), {"audit", "resolve", "--id", kDisputeId, "--note", "x"});
  EXPECT_NE(as_admin.exit_code, 0);
  EXPECT_THAT(as_admin.err, HasSubstr("PERMISSION_DENIED"));
  ExpectOneLine(as_admin.err);

  // Suspend s2 for two weeks; suspend s1 until reinstated, then reinstate.
  EXPECT_THAT(
      CtlOrDie(token("a1"), {"audit", "suspend", "--program", "ffp",
                             "--supplier", "s2", "--from", "2025-02-01", "--to",
                             "2025-02-14", "--reason", "no payroll records"}),
      StartsWith(
          "suspended s2 from ffp from 2025-02-01 to 2025-02-14 (entry "));
  EXPECT_THAT(
      CtlOrDie(token("a1"),
               {"audit", "suspend", "--program", "ffp", "--supplier", "s1",
                "--from", "2025-03-01", "--reason", "duplicate lines"}),
      StartsWith("suspended s1 from ffp from 2025-03-01 until reinstated "
                 "(entry "));
  const CommandResult overlap =
      Ctl(token("a1"), {"audit", "suspend", "--program", "ffp", "--supplier",
                        "s1", "--from", "2025-04-01", "--reason", "again"});
  EXPECT_NE(overlap.exit_code, 0);
  EXPECT_THAT(overlap.err, HasSubstr("FAILED_PRECONDITION"));
  ExpectOneLine(overlap.err);
  EXPECT_THAT(CtlOrDie(token("a1"), {"audit", "reinstate", "--program", "ffp",
                                     "--supplier", "s1", "--effective",
                                     "2025-04-01", "--reason", "corrected"}),
              StartsWith("reinstated s1 in ffp from 2025-04-01 (entry "));
  const CommandResult nothing_open =
      Ctl(token("a1"),
          {"audit", "reinstate", "--program", "ffp", "--supplier", "s2",
           "--effective", "2025-04-01", "--reason", "corrected"});
  EXPECT_NE(nothing_open.exit_code, 0);
  EXPECT_THAT(nothing_open.err, HasSubstr("FAILED_PRECONDITION"));
  ExpectOneLine(nothing_open.err);

  ASSERT_NO_FATAL_FAILURE(StopPremiumdAndVerify());
}

}  // namespace
}  // namespace premium
