// The microservice deployment of DESIGN section 6, end to end: the ledger in
// one premiumd process (--ledger-only, on the data directory) and the role
// services in another (--ledger-addr) that reaches it over gRPC, as
// deploy/run-split starts them. Users drive the front process with
// premiumctl, exactly as they would the all-in-one premiumd; the test then
// checks that every entry landed in the ledger process, that neither process
// serves the other's services, that retries stay idempotent across the
// process boundary, and that a front process with a wrong ledger token or a
// dead ledger fails each call at once with one line instead of hanging.
//
// Every child runs on 127.0.0.1:0 and names its port on its first line of
// standard output. Every wait has a timeout; a child still running at the end
// of a test is killed.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/merkle/hasher.h"
#include "ledger/merkle/proof.h"
#include "ledger/premium/indexer.h"
#include "ledger/testing/child_process.h"
#include "ledger/testing/ledger_testing.h"
#include "nlohmann/json.hpp"
#include "services/credentials.h"
#include "services/testing/service_testing.h"
#include "wsr/premium/v1/admin.grpc.pb.h"
#include "wsr/premium/v1/entry.pb.h"
#include "wsr/premium/v1/ledger.grpc.pb.h"

namespace premium {
namespace {

namespace pb = wsr::premium::v1;
using ::premium::testing::Bearer;
using ::premium::testing::Child;
using ::premium::testing::CommandResult;
using ::premium::testing::Context;
using ::premium::testing::kCallTimeout;
using ::premium::testing::kFastBackupPolling;
using ::premium::testing::ReadFileOrDie;
using ::premium::testing::RunCommand;
using ::premium::testing::TempDir;
using ::premium::testing::WriteFileOrDie;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr absl::Duration kStartTimeout = absl::Seconds(20);
constexpr absl::Duration kStopTimeout = absl::Seconds(15);
// premiumctl's own deadline for each call (its --timeout).
constexpr int kCtlTimeoutSeconds = 5;
// How long a call through a front process with a broken ledger link may
// take to fail: well under premiumctl's deadline, so the failure is the
// front's answer and not the deadline.
constexpr absl::Duration kFailFastMax = absl::Seconds(4);

// ---------------------------------------------------------------------------

std::string Describe(const CommandResult& result) {
  return absl::StrCat("exit ", result.exit_code, "\nstdout: ", result.out,
                      "\nstderr: ", result.err);
}

// DESIGN section 8: failures print one clear line on standard error.
void ExpectFailsWithOneLine(const CommandResult& result,
                            absl::string_view code_name) {
  EXPECT_NE(result.exit_code, 0) << Describe(result);
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1)
      << result.err;
  EXPECT_TRUE(absl::EndsWith(result.err, "\n")) << result.err;
  EXPECT_THAT(result.err, HasSubstr(code_name));
}

std::unique_ptr<grpc::ClientContext> NewContext(absl::string_view token = {}) {
  return Context(Bearer(token), kCallTimeout);
}

// premiumd's first line, "premiumd: serving <what> on 127.0.0.1:<port>", as
// <what> and the port (by hand: GCC 12's std::regex trips
// -Wmaybe-uninitialized under ASan).
struct ServingLine {
  std::string what;
  int port = 0;
};

bool ParseServingLine(absl::string_view line, ServingLine* serving) {
  if (!absl::ConsumePrefix(&line, "premiumd: serving ")) return false;
  const size_t on = line.rfind(" on 127.0.0.1:");
  if (on == absl::string_view::npos) return false;
  serving->what = std::string(line.substr(0, on));
  return absl::SimpleAtoi(line.substr(on + std::strlen(" on 127.0.0.1:")),
                          &serving->port) &&
         serving->port > 0;
}

// A premiumd process and the address it serves on.
struct Server {
  std::unique_ptr<Child> child;
  std::string address;
  std::string what;  // as its serving line says
};

// The CSV files of section 8: three purchases and two payments of brand
// "fresh-mart" from supplier "sunny-farms", and four payroll lines of that
// supplier.
constexpr size_t kPurchaseRows = 3;
constexpr size_t kPaymentRows = 2;
constexpr size_t kPayrollRows = 4;
constexpr char kPurchasesCsv[] =
    "invoice_id,supplier_id,program_id,purchase_date,quantity,unit\n"
    "fm-1001,sunny-farms,ffp,2025-02-03,42000,lb\n"
    "fm-1002,sunny-farms,ffp,2025-02-10,18500.5,lb\n"
    "fm-1003,sunny-farms,ffp,2025-02-24,39000,lb\n";
constexpr char kPaymentsCsv[] =
    "payment_id,supplier_id,program_id,paid_date,amount,currency\n"
    "fm-pay-1,sunny-farms,ffp,2025-02-14,420.00,USD\n"
    "fm-pay-2,sunny-farms,ffp,2025-02-21,185.01,USD\n";
constexpr char kPayrollCsv[] =
    "program_id,worker_id,period_start,period_end,pay_date,hours,gross_wages,"
    "premium_amount,currency\n"
    "ffp,w-001,2025-02-10,2025-02-16,2025-02-19,40.50,607.50,12.15,USD\n"
    "ffp,w-002,2025-02-10,2025-02-16,2025-02-19,32.00,480.00,9.60,USD\n"
    "ffp,w-001,2025-02-17,2025-02-23,2025-02-26,38.00,570.00,11.40,USD\n"
    "ffp,w-002,2025-02-17,2025-02-23,2025-02-26,41.25,618.75,12.38,USD\n";

class SplitTopologyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(kFastBackupPolling);
    WriteFileOrDie(purchases_csv_, kPurchasesCsv);
    WriteFileOrDie(payments_csv_, kPaymentsCsv);
    WriteFileOrDie(payroll_csv_, kPayrollCsv);
  }
  // Fronts first: each holds a channel to the ledger. The Child destructor
  // kills what still runs.
  void TearDown() override {
    front_.child.reset();
    other_front_.child.reset();
    ledger_.child.reset();
  }

  // Starts `args` and reads its serving line into `server`. Call as
  // ASSERT_NO_FATAL_FAILURE(...): a server that did not start ends the test.
  static void StartServer(const std::vector<std::string>& args,
                          Server* server) {
    server->child = Child::Start(args);
    ASSERT_NE(server->child, nullptr);
    const std::optional<std::string> line =
        server->child->WaitForFirstLine(kStartTimeout);
    ASSERT_TRUE(line.has_value())
        << absl::StrJoin(args, " ")
        << " printed no line; stderr: " << server->child->err();
    ServingLine serving;
    ASSERT_TRUE(ParseServingLine(*line, &serving))
        << "unexpected first line: " << *line
        << "\nstderr: " << server->child->err();
    server->address = absl::StrCat("127.0.0.1:", serving.port);
    server->what = serving.what;
  }

  // The ledger process: premiumd --ledger-only on data_dir_.
  void StartLedger() {
    ASSERT_NO_FATAL_FAILURE(
        StartServer({PREMIUMD_PATH, "--data-dir", data_dir_, "--listen",
                     "127.0.0.1:0", "--ledger-only"},
                    &ledger_));
    EXPECT_THAT(ledger_.what, StartsWith("the ledger \"")) << ledger_.what;
  }

  // A front process: the role services against the ledger at
  // `ledger_address`, presenting the token in `ledger_token_file`.
  static void StartFront(const std::string& ledger_address,
                         const std::string& ledger_token_file,
                         const std::string& secret_file, Server* front) {
    ASSERT_NO_FATAL_FAILURE(
        StartServer({PREMIUMD_PATH, "--listen", "127.0.0.1:0", "--ledger-addr",
                     ledger_address, "--ledger-token-file", ledger_token_file,
                     "--secret-file", secret_file},
                    front));
    EXPECT_EQ(front->what, absl::StrCat("the role services (ledger at ",
                                        ledger_address, ")"));
  }

  // The deployment of deploy/run-split: a ledger process, and a front
  // process with the ledger's own ledger.token and server.secret.
  void StartSplit() {
    ASSERT_NO_FATAL_FAILURE(StartLedger());
    ASSERT_NO_FATAL_FAILURE(
        StartFront(ledger_.address, ledger_token_file_, secret_file_, &front_));
  }

  // SIGTERM, then a clean exit (0) with the serving line as the only output.
  static void Stop(Server* server) {
    ASSERT_NE(server->child, nullptr);
    server->child->Signal(SIGTERM);
    const std::optional<int> exit_code =
        server->child->WaitForExit(kStopTimeout);
    ASSERT_TRUE(exit_code.has_value())
        << server->what << " ignored SIGTERM; stderr: " << server->child->err();
    EXPECT_EQ(*exit_code, 0) << server->what << ": " << server->child->err();
    const std::string out = server->child->out();
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
    server->child.reset();
  }

  // premiumctl --server <server> [--token-file <token_file>] <args>.
  static CommandResult Ctl(const Server& server, const std::string& token_file,
                           const std::vector<std::string>& args) {
    std::vector<std::string> command = {PREMIUMCTL_PATH, "--server",
                                        server.address, "--timeout",
                                        absl::StrCat(kCtlTimeoutSeconds)};
    if (!token_file.empty()) {
      command.insert(command.end(), {"--token-file", token_file});
    }
    command.insert(command.end(), args.begin(), args.end());
    return RunCommand(command);
  }

  // The ledger process's newest checkpoint, as `premiumctl ledger
  // checkpoint --output json` prints it.
  nlohmann::json LedgerCheckpoint() {
    const CommandResult result =
        Ctl(ledger_, "", {"--output", "json", "ledger", "checkpoint"});
    EXPECT_EQ(result.exit_code, 0) << Describe(result);
    nlohmann::json json = nlohmann::json::parse(result.out, nullptr, false);
    EXPECT_FALSE(json.is_discarded()) << result.out;
    return json;
  }
  uint64_t LedgerTreeSize() {
    const nlohmann::json checkpoint = LedgerCheckpoint();
    if (!checkpoint.contains("tree_size")) {
      ADD_FAILURE() << "no tree_size in " << checkpoint.dump();
      return 0;
    }
    return checkpoint["tree_size"].get<uint64_t>();
  }

  // As the admin through `front`: the program and the two parties, whose
  // tokens go to brand_token_ and supplier_token_. Appends 3 entries.
  void SetUpProgramAndParties(const Server& front) {
    CommandResult result =
        Ctl(front, admin_token_,
            {"program", "add", "--id", "ffp", "--name", "Fair Food",
             "--currency", "USD", "--unit", "lb", "--worker-rate", "0.01",
             "--effective", "2025-01-01"});
    ASSERT_EQ(result.exit_code, 0) << Describe(result);
    EXPECT_THAT(result.out, HasSubstr("ffp"));
    result = Ctl(front, admin_token_,
                 {"party", "add", "--role", "brand", "--id", "fresh-mart",
                  "--name", "Fresh Mart", "--token-out", brand_token_});
    ASSERT_EQ(result.exit_code, 0) << Describe(result);
    EXPECT_THAT(result.out, StartsWith("registered brand fresh-mart"));
    result = Ctl(front, admin_token_,
                 {"party", "add", "--role", "supplier", "--id", "sunny-farms",
                  "--name", "Sunny Farms", "--token-out", supplier_token_});
    ASSERT_EQ(result.exit_code, 0) << Describe(result);
    EXPECT_THAT(result.out, StartsWith("registered supplier sunny-farms"));
  }

  // As the supplier through `front`: uploads the payroll and returns the
  // codes-out rows (worker_id, program_id, period_start, period_end, code).
  std::vector<std::vector<std::string>> UploadPayroll(const Server& front) {
    const CommandResult result =
        Ctl(front, supplier_token_,
            {"payroll", "upload", payroll_csv_, "--codes-out", codes_csv_});
    EXPECT_EQ(result.exit_code, 0) << Describe(result);
    EXPECT_THAT(result.out, StartsWith(absl::StrCat("appended ", kPayrollRows,
                                                    " payroll lines")));
    std::vector<std::vector<std::string>> rows;
    for (absl::string_view line :
         absl::StrSplit(ReadFileOrDie(codes_csv_), '\n', absl::SkipEmpty())) {
      rows.push_back(absl::StrSplit(line, ','));
    }
    EXPECT_EQ(rows.size(), kPayrollRows + 1);
    if (!rows.empty()) {
      EXPECT_EQ(absl::StrJoin(rows.front(), ","),
                "worker_id,program_id,period_start,period_end,code");
      rows.erase(rows.begin());
    }
    for (const std::vector<std::string>& row : rows) {
      EXPECT_EQ(row.size(), 5u) << absl::StrJoin(row, ",");
    }
    return rows;
  }

  TempDir dir_;
  const std::string data_dir_ = dir_.Sub("data");
  const std::string admin_token_ = dir_.Sub("data/admin.token");
  const std::string ledger_token_file_ = dir_.Sub("data/ledger.token");
  const std::string secret_file_ = dir_.Sub("data/server.secret");
  const std::string brand_token_ = dir_.Sub("fresh-mart.token");
  const std::string supplier_token_ = dir_.Sub("sunny-farms.token");
  const std::string purchases_csv_ = dir_.Sub("purchases.csv");
  const std::string payments_csv_ = dir_.Sub("payments.csv");
  const std::string payroll_csv_ = dir_.Sub("payroll.csv");
  const std::string codes_csv_ = dir_.Sub("codes.csv");
  Server ledger_;
  Server front_;
  Server other_front_;
};

// Checks `premiumctl worker lookup --output json` against the ledger
// process's own tree: the entry bytes are the line's entry, the proof ties
// them to the checkpoint's root, and that root is the one the ledger process
// signs for the same tree size.
void ExpectLookupProvenByLedger(const nlohmann::json& lookup,
                                pb::LedgerService::Stub& ledger_stub) {
  ASSERT_TRUE(lookup.contains("line") && lookup.contains("entry_bytes") &&
              lookup.contains("inclusion_proof") &&
              lookup.contains("checkpoint"))
      << lookup.dump();
  const uint64_t seq = lookup["line"]["seq"].get<uint64_t>();
  const nlohmann::json& proof = lookup["inclusion_proof"];
  const nlohmann::json& checkpoint = lookup["checkpoint"];
  const uint64_t tree_size = checkpoint["tree_size"].get<uint64_t>();
  EXPECT_EQ(proof["leaf_index"].get<uint64_t>(), seq);
  EXPECT_EQ(proof["tree_size"].get<uint64_t>(), tree_size);

  std::string entry_bytes;
  ASSERT_TRUE(absl::Base64Unescape(lookup["entry_bytes"].get<std::string>(),
                                   &entry_bytes));
  pb::Entry entry;
  ASSERT_TRUE(entry.ParseFromString(entry_bytes));
  EXPECT_EQ(entry.seq(), seq);
  EXPECT_EQ(entry.kind(), kPayrollLineKind);

  std::string root_bytes;
  ASSERT_TRUE(absl::Base64Unescape(checkpoint["root_hash"].get<std::string>(),
                                   &root_bytes));
  absl::StatusOr<merkle::Hash> root = merkle::HashFromBytes(root_bytes);
  ASSERT_TRUE(root.ok()) << root.status();
  std::vector<merkle::Hash> hashes;
  for (const nlohmann::json& hex : proof["hashes"]) {
    absl::StatusOr<merkle::Hash> hash =
        merkle::HashFromHex(hex.get<std::string>());
    ASSERT_TRUE(hash.ok()) << hash.status();
    hashes.push_back(*hash);
  }
  EXPECT_TRUE(merkle::VerifyInclusion(merkle::HashLeaf(entry_bytes), seq,
                                      tree_size, hashes, *root)
                  .ok());

  pb::GetCheckpointRequest request;
  request.set_tree_size(tree_size);
  pb::GetCheckpointResponse response;
  const grpc::Status status =
      ledger_stub.GetCheckpoint(NewContext().get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.checkpoint().root_hash(), root_bytes);
  EXPECT_EQ(absl::Base64Escape(response.checkpoint().signature()),
            checkpoint["signature"].get<std::string>());
}

// ---------------------------------------------------------------------------

TEST_F(SplitTopologyTest, UsersDriveTheRoleServicesOverARemoteLedger) {
  ASSERT_NO_FATAL_FAILURE(StartSplit());
  // The ledger process registered the admin on first start.
  EXPECT_THAT(ledger_.what, HasSubstr("(tree size 1)"));
  uint64_t appended = 1;

  ASSERT_NO_FATAL_FAILURE(SetUpProgramAndParties(front_));
  appended += 3;

  CommandResult result =
      Ctl(front_, brand_token_, {"purchases", "submit", purchases_csv_});
  ASSERT_EQ(result.exit_code, 0) << Describe(result);
  EXPECT_THAT(result.out, StartsWith(absl::StrCat("appended ", kPurchaseRows,
                                                  " purchases")));
  appended += kPurchaseRows;
  result = Ctl(front_, brand_token_, {"payments", "submit", payments_csv_});
  ASSERT_EQ(result.exit_code, 0) << Describe(result);
  EXPECT_THAT(result.out,
              StartsWith(absl::StrCat("appended ", kPaymentRows, " payments")));
  appended += kPaymentRows;
  const std::vector<std::vector<std::string>> codes = UploadPayroll(front_);
  ASSERT_EQ(codes.size(), kPayrollRows);
  appended += kPayrollRows;
  const std::string code = codes[1][4];  // w-002's first week

  // A worker: no token, the code is the credential; premiumctl verifies the
  // proof itself before it prints "verified:".
  result = Ctl(front_, "", {"worker", "lookup", "--code", code});
  ASSERT_EQ(result.exit_code, 0) << Describe(result);
  EXPECT_THAT(result.out, HasSubstr("worker w-002 at sunny-farms"));
  const std::vector<std::string> lines =
      absl::StrSplit(result.out, '\n', absl::SkipEmpty());
  EXPECT_TRUE(std::any_of(lines.begin(), lines.end(),
                          [](const std::string& line) {
                            return absl::StartsWith(line, "verified:");
                          }))
      << result.out;

  result =
      Ctl(front_, "", {"--output", "json", "worker", "lookup", "--code", code});
  ASSERT_EQ(result.exit_code, 0) << Describe(result);
  const nlohmann::json lookup =
      nlohmann::json::parse(result.out, nullptr, false);
  ASSERT_FALSE(lookup.is_discarded()) << result.out;
  EXPECT_EQ(lookup["supplier_id"], "sunny-farms");
  EXPECT_EQ(lookup["worker_id"], "w-002");
  EXPECT_EQ(lookup["lines"].size(), 2u);
  EXPECT_EQ(lookup["line"]["period_start"], "2025-02-10");
  EXPECT_EQ(lookup["checkpoint"]["tree_size"].get<uint64_t>(), appended);
  auto ledger_channel =
      grpc::CreateChannel(ledger_.address, grpc::InsecureChannelCredentials());
  auto ledger_stub = pb::LedgerService::NewStub(ledger_channel);
  ASSERT_NO_FATAL_FAILURE(ExpectLookupProvenByLedger(lookup, *ledger_stub));

  result = Ctl(front_, "",
               {"worker", "dispute", "--code", code, "--paystub-amount", "8.00",
                "--note", "paystub shows 8.00"});
  ASSERT_EQ(result.exit_code, 0) << Describe(result);
  EXPECT_THAT(result.out, StartsWith("dispute recorded"));
  appended += 1;

  // Every entry is in the ledger process: 1 admin + 1 program + 2 parties +
  // 3 purchases + 2 payments + 4 payroll lines + 1 dispute.
  ASSERT_EQ(appended, 14u);
  EXPECT_EQ(LedgerTreeSize(), appended);

  // Neither process serves the other's services.
  {
    auto front_channel =
        grpc::CreateChannel(front_.address, grpc::InsecureChannelCredentials());
    pb::GetCheckpointResponse checkpoint;
    const grpc::Status front_ledger =
        pb::LedgerService::NewStub(front_channel)
            ->GetCheckpoint(NewContext().get(), pb::GetCheckpointRequest(),
                            &checkpoint);
    EXPECT_EQ(front_ledger.error_code(), grpc::StatusCode::UNIMPLEMENTED)
        << front_ledger.error_message();
    absl::StatusOr<std::string> admin = ReadTokenFile(admin_token_);
    ASSERT_TRUE(admin.ok()) << admin.status();
    pb::ListProgramsResponse programs;
    const grpc::Status ledger_admin =
        pb::AdminService::NewStub(ledger_channel)
            ->ListPrograms(NewContext(*admin).get(), pb::ListProgramsRequest(),
                           &programs);
    EXPECT_EQ(ledger_admin.error_code(), grpc::StatusCode::UNIMPLEMENTED)
        << ledger_admin.error_message();
  }

  // Retries through the front process append nothing: the ledger process
  // remembers each upload's idempotency key.
  for (const auto& [token, args] :
       std::vector<std::pair<std::string, std::vector<std::string>>>{
           {brand_token_, {"purchases", "submit", purchases_csv_}},
           {brand_token_, {"payments", "submit", payments_csv_}},
           {supplier_token_, {"payroll", "upload", payroll_csv_}}}) {
    result = Ctl(front_, token, args);
    EXPECT_EQ(result.exit_code, 0) << Describe(result);
    EXPECT_THAT(result.out, HasSubstr("nothing appended")) << args[0];
  }
  result = Ctl(front_, "",
               {"worker", "dispute", "--code", code, "--paystub-amount", "8.00",
                "--note", "paystub shows 8.00"});
  EXPECT_EQ(result.exit_code, 0) << Describe(result);
  EXPECT_THAT(result.out, StartsWith("this dispute was already recorded"));
  EXPECT_EQ(LedgerTreeSize(), appended);

  // Both stop cleanly on SIGTERM, the front first (it is the ledger's
  // client), and the data directory verifies offline.
  ledger_stub.reset();
  ledger_channel.reset();
  ASSERT_NO_FATAL_FAILURE(Stop(&front_));
  ASSERT_NO_FATAL_FAILURE(Stop(&ledger_));
  result = RunCommand({PREMIUMD_PATH, "verify", "--data-dir", data_dir_});
  EXPECT_EQ(result.exit_code, 0) << Describe(result);
  EXPECT_THAT(result.out, StartsWith(absl::StrCat(
                              "premiumd verify: OK: ", appended, " entries")));
  EXPECT_THAT(result.out, HasSubstr(absl::StrCat("tree size ", appended)));
}

TEST_F(SplitTopologyTest, FrontWithAnotherLedgerTokenFailsEveryCall) {
  ASSERT_NO_FATAL_FAILURE(StartSplit());
  ASSERT_NO_FATAL_FAILURE(SetUpProgramAndParties(front_));
  const std::vector<std::vector<std::string>> codes = UploadPayroll(front_);
  ASSERT_EQ(codes.size(), kPayrollRows);
  const uint64_t tree_size = LedgerTreeSize();
  ASSERT_EQ(tree_size, 1u + 3u + kPayrollRows);

  // A well-formed token the ledger never made.
  const std::string wrong_token_file = dir_.Sub("wrong-ledger.token");
  absl::StatusOr<std::string> wrong_token = GenerateToken("ledger_");
  ASSERT_TRUE(wrong_token.ok()) << wrong_token.status();
  ASSERT_TRUE(WriteTokenFile(wrong_token_file, *wrong_token).ok());
  ASSERT_NO_FATAL_FAILURE(StartFront(ledger_.address, wrong_token_file,
                                     secret_file_, &other_front_));

  // The same calls that work through the right front, with the same
  // credentials: each fails, nothing is appended, and the error says it is
  // the front's ledger token (INTERNAL), not the user's permission.
  const std::string& code = codes[0][4];
  const std::vector<std::pair<std::string, std::vector<std::string>>> calls = {
      {admin_token_,
       {"program", "add", "--id", "ffp2", "--name", "Other", "--currency",
        "USD", "--unit", "lb", "--worker-rate", "0.02", "--effective",
        "2025-01-01"}},
      {admin_token_,
       {"party", "add", "--role", "auditor", "--id", "audit-co", "--name",
        "Audit Co"}},
      {brand_token_, {"purchases", "submit", purchases_csv_}},
      {brand_token_, {"payments", "submit", payments_csv_}},
      {supplier_token_, {"payroll", "upload", payroll_csv_}},
      {"", {"worker", "lookup", "--code", code}},
      {"", {"worker", "dispute", "--code", code, "--paystub-amount", "1.00"}},
  };
  for (const auto& [token, args] : calls) {
    SCOPED_TRACE(absl::StrJoin(args, " "));
    const CommandResult result = Ctl(other_front_, token, args);
    ExpectFailsWithOneLine(result, "INTERNAL");
    EXPECT_THAT(result.err, HasSubstr("--ledger-token-file"));
    EXPECT_LT(result.elapsed, kFailFastMax);
  }
  EXPECT_EQ(LedgerTreeSize(), tree_size);

  // The right front still works beside it.
  const CommandResult result =
      Ctl(front_, "", {"worker", "lookup", "--code", code});
  EXPECT_EQ(result.exit_code, 0) << Describe(result);
  ASSERT_NO_FATAL_FAILURE(Stop(&other_front_));
  ASSERT_NO_FATAL_FAILURE(Stop(&front_));
  ASSERT_NO_FATAL_FAILURE(Stop(&ledger_));
}

TEST_F(SplitTopologyTest, FrontWithADeadLedgerAnswersUnavailable) {
  ASSERT_NO_FATAL_FAILURE(StartSplit());
  ASSERT_NO_FATAL_FAILURE(SetUpProgramAndParties(front_));
  const std::vector<std::vector<std::string>> codes = UploadPayroll(front_);
  ASSERT_EQ(codes.size(), kPayrollRows);
  const std::string& code = codes[0][4];
  const std::string ledger_address = ledger_.address;

  // The ledger goes away under a running front (which has authenticated
  // these tokens and holds a connection), and a second front starts against
  // the dead address.
  ASSERT_NO_FATAL_FAILURE(Stop(&ledger_));
  ASSERT_NO_FATAL_FAILURE(StartFront(ledger_address, ledger_token_file_,
                                     secret_file_, &other_front_));
  const std::vector<std::pair<std::string, std::vector<std::string>>> calls = {
      {admin_token_,
       {"party", "add", "--role", "auditor", "--id", "audit-co", "--name",
        "Audit Co"}},
      {brand_token_, {"purchases", "submit", purchases_csv_}},
      {supplier_token_, {"payroll", "upload", payroll_csv_}},
      {"", {"worker", "lookup", "--code", code}},
  };
  for (const Server* front : {&front_, &other_front_}) {
    for (const auto& [token, args] : calls) {
      SCOPED_TRACE(
          absl::StrCat(front == &front_ ? "running front: " : "new front: ",
                       absl::StrJoin(args, " ")));
      const CommandResult result = Ctl(*front, token, args);
      ExpectFailsWithOneLine(result, "UNAVAILABLE");
      EXPECT_LT(result.elapsed, kFailFastMax);
    }
  }
  ASSERT_NO_FATAL_FAILURE(Stop(&other_front_));
  ASSERT_NO_FATAL_FAILURE(Stop(&front_));
}

}  // namespace
}  // namespace premium
