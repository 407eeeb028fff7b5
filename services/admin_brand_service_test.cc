// Tests of AdminService and BrandService through a real gRPC server on
// 127.0.0.1:0, wired as premiumd wires them (a Ledger with the
// PremiumIndexer in a temporary directory, the in-process LedgerClient, the
// Authenticator and the server secret), with the admin registered the way
// premiumd's BootstrapAdmin does. The last test drives the premiumd and
// premiumctl binaries as a user would.
//
// Every expected amount is computed by hand in a comment beside it.
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/ledger.h"
#include "ledger/premium/indexer.h"
#include "ledger/testing/child_process.h"
#include "ledger/testing/ledger_testing.h"
#include "nlohmann/json.hpp"
#include "services/admin_service.h"
#include "services/auth.h"
#include "services/brand_service.h"
#include "services/credentials.h"
#include "services/ledger_client.h"
#include "services/server_secret.h"
#include "services/testing/service_testing.h"
#include "services/upload_receiver.h"
#include "wsr/premium/v1/admin.grpc.pb.h"
#include "wsr/premium/v1/brand.grpc.pb.h"
#include "wsr/premium/v1/records.pb.h"

namespace premium {
namespace {

namespace pb = ::wsr::premium::v1;

using ::premium::testing::Bearer;
using ::premium::testing::CommandResult;
using ::premium::testing::Context;
using ::premium::testing::GrpcIs;
using ::premium::testing::GrpcOk;
using ::premium::testing::IsOk;
using ::premium::testing::kFastBackupPolling;
using ::premium::testing::PremiumdCliTest;
using ::premium::testing::ReadFileOrDie;
using ::premium::testing::TempDir;
using ::premium::testing::WriteFileOrDie;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

const absl::CivilDay kToday(2025, 1, 10);

pb::ProgramVersionSpec FfpSpec() {
  pb::ProgramVersionSpec spec;
  spec.set_program_id("ffp");
  spec.set_name("Fair Food Program");
  spec.set_currency("USD");
  spec.set_unit("lb");
  spec.set_worker_rate("0.01");
  spec.set_effective_date("2025-01-01");
  return spec;
}

struct UploadResult {
  grpc::Status status;
  pb::UploadReceipt receipt;
};

enum class Framing { kHeaderFirst, kNoHeader, kHeaderTwice, kHeaderOnly };

class ServiceTest : public ::testing::Test {
 protected:
  ServiceTest() = default;
  explicit ServiceTest(UploadLimits limits) : limits_(limits) {}

  void SetUp() override {
    ASSERT_TRUE(kFastBackupPolling);
    PL_ASSERT_OK_AND_ASSIGN(
        ledger_, testing::OpenTestLedger(dir_.Sub("data"), &indexer_));
    client_ = NewInProcessLedgerClient(ledger_.get());
    authenticator_ = std::make_unique<Authenticator>(client_.get());
    PL_ASSERT_OK_AND_ASSIGN(
        secret_, ServerSecret::LoadOrCreate(dir_.Sub(ServerSecret::kFileName)));
    admin_service_ = std::make_unique<AdminServiceImpl>(
        client_.get(), authenticator_.get(), secret_.get(),
        [] { return kToday; });
    brand_service_ = std::make_unique<BrandServiceImpl>(
        client_.get(), authenticator_.get(), limits_);

    PL_ASSERT_OK_AND_ASSIGN(admin_token_, testing::BootstrapAdmin(*ledger_));

    std::string address;
    server_ = testing::StartLocalServer(
        {admin_service_.get(), brand_service_.get()}, &address);
    ASSERT_NE(server_, nullptr);
    channel_ = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    admin_stub_ = pb::AdminService::NewStub(channel_);
    brand_stub_ = pb::BrandService::NewStub(channel_);
  }

  void TearDown() override {
    admin_stub_.reset();
    brand_stub_.reset();
    channel_.reset();
    testing::StopLocalServer(&server_);
  }

  grpc::Status AddProgram(const pb::ProgramVersionSpec& spec,
                          const std::string& request_id,
                          pb::Program* program = nullptr,
                          const std::string& authorization = "") {
    pb::AddProgramVersionRequest request;
    request.set_request_id(request_id);
    *request.mutable_version() = spec;
    pb::Program response;
    const grpc::Status status = admin_stub_->AddProgramVersion(
        Context(authorization.empty() ? Bearer(admin_token_) : authorization)
            .get(),
        request, &response);
    if (program != nullptr) *program = response;
    return status;
  }

  grpc::Status Register(pb::Role role, const std::string& party_id,
                        const std::string& request_id,
                        pb::RegisterPartyResponse* response,
                        const std::string& authorization = "") {
    pb::RegisterPartyRequest request;
    request.set_request_id(request_id);
    request.set_role(role);
    request.set_party_id(party_id);
    request.set_name(absl::StrCat("Party ", party_id));
    return admin_stub_->RegisterParty(
        Context(authorization.empty() ? Bearer(admin_token_) : authorization)
            .get(),
        request, response);
  }

  // Registers a party and returns its token.
  std::string RegisterOrDie(pb::Role role, const std::string& party_id) {
    return testing::RegisterOrDie(*admin_stub_, admin_token_, role, party_id);
  }

  // The FFP program (0.01/lb from 2025-01-01, 0.015/lb from 2025-03-01),
  // brands b1 and b2, suppliers s1 and s2, auditor a1.
  void SetUpProgramAndParties() {
    ASSERT_THAT(AddProgram(FfpSpec(), "ffp-v1"), GrpcOk());
    pb::ProgramVersionSpec raise = FfpSpec();
    raise.set_worker_rate("0.015");
    raise.set_effective_date("2025-03-01");
    ASSERT_THAT(AddProgram(raise, "ffp-v2"), GrpcOk());
    tokens_["b1"] = RegisterOrDie(pb::BRAND, "b1");
    tokens_["b2"] = RegisterOrDie(pb::BRAND, "b2");
    tokens_["s1"] = RegisterOrDie(pb::SUPPLIER, "s1");
    tokens_["s2"] = RegisterOrDie(pb::SUPPLIER, "s2");
    tokens_["a1"] = RegisterOrDie(pb::AUDITOR, "a1");
  }

  // Streams `file` as one upload: a header, then chunks of `chunk_bytes`.
  UploadResult Submit(Upload::Kind kind, const std::string& authorization,
                      absl::string_view file, size_t chunk_bytes = 7,
                      const std::string& request_id = "",
                      Framing framing = Framing::kHeaderFirst) {
    UploadResult result;
    auto context = Context(authorization);
    std::unique_ptr<grpc::ClientWriter<pb::UploadChunk>> writer =
        kind == Upload::Kind::kPurchases
            ? brand_stub_->SubmitPurchases(context.get(), &result.receipt)
            : brand_stub_->SubmitPayments(context.get(), &result.receipt);
    pb::UploadChunk header;
    header.mutable_header()->set_request_id(request_id);
    header.mutable_header()->set_file_name("test.csv");
    bool open = true;
    if (framing != Framing::kNoHeader) open = writer->Write(header);
    if (framing == Framing::kHeaderTwice && open) open = writer->Write(header);
    if (framing != Framing::kHeaderOnly) {
      for (size_t offset = 0; open && offset < file.size();
           offset += chunk_bytes) {
        pb::UploadChunk data;
        const absl::string_view part = file.substr(offset, chunk_bytes);
        data.set_data(std::string(part));
        open = writer->Write(data);
      }
    }
    if (open) writer->WritesDone();
    result.status = writer->Finish();
    return result;
  }

  std::vector<pb::PurchaseReport> ReadPurchases(uint64_t first_seq,
                                                uint64_t count,
                                                const std::string& actor) {
    std::vector<pb::PurchaseReport> out;
    for (uint64_t seq = first_seq; seq < first_seq + count; ++seq) {
      absl::StatusOr<StoredEntry> entry = ledger_->ReadEntry(seq);
      EXPECT_THAT(entry, IsOk());
      if (!entry.ok()) continue;
      EXPECT_EQ(entry->entry.kind(), kPurchaseReportKind);
      EXPECT_EQ(entry->entry.actor(), actor);
      pb::PurchaseReport report;
      EXPECT_TRUE(report.ParseFromString(entry->entry.payload()));
      out.push_back(report);
    }
    return out;
  }

  TempDir dir_;
  UploadLimits limits_;
  PremiumIndexer indexer_;
  std::unique_ptr<Ledger> ledger_;
  std::unique_ptr<LedgerClient> client_;
  std::unique_ptr<Authenticator> authenticator_;
  std::unique_ptr<ServerSecret> secret_;
  std::unique_ptr<AdminServiceImpl> admin_service_;
  std::unique_ptr<BrandServiceImpl> brand_service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::AdminService::Stub> admin_stub_;
  std::unique_ptr<pb::BrandService::Stub> brand_stub_;
  std::string admin_token_;
  std::map<std::string, std::string> tokens_;
};

// ---------------------------------------------------------------------------
// AddProgramVersion, GetProgram, ListPrograms.

TEST_F(ServiceTest, AddProgramVersionCreatesAProgram) {
  const uint64_t size_before = ledger_->size();
  pb::ProgramVersionSpec spec = FfpSpec();
  spec.set_supplier_rate("0.005");
  spec.set_payment_terms_days(7);
  spec.set_distribution_deadline_days(21);
  spec.set_allocation("wages");
  spec.set_tolerance("0.50");
  pb::Program program;
  ASSERT_THAT(AddProgram(spec, "add-ffp", &program), GrpcOk());
  EXPECT_EQ(ledger_->size(), size_before + 1);
  EXPECT_EQ(program.program_id(), "ffp");
  ASSERT_EQ(program.versions_size(), 1);
  const pb::ProgramVersionSpec& view = program.versions(0).spec();
  EXPECT_EQ(program.versions(0).seq(), size_before);
  EXPECT_EQ(view.program_id(), "ffp");
  EXPECT_EQ(view.name(), "Fair Food Program");
  EXPECT_EQ(view.currency(), "USD");
  EXPECT_EQ(view.unit(), "lb");
  EXPECT_EQ(view.worker_rate(), "0.01");
  EXPECT_EQ(view.supplier_rate(), "0.005");
  EXPECT_EQ(view.payment_terms_days(), 7);
  EXPECT_EQ(view.distribution_deadline_days(), 21);
  EXPECT_EQ(view.allocation(), "wages");
  EXPECT_EQ(view.tolerance(), "0.50");
  EXPECT_EQ(view.effective_date(), "2025-01-01");

  // The ledger holds exactly the stored form, appended by the admin under
  // the request's id.
  PL_ASSERT_OK_AND_ASSIGN(const StoredEntry entry,
                          ledger_->ReadEntry(size_before));
  EXPECT_EQ(entry.entry.kind(), kProgramVersionKind);
  EXPECT_EQ(entry.entry.actor(), "admin:admin");
  EXPECT_EQ(entry.entry.idempotency_key(), "add-ffp");
  pb::ProgramVersion stored;
  ASSERT_TRUE(stored.ParseFromString(entry.entry.payload()));
  EXPECT_EQ(stored.worker_rate_micros(), 10'000);
  EXPECT_EQ(stored.supplier_rate_micros(), 5'000);
  EXPECT_EQ(stored.tolerance_micros(), 500'000);
  EXPECT_EQ(stored.allocation(), pb::WAGES);
  EXPECT_EQ(stored.payment_terms_days(), 7);
  EXPECT_EQ(stored.distribution_deadline_days(), 21);
}

TEST_F(ServiceTest, AddProgramVersionDefaults) {
  pb::ProgramVersionSpec spec = FfpSpec();
  spec.clear_effective_date();
  pb::Program program;
  ASSERT_THAT(AddProgram(spec, "add-ffp", &program), GrpcOk());
  ASSERT_EQ(program.versions_size(), 1);
  const pb::ProgramVersionSpec& view = program.versions(0).spec();
  EXPECT_EQ(view.supplier_rate(), "0");
  EXPECT_EQ(view.payment_terms_days(), 14);
  EXPECT_EQ(view.distribution_deadline_days(), 14);
  EXPECT_EQ(view.allocation(), "hours");
  EXPECT_EQ(view.tolerance(), "1.00");
  // The injected today.
  EXPECT_EQ(view.effective_date(), "2025-01-10");
}

TEST_F(ServiceTest, RateChangeWithALaterDateAddsAVersion) {
  ASSERT_THAT(AddProgram(FfpSpec(), "ffp-v1"), GrpcOk());
  const uint64_t size_before = ledger_->size();
  pb::ProgramVersionSpec raise = FfpSpec();
  raise.set_worker_rate("0.015");
  raise.set_supplier_rate("0.005");
  raise.set_effective_date("2025-03-01");
  pb::Program program;
  ASSERT_THAT(AddProgram(raise, "ffp-v2", &program), GrpcOk());
  EXPECT_EQ(ledger_->size(), size_before + 1);
  ASSERT_EQ(program.versions_size(), 2);
  EXPECT_EQ(program.versions(0).spec().effective_date(), "2025-01-01");
  EXPECT_EQ(program.versions(0).spec().worker_rate(), "0.01");
  EXPECT_EQ(program.versions(0).seq(), size_before - 1);
  EXPECT_EQ(program.versions(1).spec().effective_date(), "2025-03-01");
  EXPECT_EQ(program.versions(1).spec().worker_rate(), "0.015");
  EXPECT_EQ(program.versions(1).spec().supplier_rate(), "0.005");
  EXPECT_EQ(program.versions(1).seq(), size_before);
}

TEST_F(ServiceTest, RetryWithTheSameRequestIdAppendsNothing) {
  pb::Program first;
  ASSERT_THAT(AddProgram(FfpSpec(), "ffp-v1", &first), GrpcOk());
  const uint64_t size_after_first = ledger_->size();
  pb::Program again;
  ASSERT_THAT(AddProgram(FfpSpec(), "ffp-v1", &again), GrpcOk());
  EXPECT_EQ(ledger_->size(), size_after_first);
  EXPECT_EQ(again.SerializeAsString(), first.SerializeAsString());

  // Still a replay after the program has changed since.
  pb::ProgramVersionSpec raise = FfpSpec();
  raise.set_worker_rate("0.015");
  raise.set_effective_date("2025-03-01");
  ASSERT_THAT(AddProgram(raise, "ffp-v2"), GrpcOk());
  const uint64_t size_after_second = ledger_->size();
  pb::Program late;
  ASSERT_THAT(AddProgram(FfpSpec(), "ffp-v1", &late), GrpcOk());
  EXPECT_EQ(ledger_->size(), size_after_second);
  EXPECT_EQ(late.versions_size(), 2);
}

TEST_F(ServiceTest, SameVersionUnderAnotherRequestIdIsAlreadyExists) {
  ASSERT_THAT(AddProgram(FfpSpec(), "ffp-v1"), GrpcOk());
  const uint64_t size_before = ledger_->size();
  EXPECT_THAT(AddProgram(FfpSpec(), "ffp-v1-again"),
              GrpcIs(grpc::StatusCode::ALREADY_EXISTS));
  // The same request id for another content is refused too.
  pb::ProgramVersionSpec other = FfpSpec();
  other.set_program_id("bk");
  EXPECT_THAT(AddProgram(other, "ffp-v1"),
              GrpcIs(grpc::StatusCode::ALREADY_EXISTS));
  EXPECT_EQ(ledger_->size(), size_before);
}

TEST_F(ServiceTest, ChangingCurrencyUnitOrADateIsFailedPrecondition) {
  ASSERT_THAT(AddProgram(FfpSpec(), "ffp-v1"), GrpcOk());
  const uint64_t size_before = ledger_->size();
  pb::ProgramVersionSpec euro = FfpSpec();
  euro.set_currency("EUR");
  euro.set_effective_date("2025-06-01");
  EXPECT_THAT(AddProgram(euro, "ffp-eur"),
              GrpcIs(grpc::StatusCode::FAILED_PRECONDITION,
                     HasSubstr("cannot change its currency or unit")));
  pb::ProgramVersionSpec kilos = FfpSpec();
  kilos.set_unit("kg");
  kilos.set_effective_date("2025-06-01");
  EXPECT_THAT(AddProgram(kilos, "ffp-kg"),
              GrpcIs(grpc::StatusCode::FAILED_PRECONDITION,
                     HasSubstr("cannot change its currency or unit")));
  // Another rule on a date that already has one.
  pb::ProgramVersionSpec same_day = FfpSpec();
  same_day.set_worker_rate("0.02");
  EXPECT_THAT(AddProgram(same_day, "ffp-same-day"),
              GrpcIs(grpc::StatusCode::FAILED_PRECONDITION,
                     HasSubstr("already has a version effective 2025-01-01")));
  EXPECT_EQ(ledger_->size(), size_before);
}

TEST_F(ServiceTest, EachBadFieldIsInvalidArgumentNamingIt) {
  struct Case {
    std::string field;
    std::function<void(pb::AddProgramVersionRequest&)> change;
  };
  const std::vector<Case> cases = {
      {"request_id", [](auto& r) { r.set_request_id(""); }},
      {"request_id", [](auto& r) { r.set_request_id("has space"); }},
      {"request_id", [](auto& r) { r.set_request_id(std::string(129, 'r')); }},
      {"program_id", [](auto& r) { r.mutable_version()->set_program_id(""); }},
      {"program_id",
       [](auto& r) { r.mutable_version()->set_program_id("FFP"); }},
      {"name", [](auto& r) { r.mutable_version()->set_name(""); }},
      {"name", [](auto& r) { r.mutable_version()->set_name("a\nb"); }},
      {"currency", [](auto& r) { r.mutable_version()->set_currency("usd"); }},
      {"currency", [](auto& r) { r.mutable_version()->set_currency(""); }},
      {"unit", [](auto& r) { r.mutable_version()->set_unit("ton"); }},
      {"unit", [](auto& r) { r.mutable_version()->set_unit(""); }},
      {"worker_rate",
       [](auto& r) { r.mutable_version()->set_worker_rate(""); }},
      {"worker_rate",
       [](auto& r) { r.mutable_version()->set_worker_rate("0"); }},
      {"worker_rate",
       [](auto& r) { r.mutable_version()->set_worker_rate("-0.01"); }},
      {"worker_rate",
       [](auto& r) { r.mutable_version()->set_worker_rate("0.0000001"); }},
      {"worker_rate",
       [](auto& r) { r.mutable_version()->set_worker_rate("1e-2"); }},
      {"supplier_rate",
       [](auto& r) { r.mutable_version()->set_supplier_rate("-0.005"); }},
      {"supplier_rate",
       [](auto& r) { r.mutable_version()->set_supplier_rate("x"); }},
      {"payment_terms_days",
       [](auto& r) { r.mutable_version()->set_payment_terms_days(-1); }},
      {"payment_terms_days",
       [](auto& r) { r.mutable_version()->set_payment_terms_days(367); }},
      {"distribution_deadline_days",
       [](auto& r) {
         r.mutable_version()->set_distribution_deadline_days(-5);
       }},
      {"allocation",
       [](auto& r) { r.mutable_version()->set_allocation("equal"); }},
      {"allocation",
       [](auto& r) { r.mutable_version()->set_allocation("Hours"); }},
      {"tolerance",
       [](auto& r) { r.mutable_version()->set_tolerance("1.005"); }},
      {"tolerance",
       [](auto& r) { r.mutable_version()->set_tolerance("-1.00"); }},
      {"effective_date",
       [](auto& r) { r.mutable_version()->set_effective_date("2025-13-01"); }},
      {"effective_date",
       [](auto& r) { r.mutable_version()->set_effective_date("01/01/2025"); }},
  };
  const uint64_t size_before = ledger_->size();
  for (size_t i = 0; i < cases.size(); ++i) {
    pb::AddProgramVersionRequest request;
    request.set_request_id(absl::StrCat("bad-", i));
    *request.mutable_version() = FfpSpec();
    cases[i].change(request);
    SCOPED_TRACE(request.ShortDebugString());
    pb::Program response;
    EXPECT_THAT(
        admin_stub_->AddProgramVersion(Context(Bearer(admin_token_)).get(),
                                       request, &response),
        GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr(cases[i].field)));
  }
  EXPECT_EQ(ledger_->size(), size_before);
}

TEST_F(ServiceTest, GetProgram) {
  SetUpProgramAndParties();
  pb::GetProgramRequest request;
  request.set_program_id("ffp");
  pb::Program program;
  ASSERT_THAT(admin_stub_->GetProgram(Context(Bearer(admin_token_)).get(),
                                      request, &program),
              GrpcOk());
  EXPECT_EQ(program.program_id(), "ffp");
  ASSERT_EQ(program.versions_size(), 2);
  EXPECT_EQ(program.versions(0).spec().worker_rate(), "0.01");
  EXPECT_EQ(program.versions(1).spec().worker_rate(), "0.015");

  request.set_program_id("nope");
  EXPECT_THAT(admin_stub_->GetProgram(Context(Bearer(admin_token_)).get(),
                                      request, &program),
              GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("nope")));
  request.set_program_id("Not An Id");
  EXPECT_THAT(
      admin_stub_->GetProgram(Context(Bearer(admin_token_)).get(), request,
                              &program),
      GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("program_id")));
}

TEST_F(ServiceTest, ListProgramsPagesVisitEveryProgramOnce) {
  // Versions interleaved across programs: ffp, bk, ffp, mwd, bk, zz.
  pb::ProgramVersionSpec bk = FfpSpec();
  bk.set_program_id("bk");
  bk.set_name("Burger King");
  bk.set_supplier_rate("0.005");
  pb::ProgramVersionSpec mwd = FfpSpec();
  mwd.set_program_id("mwd");
  mwd.set_name("Milk with Dignity");
  mwd.set_unit("cwt");
  mwd.set_worker_rate("0.05");
  pb::ProgramVersionSpec zz = FfpSpec();
  zz.set_program_id("zz");
  ASSERT_THAT(AddProgram(FfpSpec(), "p1"), GrpcOk());
  ASSERT_THAT(AddProgram(bk, "p2"), GrpcOk());
  pb::ProgramVersionSpec ffp2 = FfpSpec();
  ffp2.set_worker_rate("0.015");
  ffp2.set_effective_date("2025-03-01");
  ASSERT_THAT(AddProgram(ffp2, "p3"), GrpcOk());
  ASSERT_THAT(AddProgram(mwd, "p4"), GrpcOk());
  pb::ProgramVersionSpec bk2 = bk;
  bk2.set_effective_date("2025-04-01");
  bk2.set_worker_rate("0.02");
  ASSERT_THAT(AddProgram(bk2, "p5"), GrpcOk());
  ASSERT_THAT(AddProgram(zz, "p6"), GrpcOk());

  for (const int page_size : {1, 2, 3, 0}) {
    SCOPED_TRACE(absl::StrCat("page_size ", page_size));
    std::vector<std::string> seen;
    std::map<std::string, int> versions;
    std::string token;
    int pages = 0;
    do {
      pb::ListProgramsRequest request;
      request.set_page_size(page_size);
      request.set_page_token(token);
      pb::ListProgramsResponse response;
      ASSERT_THAT(admin_stub_->ListPrograms(Context(Bearer(admin_token_)).get(),
                                            request, &response),
                  GrpcOk());
      if (page_size > 0) {
        EXPECT_LE(response.programs_size(), page_size);
      }
      for (const pb::Program& program : response.programs()) {
        seen.push_back(program.program_id());
        versions[program.program_id()] = program.versions_size();
      }
      token = response.next_page_token();
    } while (!token.empty() && ++pages < 20);
    EXPECT_THAT(seen, ElementsAre("ffp", "bk", "mwd", "zz"));
    EXPECT_THAT(versions, UnorderedElementsAre(Pair("ffp", 2), Pair("bk", 2),
                                               Pair("mwd", 1), Pair("zz", 1)));
  }

  pb::ListProgramsRequest bad;
  pb::ListProgramsResponse response;
  bad.set_page_size(-1);
  EXPECT_THAT(
      admin_stub_->ListPrograms(Context(Bearer(admin_token_)).get(), bad,
                                &response),
      GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("page_size")));
  bad.set_page_size(1);
  bad.set_page_token("not-a-token");
  EXPECT_THAT(
      admin_stub_->ListPrograms(Context(Bearer(admin_token_)).get(), bad,
                                &response),
      GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("page_token")));
}

// ---------------------------------------------------------------------------
// RegisterParty, ListParties.

TEST_F(ServiceTest, RegisterPartyReturnsATokenThatAuthenticatesAsTheParty) {
  ASSERT_THAT(AddProgram(FfpSpec(), "ffp-v1"), GrpcOk());
  tokens_["s1"] = RegisterOrDie(pb::SUPPLIER, "s1");
  const uint64_t size_before = ledger_->size();
  pb::RegisterPartyResponse response;
  ASSERT_THAT(Register(pb::BRAND, "b1", "reg-b1", &response), GrpcOk());
  EXPECT_EQ(ledger_->size(), size_before + 1);
  EXPECT_EQ(response.party().role(), pb::BRAND);
  EXPECT_EQ(response.party().party_id(), "b1");
  EXPECT_EQ(response.party().name(), "Party b1");
  EXPECT_EQ(response.party().seq(), size_before);
  EXPECT_THAT(response.token(), StartsWith("brand_"));
  EXPECT_GE(response.token().size(), 50u);

  // The ledger keeps only the token's hash.
  PL_ASSERT_OK_AND_ASSIGN(const StoredEntry entry,
                          ledger_->ReadEntry(size_before));
  EXPECT_EQ(entry.entry.kind(), kPartyRegistrationKind);
  EXPECT_EQ(entry.entry.actor(), "admin:admin");
  EXPECT_THAT(entry.bytes, Not(HasSubstr(response.token())));
  pb::PartyRegistration registration;
  ASSERT_TRUE(registration.ParseFromString(entry.entry.payload()));
  EXPECT_EQ(registration.token_sha256(),
            std::string(merkle::HashBytes(HashToken(response.token()))));

  // The token is the brand's: it reads programs, may not list parties, and
  // what it uploads is recorded as b1's.
  pb::GetProgramRequest get;
  get.set_program_id("ffp");
  pb::Program program;
  EXPECT_THAT(admin_stub_->GetProgram(Context(Bearer(response.token())).get(),
                                      get, &program),
              GrpcOk());
  pb::ListPartiesResponse parties;
  EXPECT_THAT(admin_stub_->ListParties(Context(Bearer(response.token())).get(),
                                       pb::ListPartiesRequest(), &parties),
              GrpcIs(grpc::StatusCode::PERMISSION_DENIED, HasSubstr("brand")));
  const UploadResult upload =
      Submit(Upload::Kind::kPurchases, Bearer(response.token()),
             "invoice_id,supplier_id,program_id,purchase_date,quantity,unit\n"
             "inv-1,s1,ffp,2025-02-01,100,lb\n");
  ASSERT_THAT(upload.status, GrpcOk());
  const std::vector<pb::PurchaseReport> reports =
      ReadPurchases(upload.receipt.ledger().first_seq(), 1, "brand:b1");
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].brand_id(), "b1");
}

TEST_F(ServiceTest, RegisterPartyRetryReturnsTheSameTokenAndAppendsNothing) {
  pb::RegisterPartyResponse first;
  ASSERT_THAT(Register(pb::SUPPLIER, "s1", "reg-s1", &first), GrpcOk());
  const uint64_t size_after_first = ledger_->size();
  pb::RegisterPartyResponse again;
  ASSERT_THAT(Register(pb::SUPPLIER, "s1", "reg-s1", &again), GrpcOk());
  EXPECT_EQ(ledger_->size(), size_after_first);
  EXPECT_EQ(again.token(), first.token());
  EXPECT_EQ(again.party().seq(), first.party().seq());
}

TEST_F(ServiceTest, RegisteringAPartyTwiceIsAlreadyExistsNamingIt) {
  pb::RegisterPartyResponse first;
  ASSERT_THAT(Register(pb::BRAND, "b1", "reg-b1", &first), GrpcOk());
  const uint64_t size_before = ledger_->size();
  pb::RegisterPartyResponse response;
  EXPECT_THAT(Register(pb::BRAND, "b1", "reg-b1-again", &response),
              GrpcIs(grpc::StatusCode::ALREADY_EXISTS,
                     HasSubstr("party_id \"b1\" is already registered")));
  EXPECT_THAT(Register(pb::SUPPLIER, "b1", "reg-b1-as-supplier", &response),
              GrpcIs(grpc::StatusCode::ALREADY_EXISTS, HasSubstr("\"b1\"")));
  EXPECT_THAT(Register(pb::AUDITOR, "admin", "reg-admin", &response),
              GrpcIs(grpc::StatusCode::ALREADY_EXISTS, HasSubstr("\"admin\"")));
  EXPECT_EQ(ledger_->size(), size_before);
}

TEST_F(ServiceTest, RegisterPartyRefusesBadRequests) {
  const uint64_t size_before = ledger_->size();
  pb::RegisterPartyResponse response;
  EXPECT_THAT(Register(pb::ADMIN, "admin2", "reg-1", &response),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("role")));
  EXPECT_THAT(Register(pb::ROLE_UNSPECIFIED, "x1", "reg-2", &response),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("role")));
  EXPECT_THAT(Register(static_cast<pb::Role>(17), "x1", "reg-3", &response),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("role")));
  EXPECT_THAT(
      Register(pb::BRAND, "Brand One", "reg-4", &response),
      GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("party_id")));
  EXPECT_THAT(
      Register(pb::BRAND, "b1", "", &response),
      GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("request_id")));
  pb::RegisterPartyRequest request;
  request.set_request_id("reg-5");
  request.set_role(pb::BRAND);
  request.set_party_id("b1");
  EXPECT_THAT(admin_stub_->RegisterParty(Context(Bearer(admin_token_)).get(),
                                         request, &response),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("name")));
  EXPECT_EQ(ledger_->size(), size_before);
}

TEST_F(ServiceTest, ListPartiesFiltersByRoleAndPages) {
  SetUpProgramAndParties();
  const auto list = [&](pb::Role role, int page_size,
                        const std::string& authorization) {
    std::vector<std::string> ids;
    std::string token;
    int pages = 0;
    do {
      pb::ListPartiesRequest request;
      request.set_role(role);
      request.set_page_size(page_size);
      request.set_page_token(token);
      pb::ListPartiesResponse response;
      EXPECT_THAT(admin_stub_->ListParties(Context(authorization).get(),
                                           request, &response),
                  GrpcOk());
      if (page_size > 0) {
        EXPECT_LE(response.parties_size(), page_size);
      }
      for (const pb::Party& party : response.parties()) {
        if (role != pb::ROLE_UNSPECIFIED) {
          EXPECT_EQ(party.role(), role);
        }
        ids.push_back(party.party_id());
      }
      token = response.next_page_token();
    } while (!token.empty() && ++pages < 20);
    return ids;
  };
  const std::string admin = Bearer(admin_token_);
  EXPECT_THAT(list(pb::BRAND, 1, admin), ElementsAre("b1", "b2"));
  EXPECT_THAT(list(pb::SUPPLIER, 1, admin), ElementsAre("s1", "s2"));
  EXPECT_THAT(list(pb::AUDITOR, 2, admin), ElementsAre("a1"));
  EXPECT_THAT(list(pb::ADMIN, 1, admin), ElementsAre("admin"));
  EXPECT_THAT(list(pb::ROLE_UNSPECIFIED, 2, admin),
              ElementsAre("admin", "b1", "b2", "s1", "s2", "a1"));
  EXPECT_THAT(list(pb::ROLE_UNSPECIFIED, 0, Bearer(tokens_["a1"])),
              ElementsAre("admin", "b1", "b2", "s1", "s2", "a1"));
}

// ---------------------------------------------------------------------------
// Who may call what.

TEST_F(ServiceTest, AuthorizationMatrix) {
  SetUpProgramAndParties();
  const uint64_t size_before = ledger_->size();
  const std::string good_purchases =
      "invoice_id,supplier_id,program_id,purchase_date,quantity,unit\n"
      "inv-1,s1,ffp,2025-02-01,100,lb\n";
  const std::string good_payments =
      "payment_id,supplier_id,program_id,paid_date,amount,currency\n"
      "pay-1,s1,ffp,2025-02-01,1.00,USD\n";

  // Every RPC, called with the given authorization value.
  using Call = std::function<grpc::Status(const std::string&)>;
  int counter = 0;
  const std::map<std::string, Call> calls = {
      {"AddProgramVersion",
       [&](const std::string& auth) {
         pb::ProgramVersionSpec spec = FfpSpec();
         spec.set_program_id(absl::StrCat("p", ++counter));
         return AddProgram(spec, absl::StrCat("authz-", counter), nullptr,
                           auth.empty() ? "none" : auth);
       }},
      {"RegisterParty",
       [&](const std::string& auth) {
         pb::RegisterPartyResponse response;
         ++counter;
         return Register(pb::BRAND, absl::StrCat("x", counter),
                         absl::StrCat("authz-", counter), &response,
                         auth.empty() ? "none" : auth);
       }},
      {"GetProgram",
       [&](const std::string& auth) {
         pb::GetProgramRequest request;
         request.set_program_id("ffp");
         pb::Program program;
         return admin_stub_->GetProgram(Context(auth).get(), request, &program);
       }},
      {"ListPrograms",
       [&](const std::string& auth) {
         pb::ListProgramsResponse response;
         return admin_stub_->ListPrograms(Context(auth).get(),
                                          pb::ListProgramsRequest(), &response);
       }},
      {"ListParties",
       [&](const std::string& auth) {
         pb::ListPartiesResponse response;
         return admin_stub_->ListParties(Context(auth).get(),
                                         pb::ListPartiesRequest(), &response);
       }},
      {"SubmitPurchases",
       [&](const std::string& auth) {
         return Submit(Upload::Kind::kPurchases, auth, good_purchases).status;
       }},
      {"SubmitPayments",
       [&](const std::string& auth) {
         return Submit(Upload::Kind::kPayments, auth, good_payments).status;
       }},
  };
  // Values that are not a bearer token, and tokens no party holds. (The
  // AddProgram and Register helpers read "" as "the admin's", so a missing
  // header is sent separately below.)
  for (const auto& [name, call] : calls) {
    SCOPED_TRACE(name);
    EXPECT_THAT(call("none"), GrpcIs(grpc::StatusCode::UNAUTHENTICATED));
    EXPECT_THAT(call("Basic dXNlcjpwYXNz"),
                GrpcIs(grpc::StatusCode::UNAUTHENTICATED));
    EXPECT_THAT(call("Bearer "), GrpcIs(grpc::StatusCode::UNAUTHENTICATED));
    EXPECT_THAT(call("Bearer garbage"),
                GrpcIs(grpc::StatusCode::PERMISSION_DENIED));
    EXPECT_THAT(call(absl::StrCat("Bearer ", admin_token_, "x")),
                GrpcIs(grpc::StatusCode::PERMISSION_DENIED));
  }
  // Truly absent metadata.
  {
    pb::GetProgramRequest request;
    request.set_program_id("ffp");
    pb::Program program;
    EXPECT_THAT(admin_stub_->GetProgram(Context("").get(), request, &program),
                GrpcIs(grpc::StatusCode::UNAUTHENTICATED));
    pb::AddProgramVersionRequest add;
    add.set_request_id("no-token");
    *add.mutable_version() = FfpSpec();
    EXPECT_THAT(
        admin_stub_->AddProgramVersion(Context("").get(), add, &program),
        GrpcIs(grpc::StatusCode::UNAUTHENTICATED));
    pb::RegisterPartyRequest reg;
    reg.set_request_id("no-token");
    reg.set_role(pb::BRAND);
    reg.set_party_id("x0");
    reg.set_name("X");
    pb::RegisterPartyResponse response;
    EXPECT_THAT(admin_stub_->RegisterParty(Context("").get(), reg, &response),
                GrpcIs(grpc::StatusCode::UNAUTHENTICATED));
    EXPECT_THAT(Submit(Upload::Kind::kPurchases, "", good_purchases).status,
                GrpcIs(grpc::StatusCode::UNAUTHENTICATED));
    EXPECT_THAT(Submit(Upload::Kind::kPayments, "", good_payments).status,
                GrpcIs(grpc::StatusCode::UNAUTHENTICATED));
  }
  EXPECT_EQ(ledger_->size(), size_before);

  // Role by role. What is expected of each registered role:
  //   admin: all but uploads; brand: reads of programs and uploads;
  //   supplier: reads of programs; auditor: reads of programs and parties.
  const std::map<std::string, std::set<std::string>> allowed = {
      {"admin",
       {"AddProgramVersion", "RegisterParty", "GetProgram", "ListPrograms",
        "ListParties"}},
      {"b1",
       {"GetProgram", "ListPrograms", "SubmitPurchases", "SubmitPayments"}},
      {"s1", {"GetProgram", "ListPrograms"}},
      {"a1", {"GetProgram", "ListPrograms", "ListParties"}},
  };
  for (const auto& [party, rpcs] : allowed) {
    const std::string token =
        party == "admin" ? admin_token_ : tokens_.at(party);
    for (const auto& [name, call] : calls) {
      SCOPED_TRACE(absl::StrCat(party, " calls ", name));
      if (rpcs.count(name) > 0) {
        EXPECT_THAT(call(Bearer(token)), GrpcOk());
      } else {
        const uint64_t size = ledger_->size();
        EXPECT_THAT(call(Bearer(token)),
                    GrpcIs(grpc::StatusCode::PERMISSION_DENIED,
                           HasSubstr("may not make this call")));
        EXPECT_EQ(ledger_->size(), size);
      }
    }
  }
}

// ---------------------------------------------------------------------------
// SubmitPurchases, SubmitPayments.

constexpr char kGoodPurchases[] =
    "invoice_id,supplier_id,program_id,purchase_date,quantity,unit\n"
    "inv-1,s1,ffp,2025-02-28,1000,lb\n"
    "inv-2,s2,ffp,2025-03-01,1000,lb\n"
    "inv-3,s1,ffp,2025-02-10,1000,kg\n";
// 1000 lb x 0.01 = 10.00; 1000 lb x 0.015 = 15.00; 1000 kg = 2204.6226218
// lb x 0.01 = 22.046226; total 47.046226.
constexpr char kGoodPurchasesTotal[] = "47.046226";

TEST_F(ServiceTest, SubmitPurchasesAppendsTheFileAndReturnsAReceipt) {
  SetUpProgramAndParties();
  const uint64_t size_before = ledger_->size();
  const UploadResult result =
      Submit(Upload::Kind::kPurchases, Bearer(tokens_["b1"]), kGoodPurchases);
  ASSERT_THAT(result.status, GrpcOk());
  const pb::UploadReceipt& receipt = result.receipt;
  EXPECT_EQ(receipt.records(), 3u);
  EXPECT_FALSE(receipt.replayed());
  EXPECT_EQ(receipt.ledger().first_seq(), size_before);
  EXPECT_EQ(receipt.ledger().entry_count(), 3u);
  EXPECT_EQ(receipt.ledger().tree_size(), size_before + 3);
  EXPECT_FALSE(receipt.ledger().replayed());
  EXPECT_THAT(receipt.totals(),
              UnorderedElementsAre(Pair("USD", kGoodPurchasesTotal)));
  EXPECT_EQ(ledger_->size(), size_before + 3);

  const std::vector<pb::PurchaseReport> reports =
      ReadPurchases(size_before, 3, "brand:b1");
  ASSERT_EQ(reports.size(), 3u);
  const struct {
    const char* invoice;
    const char* supplier;
    int64_t premium_micros;
    uint64_t version_seq;
  } expected[] = {
      // The first version is seq 1 (after the admin at 0), the second 2.
      {"inv-1", "s1", 10'000'000, 1},
      {"inv-2", "s2", 15'000'000, 2},
      {"inv-3", "s1", 22'046'226, 1},
  };
  for (size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(expected[i].invoice);
    EXPECT_EQ(reports[i].brand_id(), "b1");
    EXPECT_EQ(reports[i].invoice_id(), expected[i].invoice);
    EXPECT_EQ(reports[i].supplier_id(), expected[i].supplier);
    EXPECT_EQ(reports[i].program_id(), "ffp");
    EXPECT_EQ(reports[i].premium_micros(), expected[i].premium_micros);
    EXPECT_EQ(reports[i].worker_premium_micros(), expected[i].premium_micros);
    EXPECT_EQ(reports[i].program_version_seq(), expected[i].version_seq);
    EXPECT_EQ(reports[i].source_line(), i + 2);
  }
  // The program versions really are at those seqs.
  for (const uint64_t seq : {1, 2}) {
    PL_ASSERT_OK_AND_ASSIGN(const StoredEntry entry, ledger_->ReadEntry(seq));
    EXPECT_EQ(entry.entry.kind(), kProgramVersionKind);
  }
}

TEST_F(ServiceTest, SameFileAgainIsReplayedAndAppendsNothing) {
  SetUpProgramAndParties();
  const UploadResult first =
      Submit(Upload::Kind::kPurchases, Bearer(tokens_["b1"]), kGoodPurchases);
  ASSERT_THAT(first.status, GrpcOk());
  const uint64_t size_after_first = ledger_->size();
  // Split differently: the same bytes are the same file.
  const UploadResult again = Submit(
      Upload::Kind::kPurchases, Bearer(tokens_["b1"]), kGoodPurchases, 1000);
  ASSERT_THAT(again.status, GrpcOk());
  EXPECT_TRUE(again.receipt.replayed());
  EXPECT_EQ(again.receipt.records(), 3u);
  EXPECT_EQ(again.receipt.ledger().first_seq(),
            first.receipt.ledger().first_seq());
  EXPECT_EQ(again.receipt.ledger().entry_count(), 3u);
  EXPECT_THAT(again.receipt.totals(),
              UnorderedElementsAre(Pair("USD", kGoodPurchasesTotal)));
  EXPECT_EQ(ledger_->size(), size_after_first);
}

TEST_F(ServiceTest, InvoicesRecordedByAnEarlierFileAreNamedByLine) {
  SetUpProgramAndParties();
  ASSERT_THAT(
      Submit(Upload::Kind::kPurchases, Bearer(tokens_["b1"]), kGoodPurchases)
          .status,
      GrpcOk());
  const uint64_t size_before = ledger_->size();
  // Another file: two invoices already recorded (lines 3 and 4), one new.
  const UploadResult result =
      Submit(Upload::Kind::kPurchases, Bearer(tokens_["b1"]),
             "invoice_id,supplier_id,program_id,purchase_date,quantity,unit\n"
             "inv-9,s1,ffp,2025-02-28,5,lb\n"
             "inv-1,s1,ffp,2025-02-28,1000,lb\n"
             "inv-3,s2,ffp,2025-02-11,7,lb\n");
  EXPECT_THAT(
      result.status,
      GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
             AllOf(StartsWith("2 bad rows (2 errors): "),
                   HasSubstr("line 3, column invoice_id: invoice is already "
                             "recorded"),
                   HasSubstr("line 4, column invoice_id: invoice is already "
                             "recorded"),
                   Not(HasSubstr("line 2")))));
  EXPECT_EQ(ledger_->size(), size_before);

  // Payments likewise.
  ASSERT_THAT(
      Submit(Upload::Kind::kPayments, Bearer(tokens_["b1"]),
             "payment_id,supplier_id,program_id,paid_date,amount,currency\n"
             "pay-1,s1,ffp,2025-03-14,10.00,USD\n")
          .status,
      GrpcOk());
  const uint64_t size_after_payment = ledger_->size();
  EXPECT_THAT(
      Submit(Upload::Kind::kPayments, Bearer(tokens_["b1"]),
             "payment_id,supplier_id,program_id,paid_date,amount,currency\n"
             "pay-2,s1,ffp,2025-03-14,10.00,USD\n"
             "pay-1,s1,ffp,2025-03-15,11.00,USD\n")
          .status,
      GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
             StartsWith("1 bad row (1 error): line 3, column payment_id: "
                        "payment is already recorded")));
  EXPECT_EQ(ledger_->size(), size_after_payment);
}

TEST_F(ServiceTest, BadFileIsRefusedNamingLineAndColumn) {
  SetUpProgramAndParties();
  const uint64_t size_before = ledger_->size();
  const UploadResult result =
      Submit(Upload::Kind::kPurchases, Bearer(tokens_["b1"]),
             "invoice_id,supplier_id,program_id,purchase_date,quantity,unit\n"
             "inv-1,s1,ffp,2025-02-28,1000,lb\n"
             "inv-2,s1,ffp,2025-02-28,1e3,lb\n"
             "inv-3,s9,ffp,2025-02-28,10,lb\n");
  EXPECT_THAT(result.status,
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     AllOf(StartsWith("2 bad rows (2 errors): "),
                           HasSubstr("line 3, column quantity"),
                           HasSubstr("line 4, column supplier_id"))));
  EXPECT_EQ(ledger_->size(), size_before);

  // A supplier id that belongs to a brand is not a supplier.
  EXPECT_THAT(
      Submit(Upload::Kind::kPurchases, Bearer(tokens_["b1"]),
             "invoice_id,supplier_id,program_id,purchase_date,quantity,unit\n"
             "inv-1,b2,ffp,2025-02-28,1000,lb\n")
          .status,
      GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
             HasSubstr("line 2, column supplier_id")));
  // A bad header.
  EXPECT_THAT(
      Submit(Upload::Kind::kPurchases, Bearer(tokens_["b1"]),
             "invoice_id,supplier_id,program_id,purchase_date,quantity\n"
             "inv-1,s1,ffp,2025-02-28,1000\n")
          .status,
      GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
             HasSubstr("missing columns: unit")));
  // An empty file, and a payments file sent as purchases.
  EXPECT_THAT(
      Submit(Upload::Kind::kPurchases, Bearer(tokens_["b1"]), "").status,
      GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("empty")));
  EXPECT_THAT(
      Submit(Upload::Kind::kPurchases, Bearer(tokens_["b1"]),
             "payment_id,supplier_id,program_id,paid_date,amount,currency\n"
             "pay-1,s1,ffp,2025-03-14,10.00,USD\n")
          .status,
      GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("bad header row")));
  EXPECT_EQ(ledger_->size(), size_before);
}

TEST_F(ServiceTest, SubmitPaymentsAppendsTheFile) {
  SetUpProgramAndParties();
  const uint64_t size_before = ledger_->size();
  const std::string file =
      "payment_id,supplier_id,program_id,paid_date,amount,currency\r\n"
      "pay-1,s1,ffp,2025-03-14,10.00,USD\r\n"
      "pay-2,s2,ffp,2025-03-15,18.52,USD\r\n";
  const UploadResult result =
      Submit(Upload::Kind::kPayments, Bearer(tokens_["b2"]), file);
  ASSERT_THAT(result.status, GrpcOk());
  EXPECT_EQ(result.receipt.records(), 2u);
  EXPECT_EQ(result.receipt.ledger().first_seq(), size_before);
  EXPECT_EQ(result.receipt.ledger().entry_count(), 2u);
  // 10.00 + 18.52.
  EXPECT_THAT(result.receipt.totals(),
              UnorderedElementsAre(Pair("USD", "28.52")));
  EXPECT_EQ(ledger_->size(), size_before + 2);
  PL_ASSERT_OK_AND_ASSIGN(const StoredEntry entry,
                          ledger_->ReadEntry(size_before + 1));
  EXPECT_EQ(entry.entry.kind(), kPremiumPaymentKind);
  EXPECT_EQ(entry.entry.actor(), "brand:b2");
  pb::PremiumPayment payment;
  ASSERT_TRUE(payment.ParseFromString(entry.entry.payload()));
  EXPECT_EQ(payment.brand_id(), "b2");
  EXPECT_EQ(payment.payment_id(), "pay-2");
  EXPECT_EQ(payment.supplier_id(), "s2");
  EXPECT_EQ(payment.amount_micros(), 18'520'000);
  EXPECT_EQ(payment.currency(), "USD");
  EXPECT_EQ(payment.source_line(), 3u);

  const UploadResult again =
      Submit(Upload::Kind::kPayments, Bearer(tokens_["b2"]), file, 3);
  ASSERT_THAT(again.status, GrpcOk());
  EXPECT_TRUE(again.receipt.replayed());
  EXPECT_EQ(ledger_->size(), size_before + 2);

  // A bad amount names its line and column, and nothing is appended.
  EXPECT_THAT(
      Submit(Upload::Kind::kPayments, Bearer(tokens_["b2"]),
             "payment_id,supplier_id,program_id,paid_date,amount,currency\n"
             "pay-3,s1,ffp,2025-03-14,10.005,USD\n")
          .status,
      GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
             HasSubstr("line 2, column amount")));
  EXPECT_EQ(ledger_->size(), size_before + 2);
}

TEST_F(ServiceTest, StreamsMustStartWithExactlyOneHeader) {
  SetUpProgramAndParties();
  const uint64_t size_before = ledger_->size();
  for (const Framing framing : {Framing::kNoHeader, Framing::kHeaderTwice}) {
    EXPECT_THAT(
        Submit(Upload::Kind::kPurchases, Bearer(tokens_["b1"]), kGoodPurchases,
               7, "", framing)
            .status,
        GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("header")));
  }
  // No message at all.
  EXPECT_THAT(Submit(Upload::Kind::kPayments, Bearer(tokens_["b1"]), "", 7, "",
                     Framing::kNoHeader)
                  .status,
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("header")));
  // A header and no data: an empty file.
  EXPECT_THAT(Submit(Upload::Kind::kPurchases, Bearer(tokens_["b1"]),
                     kGoodPurchases, 7, "", Framing::kHeaderOnly)
                  .status,
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("empty")));
  // A malformed request id.
  EXPECT_THAT(
      Submit(Upload::Kind::kPurchases, Bearer(tokens_["b1"]), kGoodPurchases, 7,
             "has space")
          .status,
      GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("request_id")));
  EXPECT_EQ(ledger_->size(), size_before);
}

TEST_F(ServiceTest, ExplicitRequestIdIsTheIdempotencyKey) {
  SetUpProgramAndParties();
  const UploadResult first =
      Submit(Upload::Kind::kPurchases, Bearer(tokens_["b1"]), kGoodPurchases, 7,
             "upload-2025-03");
  ASSERT_THAT(first.status, GrpcOk());
  PL_ASSERT_OK_AND_ASSIGN(
      const StoredEntry entry,
      ledger_->ReadEntry(first.receipt.ledger().first_seq()));
  EXPECT_EQ(entry.entry.idempotency_key(), "upload-2025-03");
  const uint64_t size_before = ledger_->size();
  // The same id for another file.
  EXPECT_THAT(
      Submit(Upload::Kind::kPurchases, Bearer(tokens_["b1"]),
             "invoice_id,supplier_id,program_id,purchase_date,quantity,unit\n"
             "inv-77,s1,ffp,2025-02-28,5,lb\n",
             7, "upload-2025-03")
          .status,
      GrpcIs(grpc::StatusCode::ALREADY_EXISTS));
  EXPECT_EQ(ledger_->size(), size_before);
}

TEST_F(ServiceTest, TwoBrandsMayUseTheSameInvoiceId) {
  SetUpProgramAndParties();
  const UploadResult b1 =
      Submit(Upload::Kind::kPurchases, Bearer(tokens_["b1"]), kGoodPurchases);
  ASSERT_THAT(b1.status, GrpcOk());
  const uint64_t size_before = ledger_->size();
  // The very same bytes: idempotency keys and invoice ids are per brand.
  const UploadResult b2 =
      Submit(Upload::Kind::kPurchases, Bearer(tokens_["b2"]), kGoodPurchases);
  ASSERT_THAT(b2.status, GrpcOk());
  EXPECT_FALSE(b2.receipt.replayed());
  EXPECT_EQ(b2.receipt.ledger().first_seq(), size_before);
  EXPECT_EQ(ledger_->size(), size_before + 3);
  const std::vector<pb::PurchaseReport> reports =
      ReadPurchases(size_before, 3, "brand:b2");
  ASSERT_EQ(reports.size(), 3u);
  for (const pb::PurchaseReport& report : reports) {
    EXPECT_EQ(report.brand_id(), "b2");
  }
  EXPECT_EQ(reports[0].invoice_id(), "inv-1");
}

class SmallUploadLimitTest : public ServiceTest {
 protected:
  SmallUploadLimitTest()
      : ServiceTest(
            UploadLimits{.file_bytes_max = 200, .chunk_bytes_max = 64}) {}
};

TEST_F(SmallUploadLimitTest, AnUploadOverTheLimitIsResourceExhausted) {
  SetUpProgramAndParties();
  const std::string header =
      "invoice_id,supplier_id,program_id,purchase_date,quantity,unit\n";
  const std::string row = "inv-1,s1,ffp,2025-02-28,1000,lb\n";
  // Blank lines pad the file to exactly the limit: accepted.
  std::string at_limit = header + row;
  at_limit += std::string(200 - at_limit.size(), '\n');
  ASSERT_EQ(at_limit.size(), 200u);
  const UploadResult ok =
      Submit(Upload::Kind::kPurchases, Bearer(tokens_["b1"]), at_limit, 50);
  ASSERT_THAT(ok.status, GrpcOk());
  EXPECT_EQ(ok.receipt.records(), 1u);

  const uint64_t size_before = ledger_->size();
  std::string over = header;
  for (int i = 2; i <= 6; ++i) {
    absl::StrAppend(&over, "inv-x", i, ",s1,ffp,2025-02-28,1000,lb\n");
  }
  ASSERT_GT(over.size(), 200u);
  EXPECT_THAT(
      Submit(Upload::Kind::kPurchases, Bearer(tokens_["b1"]), over, 50).status,
      GrpcIs(grpc::StatusCode::RESOURCE_EXHAUSTED, HasSubstr("200")));
  // One byte over, the bytes past the limit being blank lines.
  EXPECT_THAT(Submit(Upload::Kind::kPurchases, Bearer(tokens_["b2"]),
                     at_limit + "\n", 50)
                  .status,
              GrpcIs(grpc::StatusCode::RESOURCE_EXHAUSTED));
  // One message over the per-message limit.
  EXPECT_THAT(Submit(Upload::Kind::kPayments, Bearer(tokens_["b2"]),
                     "payment_id,supplier_id,program_id,paid_date,amount,"
                     "currency\npay-1,s1,ffp,2025-03-14,10.00,USD\n",
                     65)
                  .status,
              GrpcIs(grpc::StatusCode::RESOURCE_EXHAUSTED));
  EXPECT_EQ(ledger_->size(), size_before);
}

// ---------------------------------------------------------------------------
// The binaries, as a user drives them.

using CliTest = PremiumdCliTest;

TEST_F(CliTest, AUserSetsUpAProgramAndUploadsFiles) {
  ASSERT_NO_FATAL_FAILURE(StartPremiumd());
  const std::string admin_token = this->admin_token();
  const auto ctl = [&](const std::string& token_file,
                       const std::vector<std::string>& args) {
    return Ctl(token_file, args);
  };

  CommandResult program = ctl(
      admin_token, {"program", "add", "--id", "ffp", "--name",
                    "Fair Food Program", "--currency", "USD", "--unit", "lb",
                    "--worker-rate", "0.01", "--effective", "2025-01-01"});
  ASSERT_EQ(program.exit_code, 0) << program.err;
  EXPECT_THAT(program.out, HasSubstr("ffp"));
  EXPECT_EQ(program.err, "");

  const std::string brand_token = dir_.Sub("b1.token");
  CommandResult brand =
      ctl(admin_token, {"party", "add", "--role", "brand", "--id", "b1",
                        "--name", "Brand One", "--token-out", brand_token});
  ASSERT_EQ(brand.exit_code, 0) << brand.err;
  struct stat info;
  ASSERT_EQ(stat(brand_token.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  const std::string token_text = ReadFileOrDie(brand_token);
  EXPECT_THAT(token_text, StartsWith("brand_"));
  EXPECT_THAT(brand.out, HasSubstr(absl::StripSuffix(token_text, "\n")));

  CommandResult supplier =
      ctl(admin_token, {"party", "add", "--role", "supplier", "--id", "s1",
                        "--name", "Grower One"});
  ASSERT_EQ(supplier.exit_code, 0) << supplier.err;
  EXPECT_THAT(supplier.out, HasSubstr("token: supplier_"));

  const std::string good = dir_.Sub("good.csv");
  WriteFileOrDie(
      good,
      "invoice_id,supplier_id,program_id,purchase_date,quantity,unit\n"
      "inv-1,s1,ffp,2025-02-28,1000,lb\n"
      "inv-2,s1,ffp,2025-03-01,250.5,lb\n");
  CommandResult submit = ctl(brand_token, {"purchases", "submit", good});
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  // 1000 x 0.01 + 250.5 x 0.01 = 12.505.
  EXPECT_THAT(submit.out, AllOf(HasSubstr("appended 2 purchases"),
                                HasSubstr("USD 12.505")));
  EXPECT_EQ(submit.err, "");

  CommandResult again = ctl(brand_token, {"purchases", "submit", good});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("nothing appended"));

  const std::string bad = dir_.Sub("bad.csv");
  WriteFileOrDie(
      bad,
      "invoice_id,supplier_id,program_id,purchase_date,quantity,unit\n"
      "inv-3,s1,ffp,2025-02-28,10,lb\n"
      "inv-4,s1,ffp,2025-02-28,-10,lb\n");
  CommandResult refused = ctl(brand_token, {"purchases", "submit", bad});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_EQ(refused.out, "");
  EXPECT_THAT(refused.err, HasSubstr("line 3, column quantity"));
  EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1)
      << refused.err;
  EXPECT_TRUE(absl::EndsWith(refused.err, "\n")) << refused.err;

  const std::string payments = dir_.Sub("payments.csv");
  WriteFileOrDie(payments,
                 "payment_id,supplier_id,program_id,paid_date,amount,currency\n"
                 "pay-1,s1,ffp,2025-03-14,12.51,USD\n");
  CommandResult json =
      ctl(brand_token, {"payments", "submit", payments, "--output", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const nlohmann::json document = nlohmann::json::parse(json.out, nullptr,
                                                        /*allow_exceptions=*/
                                                        false);
  ASSERT_FALSE(document.is_discarded()) << json.out;
  ASSERT_TRUE(document.contains("records")) << json.out;
  EXPECT_EQ(document["records"], 1);
  EXPECT_EQ(document["replayed"], false);
  EXPECT_EQ(document["totals"]["USD"], "12.51");

  // A supplier may not submit purchases.
  const std::string supplier_token = dir_.Sub("s1.token");
  WriteFileOrDie(
      supplier_token,
      absl::StrCat(supplier.out.substr(supplier.out.find("token: ") + 7)));
  CommandResult denied = ctl(supplier_token, {"purchases", "submit", good});
  EXPECT_NE(denied.exit_code, 0);
  EXPECT_THAT(denied.err, HasSubstr("PERMISSION_DENIED"));

  // Stop the server and verify its data directory offline.
  StopPremiumdAndVerify();
}

}  // namespace
}  // namespace premium
