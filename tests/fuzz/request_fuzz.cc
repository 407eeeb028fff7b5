// Fuzz target of every unary request the services take: the validation,
// authorization and status mapping of AdminService, BrandService,
// SupplierService, WorkerService and AuditService (proto/wsr/premium/v1/
// {admin,brand,supplier,worker,audit}.proto), and LedgerService's unary
// calls too, since proofs and checkpoints are served by it.
//
// Input: one selector byte, then the serialized request. The selector picks
// the method (selector % kMethods) and the caller (selector / kMethods:
// admin, brand b1, supplier s1, auditor a1, nobody, an unknown token, a
// malformed authorization, the ledger's service token; beyond those, the
// method's usual caller). Bytes that do not parse as the method's request are
// skipped, as gRPC would refuse them before any handler runs.
//
// How: the services validate inside their gRPC handlers, so the honest way
// to run "the same validation the service runs" is to run the services. They
// are built exactly as premiumd builds them, over an in-process ledger, and
// their handlers are called directly with a grpc::ServerContext that carries
// the caller's metadata (grpc::testing::ServerContextTestSpouse). That skips
// only the transport, which is gRPC's code, not ours, and gives the most
// coverage per second: a call through even an in-process channel adds a
// serialization each way and hops to gRPC's threads, whose work libFuzzer
// would count against the input, for no line of our code more.
//
// The ledger starts, for every input, from one fixed history (programs,
// parties, purchases, payments, payroll with paystub codes, a suspension, a
// dispute) made once through a real in-process gRPC server, uploads
// included. An input whose call appends is followed by a reset to that
// history, so that every input sees the same state and a crash reproduces
// from its input alone. A reset swaps in a fresh copy of the closed
// database (on tmpfs when there is one) and new services (so no cache
// outlives it). Opening a copy takes about 170 ms under ASan here (RocksDB
// starts some 90 threads to open the table files of its column families),
// so the next copy is prepared on a background thread while the following
// inputs run. Resets still bound the target, at about a hundred parsed
// requests a second on a busy 2-vCPU machine; resetting only every few
// appends would be about three times faster, but one input's appends would
// then change what the next one sees, and a crash would need them to
// reproduce.
//
// Oracles:
//   - the status is OK or one of DESIGN section 6's codes (INVALID_ARGUMENT,
//     NOT_FOUND, ALREADY_EXISTS, PERMISSION_DENIED, UNAUTHENTICATED,
//     FAILED_PRECONDITION, RESOURCE_EXHAUSTED); never INTERNAL, UNKNOWN,
//     DATA_LOSS and the like. LedgerService may also say OUT_OF_RANGE for a
//     size past the end of the log (absl's convention, STYLE.md);
//   - a call that fails appends nothing, and a read-only call never appends;
//   - what is served about the tree checks out: checkpoints' signatures and
//     roots, inclusion proofs (LedgerService's and a worker lookup's) and
//     consistency proofs verify against the ledger's own roots.
//
// Seeds: PREMIUM_FUZZ_WRITE_SEEDS=DIR request_fuzz writes a valid request of
// every method (and a few more: real paystub codes, a real discrepancy) to
// DIR and exits; tests/fuzz/corpus/request_fuzz was made so.
#include <grpcpp/grpcpp.h>
#include <grpcpp/test/server_context_test_spouse.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "google/protobuf/stubs/logging.h"
#include "ledger/ledger.h"
#include "ledger/merkle/hasher.h"
#include "ledger/merkle/proof.h"
#include "ledger/premium/indexer.h"
#include "services/admin_service.h"
#include "services/audit_service.h"
#include "services/auth.h"
#include "services/brand_service.h"
#include "services/credentials.h"
#include "services/ledger_client.h"
#include "services/ledger_service.h"
#include "services/server_secret.h"
#include "services/supplier_service.h"
#include "services/worker_service.h"
#include "tests/fuzz/fuzz_check.h"
#include "wsr/premium/v1/admin.grpc.pb.h"
#include "wsr/premium/v1/audit.grpc.pb.h"
#include "wsr/premium/v1/brand.grpc.pb.h"
#include "wsr/premium/v1/ledger.grpc.pb.h"
#include "wsr/premium/v1/supplier.grpc.pb.h"
#include "wsr/premium/v1/worker.grpc.pb.h"

namespace premium {
namespace {

namespace fs = std::filesystem;
namespace pb = ::wsr::premium::v1;

// Fixed inputs of the history, so that it is the same in every run: the
// paystub codes in the seeds depend on the secret and the upload's
// request_id, and the admin's and the ledger's tokens are made up here
// rather than drawn from the CSPRNG as premiumd draws them.
constexpr char kSecretHex[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
constexpr char kAdminToken[] = "admin_FUZZADM1NT0KEN";
constexpr char kLedgerToken[] = "ledger_FUZZLEDGERT0KEN";
constexpr absl::CivilDay kToday(2025, 6, 30);

absl::Time AppendTime() {
  return absl::FromCivil(absl::CivilSecond(2025, 6, 30, 12, 0, 0),
                         absl::UTCTimeZone());
}

enum Caller {
  kAdmin,
  kBrand,
  kSupplier,
  kAuditor,
  kAnonymous,
  kUnknownToken,
  kMalformed,
  kLedgerService,
  kCallers,
};

// Every service premiumd serves, wired as premiumd wires them, plus the
// ledger's own service. (services/testing's PremiumServices does the same,
// but its library brings GoogleTest and needs premiumd and premiumctl built,
// which this target has no use for.)
struct Services {
  Services(Ledger* ledger, LedgerClient* client, const ServerSecret* secret,
           const std::function<absl::Time()>& clock)
      : authenticator(client),
        admin(client, &authenticator, secret, [] { return kToday; }),
        brand(client, &authenticator, UploadLimits{}, [] { return kToday; }),
        supplier(client, &authenticator, secret),
        // Failed lookups are limited per source; every input starts a new
        // window (see the clock), so that the limit does not hide the
        // lookup path from the inputs that follow.
        worker(client, FailureLimitOptions{.clock = clock}),
        audit(client, &authenticator, [] { return kToday; }),
        ledger_service(ledger, HashToken(kLedgerToken)) {}

  Authenticator authenticator;
  AdminServiceImpl admin;
  BrandServiceImpl brand;
  SupplierServiceImpl supplier;
  WorkerServiceImpl worker;
  AuditServiceImpl audit;
  LedgerServiceImpl ledger_service;
};

// What the seeds need to know of the history.
struct History {
  std::vector<std::string> codes;  // paystub codes of s1's payroll lines
  std::string discrepancy_id;
  uint64_t payroll_first_seq = 0;
};

// Where the ledgers live, removed at exit (not after a crash: a crashed
// run leaves its directory, premium-request-fuzz-*, behind).
std::string TempRoot() {
  // tmpfs, when there is one, makes the ledger's synced writes and the
  // resets cheap.
  std::string pattern =
      access("/dev/shm", W_OK) == 0
          ? "/dev/shm/premium-request-fuzz-XXXXXX"
          : absl::StrCat(
                getenv("TMPDIR") != nullptr ? getenv("TMPDIR") : "/tmp",
                "/premium-request-fuzz-XXXXXX");
  FUZZ_CHECK(mkdtemp(pattern.data()) != nullptr, "mkdtemp ", pattern);
  return pattern;
}

void Must(const grpc::Status& status, absl::string_view what) {
  FUZZ_CHECK(status.ok(), "setting up the history: ", what, ": ",
             static_cast<int>(status.error_code()), " ",
             status.error_message());
}

std::unique_ptr<grpc::ClientContext> As(const std::string& token) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->AddMetadata("authorization", absl::StrCat("Bearer ", token));
  return context;
}

std::unique_ptr<Ledger> OpenLedger(const fs::path& dir,
                                   const Indexer* indexer) {
  LedgerOptions options;
  options.data_dir = dir.string();
  options.create_if_missing = true;
  options.origin = "fuzz.example/premium";
  options.indexer = indexer;
  options.clock = [] { return AppendTime(); };
  // The history is tiny; a small cache makes a copy cheaper to open.
  options.block_cache_bytes = 1 << 20;
  absl::StatusOr<std::unique_ptr<Ledger>> ledger = Ledger::Open(options);
  FUZZ_CHECK(ledger.ok(), "opening the ledger: ", ledger.status().ToString());
  return *std::move(ledger);
}

class World {
 public:
  static World& Get() {
    static World* const world = new World();
    return *world;
  }

  Ledger& ledger() { return *ledger_; }
  Services& services() { return *services_; }
  const History& history() const { return history_; }

  std::string Authorization(Caller caller) const {
    switch (caller) {
      case kAdmin:
        return absl::StrCat("Bearer ", kAdminToken);
      case kBrand:
        return absl::StrCat("Bearer ", brand_token_);
      case kSupplier:
        return absl::StrCat("Bearer ", supplier_token_);
      case kAuditor:
        return absl::StrCat("Bearer ", auditor_token_);
      case kAnonymous:
        return "";
      case kUnknownToken:
        return "Bearer brand_NOSUCHTOKEN";
      case kMalformed:
        return "Basic YWRtaW46YWRtaW4=";
      case kLedgerService:
      case kCallers:
        break;
    }
    return absl::StrCat("Bearer ", kLedgerToken);
  }

  // Starts a new window of the worker service's failure limit.
  void AdvanceClock() { now_ += absl::Hours(1); }

  // Closes the ledgers and removes their files; at exit.
  void Remove() {
    if (next_.valid()) next_.get().ledger.reset();
    services_.reset();
    client_.reset();
    ledger_.reset();
    std::error_code error;
    fs::remove_all(root_, error);
  }

  // Puts the ledger back to the fixed history if `size_before` is not its
  // size any more, with services (and so caches) built anew.
  void ResetIfChanged(uint64_t size_before) {
    if (ledger_->size() != size_before) Swap();
  }

 private:
  World() {
    root_ = TempRoot();
    pristine_ = root_ / "pristine";
    const fs::path secret_path = root_ / ServerSecret::kFileName;
    std::ofstream(secret_path) << kSecretHex << "\n";
    fs::permissions(secret_path,
                    fs::perms::owner_read | fs::perms::owner_write);
    absl::StatusOr<std::unique_ptr<ServerSecret>> secret =
        ServerSecret::Load(secret_path.string());
    FUZZ_CHECK(secret.ok(), secret.status().ToString());
    secret_ = *std::move(secret);
    MakeHistory();
    StartPreparing(Copy{});
    Swap();
    std::atexit([] { Get().Remove(); });
  }

  // A fresh copy of the history, opened: what a reset swaps in.
  struct Copy {
    fs::path dir;
    std::unique_ptr<Ledger> ledger;
  };

  // Copies the history to `dir` and opens it, after closing and removing
  // `used` (the copy it replaces). Runs on a background thread: opening the
  // database takes most of a reset (RocksDB starts some 90 threads to open
  // the table files of its column families), and it overlaps with the
  // inputs that follow instead of holding them up.
  static Copy Prepare(const fs::path& pristine, const fs::path& dir,
                      const Indexer* indexer, Copy used) {
    std::error_code error;
    used.ledger.reset();
    if (!used.dir.empty()) fs::remove_all(used.dir, error);
    fs::copy(pristine, dir, fs::copy_options::recursive, error);
    FUZZ_CHECK(!error, "copying the history: ", error.message());
    return Copy{dir, OpenLedger(dir, indexer)};
  }

  void StartPreparing(Copy used) {
    const fs::path dir = root_ / absl::StrCat("copy-", copies_++);
    next_ = std::async(std::launch::async, &World::Prepare, pristine_, dir,
                       &indexer_, std::move(used));
  }

  // Swaps the prepared copy in, with new services over it, and starts
  // preparing the next.
  void Swap() {
    services_.reset();
    client_.reset();
    Copy used{dir_, std::move(ledger_)};
    const absl::Time wait_start = absl::Now();
    Copy fresh = next_.get();
    if (getenv("PREMIUM_FUZZ_VERBOSE") != nullptr) {
      fprintf(stderr, "reset: waited %s for the copy\n",
              absl::FormatDuration(absl::Now() - wait_start).c_str());
    }
    dir_ = fresh.dir;
    ledger_ = std::move(fresh.ledger);
    StartPreparing(std::move(used));
    client_ = NewInProcessLedgerClient(ledger_.get());
    services_ = std::make_unique<Services>(
        ledger_.get(), client_.get(), secret_.get(), [this] { return now_; });
  }

  // Makes the fixed history in pristine_ as clients would: through the
  // services on a gRPC server (the uploads are streaming calls, which need
  // one), then closes it.
  void MakeHistory() {
    std::unique_ptr<Ledger> ledger = OpenLedger(pristine_, &indexer_);
    pb::PartyRegistration admin;
    admin.set_role(pb::ADMIN);
    admin.set_party_id(kAdminPartyId);
    admin.set_name("Program administrator");
    admin.set_token_sha256(
        std::string(merkle::HashBytes(HashToken(kAdminToken))));
    AppendRequest bootstrap;
    bootstrap.actor = kSystemActor;
    bootstrap.idempotency_key = "bootstrap-admin";
    bootstrap.entries.push_back(
        AppendEntry{kPartyRegistrationKind, admin.SerializeAsString()});
    const absl::Status appended = ledger->Append(bootstrap).status();
    FUZZ_CHECK(appended.ok(), appended.ToString());

    std::unique_ptr<LedgerClient> client =
        NewInProcessLedgerClient(ledger.get());
    {
      Services services(ledger.get(), client.get(), secret_.get(),
                        [this] { return now_; });
      grpc::ServerBuilder builder;
      builder.RegisterService(&services.admin);
      builder.RegisterService(&services.brand);
      builder.RegisterService(&services.supplier);
      builder.RegisterService(&services.worker);
      builder.RegisterService(&services.audit);
      std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
      FUZZ_CHECK(server != nullptr, "the in-process server did not start");
      MakeHistory(server->InProcessChannel(grpc::ChannelArguments()));
      server->Shutdown();
      server->Wait();
    }
    client.reset();
    ledger.reset();
  }

  void MakeHistory(const std::shared_ptr<grpc::Channel>& channel);

  fs::path root_;
  fs::path pristine_;
  // The copy in use, and the next one being prepared.
  fs::path dir_;
  std::future<Copy> next_;
  int copies_ = 0;
  absl::Time now_ = AppendTime();
  std::unique_ptr<ServerSecret> secret_;
  PremiumIndexer indexer_;
  std::unique_ptr<Ledger> ledger_;
  std::unique_ptr<LedgerClient> client_;
  std::unique_ptr<Services> services_;
  std::string brand_token_;
  std::string supplier_token_;
  std::string auditor_token_;
  History history_;
};

grpc::Status StreamFile(grpc::ClientWriter<pb::UploadChunk>& writer,
                        const std::string& request_id,
                        const std::string& file) {
  pb::UploadChunk header;
  header.mutable_header()->set_request_id(request_id);
  header.mutable_header()->set_file_name(absl::StrCat(request_id, ".csv"));
  pb::UploadChunk data;
  data.set_data(file);
  if (writer.Write(header) && writer.Write(data)) writer.WritesDone();
  return writer.Finish();
}

void World::MakeHistory(const std::shared_ptr<grpc::Channel>& channel) {
  auto admin = pb::AdminService::NewStub(channel);
  auto brand = pb::BrandService::NewStub(channel);
  auto supplier = pb::SupplierService::NewStub(channel);
  auto worker = pb::WorkerService::NewStub(channel);
  auto audit = pb::AuditService::NewStub(channel);

  // Programs of DESIGN section 3.
  const auto add_program =
      [&](const std::string& request_id, const std::string& id,
          const std::string& unit, const std::string& worker_rate,
          const std::string& supplier_rate, const std::string& effective) {
        pb::AddProgramVersionRequest request;
        request.set_request_id(request_id);
        pb::ProgramVersionSpec* spec = request.mutable_version();
        spec->set_program_id(id);
        spec->set_name(absl::StrCat("Program ", id));
        spec->set_currency("USD");
        spec->set_unit(unit);
        spec->set_worker_rate(worker_rate);
        spec->set_supplier_rate(supplier_rate);
        spec->set_effective_date(effective);
        pb::Program program;
        Must(admin->AddProgramVersion(As(kAdminToken).get(), request, &program),
             request_id);
      };
  add_program("fuzz-ffp-1", "ffp", "lb", "0.01", "0", "2025-01-01");
  add_program("fuzz-ffp-2", "ffp", "lb", "0.015", "0", "2025-03-01");
  add_program("fuzz-bk", "bk", "lb", "0.01", "0.005", "2025-01-01");
  add_program("fuzz-mwd", "mwd", "cwt", "0.05", "0", "2024-06-01");

  const auto register_party = [&](pb::Role role, const std::string& id) {
    pb::RegisterPartyRequest request;
    request.set_request_id(absl::StrCat("fuzz-reg-", id));
    request.set_role(role);
    request.set_party_id(id);
    request.set_name(absl::StrCat("Party ", id));
    pb::RegisterPartyResponse response;
    Must(admin->RegisterParty(As(kAdminToken).get(), request, &response),
         request.request_id());
    return response.token();
  };
  brand_token_ = register_party(pb::BRAND, "b1");
  register_party(pb::BRAND, "b2");
  supplier_token_ = register_party(pb::SUPPLIER, "s1");
  register_party(pb::SUPPLIER, "s2");
  auditor_token_ = register_party(pb::AUDITOR, "a1");

  {
    pb::UploadReceipt receipt;
    auto context = As(brand_token_);
    Must(StreamFile(*brand->SubmitPurchases(context.get(), &receipt),
                    "fuzz-purchases",
                    "invoice_id,supplier_id,program_id,purchase_date,quantity,"
                    "unit\n"
                    "inv-1,s1,ffp,2025-02-28,1000,lb\n"
                    "inv-2,s1,ffp,2025-03-01,1000,lb\n"
                    "inv-3,s2,bk,2025-04-01,1234.5,lb\n"
                    "inv-4,s1,mwd,2025-05-01,20,cwt\n"),
         "purchases");
  }
  {
    pb::UploadReceipt receipt;
    auto context = As(brand_token_);
    Must(StreamFile(*brand->SubmitPayments(context.get(), &receipt),
                    "fuzz-payments",
                    "payment_id,supplier_id,program_id,paid_date,amount,"
                    "currency\n"
                    "pay-1,s1,ffp,2025-03-20,10.00,USD\n"
                    "pay-2,s2,bk,2025-04-20,5.00,USD\n"),
         "payments");
  }
  {
    pb::UploadPayrollResponse response;
    auto context = As(supplier_token_);
    auto writer = supplier->UploadPayroll(context.get(), &response);
    Must(StreamFile(*writer, "fuzz-payroll",
                    "program_id,worker_id,period_start,period_end,pay_date,"
                    "hours,gross_wages,premium_amount,currency\n"
                    "ffp,w-001,2025-03-03,2025-03-09,2025-03-14,40,600.00,"
                    "10.00,USD\n"
                    "ffp,w-002,2025-03-03,2025-03-09,2025-03-14,38,570.00,"
                    "5.00,USD\n"
                    "mwd,w-003,2025-05-01,2025-05-15,2025-05-20,80,1200.00,"
                    "0.50,USD\n"),
         "payroll");
    for (const pb::PaystubCode& code : response.codes()) {
      history_.codes.push_back(code.code());
    }
    FUZZ_CHECK(history_.codes.size() == 3, "paystub codes");
    history_.payroll_first_seq = response.receipt().ledger().first_seq();
  }
  {
    pb::SuspendSupplierRequest request;
    request.set_request_id("fuzz-suspend");
    request.set_program_id("bk");
    request.set_supplier_id("s2");
    request.set_from_date("2025-05-01");
    request.set_reason("audit finding");
    pb::StandingChange response;
    Must(audit->SuspendSupplier(As(auditor_token_).get(), request, &response),
         "suspension");
  }
  {
    pb::DisputeLineRequest request;
    request.set_code(history_.codes[1]);
    request.set_paystub_amount("4.00");
    request.set_note("my paystub says 4.00");
    pb::DisputeLineResponse response;
    grpc::ClientContext context;
    Must(worker->DisputeLine(&context, request, &response), "dispute");
  }
  {
    pb::ReconcileRequest request;
    pb::ReconcileResponse response;
    Must(audit->Reconcile(As(auditor_token_).get(), request, &response),
         "reconcile");
    FUZZ_CHECK(response.discrepancies_size() > 0, "no discrepancy to resolve");
    history_.discrepancy_id = response.discrepancies(0).id();
  }
}

// ---------------------------------------------------------------------------
// Oracles on what is served about the tree.

template <typename Response>
void CheckResponse(const Response& /*response*/) {}

merkle::Hash RootAt(uint64_t tree_size) {
  absl::StatusOr<merkle::Hash> root = World::Get().ledger().RootAt(tree_size);
  FUZZ_CHECK(root.ok(), "RootAt(", tree_size, "): ", root.status().ToString());
  return *root;
}

std::vector<merkle::Hash> Hashes(
    const google::protobuf::RepeatedPtrField<std::string>& bytes) {
  std::vector<merkle::Hash> hashes;
  for (const std::string& hash : bytes) {
    absl::StatusOr<merkle::Hash> parsed = merkle::HashFromBytes(hash);
    FUZZ_CHECK(parsed.ok(), "a served hash: ", parsed.status().ToString());
    hashes.push_back(*parsed);
  }
  return hashes;
}

void CheckCheckpoint(const pb::Checkpoint& checkpoint) {
  const absl::Status signed_ok = World::Get().ledger().verifier().Verify(
      checkpoint.body(), checkpoint.signature());
  FUZZ_CHECK(signed_ok.ok(), "served checkpoint: ", signed_ok.ToString());
  FUZZ_CHECK(checkpoint.root_hash() ==
                 merkle::HashBytes(RootAt(checkpoint.tree_size())),
             "served checkpoint of size ", checkpoint.tree_size(),
             " has another root than the ledger's");
}

void CheckInclusion(
    uint64_t leaf_index, uint64_t tree_size,
    const google::protobuf::RepeatedPtrField<std::string>& hashes,
    std::string_view entry_bytes) {
  const absl::Status verified =
      merkle::VerifyInclusion(merkle::HashLeaf(entry_bytes), leaf_index,
                              tree_size, Hashes(hashes), RootAt(tree_size));
  FUZZ_CHECK(verified.ok(), "served inclusion proof of ", leaf_index, " in ",
             tree_size, ": ", verified.ToString());
}

template <>
void CheckResponse(const pb::GetCheckpointResponse& response) {
  CheckCheckpoint(response.checkpoint());
}

template <>
void CheckResponse(const pb::GetInclusionProofResponse& response) {
  absl::StatusOr<StoredEntry> entry =
      World::Get().ledger().ReadEntry(response.leaf_index());
  FUZZ_CHECK(entry.ok(), entry.status().ToString());
  CheckInclusion(response.leaf_index(), response.tree_size(), response.hashes(),
                 entry->bytes);
}

template <>
void CheckResponse(const pb::GetConsistencyProofResponse& response) {
  const absl::Status verified = merkle::VerifyConsistency(
      response.old_size(), response.new_size(), RootAt(response.old_size()),
      RootAt(response.new_size()), Hashes(response.hashes()));
  FUZZ_CHECK(verified.ok(), "served consistency proof from ",
             response.old_size(), " to ", response.new_size(), ": ",
             verified.ToString());
}

template <>
void CheckResponse(const pb::WorkerLookup& response) {
  CheckCheckpoint(response.checkpoint());
  FUZZ_CHECK(response.inclusion_proof().tree_size() ==
                 response.checkpoint().tree_size(),
             "a worker's proof is not for the checkpoint's size");
  CheckInclusion(response.inclusion_proof().leaf_index(),
                 response.inclusion_proof().tree_size(),
                 response.inclusion_proof().hashes(), response.entry_bytes());
}

// ---------------------------------------------------------------------------
// The methods.

template <typename Service, typename Request, typename Response>
using Handler = grpc::Status (Service::*)(grpc::ServerContext*, const Request*,
                                          Response*);

// Parses `bytes` as the request and calls the handler; nullopt if they are
// not a request.
template <typename Service, typename Request, typename Response>
std::optional<grpc::Status> Call(Service& service,
                                 Handler<Service, Request, Response> handler,
                                 grpc::ServerContext* context,
                                 std::string_view bytes) {
  Request request;
  if (!request.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return std::nullopt;
  }
  Response response;
  grpc::Status status = (service.*handler)(context, &request, &response);
  if (status.ok()) CheckResponse(response);
  return status;
}

struct Method {
  const char* name;
  Caller usual_caller;
  // Whether a successful call may append.
  bool mutating;
  bool ledger_service;
  std::optional<grpc::Status> (*call)(Services&, grpc::ServerContext*,
                                      std::string_view);
  // A valid request, for the seeds.
  std::string (*seed)(const History&);
};

template <typename Message>
std::string Serialize(const std::function<void(Message&)>& fill) {
  Message message;
  fill(message);
  return message.SerializeAsString();
}

#define PREMIUM_FUZZ_CALL(field, Class, Name)                  \
  [](Services& services, grpc::ServerContext* context,         \
     std::string_view bytes) {                                 \
    return Call(services.field, &Class::Name, context, bytes); \
  }

const Method kMethods[] = {
    {"AdminService.AddProgramVersion", kAdmin, true, false,
     PREMIUM_FUZZ_CALL(admin, AdminServiceImpl, AddProgramVersion),
     [](const History&) {
       return Serialize<pb::AddProgramVersionRequest>([](auto& request) {
         request.set_request_id("seed-program");
         auto* spec = request.mutable_version();
         spec->set_program_id("ciw");
         spec->set_name("Coalition program");
         spec->set_currency("USD");
         spec->set_unit("lb");
         spec->set_worker_rate("0.02");
         spec->set_supplier_rate("0.001");
         spec->set_payment_terms_days(30);
         spec->set_allocation("wages");
         spec->set_tolerance("0.50");
         spec->set_effective_date("2025-07-01");
       });
     }},
    {"AdminService.GetProgram", kAdmin, false, false,
     PREMIUM_FUZZ_CALL(admin, AdminServiceImpl, GetProgram),
     [](const History&) {
       return Serialize<pb::GetProgramRequest>(
           [](auto& request) { request.set_program_id("ffp"); });
     }},
    {"AdminService.ListPrograms", kBrand, false, false,
     PREMIUM_FUZZ_CALL(admin, AdminServiceImpl, ListPrograms),
     [](const History&) {
       return Serialize<pb::ListProgramsRequest>(
           [](auto& request) { request.set_page_size(2); });
     }},
    {"AdminService.RegisterParty", kAdmin, true, false,
     PREMIUM_FUZZ_CALL(admin, AdminServiceImpl, RegisterParty),
     [](const History&) {
       return Serialize<pb::RegisterPartyRequest>([](auto& request) {
         request.set_request_id("seed-party");
         request.set_role(pb::SUPPLIER);
         request.set_party_id("s3");
         request.set_name("Third Farm, Inc.");
       });
     }},
    {"AdminService.ListParties", kAuditor, false, false,
     PREMIUM_FUZZ_CALL(admin, AdminServiceImpl, ListParties),
     [](const History&) {
       return Serialize<pb::ListPartiesRequest>([](auto& request) {
         request.set_role(pb::SUPPLIER);
         request.set_page_size(1);
       });
     }},
    {"AdminService.ChangePartyToken", kAdmin, true, false,
     PREMIUM_FUZZ_CALL(admin, AdminServiceImpl, ChangePartyToken),
     [](const History&) {
       return Serialize<pb::ChangePartyTokenRequest>([](auto& request) {
         request.set_request_id("seed-token");
         request.set_party_id("b2");
         request.set_reason("token leaked");
       });
     }},
    {"BrandService.GetSupplierStanding", kBrand, false, false,
     PREMIUM_FUZZ_CALL(brand, BrandServiceImpl, GetSupplierStanding),
     [](const History&) {
       return Serialize<pb::GetSupplierStandingRequest>([](auto& request) {
         request.set_program_id("bk");
         request.set_supplier_id("s2");
         request.set_as_of("2025-06-01");
       });
     }},
    {"BrandService.ListPurchases", kBrand, false, false,
     PREMIUM_FUZZ_CALL(brand, BrandServiceImpl, ListPurchases),
     [](const History&) {
       return Serialize<pb::ListOwnRecordsRequest>(
           [](auto& request) { request.set_page_size(2); });
     }},
    {"BrandService.ListPayments", kBrand, false, false,
     PREMIUM_FUZZ_CALL(brand, BrandServiceImpl, ListPayments),
     [](const History&) {
       return Serialize<pb::ListOwnRecordsRequest>(
           [](auto& request) { request.set_page_token("3"); });
     }},
    {"SupplierService.ListPaystubCodes", kSupplier, false, false,
     PREMIUM_FUZZ_CALL(supplier, SupplierServiceImpl, ListPaystubCodes),
     [](const History& history) {
       return Serialize<pb::ListPaystubCodesRequest>([&](auto& request) {
         request.set_first_seq(history.payroll_first_seq);
         request.set_page_size(2);
       });
     }},
    {"SupplierService.ListPayrollLines", kSupplier, false, false,
     PREMIUM_FUZZ_CALL(supplier, SupplierServiceImpl, ListPayrollLines),
     [](const History&) {
       return Serialize<pb::ListOwnRecordsRequest>(
           [](auto& request) { request.set_page_size(1); });
     }},
    {"SupplierService.ListPaymentsReceived", kSupplier, false, false,
     PREMIUM_FUZZ_CALL(supplier, SupplierServiceImpl, ListPaymentsReceived),
     [](const History&) { return std::string(); }},
    {"WorkerService.LookupCode", kAnonymous, false, false,
     PREMIUM_FUZZ_CALL(worker, WorkerServiceImpl, LookupCode),
     [](const History& history) {
       return Serialize<pb::LookupCodeRequest>(
           [&](auto& request) { request.set_code(history.codes[0]); });
     }},
    {"WorkerService.DisputeLine", kAnonymous, true, false,
     PREMIUM_FUZZ_CALL(worker, WorkerServiceImpl, DisputeLine),
     [](const History& history) {
       return Serialize<pb::DisputeLineRequest>([&](auto& request) {
         request.set_code(history.codes[2]);
         request.set_paystub_amount("0.40");
         request.set_note("short by ten cents");
       });
     }},
    {"AuditService.Reconcile", kAuditor, false, false,
     PREMIUM_FUZZ_CALL(audit, AuditServiceImpl, Reconcile),
     [](const History&) {
       return Serialize<pb::ReconcileRequest>([](auto& request) {
         request.set_program_id("bk");
         request.set_as_of("2025-06-15");
         request.set_page_size(1);
       });
     }},
    {"AuditService.Summarize", kAuditor, false, false,
     PREMIUM_FUZZ_CALL(audit, AuditServiceImpl, Summarize),
     [](const History&) {
       return Serialize<pb::SummarizeRequest>(
           [](auto& request) { request.set_program_id("ffp"); });
     }},
    {"AuditService.ResolveDiscrepancy", kAuditor, true, false,
     PREMIUM_FUZZ_CALL(audit, AuditServiceImpl, ResolveDiscrepancy),
     [](const History& history) {
       return Serialize<pb::ResolveDiscrepancyRequest>([&](auto& request) {
         request.set_request_id("seed-resolve");
         request.set_discrepancy_id(history.discrepancy_id);
         request.set_note("settled by phone");
       });
     }},
    {"AuditService.SuspendSupplier", kAuditor, true, false,
     PREMIUM_FUZZ_CALL(audit, AuditServiceImpl, SuspendSupplier),
     [](const History&) {
       return Serialize<pb::SuspendSupplierRequest>([](auto& request) {
         request.set_request_id("seed-suspend");
         request.set_program_id("ffp");
         request.set_supplier_id("s1");
         request.set_from_date("2025-06-01");
         request.set_to_date("2025-06-30");
         request.set_reason("late payroll");
       });
     }},
    {"AuditService.ReinstateSupplier", kAuditor, true, false,
     PREMIUM_FUZZ_CALL(audit, AuditServiceImpl, ReinstateSupplier),
     [](const History&) {
       return Serialize<pb::ReinstateSupplierRequest>([](auto& request) {
         request.set_request_id("seed-reinstate");
         request.set_program_id("bk");
         request.set_supplier_id("s2");
         request.set_effective_date("2025-06-20");
         request.set_reason("cured");
       });
     }},
    {"LedgerService.Append", kLedgerService, true, true,
     PREMIUM_FUZZ_CALL(ledger_service, LedgerServiceImpl, Append),
     [](const History&) {
       return Serialize<pb::AppendRequest>([](auto& request) {
         request.set_actor("brand:b1");
         request.set_idempotency_key("seed-append");
         pb::PremiumPayment payment;
         payment.set_brand_id("b1");
         payment.set_payment_id("pay-9");
         payment.set_supplier_id("s1");
         payment.set_program_id("ffp");
         payment.set_paid_date("2025-06-01");
         payment.set_amount_micros(1'000'000);
         payment.set_currency("USD");
         pb::AppendEntry* entry = request.add_entries();
         entry->set_kind(kPremiumPaymentKind);
         entry->set_payload(payment.SerializeAsString());
       });
     }},
    {"LedgerService.ReadEntries", kLedgerService, false, true,
     PREMIUM_FUZZ_CALL(ledger_service, LedgerServiceImpl, ReadEntries),
     [](const History&) {
       return Serialize<pb::ReadEntriesRequest>([](auto& request) {
         request.set_begin_seq(2);
         request.set_end_seq(6);
         request.set_max_entries(3);
       });
     }},
    {"LedgerService.FindEntries", kLedgerService, false, true,
     PREMIUM_FUZZ_CALL(ledger_service, LedgerServiceImpl, FindEntries),
     [](const History&) {
       return Serialize<pb::FindEntriesRequest>([](auto& request) {
         request.set_lookup_key(ProgramsKey());
         request.set_after_seq(1);
         request.set_max_results(2);
       });
     }},
    {"LedgerService.GetCheckpoint", kAnonymous, false, true,
     PREMIUM_FUZZ_CALL(ledger_service, LedgerServiceImpl, GetCheckpoint),
     [](const History&) {
       return Serialize<pb::GetCheckpointRequest>(
           [](auto& request) { request.set_tree_size(5); });
     }},
    {"LedgerService.GetInclusionProof", kAnonymous, false, true,
     PREMIUM_FUZZ_CALL(ledger_service, LedgerServiceImpl, GetInclusionProof),
     [](const History&) {
       return Serialize<pb::GetInclusionProofRequest>([](auto& request) {
         request.set_leaf_index(3);
         request.set_tree_size(13);
       });
     }},
    {"LedgerService.GetConsistencyProof", kAnonymous, false, true,
     PREMIUM_FUZZ_CALL(ledger_service, LedgerServiceImpl, GetConsistencyProof),
     [](const History&) {
       return Serialize<pb::GetConsistencyProofRequest>([](auto& request) {
         request.set_old_size(6);
         request.set_new_size(13);
       });
     }},
};

#undef PREMIUM_FUZZ_CALL

constexpr size_t kMethodCount = sizeof(kMethods) / sizeof(kMethods[0]);
static_assert(kMethodCount * (kCallers + 1) <= 256,
              "every method and caller must have a selector byte");

bool Allowed(grpc::StatusCode code, bool ledger_service) {
  switch (code) {
    case grpc::StatusCode::OK:
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return true;
    case grpc::StatusCode::OUT_OF_RANGE:
      return ledger_service;
    default:
      return false;
  }
}

void WriteSeeds(const std::string& dir) {
  const History& history = World::Get().history();
  fs::create_directories(dir);
  const auto write = [&](const std::string& name, uint8_t selector,
                         const std::string& request) {
    std::ofstream(fs::path(dir) / name, std::ios::binary)
        << static_cast<char>(selector) << request;
  };
  for (size_t i = 0; i < kMethodCount; ++i) {
    const Method& method = kMethods[i];
    const std::string request = method.seed(history);
    // The usual caller, and (for the first method of each service) another.
    write(method.name, static_cast<uint8_t>(i + kMethodCount * kCallers),
          request);
    write(
        absl::StrCat(method.name, "-as-", (method.usual_caller + 1) % kCallers),
        static_cast<uint8_t>(i + kMethodCount *
                                     ((method.usual_caller + 1) % kCallers)),
        request);
  }
  const auto usual = [](std::string_view name) {
    size_t i = 0;
    while (i < kMethodCount && kMethods[i].name != name) ++i;
    FUZZ_CHECK(i < kMethodCount, "no method ", std::string(name));
    return static_cast<uint8_t>(i + kMethodCount * kCallers);
  };
  // A lookup of each code, and a dispute that is a retry.
  for (size_t i = 0; i < history.codes.size(); ++i) {
    write(absl::StrCat("WorkerService.LookupCode-", i),
          usual("WorkerService.LookupCode"),
          Serialize<pb::LookupCodeRequest>(
              [&](auto& request) { request.set_code(history.codes[i]); }));
  }
  write("WorkerService.DisputeLine-retry", usual("WorkerService.DisputeLine"),
        Serialize<pb::DisputeLineRequest>([&](auto& request) {
          request.set_code(history.codes[1]);
          request.set_paystub_amount("4.00");
          request.set_note("my paystub says 4.00");
        }));
}

}  // namespace
}  // namespace premium

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  // The copy of the history prepared in the background allocates while
  // inputs run, which libFuzzer's per-input leak check takes for a leak
  // (and then re-runs the input under LeakSanitizer, every time). So it is
  // off unless asked for; LeakSanitizer still checks the whole process at
  // exit. libFuzzer reads its flags after this function, as documented.
  bool leaks_flag = false;
  for (int i = 1; i < *argc; ++i) {
    leaks_flag |= std::string_view((*argv)[i]).starts_with("-detect_leaks=");
  }
  if (!leaks_flag) {
    static std::vector<char*>* const args =
        new std::vector<char*>(*argv, *argv + *argc);
    static char kNoLeakCheck[] = "-detect_leaks=0";
    args->push_back(kNoLeakCheck);
    args->push_back(nullptr);
    *argc += 1;
    *argv = args->data();
  }
  // Requests that are not valid UTF-8 where proto3 wants it are skipped,
  // not logged.
  google::protobuf::SetLogHandler(nullptr);
  premium::World::Get();
  if (const char* dir = getenv("PREMIUM_FUZZ_WRITE_SEEDS")) {
    premium::WriteSeeds(dir);
    exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  using premium::World;
  if (size == 0) return 0;
  World& world = World::Get();
  const size_t index = bytes[0] % premium::kMethodCount;
  const premium::Method& method = premium::kMethods[index];
  const size_t caller_choice = bytes[0] / premium::kMethodCount;
  const premium::Caller caller =
      caller_choice < premium::kCallers
          ? static_cast<premium::Caller>(caller_choice)
          : method.usual_caller;
  world.AdvanceClock();

  grpc::ServerContext context;
  grpc::testing::ServerContextTestSpouse spouse(&context);
  const std::string authorization = world.Authorization(caller);
  if (!authorization.empty()) {
    spouse.AddClientMetadata("authorization", authorization);
  }
  const uint64_t size_before = world.ledger().size();
  const std::optional<grpc::Status> status = method.call(
      world.services(), &context,
      std::string_view(reinterpret_cast<const char*>(bytes + 1), size - 1));
  if (!status.has_value()) return 0;
  const uint64_t size_after = world.ledger().size();
  // PREMIUM_FUZZ_VERBOSE=1: what each input did, to read a crash or check
  // that the seeds are the valid requests they should be.
  static const bool verbose = getenv("PREMIUM_FUZZ_VERBOSE") != nullptr;
  if (verbose) {
    fprintf(stderr, "%s as caller %d: %d %s (ledger %llu -> %llu)\n",
            method.name, static_cast<int>(caller),
            static_cast<int>(status->error_code()),
            status->error_message().c_str(),
            static_cast<unsigned long long>(size_before),
            static_cast<unsigned long long>(size_after));
  }
  FUZZ_CHECK(premium::Allowed(status->error_code(), method.ledger_service),
             method.name, " as caller ", static_cast<int>(caller), " returned ",
             static_cast<int>(status->error_code()), ": ",
             status->error_message());
  FUZZ_CHECK(status->ok() || size_after == size_before, method.name,
             " failed (", static_cast<int>(status->error_code()), ": ",
             status->error_message(), ") but the ledger grew from ",
             size_before, " to ", size_after);
  FUZZ_CHECK(method.mutating || size_after == size_before, method.name,
             " is read-only but the ledger grew from ", size_before, " to ",
             size_after);
  world.ResetIfChanged(size_before);
  return 0;
}
