#include "services/testing/service_testing.h"

#include <signal.h>

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "ledger/merkle/hasher.h"
#include "ledger/premium/indexer.h"
#include "services/auth.h"
#include "services/credentials.h"
#include "services/testing/premiumd_banner.h"

#ifndef PREMIUMD_PATH
#error "PREMIUMD_PATH must name the premiumd binary"
#endif
#ifndef PREMIUMCTL_PATH
#error "PREMIUMCTL_PATH must name the premiumctl binary"
#endif

namespace premium::testing {

namespace pb = ::wsr::premium::v1;

std::string Bearer(absl::string_view token) {
  return token.empty() ? "" : absl::StrCat("Bearer ", token);
}

std::unique_ptr<grpc::ClientContext> Context(const std::string& authorization,
                                             absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  if (!authorization.empty()) {
    context->AddMetadata("authorization", authorization);
  }
  return context;
}

bool IsPrintedCode(absl::string_view code) {
  constexpr absl::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  if (code.size() != 19) return false;
  for (size_t i = 0; i < code.size(); ++i) {
    const bool ok =
        i % 5 == 4 ? code[i] == '-' : kAlphabet.find(code[i]) != kAlphabet.npos;
    if (!ok) return false;
  }
  return true;
}

LedgerOptions TestLedgerOptions(const std::string& data_dir,
                                const Indexer* indexer) {
  LedgerOptions options;
  options.data_dir = data_dir;
  options.create_if_missing = true;
  options.origin = kTestOrigin;
  options.indexer = indexer;
  return options;
}

absl::StatusOr<std::unique_ptr<Ledger>> OpenTestLedger(
    const std::string& data_dir, const Indexer* indexer,
    std::function<absl::Time()> clock) {
  LedgerOptions options = TestLedgerOptions(data_dir, indexer);
  if (clock != nullptr) options.clock = std::move(clock);
  return Ledger::Open(options);
}

absl::StatusOr<std::string> BootstrapAdmin(Ledger& ledger) {
  absl::StatusOr<std::string> token = GenerateToken("admin_");
  if (!token.ok()) return token.status();
  pb::PartyRegistration admin;
  admin.set_role(pb::ADMIN);
  admin.set_party_id(kAdminPartyId);
  admin.set_name("Program administrator");
  admin.set_token_sha256(std::string(merkle::HashBytes(HashToken(*token))));
  AppendRequest request;
  request.actor = kSystemActor;
  request.idempotency_key = "bootstrap-admin";
  request.entries.push_back(
      AppendEntry{kPartyRegistrationKind, admin.SerializeAsString()});
  absl::Status appended = ledger.Append(request).status();
  if (!appended.ok()) return appended;
  return token;
}

std::unique_ptr<grpc::Server> StartLocalServer(
    const std::vector<grpc::Service*>& services, std::string* address) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  for (grpc::Service* service : services) builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    ADD_FAILURE() << "the gRPC server did not start on 127.0.0.1:0";
    return nullptr;
  }
  *address = absl::StrCat("127.0.0.1:", port);
  return server;
}

PremiumServices::PremiumServices(LedgerClient* client,
                                 const ServerSecret* secret,
                                 std::function<absl::CivilDay()> today)
    : authenticator(std::make_unique<Authenticator>(client)),
      admin(std::make_unique<AdminServiceImpl>(client, authenticator.get(),
                                               secret, today)),
      brand(std::make_unique<BrandServiceImpl>(client, authenticator.get(),
                                               UploadLimits{}, today)),
      supplier(std::make_unique<SupplierServiceImpl>(
          client, authenticator.get(), secret)),
      worker(std::make_unique<WorkerServiceImpl>(client)),
      audit(std::make_unique<AuditServiceImpl>(client, authenticator.get(),
                                               today)) {}

std::vector<grpc::Service*> PremiumServices::all() const {
  return {admin.get(), brand.get(), supplier.get(), worker.get(), audit.get()};
}

void StopLocalServer(std::unique_ptr<grpc::Server>* server) {
  if (*server == nullptr) return;
  (*server)->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  (*server)->Wait();
  server->reset();
}

std::string RegisterOrDie(pb::AdminService::Stub& admin,
                          const std::string& admin_token, pb::Role role,
                          const std::string& party_id) {
  pb::RegisterPartyRequest request;
  request.set_request_id(absl::StrCat("reg-", party_id));
  request.set_role(role);
  request.set_party_id(party_id);
  request.set_name(absl::StrCat("Party ", party_id));
  pb::RegisterPartyResponse response;
  EXPECT_THAT(admin.RegisterParty(Context(Bearer(admin_token)).get(), request,
                                  &response),
              GrpcOk());
  EXPECT_FALSE(response.token().empty());
  return response.token();
}

grpc::Status StreamUpload(grpc::ClientWriter<pb::UploadChunk>* writer,
                          absl::string_view file, size_t chunk_bytes,
                          const std::string& request_id,
                          const std::string& file_name) {
  pb::UploadChunk header;
  header.mutable_header()->set_file_name(file_name);
  header.mutable_header()->set_request_id(request_id);
  bool open = writer->Write(header);
  for (size_t offset = 0; open && offset < file.size(); offset += chunk_bytes) {
    pb::UploadChunk data;
    data.set_data(std::string(file.substr(offset, chunk_bytes)));
    open = writer->Write(data);
  }
  if (open) writer->WritesDone();
  return writer->Finish();
}

uint64_t DisputeOrDie(pb::WorkerService::Stub& worker, const std::string& code,
                      const std::string& amount, const std::string& note) {
  pb::DisputeLineRequest request;
  request.set_code(code);
  request.set_paystub_amount(amount);
  request.set_note(note);
  pb::DisputeLineResponse response;
  EXPECT_THAT(worker.DisputeLine(Context().get(), request, &response),
              GrpcOk());
  EXPECT_FALSE(response.replayed());
  return response.seq();
}

// ---------------------------------------------------------------------------
// PremiumServicesTest.

void PremiumServicesTest::SetUp() {
  ASSERT_TRUE(kFastBackupPolling);
  clock_.Set(append_time_);
  PL_ASSERT_OK_AND_ASSIGN(
      secret_, ServerSecret::LoadOrCreate(dir_.Sub(ServerSecret::kFileName)));
  ASSERT_NO_FATAL_FAILURE(OpenLedger());
  ASSERT_NO_FATAL_FAILURE(BootstrapAdmin());
  ASSERT_NO_FATAL_FAILURE(StartServer());
}

void PremiumServicesTest::OpenLedger() {
  PL_ASSERT_OK_AND_ASSIGN(
      ledger_, OpenTestLedger(data_dir(), &indexer_, clock_.AsFunction()));
  client_ = NewInProcessLedgerClient(ledger_.get());
}

void PremiumServicesTest::BootstrapAdmin() {
  PL_ASSERT_OK_AND_ASSIGN(admin_token_, testing::BootstrapAdmin(*ledger_));
}

void PremiumServicesTest::StartServer() {
  const absl::CivilDay today = today_;
  services_ = std::make_unique<PremiumServices>(client_.get(), secret_.get(),
                                                [today] { return today; });
  std::string address;
  server_ = StartLocalServer(services_->all(), &address);
  ASSERT_NE(server_, nullptr);
  channel_ = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  admin_stub_ = pb::AdminService::NewStub(channel_);
  brand_stub_ = pb::BrandService::NewStub(channel_);
  supplier_stub_ = pb::SupplierService::NewStub(channel_);
  worker_stub_ = pb::WorkerService::NewStub(channel_);
  audit_stub_ = pb::AuditService::NewStub(channel_);
}

void PremiumServicesTest::StopServer() {
  admin_stub_.reset();
  brand_stub_.reset();
  supplier_stub_.reset();
  worker_stub_.reset();
  audit_stub_.reset();
  channel_.reset();
  StopLocalServer(&server_);
  services_.reset();
}

void PremiumServicesTest::StopAll() {
  StopServer();
  client_.reset();
  ledger_.reset();
}

void PremiumServicesTest::Restart() {
  StopAll();
  ASSERT_NO_FATAL_FAILURE(OpenLedger());
  ASSERT_NO_FATAL_FAILURE(StartServer());
}

// ---------------------------------------------------------------------------
// PremiumdCliTest.

std::unique_ptr<Child> StartPremiumd(
    const std::string& data_dir, std::string* address,
    const std::vector<std::string>& extra_args) {
  std::vector<std::string> args = {PREMIUMD_PATH, "--data-dir", data_dir,
                                   "--listen", "127.0.0.1:0"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::unique_ptr<Child> premiumd = Child::Start(args);
  if (premiumd == nullptr) return nullptr;
  const std::optional<std::string> line =
      premiumd->WaitForFirstLine(absl::Seconds(20));
  const std::optional<int> port = ServingPortOnLoopback(line);
  if (!port.has_value()) {
    ADD_FAILURE() << "premiumd did not start: " << line.value_or("")
                  << "\nstderr: " << premiumd->err();
    return nullptr;
  }
  *address = absl::StrCat("127.0.0.1:", *port);
  return premiumd;
}

CommandResult RunPremiumdVerify(const std::string& data_dir,
                                absl::Duration timeout) {
  return RunCommand({PREMIUMD_PATH, "verify", "--data-dir", data_dir}, timeout);
}

void PremiumdCliTest::StartPremiumd() {
  premiumd_ = testing::StartPremiumd(data_dir(), &server_, premiumd_flags_);
  ASSERT_NE(premiumd_, nullptr);
}

void PremiumdCliTest::StopPremiumdAndVerify(absl::Duration verify_timeout) {
  premiumd_->Signal(SIGTERM);
  const std::optional<int> stopped = premiumd_->WaitForExit(absl::Seconds(20));
  EXPECT_EQ(stopped, 0) << premiumd_->err();
  premiumd_.reset();
  const CommandResult verify = RunPremiumdVerify(data_dir(), verify_timeout);
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_THAT(verify.out, ::testing::StartsWith("premiumd verify: OK"));
}

CommandResult PremiumdCliTest::Ctl(const std::string& token_file,
                                   const std::vector<std::string>& args,
                                   absl::Duration timeout) {
  std::vector<std::string> command = {PREMIUMCTL_PATH, "--server", server_};
  if (!token_file.empty()) {
    command.insert(command.end(), {"--token-file", token_file});
  }
  command.insert(command.end(), args.begin(), args.end());
  return RunCommand(command, timeout);
}

std::string PremiumdCliTest::CtlOrDie(const std::string& token_file,
                                      const std::vector<std::string>& args) {
  const CommandResult result = Ctl(token_file, args);
  EXPECT_EQ(result.exit_code, 0)
      << absl::StrJoin(args, " ") << ": " << result.err;
  EXPECT_EQ(result.err, "") << absl::StrJoin(args, " ");
  return result.out;
}

}  // namespace premium::testing
