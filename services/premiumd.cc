// premiumd: serves the premium ledger on an embedded RocksDB, or verifies a
// data directory offline.
//
//   premiumd --data-dir D [--listen 127.0.0.1:50051] [--origin NAME]
//            [--tls-cert F --tls-key F [--tls-client-ca F]]
//   premiumd verify --data-dir D
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "ledger/ledger.h"
#include "ledger/premium/indexer.h"
#include "ledger/util/files.h"
#include "ledger/verify.h"
#include "services/admin_service.h"
#include "services/audit_service.h"
#include "services/auth.h"
#include "services/brand_service.h"
#include "services/credentials.h"
#include "services/ledger_client.h"
#include "services/ledger_service.h"
#include "services/server_secret.h"
#include "services/supplier_service.h"
#include "services/upload_receiver.h"
#include "services/worker_service.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace premium {
namespace {

constexpr char kLedgerTokenFile[] = "ledger.token";
constexpr char kAdminTokenFile[] = "admin.token";
constexpr char kAdminBootstrapKey[] = "bootstrap-admin";
constexpr size_t kPemFileBytesMax = 64 * 1024;
// The largest append request (LedgerOptions::request_bytes_max) plus
// framing.
constexpr int kMessageBytesMax = (64 << 20) + (1 << 20);
constexpr absl::Duration kShutdownGrace = absl::Seconds(10);
// gRPC's synchronous server keeps at most 2 idle handler threads by default
// (MAX_POLLERS): every call beyond them starts a thread, which exits when the
// call ends. Under 16 concurrent lookups that churn cost about a sixth of the
// throughput (1.1M entries: 1,282-1,289 -> 1,505-1,789 lookups/s, p99 27.5
// -> 16-20 ms). Up to this many idle threads are kept; each costs its stack.
constexpr int kIdleHandlerThreadsMax = 64;
// See MemoryTrimmer.
constexpr uint64_t kTrimGrowthBytesMin = 2 << 20;
constexpr uint64_t kTrimGrowthDivisor = 8;
constexpr absl::Duration kTrimCheckInterval = absl::Seconds(1);
constexpr int kTrimPauseFactor = 100;
// See main.
constexpr int kMmapThresholdBytes = 128 << 10;
int ArenasMax() {
  return static_cast<int>(std::max(2u, std::thread::hardware_concurrency()));
}

struct ServeFlags {
  std::string data_dir;
  // Serve only LedgerService (the ledger process of the split deployment).
  bool ledger_only = false;
  // Serve only the role services, against the ledger at this address.
  std::string ledger_addr;
  std::string ledger_token_file;
  std::string secret_file;
  std::string listen = "127.0.0.1:50051";
  std::string origin;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  // The front's channel to the ledger process: TLS when ledger_tls_ca is
  // set, with a client certificate when the ledger asks for one.
  std::string ledger_tls_ca;
  std::string ledger_tls_cert;
  std::string ledger_tls_key;
  // The ledger's memory: RocksDB's memtables and block cache.
  size_t write_buffer_mib = 128;
  size_t block_cache_mib = 64;
  // Records of an upload appended in one request and held in memory; larger
  // files are streamed to the ledger (services/upload_receiver.h).
  uint64_t upload_inline_records = kInlineRecordsMax;
};

// The token front services present to the ledger: made on first start.
absl::StatusOr<merkle::Hash> LedgerTokenHash(const std::string& data_dir) {
  const std::string path = absl::StrCat(data_dir, "/", kLedgerTokenFile);
  absl::StatusOr<std::string> token = ReadTokenFile(path);
  if (absl::IsNotFound(token.status())) {
    token = GenerateToken("ledger_");
    if (!token.ok()) return token.status();
    if (absl::Status s = WriteTokenFile(path, *token); !s.ok()) return s;
  }
  if (!token.ok()) return token.status();
  return HashToken(*token);
}

// Makes <data-dir>/admin.token on first start and registers its hash as the
// admin party. Runs on every start: the registration is idempotent, and a
// token file that no longer matches the ledger is refused.
absl::Status BootstrapAdmin(const std::string& data_dir, Ledger& ledger) {
  const std::string path = absl::StrCat(data_dir, "/", kAdminTokenFile);
  absl::StatusOr<std::string> token = ReadTokenFile(path);
  if (absl::IsNotFound(token.status())) {
    token = GenerateToken("admin_");
    if (!token.ok()) return token.status();
    if (absl::Status s = WriteTokenFile(path, *token); !s.ok()) return s;
  }
  if (!token.ok()) return token.status();
  wsr::premium::v1::PartyRegistration admin;
  admin.set_role(wsr::premium::v1::ADMIN);
  admin.set_party_id(kAdminPartyId);
  admin.set_name("Program administrator");
  admin.set_token_sha256(std::string(merkle::HashBytes(HashToken(*token))));
  AppendRequest request;
  request.actor = kSystemActor;
  request.idempotency_key = kAdminBootstrapKey;
  request.entries.push_back(
      AppendEntry{kPartyRegistrationKind, admin.SerializeAsString()});
  absl::StatusOr<AppendReceipt> receipt = ledger.Append(request);
  if (absl::IsAlreadyExists(receipt.status())) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " does not hold the token the ledger registered for the admin"));
  }
  return receipt.status();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const ServeFlags& flags) {
  if (flags.tls_cert.empty() && flags.tls_key.empty()) {
    if (!flags.tls_client_ca.empty()) {
      return absl::InvalidArgumentError(
          "--tls-client-ca needs --tls-cert and --tls-key");
    }
    return grpc::InsecureServerCredentials();
  }
  if (flags.tls_cert.empty() || flags.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  absl::StatusOr<std::string> cert =
      ReadSmallFile(flags.tls_cert, kPemFileBytesMax);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key =
      ReadSmallFile(flags.tls_key, kPemFileBytesMax);
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions options(
      GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  options.pem_key_cert_pairs.push_back({*key, *cert});
  if (!flags.tls_client_ca.empty()) {
    absl::StatusOr<std::string> ca =
        ReadSmallFile(flags.tls_client_ca, kPemFileBytesMax);
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *ca;
    options.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>>
LedgerChannelCredentials(const ServeFlags& flags) {
  if (flags.ledger_tls_ca.empty()) {
    if (!flags.ledger_tls_cert.empty() || !flags.ledger_tls_key.empty()) {
      return absl::InvalidArgumentError(
          "--ledger-tls-cert and --ledger-tls-key need --ledger-tls-ca");
    }
    return grpc::InsecureChannelCredentials();
  }
  if (flags.ledger_tls_cert.empty() != flags.ledger_tls_key.empty()) {
    return absl::InvalidArgumentError(
        "--ledger-tls-cert and --ledger-tls-key go together");
  }
  grpc::SslCredentialsOptions options;
  absl::StatusOr<std::string> ca =
      ReadSmallFile(flags.ledger_tls_ca, kPemFileBytesMax);
  if (!ca.ok()) return ca.status();
  options.pem_root_certs = *ca;
  if (!flags.ledger_tls_cert.empty()) {
    absl::StatusOr<std::string> cert =
        ReadSmallFile(flags.ledger_tls_cert, kPemFileBytesMax);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key =
        ReadSmallFile(flags.ledger_tls_key, kPemFileBytesMax);
    if (!key.ok()) return key.status();
    options.pem_cert_chain = *cert;
    options.pem_private_key = *key;
  }
  return grpc::SslCredentials(options);
}

// Blocks SIGINT and SIGTERM in this thread and every thread it starts, so
// that WaitForStopSignal can take them synchronously.
sigset_t BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

int WaitForStopSignal(const sigset_t& signals) {
  int signal_number = 0;
  while (sigwait(&signals, &signal_number) != 0) {
  }
  return signal_number;
}

UploadLimits UploadLimitsOf(const ServeFlags& flags) {
  UploadLimits limits;
  limits.inline_records_max = flags.upload_inline_records;
  return limits;
}

// The role services, over whichever LedgerClient this process has.
class FrontServices {
 public:
  FrontServices(LedgerClient* ledger, const ServerSecret* secret,
                UploadLimits upload_limits)
      : authenticator_(ledger),
        admin_(
            ledger, &authenticator_, secret,
            [] { return absl::ToCivilDay(absl::Now(), absl::UTCTimeZone()); }),
        brand_(ledger, &authenticator_, upload_limits),
        supplier_(ledger, &authenticator_, secret, upload_limits),
        worker_(ledger),
        audit_(ledger, &authenticator_) {}

  // Builds the reconciliation state from the log before serving, so the
  // first audit call does not pay for it.
  absl::Status Warm() { return audit_.CatchUp(); }

  void AddTo(std::vector<grpc::Service*>* services,
             std::vector<std::string>* names) {
    services->insert(services->end(),
                     {&admin_, &brand_, &supplier_, &worker_, &audit_});
    names->insert(
        names->end(),
        {"wsr.premium.v1.AdminService", "wsr.premium.v1.BrandService",
         "wsr.premium.v1.SupplierService", "wsr.premium.v1.WorkerService",
         "wsr.premium.v1.AuditService"});
  }

 private:
  Authenticator authenticator_;
  AdminServiceImpl admin_;
  BrandServiceImpl brand_;
  SupplierServiceImpl supplier_;
  WorkerServiceImpl worker_;
  AuditServiceImpl audit_;
};

// glibc keeps in its arenas what premiumd frees, and the large blocks it
// frees grow with the ledger (uploads, the reconciliation's catch-up, evidence
// lists and responses), so each new one fits no hole the last one left. In the
// benchmark (tests/bench) half of premiumd's RSS after a 1M-line ingest was
// such free memory; in the soak (tests/soak), where reconciles and lookups
// append nothing, RssAnon doubled in 7 minutes while the live heap (heaptrack)
// grew by 2 MiB. This gives free memory back to the system whenever premiumd's
// anonymous memory has grown by an eighth (at least kTrimGrowthBytesMin)
// over its lowest since the last trim, checked every kTrimCheckInterval.
// malloc_trim is not cheap: it advises every free page of every arena, holding
// each arena's lock (13 ms at the median at 20 MiB in the soak), and trimming
// on every 2 MiB of growth cut a 1M-line ingest from 38K to 24K lines/s (one
// run each). So the threshold grows with the memory, and a trim that took t is
// followed by none for kTrimPauseFactor * t: at most 1% of a core.
class MemoryTrimmer {
 public:
  MemoryTrimmer() : thread_([this] { Loop(); }) {}
  ~MemoryTrimmer() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    thread_.join();
  }
  MemoryTrimmer(const MemoryTrimmer&) = delete;
  MemoryTrimmer& operator=(const MemoryTrimmer&) = delete;

 private:
  // Resident memory not backed by files, from /proc/self/statm; 0 if it
  // cannot be read (then the first check trims and later ones never do).
  static uint64_t AnonymousBytes() {
    std::ifstream statm("/proc/self/statm");
    uint64_t size_pages = 0, resident_pages = 0, shared_pages = 0;
    if (!(statm >> size_pages >> resident_pages >> shared_pages)) return 0;
    return (resident_pages - std::min(shared_pages, resident_pages)) *
           static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  }

  void Loop() {
    // Growth counts from the lowest point since the last trim: memory that
    // went back to the system by itself (a freed mmap block, a memtable
    // flushed) must not hide the growth after it.
    std::optional<uint64_t> low_bytes;
    absl::MutexLock lock(&mu_);
    while (!stop_) {
      absl::Duration pause = kTrimCheckInterval;
      const uint64_t anonymous_bytes = AnonymousBytes();
      if (low_bytes.has_value()) {
        low_bytes = std::min(*low_bytes, anonymous_bytes);
      }
      if (!low_bytes.has_value() ||
          anonymous_bytes >
              *low_bytes + std::max(kTrimGrowthBytesMin,
                                    *low_bytes / kTrimGrowthDivisor)) {
        const absl::Time start = absl::Now();
        malloc_trim(0);
        pause = std::max(pause, kTrimPauseFactor * (absl::Now() - start));
        low_bytes = AnonymousBytes();
      }
      mu_.AwaitWithTimeout(absl::Condition(&stop_), pause);
    }
  }

  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// Builds and starts the server on flags.listen with `services`, prints the
// "serving" line, and returns after a stop signal once the server drained.
// `before_shutdown` runs first (it stops tails and refuses new appends).
int RunServer(const ServeFlags& flags, const sigset_t& stop_signals,
              std::shared_ptr<grpc::ServerCredentials> credentials,
              const std::vector<grpc::Service*>& services,
              const std::vector<std::string>& service_names,
              absl::string_view description,
              const std::function<void()>& before_shutdown) {
  const MemoryTrimmer trimmer;
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(flags.listen, credentials, &port);
  builder.SetMaxReceiveMessageSize(kMessageBytesMax);
  // gRPC sets SO_REUSEPORT by default: a second premiumd (on another data
  // directory) would then share the port and get half the connections.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetSyncServerOption(
      grpc::ServerBuilder::SyncServerOption::MAX_POLLERS,
      kIdleHandlerThreadsMax);
  for (grpc::Service* service : services) builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    spdlog::error(
        "cannot listen on {} (the address is in use or not local, or the "
        "TLS key does not match its certificate; gRPC's log above says which)",
        flags.listen);
    return 1;
  }
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  for (const std::string& name : service_names) {
    health->SetServingStatus(name, true);
  }
  const std::string host = flags.listen.substr(0, flags.listen.rfind(':'));
  // Tests and scripts read this line to learn the port (--listen HOST:0).
  std::printf("premiumd: serving %s on %s:%d\n",
              std::string(description).c_str(), host.c_str(), port);
  std::fflush(stdout);

  const int signal_number = WaitForStopSignal(stop_signals);
  spdlog::info("signal {}: stopping; appends in flight finish", signal_number);
  health->SetServingStatus(false);
  before_shutdown();
  server->Shutdown(absl::ToChronoTime(absl::Now() + kShutdownGrace));
  server->Wait();
  return 0;
}

// All in one process: the ledger on the embedded RocksDB and every service.
int ServeEmbedded(const ServeFlags& flags, const sigset_t& stop_signals) {
  // Bad TLS flags are refused before the data directory is touched.
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      ServerCredentials(flags);
  if (!credentials.ok()) {
    spdlog::error("{}", credentials.status().ToString());
    return 1;
  }
  const PremiumIndexer indexer;
  LedgerOptions options;
  options.data_dir = flags.data_dir;
  options.create_if_missing = true;
  options.origin = flags.origin;
  options.indexer = &indexer;
  options.write_buffer_bytes = flags.write_buffer_mib << 20;
  options.block_cache_bytes = flags.block_cache_mib << 20;
  absl::StatusOr<std::unique_ptr<Ledger>> ledger = Ledger::Open(options);
  if (!ledger.ok()) {
    spdlog::error("cannot open the ledger in {}: {}", flags.data_dir,
                  ledger.status().ToString());
    return 1;
  }
  absl::StatusOr<merkle::Hash> token_hash = LedgerTokenHash(flags.data_dir);
  absl::StatusOr<std::unique_ptr<ServerSecret>> secret =
      ServerSecret::LoadOrCreate(
          absl::StrCat(flags.data_dir, "/", ServerSecret::kFileName));
  const absl::Status admin = BootstrapAdmin(flags.data_dir, **ledger);
  for (const absl::Status& s : {token_hash.status(), secret.status(), admin}) {
    if (!s.ok()) {
      spdlog::error("{}", s.ToString());
      return 1;
    }
  }
  LedgerServiceImpl ledger_service(ledger->get(), *token_hash);
  const std::unique_ptr<LedgerClient> ledger_client =
      NewInProcessLedgerClient(ledger->get());
  std::vector<grpc::Service*> services = {&ledger_service};
  std::vector<std::string> names = {"wsr.premium.v1.LedgerService"};
  std::unique_ptr<FrontServices> front;
  if (!flags.ledger_only) {
    front = std::make_unique<FrontServices>(ledger_client.get(), secret->get(),
                                            UploadLimitsOf(flags));
    front->AddTo(&services, &names);
    if (absl::Status s = front->Warm(); !s.ok()) {
      // The audit calls will report it; every other service works.
      spdlog::error("reconciliation state: {}", s.ToString());
    }
  }
  const std::string description = absl::StrCat(
      flags.ledger_only ? "the ledger " : "ledger ", "\"", (*ledger)->origin(),
      "\" (tree size ", (*ledger)->size(), ")");
  const int exit_code = RunServer(flags, stop_signals, *credentials, services,
                                  names, description, [&] {
                                    ledger_service.Stop();
                                    (*ledger)->Close();
                                  });
  front.reset();
  ledger->reset();
  if (exit_code == 0) spdlog::info("stopped cleanly");
  return exit_code;
}

// The microservice deployment: the role services in this process, the
// ledger in another (premiumd --ledger-only), reached over gRPC.
int ServeFront(const ServeFlags& flags, const sigset_t& stop_signals) {
  absl::StatusOr<std::string> token = ReadTokenFile(flags.ledger_token_file);
  absl::StatusOr<std::unique_ptr<ServerSecret>> secret =
      ServerSecret::Load(flags.secret_file);
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      ServerCredentials(flags);
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ledger_credentials =
      LedgerChannelCredentials(flags);
  for (const absl::Status& s :
       {token.status(), secret.status(), credentials.status(),
        ledger_credentials.status()}) {
    if (!s.ok()) {
      spdlog::error("{}", s.ToString());
      return 1;
    }
  }
  grpc::ChannelArguments arguments;
  arguments.SetMaxSendMessageSize(kMessageBytesMax);
  arguments.SetMaxReceiveMessageSize(kMessageBytesMax);
  const std::unique_ptr<LedgerClient> ledger_client = NewRemoteLedgerClient(
      grpc::CreateCustomChannel(flags.ledger_addr, *ledger_credentials,
                                arguments),
      *token);
  FrontServices front(ledger_client.get(), secret->get(),
                      UploadLimitsOf(flags));
  std::vector<grpc::Service*> services;
  std::vector<std::string> names;
  front.AddTo(&services, &names);
  if (absl::Status s = front.Warm(); !s.ok()) {
    // The ledger process may not be up yet: audit calls catch up later.
    spdlog::warn("reconciliation state not built yet: {}", s.ToString());
  }
  const int exit_code = RunServer(
      flags, stop_signals, *credentials, services, names,
      absl::StrCat("the role services (ledger at ", flags.ledger_addr, ")"),
      [] {});
  if (exit_code == 0) spdlog::info("stopped cleanly");
  return exit_code;
}

int Serve(const ServeFlags& flags) {
  const sigset_t stop_signals = BlockStopSignals();
  if (!flags.ledger_addr.empty()) return ServeFront(flags, stop_signals);
  return ServeEmbedded(flags, stop_signals);
}

int Verify(const std::string& data_dir) {
  const PremiumIndexer indexer;
  VerifyOptions options;
  options.data_dir = data_dir;
  options.indexer = &indexer;
  VerifyReport report;
  const absl::Time start = absl::Now();
  const absl::Status status = VerifyLedger(options, &report);
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const double mib = static_cast<double>(report.entry_bytes) / (1 << 20);
  if (!status.ok()) {
    std::fprintf(stderr, "premiumd verify: FAILED: %s\n",
                 std::string(status.message()).c_str());
    if (report.first_bad_seq.has_value()) {
      std::fprintf(stderr, "first bad sequence number: %llu\n",
                   static_cast<unsigned long long>(*report.first_bad_seq));
    }
    return absl::IsNotFound(status) ? 2 : 1;
  }
  std::printf(
      "premiumd verify: OK: %llu entries (%.1f MiB) in %.2f s (%.1f MiB/s); "
      "%llu Merkle nodes, %llu signed checkpoints, %llu requests, %llu "
      "derived keys checked; tree size %llu\n",
      static_cast<unsigned long long>(report.entries_checked), mib, seconds,
      seconds > 0 ? mib / seconds : 0.0,
      static_cast<unsigned long long>(report.nodes_checked),
      static_cast<unsigned long long>(report.checkpoints_checked),
      static_cast<unsigned long long>(report.requests_checked),
      static_cast<unsigned long long>(report.derived_keys_checked),
      static_cast<unsigned long long>(report.tree_size));
  return 0;
}

}  // namespace
}  // namespace premium

int main(int argc, char** argv) {
  // Logs go to stderr: stdout carries only the "serving" line that scripts
  // read, and errors belong on stderr (spdlog's default logger is stdout).
  spdlog::set_default_logger(spdlog::stderr_logger_mt("premiumd"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%fZ premiumd %l: %v",
                      spdlog::pattern_time_type::utc);
  // glibc serves a block of 128 KiB or more from its own mapping, returned
  // to the system when freed, but after each such free it raises that
  // threshold to the block's size (up to 32 MiB), so later large blocks come
  // from the arenas instead. premiumd's large blocks grow with the ledger
  // (evidence lists, reconcile pages, upload batches), so each new one fits
  // no hole left by the last: in the soak, free memory kept in the arenas
  // went from 10 to 37 MiB in two minutes and RssAnon doubled. Setting the
  // threshold fixes it (and the trim threshold) at the default. Under
  // another allocator (a sanitizer's, one preloaded) this is a no-op that
  // returns 0, and rightly ignored: the setting is about glibc's arenas.
  (void)mallopt(M_MMAP_THRESHOLD, premium::kMmapThresholdBytes);
  // glibc gives a thread that finds an arena busy another one, up to 8 per
  // core, and each arena keeps the memory freed in it. premiumd has many
  // threads (gRPC's pollers and handlers, RocksDB's), so its free memory
  // spreads over up to 16 arenas on 2 cores. One arena per core (at least
  // 2): in the 30-minute soak, anonymous memory at 17.6 MiB after the
  // warm-up instead of about 22, and the lowest RSS growing by 2.2% instead
  // of 5.6% (one run each, on different days).
  (void)mallopt(M_ARENA_MAX, premium::ArenasMax());
  // Debian builds Abseil without NDEBUG, so by default every absl::Mutex
  // lock and unlock, premiumd's and gRPC's, also updates a process-wide
  // lock-order graph under one global lock, looking for deadlock cycles
  // (GraphCycles::GetId was 4% of premiumd's samples in the lookup
  // benchmark). premiumd turns it off; the test binaries, which run the
  // same services in process, keep the check.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  CLI::App app{"premiumd: the premium ledger server"};
  app.set_help_all_flag("--help-all");
  premium::ServeFlags serve;
  app.add_option("--data-dir", serve.data_dir,
                 "ledger data directory (created on first start)");
  app.add_option("--listen", serve.listen, "address to serve gRPC on")
      ->capture_default_str();
  app.add_option("--origin", serve.origin,
                 "checkpoint origin, set once when the ledger is created");
  app.add_option("--tls-cert", serve.tls_cert, "server certificate (PEM)");
  app.add_option("--tls-key", serve.tls_key, "server private key (PEM)");
  app.add_option("--tls-client-ca", serve.tls_client_ca,
                 "CA (PEM) whose client certificates are required");
  app.add_flag("--ledger-only", serve.ledger_only,
               "serve only LedgerService (the ledger process of the split "
               "deployment)");
  app.add_option("--ledger-addr", serve.ledger_addr,
                 "serve only the role services, against the ledger at "
                 "HOST:PORT");
  app.add_option("--ledger-token-file", serve.ledger_token_file,
                 "with --ledger-addr: the ledger's ledger.token");
  app.add_option("--secret-file", serve.secret_file,
                 "with --ledger-addr: the ledger's server.secret");
  app.add_option("--ledger-tls-ca", serve.ledger_tls_ca,
                 "with --ledger-addr: reach the ledger over TLS, trusting "
                 "this CA (PEM)");
  app.add_option("--ledger-tls-cert", serve.ledger_tls_cert,
                 "with --ledger-tls-ca: client certificate for the ledger");
  app.add_option("--ledger-tls-key", serve.ledger_tls_key,
                 "with --ledger-tls-ca: its private key");
  app.add_option("--write-buffer-mib", serve.write_buffer_mib,
                 "memory for the ledger's memtables, all together")
      ->check(CLI::Range(1, 16384))
      ->capture_default_str();
  app.add_option("--block-cache-mib", serve.block_cache_mib,
                 "memory for the ledger's block cache")
      ->check(CLI::Range(1, 65536))
      ->capture_default_str();
  app.add_option("--upload-inline-records", serve.upload_inline_records,
                 "records of an upload appended in one request; a larger "
                 "upload is streamed to the ledger and its codes are paged "
                 "(at most the default, which keeps one request within the "
                 "ledger's limits)")
      ->check(CLI::Range(uint64_t{1}, premium::kInlineRecordsMax))
      ->capture_default_str();

  std::string verify_dir;
  CLI::App* verify =
      app.add_subcommand("verify", "verify a data directory offline");
  verify->add_option("--data-dir", verify_dir, "ledger data directory")
      ->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }
  if (verify->parsed()) return premium::Verify(verify_dir);
  if (!serve.ledger_addr.empty()) {
    if (!serve.data_dir.empty() || serve.ledger_only ||
        serve.ledger_token_file.empty() || serve.secret_file.empty()) {
      std::fprintf(stderr,
                   "premiumd: --ledger-addr needs --ledger-token-file and "
                   "--secret-file, and no --data-dir or --ledger-only\n");
      return 2;
    }
  } else if (serve.data_dir.empty()) {
    std::fprintf(stderr, "premiumd: --data-dir is required\n");
    return 2;
  }
  return premium::Serve(serve);
}
