// The authorization matrix (DESIGN sections 2, 6 and 9): every RPC of every
// service of the wsr.premium.v1 package, called by every kind of caller, on
// the caller's own resources and on another party's, against the services
// wired as premiumd wires them (PremiumServicesTest) and the LedgerService
// on a loopback server of its own.
//
// The RPCs are not listed here: they are read from the protobuf descriptor
// pool, every .proto file of proto/wsr/premium/v1 in turn. What each caller
// must get is written in kMatrix, one row per RPC; an RPC without a row, or
// a row naming no RPC, fails the test, so an RPC cannot be added without
// deciding who may call it.
//
// A cell checks:
//   - the status: allowed (OK), UNAUTHENTICATED, PERMISSION_DENIED, or
//     NOT_FOUND where a service hides that another party's resource exists;
//   - that an allowed answer holds nothing of another party: every
//     brand_id, supplier_id, worker_id and party_id in it, and in the ledger
//     entries its seq fields point to, belongs to the caller (found by
//     reflection, so a field added to a response is checked too); an "O"
//     cell must also show at least one ledger record of the caller's own;
//   - that a refused call appends nothing, that an allowed read appends
//     nothing, and that an allowed write appends entries made by the
//     caller's actor and naming no other party.
//
// Guessing paystub codes: see GuessesThroughLookupAndDisputeShareOneLimit.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "gtest/gtest.h"
#include "ledger/ledger.h"
#include "ledger/premium/indexer.h"
#include "ledger/testing/ledger_testing.h"
#include "services/credentials.h"
#include "services/ledger_client.h"
#include "services/ledger_service.h"
#include "services/rate_limiter.h"
#include "services/testing/service_testing.h"
#include "wsr/premium/v1/admin.grpc.pb.h"
#include "wsr/premium/v1/audit.grpc.pb.h"
#include "wsr/premium/v1/brand.grpc.pb.h"
#include "wsr/premium/v1/ledger.grpc.pb.h"
#include "wsr/premium/v1/records.pb.h"
#include "wsr/premium/v1/supplier.grpc.pb.h"
#include "wsr/premium/v1/worker.grpc.pb.h"

#ifndef PREMIUM_PROTO_DIR
#error "PREMIUM_PROTO_DIR must name proto/wsr/premium/v1 in the source tree"
#endif

namespace premium {
namespace {

namespace pb = ::wsr::premium::v1;
namespace protobuf = ::google::protobuf;

using ::premium::testing::Bearer;
using ::premium::testing::Context;
using ::premium::testing::GrpcIs;
using ::premium::testing::GrpcOk;

const absl::CivilDay kToday(2025, 2, 28);
const absl::Time kAppendTime = absl::FromCivil(
    absl::CivilSecond(2025, 2, 10, 12, 0, 0), absl::UTCTimeZone());

constexpr char kPackage[] = "wsr.premium.v1";
// Where the package's files are, relative to the import root: the name the
// descriptor pool knows each file by.
constexpr char kPackageDir[] = "wsr/premium/v1/";

// ---------------------------------------------------------------------------
// The table.

// The callers, one column of kMatrix each, in this order.
enum class Caller {
  // No authorization metadata.
  kNoToken,
  // b1's token without "Bearer ".
  kMalformed,
  // A well-formed bearer token that no party holds.
  kUnknownToken,
  // A token revoked by AdminService.ChangePartyToken (a rotation), of the
  // role the service serves: a brand's on BrandService, a supplier's on
  // SupplierService, the auditor's on AuditService and AdminService.
  kRevoked,
  kAdmin,
  // Brand b1 on its own resources, then on brand b2's (and supplier s2's).
  kBrandOwn,
  kBrandOther,
  // Supplier s1 on its own resources, then on supplier s2's.
  kSupplierOwn,
  kSupplierOther,
  kAuditor,
  // A worker: no token, the code of w1's line at s1. On the other services
  // the worker presents the code as a bearer token.
  kWorkerCode,
  // A well-formed paystub code that unlocks nothing (a guess).
  kGuessedCode,
  // The ledger's service token, which the front services present to it.
  kLedgerToken,
};

constexpr Caller kCallers[] = {
    Caller::kNoToken,     Caller::kMalformed,   Caller::kUnknownToken,
    Caller::kRevoked,     Caller::kAdmin,       Caller::kBrandOwn,
    Caller::kBrandOther,  Caller::kSupplierOwn, Caller::kSupplierOther,
    Caller::kAuditor,     Caller::kWorkerCode,  Caller::kGuessedCode,
    Caller::kLedgerToken,
};
constexpr size_t kCallerCount = std::size(kCallers);

const char* CallerName(Caller caller) {
  switch (caller) {
    case Caller::kNoToken:
      return "no token";
    case Caller::kMalformed:
      return "a malformed authorization";
    case Caller::kUnknownToken:
      return "a token no party holds";
    case Caller::kRevoked:
      return "a revoked token";
    case Caller::kAdmin:
      return "the admin";
    case Caller::kBrandOwn:
      return "brand b1 on its own resources";
    case Caller::kBrandOther:
      return "brand b1 on b2's resources";
    case Caller::kSupplierOwn:
      return "supplier s1 on its own resources";
    case Caller::kSupplierOther:
      return "supplier s1 on s2's resources";
    case Caller::kAuditor:
      return "the auditor";
    case Caller::kWorkerCode:
      return "worker w1's paystub code";
    case Caller::kGuessedCode:
      return "a guessed paystub code";
    case Caller::kLedgerToken:
      return "the ledger's service token";
  }
  return "?";
}

// What a cell expects, one letter each in kMatrix:
//   A  allowed: OK, and nothing of another party in the answer
//   O  allowed, and the answer shows records of the caller's own (ledger
//      entries, pointed to by its seq fields, that name the caller)
//   U  UNAUTHENTICATED
//   D  PERMISSION_DENIED
//   N  NOT_FOUND: another party's resource looks like no resource at all
constexpr char kOutcomeLetters[] = "AOUDN";

struct Row {
  const char* rpc;  // "Service.Method", in package wsr.premium.v1
  const char* outcomes;
};

// Who may call what. The rules behind the rows (DESIGN section 2): every
// call is authenticated except the worker's, whose paystub code is the
// credential, and the ledger's checkpoints and proofs, which hold only
// hashes; a brand sees only its own purchases and payments, a supplier only
// its own payroll, codes and payments received; auditors and admins see
// all, admins only read the audit; programs are public terms to every
// party; only the front services (the ledger token) read or append raw
// entries. The WorkerService reads no token, so a token, even a revoked or
// malformed one, neither opens nor widens what a code shows: every column
// presents w1's code there but the guessed one.
// clang-format off
constexpr Row kMatrix[] = {
  //                                        no token
  //                                        | malformed
  //                                        | | unknown token
  //                                        | | | revoked token
  //                                        | | | | admin
  //                                        | | | | | brand b1, own
  //                                        | | | | | | brand b1 on b2's
  //                                        | | | | | | | supplier s1, own
  //                                        | | | | | | | | supplier s1 on s2's
  //                                        | | | | | | | | | auditor
  //                                        | | | | | | | | | | worker code
  //                                        | | | | | | | | | | | guessed code
  //                                        | | | | | | | | | | | | ledger token
  {"AdminService.AddProgramVersion",       "U U D D A D D D D D D D D"},
  {"AdminService.GetProgram",              "U U D D A A A A A A D D D"},
  {"AdminService.ListPrograms",            "U U D D A A A A A A D D D"},
  {"AdminService.RegisterParty",           "U U D D A D D D D D D D D"},
  {"AdminService.ListParties",             "U U D D A D D D D A D D D"},
  {"AdminService.ChangePartyToken",        "U U D D A D D D D D D D D"},
  {"AuditService.Reconcile",               "U U D D A D D D D A D D D"},
  {"AuditService.Summarize",               "U U D D A D D D D A D D D"},
  {"AuditService.ResolveDiscrepancy",      "U U D D D D D D D A D D D"},
  {"AuditService.SuspendSupplier",         "U U D D D D D D D A D D D"},
  {"AuditService.ReinstateSupplier",       "U U D D D D D D D A D D D"},
  {"BrandService.SubmitPurchases",         "U U D D D A A D D D D D D"},
  {"BrandService.SubmitPayments",          "U U D D D A A D D D D D D"},
  {"BrandService.GetSupplierStanding",     "U U D D A A A O D A D D D"},
  {"BrandService.ListPurchases",           "U U D D D O A D D D D D D"},
  {"BrandService.ListPayments",            "U U D D D O A D D D D D D"},
  {"LedgerService.Append",                 "U U D D D D D D D D D D A"},
  {"LedgerService.AppendStream",           "U U D D D D D D D D D D A"},
  {"LedgerService.ReadEntries",            "U U D D D D D D D D D D A"},
  {"LedgerService.FindEntries",            "U U D D D D D D D D D D A"},
  {"LedgerService.TailEntries",            "U U D D D D D D D D D D A"},
  {"LedgerService.GetCheckpoint",          "A A A A A A A A A A A A A"},
  {"LedgerService.GetInclusionProof",      "A A A A A A A A A A A A A"},
  {"LedgerService.GetConsistencyProof",    "A A A A A A A A A A A A A"},
  {"SupplierService.UploadPayroll",        "U U D D D D D A A D D D D"},
  {"SupplierService.ListPaystubCodes",     "U U D D D D D O N D D D D"},
  {"SupplierService.ListPayrollLines",     "U U D D D D D O A D D D D"},
  {"SupplierService.ListPaymentsReceived", "U U D D D D D O A D D D D"},
  {"WorkerService.LookupCode",             "O O O O O O O O O O O N O"},
  {"WorkerService.DisputeLine",            "A A A A A A A A A A A N A"},
};
// clang-format on

// A row's letters without the spaces, or a failure naming what is wrong.
std::string ParseOutcomes(const Row& row) {
  std::string letters;
  for (const char* c = row.outcomes; *c != '\0'; ++c) {
    if (*c == ' ') continue;
    if (absl::string_view(kOutcomeLetters).find(*c) ==
        absl::string_view::npos) {
      ADD_FAILURE() << row.rpc << ": '" << *c << "' is not one of "
                    << kOutcomeLetters;
    }
    letters.push_back(*c);
  }
  if (letters.size() != kCallerCount) {
    ADD_FAILURE() << row.rpc << ": " << letters.size() << " outcomes for "
                  << kCallerCount << " callers";
  }
  return letters;
}

// kMatrix by RPC; a failure for each row named twice.
std::map<std::string, std::string> ParsedMatrix() {
  std::map<std::string, std::string> matrix;
  for (const Row& row : kMatrix) {
    if (!matrix.emplace(row.rpc, ParseOutcomes(row)).second) {
      ADD_FAILURE() << row.rpc << " has two rows";
    }
  }
  return matrix;
}

// Every RPC of the package, "Service.Method", from the descriptors of every
// .proto file in its directory (so a new file is found as well as a new
// method), in file name and then declaration order.
std::vector<const protobuf::MethodDescriptor*> PackageMethods() {
  std::vector<std::string> names;
  for (const auto& file :
       std::filesystem::directory_iterator(PREMIUM_PROTO_DIR)) {
    if (file.path().extension() == ".proto") {
      names.push_back(file.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  EXPECT_FALSE(names.empty()) << "no .proto file in " << PREMIUM_PROTO_DIR;
  std::vector<const protobuf::MethodDescriptor*> methods;
  for (const std::string& name : names) {
    const std::string path = absl::StrCat(kPackageDir, name);
    const protobuf::FileDescriptor* file =
        protobuf::DescriptorPool::generated_pool()->FindFileByName(path);
    if (file == nullptr) {
      ADD_FAILURE() << path << " is not in the generated descriptor pool: "
                    << "link its generated code into this test";
      continue;
    }
    EXPECT_EQ(file->package(), kPackage) << path;
    for (int s = 0; s < file->service_count(); ++s) {
      for (int m = 0; m < file->service(s)->method_count(); ++m) {
        methods.push_back(file->service(s)->method(m));
      }
    }
  }
  return methods;
}

std::string RpcName(const protobuf::MethodDescriptor& method) {
  return absl::StrCat(method.service()->name(), ".", method.name());
}

// Exactly one row for every RPC, and an RPC for every row: checked without
// a server, so a missing row is reported on its own.
TEST(AuthorizationMatrixTableTest, EveryRpcHasOneRowAndEveryRowAnRpc) {
  const std::map<std::string, std::string> matrix = ParsedMatrix();
  std::set<std::string> rpcs;
  for (const protobuf::MethodDescriptor* method : PackageMethods()) {
    const std::string rpc = RpcName(*method);
    rpcs.insert(rpc);
    EXPECT_TRUE(matrix.contains(rpc))
        << rpc << " has no row in kMatrix: decide who may call it";
  }
  EXPECT_GE(rpcs.size(), 6u);  // at least one RPC of each service
  for (const auto& [rpc, outcomes] : matrix) {
    EXPECT_TRUE(rpcs.contains(rpc))
        << "kMatrix names " << rpc << ", which is no RPC of " << kPackage;
  }
}

// ---------------------------------------------------------------------------
// Whose data a caller may see.

// Who an allowed answer is for: everyone's data (admin, auditor, the front
// services), no party's (an anonymous caller of a public call), or one
// party's.
struct Viewer {
  enum class Kind { kAll, kNobody, kBrand, kSupplier, kWorker };
  Kind kind = Kind::kNobody;
  std::string party_id;   // the brand or supplier; the worker's supplier
  std::string worker_id;  // kWorker only
};

// Fields that name a party, and so may hold only the viewer's own values.
bool NamesAParty(absl::string_view field) {
  return field == "brand_id" || field == "supplier_id" ||
         field == "worker_id" || field == "party_id";
}

// How often an answer names the viewer, and what it names of others.
struct Mentions {
  int own = 0;
  // Ledger records (entries the answer's seqs point to) naming the viewer.
  int own_records = 0;
  std::vector<std::string> foreign;
};

void Judge(absl::string_view field, const std::string& value,
           const Viewer& viewer, absl::string_view where, Mentions* out) {
  bool judged = true;
  bool own = false;
  switch (viewer.kind) {
    case Viewer::Kind::kAll:
      return;
    case Viewer::Kind::kNobody:
      own = value.empty();
      break;
    case Viewer::Kind::kBrand:
      judged = field == "brand_id" || field == "party_id";
      own = value == viewer.party_id;
      break;
    case Viewer::Kind::kSupplier:
      judged = field == "supplier_id" || field == "party_id";
      own = value == viewer.party_id;
      break;
    case Viewer::Kind::kWorker:
      judged = field == "supplier_id" || field == "worker_id";
      own =
          value == (field == "worker_id" ? viewer.worker_id : viewer.party_id);
      break;
  }
  if (!judged) return;
  if (own) {
    ++out->own;
  } else {
    out->foreign.push_back(absl::StrCat(field, " \"", value, "\" in ", where));
  }
}

// Judges every party-naming string of `message`, recursively, and collects
// the ledger seqs it refers to (uint64 fields "seq" and "*_seq").
void WalkMessage(const protobuf::Message& message, const Viewer& viewer,
                 absl::string_view where, Mentions* mentions,
                 std::vector<uint64_t>* seqs) {
  const protobuf::Reflection& reflection = *message.GetReflection();
  std::vector<const protobuf::FieldDescriptor*> fields;
  reflection.ListFields(message, &fields);
  for (const protobuf::FieldDescriptor* field : fields) {
    const std::string& name = field->name();
    const int count =
        field->is_repeated() ? reflection.FieldSize(message, field) : 1;
    for (int i = 0; i < count; ++i) {
      switch (field->cpp_type()) {
        case protobuf::FieldDescriptor::CPPTYPE_MESSAGE:
          WalkMessage(field->is_repeated()
                          ? reflection.GetRepeatedMessage(message, field, i)
                          : reflection.GetMessage(message, field),
                      viewer, where, mentions, seqs);
          break;
        case protobuf::FieldDescriptor::CPPTYPE_STRING:
          if (NamesAParty(name)) {
            Judge(name,
                  field->is_repeated()
                      ? reflection.GetRepeatedString(message, field, i)
                      : reflection.GetString(message, field),
                  viewer, where, mentions);
          }
          break;
        case protobuf::FieldDescriptor::CPPTYPE_UINT64:
          if (seqs != nullptr &&
              (name == "seq" || absl::EndsWith(name, "_seq"))) {
            seqs->push_back(
                field->is_repeated()
                    ? reflection.GetRepeatedUInt64(message, field, i)
                    : reflection.GetUInt64(message, field));
          }
          break;
        default:
          break;
      }
    }
  }
}

// An entry's payload as the message its kind names, or null.
std::unique_ptr<protobuf::Message> ParsePayload(const pb::Entry& entry) {
  const protobuf::Descriptor* type =
      protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(
          entry.kind());
  if (type == nullptr) return nullptr;
  std::unique_ptr<protobuf::Message> payload(
      protobuf::MessageFactory::generated_factory()->GetPrototype(type)->New());
  if (!payload->ParseFromString(entry.payload())) return nullptr;
  return payload;
}

// ---------------------------------------------------------------------------
// The fixture: programs, parties and records, the LedgerService, and the
// calls.

constexpr char kPurchasesHeader[] =
    "invoice_id,supplier_id,program_id,purchase_date,quantity,unit\n";
constexpr char kPaymentsHeader[] =
    "payment_id,supplier_id,program_id,paid_date,amount,currency\n";
constexpr char kPayrollHeader[] =
    "program_id,worker_id,period_start,period_end,pay_date,hours,gross_wages,"
    "premium_amount,currency\n";

constexpr char kProgram[] = "p1";
// The actor of a worker's dispute of w1's line at s1, as WorkerService
// appends it (and as the matrix's raw ledger appends name it).
constexpr char kWorkerActor[] = "worker:w1@s1";
constexpr char kGuessedCode[] = "0000-0000-0000-0000";

// The resources one party's requests name: b1's and s1's (own), or b2's and
// s2's (another party's).
struct Resources {
  std::string brand_id;
  std::string supplier_id;
  // The brand's first purchase and payment.
  uint64_t purchase_seq = 0;
  uint64_t payment_seq = 0;
  // The first payment the supplier received.
  uint64_t received_payment_seq = 0;
  // The supplier's payroll upload.
  uint64_t payroll_first_seq = 0;
  // The brand's and supplier's request ids and business ids.
  std::string purchases_request_id;
  std::string payments_request_id;
  std::string payroll_request_id;
  std::string invoice_id;
  std::string payment_id;
};

// One cell: an RPC called by one caller.
struct Cell {
  std::string rpc;
  std::string service;
  Caller caller = Caller::kNoToken;
  // The "authorization" metadata sent; empty for none.
  std::string authorization;
  // Own resources, or (kBrandOther, kSupplierOther) the other party's.
  const Resources* resources = nullptr;
  bool other = false;
  // Unique over the test: request ids and business ids derive from it.
  int index = 0;
};

std::string Describe(const Cell& cell) {
  return absl::StrCat(cell.rpc, " by ", CallerName(cell.caller), " (cell ",
                      cell.index, ")");
}

// A call's status and answer (for a server stream, its first message).
struct CallResult {
  grpc::Status status;
  std::unique_ptr<protobuf::Message> response;
};

// Whether an allowed call of an RPC appends to the ledger.
enum class Effect { kReads, kAppends };

struct Invoker {
  Effect effect = Effect::kReads;
  std::function<CallResult(const Cell&)> call;
};

template <typename Stub, typename Request, typename Response>
CallResult Unary(Stub& stub,
                 grpc::Status (Stub::*rpc)(grpc::ClientContext*, const Request&,
                                           Response*),
                 const Cell& cell, const Request& request) {
  auto response = std::make_unique<Response>();
  CallResult result;
  result.status =
      (stub.*rpc)(Context(cell.authorization).get(), request, response.get());
  result.response = std::move(response);
  return result;
}

// An upload, streamed as premiumctl streams it.
template <typename Stub, typename Response>
CallResult Upload(Stub& stub,
                  std::unique_ptr<grpc::ClientWriter<pb::UploadChunk>> (
                      Stub::*rpc)(grpc::ClientContext*, Response*),
                  const Cell& cell, absl::string_view file,
                  const std::string& request_id) {
  auto response = std::make_unique<Response>();
  std::unique_ptr<grpc::ClientContext> context = Context(cell.authorization);
  std::unique_ptr<grpc::ClientWriter<pb::UploadChunk>> writer =
      (stub.*rpc)(context.get(), response.get());
  CallResult result;
  result.status =
      testing::StreamUpload(writer.get(), file, /*chunk_bytes=*/64, request_id);
  result.response = std::move(response);
  return result;
}

bool IsWorker(Caller caller) {
  return caller == Caller::kWorkerCode || caller == Caller::kGuessedCode;
}

std::string RequestId(const Cell& cell) {
  return absl::StrCat("matrix-", cell.index);
}

std::string PageTokenBefore(uint64_t seq) { return absl::StrCat(seq - 1); }

class AuthorizationMatrixTest : public testing::PremiumServicesTest {
 protected:
  AuthorizationMatrixTest() : PremiumServicesTest(kToday, kAppendTime) {}

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(PremiumServicesTest::SetUp());
    ASSERT_NO_FATAL_FAILURE(StartLedgerServer());
    ASSERT_NO_FATAL_FAILURE(SetUpProgramAndParties());
    ASSERT_NO_FATAL_FAILURE(SetUpRecords());
    ASSERT_NO_FATAL_FAILURE(RotateTokens());
    ASSERT_NO_FATAL_FAILURE(FindADiscrepancy());
  }

  void TearDown() override {
    ledger_stub_.reset();
    ledger_channel_.reset();
    if (ledger_service_ != nullptr) ledger_service_->Stop();
    testing::StopLocalServer(&ledger_server_);
    ledger_service_.reset();
    PremiumServicesTest::TearDown();
  }

  // The LedgerService over the fixture's ledger, on a server of its own (the
  // fixture's serves the front services only), with a new service token.
  void StartLedgerServer() {
    PL_ASSERT_OK_AND_ASSIGN(ledger_token_, GenerateToken("ledger_"));
    ledger_service_ = std::make_unique<LedgerServiceImpl>(
        ledger_.get(), HashToken(ledger_token_));
    std::string address;
    ledger_server_ =
        testing::StartLocalServer({ledger_service_.get()}, &address);
    ASSERT_NE(ledger_server_, nullptr);
    ledger_channel_ =
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    ledger_stub_ = pb::LedgerService::NewStub(ledger_channel_);
  }

  static pb::ProgramVersionSpec ProgramSpec(const std::string& program_id) {
    pb::ProgramVersionSpec spec;
    spec.set_program_id(program_id);
    spec.set_name(absl::StrCat("Program ", program_id));
    spec.set_currency("USD");
    spec.set_unit("lb");
    spec.set_worker_rate("0.01");
    spec.set_effective_date("2025-01-01");
    return spec;
  }

  // Program p1; brands b1, b2 and b9 (whose token the admin's cell of
  // ChangePartyToken rotates); suppliers s1, s2; auditor aud.
  void SetUpProgramAndParties() {
    pb::AddProgramVersionRequest request;
    request.set_request_id("setup-program");
    *request.mutable_version() = ProgramSpec(kProgram);
    pb::Program program;
    ASSERT_THAT(admin_stub_->AddProgramVersion(
                    Context(Bearer(admin_token_)).get(), request, &program),
                GrpcOk());
    for (const char* brand : {"b1", "b2", "b9"}) {
      tokens_[brand] = RegisterOrDie(pb::BRAND, brand);
    }
    for (const char* supplier : {"s1", "s2"}) {
      tokens_[supplier] = RegisterOrDie(pb::SUPPLIER, supplier);
    }
    tokens_["aud"] = RegisterOrDie(pb::AUDITOR, "aud");
  }

  enum class BrandFile { kPurchases, kPayments };

  // Uploads `rows` as brand `party`; the receipt's first seq.
  uint64_t SubmitOrDie(const std::string& party, BrandFile file,
                       const std::string& request_id, absl::string_view rows) {
    const bool purchases = file == BrandFile::kPurchases;
    pb::UploadReceipt receipt;
    std::unique_ptr<grpc::ClientContext> context =
        Context(Bearer(tokens_[party]));
    std::unique_ptr<grpc::ClientWriter<pb::UploadChunk>> writer =
        purchases ? brand_stub_->SubmitPurchases(context.get(), &receipt)
                  : brand_stub_->SubmitPayments(context.get(), &receipt);
    EXPECT_THAT(
        testing::StreamUpload(
            writer.get(),
            absl::StrCat(purchases ? kPurchasesHeader : kPaymentsHeader, rows),
            64, request_id),
        GrpcOk())
        << rows;
    return receipt.ledger().first_seq();
  }

  pb::UploadPayrollResponse UploadPayrollOrDie(const std::string& supplier,
                                               const std::string& request_id,
                                               absl::string_view rows) {
    pb::UploadPayrollResponse response;
    std::unique_ptr<grpc::ClientContext> context =
        Context(Bearer(tokens_[supplier]));
    std::unique_ptr<grpc::ClientWriter<pb::UploadChunk>> writer =
        supplier_stub_->UploadPayroll(context.get(), &response);
    EXPECT_THAT(
        testing::StreamUpload(writer.get(), absl::StrCat(kPayrollHeader, rows),
                              64, request_id),
        GrpcOk())
        << rows;
    return response;
  }

  // Each party's records, the brands' interleaved so that a page token just
  // before b2's record has b1's own records after it:
  //   b1: purchase inv-b1-1 from s1, then b2: inv-b2-1 from s2, then b1:
  //   inv-b1-2 from s2; payments likewise (b1 to s1, b2 to s2, b1 to s2);
  //   payroll: s1's (w1 twice, w2), then s2's (its own w1);
  //   s1 suspended from p1 for a week of January, s2 since 2025-02-01 (a
  //   standing s1 may not see).
  void SetUpRecords() {
    own_ = {.brand_id = "b1", .supplier_id = "s1"};
    other_ = {.brand_id = "b2",
              .supplier_id = "s2",
              .purchases_request_id = "setup-b2-purchases",
              .payments_request_id = "setup-b2-payments",
              .payroll_request_id = "setup-s2-payroll",
              .invoice_id = "inv-b2-1",
              .payment_id = "pay-b2-1"};
    own_.purchase_seq =
        SubmitOrDie("b1", BrandFile::kPurchases, "setup-b1-purchases-1",
                    "inv-b1-1,s1,p1,2025-01-06,1000,lb\n");
    other_.purchase_seq =
        SubmitOrDie("b2", BrandFile::kPurchases, other_.purchases_request_id,
                    "inv-b2-1,s2,p1,2025-01-07,2000,lb\n");
    SubmitOrDie("b1", BrandFile::kPurchases, "setup-b1-purchases-2",
                "inv-b1-2,s2,p1,2025-01-08,500,lb\n");
    own_.payment_seq =
        SubmitOrDie("b1", BrandFile::kPayments, "setup-b1-payments-1",
                    "pay-b1-1,s1,p1,2025-01-17,10.00,USD\n");
    own_.received_payment_seq = own_.payment_seq;
    // 15.00 of the 20.00 owed: a discrepancy for the auditor to resolve.
    other_.payment_seq =
        SubmitOrDie("b2", BrandFile::kPayments, other_.payments_request_id,
                    "pay-b2-1,s2,p1,2025-01-18,15.00,USD\n");
    other_.received_payment_seq = other_.payment_seq;
    SubmitOrDie("b1", BrandFile::kPayments, "setup-b1-payments-2",
                "pay-b1-2,s2,p1,2025-01-19,5.00,USD\n");
    const pb::UploadPayrollResponse s1 = UploadPayrollOrDie(
        "s1", "setup-s1-payroll",
        "p1,w1,2025-01-01,2025-01-07,2025-01-10,40,600.00,5.00,USD\n"
        "p1,w1,2025-01-08,2025-01-14,2025-01-17,40,600.00,5.00,USD\n"
        "p1,w2,2025-01-01,2025-01-07,2025-01-10,20,300.00,2.50,USD\n");
    ASSERT_EQ(s1.codes_size(), 3);
    own_.payroll_first_seq = s1.codes(0).seq();
    worker_code_ = s1.codes(0).code();
    worker_line_ = s1.codes(0);
    const pb::UploadPayrollResponse s2 = UploadPayrollOrDie(
        "s2", other_.payroll_request_id,
        "p1,w1,2025-01-01,2025-01-07,2025-01-10,40,600.00,7.50,USD\n");
    ASSERT_EQ(s2.codes_size(), 1);
    other_.payroll_first_seq = s2.codes(0).seq();

    ASSERT_NO_FATAL_FAILURE(SuspendOrDie("s1", "2025-01-20", "2025-01-25"));
    ASSERT_NO_FATAL_FAILURE(SuspendOrDie("s2", "2025-02-01", ""));
  }

  void SuspendOrDie(const std::string& supplier, const std::string& from_date,
                    const std::string& to_date) {
    pb::SuspendSupplierRequest request;
    request.set_request_id(absl::StrCat("setup-suspend-", supplier));
    request.set_program_id(kProgram);
    request.set_supplier_id(supplier);
    request.set_from_date(from_date);
    request.set_to_date(to_date);
    request.set_reason("late payroll records");
    pb::StandingChange change;
    ASSERT_THAT(audit_stub_->SuspendSupplier(
                    Context(Bearer(tokens_["aud"])).get(), request, &change),
                GrpcOk());
  }

  // Rotates the tokens of b2, s2 and the auditor (each has used its first
  // one, so it is in the authenticator's cache): the first ones are the
  // revoked tokens of the matrix.
  void RotateTokens() {
    for (const char* party : {"b2", "s2", "aud"}) {
      pb::ChangePartyTokenRequest request;
      request.set_request_id(absl::StrCat("setup-rotate-", party));
      request.set_party_id(party);
      request.set_reason("rotation");
      pb::ChangePartyTokenResponse response;
      ASSERT_THAT(admin_stub_->ChangePartyToken(
                      Context(Bearer(admin_token_)).get(), request, &response),
                  GrpcOk());
      ASSERT_EQ(response.revoked(), 1u) << party;
      revoked_tokens_[party] = tokens_[party];
      tokens_[party] = response.token();
    }
  }

  void FindADiscrepancy() {
    pb::ReconcileResponse response;
    ASSERT_THAT(audit_stub_->Reconcile(Context(Bearer(tokens_["aud"])).get(),
                                       pb::ReconcileRequest(), &response),
                GrpcOk());
    ASSERT_GT(response.discrepancies_size(), 0);
    discrepancy_id_ = response.discrepancies(0).id();
  }

  std::string RevokedTokenFor(absl::string_view service) {
    if (service == "SupplierService") return revoked_tokens_["s2"];
    if (service == "AuditService" || service == "AdminService") {
      return revoked_tokens_["aud"];
    }
    return revoked_tokens_["b2"];
  }

  std::string AuthorizationOf(Caller caller, absl::string_view service) {
    // A worker calls the WorkerService with nothing but a code.
    if (IsWorker(caller) && service == "WorkerService") return "";
    switch (caller) {
      case Caller::kNoToken:
        return "";
      case Caller::kMalformed:
        return tokens_["b1"];
      case Caller::kUnknownToken:
        return Bearer(absl::StrCat("brand_", std::string(52, '0')));
      case Caller::kRevoked:
        return Bearer(RevokedTokenFor(service));
      case Caller::kAdmin:
        return Bearer(admin_token_);
      case Caller::kBrandOwn:
      case Caller::kBrandOther:
        return Bearer(tokens_["b1"]);
      case Caller::kSupplierOwn:
      case Caller::kSupplierOther:
        return Bearer(tokens_["s1"]);
      case Caller::kAuditor:
        return Bearer(tokens_["aud"]);
      case Caller::kWorkerCode:
        return Bearer(worker_code_);
      case Caller::kGuessedCode:
        return Bearer(kGuessedCode);
      case Caller::kLedgerToken:
        return Bearer(ledger_token_);
    }
    return "";
  }

  Cell MakeCell(const protobuf::MethodDescriptor& method, Caller caller,
                int index) {
    Cell cell;
    cell.rpc = RpcName(method);
    cell.service = method.service()->name();
    cell.caller = caller;
    cell.authorization = AuthorizationOf(caller, cell.service);
    cell.other =
        caller == Caller::kBrandOther || caller == Caller::kSupplierOther;
    cell.resources = cell.other ? &other_ : &own_;
    cell.index = index;
    return cell;
  }

  // Whose data the cell's answer may hold. A paystub code shows its worker's
  // lines whoever presents it.
  static Viewer ViewerOf(const Cell& cell) {
    if (cell.service == "WorkerService") {
      return {Viewer::Kind::kWorker, "s1", "w1"};
    }
    switch (cell.caller) {
      case Caller::kAdmin:
      case Caller::kAuditor:
      case Caller::kLedgerToken:
        return {Viewer::Kind::kAll, "", ""};
      case Caller::kBrandOwn:
      case Caller::kBrandOther:
        return {Viewer::Kind::kBrand, "b1", ""};
      case Caller::kSupplierOwn:
      case Caller::kSupplierOther:
        return {Viewer::Kind::kSupplier, "s1", ""};
      default:
        return {Viewer::Kind::kNobody, "", ""};
    }
  }

  // The actor that the cell's allowed writes must be recorded under.
  static std::string ActorOf(const Cell& cell) {
    if (cell.service == "WorkerService" ||
        cell.caller == Caller::kLedgerToken) {
      return kWorkerActor;
    }
    switch (cell.caller) {
      case Caller::kAdmin:
        return "admin:admin";
      case Caller::kAuditor:
        return "auditor:aud";
      case Caller::kBrandOwn:
      case Caller::kBrandOther:
        return "brand:b1";
      case Caller::kSupplierOwn:
      case Caller::kSupplierOther:
        return "supplier:s1";
      default:
        return "(nobody may write)";
    }
  }

  // What `message` and the ledger entries its seqs point to name.
  Mentions MentionsIn(const protobuf::Message& message, const Viewer& viewer) {
    Mentions mentions;
    if (viewer.kind == Viewer::Kind::kAll) return mentions;
    std::vector<uint64_t> seqs;
    WalkMessage(message, viewer, "the answer", &mentions, &seqs);
    for (const uint64_t seq : seqs) {
      absl::StatusOr<StoredEntry> entry = ReadOneEntry(*client_, seq);
      if (!entry.ok()) {
        ADD_FAILURE() << "the answer names seq " << seq << ": "
                      << entry.status();
        continue;
      }
      const std::unique_ptr<protobuf::Message> payload =
          ParsePayload(entry->entry);
      if (payload == nullptr) {
        ADD_FAILURE() << "entry " << seq << " (" << entry->entry.kind()
                      << ") does not parse";
        continue;
      }
      const int own_before = mentions.own;
      WalkMessage(*payload, viewer, absl::StrCat("entry ", seq), &mentions,
                  nullptr);
      if (mentions.own > own_before) ++mentions.own_records;
    }
    return mentions;
  }

  // An allowed answer: nothing of another party, and with `own_records`
  // something of the caller's own.
  void CheckAnswer(const Cell& cell, const protobuf::Message& response,
                   bool own_records) {
    const Viewer viewer = ViewerOf(cell);
    const Mentions mentions = MentionsIn(response, viewer);
    EXPECT_THAT(mentions.foreign, ::testing::IsEmpty())
        << "the answer shows another party's data: "
        << response.ShortDebugString();
    if (own_records) {
      EXPECT_NE(viewer.kind, Viewer::Kind::kAll)
          << "kMatrix: an O cell is for a caller who sees only its own";
      EXPECT_GT(mentions.own_records, 0)
          << "the answer shows none of the caller's records: "
          << response.ShortDebugString();
    }
  }

  // The entries an allowed write appended after `size_before`: some, each
  // made by the cell's actor, naming the caller and no other party.
  void CheckAppended(const Cell& cell, uint64_t size_before) {
    const uint64_t size_after = ledger_->size();
    ASSERT_GT(size_after, size_before) << "allowed, but appended nothing";
    absl::StatusOr<std::vector<StoredEntry>> entries =
        ledger_->ReadEntries(size_before, size_after, 0);
    ASSERT_TRUE(entries.ok()) << entries.status();
    const Viewer viewer = ViewerOf(cell);
    for (const StoredEntry& stored : *entries) {
      const pb::Entry& entry = stored.entry;
      EXPECT_EQ(entry.actor(), ActorOf(cell)) << "entry " << entry.seq();
      if (viewer.kind == Viewer::Kind::kAll) continue;
      const std::unique_ptr<protobuf::Message> payload = ParsePayload(entry);
      ASSERT_NE(payload, nullptr) << "entry " << entry.seq();
      Mentions mentions;
      WalkMessage(*payload, viewer, absl::StrCat("entry ", entry.seq()),
                  &mentions, nullptr);
      EXPECT_THAT(mentions.foreign, ::testing::IsEmpty())
          << "an appended entry names another party: "
          << payload->ShortDebugString();
      EXPECT_GT(mentions.own, 0) << "an appended entry does not name the "
                                 << "caller: " << payload->ShortDebugString();
    }
  }

  // Calls one cell and checks it against `expected` (a letter of kMatrix);
  // the letter of what happened.
  char RunCell(const Cell& cell, char expected, const Invoker& invoker) {
    SCOPED_TRACE(Describe(cell));
    const uint64_t size_before = ledger_->size();
    const CallResult result = invoker.call(cell);
    const grpc::Status& status = result.status;
    char got = '?';
    switch (status.error_code()) {
      case grpc::StatusCode::OK:
        got = expected == 'O' ? 'O' : 'A';
        break;
      case grpc::StatusCode::UNAUTHENTICATED:
        got = 'U';
        break;
      case grpc::StatusCode::PERMISSION_DENIED:
        got = 'D';
        break;
      case grpc::StatusCode::NOT_FOUND:
        got = 'N';
        break;
      default:
        break;
    }
    EXPECT_EQ(got, expected)
        << "status " << status.error_code() << ": " << status.error_message();
    // Refused for being revoked, not for its role (the ledger knows no
    // party tokens at all).
    if (cell.caller == Caller::kRevoked && got == 'D' &&
        cell.service != "LedgerService") {
      EXPECT_THAT(status.error_message(), ::testing::HasSubstr("revoked"));
    }
    const bool allowed = status.ok();
    if (allowed) {
      CheckAnswer(cell, *result.response, expected == 'O');
    }
    if (allowed && invoker.effect == Effect::kAppends) {
      CheckAppended(cell, size_before);
    } else {
      EXPECT_EQ(ledger_->size(), size_before)
          << (allowed ? "a read" : "a refused call") << " changed the ledger";
    }
    return got;
  }

  std::map<std::string, Invoker> Invokers();
  void AddAdminInvokers(std::map<std::string, Invoker>* invokers);
  void AddAuditInvokers(std::map<std::string, Invoker>* invokers);
  void AddBrandInvokers(std::map<std::string, Invoker>* invokers);
  void AddSupplierAndWorkerInvokers(std::map<std::string, Invoker>* invokers);
  void AddLedgerInvokers(std::map<std::string, Invoker>* invokers);

  // A dispute of w1's first line at s1, as WorkerService would append it.
  std::string DisputePayload(const Cell& cell) const {
    pb::WorkerDispute dispute;
    dispute.set_line_seq(worker_line_.seq());
    dispute.set_supplier_id("s1");
    dispute.set_program_id(kProgram);
    dispute.set_worker_id("w1");
    dispute.set_period_start(worker_line_.period_start());
    dispute.set_period_end(worker_line_.period_end());
    dispute.set_paystub_amount_micros(1'000'000);
    dispute.set_note(absl::StrCat("matrix cell ", cell.index));
    return dispute.SerializeAsString();
  }

  std::string ledger_token_;
  std::unique_ptr<LedgerServiceImpl> ledger_service_;
  std::unique_ptr<grpc::Server> ledger_server_;
  std::shared_ptr<grpc::Channel> ledger_channel_;
  std::unique_ptr<pb::LedgerService::Stub> ledger_stub_;

  Resources own_;
  Resources other_;
  // Party id -> its first token, revoked by RotateTokens.
  std::map<std::string, std::string> revoked_tokens_;
  // w1's first line at s1 and its code.
  pb::PaystubCode worker_line_;
  std::string worker_code_;
  std::string discrepancy_id_;
};

void AuthorizationMatrixTest::AddAdminInvokers(
    std::map<std::string, Invoker>* invokers) {
  (*invokers)["AdminService.AddProgramVersion"] = {
      Effect::kAppends, [this](const Cell& cell) {
        pb::AddProgramVersionRequest request;
        request.set_request_id(RequestId(cell));
        *request.mutable_version() = ProgramSpec(absl::StrCat("m", cell.index));
        return Unary(*admin_stub_, &pb::AdminService::Stub::AddProgramVersion,
                     cell, request);
      }};
  (*invokers)["AdminService.GetProgram"] = {
      Effect::kReads, [this](const Cell& cell) {
        pb::GetProgramRequest request;
        request.set_program_id(kProgram);
        return Unary(*admin_stub_, &pb::AdminService::Stub::GetProgram, cell,
                     request);
      }};
  (*invokers)["AdminService.ListPrograms"] = {
      Effect::kReads, [this](const Cell& cell) {
        return Unary(*admin_stub_, &pb::AdminService::Stub::ListPrograms, cell,
                     pb::ListProgramsRequest());
      }};
  (*invokers)["AdminService.RegisterParty"] = {
      Effect::kAppends, [this](const Cell& cell) {
        pb::RegisterPartyRequest request;
        request.set_request_id(RequestId(cell));
        request.set_role(pb::BRAND);
        request.set_party_id(absl::StrCat("r", cell.index));
        request.set_name(absl::StrCat("Party r", cell.index));
        return Unary(*admin_stub_, &pb::AdminService::Stub::RegisterParty, cell,
                     request);
      }};
  (*invokers)["AdminService.ListParties"] = {
      Effect::kReads, [this](const Cell& cell) {
        return Unary(*admin_stub_, &pb::AdminService::Stub::ListParties, cell,
                     pb::ListPartiesRequest());
      }};
  // A brand or supplier asks to change its own token, or the other party's;
  // the admin rotates b9's.
  (*invokers)["AdminService.ChangePartyToken"] = {
      Effect::kAppends, [this](const Cell& cell) {
        pb::ChangePartyTokenRequest request;
        request.set_request_id(RequestId(cell));
        const bool supplier = cell.caller == Caller::kSupplierOwn ||
                              cell.caller == Caller::kSupplierOther;
        request.set_party_id(cell.caller == Caller::kAdmin ? "b9"
                             : supplier ? cell.resources->supplier_id
                                        : cell.resources->brand_id);
        request.set_reason("matrix");
        return Unary(*admin_stub_, &pb::AdminService::Stub::ChangePartyToken,
                     cell, request);
      }};
}

void AuthorizationMatrixTest::AddAuditInvokers(
    std::map<std::string, Invoker>* invokers) {
  (*invokers)["AuditService.Reconcile"] = {
      Effect::kReads, [this](const Cell& cell) {
        return Unary(*audit_stub_, &pb::AuditService::Stub::Reconcile, cell,
                     pb::ReconcileRequest());
      }};
  (*invokers)["AuditService.Summarize"] = {
      Effect::kReads, [this](const Cell& cell) {
        return Unary(*audit_stub_, &pb::AuditService::Stub::Summarize, cell,
                     pb::SummarizeRequest());
      }};
  (*invokers)["AuditService.ResolveDiscrepancy"] = {
      Effect::kAppends, [this](const Cell& cell) {
        pb::ResolveDiscrepancyRequest request;
        request.set_request_id(RequestId(cell));
        request.set_discrepancy_id(discrepancy_id_);
        request.set_note("checked in the matrix");
        return Unary(*audit_stub_, &pb::AuditService::Stub::ResolveDiscrepancy,
                     cell, request);
      }};
  // Only the auditor's cells succeed: s1 is suspended from 03-01 until
  // reinstated from 03-10.
  (*invokers)["AuditService.SuspendSupplier"] = {
      Effect::kAppends, [this](const Cell& cell) {
        pb::SuspendSupplierRequest request;
        request.set_request_id(RequestId(cell));
        request.set_program_id(kProgram);
        request.set_supplier_id(cell.resources->supplier_id);
        request.set_from_date("2025-03-01");
        request.set_reason("matrix");
        return Unary(*audit_stub_, &pb::AuditService::Stub::SuspendSupplier,
                     cell, request);
      }};
  (*invokers)["AuditService.ReinstateSupplier"] = {
      Effect::kAppends, [this](const Cell& cell) {
        pb::ReinstateSupplierRequest request;
        request.set_request_id(RequestId(cell));
        request.set_program_id(kProgram);
        request.set_supplier_id(cell.resources->supplier_id);
        request.set_effective_date("2025-03-10");
        request.set_reason("matrix");
        return Unary(*audit_stub_, &pb::AuditService::Stub::ReinstateSupplier,
                     cell, request);
      }};
}

// A brand's uploads: on its own resources a new file under a new request id;
// on b2's, b2's request id and business id, which are b1's to use too (both
// are scoped to the brand), so the upload must append b1's new record, not
// replay b2's receipt or be refused as b2's duplicate.
void AuthorizationMatrixTest::AddBrandInvokers(
    std::map<std::string, Invoker>* invokers) {
  (*invokers)["BrandService.SubmitPurchases"] = {
      Effect::kAppends, [this](const Cell& cell) {
        const Resources& r = *cell.resources;
        const std::string invoice =
            cell.other ? r.invoice_id : absl::StrCat("inv-m", cell.index);
        return Upload(*brand_stub_, &pb::BrandService::Stub::SubmitPurchases,
                      cell,
                      absl::StrCat(kPurchasesHeader, invoice, ",",
                                   r.supplier_id, ",p1,2025-02-03,100,lb\n"),
                      cell.other ? r.purchases_request_id : RequestId(cell));
      }};
  (*invokers)["BrandService.SubmitPayments"] = {
      Effect::kAppends, [this](const Cell& cell) {
        const Resources& r = *cell.resources;
        const std::string payment =
            cell.other ? r.payment_id : absl::StrCat("pay-m", cell.index);
        return Upload(*brand_stub_, &pb::BrandService::Stub::SubmitPayments,
                      cell,
                      absl::StrCat(kPaymentsHeader, payment, ",", r.supplier_id,
                                   ",p1,2025-02-03,1.00,USD\n"),
                      cell.other ? r.payments_request_id : RequestId(cell));
      }};
  (*invokers)["BrandService.GetSupplierStanding"] = {
      Effect::kReads, [this](const Cell& cell) {
        pb::GetSupplierStandingRequest request;
        request.set_program_id(kProgram);
        request.set_supplier_id(cell.resources->supplier_id);
        return Unary(*brand_stub_, &pb::BrandService::Stub::GetSupplierStanding,
                     cell, request);
      }};
  // On b2's resources: a page token just before b2's first record, as if
  // paging could step into b2's list.
  (*invokers)["BrandService.ListPurchases"] = {
      Effect::kReads, [this](const Cell& cell) {
        pb::ListOwnRecordsRequest request;
        if (cell.other) {
          request.set_page_token(PageTokenBefore(cell.resources->purchase_seq));
        }
        return Unary(*brand_stub_, &pb::BrandService::Stub::ListPurchases, cell,
                     request);
      }};
  (*invokers)["BrandService.ListPayments"] = {
      Effect::kReads, [this](const Cell& cell) {
        pb::ListOwnRecordsRequest request;
        if (cell.other) {
          request.set_page_token(PageTokenBefore(cell.resources->payment_seq));
        }
        return Unary(*brand_stub_, &pb::BrandService::Stub::ListPayments, cell,
                     request);
      }};
}

void AuthorizationMatrixTest::AddSupplierAndWorkerInvokers(
    std::map<std::string, Invoker>* invokers) {
  // On s2's resources, s2's request id: s1's upload under it is s1's own.
  (*invokers)["SupplierService.UploadPayroll"] = {
      Effect::kAppends, [this](const Cell& cell) {
        return Upload(
            *supplier_stub_, &pb::SupplierService::Stub::UploadPayroll, cell,
            absl::StrCat(kPayrollHeader, "p1,wm", cell.index,
                         ",2025-02-01,2025-02-07,2025-02-10,40,600.00,4.00,"
                         "USD\n"),
            cell.other ? cell.resources->payroll_request_id : RequestId(cell));
      }};
  (*invokers)["SupplierService.ListPaystubCodes"] = {
      Effect::kReads, [this](const Cell& cell) {
        pb::ListPaystubCodesRequest request;
        request.set_first_seq(cell.resources->payroll_first_seq);
        return Unary(*supplier_stub_,
                     &pb::SupplierService::Stub::ListPaystubCodes, cell,
                     request);
      }};
  (*invokers)["SupplierService.ListPayrollLines"] = {
      Effect::kReads, [this](const Cell& cell) {
        pb::ListOwnRecordsRequest request;
        if (cell.other) {
          request.set_page_token(
              PageTokenBefore(cell.resources->payroll_first_seq));
        }
        return Unary(*supplier_stub_,
                     &pb::SupplierService::Stub::ListPayrollLines, cell,
                     request);
      }};
  (*invokers)["SupplierService.ListPaymentsReceived"] = {
      Effect::kReads, [this](const Cell& cell) {
        pb::ListOwnRecordsRequest request;
        if (cell.other) {
          request.set_page_token(
              PageTokenBefore(cell.resources->received_payment_seq));
        }
        return Unary(*supplier_stub_,
                     &pb::SupplierService::Stub::ListPaymentsReceived, cell,
                     request);
      }};
  const auto code = [this](const Cell& cell) {
    return cell.caller == Caller::kGuessedCode ? std::string(kGuessedCode)
                                               : worker_code_;
  };
  (*invokers)["WorkerService.LookupCode"] = {
      Effect::kReads, [this, code](const Cell& cell) {
        pb::LookupCodeRequest request;
        request.set_code(code(cell));
        return Unary(*worker_stub_, &pb::WorkerService::Stub::LookupCode, cell,
                     request);
      }};
  // Each cell disputes with its own note, so none is a retry of another.
  (*invokers)["WorkerService.DisputeLine"] = {
      Effect::kAppends, [this, code](const Cell& cell) {
        pb::DisputeLineRequest request;
        request.set_code(code(cell));
        request.set_paystub_amount("1.00");
        request.set_note(absl::StrCat("matrix cell ", cell.index));
        return Unary(*worker_stub_, &pb::WorkerService::Stub::DisputeLine, cell,
                     request);
      }};
}

// The raw ledger calls. What the front services append is a worker's dispute
// of w1's line, as WorkerService forwards it.
void AuthorizationMatrixTest::AddLedgerInvokers(
    std::map<std::string, Invoker>* invokers) {
  (*invokers)["LedgerService.Append"] = {
      Effect::kAppends, [this](const Cell& cell) {
        pb::AppendRequest request;
        request.set_actor(kWorkerActor);
        request.set_idempotency_key(RequestId(cell));
        pb::AppendEntry* entry = request.add_entries();
        entry->set_kind(kWorkerDisputeKind);
        entry->set_payload(DisputePayload(cell));
        return Unary(*ledger_stub_, &pb::LedgerService::Stub::Append, cell,
                     request);
      }};
  (*invokers)["LedgerService.AppendStream"] = {
      Effect::kAppends, [this](const Cell& cell) {
        auto response = std::make_unique<pb::AppendResponse>();
        std::unique_ptr<grpc::ClientContext> context =
            Context(cell.authorization);
        std::unique_ptr<grpc::ClientWriter<pb::AppendStreamMessage>> writer =
            ledger_stub_->AppendStream(context.get(), response.get());
        pb::AppendStreamMessage header;
        header.mutable_header()->set_actor(kWorkerActor);
        header.mutable_header()->set_idempotency_key(RequestId(cell));
        header.mutable_header()->set_entry_count(1);
        pb::AppendStreamMessage batch;
        pb::AppendEntry* entry = batch.mutable_batch()->add_entries();
        entry->set_kind(kWorkerDisputeKind);
        entry->set_payload(DisputePayload(cell));
        // The server may end a refused call before reading anything.
        if (writer->Write(header) && writer->Write(batch)) writer->WritesDone();
        CallResult result;
        result.status = writer->Finish();
        result.response = std::move(response);
        return result;
      }};
  (*invokers)["LedgerService.ReadEntries"] = {
      Effect::kReads, [this](const Cell& cell) {
        pb::ReadEntriesRequest request;
        request.set_begin_seq(0);
        request.set_end_seq(3);
        return Unary(*ledger_stub_, &pb::LedgerService::Stub::ReadEntries, cell,
                     request);
      }};
  (*invokers)["LedgerService.FindEntries"] = {
      Effect::kReads, [this](const Cell& cell) {
        pb::FindEntriesRequest request;
        request.set_unique_key(PartyKey(cell.resources->brand_id));
        return Unary(*ledger_stub_, &pb::LedgerService::Stub::FindEntries, cell,
                     request);
      }};
  // A tail never ends by itself: an allowed one is cancelled after its
  // first message, and counts as OK.
  (*invokers)["LedgerService.TailEntries"] = {
      Effect::kReads, [this](const Cell& cell) {
        auto response = std::make_unique<pb::TailEntriesResponse>();
        std::unique_ptr<grpc::ClientContext> context =
            Context(cell.authorization);
        pb::TailEntriesRequest request;
        request.set_from_seq(0);
        std::unique_ptr<grpc::ClientReader<pb::TailEntriesResponse>> reader =
            ledger_stub_->TailEntries(context.get(), request);
        CallResult result;
        if (reader->Read(response.get())) {
          context->TryCancel();
          pb::TailEntriesResponse ignored;
          while (reader->Read(&ignored)) {
          }
          // CANCELLED: the test's own doing.
          reader->Finish();
          result.status = grpc::Status::OK;
        } else {
          result.status = reader->Finish();
        }
        result.response = std::move(response);
        return result;
      }};
  (*invokers)["LedgerService.GetCheckpoint"] = {
      Effect::kReads, [this](const Cell& cell) {
        return Unary(*ledger_stub_, &pb::LedgerService::Stub::GetCheckpoint,
                     cell, pb::GetCheckpointRequest());
      }};
  (*invokers)["LedgerService.GetInclusionProof"] = {
      Effect::kReads, [this](const Cell& cell) {
        pb::GetInclusionProofRequest request;
        request.set_leaf_index(0);
        return Unary(*ledger_stub_, &pb::LedgerService::Stub::GetInclusionProof,
                     cell, request);
      }};
  (*invokers)["LedgerService.GetConsistencyProof"] = {
      Effect::kReads, [this](const Cell& cell) {
        pb::GetConsistencyProofRequest request;
        request.set_old_size(1);
        return Unary(*ledger_stub_,
                     &pb::LedgerService::Stub::GetConsistencyProof, cell,
                     request);
      }};
}

std::map<std::string, Invoker> AuthorizationMatrixTest::Invokers() {
  std::map<std::string, Invoker> invokers;
  AddAdminInvokers(&invokers);
  AddAuditInvokers(&invokers);
  AddBrandInvokers(&invokers);
  AddSupplierAndWorkerInvokers(&invokers);
  AddLedgerInvokers(&invokers);
  return invokers;
}

// ---------------------------------------------------------------------------
// The matrix.

TEST_F(AuthorizationMatrixTest, EveryRpcByEveryCallerGetsTheTablesAnswer) {
  const std::vector<const protobuf::MethodDescriptor*> methods =
      PackageMethods();
  ASSERT_FALSE(methods.empty());
  const std::map<std::string, std::string> matrix = ParsedMatrix();
  const std::map<std::string, Invoker> invokers = Invokers();
  std::set<std::string> called;
  std::vector<std::string> printed;
  int cells = 0;
  for (const protobuf::MethodDescriptor* method : methods) {
    const std::string rpc = RpcName(*method);
    const auto row = matrix.find(rpc);
    const auto invoker = invokers.find(rpc);
    if (row == matrix.end() || invoker == invokers.end()) {
      ADD_FAILURE() << rpc
                    << (row == matrix.end() ? " has no row in kMatrix"
                                            : " has no invoker");
      continue;
    }
    if (row->second.size() != kCallerCount) continue;  // reported by parsing
    called.insert(rpc);
    std::string letters;
    for (size_t i = 0; i < kCallerCount; ++i) {
      const Cell cell = MakeCell(*method, kCallers[i], cells++);
      letters.push_back(' ');
      letters.push_back(RunCell(cell, row->second[i], invoker->second));
    }
    printed.push_back(absl::StrFormat("%-38s%s", rpc, letters));
  }
  for (const auto& [rpc, invoker] : invokers) {
    EXPECT_TRUE(called.contains(rpc) || !matrix.contains(rpc))
        << rpc << " was not called";
    EXPECT_TRUE(matrix.contains(rpc))
        << "an invoker for " << rpc << ", which has no row in kMatrix";
  }
  std::printf(
      "Authorization matrix as observed (columns in kMatrix's order):\n%s\n"
      "Authorization matrix: %zu RPCs x %zu callers = %d cells checked\n",
      absl::StrJoin(printed, "\n").c_str(), called.size(), kCallerCount, cells);
  RecordProperty("matrix_rpcs", static_cast<int>(called.size()));
  RecordProperty("matrix_callers", static_cast<int>(kCallerCount));
  RecordProperty("matrix_cells", cells);
}

// ---------------------------------------------------------------------------
// Guessing paystub codes.
//
// Already covered in services/supplier_worker_service_test.cc, and not
// repeated here: ten failed LookupCode calls (unknown or malformed codes)
// from one address make the next lookup RESOURCE_EXHAUSTED even for a valid
// code, and a dispute too, until the window ends
// (TenFailedLookupsLimitTheAddressUntilTheWindowEnds); valid lookups, fifty
// back to back, are never limited nor reset the count
// (ValidLookupsAreNeverLimited); and the limiter's own rules in
// services/rate_limiter_test.cc. What those leave out: guesses made through
// DisputeLine, which could otherwise probe codes without limit, and the
// limit as premiumd wires it (PremiumServices: the default options).
TEST_F(AuthorizationMatrixTest, GuessesThroughLookupAndDisputeShareOneLimit) {
  const int limit = FailureLimitOptions().failures_per_window;
  ASSERT_EQ(limit, 10);
  pb::WorkerLookup lookup;
  pb::DisputeLineResponse dispute;
  const auto look_up = [&](const std::string& code,
                           const std::string& authorization = "") {
    pb::LookupCodeRequest request;
    request.set_code(code);
    return worker_stub_->LookupCode(Context(authorization).get(), request,
                                    &lookup);
  };
  const auto dispute_line = [&](const std::string& code) {
    pb::DisputeLineRequest request;
    request.set_code(code);
    request.set_paystub_amount("1.00");
    return worker_stub_->DisputeLine(Context().get(), request, &dispute);
  };
  ASSERT_THAT(look_up(worker_code_), GrpcOk());
  const uint64_t size_before = ledger_->size();
  // Half the guesses through each call.
  for (int i = 0; i < limit; ++i) {
    const std::string guess = absl::StrFormat("0000-0000-0000-%04d", i);
    EXPECT_THAT(i % 2 == 0 ? dispute_line(guess) : look_up(guess),
                GrpcIs(grpc::StatusCode::NOT_FOUND))
        << "guess " << i;
  }
  // The next call of either, with a valid code, is refused; a token (even
  // the admin's) does not lift the limit.
  EXPECT_THAT(look_up(worker_code_),
              GrpcIs(grpc::StatusCode::RESOURCE_EXHAUSTED));
  EXPECT_THAT(look_up(worker_code_, Bearer(admin_token_)),
              GrpcIs(grpc::StatusCode::RESOURCE_EXHAUSTED));
  EXPECT_THAT(dispute_line(worker_code_),
              GrpcIs(grpc::StatusCode::RESOURCE_EXHAUSTED));
  EXPECT_EQ(ledger_->size(), size_before);
}

}  // namespace
}  // namespace premium
