// Integration tests of LedgerServiceImpl: a real gRPC server on 127.0.0.1:0
// in this process, over a real Ledger in a temporary directory, called
// through the generated stub (and, for the health and reflection services
// that Debian ships no client stubs for, through a generic stub with the few
// protobuf bytes those calls need written out by hand).
#include "services/ledger_service.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/checkpoint/checkpoint.h"
#include "ledger/ledger.h"
#include "ledger/merkle/hasher.h"
#include "ledger/merkle/proof.h"
#include "ledger/testing/ledger_testing.h"
#include "services/credentials.h"
#include "services/ledger_client.h"
#include "wsr/premium/v1/ledger.grpc.pb.h"

namespace premium {
namespace {

namespace pb = wsr::premium::v1;
using ::premium::testing::IsOk;
using ::premium::testing::IsOkAndHolds;
using ::premium::testing::MakeRequest;
using ::premium::testing::OneEntry;
using ::premium::testing::StatusIs;
using ::premium::testing::TempDir;
using ::premium::testing::TestIndexer;
using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr char kOrigin[] = "ledger.test.example/premium";
// Small so that the over-limit cases are cheap to build.
constexpr size_t kRequestEntriesMax = 50;
constexpr size_t kRequestBytesMax = 256 * 1024;
constexpr absl::Duration kCallTimeout = absl::Seconds(10);
constexpr absl::Duration kTailPollInterval = absl::Milliseconds(50);

// ---------------------------------------------------------------------------
// Helpers.

std::unique_ptr<grpc::ClientContext> NewContext(
    absl::string_view authorization = {},
    absl::Duration timeout = kCallTimeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  if (!authorization.empty()) {
    context->AddMetadata("authorization", std::string(authorization));
  }
  return context;
}

pb::AppendRequest MakeAppend(absl::string_view actor, absl::string_view key,
                             const std::vector<std::string>& payloads,
                             absl::string_view kind = "test.Kind") {
  pb::AppendRequest request;
  request.set_actor(std::string(actor));
  request.set_idempotency_key(std::string(key));
  for (const std::string& payload : payloads) {
    pb::AppendEntry* entry = request.add_entries();
    entry->set_kind(std::string(kind));
    entry->set_payload(payload);
  }
  return request;
}

merkle::Hash ToHash(const std::string& bytes) {
  absl::StatusOr<merkle::Hash> hash = merkle::HashFromBytes(bytes);
  EXPECT_TRUE(hash.ok()) << hash.status();
  return hash.ok() ? *hash : merkle::Hash{};
}

std::vector<merkle::Hash> ToHashes(
    const google::protobuf::RepeatedPtrField<std::string>& bytes) {
  std::vector<merkle::Hash> hashes;
  for (const std::string& b : bytes) hashes.push_back(ToHash(b));
  return hashes;
}

std::string ToString(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(buffer.Dump(&slices).ok());
  std::string out;
  for (const grpc::Slice& slice : slices) {
    out.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return out;
}

grpc::ByteBuffer ToByteBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

// Waits for the completion of the operation tagged `tag` on `cq`.
bool AwaitTag(grpc::CompletionQueue* cq, intptr_t tag) {
  void* got = nullptr;
  bool ok = false;
  const auto status =
      cq->AsyncNext(&got, &ok, absl::ToChronoTime(absl::Now() + kCallTimeout));
  EXPECT_EQ(status, grpc::CompletionQueue::GOT_EVENT);
  EXPECT_EQ(got, reinterpret_cast<void*>(tag));
  return status == grpc::CompletionQueue::GOT_EVENT && ok;
}

// A unary call by method name with raw protobuf bytes.
grpc::Status RawUnaryCall(const std::shared_ptr<grpc::Channel>& channel,
                          const std::string& method, const std::string& request,
                          std::string* response) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::ClientContext> context = NewContext();
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> call =
      stub.PrepareUnaryCall(context.get(), method, ToByteBuffer(request), &cq);
  call->StartCall();
  grpc::ByteBuffer reply;
  grpc::Status status;
  call->Finish(&reply, &status, reinterpret_cast<void*>(1));
  EXPECT_TRUE(AwaitTag(&cq, 1));
  if (status.ok()) *response = ToString(reply);
  cq.Shutdown();
  void* ignored_tag;
  bool ignored_ok;
  while (cq.Next(&ignored_tag, &ignored_ok)) {
  }
  return status;
}

// A bidi-streaming call by method name: sends `request`, half-closes, and
// collects every response.
grpc::Status RawBidiCall(const std::shared_ptr<grpc::Channel>& channel,
                         const std::string& method, const std::string& request,
                         std::vector<std::string>* responses) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::ClientContext> context = NewContext();
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call =
      stub.PrepareCall(context.get(), method, &cq);
  call->StartCall(reinterpret_cast<void*>(1));
  EXPECT_TRUE(AwaitTag(&cq, 1));
  call->Write(ToByteBuffer(request), reinterpret_cast<void*>(2));
  EXPECT_TRUE(AwaitTag(&cq, 2));
  call->WritesDone(reinterpret_cast<void*>(3));
  EXPECT_TRUE(AwaitTag(&cq, 3));
  for (;;) {
    grpc::ByteBuffer reply;
    call->Read(&reply, reinterpret_cast<void*>(4));
    if (!AwaitTag(&cq, 4)) break;
    responses->push_back(ToString(reply));
  }
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  EXPECT_TRUE(AwaitTag(&cq, 5));
  cq.Shutdown();
  void* ignored_tag;
  bool ignored_ok;
  while (cq.Next(&ignored_tag, &ignored_ok)) {
  }
  return status;
}

// ---------------------------------------------------------------------------
// A LedgerServiceImpl served on 127.0.0.1:0, and a stub for it.
class TestServer {
 public:
  TestServer(Ledger* ledger, const merkle::Hash& token_hash,
             LedgerServiceOptions options)
      : service_(ledger, token_hash, options) {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    EXPECT_NE(server_, nullptr);
    EXPECT_NE(port_, 0);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_),
                                   grpc::InsecureChannelCredentials());
    stub_ = pb::LedgerService::NewStub(channel_);
  }

  ~TestServer() {
    service_.Stop();
    if (server_ != nullptr) {
      server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
      server_->Wait();
    }
  }

  LedgerServiceImpl& service() { return service_; }
  pb::LedgerService::Stub& stub() { return *stub_; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

 private:
  LedgerServiceImpl service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::LedgerService::Stub> stub_;
};

class LedgerServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LedgerOptions options;
    options.data_dir = dir_.Sub("ledger");
    options.create_if_missing = true;
    options.origin = kOrigin;
    options.request_entries_max = kRequestEntriesMax;
    options.request_bytes_max = kRequestBytesMax;
    absl::StatusOr<std::unique_ptr<Ledger>> ledger = Ledger::Open(options);
    ASSERT_TRUE(ledger.ok()) << ledger.status();
    ledger_ = std::move(*ledger);
    absl::StatusOr<std::string> token = GenerateToken("ledger_");
    ASSERT_TRUE(token.ok()) << token.status();
    token_ = *token;
    token_hash_ = HashToken(token_);
    LedgerServiceOptions service_options;
    service_options.tail_poll_interval = kTailPollInterval;
    server_ = std::make_unique<TestServer>(ledger_.get(), token_hash_,
                                           service_options);
  }

  void TearDown() override {
    server_.reset();
    ledger_.reset();
  }

  std::string Bearer() const { return absl::StrCat("Bearer ", token_); }
  pb::LedgerService::Stub& stub() { return server_->stub(); }

  grpc::Status Append(const pb::AppendRequest& request,
                      pb::AppendReceipt* receipt = nullptr) {
    pb::AppendResponse response;
    const grpc::Status status =
        stub().Append(NewContext(Bearer()).get(), request, &response);
    if (receipt != nullptr) *receipt = response.receipt();
    return status;
  }

  // Appends `count` one-entry requests with payloads "<prefix><i>".
  void AppendMany(absl::string_view prefix, int count) {
    for (int i = 0; i < count; ++i) {
      const grpc::Status status = Append(MakeAppend(
          "svc:test", absl::StrCat(prefix, "-", i), {absl::StrCat(prefix, i)}));
      ASSERT_TRUE(status.ok()) << status.error_message();
    }
  }

  // Entries of 1,000 bytes each, "big-0" to "big-<count - 1>": a few of them
  // fill a response capped in bytes.
  void AppendBigEntries(int count) {
    for (int i = 0; i < count; ++i) {
      const grpc::Status status =
          Append(MakeAppend("svc:test", absl::StrCat("big-", i),
                            {std::string(1000, 'a' + i % 26)}));
      ASSERT_TRUE(status.ok()) << status.error_message();
    }
  }

  std::vector<pb::StoredEntry> ReadAll(pb::LedgerService::Stub& stub) {
    std::vector<pb::StoredEntry> entries;
    const uint64_t size = ledger_->size();
    while (entries.size() < size) {
      pb::ReadEntriesRequest request;
      request.set_begin_seq(entries.size());
      request.set_end_seq(size);
      pb::ReadEntriesResponse response;
      const grpc::Status status =
          stub.ReadEntries(NewContext(Bearer()).get(), request, &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      EXPECT_GT(response.entries_size(), 0);
      if (!status.ok() || response.entries_size() == 0) break;
      for (const pb::StoredEntry& entry : response.entries()) {
        entries.push_back(entry);
      }
    }
    return entries;
  }

  pb::Checkpoint GetCheckpoint(std::optional<uint64_t> tree_size,
                               grpc::Status* status_out = nullptr) {
    pb::GetCheckpointRequest request;
    if (tree_size.has_value()) request.set_tree_size(*tree_size);
    pb::GetCheckpointResponse response;
    const grpc::Status status =
        stub().GetCheckpoint(NewContext().get(), request, &response);
    if (status_out != nullptr) {
      *status_out = status;
    } else {
      EXPECT_TRUE(status.ok()) << status.error_message();
    }
    return response.checkpoint();
  }

  TempDir dir_;
  std::unique_ptr<Ledger> ledger_;
  std::string token_;
  merkle::Hash token_hash_{};
  std::unique_ptr<TestServer> server_;
};

// ---------------------------------------------------------------------------
// Append.

TEST_F(LedgerServiceTest, AppendReturnsReceipt) {
  const int64_t before_micros = absl::ToUnixMicros(absl::Now());
  pb::AppendReceipt first;
  ASSERT_TRUE(
      Append(MakeAppend("brand:acme", "upload-1", {"a", "b"}), &first).ok());
  EXPECT_EQ(first.first_seq(), 0u);
  EXPECT_EQ(first.entry_count(), 2u);
  EXPECT_EQ(first.tree_size(), 2u);
  EXPECT_FALSE(first.replayed());
  EXPECT_GE(first.append_time_micros(), before_micros);
  EXPECT_LE(first.append_time_micros(), absl::ToUnixMicros(absl::Now()));

  pb::AppendReceipt second;
  ASSERT_TRUE(
      Append(MakeAppend("brand:acme", "upload-2", {"c"}), &second).ok());
  EXPECT_EQ(second.first_seq(), 2u);
  EXPECT_EQ(second.entry_count(), 1u);
  EXPECT_EQ(second.tree_size(), 3u);
  EXPECT_GE(second.append_time_micros(), first.append_time_micros());
  EXPECT_EQ(ledger_->size(), 3u);
}

TEST_F(LedgerServiceTest, AppendReplayReturnsOriginalReceipt) {
  const pb::AppendRequest request =
      MakeAppend("brand:acme", "upload-1", {"a", "b"});
  pb::AppendReceipt original;
  ASSERT_TRUE(Append(request, &original).ok());
  ASSERT_TRUE(Append(MakeAppend("brand:acme", "upload-2", {"c"})).ok());

  pb::AppendReceipt replay;
  ASSERT_TRUE(Append(request, &replay).ok());
  EXPECT_TRUE(replay.replayed());
  EXPECT_EQ(replay.first_seq(), original.first_seq());
  EXPECT_EQ(replay.entry_count(), original.entry_count());
  EXPECT_EQ(replay.tree_size(), original.tree_size());
  EXPECT_EQ(replay.append_time_micros(), original.append_time_micros());
  EXPECT_EQ(ledger_->size(), 3u);

  // Keys are scoped to the actor: another actor's "upload-1" is new.
  pb::AppendReceipt other;
  ASSERT_TRUE(
      Append(MakeAppend("brand:other", "upload-1", {"a", "b"}), &other).ok());
  EXPECT_FALSE(other.replayed());
  EXPECT_EQ(other.first_seq(), 3u);
}

TEST_F(LedgerServiceTest, AppendSameKeyOtherContentIsAlreadyExists) {
  ASSERT_TRUE(Append(MakeAppend("brand:acme", "upload-1", {"a"})).ok());
  const grpc::Status status =
      Append(MakeAppend("brand:acme", "upload-1", {"other"}));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS)
      << status.error_message();
  EXPECT_EQ(ledger_->size(), 1u);
}

TEST_F(LedgerServiceTest, AppendBadInputIsInvalidArgumentNamingTheField) {
  ASSERT_TRUE(Append(MakeAppend("brand:acme", "upload-0", {"a"})).ok());
  struct Case {
    std::string name;
    pb::AppendRequest request;
    std::string field;
  };
  std::vector<Case> cases = {
      {"empty actor", MakeAppend("", "k1", {"a"}), "actor"},
      {"bad actor charset", MakeAppend("brand acme", "k1", {"a"}), "actor"},
      {"actor too long",
       MakeAppend(std::string(kActorLengthMax + 1, 'a'), "k1", {"a"}), "actor"},
      {"empty key", MakeAppend("brand:acme", "", {"a"}), "idempotency_key"},
      {"bad key charset", MakeAppend("brand:acme", "key with space", {"a"}),
       "idempotency_key"},
      {"bad key character", MakeAppend("brand:acme", "key;1", {"a"}),
       "idempotency_key"},
      {"key too long",
       MakeAppend("brand:acme", std::string(kIdempotencyKeyLengthMax + 1, 'k'),
                  {"a"}),
       "idempotency_key"},
      {"no entries", MakeAppend("brand:acme", "k1", {}), "entries"},
      {"oversized payload",
       MakeAppend("brand:acme", "k1",
                  {"ok", std::string(kPayloadBytesMax + 1, 'p')}),
       "entries[1].payload"},
      {"empty kind", MakeAppend("brand:acme", "k1", {"a"}, ""),
       "entries[0].kind"},
      {"bad kind", MakeAppend("brand:acme", "k1", {"a"}, "wsr/premium Kind"),
       "entries[0].kind"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const grpc::Status status = Append(c.request);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(c.field));
    EXPECT_EQ(ledger_->size(), 1u);
  }
}

TEST_F(LedgerServiceTest, AppendOverLimitsIsResourceExhausted) {
  std::vector<std::string> payloads(kRequestEntriesMax + 1, "x");
  grpc::Status status = Append(MakeAppend("brand:acme", "too-many", payloads));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("entries"));

  // Each payload within its limit, the request over the byte limit.
  payloads.assign(kRequestBytesMax / kPayloadBytesMax + 1,
                  std::string(kPayloadBytesMax, 'p'));
  status = Append(MakeAppend("brand:acme", "too-big", payloads));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << status.error_message();
  EXPECT_EQ(ledger_->size(), 0u);

  payloads.resize(kRequestEntriesMax);
  for (std::string& payload : payloads) payload = "x";
  EXPECT_TRUE(Append(MakeAppend("brand:acme", "at-limit", payloads)).ok());
  EXPECT_EQ(ledger_->size(), kRequestEntriesMax);
}

// ---------------------------------------------------------------------------
// Authentication.

TEST_F(LedgerServiceTest, EntryCallsNeedTheToken) {
  const pb::AppendRequest append = MakeAppend("brand:acme", "k1", {"a"});
  pb::ReadEntriesRequest read;
  read.set_end_seq(10);
  struct Case {
    std::string authorization;
    grpc::StatusCode code;
  };
  const std::vector<Case> cases = {
      {"", grpc::StatusCode::UNAUTHENTICATED},
      {"Basic x", grpc::StatusCode::UNAUTHENTICATED},
      {"Bearer ", grpc::StatusCode::UNAUTHENTICATED},
      {"bearer " + token_, grpc::StatusCode::UNAUTHENTICATED},
      {token_, grpc::StatusCode::UNAUTHENTICATED},
      {"Bearer ledger_WRONG", grpc::StatusCode::PERMISSION_DENIED},
      {"Bearer " + token_ + "x", grpc::StatusCode::PERMISSION_DENIED},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat("authorization: \"", c.authorization, "\""));
    pb::AppendResponse append_response;
    grpc::Status status = stub().Append(NewContext(c.authorization).get(),
                                        append, &append_response);
    EXPECT_EQ(status.error_code(), c.code) << status.error_message();

    pb::ReadEntriesResponse read_response;
    status = stub().ReadEntries(NewContext(c.authorization).get(), read,
                                &read_response);
    EXPECT_EQ(status.error_code(), c.code) << status.error_message();

    std::unique_ptr<grpc::ClientContext> context = NewContext(c.authorization);
    pb::TailEntriesRequest tail;
    std::unique_ptr<grpc::ClientReader<pb::TailEntriesResponse>> reader =
        stub().TailEntries(context.get(), tail);
    pb::TailEntriesResponse tail_response;
    EXPECT_FALSE(reader->Read(&tail_response));
    status = reader->Finish();
    EXPECT_EQ(status.error_code(), c.code) << status.error_message();
  }
  EXPECT_EQ(ledger_->size(), 0u);
  // And with the right token, the same calls work.
  EXPECT_TRUE(Append(append).ok());
  EXPECT_EQ(ledger_->size(), 1u);
}

TEST_F(LedgerServiceTest, CheckpointsAndProofsNeedNoToken) {
  AppendMany("open", 3);
  pb::GetCheckpointResponse checkpoint;
  grpc::Status status = stub().GetCheckpoint(
      NewContext().get(), pb::GetCheckpointRequest(), &checkpoint);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(checkpoint.checkpoint().tree_size(), 3u);

  pb::GetInclusionProofRequest inclusion;
  inclusion.set_leaf_index(1);
  pb::GetInclusionProofResponse inclusion_response;
  status = stub().GetInclusionProof(NewContext().get(), inclusion,
                                    &inclusion_response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(inclusion_response.tree_size(), 3u);

  pb::GetConsistencyProofRequest consistency;
  consistency.set_old_size(1);
  pb::GetConsistencyProofResponse consistency_response;
  status = stub().GetConsistencyProof(NewContext().get(), consistency,
                                      &consistency_response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(consistency_response.new_size(), 3u);

  // A wrong token does not hurt calls that need none.
  status = stub().GetCheckpoint(NewContext("Bearer wrong").get(),
                                pb::GetCheckpointRequest(), &checkpoint);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

// ---------------------------------------------------------------------------
// ReadEntries, checkpoints and proofs.

TEST_F(LedgerServiceTest, ReadEntriesVerifyAgainstSignedCheckpoint) {
  ASSERT_TRUE(Append(MakeAppend("brand:acme", "r1", {"one", "two"})).ok());
  AppendMany("single", 4);
  ASSERT_TRUE(
      Append(MakeAppend("supplier:x", "r2", {"three", "four", "five"})).ok());
  const uint64_t size = ledger_->size();
  ASSERT_EQ(size, 9u);

  const pb::Checkpoint checkpoint = GetCheckpoint(std::nullopt);
  EXPECT_EQ(checkpoint.origin(), kOrigin);
  EXPECT_EQ(checkpoint.tree_size(), size);
  const merkle::Hash root = ToHash(checkpoint.root_hash());
  EXPECT_EQ(checkpoint.body(), CheckpointBody(Checkpoint{kOrigin, size, root}));
  absl::StatusOr<std::unique_ptr<CheckpointVerifier>> verifier =
      CheckpointVerifier::FromPublicKeyPem(checkpoint.public_key_pem());
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  EXPECT_TRUE(
      (*verifier)->Verify(checkpoint.body(), checkpoint.signature()).ok());
  EXPECT_FALSE((*verifier)
                   ->Verify(checkpoint.body() + "x", checkpoint.signature())
                   .ok());
  // The key served is the one in the data directory.
  EXPECT_EQ(checkpoint.public_key_pem(),
            ::premium::testing::ReadFileOrDie(
                dir_.Sub("ledger/signing_key.pub.pem")));

  const std::vector<pb::StoredEntry> entries = ReadAll(stub());
  ASSERT_THAT(entries, SizeIs(size));
  for (uint64_t seq = 0; seq < size; ++seq) {
    SCOPED_TRACE(absl::StrCat("seq ", seq));
    const pb::StoredEntry& stored = entries[seq];
    pb::Entry parsed;
    ASSERT_TRUE(parsed.ParseFromString(stored.entry_bytes()));
    EXPECT_EQ(parsed.SerializeAsString(), stored.entry().SerializeAsString());
    EXPECT_EQ(stored.entry().seq(), seq);

    pb::GetInclusionProofRequest request;
    request.set_leaf_index(seq);
    request.set_tree_size(size);
    pb::GetInclusionProofResponse proof;
    const grpc::Status status =
        stub().GetInclusionProof(NewContext().get(), request, &proof);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(proof.leaf_index(), seq);
    EXPECT_EQ(proof.tree_size(), size);
    const merkle::Hash leaf = merkle::HashLeaf(stored.entry_bytes());
    EXPECT_TRUE(
        merkle::VerifyInclusion(leaf, seq, size, ToHashes(proof.hashes()), root)
            .ok());
    // A changed entry does not verify.
    pb::Entry changed = stored.entry();
    changed.set_payload(changed.payload() + "!");
    EXPECT_FALSE(
        merkle::VerifyInclusion(merkle::HashLeaf(changed.SerializeAsString()),
                                seq, size, ToHashes(proof.hashes()), root)
            .ok());
  }
  EXPECT_EQ(entries[0].entry().actor(), "brand:acme");
  EXPECT_EQ(entries[0].entry().payload(), "one");
  EXPECT_EQ(entries[0].entry().idempotency_key(), "r1");
  EXPECT_EQ(entries[0].entry().request_entry_count(), 2u);
  EXPECT_EQ(entries[1].entry().request_index(), 1u);
  EXPECT_EQ(entries[8].entry().payload(), "five");
  EXPECT_EQ(entries[8].entry().kind(), "test.Kind");
}

TEST_F(LedgerServiceTest, ReadEntriesRanges) {
  AppendMany("range", 7);
  auto read = [&](uint64_t begin, uint64_t end, uint32_t max,
                  pb::ReadEntriesResponse* response) {
    pb::ReadEntriesRequest request;
    request.set_begin_seq(begin);
    request.set_end_seq(end);
    request.set_max_entries(max);
    return stub().ReadEntries(NewContext(Bearer()).get(), request, response);
  };
  pb::ReadEntriesResponse response;
  grpc::Status status = read(5, 4, 0, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("begin_seq"));

  response.Clear();
  ASSERT_TRUE(read(5, 1000, 0, &response).ok());
  ASSERT_EQ(response.entries_size(), 2);
  EXPECT_EQ(response.entries(0).entry().seq(), 5u);
  EXPECT_EQ(response.entries(1).entry().seq(), 6u);
  EXPECT_EQ(response.tree_size(), 7u);

  response.Clear();
  ASSERT_TRUE(read(100, 200, 0, &response).ok());
  EXPECT_EQ(response.entries_size(), 0);
  EXPECT_EQ(response.tree_size(), 7u);

  response.Clear();
  ASSERT_TRUE(read(3, 3, 0, &response).ok());
  EXPECT_EQ(response.entries_size(), 0);

  response.Clear();
  ASSERT_TRUE(read(0, UINT64_MAX, 3, &response).ok());
  ASSERT_EQ(response.entries_size(), 3);
  EXPECT_EQ(response.entries(2).entry().seq(), 2u);

  response.Clear();
  ASSERT_TRUE(read(UINT64_MAX - 1, UINT64_MAX, 0, &response).ok());
  EXPECT_EQ(response.entries_size(), 0);
}

TEST_F(LedgerServiceTest, ResponseLimitsSplitBigReads) {
  LedgerServiceOptions options;
  options.entries_per_response_max = 4;
  options.bytes_per_response_max = 3000;
  options.tail_poll_interval = kTailPollInterval;
  TestServer small(ledger_.get(), token_hash_, options);

  AppendBigEntries(10);
  ASSERT_TRUE(
      Append(MakeAppend("svc:test", "huge", {std::string(10000, 'h')})).ok());
  AppendMany("small", 6);
  const uint64_t size = ledger_->size();
  ASSERT_EQ(size, 17u);

  // Count-limited: 4 of the small entries.
  pb::ReadEntriesRequest request;
  request.set_begin_seq(11);
  request.set_end_seq(size);
  pb::ReadEntriesResponse response;
  ASSERT_TRUE(small.stub()
                  .ReadEntries(NewContext(Bearer()).get(), request, &response)
                  .ok());
  EXPECT_EQ(response.entries_size(), 4);
  // max_entries above the server's limit is the server's limit.
  request.set_max_entries(100);
  response.Clear();
  ASSERT_TRUE(small.stub()
                  .ReadEntries(NewContext(Bearer()).get(), request, &response)
                  .ok());
  EXPECT_EQ(response.entries_size(), 4);

  // Byte-limited: at most 3000 entry bytes, unless a single entry is bigger,
  // which is then sent alone.
  request.set_begin_seq(0);
  request.set_max_entries(0);
  response.Clear();
  ASSERT_TRUE(small.stub()
                  .ReadEntries(NewContext(Bearer()).get(), request, &response)
                  .ok());
  EXPECT_EQ(response.entries_size(), 2);
  request.set_begin_seq(10);
  response.Clear();
  ASSERT_TRUE(small.stub()
                  .ReadEntries(NewContext(Bearer()).get(), request, &response)
                  .ok());
  ASSERT_EQ(response.entries_size(), 1);
  EXPECT_EQ(response.entries(0).entry().payload().size(), 10000u);

  // Reading on from the last seq returned gets everything, in order.
  const std::vector<pb::StoredEntry> all = ReadAll(small.stub());
  ASSERT_THAT(all, SizeIs(size));
  for (uint64_t seq = 0; seq < size; ++seq) {
    EXPECT_EQ(all[seq].entry().seq(), seq);
  }
}

// Entries read by seq (a lookup key's, scattered over the log) come in the
// order asked, within the same response limits as a range; the remote client
// asks again for the rest.
TEST_F(LedgerServiceTest, ReadEntriesBySeqsWithinTheResponseLimits) {
  LedgerServiceOptions options;
  options.entries_per_response_max = 4;
  options.bytes_per_response_max = 3000;
  options.tail_poll_interval = kTailPollInterval;
  TestServer small(ledger_.get(), token_hash_, options);
  AppendBigEntries(10);  // seqs 0-9, 1,000 bytes each
  AppendMany("small", 6);
  const uint64_t size = ledger_->size();
  ASSERT_EQ(size, 16u);

  const auto read = [this, &small](std::initializer_list<uint64_t> seqs,
                                   pb::ReadEntriesResponse* response) {
    pb::ReadEntriesRequest request;
    request.mutable_seqs()->Add(seqs.begin(), seqs.end());
    response->Clear();
    return small.stub().ReadEntries(NewContext(Bearer()).get(), request,
                                    response);
  };
  const auto seqs_of = [](const pb::ReadEntriesResponse& response) {
    std::vector<uint64_t> seqs;
    for (const pb::StoredEntry& entry : response.entries()) {
      seqs.push_back(entry.entry().seq());
    }
    return seqs;
  };
  // Count-limited: the first 4, in the order asked, a seq asked twice
  // sent twice.
  pb::ReadEntriesResponse response;
  ASSERT_TRUE(read({12, 3, 12, 14, 11, 10}, &response).ok());
  EXPECT_EQ(seqs_of(response), std::vector<uint64_t>({12, 3, 12, 14}));
  EXPECT_EQ(response.tree_size(), size);
  // Byte-limited: two entries of 1,000 bytes, not three.
  ASSERT_TRUE(read({0, 1, 2, 3}, &response).ok());
  EXPECT_EQ(seqs_of(response), std::vector<uint64_t>({0, 1}));
  // The entries are the ledger's, bytes and all.
  const uint64_t asked[] = {0, 1};
  absl::StatusOr<std::vector<StoredEntry>> want = ledger_->ReadEntriesAt(asked);
  ASSERT_THAT(want, IsOk());
  EXPECT_EQ(response.entries(1).entry_bytes(), (*want)[1].bytes);

  // Bad requests are refused whole.
  grpc::Status status = read({3, 16}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_THAT(status.error_message(), HasSubstr("16"));
  pb::ReadEntriesRequest both;
  both.add_seqs(3);
  both.set_end_seq(5);
  status =
      small.stub().ReadEntries(NewContext(Bearer()).get(), both, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("seqs"));

  // The remote client reads any number, however the server cuts them.
  std::unique_ptr<LedgerClient> remote =
      NewRemoteLedgerClient(small.channel(), token_, absl::Seconds(30));
  const std::vector<uint64_t> scattered = {15, 0, 7, 7, 11, 2, 9, 1, 13};
  absl::StatusOr<std::vector<StoredEntry>> entries =
      remote->ReadEntriesAt(scattered);
  ASSERT_THAT(entries, IsOk());
  ASSERT_THAT(*entries, SizeIs(scattered.size()));
  absl::StatusOr<std::vector<StoredEntry>> local =
      ledger_->ReadEntriesAt(scattered);
  ASSERT_THAT(local, IsOk());
  for (size_t i = 0; i < scattered.size(); ++i) {
    EXPECT_EQ((*entries)[i].entry.seq(), scattered[i]);
    EXPECT_EQ((*entries)[i].bytes, (*local)[i].bytes);
  }
  EXPECT_THAT(remote->ReadEntriesAt({}), IsOkAndHolds(SizeIs(0)));
  const uint64_t beyond[] = {3, 16};
  EXPECT_THAT(remote->ReadEntriesAt(beyond),
              StatusIs(absl::StatusCode::kOutOfRange));
}

TEST_F(LedgerServiceTest, GetCheckpointBySize) {
  ASSERT_TRUE(Append(MakeAppend("svc:test", "two", {"a", "b"})).ok());
  ASSERT_TRUE(Append(MakeAppend("svc:test", "three", {"c", "d", "e"})).ok());
  ASSERT_EQ(ledger_->size(), 5u);

  const pb::Checkpoint latest = GetCheckpoint(std::nullopt);
  EXPECT_EQ(latest.tree_size(), 5u);
  const pb::Checkpoint at5 = GetCheckpoint(5);
  EXPECT_EQ(at5.SerializeAsString(), latest.SerializeAsString());
  const pb::Checkpoint at2 = GetCheckpoint(2);
  EXPECT_EQ(at2.tree_size(), 2u);
  EXPECT_EQ(at2.origin(), kOrigin);
  absl::StatusOr<std::unique_ptr<CheckpointVerifier>> verifier =
      CheckpointVerifier::FromPublicKeyPem(at2.public_key_pem());
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  EXPECT_TRUE((*verifier)->Verify(at2.body(), at2.signature()).ok());
  EXPECT_EQ(ToHash(at2.root_hash()), *ledger_->RootAt(2));

  grpc::Status status;
  GetCheckpoint(3, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND)
      << status.error_message();
  GetCheckpoint(6, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::OUT_OF_RANGE)
      << status.error_message();
  GetCheckpoint(UINT64_MAX, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::OUT_OF_RANGE)
      << status.error_message();
}

TEST_F(LedgerServiceTest, ProofErrors) {
  AppendMany("proof", 5);
  auto inclusion = [&](uint64_t leaf_index, std::optional<uint64_t> tree_size) {
    pb::GetInclusionProofRequest request;
    request.set_leaf_index(leaf_index);
    if (tree_size.has_value()) request.set_tree_size(*tree_size);
    pb::GetInclusionProofResponse response;
    return stub().GetInclusionProof(NewContext().get(), request, &response);
  };
  EXPECT_EQ(inclusion(5, 5).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(inclusion(5, std::nullopt).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(inclusion(0, 0).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(inclusion(0, 6).error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(inclusion(0, UINT64_MAX).error_code(),
            grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_TRUE(inclusion(4, 5).ok());
  EXPECT_TRUE(inclusion(0, 1).ok());

  auto consistency = [&](uint64_t old_size, std::optional<uint64_t> new_size) {
    pb::GetConsistencyProofRequest request;
    request.set_old_size(old_size);
    if (new_size.has_value()) request.set_new_size(*new_size);
    pb::GetConsistencyProofResponse response;
    return stub().GetConsistencyProof(NewContext().get(), request, &response);
  };
  EXPECT_EQ(consistency(4, 2).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(consistency(6, std::nullopt).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(consistency(3, 6).error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_TRUE(consistency(0, 5).ok());
  EXPECT_TRUE(consistency(5, 5).ok());
}

TEST_F(LedgerServiceTest, ConsistencyProofsBetweenCheckpointsVerify) {
  std::vector<pb::Checkpoint> checkpoints;
  for (int round = 0; round < 6; ++round) {
    AppendMany(absl::StrCat("round", round), round + 1);
    checkpoints.push_back(GetCheckpoint(std::nullopt));
  }
  for (const pb::Checkpoint& old_checkpoint : checkpoints) {
    for (const pb::Checkpoint& new_checkpoint : checkpoints) {
      if (old_checkpoint.tree_size() > new_checkpoint.tree_size()) continue;
      SCOPED_TRACE(absl::StrCat(old_checkpoint.tree_size(), " -> ",
                                new_checkpoint.tree_size()));
      pb::GetConsistencyProofRequest request;
      request.set_old_size(old_checkpoint.tree_size());
      request.set_new_size(new_checkpoint.tree_size());
      pb::GetConsistencyProofResponse response;
      const grpc::Status status =
          stub().GetConsistencyProof(NewContext().get(), request, &response);
      ASSERT_TRUE(status.ok()) << status.error_message();
      EXPECT_EQ(response.old_size(), old_checkpoint.tree_size());
      EXPECT_EQ(response.new_size(), new_checkpoint.tree_size());
      const std::vector<merkle::Hash> proof = ToHashes(response.hashes());
      const merkle::Hash old_root = ToHash(old_checkpoint.root_hash());
      const merkle::Hash new_root = ToHash(new_checkpoint.root_hash());
      EXPECT_TRUE(merkle::VerifyConsistency(old_checkpoint.tree_size(),
                                            new_checkpoint.tree_size(),
                                            old_root, new_root, proof)
                      .ok());
      if (old_checkpoint.tree_size() < new_checkpoint.tree_size()) {
        // Against another root the proof fails.
        merkle::Hash forged = new_root;
        forged[0] ^= 1;
        EXPECT_FALSE(merkle::VerifyConsistency(old_checkpoint.tree_size(),
                                               new_checkpoint.tree_size(),
                                               old_root, forged, proof)
                         .ok());
      }
    }
  }
  // Without new_size: up to the newest checkpoint.
  pb::GetConsistencyProofRequest request;
  request.set_old_size(checkpoints[2].tree_size());
  pb::GetConsistencyProofResponse response;
  ASSERT_TRUE(
      stub().GetConsistencyProof(NewContext().get(), request, &response).ok());
  EXPECT_EQ(response.new_size(), checkpoints.back().tree_size());
  EXPECT_TRUE(merkle::VerifyConsistency(checkpoints[2].tree_size(),
                                        checkpoints.back().tree_size(),
                                        ToHash(checkpoints[2].root_hash()),
                                        ToHash(checkpoints.back().root_hash()),
                                        ToHashes(response.hashes()))
                  .ok());
}

// ---------------------------------------------------------------------------
// TailEntries.

// Reads a tail stream on its own thread, collecting entries.
class TailReader {
 public:
  TailReader(pb::LedgerService::Stub& stub, const std::string& authorization,
             uint64_t from_seq, absl::Duration timeout = absl::Seconds(30)) {
    context_ = NewContext(authorization, timeout);
    pb::TailEntriesRequest request;
    request.set_from_seq(from_seq);
    reader_ = stub.TailEntries(context_.get(), request);
    thread_ = std::thread([this] { Run(); });
  }
  ~TailReader() {
    context_->TryCancel();
    if (thread_.joinable()) thread_.join();
  }

  // Waits until at least `count` entries arrived; false on timeout or end.
  bool WaitForEntries(size_t count, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    absl::MutexLock lock(&mu_);
    while (entries_.size() < count && !finished_) {
      if (changed_.WaitWithDeadline(&mu_, deadline)) break;
    }
    return entries_.size() >= count;
  }
  // Waits for the stream to end; false on timeout.
  bool WaitForEnd(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    absl::MutexLock lock(&mu_);
    while (!finished_) {
      if (changed_.WaitWithDeadline(&mu_, deadline)) break;
    }
    return finished_;
  }
  void Cancel() { context_->TryCancel(); }

  std::vector<pb::Entry> entries() {
    absl::MutexLock lock(&mu_);
    return entries_;
  }
  grpc::Status status() {
    absl::MutexLock lock(&mu_);
    return status_;
  }
  int empty_messages() {
    absl::MutexLock lock(&mu_);
    return empty_messages_;
  }

 private:
  void Run() {
    pb::TailEntriesResponse response;
    while (reader_->Read(&response)) {
      absl::MutexLock lock(&mu_);
      if (response.entries_size() == 0) ++empty_messages_;
      for (const pb::StoredEntry& stored : response.entries()) {
        pb::Entry parsed;
        EXPECT_TRUE(parsed.ParseFromString(stored.entry_bytes()));
        EXPECT_EQ(parsed.seq(), stored.entry().seq());
        entries_.push_back(stored.entry());
      }
      changed_.SignalAll();
    }
    grpc::Status status = reader_->Finish();
    absl::MutexLock lock(&mu_);
    status_ = status;
    finished_ = true;
    changed_.SignalAll();
  }

  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientReader<pb::TailEntriesResponse>> reader_;
  absl::Mutex mu_;
  absl::CondVar changed_;
  std::vector<pb::Entry> entries_ ABSL_GUARDED_BY(mu_);
  int empty_messages_ ABSL_GUARDED_BY(mu_) = 0;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

TEST_F(LedgerServiceTest, TailStreamsExistingThenNewEntriesInOrder) {
  AppendMany("before", 5);
  TailReader tail(stub(), Bearer(), 0);
  ASSERT_TRUE(tail.WaitForEntries(5, absl::Seconds(10)));

  constexpr int kRequests = 40;
  constexpr int kEntriesPerRequest = 3;
  std::atomic<bool> append_failed{false};
  std::thread appender([&] {
    for (int i = 0; i < kRequests; ++i) {
      std::vector<std::string> payloads;
      for (int j = 0; j < kEntriesPerRequest; ++j) {
        payloads.push_back(absl::StrCat("after-", i, "-", j));
      }
      if (!Append(MakeAppend("svc:test", absl::StrCat("after-", i), payloads))
               .ok()) {
        append_failed = true;
      }
      if (i % 8 == 0) absl::SleepFor(absl::Milliseconds(20));
    }
  });
  appender.join();
  ASSERT_FALSE(append_failed);
  const size_t total = 5 + kRequests * kEntriesPerRequest;
  ASSERT_TRUE(tail.WaitForEntries(total, absl::Seconds(10)))
      << tail.entries().size();
  const std::vector<pb::Entry> entries = tail.entries();
  ASSERT_THAT(entries, SizeIs(total));
  for (size_t seq = 0; seq < total; ++seq) {
    EXPECT_EQ(entries[seq].seq(), seq);
  }
  EXPECT_EQ(entries[0].payload(), "before0");
  EXPECT_EQ(entries[5].payload(), "after-0-0");
  EXPECT_EQ(entries.back().payload(),
            absl::StrCat("after-", kRequests - 1, "-", kEntriesPerRequest - 1));
  EXPECT_EQ(tail.empty_messages(), 0);

  tail.Cancel();
  ASSERT_TRUE(tail.WaitForEnd(absl::Seconds(5)));
  EXPECT_EQ(tail.status().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(LedgerServiceTest, TailFromTheMiddleAndFromTheFuture) {
  AppendMany("mid", 6);
  TailReader middle(stub(), Bearer(), 4);
  TailReader future(stub(), Bearer(), 8);
  ASSERT_TRUE(middle.WaitForEntries(2, absl::Seconds(10)));
  AppendMany("more", 4);
  ASSERT_TRUE(middle.WaitForEntries(6, absl::Seconds(10)));
  ASSERT_TRUE(future.WaitForEntries(2, absl::Seconds(10)));
  const std::vector<pb::Entry> from_middle = middle.entries();
  ASSERT_THAT(from_middle, SizeIs(6));
  for (size_t i = 0; i < from_middle.size(); ++i) {
    EXPECT_EQ(from_middle[i].seq(), 4 + i);
  }
  const std::vector<pb::Entry> from_future = future.entries();
  ASSERT_THAT(from_future, SizeIs(2));
  EXPECT_EQ(from_future[0].seq(), 8u);
  EXPECT_EQ(from_future[1].seq(), 9u);
}

TEST_F(LedgerServiceTest, TailEndsWhenTheClientCancels) {
  AppendMany("cancel", 2);
  TailReader tail(stub(), Bearer(), 0);
  ASSERT_TRUE(tail.WaitForEntries(2, absl::Seconds(10)));
  const absl::Time start = absl::Now();
  tail.Cancel();
  ASSERT_TRUE(tail.WaitForEnd(absl::Seconds(5)));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_EQ(tail.status().error_code(), grpc::StatusCode::CANCELLED);
  // The server is still serving.
  AppendMany("after-cancel", 1);
  EXPECT_EQ(ledger_->size(), 3u);
}

TEST_F(LedgerServiceTest, StopEndsTailStreams) {
  AppendMany("stop", 2);
  TailReader first(stub(), Bearer(), 0);
  // Both streams are being served once they received an entry.
  TailReader second(stub(), Bearer(), 1);
  ASSERT_TRUE(first.WaitForEntries(2, absl::Seconds(10)));
  ASSERT_TRUE(second.WaitForEntries(1, absl::Seconds(10)));
  const absl::Time start = absl::Now();
  server_->service().Stop();
  ASSERT_TRUE(first.WaitForEnd(absl::Seconds(5)));
  ASSERT_TRUE(second.WaitForEnd(absl::Seconds(5)));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_TRUE(first.status().ok()) << first.status().error_message();
  EXPECT_TRUE(second.status().ok()) << second.status().error_message();

  // New streams are refused; other calls still work.
  TailReader late(stub(), Bearer(), 0);
  ASSERT_TRUE(late.WaitForEnd(absl::Seconds(5)));
  EXPECT_EQ(late.status().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(late.entries(), SizeIs(0));
  EXPECT_TRUE(Append(MakeAppend("svc:test", "after-stop", {"x"})).ok());
}

TEST_F(LedgerServiceTest, TailWithAShortDeadlineEndsWithDeadlineExceeded) {
  AppendMany("deadline", 3);
  const absl::Time start = absl::Now();
  TailReader tail(stub(), Bearer(), 0, absl::Milliseconds(500));
  ASSERT_TRUE(tail.WaitForEnd(absl::Seconds(5)));
  EXPECT_EQ(tail.status().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << tail.status().error_message();
  EXPECT_THAT(tail.entries(), SizeIs(3));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  // The server gave up on the stream too: it serves on.
  AppendMany("after-deadline", 1);
}

TEST_F(LedgerServiceTest, TailHandlerEndsAtTheCallsDeadline) {
  // With a poll interval far longer than the call, only the deadline can
  // wake the handler: the server's shutdown waits for it, and ends within
  // the wait below only if the handler returned at the deadline.
  LedgerServiceOptions options;
  options.tail_poll_interval = absl::Seconds(120);
  auto server =
      std::make_unique<TestServer>(ledger_.get(), token_hash_, options);
  {
    TailReader tail(server->stub(), Bearer(), 0, absl::Milliseconds(300));
    ASSERT_TRUE(tail.WaitForEnd(absl::Seconds(5)));
    EXPECT_EQ(tail.status().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
        << tail.status().error_message();
  }
  absl::Notification shut_down;
  std::thread shutdown([&] {
    server.reset();
    shut_down.Notify();
  });
  EXPECT_TRUE(shut_down.WaitForNotificationWithTimeout(absl::Seconds(30)));
  shutdown.join();
}

TEST_F(LedgerServiceTest, UnaryCallsHonourDeadlines) {
  // An already-expired deadline fails on the client without being served. It
  // lies in the past: a deadline of "now" may still be ahead of the clock
  // when the call starts, and then the call is served.
  pb::AppendResponse response;
  std::unique_ptr<grpc::ClientContext> context =
      NewContext(Bearer(), -absl::Seconds(1));
  const grpc::Status status = stub().Append(
      context.get(), MakeAppend("svc:test", "late", {"x"}), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(ledger_->size(), 0u);
}

// A front service passes its caller's deadline on to the ledger calls it
// makes (ScopedCallDeadline): a caller that has stopped waiting does not keep
// the ledger busy for the client's own 30 s.
TEST_F(LedgerServiceTest, RemoteClientCallsEndByTheServedCallsDeadline) {
  std::unique_ptr<LedgerClient> client =
      NewRemoteLedgerClient(server_->channel(), token_, absl::Seconds(30));
  ASSERT_THAT(client->Append(MakeRequest("svc:test", "k1", {{"t.K", "x"}})),
              IsOk());
  {
    const ScopedCallDeadline deadline(absl::Now() - absl::Seconds(1));
    EXPECT_THAT(client->Append(MakeRequest("svc:test", "k2", {{"t.K", "y"}})),
                StatusIs(absl::StatusCode::kDeadlineExceeded));
    EXPECT_THAT(client->LatestCheckpoint(),
                StatusIs(absl::StatusCode::kDeadlineExceeded));
    // An inner scope cannot extend the outer deadline.
    const ScopedCallDeadline later(absl::Now() + absl::Hours(1));
    EXPECT_LT(ScopedCallDeadline::Current(), absl::Now());
  }
  // Out of the scope the client's own timeout applies again.
  EXPECT_EQ(ScopedCallDeadline::Current(), absl::InfiniteFuture());
  EXPECT_THAT(client->LatestCheckpoint(), IsOk());
  EXPECT_EQ(ledger_->size(), 1u);
}

// The log reconciliation reads back through either client, batch by batch.
TEST_F(LedgerServiceTest, LedgerClientLogScansInBatchesThroughEitherClient) {
  AppendMany("log", 25);
  std::unique_ptr<LedgerClient> in_process =
      NewInProcessLedgerClient(ledger_.get());
  std::unique_ptr<LedgerClient> remote =
      NewRemoteLedgerClient(server_->channel(), token_, absl::Seconds(30));
  for (LedgerClient* client : {in_process.get(), remote.get()}) {
    const LedgerClientLog log(client, /*batch_entries=*/4);
    std::vector<uint64_t> seqs;
    const auto collect = [&](const pb::Entry& entry) {
      seqs.push_back(entry.seq());
      return absl::OkStatus();
    };
    ASSERT_THAT(log.Scan(3, 20, collect), IsOk());
    std::vector<uint64_t> want(17);
    std::iota(want.begin(), want.end(), 3);
    EXPECT_EQ(seqs, want);

    // A range past the end visits what there is, then fails: callers only
    // ask for entries they know are there.
    seqs.clear();
    EXPECT_THAT(log.Scan(22, 30, collect),
                StatusIs(absl::StatusCode::kDataLoss));
    EXPECT_EQ(seqs, (std::vector<uint64_t>{22, 23, 24}));

    // The visitor's error stops the scan and is returned.
    seqs.clear();
    EXPECT_THAT(log.Scan(0, 25,
                         [&](const pb::Entry& entry) {
                           seqs.push_back(entry.seq());
                           return entry.seq() == 6
                                      ? absl::DataLossError("not applied")
                                      : absl::OkStatus();
                         }),
                StatusIs(absl::StatusCode::kDataLoss));
    EXPECT_EQ(seqs.size(), 7u);

    absl::StatusOr<pb::Entry> entry = log.Read(5);
    ASSERT_THAT(entry, IsOk());
    EXPECT_EQ(entry->seq(), 5u);
    EXPECT_THAT(log.Read(25), StatusIs(absl::StatusCode::kNotFound));
  }

  // Batches are read ahead on another thread, under the deadline of the
  // call being served all the same.
  const LedgerClientLog log(remote.get(), /*batch_entries=*/4);
  const ScopedCallDeadline deadline(absl::Now() - absl::Seconds(1));
  EXPECT_THAT(
      log.Scan(0, 25, [](const pb::Entry&) { return absl::OkStatus(); }),
      StatusIs(absl::StatusCode::kDeadlineExceeded));
}

// A lookup key's entries read alike through either client: the remote one
// finds them, then reads them (the server checks each against its leaf).
TEST_F(LedgerServiceTest, ReadByLookupKeyThroughEitherClient) {
  TestIndexer indexer;
  LedgerOptions options;
  options.data_dir = dir_.Sub("indexed");
  options.create_if_missing = true;
  options.origin = kOrigin;
  options.indexer = &indexer;
  absl::StatusOr<std::unique_ptr<Ledger>> ledger = Ledger::Open(options);
  ASSERT_THAT(ledger, IsOk());
  for (int i = 0; i < 6; ++i) {
    ASSERT_THAT((*ledger)->Append(OneEntry("svc:test", absl::StrCat("k", i),
                                           i % 2 == 0 ? "lookup:w" : "plain")),
                IsOk());
  }
  const uint64_t holders[] = {0, 2, 4};
  absl::StatusOr<std::vector<StoredEntry>> want =
      (*ledger)->ReadEntriesAt(holders);
  ASSERT_THAT(want, IsOk());
  TestServer server(ledger->get(), token_hash_, LedgerServiceOptions());
  std::unique_ptr<LedgerClient> in_process =
      NewInProcessLedgerClient(ledger->get());
  std::unique_ptr<LedgerClient> remote =
      NewRemoteLedgerClient(server.channel(), token_, absl::Seconds(30));
  for (LedgerClient* client : {in_process.get(), remote.get()}) {
    absl::StatusOr<std::vector<StoredEntry>> read =
        client->ReadByLookupKey("w", std::nullopt, 10);
    ASSERT_THAT(read, IsOk());
    ASSERT_THAT(*read, SizeIs(3));
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ((*read)[i].entry.seq(), holders[i]);
      EXPECT_EQ((*read)[i].bytes, (*want)[i].bytes);
    }
    read = client->ReadByLookupKey("w", 0, 1);
    ASSERT_THAT(read, IsOk());
    ASSERT_THAT(*read, SizeIs(1));
    EXPECT_EQ(read->front().entry.seq(), 2u);
    EXPECT_THAT(client->ReadByLookupKey("nobody", std::nullopt, 10),
                IsOkAndHolds(SizeIs(0)));
  }
}

// A remote ledger caps each response (entries and bytes), so batches come
// back short of what was asked while the next ones are already being read
// ahead: the scan reads what is missing in between, and visits every entry
// once, in order.
TEST_F(LedgerServiceTest, LedgerClientLogFillsTheGapsOfShortBatches) {
  LedgerServiceOptions options;
  options.entries_per_response_max = 3;
  options.bytes_per_response_max = 3000;
  options.tail_poll_interval = kTailPollInterval;
  TestServer small(ledger_.get(), token_hash_, options);
  AppendBigEntries(10);
  AppendMany("small", 20);
  const uint64_t size = ledger_->size();
  std::unique_ptr<LedgerClient> remote =
      NewRemoteLedgerClient(small.channel(), token_, absl::Seconds(30));
  const LedgerClientLog log(remote.get(), /*batch_entries=*/5);
  for (const auto& [begin_seq, end_seq] :
       {std::pair<uint64_t, uint64_t>{0, size}, {2, size - 1}, {7, 9}}) {
    std::vector<uint64_t> seqs;
    ASSERT_THAT(log.Scan(begin_seq, end_seq,
                         [&](const pb::Entry& entry) {
                           seqs.push_back(entry.seq());
                           return absl::OkStatus();
                         }),
                IsOk());
    std::vector<uint64_t> want(end_seq - begin_seq);
    std::iota(want.begin(), want.end(), begin_seq);
    EXPECT_EQ(seqs, want) << begin_seq << " to " << end_seq;
  }
}

// ---------------------------------------------------------------------------
// Health and reflection, through the generic stub: grpc.health.v1's
// HealthCheckRequest is {string service = 1}, HealthCheckResponse is
// {ServingStatus status = 1} with SERVING = 1.

std::string HealthCheckRequest(absl::string_view service) {
  if (service.empty()) return "";
  return absl::StrCat("\x0a", std::string(1, static_cast<char>(service.size())),
                      service);
}

TEST_F(LedgerServiceTest, HealthCheckServes) {
  std::string response;
  grpc::Status status =
      RawUnaryCall(server_->channel(), "/grpc.health.v1.Health/Check",
                   HealthCheckRequest(""), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response, std::string("\x08\x01", 2));  // SERVING

  status = RawUnaryCall(server_->channel(), "/grpc.health.v1.Health/Check",
                        HealthCheckRequest("no.such.Service"), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(LedgerServiceTest, ReflectionListsTheLedgerService) {
  // ServerReflectionRequest{list_services = ""} (field 7).
  const std::string request("\x3a\x00", 2);
  std::vector<std::string> responses;
  const grpc::Status status = RawBidiCall(
      server_->channel(),
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", request,
      &responses);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_THAT(responses, SizeIs(1));
  EXPECT_THAT(responses[0], HasSubstr("wsr.premium.v1.LedgerService"));
  EXPECT_THAT(responses[0], HasSubstr("grpc.health.v1.Health"));
}

}  // namespace
}  // namespace premium
