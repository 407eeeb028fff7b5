// Shared helpers of the gRPC service tests (services/*_test.cc and the
// whole-system tests under tests/): the pieces every test wires the same way
// as premiumd does, kept in one place so that a change to premiumd's wiring
// (its bootstrap, its upload framing, its command line) is a change to one
// test helper rather than to a copy in each test. Test code only.
//
// Two kinds of test use them:
//   - in-process: a Ledger with the PremiumIndexer in a TempDir
//     (OpenTestLedger), the admin registered as premiumd registers it
//     (BootstrapAdmin), the services on a real gRPC server on 127.0.0.1:0
//     (StartLocalServer) and calls through stubs (Context, RegisterOrDie,
//     StreamUpload, DisputeOrDie), checked with GrpcIs and GrpcOk;
//   - as a user: the premiumd and premiumctl binaries, driven by
//     PremiumdCliTest over RunCommand and Child (ledger/testing).
//
// The generic pieces live in ledger/testing: TempDir, StatusIs, IsOk,
// IsOkAndHolds, EqualsProto (ledger_testing.h) and Child, RunCommand,
// CommandResult, ExpectOneLine, Lines (child_process.h).
#ifndef PREMIUM_SERVICES_TESTING_SERVICE_TESTING_H_
#define PREMIUM_SERVICES_TESTING_SERVICE_TESTING_H_

#include <grpcpp/grpcpp.h>
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/ledger.h"
#include "ledger/premium/indexer.h"
#include "ledger/testing/child_process.h"
#include "ledger/testing/ledger_testing.h"
#include "services/admin_service.h"
#include "services/audit_service.h"
#include "services/auth.h"
#include "services/brand_service.h"
#include "services/ledger_client.h"
#include "services/server_secret.h"
#include "services/supplier_service.h"
#include "services/worker_service.h"
#include "wsr/premium/v1/admin.grpc.pb.h"
#include "wsr/premium/v1/audit.grpc.pb.h"
#include "wsr/premium/v1/brand.grpc.pb.h"
#include "wsr/premium/v1/common.pb.h"
#include "wsr/premium/v1/records.pb.h"
#include "wsr/premium/v1/supplier.grpc.pb.h"
#include "wsr/premium/v1/worker.grpc.pb.h"

namespace premium::testing {

// ---------------------------------------------------------------------------
// gRPC client settings.

// gRPC polls an idle client channel only every 5 s, so a server's graceful
// shutdown (an in-process server's, or premiumd's on SIGTERM) may wait that
// long for a test's idle channels to answer its ping; poll often. The
// variable must be set before gRPC initializes (the first channel, stub or
// server), hence a namespace-scope initializer; fixtures ASSERT_TRUE it so
// that it is used, and so initialized, in every test binary.
inline const bool kFastBackupPolling =
    setenv("GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS", "100", 1) == 0;

// How long a test's unary call may take before it fails with
// DEADLINE_EXCEEDED, rather than hang the test.
inline constexpr absl::Duration kCallTimeout = absl::Seconds(10);

// The origin of the tests' ledgers (premiumd's --origin).
inline constexpr char kTestOrigin[] = "test.example/premium";

// ---------------------------------------------------------------------------
// Matchers of grpc::Status (absl::Status has StatusIs and IsOk).

// Matches a grpc::Status with `code` and a message matching
// `message_matcher`.
MATCHER_P2(GrpcIs, code, message_matcher,
           absl::StrCat(negation ? "isn't" : "is", " a grpc::Status with code ",
                        static_cast<int>(code))) {
  *result_listener << "whose status is " << arg.error_code() << ": "
                   << arg.error_message();
  return arg.error_code() == code &&
         ::testing::ExplainMatchResult(message_matcher, arg.error_message(),
                                       result_listener);
}

// Matches a grpc::Status with `code`, whatever its message.
inline auto GrpcIs(grpc::StatusCode code) { return GrpcIs(code, ::testing::_); }

// Matches an OK grpc::Status; a failure shows the code and message.
MATCHER(GrpcOk, negation ? "isn't OK" : "is OK") {
  *result_listener << "whose status is " << arg.error_code() << ": "
                   << arg.error_message();
  return arg.ok();
}

// ---------------------------------------------------------------------------
// Calls.

// An "authorization" value: "Bearer <token>", or nothing for an empty token
// (so that Context sends no authorization at all: an anonymous caller).
std::string Bearer(absl::string_view token);

// A context for one call: `authorization` (if not empty) as the
// "authorization" metadata, and a deadline `timeout` from now.
std::unique_ptr<grpc::ClientContext> Context(
    const std::string& authorization = "",
    absl::Duration timeout = kCallTimeout);

// Whether `code` is a paystub code as printed for a worker:
// "XXXX-XXXX-XXXX-XXXX" of Crockford base32 (capitals, no I, L, O or U).
bool IsPrintedCode(absl::string_view code);

// ---------------------------------------------------------------------------
// A ledger and server wired as premiumd wires them.

// The options of a ledger in `data_dir`, created if missing, with origin
// kTestOrigin and `indexer` (the PremiumIndexer, as premiumd's).
LedgerOptions TestLedgerOptions(const std::string& data_dir,
                                const Indexer* indexer);

// Opens the ledger of TestLedgerOptions, on `clock` if set.
absl::StatusOr<std::unique_ptr<Ledger>> OpenTestLedger(
    const std::string& data_dir, const Indexer* indexer,
    std::function<absl::Time()> clock = nullptr);

// Registers the admin in `ledger` as premiumd's BootstrapAdmin does (a
// PartyRegistration appended by the system actor under "bootstrap-admin")
// and returns the admin's new token.
absl::StatusOr<std::string> BootstrapAdmin(Ledger& ledger);

// Builds and starts a gRPC server on 127.0.0.1:0 (a free port, so that
// tests may run in parallel) with `services`, and sets `address` to
// "127.0.0.1:PORT". nullptr, with a test failure, if it did not start.
std::unique_ptr<grpc::Server> StartLocalServer(
    const std::vector<grpc::Service*>& services, std::string* address);

// Every service premiumd serves, built over `client` as premiumd builds
// them (one Authenticator shared by all, default limits), with `today` as
// the services' date. Destroyed after the server that serves them.
struct PremiumServices {
  PremiumServices(LedgerClient* client, const ServerSecret* secret,
                  std::function<absl::CivilDay()> today);
  // The services, to register on a server.
  std::vector<grpc::Service*> all() const;

  std::unique_ptr<Authenticator> authenticator;
  std::unique_ptr<AdminServiceImpl> admin;
  std::unique_ptr<BrandServiceImpl> brand;
  std::unique_ptr<SupplierServiceImpl> supplier;
  std::unique_ptr<WorkerServiceImpl> worker;
  std::unique_ptr<AuditServiceImpl> audit;
};

// Shuts `*server` down (calls in flight get 5 s), waits for it and resets
// it; nothing if it is null. Drop the stubs and channels first so that
// the shutdown need not wait for their idle connections.
void StopLocalServer(std::unique_ptr<grpc::Server>* server);

// Registers a party with request id "reg-<party_id>" and name
// "Party <party_id>" as the admin (`admin_token`), expecting success; the
// party's token.
std::string RegisterOrDie(wsr::premium::v1::AdminService::Stub& admin,
                          const std::string& admin_token,
                          wsr::premium::v1::Role role,
                          const std::string& party_id);

// Streams `file` on `writer` as premiumctl uploads a file: a header naming
// `file_name` (and `request_id`, if not empty), then the bytes in chunks of
// `chunk_bytes`. Stops writing once the server has ended the call, and
// returns the call's status.
grpc::Status StreamUpload(
    grpc::ClientWriter<wsr::premium::v1::UploadChunk>* writer,
    absl::string_view file, size_t chunk_bytes = 64,
    const std::string& request_id = "",
    const std::string& file_name = "upload.csv");

// A worker's dispute of the line of paystub `code`, made with nothing but
// the code (no token), expecting a new entry; its seq.
uint64_t DisputeOrDie(wsr::premium::v1::WorkerService::Stub& worker,
                      const std::string& code, const std::string& amount,
                      const std::string& note);

// A test of every service premiumd serves, on one in-process server over an
// in-process ledger, as premiumd wires them: SetUp opens the ledger (on
// `clock_`, set to `append_time`, so that every entry has that time),
// bootstraps the admin and starts the server (services dated `today`), with
// a stub of each service. Derived fixtures add their programs and parties
// (RegisterOrDie keeps the tokens in `tokens_`).
class PremiumServicesTest : public ::testing::Test {
 protected:
  PremiumServicesTest(absl::CivilDay today, absl::Time append_time)
      : today_(today), append_time_(append_time) {}

  void SetUp() override;
  void TearDown() override { StopServer(); }

  // Opens `ledger_` in data_dir() and `client_` over it.
  void OpenLedger();
  // Sets `admin_token_` as premiumd's BootstrapAdmin does.
  void BootstrapAdmin();
  // Builds the services and starts `server_`; sets `channel_` and the stubs.
  void StartServer();
  // Drops the stubs and channel, stops the server, destroys the services.
  void StopServer();
  // StopServer, and closes the ledger: what is left is the data directory.
  void StopAll();
  // A new premiumd over the same data directory: the ledger reopened, every
  // service (and so every cache) built anew.
  void Restart();

  // Registers a party as the admin; its token.
  std::string RegisterOrDie(wsr::premium::v1::Role role,
                            const std::string& party_id) {
    return testing::RegisterOrDie(*admin_stub_, admin_token_, role, party_id);
  }

  std::string data_dir() const { return dir_.Sub("data"); }

  const absl::CivilDay today_;
  const absl::Time append_time_;
  TempDir dir_;
  FakeClock clock_;
  PremiumIndexer indexer_;
  std::unique_ptr<ServerSecret> secret_;
  std::unique_ptr<Ledger> ledger_;
  std::unique_ptr<LedgerClient> client_;
  std::unique_ptr<PremiumServices> services_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<wsr::premium::v1::AdminService::Stub> admin_stub_;
  std::unique_ptr<wsr::premium::v1::BrandService::Stub> brand_stub_;
  std::unique_ptr<wsr::premium::v1::SupplierService::Stub> supplier_stub_;
  std::unique_ptr<wsr::premium::v1::WorkerService::Stub> worker_stub_;
  std::unique_ptr<wsr::premium::v1::AuditService::Stub> audit_stub_;
  std::string admin_token_;
  // Party id -> token.
  std::map<std::string, std::string> tokens_;
};

// ---------------------------------------------------------------------------
// The binaries, as a user drives them.

// Starts premiumd (PREMIUMD_PATH) on `data_dir`, listening on 127.0.0.1:0,
// with `extra_args`, and sets `address` ("127.0.0.1:PORT") from its first
// line, "premiumd: serving ... on 127.0.0.1:PORT". Null, with a test
// failure, if it did not start.
std::unique_ptr<Child> StartPremiumd(
    const std::string& data_dir, std::string* address,
    const std::vector<std::string>& extra_args = {});

// `premiumd verify --data-dir data_dir`, run to its end.
CommandResult RunPremiumdVerify(const std::string& data_dir,
                                absl::Duration timeout = absl::Seconds(30));

// A test that runs premiumd on a data directory in `dir_` and premiumctl
// against it, through the binaries the build made (PREMIUMD_PATH and
// PREMIUMCTL_PATH of this library). premiumd still running at the end is
// killed (by Child).
class PremiumdCliTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(kFastBackupPolling); }

  // Starts premiumd on 127.0.0.1:0 with `premiumd_flags_` and sets `server_`
  // from its first line, "premiumd: serving ... on 127.0.0.1:PORT".
  void StartPremiumd();

  // Stops premiumd with SIGTERM, expecting a clean exit, then checks its
  // data directory offline with `premiumd verify` (which may take up to
  // `verify_timeout`).
  void StopPremiumdAndVerify(absl::Duration verify_timeout = absl::Seconds(30));

  // premiumctl against `server_`, with `token_file` if not empty.
  CommandResult Ctl(const std::string& token_file,
                    const std::vector<std::string>& args,
                    absl::Duration timeout = absl::Seconds(30));

  // Ctl that must succeed, printing nothing on standard error; its output.
  std::string CtlOrDie(const std::string& token_file,
                       const std::vector<std::string>& args);

  std::string data_dir() const { return dir_.Sub("data"); }
  // Where a party's token file goes: "<dir_>/<name>.token".
  std::string token(absl::string_view name) const {
    return dir_.Sub(absl::StrCat(name, ".token"));
  }
  // The token file premiumd writes for the admin on first start.
  std::string admin_token() const {
    return absl::StrCat(data_dir(), "/admin.token");
  }

  TempDir dir_;
  // Flags StartPremiumd adds to --data-dir and --listen.
  std::vector<std::string> premiumd_flags_;
  std::unique_ptr<Child> premiumd_;
  std::string server_;
};

}  // namespace premium::testing

#endif  // PREMIUM_SERVICES_TESTING_SERVICE_TESTING_H_
