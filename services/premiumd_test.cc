// End-to-end tests of the premiumd and premiumctl binaries, driven as a user
// or a script would: premiumd as a child process on 127.0.0.1:0 (its first
// line of standard output names the port), premiumctl run per command, and
// this test talking gRPC to the server with the token from ledger.token.
//
// Every wait has a timeout; a child still running at the end of a test is
// killed, so a hung binary fails the test instead of hanging it.
#include <fcntl.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/checkpoint/checkpoint.h"
#include "ledger/merkle/hasher.h"
#include "ledger/premium/indexer.h"
#include "ledger/testing/child_process.h"
#include "ledger/testing/ledger_testing.h"
#include "ledger/util/files.h"
#include "nlohmann/json.hpp"
#include "services/credentials.h"
#include "services/testing/service_testing.h"
#include "wsr/premium/v1/ledger.grpc.pb.h"
#include "wsr/premium/v1/records.pb.h"

namespace premium {
namespace {

namespace pb = wsr::premium::v1;
using ::premium::testing::Bearer;
using ::premium::testing::Child;
using ::premium::testing::CommandResult;
using ::premium::testing::Context;
using ::premium::testing::ExpectOneLine;
using ::premium::testing::kCallTimeout;
using ::premium::testing::kFastBackupPolling;
using ::premium::testing::RawDb;
using ::premium::testing::ReadFileOrDie;
using ::premium::testing::RunCommand;
using ::premium::testing::TempDir;
using ::premium::testing::WriteFileOrDie;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr absl::Duration kStartTimeout = absl::Seconds(20);
constexpr absl::Duration kStopTimeout = absl::Seconds(15);

// ---------------------------------------------------------------------------

mode_t FileMode(const std::string& path) {
  struct stat info;
  EXPECT_EQ(stat(path.c_str(), &info), 0) << path;
  return info.st_mode & 07777;
}

std::string BigEndianSeq(uint64_t seq) {
  std::string key(8, '\0');
  for (int i = 7; i >= 0; --i) {
    key[i] = static_cast<char>(seq & 0xff);
    seq >>= 8;
  }
  return key;
}

std::string FlipFirstBitOfBase64(const std::string& text) {
  std::string bytes;
  EXPECT_TRUE(absl::Base64Unescape(text, &bytes)) << text;
  if (!bytes.empty()) bytes[0] ^= 1;
  return absl::Base64Escape(bytes);
}

std::unique_ptr<grpc::ClientContext> NewContext(
    absl::string_view token = {}, absl::Duration timeout = kCallTimeout) {
  return Context(Bearer(token), timeout);
}

// grpc.health.v1.Health/Check through the generic stub (Debian ships no
// health client): the request is {string service = 1}; the response
// {ServingStatus status = 1}, SERVING = 1.
grpc::Status HealthCheck(const std::shared_ptr<grpc::Channel>& channel,
                         absl::string_view service, std::string* response) {
  std::string request;
  if (!service.empty()) {
    request = absl::StrCat(
        "\x0a", std::string(1, static_cast<char>(service.size())), service);
  }
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::ClientContext> context = NewContext();
  grpc::Slice slice(request);
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> call =
      stub.PrepareUnaryCall(context.get(), "/grpc.health.v1.Health/Check",
                            grpc::ByteBuffer(&slice, 1), &cq);
  call->StartCall();
  grpc::ByteBuffer reply;
  grpc::Status status;
  call->Finish(&reply, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  EXPECT_TRUE(cq.Next(&tag, &ok));
  EXPECT_EQ(tag, reinterpret_cast<void*>(1));
  if (status.ok()) {
    std::vector<grpc::Slice> slices;
    EXPECT_TRUE(reply.Dump(&slices).ok());
    response->clear();
    for (const grpc::Slice& s : slices) {
      response->append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
  }
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

// ---------------------------------------------------------------------------

// premiumd derives keys from its entries and refuses kinds it does not know:
// the test appends Suspensions, which carry no unique key, each marked by its
// reason.
std::string SuspensionPayload(absl::string_view marker) {
  pb::Suspension suspension;
  suspension.set_program_id("program-test");
  suspension.set_supplier_id("supplier-test");
  suspension.set_from_date("2024-01-01");
  suspension.set_reason(std::string(marker));
  return suspension.SerializeAsString();
}

// The marker of an entry the test appended; "" for any other entry.
std::string MarkerOf(const pb::Entry& entry) {
  pb::Suspension suspension;
  if (entry.kind() != kSuspensionKind ||
      !suspension.ParseFromString(entry.payload())) {
    return "";
  }
  return suspension.reason();
}

struct ServingLine {
  std::string origin;
  uint64_t tree_size = 0;
  int port = 0;
};

// Parses premiumd's first line:
//   premiumd: serving ledger "<origin>" (tree size <N>) on 127.0.0.1:<port>
// (by hand: GCC 12's std::regex trips -Wmaybe-uninitialized under ASan).
bool ParseServingLine(absl::string_view line, ServingLine* serving) {
  if (!absl::ConsumePrefix(&line, "premiumd: serving ledger \"")) return false;
  const size_t quote = line.rfind("\" (tree size ");
  if (quote == absl::string_view::npos) return false;
  serving->origin = std::string(line.substr(0, quote));
  line.remove_prefix(quote + std::strlen("\" (tree size "));
  const size_t paren = line.find(") on 127.0.0.1:");
  if (paren == absl::string_view::npos) return false;
  return absl::SimpleAtoi(line.substr(0, paren), &serving->tree_size) &&
         absl::SimpleAtoi(line.substr(paren + std::strlen(") on 127.0.0.1:")),
                          &serving->port);
}

class PremiumdTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(kFastBackupPolling); }
  void TearDown() override { server_.reset(); }

  // Starts premiumd on `data_dir_` and parses its first line into
  // `serving` (may be null). Call as ASSERT_NO_FATAL_FAILURE(StartServer()):
  // a server that did not start ends the test.
  void StartServer(ServingLine* serving = nullptr,
                   const std::vector<std::string>& extra_args = {}) {
    std::vector<std::string> args = {PREMIUMD_PATH, "--data-dir", data_dir_,
                                     "--listen", "127.0.0.1:0"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    server_ = Child::Start(args);
    ASSERT_NE(server_, nullptr);
    const std::optional<std::string> line =
        server_->WaitForFirstLine(kStartTimeout);
    ASSERT_TRUE(line.has_value())
        << "premiumd printed no line; stderr: " << server_->err();
    ServingLine parsed;
    ASSERT_TRUE(ParseServingLine(*line, &parsed))
        << "unexpected first line: " << *line << "\nstderr: " << server_->err();
    ASSERT_GT(parsed.port, 0);
    address_ = absl::StrCat("127.0.0.1:", parsed.port);
    channel_ =
        grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
    stub_ = pb::LedgerService::NewStub(channel_);
    absl::StatusOr<std::string> token =
        ReadTokenFile(absl::StrCat(data_dir_, "/ledger.token"));
    ASSERT_TRUE(token.ok()) << token.status();
    token_ = *token;
    if (serving != nullptr) *serving = parsed;
  }

  // Sends `signal_number` and expects a clean exit (0) within a few seconds.
  void StopServer(int signal_number = SIGTERM) {
    ASSERT_NE(server_, nullptr);
    const absl::Time start = absl::Now();
    server_->Signal(signal_number);
    const std::optional<int> exit_code = server_->WaitForExit(kStopTimeout);
    ASSERT_TRUE(exit_code.has_value())
        << "premiumd ignored signal " << signal_number;
    EXPECT_EQ(*exit_code, 0) << server_->err();
    // Standard output holds the serving line only; logs go to stderr.
    const std::string out = server_->out();
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
    EXPECT_LT(absl::Now() - start, absl::Seconds(5))
        << "signal sent at " << start << "\n"
        << server_->out() << server_->err();
    server_.reset();
    stub_.reset();
    channel_.reset();
  }

  grpc::Status Append(absl::string_view key,
                      const std::vector<std::string>& markers,
                      pb::AppendReceipt* receipt = nullptr,
                      pb::LedgerService::Stub* stub = nullptr) {
    pb::AppendRequest request;
    request.set_actor("svc:premiumd-test");
    request.set_idempotency_key(std::string(key));
    for (const std::string& marker : markers) {
      pb::AppendEntry* entry = request.add_entries();
      entry->set_kind(kSuspensionKind);
      entry->set_payload(SuspensionPayload(marker));
    }
    pb::AppendResponse response;
    const grpc::Status status =
        (stub != nullptr ? stub : stub_.get())
            ->Append(NewContext(token_, absl::Seconds(3)).get(), request,
                     &response);
    if (receipt != nullptr) *receipt = response.receipt();
    return status;
  }

  void AppendMany(absl::string_view prefix, int count) {
    for (int i = 0; i < count; ++i) {
      const grpc::Status status = Append(absl::StrCat(prefix, "-", i),
                                         {absl::StrCat(prefix, " entry ", i)});
      ASSERT_TRUE(status.ok()) << status.error_message();
    }
  }

  std::vector<pb::StoredEntry> ReadAll() {
    std::vector<pb::StoredEntry> entries;
    for (;;) {
      pb::ReadEntriesRequest request;
      request.set_begin_seq(entries.size());
      request.set_end_seq(UINT64_MAX);
      pb::ReadEntriesResponse response;
      const grpc::Status status =
          stub_->ReadEntries(NewContext(token_).get(), request, &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok() || response.entries_size() == 0) break;
      for (const pb::StoredEntry& entry : response.entries()) {
        entries.push_back(entry);
      }
    }
    return entries;
  }

  pb::Checkpoint LatestCheckpoint() {
    pb::GetCheckpointResponse response;
    const grpc::Status status = stub_->GetCheckpoint(
        NewContext().get(), pb::GetCheckpointRequest(), &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.checkpoint();
  }

  // premiumctl --server <this server> <args>.
  CommandResult Ctl(const std::vector<std::string>& args) {
    std::vector<std::string> command = {PREMIUMCTL_PATH, "--server", address_,
                                        "--timeout", "10"};
    command.insert(command.end(), args.begin(), args.end());
    return RunCommand(command);
  }

  TempDir dir_;
  const std::string data_dir_ = dir_.Sub("data");
  std::unique_ptr<Child> server_;
  std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::LedgerService::Stub> stub_;
  std::string token_;
};

// ---------------------------------------------------------------------------

TEST_F(PremiumdTest, FirstStartCreatesKeyTokenAndDatabase) {
  ServingLine serving;
  ASSERT_NO_FATAL_FAILURE(StartServer(&serving));
  EXPECT_FALSE(serving.origin.empty());

  EXPECT_EQ(FileMode(data_dir_ + "/signing_key.pem"), 0600u);
  EXPECT_TRUE(
      std::filesystem::is_regular_file(data_dir_ + "/signing_key.pub.pem"));
  EXPECT_EQ(FileMode(data_dir_ + "/ledger.token"), 0600u);
  EXPECT_EQ(FileMode(data_dir_ + "/admin.token"), 0600u);
  EXPECT_TRUE(std::filesystem::is_directory(data_dir_ + "/db"));
  EXPECT_THAT(token_, StartsWith("ledger_"));
  EXPECT_GE(token_.size(), 7u + 52u);

  // The token works, and the checkpoint names the key of the data directory.
  pb::AppendReceipt receipt;
  ASSERT_TRUE(Append("first", {"hello"}, &receipt).ok());
  EXPECT_EQ(receipt.first_seq(), serving.tree_size);
  const pb::Checkpoint checkpoint = LatestCheckpoint();
  EXPECT_EQ(checkpoint.tree_size(), serving.tree_size + 1);
  EXPECT_EQ(checkpoint.origin(), serving.origin);
  EXPECT_EQ(checkpoint.public_key_pem(),
            ReadFileOrDie(data_dir_ + "/signing_key.pub.pem"));

  // Health: the server and the ledger service are SERVING.
  for (const char* service : {"", "wsr.premium.v1.LedgerService"}) {
    SCOPED_TRACE(service);
    std::string response;
    const grpc::Status status = HealthCheck(channel_, service, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response, std::string("\x08\x01", 2));
  }
  ASSERT_NO_FATAL_FAILURE(StopServer());
}

TEST_F(PremiumdTest, CheckpointAndConsistencyThroughPremiumctl) {
  // premiumd may append entries of its own on first start.
  ServingLine serving;
  ASSERT_NO_FATAL_FAILURE(StartServer(&serving));
  const uint64_t base = serving.tree_size;
  AppendMany("before", 5);
  const pb::Checkpoint served = LatestCheckpoint();

  // ledger checkpoint --out: the JSON of DESIGN section 8.
  const std::string cp_path = dir_.Sub("cp.json");
  CommandResult result = Ctl({"ledger", "checkpoint", "--out", cp_path});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "");
  const nlohmann::json saved = nlohmann::json::parse(ReadFileOrDie(cp_path));
  EXPECT_EQ(saved["origin"], served.origin());
  EXPECT_EQ(saved["tree_size"], base + 5);
  EXPECT_EQ(saved["root_hash"], absl::Base64Escape(served.root_hash()));
  EXPECT_EQ(saved["signature"], absl::Base64Escape(served.signature()));
  EXPECT_EQ(saved["public_key"],
            ReadFileOrDie(data_dir_ + "/signing_key.pub.pem"));
  std::string root;
  ASSERT_TRUE(
      absl::Base64Unescape(saved["root_hash"].get<std::string>(), &root));
  EXPECT_EQ(root.size(), merkle::kHashBytes);

  // --output json: one JSON document with the same fields.
  result = Ctl({"--output", "json", "ledger", "checkpoint"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json printed =
      nlohmann::json::parse(result.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(printed.is_discarded()) << result.out;
  EXPECT_EQ(printed, saved);
  for (const char* field :
       {"origin", "tree_size", "root_hash", "signature", "public_key"}) {
    EXPECT_TRUE(printed.contains(field)) << field;
  }
  // --out does not overwrite.
  result = Ctl({"ledger", "checkpoint", "--out", cp_path});
  EXPECT_NE(result.exit_code, 0);
  ExpectOneLine(result.err);
  EXPECT_THAT(result.err, HasSubstr("exists"));

  AppendMany("after", 3);
  result = Ctl({"ledger", "consistency", "--from", cp_path});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out,
              HasSubstr(absl::StrCat("from ", base + 5, " to ", base + 8)));
  result =
      Ctl({"--output", "json", "ledger", "consistency", "--from", cp_path});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json consistent = nlohmann::json::parse(result.out);
  EXPECT_EQ(consistent["consistent"], true);
  EXPECT_EQ(consistent["old_tree_size"], base + 5);
  EXPECT_EQ(consistent["new_tree_size"], base + 8);

  // Tampered checkpoints: the command fails with one line on stderr.
  absl::StatusOr<std::unique_ptr<CheckpointSigner>> other_key =
      CheckpointSigner::CreateInDirectory(dir_.path());
  ASSERT_TRUE(other_key.ok()) << other_key.status();
  absl::StatusOr<std::unique_ptr<CheckpointSigner>> ledger_key =
      CheckpointSigner::LoadFromDirectory(data_dir_);
  ASSERT_TRUE(ledger_key.ok()) << ledger_key.status();
  // A checkpoint validly signed by `signer` for `tree_size` and `root`.
  auto signed_checkpoint = [&](const CheckpointSigner& signer,
                               uint64_t tree_size, const std::string& root) {
    merkle::Hash hash;
    std::copy(root.begin(), root.end(), hash.begin());
    const std::string body = CheckpointBody(
        Checkpoint{saved["origin"].get<std::string>(), tree_size, hash});
    absl::StatusOr<std::string> signature = signer.Sign(body);
    EXPECT_TRUE(signature.ok()) << signature.status();
    nlohmann::json json = saved;
    json["tree_size"] = tree_size;
    json["root_hash"] = absl::Base64Escape(root);
    json["signature"] = absl::Base64Escape(signature.value_or(""));
    json["public_key"] = signer.public_key_pem();
    return json;
  };
  std::string forked_root = root;
  forked_root[5] ^= 0x40;
  struct Case {
    std::string name;
    nlohmann::json json;
    std::string message;
  };
  std::vector<Case> cases;
  cases.push_back({"root_hash changed", saved, ""});
  cases.back().json["root_hash"] =
      FlipFirstBitOfBase64(saved["root_hash"].get<std::string>());
  cases.push_back({"signature changed", saved, ""});
  cases.back().json["signature"] =
      FlipFirstBitOfBase64(saved["signature"].get<std::string>());
  cases.push_back({"tree_size changed", saved, ""});
  cases.back().json["tree_size"] = base + 4;
  cases.push_back({"public_key replaced", saved, ""});
  cases.back().json["public_key"] = (*other_key)->public_key_pem();
  // Genuinely signed by another ledger: the server's checkpoint is not.
  cases.push_back({"another ledger's checkpoint",
                   signed_checkpoint(**other_key, base + 5, root),
                   "INCONSISTENT"});
  // Signed by this ledger's key but for a history the ledger does not have.
  cases.push_back({"forked history",
                   signed_checkpoint(**ledger_key, base + 5, forked_root),
                   "INCONSISTENT"});
  cases.push_back({"same size, other root",
                   signed_checkpoint(**ledger_key, base + 8, forked_root),
                   "INCONSISTENT"});
  cases.push_back({"larger than the ledger",
                   signed_checkpoint(**ledger_key, base + 100, root),
                   "INCONSISTENT"});
  cases.push_back({"not JSON", "{not json", ""});
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].name);
    const std::string path = dir_.Sub(absl::StrCat("tampered", i, ".json"));
    WriteFileOrDie(path, cases[i].json.is_string()
                             ? cases[i].json.get<std::string>()
                             : cases[i].json.dump(2));
    result = Ctl({"ledger", "consistency", "--from", path});
    EXPECT_NE(result.exit_code, 0);
    EXPECT_EQ(result.out, "");
    ExpectOneLine(result.err);
    EXPECT_THAT(result.err, HasSubstr(cases[i].message));
  }

  result = Ctl({"ledger", "consistency", "--from", dir_.Sub("missing.json")});
  EXPECT_NE(result.exit_code, 0);
  ExpectOneLine(result.err);
  EXPECT_THAT(result.err, HasSubstr("missing.json: no such file"));

  // The genuine checkpoint still verifies.
  result = Ctl({"ledger", "consistency", "--from", cp_path});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  ASSERT_NO_FATAL_FAILURE(StopServer());
}

TEST_F(PremiumdTest, SigtermWhileAppendingKeepsEveryAcknowledgedAppend) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  constexpr int kEntriesPerRequest = 3;
  struct Acked {
    int request;
    uint64_t first_seq;
  };
  absl::Mutex mu;
  std::vector<Acked> acked;
  std::atomic<bool> stop_appending{false};
  std::atomic<int> failures{0};
  auto appender = [&](int thread_index) {
    auto channel =
        grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
    auto stub = pb::LedgerService::NewStub(channel);
    for (int i = 0; !stop_appending.load(); ++i) {
      const int request = thread_index * 1'000'000 + i;
      std::vector<std::string> markers;
      for (int j = 0; j < kEntriesPerRequest; ++j) {
        markers.push_back(absl::StrCat(request, "/", j));
      }
      pb::AppendReceipt receipt;
      const grpc::Status status =
          Append(absl::StrCat("req-", request), markers, &receipt, stub.get());
      if (status.ok()) {
        EXPECT_FALSE(receipt.replayed());
        EXPECT_EQ(receipt.entry_count(), 3u);
        absl::MutexLock lock(&mu);
        acked.push_back({request, receipt.first_seq()});
      } else {
        ++failures;
        absl::SleepFor(absl::Milliseconds(5));
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) threads.emplace_back(appender, t);

  // A tail stream is open too: it must not hold up the stop.
  auto tail_context = NewContext(token_, absl::Seconds(60));
  pb::TailEntriesRequest tail_request;
  auto tail = stub_->TailEntries(tail_context.get(), tail_request);
  std::atomic<uint64_t> tailed{0};
  threads.emplace_back([&] {
    pb::TailEntriesResponse response;
    while (tail->Read(&response)) tailed += response.entries_size();
  });
  // However the test ends, the threads stop before their state goes away.
  absl::Cleanup join_threads = [&] {
    stop_appending = true;
    tail_context->TryCancel();
    for (std::thread& thread : threads) {
      if (thread.joinable()) thread.join();
    }
  };

  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  for (;;) {
    {
      absl::MutexLock lock(&mu);
      if (acked.size() >= 60 && tailed.load() > 0) break;
    }
    ASSERT_LT(absl::Now(), deadline) << "appends are too slow";
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(failures.load(), 0);
  ASSERT_NO_FATAL_FAILURE(StopServer(SIGTERM));
  std::move(join_threads).Invoke();
  const grpc::Status tail_status = tail->Finish();
  EXPECT_NE(tail_status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_GT(tailed.load(), 0u);

  ServingLine restarted;
  ASSERT_NO_FATAL_FAILURE(StartServer(&restarted));
  const std::vector<pb::StoredEntry> entries = ReadAll();
  EXPECT_EQ(restarted.tree_size, entries.size());
  // Every request is whole: its entries are adjacent, in order, complete.
  for (size_t seq = 0; seq < entries.size();) {
    const pb::Entry& first = entries[seq].entry();
    ASSERT_EQ(first.seq(), seq);
    ASSERT_EQ(first.request_index(), 0u) << "seq " << seq;
    ASSERT_GT(first.request_entry_count(), 0u) << "seq " << seq;
    ASSERT_LE(seq + first.request_entry_count(), entries.size())
        << "the request at seq " << seq << " is cut short";
    for (uint32_t i = 1; i < first.request_entry_count(); ++i) {
      const pb::Entry& entry = entries[seq + i].entry();
      ASSERT_EQ(entry.seq(), seq + i);
      ASSERT_EQ(entry.request_index(), i) << "seq " << seq + i;
      ASSERT_EQ(entry.request_entry_count(), first.request_entry_count());
      ASSERT_EQ(entry.idempotency_key(), first.idempotency_key());
    }
    seq += first.request_entry_count();
  }
  // Every acknowledged request is where its receipt said.
  absl::MutexLock lock(&mu);
  EXPECT_GE(acked.size(), 60u);
  for (const Acked& a : acked) {
    ASSERT_LT(a.first_seq + 2, entries.size()) << "request " << a.request;
    for (int j = 0; j < kEntriesPerRequest; ++j) {
      const pb::Entry& entry = entries[a.first_seq + j].entry();
      EXPECT_EQ(entry.idempotency_key(), absl::StrCat("req-", a.request));
      EXPECT_EQ(MarkerOf(entry), absl::StrCat(a.request, "/", j));
    }
  }
  ASSERT_NO_FATAL_FAILURE(StopServer(SIGINT));

  const CommandResult verify =
      RunCommand({PREMIUMD_PATH, "verify", "--data-dir", data_dir_});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_THAT(verify.out, StartsWith("premiumd verify: OK"));
}

// The threads that handled a burst of calls handle the next one: gRPC's
// default kept two and started a thread for each call beyond them.
TEST_F(PremiumdTest, HandlerThreadsOutliveABurstOfCalls) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  // Each call waits for entries that never come, so all are handled at
  // once, each on its own thread, until their deadline.
  constexpr int kCalls = 16;
  pb::TailEntriesRequest request;
  request.set_from_seq(LatestCheckpoint().tree_size());
  const auto burst = [&] {
    std::vector<std::thread> callers;
    for (int i = 0; i < kCalls; ++i) {
      callers.emplace_back([&] {
        std::unique_ptr<grpc::ClientContext> context =
            NewContext(token_, absl::Seconds(2));
        std::unique_ptr<grpc::ClientReader<pb::TailEntriesResponse>> reader =
            pb::LedgerService::NewStub(channel_)->TailEntries(context.get(),
                                                              request);
        pb::TailEntriesResponse response;
        while (reader->Read(&response)) {
        }
        EXPECT_EQ(reader->Finish().error_code(),
                  grpc::StatusCode::DEADLINE_EXCEEDED);
      });
    }
    for (std::thread& caller : callers) caller.join();
    // The handlers end at their calls' deadline on the server, a moment
    // after the callers gave up; a thread still in one would be counted as
    // busy by the next burst.
    absl::SleepFor(absl::Milliseconds(500));
  };
  // The server's handler threads, by id.
  const auto handler_threads = [&] {
    std::set<std::string> ids;
    const std::string tasks = absl::StrCat("/proc/", server_->pid(), "/task");
    for (const auto& task : std::filesystem::directory_iterator(tasks)) {
      // A thread may end between the listing and the read.
      const absl::StatusOr<std::string> name =
          ReadSmallFile(task.path().string() + "/comm", 64);
      if (name.ok() && absl::StartsWith(*name, "grpcpp_sync_ser")) {
        ids.insert(task.path().filename().string());
      }
    }
    return ids;
  };
  burst();
  const std::set<std::string> after_first = handler_threads();
  EXPECT_GE(after_first.size(), static_cast<size_t>(kCalls));
  burst();
  // gRPC may still start one now and then; the default started a thread
  // for nearly every call.
  size_t started = 0;
  for (const std::string& id : handler_threads()) {
    started += after_first.contains(id) ? 0 : 1;
  }
  EXPECT_LE(started, static_cast<size_t>(kCalls / 4));
  ASSERT_NO_FATAL_FAILURE(StopServer());
}

TEST_F(PremiumdTest, RestartKeepsOriginAndTreeSize) {
  ServingLine first;
  ASSERT_NO_FATAL_FAILURE(
      StartServer(&first, {"--origin", "premium.test/ledger-1"}));
  EXPECT_EQ(first.origin, "premium.test/ledger-1");
  AppendMany("restart", 4);
  const pb::Checkpoint before = LatestCheckpoint();
  ASSERT_NO_FATAL_FAILURE(StopServer(SIGINT));

  ServingLine second;
  ASSERT_NO_FATAL_FAILURE(StartServer(&second));
  EXPECT_EQ(second.origin, "premium.test/ledger-1");
  EXPECT_EQ(second.tree_size, first.tree_size + 4);
  const pb::Checkpoint after = LatestCheckpoint();
  EXPECT_EQ(after.SerializeAsString(), before.SerializeAsString());
  // The token is kept too: the old one still works.
  EXPECT_TRUE(Append("restart-more", {"x"}).ok());
  ASSERT_NO_FATAL_FAILURE(StopServer());

  ServingLine third;
  ASSERT_NO_FATAL_FAILURE(
      StartServer(&third, {"--origin", "premium.test/ledger-1"}));
  EXPECT_EQ(third.tree_size, first.tree_size + 5);
  ASSERT_NO_FATAL_FAILURE(StopServer());

  // Another origin on an existing ledger: refused.
  std::unique_ptr<Child> refused =
      Child::Start({PREMIUMD_PATH, "--data-dir", data_dir_, "--listen",
                    "127.0.0.1:0", "--origin", "other"});
  ASSERT_NE(refused, nullptr);
  const std::optional<int> exit_code = refused->WaitForExit(kStopTimeout);
  ASSERT_TRUE(exit_code.has_value()) << "premiumd --origin other still runs";
  EXPECT_NE(*exit_code, 0);
  EXPECT_THAT(refused->err(), HasSubstr("origin"));
  EXPECT_THAT(refused->out(), ::testing::Not(HasSubstr("serving")));
}

TEST_F(PremiumdTest, BusyPortFailsToStart) {
  ServingLine serving;
  ASSERT_NO_FATAL_FAILURE(StartServer(&serving));
  const CommandResult result =
      RunCommand({PREMIUMD_PATH, "--data-dir", dir_.Sub("second"), "--listen",
                  absl::StrCat("127.0.0.1:", serving.port)});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.err, HasSubstr("listen"));
  EXPECT_EQ(result.out, "");
  // The first server is unharmed.
  EXPECT_TRUE(Append("still-serving", {"x"}).ok());
  ASSERT_NO_FATAL_FAILURE(StopServer());
}

TEST_F(PremiumdTest, VerifyNamesTheSeqOfAChangedEntry) {
  ServingLine serving;
  ASSERT_NO_FATAL_FAILURE(StartServer(&serving));
  const uint64_t seq = serving.tree_size + 3;
  AppendMany("verify", 6);
  ASSERT_NO_FATAL_FAILURE(StopServer());
  CommandResult verify =
      RunCommand({PREMIUMD_PATH, "verify", "--data-dir", data_dir_});
  ASSERT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_THAT(verify.out, StartsWith("premiumd verify: OK"));

  {
    std::unique_ptr<RawDb> db = RawDb::Open(data_dir_);
    ASSERT_NE(db, nullptr);
    const std::optional<std::string> bytes =
        db->Get(RawDb::kEntries, BigEndianSeq(seq));
    ASSERT_TRUE(bytes.has_value());
    pb::Entry entry;
    ASSERT_TRUE(entry.ParseFromString(*bytes));
    ASSERT_EQ(entry.seq(), seq);
    ASSERT_EQ(MarkerOf(entry), "verify entry 3");
    entry.set_payload(SuspensionPayload("verify entry 3, but richer"));
    db->Put(RawDb::kEntries, BigEndianSeq(seq), entry.SerializeAsString());
  }
  verify = RunCommand({PREMIUMD_PATH, "verify", "--data-dir", data_dir_});
  EXPECT_NE(verify.exit_code, 0);
  EXPECT_THAT(verify.err, HasSubstr(absl::StrCat("seq ", seq)));
  EXPECT_THAT(verify.out, ::testing::Not(HasSubstr("OK")));
}

TEST_F(PremiumdTest, BadUsageFailsWithOneLine) {
  CommandResult result = RunCommand({PREMIUMD_PATH});
  EXPECT_NE(result.exit_code, 0);
  ExpectOneLine(result.err);
  EXPECT_THAT(result.err, HasSubstr("--data-dir"));

  result =
      RunCommand({PREMIUMD_PATH, "verify", "--data-dir", dir_.Sub("nothing")});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.out, ::testing::Not(HasSubstr("OK")));

  // An upload limit out of its range is refused before anything is made.
  for (const std::string records : {"0", "50001", "many"}) {
    result = RunCommand({PREMIUMD_PATH, "--data-dir", dir_.Sub("limits"),
                         "--upload-inline-records", records});
    EXPECT_NE(result.exit_code, 0) << records;
    EXPECT_THAT(result.err, HasSubstr("--upload-inline-records")) << records;
    EXPECT_FALSE(std::filesystem::exists(dir_.Sub("limits"))) << records;
  }

  address_ = "127.0.0.1:1";
  result = Ctl({"--output", "xml", "ledger", "checkpoint"});
  EXPECT_NE(result.exit_code, 0);
  ExpectOneLine(result.err);
  EXPECT_THAT(result.err, HasSubstr("--output"));
  EXPECT_EQ(result.out, "");

  result = Ctl({"ledger", "no-such-command"});
  EXPECT_NE(result.exit_code, 0);
  ExpectOneLine(result.err);

  // Nothing listens on port 1: one line, not a hang.
  result = Ctl({"ledger", "checkpoint"});
  EXPECT_NE(result.exit_code, 0);
  ExpectOneLine(result.err);
}

}  // namespace
}  // namespace premium
