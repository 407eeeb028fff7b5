// A lying server (issue 6): a client that verifies what a server tells it
// must reject a wrong root, a truncated or padded proof, another tree's
// proof, a checkpoint signed by another key or naming another origin, a
// history rewritten after a checkpoint the client holds, a ledger that
// shrank, and malformed hashes, and must accept the honest answer.
//
// The server is fake: a LedgerService and a WorkerService implemented here,
// answering from a real test ledger (wired as premiumd wires it) and then
// lying as told. What it tells is checked twice: by premiumctl, run as a
// child process as a user runs it, and by the library functions premiumctl
// calls (clients/verify_answers.h), on the same answers fetched in process.
//
// The histories:
//
//   ledger   [ shared prefix: admin, program, supplier, 3 payroll lines ]
//            [ dispute "held" ]  <- held.json, the checkpoint the client holds
//            [ dispute "after" ]  <- the honest answers' tree
//   fork     [ shared prefix ] [ 3 other disputes ]: a copy of the ledger's
//            data directory, key and all, taken before the histories
//            diverged: a history rewritten after held.json, signed by the
//            ledger's own key
//   another  an unrelated tree, built in memory (AnotherTreeNode), and
//            another key
//
// The line looked up is in the shared prefix, so the fork's answer about it
// is self-consistent and signed by the ledger's key: only a held checkpoint
// and a consistency proof tell that history was rewritten.
//
// Single-field tampering of a lookup's line (amounts, dates, ids, another
// worker's answer) is in services/supplier_worker_service_test.cc
// (PremiumctlRefusesALineThatIsNotTheProvenOne).
#include <grpcpp/grpcpp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "clients/checkpoint_json.h"
#include "clients/verify_answers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/checkpoint/checkpoint.h"
#include "ledger/ledger.h"
#include "ledger/merkle/compact_range.h"
#include "ledger/merkle/hasher.h"
#include "ledger/merkle/proof.h"
#include "ledger/testing/child_process.h"
#include "ledger/testing/ledger_testing.h"
#include "services/ledger_client.h"
#include "services/ledger_service.h"
#include "services/testing/service_testing.h"
#include "services/worker_service.h"
#include "wsr/premium/v1/admin.grpc.pb.h"
#include "wsr/premium/v1/ledger.grpc.pb.h"
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
using ::premium::testing::GrpcOk;
using ::premium::testing::IsOk;
using ::premium::testing::RunCommand;
using ::premium::testing::StatusIs;
using ::premium::testing::WriteFileOrDie;
using ::testing::AllOf;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPayroll[] =
    "program_id,worker_id,period_start,period_end,pay_date,hours,gross_wages,"
    "premium_amount,currency\n"
    "ffp,w1,2025-01-06,2025-01-12,2025-01-17,40.5,607.50,12.15,USD\n"
    "ffp,w2,2025-01-06,2025-01-12,2025-01-17,38,570.00,11.40,USD\n"
    "ffp,w1,2025-01-13,2025-01-19,2025-01-24,42.25,633.75,12.68,USD\n";

// ---------------------------------------------------------------------------
// The fake server.

// One ledger's honest answers, from the services premiumd serves.
struct HonestAnswers {
  explicit HonestAnswers(Ledger* ledger)
      : client(NewInProcessLedgerClient(ledger)),
        // Checkpoints and proofs need no token.
        ledger_service(ledger, merkle::Hash{}),
        worker_service(client.get()) {}

  std::unique_ptr<LedgerClient> client;
  LedgerServiceImpl ledger_service;
  WorkerServiceImpl worker_service;
};

// What the server answers from, and what it changes before it answers.
// A null function leaves that answer as it is.
struct Lie {
  HonestAnswers* source = nullptr;
  std::function<void(pb::WorkerLookup&)> lookup;
  // GetCheckpoint's checkpoint.
  std::function<void(pb::Checkpoint&)> checkpoint;
  std::function<void(pb::GetConsistencyProofResponse&)> consistency_proof;
};

// A LedgerService and a WorkerService that answer as the Lie they were last
// told says. Thread-safe.
class LyingServer {
 public:
  explicit LyingServer(Lie lie) : lie_(std::move(lie)) {}

  void Tell(Lie lie) {
    absl::MutexLock lock(&mu_);
    lie_ = std::move(lie);
  }

  std::vector<grpc::Service*> services() { return {&ledger_, &worker_}; }

 private:
  Lie lie() const {
    absl::MutexLock lock(&mu_);
    return lie_;
  }

  class LedgerAnswers final : public pb::LedgerService::Service {
   public:
    explicit LedgerAnswers(const LyingServer* server) : server_(server) {}

    grpc::Status GetCheckpoint(grpc::ServerContext* context,
                               const pb::GetCheckpointRequest* request,
                               pb::GetCheckpointResponse* response) override {
      const Lie lie = server_->lie();
      const grpc::Status status =
          lie.source->ledger_service.GetCheckpoint(context, request, response);
      if (status.ok() && lie.checkpoint) {
        lie.checkpoint(*response->mutable_checkpoint());
      }
      return status;
    }

    grpc::Status GetConsistencyProof(
        grpc::ServerContext* context,
        const pb::GetConsistencyProofRequest* request,
        pb::GetConsistencyProofResponse* response) override {
      const Lie lie = server_->lie();
      const grpc::Status status =
          lie.source->ledger_service.GetConsistencyProof(context, request,
                                                         response);
      if (status.ok() && lie.consistency_proof)
        lie.consistency_proof(*response);
      return status;
    }

   private:
    const LyingServer* const server_;
  };

  class WorkerAnswers final : public pb::WorkerService::Service {
   public:
    explicit WorkerAnswers(const LyingServer* server) : server_(server) {}

    grpc::Status LookupCode(grpc::ServerContext* context,
                            const pb::LookupCodeRequest* request,
                            pb::WorkerLookup* response) override {
      const Lie lie = server_->lie();
      const grpc::Status status =
          lie.source->worker_service.LookupCode(context, request, response);
      if (status.ok() && lie.lookup) lie.lookup(*response);
      return status;
    }

   private:
    const LyingServer* const server_;
  };

  mutable absl::Mutex mu_;
  Lie lie_ ABSL_GUARDED_BY(mu_);
  LedgerAnswers ledger_{this};
  WorkerAnswers worker_{this};
};

// ---------------------------------------------------------------------------
// The pieces lies are made of.

// The body rebuilt from the fields, so that what fails is the signature, not
// the body's match with its fields. The root must be 32 bytes.
void Rebody(pb::Checkpoint& checkpoint) {
  Checkpoint fields{checkpoint.origin(), checkpoint.tree_size(), {}};
  fields.root_hash = *merkle::HashFromBytes(checkpoint.root_hash());
  checkpoint.set_body(CheckpointBody(fields));
}

// Signed, validly, by `signer`, which it names.
void Resign(pb::Checkpoint& checkpoint, const CheckpointSigner& signer) {
  Rebody(checkpoint);
  checkpoint.set_signature(*signer.Sign(checkpoint.body()));
  checkpoint.set_public_key_pem(signer.public_key_pem());
}

void FlipRootBit(pb::Checkpoint& checkpoint) {
  std::string root = checkpoint.root_hash();
  root[7] ^= 0x10;
  checkpoint.set_root_hash(root);
}

// The checkpoint `ledger` signed at `tree_size`, as LedgerService sends it.
absl::StatusOr<pb::Checkpoint> CheckpointOf(const Ledger& ledger,
                                            uint64_t tree_size) {
  absl::StatusOr<SignedCheckpoint> signed_checkpoint =
      ledger.CheckpointAt(tree_size);
  if (!signed_checkpoint.ok()) return signed_checkpoint.status();
  pb::Checkpoint checkpoint;
  ToProto(*signed_checkpoint, ledger.verifier().public_key_pem(), &checkpoint);
  return checkpoint;
}

void SetHashes(const absl::StatusOr<std::vector<merkle::Hash>>& hashes,
               google::protobuf::RepeatedPtrField<std::string>* out) {
  ASSERT_THAT(hashes, IsOk());
  out->Clear();
  for (const merkle::Hash& hash : *hashes) {
    out->Add(std::string(merkle::HashBytes(hash)));
  }
}

void Truncate(google::protobuf::RepeatedPtrField<std::string>* hashes) {
  hashes->RemoveLast();
}
void PadAtEnd(google::protobuf::RepeatedPtrField<std::string>* hashes) {
  hashes->Add(std::string(merkle::kHashBytes, '\x5a'));
}
void PadAtFront(google::protobuf::RepeatedPtrField<std::string>* hashes) {
  hashes->Add(std::string(merkle::kHashBytes, '\x5a'));
  for (int i = hashes->size() - 1; i > 0; --i) hashes->SwapElements(i, i - 1);
}
void ShortenFirst(google::protobuf::RepeatedPtrField<std::string>* hashes) {
  hashes->Mutable(0)->pop_back();
}

// The node `node` of another tree, unrelated to any ledger here: its leaf i
// is "another tree, leaf i".
merkle::Hash AnotherTreeNode(merkle::NodeId node) {
  if (node.level == 0) {
    return merkle::HashLeaf(absl::StrCat("another tree, leaf ", node.index));
  }
  return merkle::HashChildren(
      AnotherTreeNode({node.level - 1, 2 * node.index}),
      AnotherTreeNode({node.level - 1, 2 * node.index + 1}));
}

// Valid proofs in that tree.
absl::StatusOr<std::vector<merkle::Hash>> AnotherTreeProof(
    const absl::StatusOr<std::vector<merkle::ProofElement>>& plan) {
  if (!plan.ok()) return plan.status();
  return merkle::ResolveProof(
      *plan, [](merkle::NodeId node) -> absl::StatusOr<merkle::Hash> {
        return AnotherTreeNode(node);
      });
}

// ---------------------------------------------------------------------------
// What the client trusts.

enum class Anchor { kNone, kPublicKey, kCheckpoint };
constexpr Anchor kAnchors[] = {Anchor::kNone, Anchor::kPublicKey,
                               Anchor::kCheckpoint};

std::string AnchorName(Anchor anchor) {
  switch (anchor) {
    case Anchor::kNone:
      return "no anchor";
    case Anchor::kPublicKey:
      return "--public-key";
    case Anchor::kCheckpoint:
      return "--checkpoint";
  }
  return "?";
}

// A lie about a lookup, and how it must be refused.
struct LookupCase {
  std::string name;
  Lie lie;
  // In the error, with every anchor...
  std::string message;
  // ...but this one without an anchor, if set.
  std::string unanchored_message;
  // The anchors that cannot tell (documented limits): the lookup is
  // believed, and must be, since it is a valid answer of some ledger.
  std::set<Anchor> believed_with;

  const std::string& MessageWith(Anchor anchor) const {
    return anchor == Anchor::kNone && !unanchored_message.empty()
               ? unanchored_message
               : message;
  }
};

// A lie about a checkpoint and a consistency proof.
struct ConsistencyCase {
  std::string name;
  Lie lie;
  std::string message;
};

class LyingServerTest : public testing::PremiumServicesTest {
 protected:
  LyingServerTest()
      : PremiumServicesTest(absl::CivilDay(2025, 2, 3),
                            absl::FromCivil(absl::CivilSecond(2025, 2, 3, 9),
                                            absl::UTCTimeZone())) {}

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(PremiumServicesTest::SetUp());
    ASSERT_NO_FATAL_FAILURE(UploadPayroll());
    shared_size_ = ledger_->size();

    // The fork: the data directory as it is now, signing key included.
    StopAll();
    std::error_code error;
    std::filesystem::copy(data_dir(), dir_.Sub("fork"),
                          std::filesystem::copy_options::recursive, error);
    ASSERT_FALSE(error) << error.message();
    // Only the lying server serves from here on.
    ASSERT_NO_FATAL_FAILURE(OpenLedger());
    PL_ASSERT_OK_AND_ASSIGN(fork_,
                            testing::OpenTestLedger(dir_.Sub("fork"), &indexer_,
                                                    clock_.AsFunction()));

    ASSERT_NO_FATAL_FAILURE(AppendDispute(*ledger_, "held"));
    PL_ASSERT_OK_AND_ASSIGN(held_, CheckpointOf(*ledger_, ledger_->size()));
    held_path_ = dir_.Sub("held.json");
    WriteFileOrDie(held_path_, CheckpointToJson(held_).dump(2));
    ASSERT_NO_FATAL_FAILURE(AppendDispute(*ledger_, "after"));
    for (const char* note : {"rewritten-1", "rewritten-2", "rewritten-3"}) {
      ASSERT_NO_FATAL_FAILURE(AppendDispute(*fork_, note));
    }
    ASSERT_EQ(held_.tree_size(), shared_size_ + 1);
    ASSERT_EQ(ledger_->size(), shared_size_ + 2);
    ASSERT_EQ(fork_->size(), shared_size_ + 3);
    // What the lies below answer with.
    PL_ASSERT_OK_AND_ASSIGN(shrunk_, CheckpointOf(*ledger_, shared_size_));
    PL_ASSERT_OK_AND_ASSIGN(fork_at_held_,
                            CheckpointOf(*fork_, held_.tree_size()));

    PL_ASSERT_OK_AND_ASSIGN(other_key_,
                            CheckpointSigner::CreateInDirectory(dir_.path()));
    // A lying server may hold the ledger's own key.
    PL_ASSERT_OK_AND_ASSIGN(ledger_key_,
                            CheckpointSigner::LoadFromDirectory(data_dir()));
    public_key_path_ =
        absl::StrCat(data_dir(), "/", CheckpointSigner::kPublicKeyFile);

    honest_ = std::make_unique<HonestAnswers>(ledger_.get());
    fork_answers_ = std::make_unique<HonestAnswers>(fork_.get());
    lying_ = std::make_unique<LyingServer>(Honest());
    lying_server_ = testing::StartLocalServer(lying_->services(), &address_);
    ASSERT_NE(lying_server_, nullptr);
    lying_channel_ =
        grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
    ledger_stub_ = pb::LedgerService::NewStub(lying_channel_);
    worker_stub_of_liar_ = pb::WorkerService::NewStub(lying_channel_);

    PL_ASSERT_OK_AND_ASSIGN(key_anchor_, ReadPublicKeyAnchor(public_key_path_));
    PL_ASSERT_OK_AND_ASSIGN(held_anchor_, ReadCheckpointAnchor(held_path_));
  }

  void TearDown() override {
    ledger_stub_.reset();
    worker_stub_of_liar_.reset();
    lying_channel_.reset();
    testing::StopLocalServer(&lying_server_);
    PremiumServicesTest::TearDown();
  }

  // Program ffp, supplier s1 and kPayroll uploaded by s1: sets codes_ and
  // seq_, the entry of the line of codes_[0].
  void UploadPayroll() {
    pb::AddProgramVersionRequest program;
    program.set_request_id("program-ffp");
    pb::ProgramVersionSpec& spec = *program.mutable_version();
    spec.set_program_id("ffp");
    spec.set_name("Fair Food Program");
    spec.set_currency("USD");
    spec.set_unit("lb");
    spec.set_worker_rate("0.01");
    spec.set_effective_date("2025-01-01");
    pb::Program added;
    ASSERT_THAT(admin_stub_->AddProgramVersion(
                    Context(Bearer(admin_token_)).get(), program, &added),
                GrpcOk());
    const std::string supplier = RegisterOrDie(pb::SUPPLIER, "s1");
    pb::UploadPayrollResponse response;
    auto context = Context(Bearer(supplier));
    std::unique_ptr<grpc::ClientWriter<pb::UploadChunk>> writer =
        supplier_stub_->UploadPayroll(context.get(), &response);
    ASSERT_THAT(testing::StreamUpload(writer.get(), kPayroll), GrpcOk());
    ASSERT_EQ(response.codes_size(), 3);
    for (const pb::PaystubCode& code : response.codes()) {
      codes_.push_back(code.code());
    }
    seq_ = ledger_->size() - 3;
  }

  // A worker's dispute of the line `seq_`, appended straight to `ledger`:
  // what makes the histories differ.
  void AppendDispute(Ledger& ledger, const std::string& note) {
    pb::WorkerDispute dispute;
    dispute.set_line_seq(seq_);
    dispute.set_supplier_id("s1");
    dispute.set_program_id("ffp");
    dispute.set_worker_id("w1");
    dispute.set_period_start("2025-01-06");
    dispute.set_period_end("2025-01-12");
    dispute.set_paystub_amount_micros(1'000'000);
    dispute.set_note(note);
    PL_ASSERT_OK(ledger
                     .Append(testing::MakeRequest(
                         "worker:w1", absl::StrCat("dispute-", note),
                         {{pb::WorkerDispute::descriptor()->full_name(),
                           dispute.SerializeAsString()}}))
                     .status());
  }

  Lie Honest() const { return Lie{honest_.get(), nullptr, nullptr, nullptr}; }
  Lie FromFork() const {
    return Lie{fork_answers_.get(), nullptr, nullptr, nullptr};
  }
  Lie LookupLie(std::function<void(pb::WorkerLookup&)> lookup) const {
    Lie lie = Honest();
    lie.lookup = std::move(lookup);
    return lie;
  }
  Lie CheckpointLie(std::function<void(pb::Checkpoint&)> checkpoint) const {
    Lie lie = Honest();
    lie.checkpoint = std::move(checkpoint);
    return lie;
  }
  Lie ProofLie(
      std::function<void(pb::GetConsistencyProofResponse&)> proof) const {
    Lie lie = Honest();
    lie.consistency_proof = std::move(proof);
    return lie;
  }

  const TrustAnchor* TrustFor(Anchor anchor) const {
    switch (anchor) {
      case Anchor::kNone:
        return nullptr;
      case Anchor::kPublicKey:
        return &key_anchor_;
      case Anchor::kCheckpoint:
        return &held_anchor_;
    }
    return nullptr;
  }

  std::vector<std::string> AnchorFlags(Anchor anchor) const {
    switch (anchor) {
      case Anchor::kNone:
        return {};
      case Anchor::kPublicKey:
        return {"--public-key", public_key_path_};
      case Anchor::kCheckpoint:
        return {"--checkpoint", held_path_};
    }
    return {};
  }

  // "the consistency proof from OLD to NEW does not verify".
  static std::string ProofFails(uint64_t old_size, uint64_t new_size) {
    return absl::StrCat("consistency proof from ", old_size, " to ", new_size,
                        " does not verify");
  }

  // The lies about a lookup of codes_[0]; the honest answer is of the tree
  // of size shared_size_ + 2, the checkpoint held of shared_size_ + 1.
  std::vector<LookupCase> LookupCases() const {
    const uint64_t size = ledger_->size();
    const uint64_t held_size = held_.tree_size();
    const Ledger* ledger = ledger_.get();
    const Ledger* fork = fork_.get();
    const CheckpointSigner* other_key = other_key_.get();
    const CheckpointSigner* ledger_key = ledger_key_.get();
    const uint64_t shared_size = shared_size_;
    const uint64_t seq = seq_;
    const pb::Checkpoint shrunk = shrunk_;
    const std::set<Anchor> without_held = {Anchor::kNone, Anchor::kPublicKey};
    std::vector<LookupCase> cases;
    cases.push_back({"wrong root", LookupLie([](pb::WorkerLookup& lookup) {
                       FlipRootBit(*lookup.mutable_checkpoint());
                       Rebody(*lookup.mutable_checkpoint());
                     }),
                     "signature does not verify"});
    cases.push_back({"wrong root, re-signed with another key",
                     LookupLie([other_key](pb::WorkerLookup& lookup) {
                       FlipRootBit(*lookup.mutable_checkpoint());
                       Resign(*lookup.mutable_checkpoint(), *other_key);
                     }),
                     "signed by a key other than the trusted one",
                     "inclusion proof: root mismatch"});
    cases.push_back({"proof truncated", LookupLie([](pb::WorkerLookup& lookup) {
                       Truncate(
                           lookup.mutable_inclusion_proof()->mutable_hashes());
                     }),
                     "inclusion proof"});
    cases.push_back(
        {"proof padded at the end", LookupLie([](pb::WorkerLookup& lookup) {
           PadAtEnd(lookup.mutable_inclusion_proof()->mutable_hashes());
         }),
         "inclusion proof"});
    cases.push_back(
        {"proof padded at the front", LookupLie([](pb::WorkerLookup& lookup) {
           PadAtFront(lookup.mutable_inclusion_proof()->mutable_hashes());
         }),
         "inclusion proof"});
    cases.push_back(
        {"proof of the same leaf in another tree",
         LookupLie([seq, size](pb::WorkerLookup& lookup) {
           SetHashes(AnotherTreeProof(merkle::InclusionProofPlan(seq, size)),
                     lookup.mutable_inclusion_proof()->mutable_hashes());
         }),
         "inclusion proof: root mismatch"});
    cases.push_back({"proof of the same leaf in the fork's tree",
                     LookupLie([fork, seq, size](pb::WorkerLookup& lookup) {
                       SetHashes(
                           fork->InclusionProof(seq, size),
                           lookup.mutable_inclusion_proof()->mutable_hashes());
                     }),
                     "inclusion proof: root mismatch"});
    cases.push_back({"proof of another leaf of the same tree",
                     LookupLie([ledger, seq, size](pb::WorkerLookup& lookup) {
                       SetHashes(
                           ledger->InclusionProof(seq + 1, size),
                           lookup.mutable_inclusion_proof()->mutable_hashes());
                     }),
                     "inclusion proof: root mismatch"});
    cases.push_back(
        {"proof of another leaf, saying so",
         LookupLie([ledger, seq, size](pb::WorkerLookup& lookup) {
           lookup.mutable_inclusion_proof()->set_leaf_index(seq + 1);
           SetHashes(ledger->InclusionProof(seq + 1, size),
                     lookup.mutable_inclusion_proof()->mutable_hashes());
         }),
         "is not for this line and checkpoint"});
    cases.push_back(
        {"proof for a smaller tree than the checkpoint's",
         LookupLie([ledger, seq, size](pb::WorkerLookup& lookup) {
           lookup.mutable_inclusion_proof()->set_tree_size(size - 1);
           SetHashes(ledger->InclusionProof(seq, size - 1),
                     lookup.mutable_inclusion_proof()->mutable_hashes());
         }),
         "is not for this line and checkpoint"});
    cases.push_back({"proof for a smaller tree, claiming the checkpoint's size",
                     LookupLie([ledger, seq](pb::WorkerLookup& lookup) {
                       SetHashes(
                           ledger->InclusionProof(seq, seq + 1),
                           lookup.mutable_inclusion_proof()->mutable_hashes());
                     }),
                     "inclusion proof"});
    cases.push_back({"checkpoint signed by another key",
                     LookupLie([other_key](pb::WorkerLookup& lookup) {
                       Resign(*lookup.mutable_checkpoint(), *other_key);
                     }),
                     "signed by a key other than the trusted one",
                     "",
                     {Anchor::kNone}});
    cases.push_back({"checkpoint naming another key, signed by none",
                     LookupLie([other_key](pb::WorkerLookup& lookup) {
                       lookup.mutable_checkpoint()->set_public_key_pem(
                           other_key->public_key_pem());
                     }),
                     "signed by a key other than the trusted one",
                     "signature does not verify"});
    cases.push_back({"checkpoint whose origin differs",
                     LookupLie([](pb::WorkerLookup& lookup) {
                       lookup.mutable_checkpoint()->set_origin("evil.example");
                       Rebody(*lookup.mutable_checkpoint());
                     }),
                     "signature does not verify"});
    // Only a checkpoint held names the origin to expect.
    cases.push_back(
        {"checkpoint whose origin differs, re-signed with the ledger's key",
         LookupLie([ledger_key](pb::WorkerLookup& lookup) {
           lookup.mutable_checkpoint()->set_origin("evil.example");
           Resign(*lookup.mutable_checkpoint(), *ledger_key);
         }),
         "names another origin", "", without_held});
    cases.push_back({"history rewritten after the checkpoint held", FromFork(),
                     ProofFails(held_size, fork_->size()), "", without_held});
    cases.push_back(
        {"a ledger that shrank below the checkpoint held",
         LookupLie(
             [ledger, seq, shared_size, shrunk](pb::WorkerLookup& lookup) {
               *lookup.mutable_checkpoint() = shrunk;
               lookup.mutable_inclusion_proof()->set_tree_size(shared_size);
               SetHashes(ledger->InclusionProof(seq, shared_size),
                         lookup.mutable_inclusion_proof()->mutable_hashes());
             }),
         absl::StrCat("the ledger shrank from ", held_size, " to ", shared_size,
                      " entries"),
         "", without_held});
    cases.push_back({"consistency proof truncated",
                     ProofLie([](pb::GetConsistencyProofResponse& proof) {
                       Truncate(proof.mutable_hashes());
                     }),
                     ProofFails(held_size, size), "", without_held});
    cases.push_back({"consistency proof padded",
                     ProofLie([](pb::GetConsistencyProofResponse& proof) {
                       PadAtEnd(proof.mutable_hashes());
                     }),
                     ProofFails(held_size, size), "", without_held});
    cases.push_back({"malformed proof hash (31 bytes)",
                     LookupLie([](pb::WorkerLookup& lookup) {
                       ShortenFirst(
                           lookup.mutable_inclusion_proof()->mutable_hashes());
                     }),
                     "malformed proof hash 0: 31 bytes"});
    cases.push_back(
        {"malformed root hash (33 bytes)",
         LookupLie([](pb::WorkerLookup& lookup) {
           lookup.mutable_checkpoint()->mutable_root_hash()->push_back('\0');
         }),
         "root hash is not 32 bytes"});
    cases.push_back({"malformed consistency proof hash (31 bytes)",
                     ProofLie([](pb::GetConsistencyProofResponse& proof) {
                       ShortenFirst(proof.mutable_hashes());
                     }),
                     "malformed proof hash 0: 31 bytes", "", without_held});
    return cases;
  }

  // The lies about the newest checkpoint (honestly of shared_size_ + 2) and
  // the consistency proof to it from held_ (shared_size_ + 1).
  std::vector<ConsistencyCase> ConsistencyCases() const {
    const Ledger* ledger = ledger_.get();
    const Ledger* fork = fork_.get();
    const CheckpointSigner* other_key = other_key_.get();
    const CheckpointSigner* ledger_key = ledger_key_.get();
    const uint64_t held_size = held_.tree_size();
    const uint64_t shared_size = shared_size_;
    const uint64_t size = ledger_->size();
    const pb::Checkpoint shrunk = shrunk_;
    const pb::Checkpoint fork_at_held = fork_at_held_;
    const std::string proof_fails = ProofFails(held_size, size);
    std::vector<ConsistencyCase> cases;
    cases.push_back({"wrong root",
                     CheckpointLie([](pb::Checkpoint& checkpoint) {
                       FlipRootBit(checkpoint);
                       Rebody(checkpoint);
                     }),
                     "signature does not verify"});
    cases.push_back({"wrong root, re-signed with another key",
                     CheckpointLie([other_key](pb::Checkpoint& checkpoint) {
                       FlipRootBit(checkpoint);
                       Resign(checkpoint, *other_key);
                     }),
                     "signed by a key other than the trusted one"});
    cases.push_back({"wrong root, re-signed with the ledger's key",
                     CheckpointLie([ledger_key](pb::Checkpoint& checkpoint) {
                       FlipRootBit(checkpoint);
                       Resign(checkpoint, *ledger_key);
                     }),
                     proof_fails});
    cases.push_back({"checkpoint signed by another key",
                     CheckpointLie([other_key](pb::Checkpoint& checkpoint) {
                       Resign(checkpoint, *other_key);
                     }),
                     "signed by a key other than the trusted one"});
    cases.push_back({"checkpoint whose origin differs",
                     CheckpointLie([](pb::Checkpoint& checkpoint) {
                       checkpoint.set_origin("evil.example");
                       Rebody(checkpoint);
                     }),
                     "signature does not verify"});
    cases.push_back(
        {"checkpoint whose origin differs, re-signed with the ledger's key",
         CheckpointLie([ledger_key](pb::Checkpoint& checkpoint) {
           checkpoint.set_origin("evil.example");
           Resign(checkpoint, *ledger_key);
         }),
         "names another origin"});
    cases.push_back({"proof truncated",
                     ProofLie([](pb::GetConsistencyProofResponse& proof) {
                       Truncate(proof.mutable_hashes());
                     }),
                     proof_fails});
    cases.push_back({"proof padded at the end",
                     ProofLie([](pb::GetConsistencyProofResponse& proof) {
                       PadAtEnd(proof.mutable_hashes());
                     }),
                     proof_fails});
    cases.push_back({"proof padded at the front",
                     ProofLie([](pb::GetConsistencyProofResponse& proof) {
                       PadAtFront(proof.mutable_hashes());
                     }),
                     proof_fails});
    cases.push_back(
        {"proof of another tree",
         ProofLie([held_size, size](pb::GetConsistencyProofResponse& proof) {
           SetHashes(
               AnotherTreeProof(merkle::ConsistencyProofPlan(held_size, size)),
               proof.mutable_hashes());
         }),
         proof_fails});
    cases.push_back({"proof of the fork's tree",
                     ProofLie([fork, held_size,
                               size](pb::GetConsistencyProofResponse& proof) {
                       SetHashes(fork->ConsistencyProof(held_size, size),
                                 proof.mutable_hashes());
                     }),
                     proof_fails});
    cases.push_back({"proof from another tree size",
                     ProofLie([ledger, shared_size,
                               size](pb::GetConsistencyProofResponse& proof) {
                       SetHashes(ledger->ConsistencyProof(shared_size, size),
                                 proof.mutable_hashes());
                     }),
                     proof_fails});
    cases.push_back({"history rewritten after the checkpoint held", FromFork(),
                     ProofFails(held_size, fork_->size())});
    cases.push_back({"history rewritten, at the size of the checkpoint held",
                     CheckpointLie([fork_at_held](pb::Checkpoint& checkpoint) {
                       checkpoint = fork_at_held;
                     }),
                     ProofFails(held_size, held_size)});
    cases.push_back({"a ledger that shrank",
                     CheckpointLie([shrunk](pb::Checkpoint& checkpoint) {
                       checkpoint = shrunk;
                     }),
                     absl::StrCat("the ledger shrank from ", held_size, " to ",
                                  shared_size, " entries")});
    cases.push_back({"malformed proof hash (31 bytes)",
                     ProofLie([](pb::GetConsistencyProofResponse& proof) {
                       ShortenFirst(proof.mutable_hashes());
                     }),
                     "malformed proof hash 0: 31 bytes"});
    cases.push_back({"malformed root hash (33 bytes)",
                     CheckpointLie([](pb::Checkpoint& checkpoint) {
                       checkpoint.mutable_root_hash()->push_back('\0');
                     }),
                     "root hash is not 32 bytes"});
    return cases;
  }

  // What premiumctl does for `worker lookup`, in process: the lying
  // server's answer, checked by the library.
  absl::Status FetchAndVerifyLookup(Anchor anchor) {
    pb::LookupCodeRequest request;
    request.set_code(codes_[0]);
    pb::WorkerLookup lookup;
    const grpc::Status status =
        worker_stub_of_liar_->LookupCode(Context().get(), request, &lookup);
    if (!status.ok()) return absl::UnknownError(status.error_message());
    const TrustAnchor* trust = TrustFor(anchor);
    std::vector<std::string> proof;
    if (trust != nullptr && trust->checkpoint.has_value() &&
        lookup.checkpoint().tree_size() > trust->checkpoint->tree_size()) {
      pb::GetConsistencyProofRequest proof_request;
      proof_request.set_old_size(trust->checkpoint->tree_size());
      proof_request.set_new_size(lookup.checkpoint().tree_size());
      pb::GetConsistencyProofResponse response;
      const grpc::Status proof_status = ledger_stub_->GetConsistencyProof(
          Context().get(), proof_request, &response);
      if (!proof_status.ok()) {
        return absl::UnknownError(proof_status.error_message());
      }
      proof.assign(response.hashes().begin(), response.hashes().end());
    }
    return VerifyWorkerLookup(lookup, codes_[0], trust, proof);
  }

  // What premiumctl does for `ledger consistency --from held.json`.
  absl::Status FetchAndVerifyConsistency() {
    pb::GetCheckpointResponse checkpoint;
    grpc::Status status = ledger_stub_->GetCheckpoint(
        Context().get(), pb::GetCheckpointRequest(), &checkpoint);
    if (!status.ok()) return absl::UnknownError(status.error_message());
    const pb::Checkpoint& later = checkpoint.checkpoint();
    if (absl::Status s = VerifyLaterCheckpoint(held_, later); !s.ok()) {
      return s;
    }
    pb::GetConsistencyProofRequest request;
    request.set_old_size(held_.tree_size());
    request.set_new_size(later.tree_size());
    pb::GetConsistencyProofResponse proof;
    status =
        ledger_stub_->GetConsistencyProof(Context().get(), request, &proof);
    if (!status.ok()) return absl::UnknownError(status.error_message());
    return VerifyConsistencyAnswer(
        held_, later,
        std::vector<std::string>(proof.hashes().begin(), proof.hashes().end()));
  }

  CommandResult Premiumctl(const std::vector<std::string>& args) {
    std::vector<std::string> command = {PREMIUMCTL_PATH, "--server", address_};
    command.insert(command.end(), args.begin(), args.end());
    return RunCommand(command);
  }

  std::vector<std::string> LookupArgs(
      Anchor anchor, const std::vector<std::string>& more = {}) const {
    std::vector<std::string> args = {"worker", "lookup", "--code", codes_[0]};
    for (const std::vector<std::string>& extra : {AnchorFlags(anchor), more}) {
      args.insert(args.end(), extra.begin(), extra.end());
    }
    return args;
  }

  CommandResult LookupWith(Anchor anchor,
                           const std::vector<std::string>& more = {}) {
    return Premiumctl(LookupArgs(anchor, more));
  }

  // Premiumctl with each of `runs`, all at once (they ask the same lie),
  // to keep the test fast.
  std::vector<CommandResult> PremiumctlEach(
      const std::vector<std::vector<std::string>>& runs) {
    std::vector<CommandResult> results(runs.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < runs.size(); ++i) {
      threads.emplace_back(
          [this, &runs, &results, i] { results[i] = Premiumctl(runs[i]); });
    }
    for (std::thread& thread : threads) thread.join();
    return results;
  }

  // premiumctl refused: a non-zero exit, nothing on standard output, and
  // one line on standard error with `code` and `message`.
  static void ExpectRefused(const CommandResult& result,
                            const std::string& code,
                            const std::string& message) {
    ASSERT_NE(result.exit_code, -1) << "premiumctl did not run to its end";
    EXPECT_NE(result.exit_code, 0) << result.out;
    EXPECT_EQ(result.out, "");
    ExpectOneLine(result.err);
    EXPECT_THAT(result.err, AllOf(HasSubstr(code), HasSubstr(message)));
  }

  uint64_t shared_size_ = 0;
  uint64_t seq_ = 0;
  std::vector<std::string> codes_;
  std::unique_ptr<Ledger> fork_;
  std::unique_ptr<CheckpointSigner> other_key_;
  std::unique_ptr<CheckpointSigner> ledger_key_;
  // The checkpoint the client holds, in held_path_.
  pb::Checkpoint held_;
  std::string held_path_;
  // The ledger's checkpoint before the histories diverged, and the fork's at
  // the size of held_.
  pb::Checkpoint shrunk_;
  pb::Checkpoint fork_at_held_;
  std::string public_key_path_;
  TrustAnchor key_anchor_;
  TrustAnchor held_anchor_;
  std::unique_ptr<HonestAnswers> honest_;
  std::unique_ptr<HonestAnswers> fork_answers_;
  std::unique_ptr<LyingServer> lying_;
  std::unique_ptr<grpc::Server> lying_server_;
  std::string address_;
  std::shared_ptr<grpc::Channel> lying_channel_;
  std::unique_ptr<pb::LedgerService::Stub> ledger_stub_;
  std::unique_ptr<pb::WorkerService::Stub> worker_stub_of_liar_;
};

TEST_F(LyingServerTest, HistoriesAreAsDescribed) {
  // The fork shares the prefix and the key, and differs after it.
  EXPECT_EQ(*fork_->RootAt(shared_size_), *ledger_->RootAt(shared_size_));
  EXPECT_NE(*fork_->RootAt(held_.tree_size()),
            *ledger_->RootAt(held_.tree_size()));
  EXPECT_EQ(fork_->verifier().public_key_pem(),
            ledger_->verifier().public_key_pem());
  EXPECT_NE(other_key_->public_key_pem(), ledger_->verifier().public_key_pem());
  EXPECT_LT(seq_, shared_size_);
}

// ---------------------------------------------------------------------------
// The library, on the fake server's answers fetched in process.

TEST_F(LyingServerTest, LibraryAcceptsTheHonestAnswers) {
  for (Anchor anchor : kAnchors) {
    SCOPED_TRACE(AnchorName(anchor));
    EXPECT_THAT(FetchAndVerifyLookup(anchor), IsOk());
  }
  EXPECT_THAT(FetchAndVerifyConsistency(), IsOk());
  // The checkpoint held against itself: no proof needed.
  EXPECT_THAT(VerifyConsistencyAnswer(held_, held_, {}), IsOk());
}

TEST_F(LyingServerTest, LibraryRejectsEveryLieAboutALookup) {
  for (const LookupCase& lie : LookupCases()) {
    lying_->Tell(lie.lie);
    for (Anchor anchor : kAnchors) {
      SCOPED_TRACE(absl::StrCat(lie.name, ", ", AnchorName(anchor)));
      const absl::Status status = FetchAndVerifyLookup(anchor);
      if (lie.believed_with.contains(anchor)) {
        EXPECT_THAT(status, IsOk());
        continue;
      }
      EXPECT_THAT(status, StatusIs(absl::StatusCode::kDataLoss,
                                   HasSubstr(lie.MessageWith(anchor))));
    }
  }
}

TEST_F(LyingServerTest, LibraryRejectsEveryLieAboutConsistency) {
  for (const ConsistencyCase& lie : ConsistencyCases()) {
    SCOPED_TRACE(lie.name);
    lying_->Tell(lie.lie);
    EXPECT_THAT(FetchAndVerifyConsistency(),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr(lie.message)));
  }
}

// Without an anchor the library can only check an answer against the key
// it names: another ledger's whole, valid answer is believed. That is why
// the key's fingerprint is shown, and why the anchors exist.
TEST_F(LyingServerTest, WithoutAnAnchorOnlyTheFingerprintTellsAnotherKey) {
  const CheckpointSigner* other_key = other_key_.get();
  lying_->Tell(LookupLie([other_key](pb::WorkerLookup& lookup) {
    Resign(*lookup.mutable_checkpoint(), *other_key);
  }));
  EXPECT_THAT(FetchAndVerifyLookup(Anchor::kNone), IsOk());
  const std::string fingerprint = PublicKeyFingerprint(other_key_->verifier());
  EXPECT_NE(fingerprint, PublicKeyFingerprint(ledger_->verifier()));

  const CommandResult lookup = LookupWith(Anchor::kNone);
  ASSERT_EQ(lookup.exit_code, 0) << lookup.err;
  EXPECT_THAT(lookup.out, AllOf(HasSubstr("verified:"),
                                HasSubstr(absl::StrCat("SHA-256 ", fingerprint,
                                                       ", as the server names "
                                                       "it; not checked"))));
  EXPECT_THAT(lookup.out,
              Not(HasSubstr(PublicKeyFingerprint(ledger_->verifier()))));
}

// The fingerprint is SHA-256 over the DER key, as openssl and sha256sum
// compute it; computed here with OpenSSL directly.
TEST_F(LyingServerTest, FingerprintIsTheSha256OfTheDerKey) {
  const std::string& pem = ledger_->verifier().public_key_pem();
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  ASSERT_NE(bio, nullptr);
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(key, nullptr);
  unsigned char* der = nullptr;
  const int der_bytes = i2d_PUBKEY(key, &der);
  EVP_PKEY_free(key);
  ASSERT_GT(der_bytes, 0);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(der, static_cast<size_t>(der_bytes), digest);
  OPENSSL_free(der);
  EXPECT_EQ(PublicKeyFingerprint(ledger_->verifier()),
            absl::BytesToHexString(absl::string_view(
                reinterpret_cast<const char*>(digest), sizeof(digest))));
}

TEST_F(LyingServerTest, AnchorFilesAreCheckedWhenRead) {
  const std::string missing = dir_.Sub("missing");
  EXPECT_THAT(ReadPublicKeyAnchor(missing),
              StatusIs(absl::StatusCode::kInvalidArgument, Eq("no such file")));
  EXPECT_THAT(ReadCheckpointAnchor(missing),
              StatusIs(absl::StatusCode::kInvalidArgument, Eq("no such file")));
  EXPECT_THAT(ReadPublicKeyAnchor(held_path_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not an Ed25519 public key")));
  EXPECT_THAT(
      ReadCheckpointAnchor(public_key_path_),
      StatusIs(absl::StatusCode::kInvalidArgument, Eq("not valid JSON")));

  // The checkpoint held, and the key with it.
  PL_ASSERT_OK_AND_ASSIGN(TrustAnchor key,
                          ReadPublicKeyAnchor(public_key_path_));
  PL_ASSERT_OK_AND_ASSIGN(TrustAnchor both,
                          ReadCheckpointAnchor(held_path_, std::move(key.key)));
  EXPECT_EQ(both.key->public_key_pem(), ledger_->verifier().public_key_pem());
  ASSERT_TRUE(both.checkpoint.has_value());
  EXPECT_EQ(both.checkpoint->tree_size(), held_.tree_size());
  // ... but not with another key.
  EXPECT_THAT(
      ReadCheckpointAnchor(held_path_, CheckpointVerifier::FromPublicKeyPem(
                                           other_key_->public_key_pem())
                                           .value()),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("signed by a key other than the trusted")));
  // A saved checkpoint changed since: its own key no longer signs it.
  pb::Checkpoint changed = held_;
  FlipRootBit(changed);
  const std::string changed_path = dir_.Sub("changed.json");
  WriteFileOrDie(changed_path, CheckpointToJson(changed).dump());
  EXPECT_THAT(ReadCheckpointAnchor(changed_path),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("signature does not verify")));
}

TEST_F(LyingServerTest, ConsistencyNeedsAValidCheckpointHeld) {
  PL_ASSERT_OK_AND_ASSIGN(const pb::Checkpoint later,
                          CheckpointOf(*ledger_, ledger_->size()));
  pb::Checkpoint keyless = held_;
  keyless.set_public_key_pem("not a key");
  EXPECT_THAT(VerifyLaterCheckpoint(keyless, later),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("the checkpoint held")));
  pb::Checkpoint rootless = held_;
  rootless.set_root_hash("short");
  EXPECT_THAT(VerifyConsistencyAnswer(rootless, later, {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("the checkpoint held")));
}

// ---------------------------------------------------------------------------
// premiumctl, as a user runs it, against the fake server.

TEST_F(LyingServerTest, PremiumctlAcceptsTheHonestServer) {
  const std::string fingerprint = PublicKeyFingerprint(ledger_->verifier());
  const std::vector<std::pair<std::string, std::vector<std::string>>> runs = {
      {"no anchor", {}},
      {"--public-key", AnchorFlags(Anchor::kPublicKey)},
      {"--checkpoint", AnchorFlags(Anchor::kCheckpoint)},
      {"both", {"--public-key", public_key_path_, "--checkpoint", held_path_}},
  };
  for (const auto& [name, flags] : runs) {
    SCOPED_TRACE(name);
    std::vector<std::string> args = {"worker", "lookup", "--code", codes_[0]};
    args.insert(args.end(), flags.begin(), flags.end());
    const CommandResult lookup = Premiumctl(args);
    ASSERT_EQ(lookup.exit_code, 0) << lookup.err;
    EXPECT_EQ(lookup.err, "");
    EXPECT_THAT(
        lookup.out,
        AllOf(HasSubstr("worker w1 at s1"),
              HasSubstr(absl::StrCat(
                  "verified: the line of 2025-01-06 to 2025-01-12 is "
                  "entry ",
                  seq_, " of the ledger's tree of ", ledger_->size(),
                  " entries")),
              HasSubstr(absl::StrCat("signing key: SHA-256 ", fingerprint))));
  }
  EXPECT_THAT(LookupWith(Anchor::kNone).out, HasSubstr("not checked"));
  EXPECT_THAT(LookupWith(Anchor::kPublicKey).out,
              HasSubstr("the key of --public-key"));
  EXPECT_THAT(LookupWith(Anchor::kCheckpoint).out,
              HasSubstr(absl::StrCat("the key of --checkpoint; the ledger "
                                     "kept the ",
                                     held_.tree_size(),
                                     " entries of that checkpoint")));
  // JSON output is unchanged by the anchors.
  EXPECT_EQ(LookupWith(Anchor::kCheckpoint, {"--output", "json"}).out,
            LookupWith(Anchor::kNone, {"--output", "json"}).out);

  // A checkpoint saved through the server, as a user saves one, anchors
  // later commands.
  const std::string saved = dir_.Sub("saved.json");
  const CommandResult checkpoint =
      Premiumctl({"ledger", "checkpoint", "--out", saved});
  ASSERT_EQ(checkpoint.exit_code, 0) << checkpoint.err;
  const CommandResult anchored = Premiumctl(
      {"worker", "lookup", "--code", codes_[0], "--checkpoint", saved});
  EXPECT_EQ(anchored.exit_code, 0) << anchored.err;
  const CommandResult consistency =
      Premiumctl({"ledger", "consistency", "--from", held_path_});
  ASSERT_EQ(consistency.exit_code, 0) << consistency.err;
  EXPECT_THAT(consistency.out,
              HasSubstr(absl::StrCat("grew from ", held_.tree_size(), " to ",
                                     ledger_->size(), " entries")));
}

// Every anchor that can tell refuses; where one cannot (believed_with), the
// library tests above show the answer believed, and the two tests below
// show why the anchors matter.
TEST_F(LyingServerTest, PremiumctlRejectsEveryLieAboutALookup) {
  for (const LookupCase& lie : LookupCases()) {
    lying_->Tell(lie.lie);
    std::vector<Anchor> anchors;
    std::vector<std::vector<std::string>> runs;
    for (Anchor anchor : kAnchors) {
      if (lie.believed_with.contains(anchor)) continue;
      anchors.push_back(anchor);
      runs.push_back(LookupArgs(anchor));
    }
    const std::vector<CommandResult> lookups = PremiumctlEach(runs);
    for (size_t i = 0; i < anchors.size(); ++i) {
      SCOPED_TRACE(absl::StrCat(lie.name, ", ", AnchorName(anchors[i])));
      ExpectRefused(lookups[i], "DATA_LOSS",
                    "the server's answer does not verify: ");
      EXPECT_THAT(lookups[i].err, HasSubstr(lie.MessageWith(anchors[i])));
    }
  }
}

TEST_F(LyingServerTest, PremiumctlRejectsEveryLieAboutConsistency) {
  for (const ConsistencyCase& lie : ConsistencyCases()) {
    SCOPED_TRACE(lie.name);
    lying_->Tell(lie.lie);
    const CommandResult consistency =
        Premiumctl({"ledger", "consistency", "--from", held_path_});
    ExpectRefused(consistency, "DATA_LOSS", "INCONSISTENT: ");
    EXPECT_THAT(consistency.err, HasSubstr(lie.message));
  }
}

// The rewritten history, end to end: the fork's answers are valid and signed
// by the ledger's key, so only a checkpoint held tells.
TEST_F(LyingServerTest,
       PremiumctlRejectsAHistoryRewrittenAfterTheCheckpointHeld) {
  lying_->Tell(FromFork());
  EXPECT_EQ(LookupWith(Anchor::kPublicKey).exit_code, 0);
  const std::string proof_fails = ProofFails(held_.tree_size(), fork_->size());
  ExpectRefused(
      LookupWith(Anchor::kCheckpoint), "DATA_LOSS",
      absl::StrCat("INCONSISTENT with the checkpoint held: the ", proof_fails));
  ExpectRefused(Premiumctl({"ledger", "consistency", "--from", held_path_}),
                "DATA_LOSS", absl::StrCat("INCONSISTENT: the ", proof_fails));
  // A checkpoint held from before the fork cannot tell: the fork did only
  // append to it.
  const std::string before = dir_.Sub("before.json");
  WriteFileOrDie(before, CheckpointToJson(shrunk_).dump());
  EXPECT_EQ(Premiumctl({"worker", "lookup", "--code", codes_[0], "--checkpoint",
                        before})
                .exit_code,
            0);
}

TEST_F(LyingServerTest, PremiumctlRefusesBadAnchorFilesBeforeAsking) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> runs = {
      {{"--public-key", dir_.Sub("missing.pem")},
       "--public-key " + dir_.Sub("missing.pem") + ": no such file"},
      {{"--public-key", held_path_}, "not an Ed25519 public key"},
      {{"--checkpoint", public_key_path_}, "not valid JSON"},
      {{"--checkpoint", held_path_, "--public-key", public_key_path_},
       ""},  // consistent: accepted below
  };
  for (const auto& [flags, message] : runs) {
    SCOPED_TRACE(message);
    std::vector<std::string> args = {"worker", "lookup", "--code", codes_[0]};
    args.insert(args.end(), flags.begin(), flags.end());
    const CommandResult result = Premiumctl(args);
    if (message.empty()) {
      EXPECT_EQ(result.exit_code, 0) << result.err;
      continue;
    }
    ExpectRefused(result, "INVALID_ARGUMENT", message);
  }
  // A checkpoint held that another key signed, with the ledger's key.
  pb::Checkpoint foreign = held_;
  Resign(foreign, *other_key_);
  const std::string foreign_path = dir_.Sub("foreign.json");
  WriteFileOrDie(foreign_path, CheckpointToJson(foreign).dump());
  ExpectRefused(
      Premiumctl({"worker", "lookup", "--code", codes_[0], "--public-key",
                  public_key_path_, "--checkpoint", foreign_path}),
      "INVALID_ARGUMENT",
      "--checkpoint " + foreign_path +
          ": checkpoint is signed by a key other than the trusted");
}

}  // namespace
}  // namespace premium
