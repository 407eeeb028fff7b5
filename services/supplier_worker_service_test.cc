// Tests of SupplierService and WorkerService through a real gRPC server on
// 127.0.0.1:0, wired as premiumd wires them (a Ledger with the
// PremiumIndexer in a temporary directory, the in-process LedgerClient, the
// Authenticator, the server secret and AdminService, with the admin
// registered the way premiumd's BootstrapAdmin does). The worker service's
// failure limiter runs on a fake clock. The last tests drive the premiumd
// and premiumctl binaries as a supplier and a worker would.
//
// What is checked is what a court would ask: each worker sees their own
// lines and no one else's, every line a code unlocks is provably in the
// signed ledger, and nothing of a refused request is recorded.
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
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/checkpoint/checkpoint.h"
#include "ledger/ledger.h"
#include "ledger/merkle/hasher.h"
#include "ledger/merkle/proof.h"
#include "ledger/premium/indexer.h"
#include "ledger/premium/validation.h"
#include "ledger/testing/child_process.h"
#include "ledger/testing/ledger_testing.h"
#include "nlohmann/json.hpp"
#include "services/admin_service.h"
#include "services/auth.h"
#include "services/credentials.h"
#include "services/ledger_client.h"
#include "services/paystub_code.h"
#include "services/rate_limiter.h"
#include "services/server_secret.h"
#include "services/supplier_service.h"
#include "services/testing/service_testing.h"
#include "services/worker_service.h"
#include "wsr/premium/v1/admin.grpc.pb.h"
#include "wsr/premium/v1/records.pb.h"
#include "wsr/premium/v1/supplier.grpc.pb.h"
#include "wsr/premium/v1/worker.grpc.pb.h"

namespace premium {
namespace {

namespace pb = ::wsr::premium::v1;

using ::premium::testing::Bearer;
using ::premium::testing::CommandResult;
using ::premium::testing::Context;
using ::premium::testing::ExpectOneLine;
using ::premium::testing::FakeClock;
using ::premium::testing::GrpcIs;
using ::premium::testing::GrpcOk;
using ::premium::testing::IsOk;
using ::premium::testing::IsPrintedCode;
using ::premium::testing::kFastBackupPolling;
using ::premium::testing::kTestOrigin;
using ::premium::testing::PremiumdCliTest;
using ::premium::testing::ReadFileOrDie;
using ::premium::testing::RunCommand;
using ::premium::testing::TempDir;
using ::premium::testing::WriteFileOrDie;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pair;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

constexpr char kPayrollHeader[] =
    "program_id,worker_id,period_start,period_end,pay_date,hours,gross_wages,"
    "premium_amount,currency\n";

// Supplier s1's payroll for two weeks of January 2025; lines 2 to 4.
// Worker w1 has two lines, w2 one.
constexpr char kS1Payroll[] =
    "program_id,worker_id,period_start,period_end,pay_date,hours,gross_wages,"
    "premium_amount,currency\n"
    "ffp,w1,2025-01-06,2025-01-12,2025-01-17,40.5,607.50,12.15,USD\n"
    "ffp,w2,2025-01-06,2025-01-12,2025-01-17,38,570.00,11.40,USD\n"
    "ffp,w1,2025-01-13,2025-01-19,2025-01-24,42.25,633.75,12.68,USD\n";

// Supplier s2 also has a worker called w1: another person.
constexpr char kS2Payroll[] =
    "program_id,worker_id,period_start,period_end,pay_date,hours,gross_wages,"
    "premium_amount,currency\n"
    "ffp,w1,2025-01-06,2025-01-12,2025-01-17,10,150.00,3.00,USD\n";

// What a worker might type for `code`: lower case, no hyphens.
std::string Sloppy(absl::string_view code) {
  return absl::AsciiStrToLower(absl::StrReplaceAll(code, {{"-", ""}}));
}

pb::ProgramVersionSpec ProgramSpec(absl::string_view id,
                                   absl::string_view currency) {
  pb::ProgramVersionSpec spec;
  spec.set_program_id(std::string(id));
  spec.set_name(absl::StrCat("Program ", id));
  spec.set_currency(std::string(currency));
  spec.set_unit("lb");
  spec.set_worker_rate("0.01");
  spec.set_effective_date("2025-01-01");
  return spec;
}

struct PayrollResult {
  grpc::Status status;
  pb::UploadPayrollResponse response;
};

class SupplierWorkerTest : public ::testing::Test {
 protected:
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
        [] { return absl::CivilDay(2025, 1, 10); });
    supplier_service_ = std::make_unique<SupplierServiceImpl>(
        client_.get(), authenticator_.get(), secret_.get());
    FailureLimitOptions limits;
    limits.clock = clock_.AsFunction();
    worker_service_ =
        std::make_unique<WorkerServiceImpl>(client_.get(), limits);

    PL_ASSERT_OK_AND_ASSIGN(admin_token_, testing::BootstrapAdmin(*ledger_));

    server_ = testing::StartLocalServer(
        {admin_service_.get(), supplier_service_.get(), worker_service_.get()},
        &address_);
    ASSERT_NE(server_, nullptr);
    channel_ =
        grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
    admin_stub_ = pb::AdminService::NewStub(channel_);
    supplier_stub_ = pb::SupplierService::NewStub(channel_);
    worker_stub_ = pb::WorkerService::NewStub(channel_);
    ASSERT_NO_FATAL_FAILURE(SetUpProgramsAndParties());
  }

  void TearDown() override {
    admin_stub_.reset();
    supplier_stub_.reset();
    worker_stub_.reset();
    channel_.reset();
    testing::StopLocalServer(&server_);
  }

  std::string RegisterOrDie(pb::Role role, const std::string& party_id) {
    return testing::RegisterOrDie(*admin_stub_, admin_token_, role, party_id);
  }

  // Programs ffp (USD) and eu (EUR); suppliers s1 and s2, brand b1,
  // auditor a1.
  void SetUpProgramsAndParties() {
    for (const auto& [id, currency] :
         {std::pair<const char*, const char*>{"ffp", "USD"}, {"eu", "EUR"}}) {
      pb::AddProgramVersionRequest request;
      request.set_request_id(absl::StrCat("program-", id));
      *request.mutable_version() = ProgramSpec(id, currency);
      pb::Program program;
      ASSERT_THAT(admin_stub_->AddProgramVersion(
                      Context(Bearer(admin_token_)).get(), request, &program),
                  GrpcOk());
    }
    tokens_["s1"] = RegisterOrDie(pb::SUPPLIER, "s1");
    tokens_["s2"] = RegisterOrDie(pb::SUPPLIER, "s2");
    tokens_["b1"] = RegisterOrDie(pb::BRAND, "b1");
    tokens_["a1"] = RegisterOrDie(pb::AUDITOR, "a1");
  }

  // Streams `file` as one payroll upload: a header, then chunks.
  PayrollResult UploadPayroll(const std::string& authorization,
                              absl::string_view file, size_t chunk_bytes = 7,
                              const std::string& request_id = "") {
    PayrollResult result;
    auto context = Context(authorization);
    std::unique_ptr<grpc::ClientWriter<pb::UploadChunk>> writer =
        supplier_stub_->UploadPayroll(context.get(), &result.response);
    result.status = testing::StreamUpload(writer.get(), file, chunk_bytes,
                                          request_id, "payroll.csv");
    return result;
  }

  // Uploads as `supplier` and returns the codes, in file order.
  std::vector<std::string> UploadOrDie(const std::string& supplier,
                                       absl::string_view file) {
    PayrollResult result = UploadPayroll(Bearer(tokens_[supplier]), file);
    EXPECT_THAT(result.status, GrpcOk());
    std::vector<std::string> codes;
    for (const pb::PaystubCode& code : result.response.codes()) {
      codes.push_back(code.code());
    }
    return codes;
  }

  grpc::Status Lookup(const std::string& code, pb::WorkerLookup* lookup) {
    pb::LookupCodeRequest request;
    request.set_code(code);
    return worker_stub_->LookupCode(Context().get(), request, lookup);
  }

  grpc::Status Dispute(const std::string& code, const std::string& amount,
                       const std::string& note,
                       pb::DisputeLineResponse* response) {
    pb::DisputeLineRequest request;
    request.set_code(code);
    request.set_paystub_amount(amount);
    request.set_note(note);
    return worker_stub_->DisputeLine(Context().get(), request, response);
  }

  pb::Entry ReadEntryOrDie(uint64_t seq) {
    absl::StatusOr<StoredEntry> entry = ledger_->ReadEntry(seq);
    EXPECT_THAT(entry, IsOk());
    return entry.ok() ? entry->entry : pb::Entry();
  }

  // What a worker's helper checks with nothing but the answer: the entry
  // bytes are the code's line, they hash into the checkpoint's tree, and the
  // checkpoint is signed by the key it names, which is the ledger's.
  void ExpectVerifies(const pb::WorkerLookup& lookup, const std::string& code) {
    pb::Entry entry;
    ASSERT_TRUE(entry.ParseFromString(lookup.entry_bytes()));
    EXPECT_EQ(entry.kind(), kPayrollLineKind);
    EXPECT_EQ(entry.seq(), lookup.line().seq());
    pb::PayrollLine line;
    ASSERT_TRUE(line.ParseFromString(entry.payload()));
    PL_ASSERT_OK_AND_ASSIGN(const std::string canonical,
                            NormalizePaystubCode(code));
    EXPECT_EQ(line.code_sha256(),
              std::string(merkle::HashBytes(PaystubCodeHash(canonical))));
    EXPECT_EQ(line.supplier_id(), lookup.supplier_id());
    EXPECT_EQ(line.worker_id(), lookup.worker_id());
    EXPECT_EQ(line.program_id(), lookup.line().program_id());
    EXPECT_EQ(line.period_start(), lookup.line().period_start());
    EXPECT_EQ(line.period_end(), lookup.line().period_end());
    EXPECT_EQ(line.pay_date(), lookup.line().pay_date());
    EXPECT_EQ(line.currency(), lookup.line().currency());

    const pb::InclusionProof& proof = lookup.inclusion_proof();
    const pb::Checkpoint& checkpoint = lookup.checkpoint();
    EXPECT_EQ(proof.leaf_index(), lookup.line().seq());
    EXPECT_EQ(proof.tree_size(), checkpoint.tree_size());
    EXPECT_GT(proof.tree_size(), proof.leaf_index());
    std::vector<merkle::Hash> hashes;
    for (const std::string& bytes : proof.hashes()) {
      PL_ASSERT_OK_AND_ASSIGN(const merkle::Hash hash,
                              merkle::HashFromBytes(bytes));
      hashes.push_back(hash);
    }
    PL_ASSERT_OK_AND_ASSIGN(const merkle::Hash root,
                            merkle::HashFromBytes(checkpoint.root_hash()));
    const merkle::Hash leaf = merkle::HashLeaf(lookup.entry_bytes());
    EXPECT_THAT(merkle::VerifyInclusion(leaf, proof.leaf_index(),
                                        proof.tree_size(), hashes, root),
                IsOk());
    // And the root is the ledger's own for that size.
    PL_ASSERT_OK_AND_ASSIGN(const merkle::Hash ledger_root,
                            ledger_->RootAt(checkpoint.tree_size()));
    EXPECT_EQ(root, ledger_root);

    EXPECT_EQ(checkpoint.origin(), kTestOrigin);
    EXPECT_EQ(checkpoint.body(),
              CheckpointBody(Checkpoint{checkpoint.origin(),
                                        checkpoint.tree_size(), root}));
    PL_ASSERT_OK_AND_ASSIGN(
        std::unique_ptr<CheckpointVerifier> verifier,
        CheckpointVerifier::FromPublicKeyPem(checkpoint.public_key_pem()));
    EXPECT_THAT(verifier->Verify(checkpoint.body(), checkpoint.signature()),
                IsOk());
    EXPECT_EQ(checkpoint.public_key_pem(),
              ledger_->verifier().public_key_pem());

    // The check is not vacuous: one changed byte of the entry, or of the
    // signed body, fails it.
    std::string tampered = lookup.entry_bytes();
    tampered[tampered.size() / 2] ^= 1;
    EXPECT_FALSE(merkle::VerifyInclusion(merkle::HashLeaf(tampered),
                                         proof.leaf_index(), proof.tree_size(),
                                         hashes, root)
                     .ok());
    std::string body = checkpoint.body();
    body[0] ^= 1;
    EXPECT_FALSE(verifier->Verify(body, checkpoint.signature()).ok());
  }

  TempDir dir_;
  PremiumIndexer indexer_;
  FakeClock clock_;
  std::unique_ptr<Ledger> ledger_;
  std::unique_ptr<LedgerClient> client_;
  std::unique_ptr<Authenticator> authenticator_;
  std::unique_ptr<ServerSecret> secret_;
  std::unique_ptr<AdminServiceImpl> admin_service_;
  std::unique_ptr<SupplierServiceImpl> supplier_service_;
  std::unique_ptr<WorkerServiceImpl> worker_service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::AdminService::Stub> admin_stub_;
  std::unique_ptr<pb::SupplierService::Stub> supplier_stub_;
  std::unique_ptr<pb::WorkerService::Stub> worker_stub_;
  std::string admin_token_;
  std::map<std::string, std::string> tokens_;
};

// ---------------------------------------------------------------------------
// UploadPayroll

TEST_F(SupplierWorkerTest, UploadReturnsOneCodePerLineInFileOrder) {
  const uint64_t size_before = ledger_->size();
  const PayrollResult result = UploadPayroll(Bearer(tokens_["s1"]), kS1Payroll);
  ASSERT_THAT(result.status, GrpcOk());
  const pb::UploadReceipt& receipt = result.response.receipt();
  EXPECT_EQ(receipt.records(), 3u);
  EXPECT_FALSE(receipt.replayed());
  EXPECT_EQ(receipt.ledger().first_seq(), size_before);
  EXPECT_EQ(receipt.ledger().entry_count(), 3u);
  EXPECT_EQ(receipt.ledger().tree_size(), size_before + 3);
  // 12.15 + 11.40 + 12.68 = 36.23
  EXPECT_THAT(receipt.totals(), UnorderedElementsAre(Pair("USD", "36.23")));
  EXPECT_EQ(ledger_->size(), size_before + 3);

  const auto& codes = result.response.codes();
  ASSERT_EQ(codes.size(), 3);
  const char* workers[] = {"w1", "w2", "w1"};
  const char* starts[] = {"2025-01-06", "2025-01-06", "2025-01-13"};
  const char* ends[] = {"2025-01-12", "2025-01-12", "2025-01-19"};
  std::set<std::string> distinct;
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(absl::StrCat("code ", i));
    const pb::PaystubCode& code = codes[i];
    EXPECT_EQ(code.worker_id(), workers[i]);
    EXPECT_EQ(code.program_id(), "ffp");
    EXPECT_EQ(code.period_start(), starts[i]);
    EXPECT_EQ(code.period_end(), ends[i]);
    EXPECT_EQ(code.line(), static_cast<uint64_t>(i + 2));
    EXPECT_EQ(code.seq(), receipt.ledger().first_seq() + i);
    EXPECT_TRUE(IsPrintedCode(code.code())) << code.code();
    distinct.insert(code.code());

    // The entry at that seq is that line, recorded for the supplier, and
    // holds the code's hash, never the code.
    const pb::Entry entry = ReadEntryOrDie(code.seq());
    EXPECT_EQ(entry.kind(), kPayrollLineKind);
    EXPECT_EQ(entry.actor(), "supplier:s1");
    pb::PayrollLine line;
    ASSERT_TRUE(line.ParseFromString(entry.payload()));
    EXPECT_EQ(line.supplier_id(), "s1");
    EXPECT_EQ(line.worker_id(), workers[i]);
    EXPECT_EQ(line.source_line(), static_cast<uint64_t>(i + 2));
    PL_ASSERT_OK_AND_ASSIGN(const std::string canonical,
                            NormalizePaystubCode(code.code()));
    EXPECT_EQ(line.code_sha256(),
              std::string(merkle::HashBytes(PaystubCodeHash(canonical))));
    EXPECT_THAT(entry.payload(), Not(HasSubstr(canonical)));
  }
  EXPECT_EQ(distinct.size(), 3u);
  // Field by field, the first line.
  pb::PayrollLine first;
  ASSERT_TRUE(first.ParseFromString(ReadEntryOrDie(codes[0].seq()).payload()));
  EXPECT_EQ(first.program_id(), "ffp");
  EXPECT_EQ(first.pay_date(), "2025-01-17");
  EXPECT_EQ(first.hours_micros(), 40'500'000);
  EXPECT_EQ(first.gross_wages_micros(), 607'500'000);
  EXPECT_EQ(first.premium_micros(), 12'150'000);
  EXPECT_EQ(first.currency(), "USD");
}

TEST_F(SupplierWorkerTest, SameFileAgainIsReplayedWithTheSameCodes) {
  const PayrollResult first =
      UploadPayroll(Bearer(tokens_["s1"]), kS1Payroll, 7);
  ASSERT_THAT(first.status, GrpcOk());
  const uint64_t size_after_first = ledger_->size();

  // Other chunking, same bytes.
  const PayrollResult again =
      UploadPayroll(Bearer(tokens_["s1"]), kS1Payroll, 1000);
  ASSERT_THAT(again.status, GrpcOk());
  EXPECT_TRUE(again.response.receipt().replayed());
  EXPECT_EQ(again.response.receipt().ledger().first_seq(),
            first.response.receipt().ledger().first_seq());
  EXPECT_EQ(ledger_->size(), size_after_first);
  ASSERT_EQ(again.response.codes_size(), first.response.codes_size());
  for (int i = 0; i < first.response.codes_size(); ++i) {
    EXPECT_EQ(again.response.codes(i).code(), first.response.codes(i).code());
    EXPECT_EQ(again.response.codes(i).seq(), first.response.codes(i).seq());
    EXPECT_EQ(again.response.codes(i).line(), first.response.codes(i).line());
  }
  // And the replayed codes work.
  pb::WorkerLookup lookup;
  EXPECT_THAT(Lookup(again.response.codes(1).code(), &lookup), GrpcOk());
  EXPECT_EQ(lookup.worker_id(), "w2");
}

TEST_F(SupplierWorkerTest, ConcurrentIdenticalUploadsAppendOnce) {
  // A supplier's retry racing its first attempt: one append, one set of
  // codes.
  const uint64_t size_before = ledger_->size();
  constexpr int kUploads = 4;
  std::vector<PayrollResult> results(kUploads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kUploads; ++i) {
    threads.emplace_back([this, &results, i] {
      results[i] =
          UploadPayroll(Bearer(tokens_.at("s1")), kS1Payroll, 5 + 11 * i);
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(ledger_->size(), size_before + 3);
  int appended = 0;
  for (const PayrollResult& result : results) {
    ASSERT_THAT(result.status, GrpcOk());
    if (!result.response.receipt().replayed()) ++appended;
    EXPECT_EQ(result.response.receipt().ledger().first_seq(), size_before);
    ASSERT_EQ(result.response.codes_size(), 3);
    for (int line = 0; line < 3; ++line) {
      EXPECT_EQ(result.response.codes(line).code(),
                results[0].response.codes(line).code());
    }
  }
  EXPECT_EQ(appended, 1);
}

TEST_F(SupplierWorkerTest, RequestIdNamesTheUpload) {
  const PayrollResult first =
      UploadPayroll(Bearer(tokens_["s1"]), kS2Payroll, 7, "payroll-2025-w2");
  ASSERT_THAT(first.status, GrpcOk());
  const uint64_t size = ledger_->size();
  // The same id and file: replayed, same code.
  const PayrollResult again =
      UploadPayroll(Bearer(tokens_["s1"]), kS2Payroll, 7, "payroll-2025-w2");
  ASSERT_THAT(again.status, GrpcOk());
  EXPECT_TRUE(again.response.receipt().replayed());
  ASSERT_EQ(again.response.codes_size(), 1);
  EXPECT_EQ(again.response.codes(0).code(), first.response.codes(0).code());
  // The same id with another file: refused, nothing appended.
  const PayrollResult other =
      UploadPayroll(Bearer(tokens_["s1"]),
                    absl::StrReplaceAll(kS2Payroll, {{"3.00", "4.00"}}), 7,
                    "payroll-2025-w2");
  // The refusal says why: the id was used before, not that a row is a
  // duplicate.
  EXPECT_THAT(other.status, GrpcIs(grpc::StatusCode::ALREADY_EXISTS,
                                   AllOf(HasSubstr("payroll-2025-w2"),
                                         Not(HasSubstr("line 2")))));
  EXPECT_EQ(ledger_->size(), size);
  // A malformed id is refused before the file is read.
  const PayrollResult malformed =
      UploadPayroll(Bearer(tokens_["s1"]), kS2Payroll, 7, "bad id with spaces");
  EXPECT_THAT(malformed.status, GrpcIs(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(ledger_->size(), size);
}

TEST_F(SupplierWorkerTest, SameFileFromAnotherSupplierGetsOtherCodes) {
  const std::vector<std::string> s1 = UploadOrDie("s1", kS2Payroll);
  const std::vector<std::string> s2 = UploadOrDie("s2", kS2Payroll);
  ASSERT_EQ(s1.size(), 1u);
  ASSERT_EQ(s2.size(), 1u);
  EXPECT_NE(s1[0], s2[0]);
  pb::WorkerLookup lookup;
  ASSERT_THAT(Lookup(s1[0], &lookup), GrpcOk());
  EXPECT_EQ(lookup.supplier_id(), "s1");
  ASSERT_THAT(Lookup(s2[0], &lookup), GrpcOk());
  EXPECT_EQ(lookup.supplier_id(), "s2");
}

TEST_F(SupplierWorkerTest, BadFileIsRefusedNamingLineAndColumn) {
  const uint64_t size_before = ledger_->size();
  const std::string bad = absl::StrCat(
      kPayrollHeader,
      "ffp,w1,2025-01-06,2025-01-12,2025-01-17,40.5,607.50,12.15,USD\n",
      "ffp,w2,2025-01-06,2025-01-12,2025-01-17,38.125,570.00,11.40,USD\n",
      "ffp,w3,2025-01-06,2025-01-12,2025-01-17,38,570.00,11.40,EUR\n");
  const PayrollResult result = UploadPayroll(Bearer(tokens_["s1"]), bad);
  EXPECT_THAT(result.status, GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                                    AllOf(HasSubstr("line 3, column hours"),
                                          HasSubstr("line 4, column currency"),
                                          Not(HasSubstr("line 2")))));
  EXPECT_EQ(ledger_->size(), size_before);

  // An unknown program, a bad header row, an empty file.
  for (const std::string& file :
       {absl::StrCat(kPayrollHeader,
                     "nope,w1,2025-01-06,2025-01-12,2025-01-17,1,1.00,"
                     "1.00,USD\n"),
        std::string("program_id,worker_id\nffp,w1\n"), std::string(""),
        std::string(kPayrollHeader)}) {
    EXPECT_THAT(UploadPayroll(Bearer(tokens_["s1"]), file).status,
                GrpcIs(grpc::StatusCode::INVALID_ARGUMENT))
        << file;
  }
  EXPECT_THAT(
      UploadPayroll(Bearer(tokens_["s1"]),
                    absl::StrCat(kPayrollHeader,
                                 "nope,w1,2025-01-06,2025-01-12,2025-01-17,1,"
                                 "1.00,1.00,USD\n"))
          .status,
      GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
             HasSubstr("line 2, column program_id")));
  EXPECT_EQ(ledger_->size(), size_before);
}

TEST_F(SupplierWorkerTest, OnlySuppliersMayUpload) {
  const uint64_t size_before = ledger_->size();
  for (const char* party : {"b1", "a1"}) {
    EXPECT_THAT(UploadPayroll(Bearer(tokens_[party]), kS1Payroll).status,
                GrpcIs(grpc::StatusCode::PERMISSION_DENIED))
        << party;
  }
  EXPECT_THAT(UploadPayroll(Bearer(admin_token_), kS1Payroll).status,
              GrpcIs(grpc::StatusCode::PERMISSION_DENIED));
  EXPECT_THAT(UploadPayroll("", kS1Payroll).status,
              GrpcIs(grpc::StatusCode::UNAUTHENTICATED));
  EXPECT_THAT(UploadPayroll(tokens_["s1"], kS1Payroll).status,
              GrpcIs(grpc::StatusCode::UNAUTHENTICATED));
  // A well-formed token no party holds.
  EXPECT_THAT(UploadPayroll(Bearer("supplier_NOTATOKEN"), kS1Payroll).status,
              GrpcIs(grpc::StatusCode::PERMISSION_DENIED));
  EXPECT_EQ(ledger_->size(), size_before);
}

// ---------------------------------------------------------------------------
// LookupCode

TEST_F(SupplierWorkerTest, LookupShowsThatWorkersLinesAtThatSupplierOnly) {
  const std::vector<std::string> s1 = UploadOrDie("s1", kS1Payroll);
  const std::vector<std::string> s2 = UploadOrDie("s2", kS2Payroll);
  ASSERT_EQ(s1.size(), 3u);
  ASSERT_EQ(s2.size(), 1u);
  const uint64_t s1_first = ledger_->size() - 4;

  // w1 at s1, through the code of their first line.
  pb::WorkerLookup w1;
  ASSERT_THAT(Lookup(s1[0], &w1), GrpcOk());
  EXPECT_EQ(w1.supplier_id(), "s1");
  EXPECT_EQ(w1.worker_id(), "w1");
  ASSERT_EQ(w1.lines_size(), 2);
  EXPECT_EQ(w1.lines(0).seq(), s1_first);
  EXPECT_EQ(w1.lines(0).program_id(), "ffp");
  EXPECT_EQ(w1.lines(0).period_start(), "2025-01-06");
  EXPECT_EQ(w1.lines(0).period_end(), "2025-01-12");
  EXPECT_EQ(w1.lines(0).pay_date(), "2025-01-17");
  EXPECT_EQ(w1.lines(0).hours(), "40.50");
  EXPECT_EQ(w1.lines(0).premium_amount(), "12.15");
  EXPECT_EQ(w1.lines(0).currency(), "USD");
  EXPECT_EQ(w1.lines(1).seq(), s1_first + 2);
  EXPECT_EQ(w1.lines(1).period_start(), "2025-01-13");
  EXPECT_EQ(w1.lines(1).hours(), "42.25");
  EXPECT_EQ(w1.lines(1).premium_amount(), "12.68");
  // 12.15 + 12.68 = 24.83
  EXPECT_THAT(w1.totals(), UnorderedElementsAre(Pair("USD", "24.83")));
  EXPECT_EQ(w1.line().seq(), s1_first);
  EXPECT_EQ(w1.line().premium_amount(), "12.15");
  ASSERT_NO_FATAL_FAILURE(ExpectVerifies(w1, s1[0]));

  // The code of w1's second line shows the same lines, that line as its own.
  pb::WorkerLookup w1_second;
  ASSERT_THAT(Lookup(s1[2], &w1_second), GrpcOk());
  EXPECT_EQ(w1_second.lines_size(), 2);
  EXPECT_EQ(w1_second.line().seq(), s1_first + 2);
  EXPECT_EQ(w1_second.line().period_start(), "2025-01-13");
  ASSERT_NO_FATAL_FAILURE(ExpectVerifies(w1_second, s1[2]));

  // w2 at s1 sees only their line.
  pb::WorkerLookup w2;
  ASSERT_THAT(Lookup(s1[1], &w2), GrpcOk());
  EXPECT_EQ(w2.worker_id(), "w2");
  ASSERT_EQ(w2.lines_size(), 1);
  EXPECT_EQ(w2.lines(0).seq(), s1_first + 1);
  EXPECT_EQ(w2.lines(0).premium_amount(), "11.40");
  EXPECT_THAT(w2.totals(), UnorderedElementsAre(Pair("USD", "11.40")));
  ASSERT_NO_FATAL_FAILURE(ExpectVerifies(w2, s1[1]));

  // w1 at s2 is another person: only the s2 line.
  pb::WorkerLookup other_w1;
  ASSERT_THAT(Lookup(s2[0], &other_w1), GrpcOk());
  EXPECT_EQ(other_w1.supplier_id(), "s2");
  EXPECT_EQ(other_w1.worker_id(), "w1");
  ASSERT_EQ(other_w1.lines_size(), 1);
  EXPECT_EQ(other_w1.lines(0).seq(), s1_first + 3);
  EXPECT_EQ(other_w1.lines(0).premium_amount(), "3.00");
  EXPECT_THAT(other_w1.totals(), UnorderedElementsAre(Pair("USD", "3.00")));
  ASSERT_NO_FATAL_FAILURE(ExpectVerifies(other_w1, s2[0]));

  // No answer carries another worker's seq or amount.
  for (const pb::WorkerLine& line : w1.lines()) {
    EXPECT_NE(line.seq(), s1_first + 1);
    EXPECT_NE(line.seq(), s1_first + 3);
  }
}

TEST_F(SupplierWorkerTest, TotalsArePerCurrency) {
  const std::vector<std::string> codes = UploadOrDie(
      "s1", absl::StrCat(
                kPayrollHeader,
                "ffp,w1,2025-01-06,2025-01-12,2025-01-17,40,600.00,12.15,USD\n",
                "eu,w1,2025-01-06,2025-01-12,2025-01-17,20,300.00,7.05,EUR\n",
                "ffp,w1,2025-01-13,2025-01-19,2025-01-24,40,600.00,0.85,USD\n",
                "eu,w1,2025-01-13,2025-01-19,2025-01-24,20,300.00,0.95,EUR\n"));
  ASSERT_EQ(codes.size(), 4u);
  pb::WorkerLookup lookup;
  ASSERT_THAT(Lookup(codes[1], &lookup), GrpcOk());
  EXPECT_EQ(lookup.lines_size(), 4);
  // USD 12.15 + 0.85 = 13.00; EUR 7.05 + 0.95 = 8.00.
  EXPECT_THAT(lookup.totals(),
              UnorderedElementsAre(Pair("USD", "13.00"), Pair("EUR", "8.00")));
  EXPECT_EQ(lookup.line().currency(), "EUR");
  EXPECT_EQ(lookup.line().premium_amount(), "7.05");
}

TEST_F(SupplierWorkerTest, ProofOfAnOlderLineVerifiesAgainstANewerTree) {
  const std::vector<std::string> codes = UploadOrDie("s1", kS1Payroll);
  ASSERT_EQ(codes.size(), 3u);
  pb::WorkerLookup before;
  ASSERT_THAT(Lookup(codes[1], &before), GrpcOk());
  UploadOrDie("s2", kS2Payroll);
  pb::WorkerLookup after;
  ASSERT_THAT(Lookup(codes[1], &after), GrpcOk());
  EXPECT_EQ(after.inclusion_proof().tree_size(),
            before.inclusion_proof().tree_size() + 1);
  EXPECT_EQ(after.entry_bytes(), before.entry_bytes());
  ASSERT_NO_FATAL_FAILURE(ExpectVerifies(after, codes[1]));
}

TEST_F(SupplierWorkerTest, CodeMayBeTypedLooselyAndUnknownCodesAreNotFound) {
  const std::vector<std::string> codes = UploadOrDie("s1", kS1Payroll);
  ASSERT_EQ(codes.size(), 3u);
  pb::WorkerLookup exact;
  ASSERT_THAT(Lookup(codes[1], &exact), GrpcOk());
  for (const std::string& typed :
       {Sloppy(codes[1]), absl::StrReplaceAll(codes[1], {{"-", " "}}),
        absl::StrReplaceAll(Sloppy(codes[1]), {{"0", "o"}, {"1", "l"}})}) {
    pb::WorkerLookup lookup;
    ASSERT_THAT(Lookup(typed, &lookup), GrpcOk()) << typed;
    EXPECT_EQ(lookup.line().seq(), exact.line().seq());
    EXPECT_EQ(lookup.entry_bytes(), exact.entry_bytes());
  }

  // A well-formed code no line has.
  std::string unknown = Sloppy(codes[1]);
  unknown[0] = unknown[0] == 'z' ? 'y' : 'z';
  pb::WorkerLookup lookup;
  EXPECT_THAT(Lookup(unknown, &lookup), GrpcIs(grpc::StatusCode::NOT_FOUND,
                                               HasSubstr("no payroll line")));
  EXPECT_THAT(Lookup("0000-0000-0000-0000", &lookup),
              GrpcIs(grpc::StatusCode::NOT_FOUND));
  // Not a code at all.
  EXPECT_THAT(Lookup("hello", &lookup),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_THAT(Lookup("", &lookup), GrpcIs(grpc::StatusCode::INVALID_ARGUMENT));
  // The supplier's token does not make a code: no other route to the lines.
  pb::LookupCodeRequest request;
  pb::WorkerLookup none;
  EXPECT_THAT(worker_stub_->LookupCode(Context(Bearer(tokens_["s1"])).get(),
                                       request, &none),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT));
}

TEST_F(SupplierWorkerTest, TenFailedLookupsLimitTheAddressUntilTheWindowEnds) {
  const std::vector<std::string> codes = UploadOrDie("s1", kS1Payroll);
  ASSERT_EQ(codes.size(), 3u);
  pb::WorkerLookup lookup;
  // Nine unknown codes and one malformed one: all count.
  for (int i = 0; i < 9; ++i) {
    EXPECT_THAT(Lookup(absl::StrCat("0000-0000-0000-000", i), &lookup),
                GrpcIs(grpc::StatusCode::NOT_FOUND))
        << i;
  }
  EXPECT_THAT(Lookup("not-a-code", &lookup),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT));
  // The eleventh lookup, even of a valid code, is refused with a retry time.
  EXPECT_THAT(Lookup(codes[0], &lookup),
              GrpcIs(grpc::StatusCode::RESOURCE_EXHAUSTED,
                     HasSubstr("try again in 60 s")));
  pb::DisputeLineResponse dispute;
  const uint64_t size = ledger_->size();
  EXPECT_THAT(Dispute(codes[0], "10.00", "", &dispute),
              GrpcIs(grpc::StatusCode::RESOURCE_EXHAUSTED));
  EXPECT_EQ(ledger_->size(), size);
  clock_.Advance(absl::Seconds(59));
  EXPECT_THAT(Lookup(codes[0], &lookup),
              GrpcIs(grpc::StatusCode::RESOURCE_EXHAUSTED,
                     HasSubstr("try again in 1 s")));

  // After the window, valid lookups work again.
  clock_.Advance(absl::Seconds(1));
  ASSERT_THAT(Lookup(codes[0], &lookup), GrpcOk());
  EXPECT_EQ(lookup.worker_id(), "w1");
  // And failures count anew.
  for (int i = 0; i < 9; ++i) {
    EXPECT_THAT(Lookup(absl::StrCat("0000-0000-0000-000", i), &lookup),
                GrpcIs(grpc::StatusCode::NOT_FOUND));
  }
  EXPECT_THAT(Lookup(codes[1], &lookup), GrpcOk());
  EXPECT_THAT(Lookup("0000-0000-0000-0009", &lookup),
              GrpcIs(grpc::StatusCode::NOT_FOUND));
  EXPECT_THAT(Lookup(codes[1], &lookup),
              GrpcIs(grpc::StatusCode::RESOURCE_EXHAUSTED));
}

TEST_F(SupplierWorkerTest, ValidLookupsAreNeverLimited) {
  const std::vector<std::string> codes = UploadOrDie("s1", kS1Payroll);
  ASSERT_EQ(codes.size(), 3u);
  pb::WorkerLookup lookup;
  for (int i = 0; i < 50; ++i) {
    ASSERT_THAT(Lookup(codes[i % 3], &lookup), GrpcOk()) << "lookup " << i;
  }
  // Nor do they reset or add to the failures: nine failures among them are
  // allowed, the tenth is not.
  for (int i = 0; i < 9; ++i) {
    EXPECT_THAT(Lookup("0000-0000-0000-0000", &lookup),
                GrpcIs(grpc::StatusCode::NOT_FOUND));
    ASSERT_THAT(Lookup(codes[0], &lookup), GrpcOk());
  }
  EXPECT_THAT(Lookup("0000-0000-0000-0000", &lookup),
              GrpcIs(grpc::StatusCode::NOT_FOUND));
  EXPECT_THAT(Lookup(codes[0], &lookup),
              GrpcIs(grpc::StatusCode::RESOURCE_EXHAUSTED));
}

// ---------------------------------------------------------------------------
// DisputeLine

TEST_F(SupplierWorkerTest, DisputeAppendsAWorkerDisputeOnce) {
  const std::vector<std::string> codes = UploadOrDie("s1", kS1Payroll);
  ASSERT_EQ(codes.size(), 3u);
  pb::WorkerLookup lookup;
  ASSERT_THAT(Lookup(codes[2], &lookup), GrpcOk());
  const uint64_t line_seq = lookup.line().seq();

  const uint64_t size_before = ledger_->size();
  pb::DisputeLineResponse response;
  ASSERT_THAT(Dispute(Sloppy(codes[2]), "10.00",
                      "paystub shows 10.00, ¿y el resto?", &response),
              GrpcOk());
  EXPECT_FALSE(response.replayed());
  EXPECT_EQ(response.seq(), size_before);
  EXPECT_EQ(ledger_->size(), size_before + 1);

  const pb::Entry entry = ReadEntryOrDie(response.seq());
  EXPECT_EQ(entry.kind(), kWorkerDisputeKind);
  EXPECT_EQ(entry.actor(), "worker:w1@s1");
  pb::WorkerDispute dispute;
  ASSERT_TRUE(dispute.ParseFromString(entry.payload()));
  EXPECT_EQ(dispute.line_seq(), line_seq);
  EXPECT_EQ(dispute.supplier_id(), "s1");
  EXPECT_EQ(dispute.program_id(), "ffp");
  EXPECT_EQ(dispute.worker_id(), "w1");
  EXPECT_EQ(dispute.period_start(), "2025-01-13");
  EXPECT_EQ(dispute.period_end(), "2025-01-19");
  EXPECT_EQ(dispute.paystub_amount_micros(), 10'000'000);
  EXPECT_EQ(dispute.note(), "paystub shows 10.00, ¿y el resto?");

  // The same dispute again: replayed, nothing appended.
  pb::DisputeLineResponse again;
  ASSERT_THAT(
      Dispute(codes[2], "10.00", "paystub shows 10.00, ¿y el resto?", &again),
      GrpcOk());
  EXPECT_TRUE(again.replayed());
  EXPECT_EQ(again.seq(), response.seq());
  EXPECT_EQ(ledger_->size(), size_before + 1);

  // Another amount, or no note, is another dispute.
  pb::DisputeLineResponse other;
  ASSERT_THAT(Dispute(codes[2], "9.50", "", &other), GrpcOk());
  EXPECT_FALSE(other.replayed());
  EXPECT_EQ(other.seq(), size_before + 1);
  pb::WorkerDispute second;
  ASSERT_TRUE(second.ParseFromString(ReadEntryOrDie(other.seq()).payload()));
  EXPECT_EQ(second.paystub_amount_micros(), 9'500'000);
  EXPECT_EQ(second.note(), "");

  // Disputes are not lines: the worker's lookup is unchanged.
  pb::WorkerLookup after;
  ASSERT_THAT(Lookup(codes[2], &after), GrpcOk());
  EXPECT_EQ(after.lines_size(), lookup.lines_size());
  EXPECT_THAT(after.totals(), UnorderedElementsAre(Pair("USD", "24.83")));
}

TEST_F(SupplierWorkerTest, BadDisputesAreRefusedAndAppendNothing) {
  const std::vector<std::string> codes = UploadOrDie("s1", kS1Payroll);
  ASSERT_EQ(codes.size(), 3u);
  const uint64_t size_before = ledger_->size();
  pb::DisputeLineResponse response;
  for (const char* amount :
       {"10.001", "-1.00", "", "abc", "1e3", " 10.00", "10,00", "-0"}) {
    EXPECT_THAT(
        Dispute(codes[0], amount, "", &response),
        GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("paystub_amount")))
        << amount;
  }
  for (const std::string& note :
       {std::string("line one\nline two"), std::string("bell\x07"),
        std::string("tab\there"), std::string("del\x7f"),
        std::string("escape \x1b[2J"), std::string("nul\0x", 5),
        std::string("csi \xC2\x9B"), std::string(kNoteLengthMax + 1, 'n')}) {
    EXPECT_THAT(Dispute(codes[0], "10.00", note, &response),
                GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("note")))
        << absl::CHexEscape(note.substr(0, 40));
  }
  EXPECT_EQ(ledger_->size(), size_before);
  // A note at the limit is fine.
  EXPECT_THAT(
      Dispute(codes[0], "10.00", std::string(kNoteLengthMax, 'n'), &response),
      GrpcOk());
  EXPECT_EQ(ledger_->size(), size_before + 1);

  // An unknown code.
  std::string unknown = Sloppy(codes[0]);
  unknown[3] = unknown[3] == 'z' ? 'y' : 'z';
  EXPECT_THAT(Dispute(unknown, "10.00", "", &response),
              GrpcIs(grpc::StatusCode::NOT_FOUND));
  EXPECT_EQ(ledger_->size(), size_before + 1);
}

TEST_F(SupplierWorkerTest, WorkersWithTheLongestIdsMayDispute) {
  // Ids have up to 64 characters (DESIGN section 9): the longest worker at
  // the longest supplier looks up and disputes like anyone else.
  const std::string supplier(64, 's');
  const std::string worker(64, 'w');
  tokens_[supplier] = RegisterOrDie(pb::SUPPLIER, supplier);
  const std::vector<std::string> codes = UploadOrDie(
      supplier, absl::StrCat(kPayrollHeader, "ffp,", worker,
                             ",2025-01-06,2025-01-12,2025-01-17,40,600.00,"
                             "12.00,USD\n"));
  ASSERT_EQ(codes.size(), 1u);
  pb::WorkerLookup lookup;
  ASSERT_THAT(Lookup(codes[0], &lookup), GrpcOk());
  EXPECT_EQ(lookup.worker_id(), worker);
  EXPECT_EQ(lookup.supplier_id(), supplier);
  pb::DisputeLineResponse response;
  ASSERT_THAT(Dispute(codes[0], "10.00", "", &response), GrpcOk());
  pb::WorkerDispute dispute;
  ASSERT_TRUE(
      dispute.ParseFromString(ReadEntryOrDie(response.seq()).payload()));
  EXPECT_EQ(dispute.worker_id(), worker);
  EXPECT_EQ(dispute.supplier_id(), supplier);
  EXPECT_EQ(dispute.line_seq(), lookup.line().seq());
  pb::DisputeLineResponse again;
  ASSERT_THAT(Dispute(codes[0], "10.00", "", &again), GrpcOk());
  EXPECT_TRUE(again.replayed());
  EXPECT_EQ(again.seq(), response.seq());
}

// ---------------------------------------------------------------------------
// The binaries, as a supplier and a worker drive them.

// A WorkerService that answers with the real service's lookup, altered: what
// a compromised or buggy server could send a worker's premiumctl.
class TamperingWorkerService final : public pb::WorkerService::Service {
 public:
  TamperingWorkerService(WorkerServiceImpl* real,
                         std::function<void(pb::WorkerLookup*)> tamper)
      : real_(real), tamper_(std::move(tamper)) {}

  grpc::Status LookupCode(grpc::ServerContext* context,
                          const pb::LookupCodeRequest* request,
                          pb::WorkerLookup* response) override {
    const grpc::Status status = real_->LookupCode(context, request, response);
    if (status.ok()) tamper_(response);
    return status;
  }

 private:
  WorkerServiceImpl* const real_;
  const std::function<void(pb::WorkerLookup*)> tamper_;
};

// premiumctl checks what it is shown against what is proven: a line whose
// amounts or dates differ from the entry bytes is refused, not "verified".
TEST_F(SupplierWorkerTest, PremiumctlRefusesALineThatIsNotTheProvenOne) {
  const std::vector<std::string> codes = UploadOrDie("s1", kS1Payroll);
  ASSERT_EQ(codes.size(), 3u);
  pb::WorkerLookup w2;
  ASSERT_THAT(Lookup(codes[1], &w2), GrpcOk());
  const std::string w2_entry_bytes = w2.entry_bytes();
  const std::vector<
      std::pair<std::string, std::function<void(pb::WorkerLookup*)>>>
      tamperings = {
          {"nothing", [](pb::WorkerLookup*) {}},
          {"premium",
           [](pb::WorkerLookup* l) {
             l->mutable_line()->set_premium_amount("21.15");
           }},
          {"premium in its row of the lines",
           [](pb::WorkerLookup* l) {
             l->mutable_lines(0)->set_premium_amount("21.15");
           }},
          {"hours",
           [](pb::WorkerLookup* l) { l->mutable_line()->set_hours("4.50"); }},
          {"pay date",
           [](pb::WorkerLookup* l) {
             l->mutable_line()->set_pay_date("2025-01-31");
           }},
          {"period",
           [](pb::WorkerLookup* l) {
             l->mutable_line()->set_period_end("2025-01-13");
           }},
          {"currency",
           [](pb::WorkerLookup* l) { l->mutable_line()->set_currency("EUR"); }},
          {"worker", [](pb::WorkerLookup* l) { l->set_worker_id("w2"); }},
          {"supplier", [](pb::WorkerLookup* l) { l->set_supplier_id("s2"); }},
          {"entry bytes",
           [&w2_entry_bytes](pb::WorkerLookup* l) {
             l->set_entry_bytes(w2_entry_bytes);
           }},
          // Complete and valid, but for another code: only the code's hash
          // in the proven entry tells it apart.
          {"another worker's whole answer",
           [&w2](pb::WorkerLookup* l) { *l = w2; }},
      };
  for (const auto& [name, tamper] : tamperings) {
    SCOPED_TRACE(name);
    TamperingWorkerService tampering(worker_service_.get(), tamper);
    std::string address;
    std::unique_ptr<grpc::Server> server =
        testing::StartLocalServer({&tampering}, &address);
    ASSERT_NE(server, nullptr);
    const CommandResult lookup =
        RunCommand({PREMIUMCTL_PATH, "--server", address, "worker", "lookup",
                    "--code", codes[0]});
    testing::StopLocalServer(&server);
    // -1: premiumctl did not start or did not end.
    ASSERT_NE(lookup.exit_code, -1);
    if (name == "nothing") {
      EXPECT_EQ(lookup.exit_code, 0) << lookup.err;
      EXPECT_THAT(lookup.out, HasSubstr("verified:"));
      continue;
    }
    EXPECT_NE(lookup.exit_code, 0) << lookup.out;
    EXPECT_THAT(lookup.out, Not(HasSubstr("verified")));
    EXPECT_THAT(lookup.err,
                AllOf(HasSubstr("DATA_LOSS"), HasSubstr("does not verify")));
  }
}

class CliTest : public PremiumdCliTest {
 protected:
  // The program ffp and supplier s1, whose token goes to s1.token.
  void SetUpProgramAndSupplier() {
    const std::string admin_token = this->admin_token();
    const CommandResult program = Ctl(
        admin_token, {"program", "add", "--id", "ffp", "--name",
                      "Fair Food Program", "--currency", "USD", "--unit", "lb",
                      "--worker-rate", "0.01", "--effective", "2025-01-01"});
    ASSERT_EQ(program.exit_code, 0) << program.err;
    const CommandResult supplier = Ctl(
        admin_token, {"party", "add", "--role", "supplier", "--id", "s1",
                      "--name", "Grower One", "--token-out", supplier_token()});
    ASSERT_EQ(supplier.exit_code, 0) << supplier.err;
  }

  // The rows of a codes file after its header, split into fields.
  std::vector<std::vector<std::string>> CodeRows(const std::string& path) {
    std::vector<std::vector<std::string>> rows;
    const std::string text = ReadFileOrDie(path);
    std::vector<std::string> lines =
        absl::StrSplit(text, '\n', absl::SkipEmpty());
    EXPECT_FALSE(lines.empty());
    if (lines.empty()) return rows;
    EXPECT_EQ(lines[0], "worker_id,program_id,period_start,period_end,code");
    for (size_t i = 1; i < lines.size(); ++i) {
      rows.push_back(absl::StrSplit(lines[i], ','));
    }
    return rows;
  }

  std::string supplier_token() const { return token("s1"); }
};

TEST_F(CliTest, ASupplierUploadsAndAWorkerLooksUpAndDisputes) {
  ASSERT_NO_FATAL_FAILURE(StartPremiumd());
  ASSERT_NO_FATAL_FAILURE(SetUpProgramAndSupplier());

  const std::string payroll = dir_.Sub("payroll.csv");
  WriteFileOrDie(payroll, kS1Payroll);
  const std::string codes_path = dir_.Sub("codes.csv");
  const CommandResult upload =
      Ctl(supplier_token(),
          {"payroll", "upload", payroll, "--codes-out", codes_path});
  ASSERT_EQ(upload.exit_code, 0) << upload.err;
  EXPECT_EQ(upload.err, "");
  // 12.15 + 11.40 + 12.68 = 36.23
  EXPECT_THAT(upload.out, AllOf(HasSubstr("appended 3 payroll lines"),
                                HasSubstr("USD 36.23")));
  const std::vector<std::vector<std::string>> rows = CodeRows(codes_path);
  ASSERT_EQ(rows.size(), 3u);
  for (const std::vector<std::string>& row : rows) {
    ASSERT_EQ(row.size(), 5u);
    EXPECT_TRUE(IsPrintedCode(row[4])) << row[4];
  }
  const std::vector<std::string> expected_first = {"w1", "ffp", "2025-01-06",
                                                   "2025-01-12"};
  EXPECT_EQ(std::vector<std::string>(rows[0].begin(), rows[0].begin() + 4),
            expected_first);
  EXPECT_EQ(rows[1][0], "w2");
  EXPECT_EQ(rows[2][0], "w1");
  EXPECT_EQ(rows[2][2], "2025-01-13");
  // The codes are the workers' credentials: only the supplier may read them.
  struct stat info;
  ASSERT_EQ(stat(codes_path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);

  // The same file again: nothing appended, the same codes.
  const std::string codes_again = dir_.Sub("codes-again.csv");
  const CommandResult again =
      Ctl(supplier_token(),
          {"payroll", "upload", payroll, "--codes-out", codes_again});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("nothing appended"));
  EXPECT_EQ(ReadFileOrDie(codes_again), ReadFileOrDie(codes_path));

  // A worker looks up their code, typed sloppily; no token needed.
  const std::string code = rows[0][4];
  const CommandResult lookup =
      Ctl("", {"worker", "lookup", "--code", Sloppy(code)});
  ASSERT_EQ(lookup.exit_code, 0) << lookup.err;
  EXPECT_THAT(lookup.out,
              AllOf(HasSubstr("worker w1 at s1"), HasSubstr("12.15"),
                    HasSubstr("12.68"), Not(HasSubstr("11.40")),
                    HasSubstr("total premium: USD 24.83")));
  bool verified = false;
  for (absl::string_view line : absl::StrSplit(lookup.out, '\n')) {
    if (absl::StartsWith(line, "verified:")) verified = true;
  }
  EXPECT_TRUE(verified) << lookup.out;

  // JSON: the fields of DESIGN section 8.
  const CommandResult json =
      Ctl("", {"worker", "lookup", "--code", code, "--output", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const nlohmann::json document =
      nlohmann::json::parse(json.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(document.is_discarded()) << json.out;
  for (const char* field :
       {"supplier_id", "worker_id", "lines", "totals", "line", "entry_bytes",
        "inclusion_proof", "checkpoint"}) {
    EXPECT_TRUE(document.contains(field)) << field << " in " << json.out;
  }
  ASSERT_TRUE(document.contains("lines") && document.contains("line") &&
              document.contains("inclusion_proof") &&
              document.contains("checkpoint"));
  EXPECT_EQ(document["supplier_id"], "s1");
  EXPECT_EQ(document["worker_id"], "w1");
  ASSERT_EQ(document["lines"].size(), 2u);
  for (const nlohmann::json& line : document["lines"]) {
    for (const char* field :
         {"program_id", "period_start", "period_end", "pay_date", "hours",
          "premium_amount", "currency", "seq"}) {
      EXPECT_TRUE(line.contains(field)) << field;
    }
    EXPECT_TRUE(line["premium_amount"].is_string());
    EXPECT_TRUE(line["hours"].is_string());
  }
  EXPECT_EQ(document["totals"]["USD"], "24.83");
  EXPECT_EQ(document["line"]["premium_amount"], "12.15");
  EXPECT_EQ(document["line"]["hours"], "40.50");
  const uint64_t seq = document["line"]["seq"].get<uint64_t>();
  EXPECT_EQ(document["lines"][0]["seq"].get<uint64_t>(), seq);

  // Check the proof from the JSON alone.
  std::string entry_bytes;
  ASSERT_TRUE(absl::Base64Unescape(document["entry_bytes"].get<std::string>(),
                                   &entry_bytes));
  const nlohmann::json& proof = document["inclusion_proof"];
  const nlohmann::json& checkpoint = document["checkpoint"];
  for (const char* field :
       {"origin", "tree_size", "root_hash", "signature", "public_key"}) {
    EXPECT_TRUE(checkpoint.contains(field)) << field;
  }
  EXPECT_EQ(proof["leaf_index"].get<uint64_t>(), seq);
  EXPECT_EQ(proof["tree_size"], checkpoint["tree_size"]);
  std::vector<merkle::Hash> hashes;
  for (const nlohmann::json& hex : proof["hashes"]) {
    PL_ASSERT_OK_AND_ASSIGN(const merkle::Hash hash,
                            merkle::HashFromHex(hex.get<std::string>()));
    hashes.push_back(hash);
  }
  std::string root_bytes;
  ASSERT_TRUE(absl::Base64Unescape(checkpoint["root_hash"].get<std::string>(),
                                   &root_bytes));
  PL_ASSERT_OK_AND_ASSIGN(const merkle::Hash root,
                          merkle::HashFromBytes(root_bytes));
  const uint64_t tree_size = checkpoint["tree_size"].get<uint64_t>();
  EXPECT_THAT(merkle::VerifyInclusion(merkle::HashLeaf(entry_bytes), seq,
                                      tree_size, hashes, root),
              IsOk());
  PL_ASSERT_OK_AND_ASSIGN(std::unique_ptr<CheckpointVerifier> verifier,
                          CheckpointVerifier::FromPublicKeyPem(
                              checkpoint["public_key"].get<std::string>()));
  std::string signature;
  ASSERT_TRUE(absl::Base64Unescape(checkpoint["signature"].get<std::string>(),
                                   &signature));
  EXPECT_THAT(verifier->Verify(CheckpointBody(Checkpoint{
                                   checkpoint["origin"].get<std::string>(),
                                   tree_size, root}),
                               signature),
              IsOk());
  pb::Entry entry;
  ASSERT_TRUE(entry.ParseFromString(entry_bytes));
  pb::PayrollLine line;
  ASSERT_TRUE(line.ParseFromString(entry.payload()));
  EXPECT_EQ(line.worker_id(), "w1");
  EXPECT_EQ(line.premium_micros(), 12'150'000);

  // The worker disputes the line.
  const CommandResult dispute =
      Ctl("", {"worker", "dispute", "--code", code, "--paystub-amount", "10.00",
               "--note", "my paystub shows 10.00"});
  ASSERT_EQ(dispute.exit_code, 0) << dispute.err;
  EXPECT_THAT(dispute.out, HasSubstr("dispute recorded"));
  const CommandResult dispute_again =
      Ctl("", {"worker", "dispute", "--code", code, "--paystub-amount", "10.00",
               "--note", "my paystub shows 10.00"});
  ASSERT_EQ(dispute_again.exit_code, 0) << dispute_again.err;
  EXPECT_THAT(dispute_again.out, HasSubstr("already recorded"));
  const CommandResult bad_amount = Ctl(
      "", {"worker", "dispute", "--code", code, "--paystub-amount", "10.001"});
  EXPECT_NE(bad_amount.exit_code, 0);
  EXPECT_THAT(bad_amount.err, HasSubstr("paystub_amount"));
  ExpectOneLine(bad_amount.err);

  // An unknown code fails with one line.
  std::string unknown = Sloppy(code);
  unknown[0] = unknown[0] == 'z' ? 'y' : 'z';
  const CommandResult not_found =
      Ctl("", {"worker", "lookup", "--code", unknown});
  EXPECT_NE(not_found.exit_code, 0);
  EXPECT_EQ(not_found.out, "");
  EXPECT_THAT(not_found.err, HasSubstr("NOT_FOUND"));
  ExpectOneLine(not_found.err);

  ASSERT_NO_FATAL_FAILURE(StopPremiumdAndVerify());
}

TEST_F(CliTest, RefusedUploadsAppendNothing) {
  ASSERT_NO_FATAL_FAILURE(StartPremiumd());
  ASSERT_NO_FATAL_FAILURE(SetUpProgramAndSupplier());

  // A bad file: one line on standard error naming line and column; no codes
  // file left behind.
  const std::string bad = dir_.Sub("bad.csv");
  WriteFileOrDie(
      bad,
      absl::StrCat(
          kPayrollHeader,
          "ffp,w1,2025-01-06,2025-01-12,2025-01-17,40.5,607.50,12.15,USD\n",
          "ffp,w2,2025-01-06,2025-01-12,2025-01-17,38.125,570.00,11.40,"
          "USD\n"));
  const std::string bad_codes = dir_.Sub("bad-codes.csv");
  const CommandResult refused = Ctl(
      supplier_token(), {"payroll", "upload", bad, "--codes-out", bad_codes});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_EQ(refused.out, "");
  EXPECT_THAT(refused.err, AllOf(HasSubstr("INVALID_ARGUMENT"),
                                 HasSubstr("line 3, column hours")));
  ExpectOneLine(refused.err);
  EXPECT_NE(access(bad_codes.c_str(), F_OK), 0);

  // --codes-out naming an existing file is refused before uploading: the
  // file is untouched, and the payroll is new on the next try.
  const std::string payroll = dir_.Sub("payroll.csv");
  WriteFileOrDie(payroll, kS2Payroll);
  const std::string existing = dir_.Sub("existing.csv");
  WriteFileOrDie(existing, "keep me\n");
  const CommandResult exists =
      Ctl(supplier_token(),
          {"payroll", "upload", payroll, "--codes-out", existing});
  EXPECT_NE(exists.exit_code, 0);
  EXPECT_THAT(exists.err, HasSubstr("already exists"));
  ExpectOneLine(exists.err);
  EXPECT_EQ(ReadFileOrDie(existing), "keep me\n");
  const std::string fresh = dir_.Sub("fresh.csv");
  const CommandResult upload = Ctl(
      supplier_token(), {"payroll", "upload", payroll, "--codes-out", fresh});
  ASSERT_EQ(upload.exit_code, 0) << upload.err;
  EXPECT_THAT(upload.out, HasSubstr("appended 1 payroll lines"));
  EXPECT_EQ(CodeRows(fresh).size(), 1u);

  // Without a supplier token: refused.
  const CommandResult anonymous = Ctl("", {"payroll", "upload", payroll});
  EXPECT_NE(anonymous.exit_code, 0);
  EXPECT_THAT(anonymous.err, HasSubstr("UNAUTHENTICATED"));
  ExpectOneLine(anonymous.err);

  ASSERT_NO_FATAL_FAILURE(StopPremiumdAndVerify());
}

}  // namespace
}  // namespace premium
