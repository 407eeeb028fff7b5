// Tests of uploads too large to append inline (more than
// UploadLimits::inline_records_max records, services/upload_receiver.h; here
// kInlineRecords, far below the default, so that the files stay small and
// the suite quick): the file is spooled, validated, then
// read again from the spool and streamed to the ledger a batch at a time
// (LedgerClient::AppendStreamed). A payroll file's codes are then not
// returned inline (codes_paged) but listed by SupplierService
// .ListPaystubCodes, page by page.
//
// The services run on a real gRPC server on 127.0.0.1:0, wired as premiumd
// wires them (a Ledger with the PremiumIndexer in a temporary directory, the
// in-process LedgerClient, the Authenticator, the server secret and the role
// services, with the admin registered the way premiumd's BootstrapAdmin
// does). One fixture puts the ledger behind its own LedgerService on another
// port and gives the front services the remote LedgerClient, as the split
// deployment does. The last test drives the premiumd and premiumctl
// binaries as a supplier would.
//
// Every file is made by a loop in the test: payroll line i (from 0) is
// worker w<i % 1000> in week i / 1000 (from the week of 2025-01-06), so
// 2,501 lines are 3 weeks of a thousand workers, the last week with one.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
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
#include "ledger/testing/child_process.h"
#include "ledger/testing/ledger_testing.h"
#include "services/admin_service.h"
#include "services/auth.h"
#include "services/brand_service.h"
#include "services/credentials.h"
#include "services/ledger_client.h"
#include "services/ledger_service.h"
#include "services/paystub_code.h"
#include "services/server_secret.h"
#include "services/supplier_service.h"
#include "services/testing/service_testing.h"
#include "services/upload_receiver.h"
#include "services/worker_service.h"
#include "wsr/premium/v1/admin.grpc.pb.h"
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
using ::premium::testing::GrpcIs;
using ::premium::testing::GrpcOk;
using ::premium::testing::IsOk;
using ::premium::testing::IsPrintedCode;
using ::premium::testing::kFastBackupPolling;
using ::premium::testing::PremiumdCliTest;
using ::premium::testing::ReadFileOrDie;
using ::premium::testing::TempDir;
using ::premium::testing::WriteFileOrDie;
using ::testing::AllOf;
using ::testing::AnyOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pair;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

// An upload of a large file, or a walk over all of its codes.
constexpr absl::Duration kLargeCallTimeout = absl::Seconds(60);
constexpr size_t kChunkBytes = 64 << 10;

// The receivers' inline limit (premiumd's --upload-inline-records), and the
// entries of each batch the ledger writes a streamed request in.
constexpr uint64_t kInlineRecords = 1'000;
constexpr size_t kStreamedBatchEntries = 1'000;
// More records than the receiver keeps in memory, and then some: the file
// is streamed to the ledger in three batches.
constexpr int kLines = 2'501;
static_assert(kLines > static_cast<int>(kInlineRecords));
constexpr int kWorkers = 1000;
// SupplierService's default (and largest) page of codes.
constexpr int kDefaultPage = 10'000;

constexpr char kPayrollHeader[] =
    "program_id,worker_id,period_start,period_end,pay_date,hours,gross_wages,"
    "premium_amount,currency\n";
constexpr char kPurchasesHeader[] =
    "invoice_id,supplier_id,program_id,purchase_date,quantity,unit\n";

// ---------------------------------------------------------------------------
// The generated files.

// Payroll line i of the file (i from 0; it is on line i + 2).
struct PayrollRow {
  std::string worker_id;
  std::string period_start;
  std::string period_end;
  std::string pay_date;
  int64_t premium_cents = 0;
};

PayrollRow RowOf(int i) {
  const absl::CivilDay start = absl::CivilDay(2025, 1, 6) + 7 * (i / kWorkers);
  PayrollRow row;
  row.worker_id = absl::StrCat("w", i % kWorkers);
  row.period_start = absl::FormatCivilTime(start);
  row.period_end = absl::FormatCivilTime(start + 6);
  row.pay_date = absl::FormatCivilTime(start + 11);
  row.premium_cents = 300 + i % 250;
  return row;
}

std::string Cents(int64_t cents) {
  return absl::StrFormat("%d.%02d", cents / 100, cents % 100);
}

// `lines` payroll lines of program ffp; the line of index `bad` (if any)
// has a pay_date that is no date.
std::string PayrollFile(int lines, std::optional<int> bad = std::nullopt) {
  std::string file = kPayrollHeader;
  file.reserve(static_cast<size_t>(lines) * 64);
  for (int i = 0; i < lines; ++i) {
    const PayrollRow row = RowOf(i);
    absl::StrAppend(&file, "ffp,", row.worker_id, ",", row.period_start, ",",
                    row.period_end, ",",
                    bad == i ? std::string("2025/01/17") : row.pay_date,
                    ",40,600.00,", Cents(row.premium_cents), ",USD\n");
  }
  return file;
}

// The sum of the premiums of PayrollFile(lines), as a decimal string.
std::string PayrollTotal(int lines) {
  int64_t cents = 0;
  for (int i = 0; i < lines; ++i) cents += RowOf(i).premium_cents;
  return Cents(cents);
}

// `rows` purchases by the brand from s1, 100 lb each (1.00 of premium),
// invoices "<prefix>-<i>"; the row of index `reused` (if any) has invoice
// id `reused_id` instead.
std::string PurchasesFile(int rows, absl::string_view prefix,
                          std::optional<int> reused = std::nullopt,
                          absl::string_view reused_id = "") {
  std::string file = kPurchasesHeader;
  file.reserve(static_cast<size_t>(rows) * 40);
  for (int i = 0; i < rows; ++i) {
    if (reused == i) {
      absl::StrAppend(&file, reused_id);
    } else {
      absl::StrAppend(&file, prefix, "-", i);
    }
    absl::StrAppend(&file, ",s1,ffp,2025-02-03,100,lb\n");
  }
  return file;
}

// ---------------------------------------------------------------------------
// Matchers and checks.

// Reports the first few of many per-line problems, and how many there were,
// instead of flooding the log.
class Mismatches {
 public:
  explicit Mismatches(std::string what) : what_(std::move(what)) {}
  ~Mismatches() {
    if (count_ > kShown) {
      ADD_FAILURE() << what_ << ": " << count_ << " mismatches in all";
    }
  }
  void Add(const std::string& problem) {
    if (++count_ <= kShown) ADD_FAILURE() << what_ << ": " << problem;
  }

 private:
  static constexpr int kShown = 5;
  const std::string what_;
  int count_ = 0;
};

// `codes` are the codes of PayrollFile(kLines) uploaded by s1 from
// `first_seq`: one per line, in file order, each distinct and printable.
void ExpectCodesOfTheFile(const std::vector<pb::PaystubCode>& codes,
                          uint64_t first_seq) {
  ASSERT_EQ(codes.size(), static_cast<size_t>(kLines));
  Mismatches mismatches("codes vs file");
  std::set<std::string> distinct;
  for (int i = 0; i < kLines; ++i) {
    const pb::PaystubCode& code = codes[static_cast<size_t>(i)];
    const PayrollRow row = RowOf(i);
    const uint64_t index = static_cast<uint64_t>(i);
    if (code.seq() != first_seq + index || code.line() != index + 2 ||
        code.worker_id() != row.worker_id || code.program_id() != "ffp" ||
        code.period_start() != row.period_start ||
        code.period_end() != row.period_end || !IsPrintedCode(code.code())) {
      mismatches.Add(
          absl::StrCat("line index ", i, ": got ", code.ShortDebugString()));
    }
    distinct.insert(code.code());
  }
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kLines));
}

std::vector<std::string> CodeStrings(
    const std::vector<pb::PaystubCode>& codes) {
  std::vector<std::string> out;
  out.reserve(codes.size());
  for (const pb::PaystubCode& code : codes) out.push_back(code.code());
  return out;
}

// The pages of one walk over ListPaystubCodes.
struct CodesWalk {
  grpc::Status status;
  std::vector<pb::PaystubCode> codes;
  std::vector<int> page_sizes;
  // next_page_token of each page.
  std::vector<std::string> tokens;
};

struct PayrollResult {
  grpc::Status status;
  pb::UploadPayrollResponse response;
};

struct UploadResult {
  grpc::Status status;
  pb::UploadReceipt receipt;
};

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

// ---------------------------------------------------------------------------
// The services on 127.0.0.1:0.

class LargeUploadTest : public ::testing::Test {
 protected:
  LargeUploadTest() = default;
  // With `remote_ledger`, the front services reach the ledger through
  // LedgerService on its own port (NewRemoteLedgerClient).
  explicit LargeUploadTest(bool remote_ledger)
      : remote_ledger_(remote_ledger) {}

  void SetUp() override {
    ASSERT_TRUE(kFastBackupPolling);
    LedgerOptions options =
        testing::TestLedgerOptions(dir_.Sub("data"), &indexer_);
    options.streamed_batch_entries = kStreamedBatchEntries;
    PL_ASSERT_OK_AND_ASSIGN(ledger_, Ledger::Open(options));
    if (remote_ledger_) {
      ASSERT_NO_FATAL_FAILURE(StartLedgerServer());
    } else {
      client_ = NewInProcessLedgerClient(ledger_.get());
    }
    PL_ASSERT_OK_AND_ASSIGN(
        secret_, ServerSecret::LoadOrCreate(dir_.Sub(ServerSecret::kFileName)));
    ASSERT_NO_FATAL_FAILURE(BootstrapAdmin());
    ASSERT_NO_FATAL_FAILURE(StartFrontServer());
    ASSERT_NO_FATAL_FAILURE(SetUpProgramAndParties());
  }

  void TearDown() override {
    admin_stub_.reset();
    brand_stub_.reset();
    supplier_stub_.reset();
    worker_stub_.reset();
    channel_.reset();
    testing::StopLocalServer(&server_);
    client_.reset();
    if (ledger_server_ != nullptr) {
      ledger_service_->Stop();
      testing::StopLocalServer(&ledger_server_);
    }
  }

  // As premiumd serving the ledger alone: LedgerService with the hash of a
  // fresh service token, which the remote client presents.
  void StartLedgerServer() {
    PL_ASSERT_OK_AND_ASSIGN(const std::string token, GenerateToken("ledger_"));
    ledger_service_ =
        std::make_unique<LedgerServiceImpl>(ledger_.get(), HashToken(token));
    std::string address;
    ledger_server_ =
        testing::StartLocalServer({ledger_service_.get()}, &address);
    ASSERT_NE(ledger_server_, nullptr);
    client_ = NewRemoteLedgerClient(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials()),
        token);
  }

  // As premiumd's BootstrapAdmin.
  void BootstrapAdmin() {
    PL_ASSERT_OK_AND_ASSIGN(admin_token_, testing::BootstrapAdmin(*ledger_));
  }

  void StartFrontServer() {
    authenticator_ = std::make_unique<Authenticator>(client_.get());
    admin_service_ = std::make_unique<AdminServiceImpl>(
        client_.get(), authenticator_.get(), secret_.get(),
        [] { return absl::CivilDay(2025, 1, 10); });
    const UploadLimits limits{.inline_records_max = kInlineRecords};
    brand_service_ = std::make_unique<BrandServiceImpl>(
        client_.get(), authenticator_.get(), limits);
    supplier_service_ = std::make_unique<SupplierServiceImpl>(
        client_.get(), authenticator_.get(), secret_.get(), limits);
    worker_service_ = std::make_unique<WorkerServiceImpl>(client_.get());
    std::string address;
    server_ = testing::StartLocalServer(
        {admin_service_.get(), brand_service_.get(), supplier_service_.get(),
         worker_service_.get()},
        &address);
    ASSERT_NE(server_, nullptr);
    channel_ = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    admin_stub_ = pb::AdminService::NewStub(channel_);
    brand_stub_ = pb::BrandService::NewStub(channel_);
    supplier_stub_ = pb::SupplierService::NewStub(channel_);
    worker_stub_ = pb::WorkerService::NewStub(channel_);
  }

  std::string RegisterOrDie(pb::Role role, const std::string& party_id) {
    return testing::RegisterOrDie(*admin_stub_, admin_token_, role, party_id);
  }

  // Program ffp (USD, lb); suppliers s1 and s2, brand b1, auditor a1.
  void SetUpProgramAndParties() {
    pb::AddProgramVersionRequest request;
    request.set_request_id("program-ffp");
    *request.mutable_version() = FfpSpec();
    pb::Program program;
    ASSERT_THAT(admin_stub_->AddProgramVersion(
                    Context(Bearer(admin_token_)).get(), request, &program),
                GrpcOk());
    for (const auto& [role, id] :
         std::vector<std::pair<pb::Role, std::string>>{{pb::SUPPLIER, "s1"},
                                                       {pb::SUPPLIER, "s2"},
                                                       {pb::BRAND, "b1"},
                                                       {pb::AUDITOR, "a1"}}) {
      tokens_[id] = RegisterOrDie(role, id);
    }
  }

  PayrollResult UploadPayroll(const std::string& authorization,
                              absl::string_view file,
                              const std::string& request_id = "") {
    PayrollResult result;
    auto context = Context(authorization, kLargeCallTimeout);
    auto writer =
        supplier_stub_->UploadPayroll(context.get(), &result.response);
    result.status = testing::StreamUpload(writer.get(), file, kChunkBytes,
                                          request_id, "large.csv");
    return result;
  }

  UploadResult SubmitPurchases(const std::string& authorization,
                               absl::string_view file) {
    UploadResult result;
    auto context = Context(authorization, kLargeCallTimeout);
    auto writer = brand_stub_->SubmitPurchases(context.get(), &result.receipt);
    result.status =
        testing::StreamUpload(writer.get(), file, kChunkBytes, "", "large.csv");
    return result;
  }

  grpc::Status ListCodes(const std::string& authorization, uint64_t first_seq,
                         int32_t page_size, const std::string& page_token,
                         pb::ListPaystubCodesResponse* response) {
    pb::ListPaystubCodesRequest request;
    request.set_first_seq(first_seq);
    request.set_page_size(page_size);
    request.set_page_token(page_token);
    return supplier_stub_->ListPaystubCodes(
        Context(authorization, kLargeCallTimeout).get(), request, response);
  }

  // Every page from the first, as `supplier` (at most 100 pages).
  CodesWalk WalkCodes(uint64_t first_seq, int32_t page_size = 0,
                      const std::string& supplier = "s1") {
    CodesWalk walk;
    std::string token;
    for (int page = 0; page < 100; ++page) {
      pb::ListPaystubCodesResponse response;
      walk.status = ListCodes(Bearer(tokens_[supplier]), first_seq, page_size,
                              token, &response);
      if (!walk.status.ok()) return walk;
      walk.page_sizes.push_back(response.codes_size());
      walk.tokens.push_back(response.next_page_token());
      walk.codes.insert(walk.codes.end(), response.codes().begin(),
                        response.codes().end());
      if (response.next_page_token().empty()) return walk;
      token = response.next_page_token();
    }
    ADD_FAILURE() << "more than 100 pages of codes";
    return walk;
  }

  grpc::Status Lookup(const std::string& code, pb::WorkerLookup* lookup) {
    pb::LookupCodeRequest request;
    request.set_code(code);
    return worker_stub_->LookupCode(Context().get(), request, lookup);
  }

  // Each code's line in the ledger holds the hash of that code (and never
  // the code), for supplier s1 and the worker and period listed.
  void ExpectCodesAreTheLedgers(const std::vector<pb::PaystubCode>& codes) {
    Mismatches mismatches("codes vs ledger");
    for (size_t next = 0; next < codes.size();) {
      const uint64_t begin = codes[next].seq();
      PL_ASSERT_OK_AND_ASSIGN(
          const std::vector<StoredEntry> entries,
          ledger_->ReadEntries(begin, begin + (codes.size() - next), 0));
      ASSERT_FALSE(entries.empty()) << "at seq " << begin;
      for (const StoredEntry& stored : entries) {
        const pb::PaystubCode& code = codes[next++];
        pb::PayrollLine line;
        absl::StatusOr<std::string> canonical =
            NormalizePaystubCode(code.code());
        if (stored.entry.seq() != code.seq() ||
            stored.entry.kind() != kPayrollLineKind ||
            stored.entry.actor() != "supplier:s1" ||
            !line.ParseFromString(stored.entry.payload()) || !canonical.ok() ||
            line.code_sha256() !=
                merkle::HashBytes(PaystubCodeHash(*canonical)) ||
            line.supplier_id() != "s1" ||
            line.worker_id() != code.worker_id() ||
            line.period_start() != code.period_start() ||
            line.period_end() != code.period_end() ||
            line.source_line() != code.line()) {
          mismatches.Add(absl::StrCat("seq ", stored.entry.seq(), " for ",
                                      code.ShortDebugString()));
        }
      }
    }
  }

  // What a worker's helper checks with nothing but the answer: the entry
  // bytes hash into the checkpoint's tree, and the checkpoint is signed by
  // the ledger's key.
  void ExpectProofVerifies(const pb::WorkerLookup& lookup) {
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
    EXPECT_THAT(merkle::VerifyInclusion(merkle::HashLeaf(lookup.entry_bytes()),
                                        proof.leaf_index(), proof.tree_size(),
                                        hashes, root),
                IsOk());
    PL_ASSERT_OK_AND_ASSIGN(const merkle::Hash ledger_root,
                            ledger_->RootAt(checkpoint.tree_size()));
    EXPECT_EQ(root, ledger_root);
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
  }

  // The last line of the file (worker w500's third week) through its code.
  void ExpectLastLineLooksUp(const std::vector<pb::PaystubCode>& codes) {
    ASSERT_EQ(codes.size(), static_cast<size_t>(kLines));
    const pb::PaystubCode& last = codes.back();
    const PayrollRow row = RowOf(kLines - 1);
    pb::WorkerLookup lookup;
    ASSERT_THAT(Lookup(last.code(), &lookup), GrpcOk());
    EXPECT_EQ(lookup.supplier_id(), "s1");
    EXPECT_EQ(lookup.worker_id(), row.worker_id);
    EXPECT_EQ(lookup.line().seq(), last.seq());
    EXPECT_EQ(lookup.line().program_id(), "ffp");
    EXPECT_EQ(lookup.line().period_start(), row.period_start);
    EXPECT_EQ(lookup.line().period_end(), row.period_end);
    EXPECT_EQ(lookup.line().pay_date(), row.pay_date);
    EXPECT_EQ(lookup.line().premium_amount(), Cents(row.premium_cents));
    pb::Entry entry;
    ASSERT_TRUE(entry.ParseFromString(lookup.entry_bytes()));
    EXPECT_EQ(entry.seq(), last.seq());
    pb::PayrollLine line;
    ASSERT_TRUE(line.ParseFromString(entry.payload()));
    EXPECT_EQ(line.source_line(), static_cast<uint64_t>(kLines + 1));
    // The worker has a line in each of the 3 weeks, all in this file.
    const int worker = (kLines - 1) % kWorkers;
    ASSERT_EQ(lookup.lines_size(), kLines / kWorkers + 1);
    for (int week = 0; week < lookup.lines_size(); ++week) {
      const int index = week * kWorkers + worker;
      EXPECT_EQ(lookup.lines(week).seq(),
                codes[static_cast<size_t>(index)].seq());
      EXPECT_EQ(lookup.lines(week).period_start(), RowOf(index).period_start);
    }
    ASSERT_NO_FATAL_FAILURE(ExpectProofVerifies(lookup));
  }

  const bool remote_ledger_ = false;
  TempDir dir_;
  PremiumIndexer indexer_;
  std::unique_ptr<Ledger> ledger_;
  std::unique_ptr<LedgerServiceImpl> ledger_service_;
  std::unique_ptr<grpc::Server> ledger_server_;
  std::unique_ptr<LedgerClient> client_;
  std::unique_ptr<Authenticator> authenticator_;
  std::unique_ptr<ServerSecret> secret_;
  std::unique_ptr<AdminServiceImpl> admin_service_;
  std::unique_ptr<BrandServiceImpl> brand_service_;
  std::unique_ptr<SupplierServiceImpl> supplier_service_;
  std::unique_ptr<WorkerServiceImpl> worker_service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::AdminService::Stub> admin_stub_;
  std::unique_ptr<pb::BrandService::Stub> brand_stub_;
  std::unique_ptr<pb::SupplierService::Stub> supplier_stub_;
  std::unique_ptr<pb::WorkerService::Stub> worker_stub_;
  std::string admin_token_;
  std::map<std::string, std::string> tokens_;
};

// ---------------------------------------------------------------------------
// A large payroll file and its paged codes.

TEST_F(LargeUploadTest, LargePayrollIsStreamedAndItsCodesArePaged) {
  const std::string file = PayrollFile(kLines);
  const uint64_t size_before = ledger_->size();
  const PayrollResult result = UploadPayroll(Bearer(tokens_["s1"]), file);
  ASSERT_THAT(result.status, GrpcOk());
  const pb::UploadReceipt& receipt = result.response.receipt();
  const uint64_t first_seq = receipt.ledger().first_seq();
  EXPECT_EQ(receipt.records(), static_cast<uint64_t>(kLines));
  EXPECT_FALSE(receipt.replayed());
  EXPECT_EQ(first_seq, size_before);
  EXPECT_EQ(receipt.ledger().entry_count(), static_cast<uint64_t>(kLines));
  EXPECT_EQ(receipt.ledger().tree_size(), size_before + kLines);
  EXPECT_THAT(receipt.totals(),
              UnorderedElementsAre(Pair("USD", PayrollTotal(kLines))));
  EXPECT_EQ(ledger_->size(), size_before + kLines);
  // Too many to return inline: none are, and the answer says where they are.
  EXPECT_TRUE(result.response.codes_paged());
  EXPECT_THAT(result.response.codes(), IsEmpty());

  // The default page (up to 10,000 codes) holds them all, in file order,
  // every line once.
  const CodesWalk walk = WalkCodes(first_seq);
  ASSERT_THAT(walk.status, GrpcOk());
  EXPECT_THAT(walk.page_sizes, ElementsAre(kLines));
  ASSERT_NO_FATAL_FAILURE(ExpectCodesOfTheFile(walk.codes, first_seq));
  ASSERT_NO_FATAL_FAILURE(ExpectCodesAreTheLedgers(walk.codes));

  // Pages of 700: three full, then the 401 left; each page but the last
  // names the next, and the pages are the same codes.
  const CodesWalk by_700 = WalkCodes(first_seq, 700);
  ASSERT_THAT(by_700.status, GrpcOk());
  EXPECT_THAT(by_700.page_sizes, ElementsAre(700, 700, 700, 401));
  ASSERT_EQ(by_700.tokens.size(), 4u);
  EXPECT_EQ(by_700.tokens.back(), "");
  const std::set<std::string> distinct_tokens(by_700.tokens.begin(),
                                              by_700.tokens.end() - 1);
  EXPECT_EQ(distinct_tokens.size(), 3u);
  EXPECT_THAT(distinct_tokens, Not(Contains("")));
  EXPECT_EQ(CodeStrings(by_700.codes), CodeStrings(walk.codes));
  // The codes themselves: seqs and lines too.
  for (size_t i = 0; i < by_700.codes.size() && i < walk.codes.size(); ++i) {
    if (by_700.codes[i].SerializeAsString() !=
        walk.codes[i].SerializeAsString()) {
      ADD_FAILURE() << "code " << i << ": " << by_700.codes[i].DebugString()
                    << " vs " << walk.codes[i].DebugString();
      break;
    }
  }
  // A token of one walk resumes with another page size: the third page of
  // 700 starts at line index 1,400, and the default page takes the rest.
  pb::ListPaystubCodesResponse resumed;
  ASSERT_THAT(ListCodes(Bearer(tokens_["s1"]), first_seq, 0, by_700.tokens[1],
                        &resumed),
              GrpcOk());
  ASSERT_EQ(resumed.codes_size(), kLines - 1'400);
  EXPECT_EQ(resumed.codes(0).code(), walk.codes[1'400].code());
  EXPECT_EQ(resumed.codes(kLines - 1'401).code(), walk.codes.back().code());
  EXPECT_EQ(resumed.next_page_token(), "");

  // A code of the last page unlocks its line, with a proof.
  ASSERT_NO_FATAL_FAILURE(ExpectLastLineLooksUp(walk.codes));

  // The same file again: nothing appended, the same upload, the same codes.
  const uint64_t size_after = ledger_->size();
  const PayrollResult again = UploadPayroll(Bearer(tokens_["s1"]), file);
  ASSERT_THAT(again.status, GrpcOk());
  EXPECT_TRUE(again.response.receipt().replayed());
  EXPECT_TRUE(again.response.receipt().ledger().replayed());
  EXPECT_EQ(again.response.receipt().ledger().first_seq(), first_seq);
  EXPECT_EQ(again.response.receipt().ledger().entry_count(),
            static_cast<uint64_t>(kLines));
  EXPECT_EQ(again.response.receipt().records(), static_cast<uint64_t>(kLines));
  EXPECT_TRUE(again.response.codes_paged());
  EXPECT_THAT(again.response.codes(), IsEmpty());
  EXPECT_EQ(ledger_->size(), size_after);
  const CodesWalk replayed = WalkCodes(first_seq);
  ASSERT_THAT(replayed.status, GrpcOk());
  EXPECT_EQ(CodeStrings(replayed.codes), CodeStrings(walk.codes));
}

TEST_F(LargeUploadTest, TheDefaultPageIsTheLargest) {
  const PayrollResult result =
      UploadPayroll(Bearer(tokens_["s1"]), PayrollFile(kDefaultPage + 1));
  ASSERT_THAT(result.status, GrpcOk());
  EXPECT_TRUE(result.response.codes_paged());
  const uint64_t first_seq = result.response.receipt().ledger().first_seq();
  for (const int32_t page_size : {0, kDefaultPage}) {
    SCOPED_TRACE(absl::StrCat("page_size ", page_size));
    const CodesWalk walk = WalkCodes(first_seq, page_size);
    ASSERT_THAT(walk.status, GrpcOk());
    EXPECT_THAT(walk.page_sizes, ElementsAre(kDefaultPage, 1));
    ASSERT_EQ(walk.codes.size(), static_cast<size_t>(kDefaultPage) + 1);
    EXPECT_EQ(walk.codes.back().seq(), first_seq + kDefaultPage);
    EXPECT_EQ(walk.codes.back().line(),
              static_cast<uint64_t>(kDefaultPage) + 2);
  }
}

TEST_F(LargeUploadTest, ListPaystubCodesIsForTheUploadingSupplierOnly) {
  const PayrollResult result =
      UploadPayroll(Bearer(tokens_["s1"]), PayrollFile(kLines));
  ASSERT_THAT(result.status, GrpcOk());
  const uint64_t first_seq = result.response.receipt().ledger().first_seq();
  pb::ListPaystubCodesResponse response;
  ASSERT_THAT(
      ListCodes(Bearer(tokens_["s1"]), first_seq, kDefaultPage, "", &response),
      GrpcOk());
  EXPECT_EQ(response.codes_size(), kLines);

  // Another supplier: as if there were no such upload.
  response.Clear();
  EXPECT_THAT(ListCodes(Bearer(tokens_["s2"]), first_seq, 0, "", &response),
              GrpcIs(grpc::StatusCode::NOT_FOUND));
  EXPECT_THAT(response.codes(), IsEmpty());
  // Not a supplier at all.
  for (const std::string party : {"b1", "a1"}) {
    SCOPED_TRACE(party);
    EXPECT_THAT(ListCodes(Bearer(tokens_[party]), first_seq, 0, "", &response),
                GrpcIs(grpc::StatusCode::PERMISSION_DENIED));
  }
  EXPECT_THAT(ListCodes(Bearer(admin_token_), first_seq, 0, "", &response),
              GrpcIs(grpc::StatusCode::PERMISSION_DENIED));
  EXPECT_THAT(ListCodes("", first_seq, 0, "", &response),
              GrpcIs(grpc::StatusCode::UNAUTHENTICATED));
  EXPECT_THAT(ListCodes(tokens_["s1"], first_seq, 0, "", &response),
              GrpcIs(grpc::StatusCode::UNAUTHENTICATED));
  // Well formed, but no party holds it (denied, as the other services do).
  EXPECT_THAT(
      ListCodes(Bearer("supplier_NOTATOKEN"), first_seq, 0, "", &response),
      GrpcIs(grpc::StatusCode::PERMISSION_DENIED));
  EXPECT_THAT(response.codes(), IsEmpty());

  // Seqs that are not the first line of one of s1's uploads.
  for (const uint64_t seq :
       {first_seq + 1, first_seq + kLines - 1, first_seq + kLines,
        first_seq + kLines + 1000, uint64_t{0}, first_seq - 1}) {
    SCOPED_TRACE(absl::StrCat("first_seq ", seq));
    EXPECT_THAT(ListCodes(Bearer(tokens_["s1"]), seq, 0, "", &response),
                GrpcIs(grpc::StatusCode::NOT_FOUND));
  }

  // Bad paging.
  for (const std::string& token :
       {std::string("x"), std::string("-1"), std::string("1e3"),
        absl::StrCat(kLines + 1)}) {
    SCOPED_TRACE(absl::StrCat("page_token \"", token, "\""));
    EXPECT_THAT(
        ListCodes(Bearer(tokens_["s1"]), first_seq, 0, token, &response),
        GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("page_token")));
  }
  for (const int32_t page_size : {-1, kDefaultPage + 1, INT32_MIN, INT32_MAX}) {
    SCOPED_TRACE(absl::StrCat("page_size ", page_size));
    EXPECT_THAT(
        ListCodes(Bearer(tokens_["s1"]), first_seq, page_size, "", &response),
        GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("page_size")));
  }
  EXPECT_THAT(response.codes(), IsEmpty());
}

TEST_F(LargeUploadTest, CodesAreInlineUpToTheInlineLimitAndPagedPastIt) {
  constexpr int kInline = static_cast<int>(kInlineRecords);
  // Exactly the limit: one request, every code in the answer.
  const PayrollResult inline_result =
      UploadPayroll(Bearer(tokens_["s1"]), PayrollFile(kInline));
  ASSERT_THAT(inline_result.status, GrpcOk());
  EXPECT_FALSE(inline_result.response.codes_paged());
  ASSERT_EQ(inline_result.response.codes_size(), kInline);
  const uint64_t inline_first =
      inline_result.response.receipt().ledger().first_seq();
  EXPECT_EQ(inline_result.response.receipt().ledger().entry_count(),
            kInlineRecords);
  // ListPaystubCodes lists an inline upload's codes too, the same ones.
  const CodesWalk inline_walk = WalkCodes(inline_first);
  ASSERT_THAT(inline_walk.status, GrpcOk());
  ASSERT_EQ(inline_walk.codes.size(), kInlineRecords);
  Mismatches inline_mismatches("inline codes vs listed");
  for (int i = 0; i < kInline; ++i) {
    const pb::PaystubCode& listed = inline_walk.codes[static_cast<size_t>(i)];
    const pb::PaystubCode& returned = inline_result.response.codes(i);
    if (listed.SerializeAsString() != returned.SerializeAsString()) {
      inline_mismatches.Add(absl::StrCat(i, ": ", listed.ShortDebugString(),
                                         " vs ", returned.ShortDebugString()));
    }
  }

  // One more line (s2's file, so that no code is shared): streamed, paged.
  const uint64_t size_before = ledger_->size();
  const PayrollResult paged =
      UploadPayroll(Bearer(tokens_["s2"]), PayrollFile(kInline + 1));
  ASSERT_THAT(paged.status, GrpcOk());
  EXPECT_TRUE(paged.response.codes_paged());
  EXPECT_THAT(paged.response.codes(), IsEmpty());
  EXPECT_EQ(paged.response.receipt().ledger().first_seq(), size_before);
  EXPECT_EQ(paged.response.receipt().ledger().entry_count(),
            kInlineRecords + 1);
  EXPECT_EQ(ledger_->size(), size_before + kInlineRecords + 1);
  const CodesWalk walk = WalkCodes(size_before, 0, "s2");
  ASSERT_THAT(walk.status, GrpcOk());
  ASSERT_EQ(walk.codes.size(), kInlineRecords + 1);
  EXPECT_EQ(walk.codes.back().seq(), size_before + kInlineRecords);
  EXPECT_EQ(walk.codes.back().line(), kInlineRecords + 2);
  EXPECT_EQ(walk.codes.back().worker_id(), RowOf(kInline).worker_id);
  pb::WorkerLookup lookup;
  ASSERT_THAT(Lookup(walk.codes.back().code(), &lookup), GrpcOk());
  EXPECT_EQ(lookup.supplier_id(), "s2");
  EXPECT_EQ(lookup.line().seq(), walk.codes.back().seq());
}

// ---------------------------------------------------------------------------
// All or nothing, on the streamed path.

TEST_F(LargeUploadTest, ABadLastRowRefusesTheWholeLargePayroll) {
  const uint64_t size_before = ledger_->size();
  // Line index kLines - 1 is on line kLines + 1 = 2502.
  const PayrollResult result = UploadPayroll(
      Bearer(tokens_["s1"]), PayrollFile(kLines, /*bad=*/kLines - 1));
  EXPECT_THAT(result.status,
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     AllOf(StartsWith("1 bad row (1 error)"),
                           HasSubstr("line 2502, column pay_date"),
                           HasSubstr("2025/01/17"))));
  EXPECT_EQ(ledger_->size(), size_before);
  EXPECT_THAT(result.response.codes(), IsEmpty());
  EXPECT_FALSE(result.response.codes_paged());

  // The good file then appends whole, from where the bad one would have.
  const PayrollResult good =
      UploadPayroll(Bearer(tokens_["s1"]), PayrollFile(kLines));
  ASSERT_THAT(good.status, GrpcOk());
  EXPECT_FALSE(good.response.receipt().replayed());
  EXPECT_EQ(good.response.receipt().ledger().first_seq(), size_before);
  EXPECT_EQ(ledger_->size(), size_before + kLines);
}

// ---------------------------------------------------------------------------
// The split deployment: the front's LedgerClient is the remote one.

class RemoteLedgerLargeUploadTest : public LargeUploadTest {
 protected:
  RemoteLedgerLargeUploadTest() : LargeUploadTest(/*remote_ledger=*/true) {}
};

TEST_F(RemoteLedgerLargeUploadTest, LargePayrollIsStreamedToARemoteLedger) {
  const std::string file = PayrollFile(kLines);
  const uint64_t size_before = ledger_->size();
  const PayrollResult result = UploadPayroll(Bearer(tokens_["s1"]), file);
  ASSERT_THAT(result.status, GrpcOk());
  const pb::UploadReceipt& receipt = result.response.receipt();
  const uint64_t first_seq = receipt.ledger().first_seq();
  EXPECT_EQ(receipt.records(), static_cast<uint64_t>(kLines));
  EXPECT_FALSE(receipt.replayed());
  EXPECT_EQ(first_seq, size_before);
  EXPECT_EQ(receipt.ledger().entry_count(), static_cast<uint64_t>(kLines));
  EXPECT_EQ(receipt.ledger().tree_size(), size_before + kLines);
  EXPECT_THAT(receipt.totals(),
              UnorderedElementsAre(Pair("USD", PayrollTotal(kLines))));
  EXPECT_EQ(ledger_->size(), size_before + kLines);
  EXPECT_TRUE(result.response.codes_paged());
  EXPECT_THAT(result.response.codes(), IsEmpty());

  // ListPaystubCodes reads the entries back through LedgerService and pages
  // as in-process.
  const CodesWalk walk = WalkCodes(first_seq, 1000);
  ASSERT_THAT(walk.status, GrpcOk());
  EXPECT_THAT(walk.page_sizes, ElementsAre(1000, 1000, 501));
  ASSERT_NO_FATAL_FAILURE(ExpectCodesOfTheFile(walk.codes, first_seq));
  ASSERT_NO_FATAL_FAILURE(ExpectCodesAreTheLedgers(walk.codes));
  ASSERT_NO_FATAL_FAILURE(ExpectLastLineLooksUp(walk.codes));

  // A retry is replayed over the remote stream too.
  const PayrollResult again = UploadPayroll(Bearer(tokens_["s1"]), file);
  ASSERT_THAT(again.status, GrpcOk());
  EXPECT_TRUE(again.response.receipt().replayed());
  EXPECT_EQ(again.response.receipt().ledger().first_seq(), first_seq);
  EXPECT_EQ(ledger_->size(), size_before + kLines);
}

TEST_F(RemoteLedgerLargeUploadTest, ABadLastRowAppendsNothingRemotely) {
  const uint64_t size_before = ledger_->size();
  const PayrollResult result = UploadPayroll(
      Bearer(tokens_["s1"]), PayrollFile(kLines, /*bad=*/kLines - 1));
  EXPECT_THAT(result.status, GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                                    HasSubstr("line 2502, column pay_date")));
  EXPECT_EQ(ledger_->size(), size_before);
}

// ---------------------------------------------------------------------------
// The binaries, as a supplier drives them.

class LargeUploadCliTest : public PremiumdCliTest {
 protected:
  LargeUploadCliTest() {
    premiumd_flags_ = {"--upload-inline-records", absl::StrCat(kInlineRecords)};
  }

  std::string supplier_token() const { return token("s1"); }
};

TEST_F(LargeUploadCliTest, PayrollUploadWritesEveryPageOfCodes) {
  ASSERT_NO_FATAL_FAILURE(StartPremiumd());
  CommandResult result = Ctl(
      admin_token(), {"program", "add", "--id", "ffp", "--name",
                      "Fair Food Program", "--currency", "USD", "--unit", "lb",
                      "--worker-rate", "0.01", "--effective", "2025-01-01"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  result = Ctl(admin_token(),
               {"party", "add", "--role", "supplier", "--id", "s1", "--name",
                "Grower One", "--token-out", supplier_token()});
  ASSERT_EQ(result.exit_code, 0) << result.err;

  const std::string payroll = dir_.Sub("payroll.csv");
  WriteFileOrDie(payroll, PayrollFile(kLines));
  const std::string codes_path = dir_.Sub("codes.csv");
  result = Ctl(supplier_token(),
               {"payroll", "upload", payroll, "--codes-out", codes_path},
               absl::Seconds(90));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "");
  EXPECT_THAT(
      result.out,
      AllOf(HasSubstr(absl::StrCat("appended ", kLines, " payroll lines")),
            HasSubstr(absl::StrCat("USD ", PayrollTotal(kLines)))));
  // "... (ledger seq N to M); ..."
  const size_t at = result.out.find("(ledger seq ");
  ASSERT_NE(at, std::string::npos) << result.out;
  const std::vector<std::string> seqs = absl::StrSplit(
      result.out.substr(at + 12, result.out.find(')', at) - at - 12), " to ");
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  ASSERT_EQ(seqs.size(), 2u) << result.out;
  ASSERT_TRUE(absl::SimpleAtoi(seqs[0], &first_seq)) << result.out;
  ASSERT_TRUE(absl::SimpleAtoi(seqs[1], &last_seq)) << result.out;
  EXPECT_EQ(last_seq, first_seq + kLines - 1);

  // The codes are the workers' credentials: the supplier's eyes only.
  struct stat info;
  ASSERT_EQ(stat(codes_path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600);
  const std::vector<std::string> lines =
      absl::StrSplit(ReadFileOrDie(codes_path), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), static_cast<size_t>(kLines) + 1);
  EXPECT_EQ(lines[0], "worker_id,program_id,period_start,period_end,code");

  // The same codes as ListPaystubCodes lists, row for row.
  auto channel =
      grpc::CreateChannel(server_, grpc::InsecureChannelCredentials());
  auto stub = pb::SupplierService::NewStub(channel);
  PL_ASSERT_OK_AND_ASSIGN(const std::string token,
                          ReadTokenFile(supplier_token()));
  std::vector<pb::PaystubCode> listed;
  pb::ListPaystubCodesRequest request;
  request.set_first_seq(first_seq);
  for (int page = 0; page < 100; ++page) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kLargeCallTimeout));
    context.AddMetadata("authorization", Bearer(token));
    pb::ListPaystubCodesResponse response;
    ASSERT_THAT(stub->ListPaystubCodes(&context, request, &response), GrpcOk());
    listed.insert(listed.end(), response.codes().begin(),
                  response.codes().end());
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  ASSERT_NO_FATAL_FAILURE(ExpectCodesOfTheFile(listed, first_seq));
  // premiumd took --upload-inline-records: the file's codes are paged (a
  // replay through the API says so).
  {
    pb::UploadPayrollResponse replay;
    auto context = Context(Bearer(token), kLargeCallTimeout);
    auto writer = stub->UploadPayroll(context.get(), &replay);
    ASSERT_THAT(testing::StreamUpload(writer.get(), ReadFileOrDie(payroll),
                                      kChunkBytes, "", "payroll.csv"),
                GrpcOk());
    EXPECT_TRUE(replay.receipt().replayed());
    EXPECT_TRUE(replay.codes_paged());
    EXPECT_THAT(replay.codes(), IsEmpty());
  }
  {
    Mismatches mismatches("codes-out vs ListPaystubCodes");
    for (int i = 0; i < kLines; ++i) {
      const pb::PaystubCode& code = listed[static_cast<size_t>(i)];
      const std::string want = absl::StrCat(
          code.worker_id(), ",", code.program_id(), ",", code.period_start(),
          ",", code.period_end(), ",", code.code());
      if (lines[static_cast<size_t>(i) + 1] != want) {
        mismatches.Add(absl::StrCat("row ", i + 1, ": ",
                                    lines[static_cast<size_t>(i) + 1],
                                    " vs listed ", want));
      }
    }
  }

  // Again, without --codes-out: nothing appended, and it says so.
  result =
      Ctl(supplier_token(), {"payroll", "upload", payroll}, absl::Seconds(90));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "");
  EXPECT_THAT(
      result.out,
      AllOf(HasSubstr("was uploaded before"),
            HasSubstr(absl::StrCat("ledger seq ", first_seq, " to ", last_seq)),
            HasSubstr("nothing appended")));

  ASSERT_NO_FATAL_FAILURE(
      StopPremiumdAndVerify(/*verify_timeout=*/absl::Seconds(60)));
}

// ---------------------------------------------------------------------------
// Conflicts found by the ledger while it takes a streamed request: another
// upload's business id, or a request id used for another file. In a suite
// of their own, run last, since a crash of the server takes this whole test
// process down.

class StreamedConflictTest : public LargeUploadTest {};

TEST_F(StreamedConflictTest, ATakenInvoiceIdRefusesTheWholeLargePurchasesFile) {
  const UploadResult earlier = SubmitPurchases(
      Bearer(tokens_["b1"]), absl::StrCat(kPurchasesHeader,
                                          "inv-earlier,s1,ffp,2025-01-20,50,"
                                          "lb\n"));
  ASSERT_THAT(earlier.status, GrpcOk());
  const uint64_t earlier_seq = earlier.receipt.ledger().first_seq();
  const uint64_t size_before = ledger_->size();

  // Row index 2,498 is on line 2,500: in the ledger's third batch.
  constexpr int kReused = 2'498;
  const UploadResult refused =
      SubmitPurchases(Bearer(tokens_["b1"]),
                      PurchasesFile(kLines, "inv", kReused, "inv-earlier"));
  EXPECT_THAT(
      refused.status,
      AnyOf(GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                   HasSubstr(absl::StrCat(
                       "line 2500, column invoice_id: invoice is already "
                       "recorded (ledger seq ",
                       earlier_seq, ")"))),
            GrpcIs(grpc::StatusCode::ALREADY_EXISTS,
                   AllOf(HasSubstr("2500"), HasSubstr("invoice_id")))));
  EXPECT_EQ(ledger_->size(), size_before);

  // Corrected, the file appends whole: no invoice id of the refused file
  // was left claimed.
  const UploadResult corrected = SubmitPurchases(
      Bearer(tokens_["b1"]), PurchasesFile(kLines, "inv", kReused, "inv-new"));
  ASSERT_THAT(corrected.status, GrpcOk());
  EXPECT_FALSE(corrected.receipt.replayed());
  EXPECT_EQ(corrected.receipt.records(), static_cast<uint64_t>(kLines));
  EXPECT_EQ(corrected.receipt.ledger().first_seq(), size_before);
  EXPECT_EQ(corrected.receipt.ledger().entry_count(),
            static_cast<uint64_t>(kLines));
  // 100 lb × 0.01 = 1.00 a row, 2,501 rows.
  EXPECT_THAT(corrected.receipt.totals(),
              UnorderedElementsAre(Pair("USD", "2501.00")));
  EXPECT_EQ(ledger_->size(), size_before + kLines);
}

TEST_F(StreamedConflictTest, ARequestIdReusedForAnotherLargeFileIsRefused) {
  const PayrollResult first =
      UploadPayroll(Bearer(tokens_["s1"]), PayrollFile(kLines), "payroll-q1");
  ASSERT_THAT(first.status, GrpcOk());
  const uint64_t size_before = ledger_->size();

  // Another file (its last line's pay date changed) under the same request
  // id: DESIGN section 5, the same key with other content is ALREADY_EXISTS.
  std::string other = PayrollFile(kLines);
  const size_t at = other.rfind(RowOf(kLines - 1).pay_date);
  ASSERT_NE(at, std::string::npos);
  other.replace(at, 10, RowOf(kLines - 1).period_end);
  const PayrollResult reused =
      UploadPayroll(Bearer(tokens_["s1"]), other, "payroll-q1");
  EXPECT_THAT(reused.status, GrpcIs(grpc::StatusCode::ALREADY_EXISTS,
                                    HasSubstr("payroll-q1")));
  EXPECT_EQ(ledger_->size(), size_before);

  // The same file under it is still a replay.
  const PayrollResult again =
      UploadPayroll(Bearer(tokens_["s1"]), PayrollFile(kLines), "payroll-q1");
  ASSERT_THAT(again.status, GrpcOk());
  EXPECT_TRUE(again.response.receipt().replayed());
  EXPECT_EQ(ledger_->size(), size_before);
}

}  // namespace
}  // namespace premium
