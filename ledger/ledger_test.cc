#include "ledger/ledger.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/checkpoint/checkpoint.h"
#include "ledger/merkle/compact_range.h"
#include "ledger/merkle/hasher.h"
#include "ledger/merkle/proof.h"
#include "ledger/storage/format.h"
#include "ledger/testing/ledger_testing.h"
#include "ledger/verify.h"

namespace premium {
namespace {

using ::premium::testing::FakeClock;
using ::premium::testing::IsOk;
using ::premium::testing::MakeRequest;
using ::premium::testing::OneEntry;
using ::premium::testing::RawDb;
using ::premium::testing::ReadFileOrDie;
using ::premium::testing::StatusIs;
using ::premium::testing::TempDir;
using ::premium::testing::TestIndexer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::Not;

using Code = absl::StatusCode;

// Root of every prefix of `entries`: roots[n] is the root of the first n.
std::vector<merkle::Hash> PrefixRoots(const std::vector<StoredEntry>& entries) {
  merkle::CompactRange range;
  std::vector<merkle::Hash> roots = {range.Root()};
  for (const StoredEntry& stored : entries) {
    range.Append(merkle::HashLeaf(stored.bytes),
                 [](merkle::NodeId, const merkle::Hash&) {});
    roots.push_back(range.Root());
  }
  return roots;
}

bool SameReceipt(const AppendReceipt& a, const AppendReceipt& b) {
  return a.first_seq == b.first_seq && a.entry_count == b.entry_count &&
         a.tree_size == b.tree_size &&
         a.append_time_micros == b.append_time_micros;
}

// A clock that, while shut, holds every caller; lets a test stop a group's
// leader inside CommitGroup (which reads the clock once per group).
class GateClock {
 public:
  GateClock() : state_(std::make_shared<State>()) {}
  std::function<absl::Time()> AsFunction() const {
    std::shared_ptr<State> state = state_;
    return [state] {
      absl::MutexLock lock(&state->mu);
      ++state->waiting;
      state->mu.Await(absl::Condition(&state->open));
      --state->waiting;
      state->now += absl::Microseconds(1);
      return state->now;
    };
  }
  void Shut() {
    absl::MutexLock lock(&state_->mu);
    state_->open = false;
  }
  void Open() {
    absl::MutexLock lock(&state_->mu);
    state_->open = true;
  }
  // True once a caller is held.
  bool AwaitWaiter(absl::Duration timeout) {
    absl::MutexLock lock(&state_->mu);
    return state_->mu.AwaitWithTimeout(
        absl::Condition(
            +[](State* state) { return state->waiting > 0; }, state_.get()),
        timeout);
  }

 private:
  struct State {
    absl::Mutex mu;
    bool open = true;
    int waiting = 0;
    absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  };
  std::shared_ptr<State> state_;
};

class LedgerTest : public ::testing::Test {
 protected:
  std::string DataDir() const { return dir_.Sub("data"); }

  LedgerOptions Options() const {
    LedgerOptions options;
    options.data_dir = DataDir();
    options.create_if_missing = true;
    options.clock = clock_.AsFunction();
    return options;
  }

  // Opens ledger_ (closing any open one first).
  void OpenLedger(LedgerOptions options) {
    ledger_.reset();
    absl::StatusOr<std::unique_ptr<Ledger>> ledger =
        Ledger::Open(std::move(options));
    ASSERT_THAT(ledger, IsOk());
    ledger_ = *std::move(ledger);
  }
  void OpenLedger() { OpenLedger(Options()); }
  void Reopen() {
    LedgerOptions options = Options();
    options.create_if_missing = false;
    OpenLedger(std::move(options));
  }

  AppendReceipt MustAppend(const AppendRequest& request) {
    absl::StatusOr<AppendReceipt> receipt = ledger_->Append(request);
    EXPECT_THAT(receipt, IsOk());
    return receipt.value_or(AppendReceipt{});
  }

  std::vector<StoredEntry> ReadAll() {
    std::vector<StoredEntry> all;
    while (all.size() < ledger_->size()) {
      absl::StatusOr<std::vector<StoredEntry>> some =
          ledger_->ReadEntries(all.size(), ledger_->size(), 0);
      EXPECT_THAT(some, IsOk());
      if (!some.ok() || some->empty()) break;
      for (StoredEntry& stored : *some) all.push_back(std::move(stored));
    }
    return all;
  }

  // Requests `from` to `to` - 1 (their idempotency keys), each of
  // `entries_each` small entries.
  void AppendRequests(int from, int to, int entries_each) {
    for (int r = from; r < to; ++r) {
      AppendRequest batch;
      batch.actor = "a";
      batch.idempotency_key = absl::StrCat("r", r);
      for (int i = 0; i < entries_each; ++i) {
        batch.entries.push_back({"k", absl::StrCat(r, ".", i)});
      }
      MustAppend(batch);
    }
  }

  // Until the ledger has read its tree's high nodes after Open.
  void AwaitNodeCache() {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (ledger_->node_cache().warming && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    ASSERT_FALSE(ledger_->node_cache().warming);
  }

  // Inclusion proofs of every `step`th of `entries` in the tree of them all,
  // whose root is `root`.
  void ExpectInclusionProofsVerify(const std::vector<StoredEntry>& entries,
                                   const merkle::Hash& root, uint64_t step) {
    for (uint64_t leaf = 0; leaf < entries.size(); leaf += step) {
      absl::StatusOr<std::vector<merkle::Hash>> proof =
          ledger_->InclusionProof(leaf, entries.size());
      ASSERT_THAT(proof, IsOk());
      EXPECT_THAT(merkle::VerifyInclusion(merkle::HashLeaf(entries[leaf].bytes),
                                          leaf, entries.size(), *proof, root),
                  IsOk())
          << leaf;
    }
  }

  TempDir dir_;
  FakeClock clock_;
  TestIndexer indexer_;
  std::unique_ptr<Ledger> ledger_;
};

// --- Open
// ----------------------------------------------------------------------

TEST_F(LedgerTest, CreateThenReopenKeepsSizeCheckpointAndOrigin) {
  LedgerOptions options = Options();
  options.origin = "example.com/premium";
  OpenLedger(options);
  EXPECT_EQ(ledger_->origin(), "example.com/premium");
  MustAppend(OneEntry("brand:a", "k1", "one"));
  MustAppend(MakeRequest("brand:a", "k2", {{"k.A", "two"}, {"k.B", "three"}}));
  const SignedCheckpoint before = ledger_->LatestCheckpoint();
  const std::string public_key = ledger_->verifier().public_key_pem();
  ASSERT_EQ(ledger_->size(), 3u);

  Reopen();  // No origin given: the stored one is used.
  EXPECT_EQ(ledger_->size(), 3u);
  EXPECT_EQ(ledger_->origin(), "example.com/premium");
  EXPECT_EQ(ledger_->verifier().public_key_pem(), public_key);
  const SignedCheckpoint after = ledger_->LatestCheckpoint();
  EXPECT_EQ(after.checkpoint.tree_size, 3u);
  EXPECT_EQ(after.checkpoint.origin, "example.com/premium");
  EXPECT_EQ(after.checkpoint.root_hash, before.checkpoint.root_hash);
  EXPECT_EQ(after.body, before.body);
  EXPECT_EQ(after.signature, before.signature);
  EXPECT_EQ(ledger_->ReadEntry(2).value().entry.payload(), "three");

  // The reopened ledger appends where it left off.
  const AppendReceipt receipt = MustAppend(OneEntry("brand:a", "k3", "four"));
  EXPECT_EQ(receipt.first_seq, 3u);
  EXPECT_EQ(receipt.tree_size, 4u);

  // Giving the same origin again is fine, and so is create_if_missing.
  OpenLedger(options);
  EXPECT_EQ(ledger_->size(), 4u);
}

TEST_F(LedgerTest, OriginMismatchOnReopenIsFailedPrecondition) {
  LedgerOptions options = Options();
  options.origin = "example.com/premium";
  OpenLedger(options);
  MustAppend(OneEntry("brand:a", "k1", "one"));
  ledger_.reset();
  for (const bool create : {false, true}) {
    LedgerOptions other = Options();
    other.origin = "example.com/other";
    other.create_if_missing = create;
    EXPECT_THAT(Ledger::Open(other),
                StatusIs(Code::kFailedPrecondition, HasSubstr("origin")));
  }
  OpenLedger(options);
  EXPECT_EQ(ledger_->size(), 1u);
}

TEST_F(LedgerTest, OpenWithoutCreateOnEmptyOrMissingDirIsNotFound) {
  LedgerOptions options = Options();
  options.create_if_missing = false;
  options.data_dir = dir_.path();  // exists, empty
  EXPECT_THAT(Ledger::Open(options), StatusIs(Code::kNotFound));
  // No key was made there.
  struct stat info;
  EXPECT_NE(::stat(dir_.Sub(CheckpointSigner::kPrivateKeyFile).c_str(), &info),
            0);
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path()));  // nothing made
  options.data_dir = dir_.Sub("absent");
  EXPECT_THAT(Ledger::Open(options), StatusIs(Code::kNotFound));
  options.data_dir = dir_.Sub("absent/deeper");
  EXPECT_THAT(Ledger::Open(options), StatusIs(Code::kNotFound));
  // And nothing was created that would make a later create fail.
  OpenLedger();
  EXPECT_EQ(ledger_->size(), 0u);
}

TEST_F(LedgerTest, DefaultOriginIsDerivedFromTheKey) {
  OpenLedger();
  const std::string origin = ledger_->origin();
  EXPECT_THAT(origin, MatchesRegex("premium-ledger/[0-9a-f]{16}"));
  EXPECT_EQ(ledger_->LatestCheckpoint().checkpoint.origin, origin);
  Reopen();
  EXPECT_EQ(ledger_->origin(), origin);

  // Another ledger, another key, another origin.
  LedgerOptions other = Options();
  other.data_dir = dir_.Sub("other");
  absl::StatusOr<std::unique_ptr<Ledger>> second = Ledger::Open(other);
  ASSERT_THAT(second, IsOk());
  EXPECT_THAT((*second)->origin(), MatchesRegex("premium-ledger/[0-9a-f]{16}"));
  EXPECT_NE((*second)->origin(), origin);
}

TEST_F(LedgerTest, OpenRefusesBadOptions) {
  LedgerOptions options = Options();
  options.data_dir = "";
  EXPECT_THAT(Ledger::Open(options), StatusIs(Code::kInvalidArgument));
  for (const std::string& origin :
       {std::string("two words"), std::string("line\nbreak"),
        std::string(kOriginLengthMax + 1, 'o')}) {
    options = Options();
    options.origin = origin;
    EXPECT_THAT(Ledger::Open(options), StatusIs(Code::kInvalidArgument));
  }
  options = Options();
  options.node_cache_nodes_max = (size_t{1} << 26) + 1;
  EXPECT_THAT(Ledger::Open(options),
              StatusIs(Code::kInvalidArgument,
                       HasSubstr("node_cache_nodes_max must be at most")));
  options.node_cache_nodes_max = size_t{1} << 26;
  EXPECT_THAT(Ledger::Open(options), IsOk());
}

TEST_F(LedgerTest, CreateMakesAPrivateDirectoryAndKey) {
  OpenLedger();
  struct stat info;
  ASSERT_EQ(::stat(DataDir().c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0700u);
  const std::string key_path =
      absl::StrCat(DataDir(), "/", CheckpointSigner::kPrivateKeyFile);
  ASSERT_EQ(::stat(key_path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  EXPECT_EQ(ReadFileOrDie(
                absl::StrCat(DataDir(), "/", CheckpointSigner::kPublicKeyFile)),
            ledger_->verifier().public_key_pem());
}

TEST_F(LedgerTest, EmptyLedgerHasASignedEmptyCheckpoint) {
  OpenLedger();
  EXPECT_EQ(ledger_->size(), 0u);
  const SignedCheckpoint latest = ledger_->LatestCheckpoint();
  EXPECT_EQ(latest.checkpoint.tree_size, 0u);
  EXPECT_EQ(latest.checkpoint.root_hash, merkle::EmptyRoot());
  EXPECT_THAT(ledger_->verifier().Verify(latest.body, latest.signature),
              IsOk());
  EXPECT_THAT(ledger_->CheckpointAt(0), IsOk());
  EXPECT_EQ(ledger_->RootAt(0).value(), merkle::EmptyRoot());
  EXPECT_THAT(ledger_->ReadEntry(0), StatusIs(Code::kOutOfRange));
  EXPECT_THAT(ledger_->ReadEntries(0, 10, 0).value(), IsEmpty());
  Reopen();
  EXPECT_EQ(ledger_->size(), 0u);
  EXPECT_EQ(ledger_->LatestCheckpoint().body, latest.body);
}

// --- Append and read
// -----------------------------------------------------------

TEST_F(LedgerTest, AppendOneEntry) {
  OpenLedger();
  const absl::Time now = absl::FromUnixMicros(1'700'000'123'456'789);
  clock_.Set(now);
  const AppendRequest request =
      MakeRequest("brand:acme", "upload-1", {{"wsr.premium.v1.Kind", "pay"}});
  absl::StatusOr<AppendReceipt> receipt = ledger_->Append(request);
  ASSERT_THAT(receipt, IsOk());
  EXPECT_EQ(receipt->first_seq, 0u);
  EXPECT_EQ(receipt->entry_count, 1u);
  EXPECT_EQ(receipt->tree_size, 1u);
  EXPECT_EQ(receipt->append_time_micros, absl::ToUnixMicros(now));
  EXPECT_FALSE(receipt->replayed);
  EXPECT_EQ(ledger_->size(), 1u);

  absl::StatusOr<StoredEntry> stored = ledger_->ReadEntry(0);
  ASSERT_THAT(stored, IsOk());
  wsr::premium::v1::Entry parsed;
  ASSERT_TRUE(parsed.ParseFromString(stored->bytes));
  for (const wsr::premium::v1::Entry* entry : {&parsed, &stored->entry}) {
    EXPECT_EQ(entry->seq(), 0u);
    EXPECT_EQ(entry->append_time_micros(), absl::ToUnixMicros(now));
    EXPECT_EQ(entry->actor(), "brand:acme");
    EXPECT_EQ(entry->kind(), "wsr.premium.v1.Kind");
    EXPECT_EQ(entry->payload(), "pay");
    EXPECT_EQ(entry->idempotency_key(), "upload-1");
    EXPECT_EQ(entry->request_index(), 0u);
    EXPECT_EQ(entry->request_entry_count(), 1u);
  }
  // The tree of one entry is its leaf.
  EXPECT_EQ(ledger_->LatestCheckpoint().checkpoint.root_hash,
            merkle::HashLeaf(stored->bytes));
  EXPECT_THAT(ledger_->ReadEntry(1), StatusIs(Code::kOutOfRange));
}

TEST_F(LedgerTest, AppendManyGivesDenseSeqsAndReceipts) {
  OpenLedger();
  const std::vector<size_t> sizes = {1, 3, 1, 5, 2, 1, 7, 1};
  std::vector<AppendRequest> requests;
  std::vector<AppendReceipt> receipts;
  uint64_t total = 0;
  for (size_t r = 0; r < sizes.size(); ++r) {
    AppendRequest request;
    request.actor = absl::StrCat("actor-", r % 3);
    request.idempotency_key = absl::StrCat("request-", r);
    for (size_t i = 0; i < sizes[r]; ++i) {
      request.entries.push_back(
          {absl::StrCat("kind.K", i), absl::StrCat("r", r, "-e", i)});
    }
    clock_.Advance(absl::Seconds(1));
    const AppendReceipt receipt = MustAppend(request);
    EXPECT_EQ(receipt.first_seq, total);
    EXPECT_EQ(receipt.entry_count, sizes[r]);
    total += sizes[r];
    EXPECT_EQ(receipt.tree_size, total);
    EXPECT_EQ(receipt.append_time_micros, absl::ToUnixMicros(clock_.Now()));
    EXPECT_FALSE(receipt.replayed);
    EXPECT_EQ(ledger_->size(), total);
    requests.push_back(request);
    receipts.push_back(receipt);
  }
  const std::vector<StoredEntry> all = ReadAll();
  ASSERT_EQ(all.size(), total);
  for (size_t r = 0; r < requests.size(); ++r) {
    for (size_t i = 0; i < sizes[r]; ++i) {
      const uint64_t seq = receipts[r].first_seq + i;
      const wsr::premium::v1::Entry& entry = all[seq].entry;
      EXPECT_EQ(entry.seq(), seq);
      EXPECT_EQ(entry.actor(), requests[r].actor);
      EXPECT_EQ(entry.idempotency_key(), requests[r].idempotency_key);
      EXPECT_EQ(entry.kind(), requests[r].entries[i].kind);
      EXPECT_EQ(entry.payload(), requests[r].entries[i].payload);
      EXPECT_EQ(entry.request_index(), i);
      EXPECT_EQ(entry.request_entry_count(), sizes[r]);
      EXPECT_EQ(entry.append_time_micros(), receipts[r].append_time_micros);
      wsr::premium::v1::Entry reparsed;
      ASSERT_TRUE(reparsed.ParseFromString(all[seq].bytes));
      EXPECT_EQ(reparsed.SerializeAsString(), entry.SerializeAsString());
    }
  }
}

TEST_F(LedgerTest, AppendTimeComesFromTheClockAndNeverDecreases) {
  OpenLedger();
  const absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
  clock_.Set(t0);
  EXPECT_EQ(MustAppend(OneEntry("a", "k1", "x")).append_time_micros,
            absl::ToUnixMicros(t0));
  clock_.Set(t0 - absl::Hours(1));  // the clock goes back
  EXPECT_EQ(MustAppend(OneEntry("a", "k2", "x")).append_time_micros,
            absl::ToUnixMicros(t0));
  clock_.Set(t0 + absl::Seconds(5));
  EXPECT_EQ(MustAppend(OneEntry("a", "k3", "x")).append_time_micros,
            absl::ToUnixMicros(t0 + absl::Seconds(5)));
  // Also after a reopen, which must recover the last time from the log.
  Reopen();
  clock_.Set(t0 - absl::Hours(2));
  const AppendReceipt receipt =
      MustAppend(MakeRequest("a", "k4", {{"k", "1"}, {"k", "2"}}));
  EXPECT_EQ(receipt.append_time_micros,
            absl::ToUnixMicros(t0 + absl::Seconds(5)));
  int64_t last = INT64_MIN;
  for (const StoredEntry& stored : ReadAll()) {
    EXPECT_GE(stored.entry.append_time_micros(), last);
    last = stored.entry.append_time_micros();
  }
  EXPECT_EQ(last, absl::ToUnixMicros(t0 + absl::Seconds(5)));
}

TEST_F(LedgerTest, ReadEntriesBounds) {
  LedgerOptions options = Options();
  options.read_entries_max = 4;
  OpenLedger(options);
  for (int i = 0; i < 10; ++i) {
    MustAppend(OneEntry("a", absl::StrCat("k", i), absl::StrCat("p", i)));
  }
  const auto seqs = [this](uint64_t begin, uint64_t end, size_t max) {
    std::vector<uint64_t> result;
    absl::StatusOr<std::vector<StoredEntry>> entries =
        ledger_->ReadEntries(begin, end, max);
    EXPECT_THAT(entries, IsOk());
    if (!entries.ok()) return result;
    for (const StoredEntry& stored : *entries) {
      result.push_back(stored.entry.seq());
    }
    return result;
  };
  EXPECT_THAT(seqs(2, 5, 0), ElementsAre(2, 3, 4));
  EXPECT_THAT(seqs(2, 5, 2), ElementsAre(2, 3));
  EXPECT_THAT(seqs(0, 100, 0), ElementsAre(0, 1, 2, 3));   // configured max
  EXPECT_THAT(seqs(0, 100, 50), ElementsAre(0, 1, 2, 3));  // capped by it
  EXPECT_THAT(seqs(8, 100, 0), ElementsAre(8, 9));         // ends at size()
  EXPECT_THAT(seqs(5, 5, 0), IsEmpty());
  EXPECT_THAT(seqs(10, 20, 0), IsEmpty());
  EXPECT_THAT(seqs(UINT64_MAX - 1, UINT64_MAX, 0), IsEmpty());
  EXPECT_THAT(ledger_->ReadEntries(5, 4, 0), StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(ledger_->ReadEntry(10), StatusIs(Code::kOutOfRange));
  EXPECT_THAT(ledger_->ReadEntry(UINT64_MAX), StatusIs(Code::kOutOfRange));
}

// ReadEntries reads a short range by seeking and a long one as a scan (read
// ahead, past the block cache), with the Merkle leaves read along a pass over
// the nodes: both see the same entries, and both refuse an entry rewritten
// behind the ledger's back, or one whose leaf is gone, naming it.
TEST_F(LedgerTest, ReadEntriesChecksEachEntryAgainstItsLeafShortOrLong) {
  OpenLedger();
  constexpr uint64_t kEntries = 600;
  constexpr uint64_t kRewritten = 450;
  constexpr uint64_t kLeafless = 40;
  std::vector<std::pair<std::string, std::string>> entries;
  for (uint64_t i = 0; i < kEntries; ++i) {
    entries.emplace_back("test.Kind", absl::StrCat("payload ", i));
  }
  MustAppend(MakeRequest("a", "k", entries));
  ASSERT_EQ(ledger_->size(), kEntries);
  const auto read = [this](uint64_t begin, uint64_t end) {
    return ledger_->ReadEntries(begin, end, 0);
  };
  // The scan and the seeks agree, whatever the internal nodes between the
  // leaves.
  absl::StatusOr<std::vector<StoredEntry>> all = read(0, kEntries);
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->size(), kEntries);
  for (uint64_t begin : {0, 1, 7, 255, 300}) {
    absl::StatusOr<std::vector<StoredEntry>> short_range =
        read(begin, begin + 5);
    ASSERT_THAT(short_range, IsOk());
    ASSERT_EQ(short_range->size(), 5u);
    for (size_t i = 0; i < 5; ++i) {
      EXPECT_EQ((*short_range)[i].bytes, (*all)[begin + i].bytes);
    }
  }
  for (uint64_t i = 0; i < kEntries; ++i) {
    ASSERT_EQ((*all)[i].entry.seq(), i);
    ASSERT_EQ((*all)[i].entry.payload(), absl::StrCat("payload ", i));
  }

  ledger_.reset();
  {
    std::unique_ptr<RawDb> db = RawDb::Open(DataDir());
    ASSERT_NE(db, nullptr);
    // A well-formed entry with its own seq, and another payload.
    wsr::premium::v1::Entry entry;
    ASSERT_TRUE(entry.ParseFromString(
        *db->Get(RawDb::kEntries, storage::SeqKey(kRewritten))));
    entry.set_payload("payload 9999");
    db->Put(RawDb::kEntries, storage::SeqKey(kRewritten),
            entry.SerializeAsString());
    db->Delete(RawDb::kNodes, storage::NodeKey({0, kLeafless}));
    db->Flush();
  }
  Reopen();
  const std::string rewritten =
      absl::StrCat("entry ", kRewritten, " does not match its Merkle leaf");
  const std::string leafless =
      absl::StrCat("the Merkle leaf of entry ", kLeafless, " is missing");
  EXPECT_THAT(read(300, kEntries),
              StatusIs(Code::kDataLoss, HasSubstr(rewritten)));
  EXPECT_THAT(read(kRewritten - 2, kRewritten + 3),
              StatusIs(Code::kDataLoss, HasSubstr(rewritten)));
  EXPECT_THAT(read(0, 300), StatusIs(Code::kDataLoss, HasSubstr(leafless)));
  EXPECT_THAT(read(kLeafless, kLeafless + 1),
              StatusIs(Code::kDataLoss, HasSubstr(leafless)));
  // The rest still reads.
  EXPECT_THAT(read(kLeafless + 1, kRewritten), IsOk());
  EXPECT_THAT(read(kRewritten + 1, kEntries), IsOk());
}

TEST_F(LedgerTest, ReadEntriesAtReadsScatteredSeqsInTheOrderGiven) {
  LedgerOptions options = Options();
  options.read_entries_max = 4;
  OpenLedger(options);
  for (int i = 0; i < 10; ++i) {
    MustAppend(OneEntry("a", absl::StrCat("k", i), absl::StrCat("p", i)));
  }
  const std::vector<uint64_t> asked = {7, 2, 9, 2};
  absl::StatusOr<std::vector<StoredEntry>> entries =
      ledger_->ReadEntriesAt(asked);
  ASSERT_THAT(entries, IsOk());
  ASSERT_EQ(entries->size(), asked.size());
  for (size_t i = 0; i < asked.size(); ++i) {
    EXPECT_EQ((*entries)[i].entry.seq(), asked[i]);
    EXPECT_EQ((*entries)[i].entry.payload(), absl::StrCat("p", asked[i]));
    EXPECT_EQ((*entries)[i].bytes, ledger_->ReadEntry(asked[i])->bytes);
  }
  EXPECT_THAT(ledger_->ReadEntriesAt({}).value(), IsEmpty());
  const std::vector<uint64_t> past_the_end = {3, 10};
  EXPECT_THAT(ledger_->ReadEntriesAt(past_the_end),
              StatusIs(Code::kOutOfRange, HasSubstr("seq 10")));
  const std::vector<uint64_t> too_many = {0, 1, 2, 3, 4};
  EXPECT_THAT(ledger_->ReadEntriesAt(too_many),
              StatusIs(Code::kInvalidArgument));
}

TEST_F(LedgerTest, ReadEntriesAtRefusesEntriesChangedOrRemovedBehindIt) {
  OpenLedger();
  for (int i = 0; i < 5; ++i) {
    MustAppend(OneEntry("a", absl::StrCat("k", i), absl::StrCat("p", i)));
  }
  ledger_.reset();
  {
    std::unique_ptr<RawDb> raw = RawDb::Open(DataDir());
    ASSERT_NE(raw, nullptr);
    std::string bytes = raw->Get(RawDb::kEntries, storage::SeqKey(1)).value();
    bytes.back() ^= 1;
    raw->Put(RawDb::kEntries, storage::SeqKey(1), bytes);
    // Not the last entry: Open itself checks that one.
    raw->Delete(RawDb::kEntries, storage::SeqKey(3));
  }
  Reopen();
  const std::vector<uint64_t> changed = {0, 1};
  EXPECT_THAT(ledger_->ReadEntriesAt(changed),
              StatusIs(Code::kDataLoss, HasSubstr("entry 1 does not match")));
  const std::vector<uint64_t> removed = {2, 3};
  EXPECT_THAT(ledger_->ReadEntriesAt(removed),
              StatusIs(Code::kDataLoss, HasSubstr("entry 3 is missing")));
  EXPECT_THAT(ledger_->ReadEntry(3), StatusIs(Code::kDataLoss));
  const std::vector<uint64_t> intact = {2, 0};
  EXPECT_THAT(ledger_->ReadEntriesAt(intact), IsOk());
}

// A small memtable budget still lets each memtable fill before it is
// flushed. Were every write to flush the oldest memtable, each would leave a
// table file of a few KiB, never merged (files keyed in append order are
// moved down the levels whole), and the open ledger would hold a reader for
// each: premiumd's memory grew with them.
TEST_F(LedgerTest, ASmallWriteBufferFlushesWholeMemtablesNotEveryWrite) {
  LedgerOptions options = Options();
  options.write_buffer_bytes = 4 << 20;
  OpenLedger(std::move(options));
  constexpr int kRequests = 2'000;
  constexpr int kEntriesPerRequest = 10;
  const std::string padding(200, 'p');
  for (int r = 0; r < kRequests; ++r) {
    AppendRequest request;
    request.actor = "actor";
    request.idempotency_key = absl::StrCat("request-", r);
    for (int i = 0; i < kEntriesPerRequest; ++i) {
      request.entries.push_back({"kind.K", absl::StrCat(padding, r, "-", i)});
    }
    MustAppend(request);
  }
  ledger_.reset();
  int table_files = 0;
  for (const std::filesystem::directory_entry& file :
       std::filesystem::directory_iterator(DataDir() + "/db")) {
    if (file.path().extension() == ".sst") ++table_files;
  }
  // About 8 MiB were written: 12 files when whole memtables are flushed,
  // 335 when writes flush the oldest memtable, whatever its size.
  EXPECT_LT(table_files, 40);
}

// --- Checkpoints
// ---------------------------------------------------------------

TEST_F(LedgerTest, EveryCheckpointVerifiesAndMatchesTheTree) {
  OpenLedger();
  absl::StatusOr<std::unique_ptr<CheckpointVerifier>> outside =
      CheckpointVerifier::FromPublicKeyPem(ReadFileOrDie(
          absl::StrCat(DataDir(), "/", CheckpointSigner::kPublicKeyFile)));
  ASSERT_THAT(outside, IsOk());
  const std::vector<size_t> sizes = {1, 2, 3, 1, 4, 1, 1};
  std::map<uint64_t, SignedCheckpoint> signed_at = {
      {0, ledger_->LatestCheckpoint()}};
  for (size_t r = 0; r < sizes.size(); ++r) {
    AppendRequest request;
    request.actor = "brand:a";
    request.idempotency_key = absl::StrCat("r", r);
    for (size_t i = 0; i < sizes[r]; ++i) {
      request.entries.push_back({"k.K", absl::StrCat(r, "/", i)});
    }
    const AppendReceipt receipt = MustAppend(request);
    const SignedCheckpoint latest = ledger_->LatestCheckpoint();
    EXPECT_EQ(latest.checkpoint.tree_size, ledger_->size());
    EXPECT_EQ(latest.checkpoint.tree_size, receipt.tree_size);
    EXPECT_EQ(latest.checkpoint.origin, ledger_->origin());
    EXPECT_EQ(latest.body, CheckpointBody(latest.checkpoint));
    absl::StatusOr<Checkpoint> parsed = ParseCheckpointBody(latest.body);
    ASSERT_THAT(parsed, IsOk());
    EXPECT_EQ(parsed->tree_size, latest.checkpoint.tree_size);
    EXPECT_EQ(parsed->root_hash, latest.checkpoint.root_hash);
    EXPECT_THAT(ledger_->verifier().Verify(latest.body, latest.signature),
                IsOk());
    EXPECT_THAT((*outside)->Verify(latest.body, latest.signature), IsOk());
    EXPECT_EQ(ledger_->RootAt(ledger_->size()).value(),
              latest.checkpoint.root_hash);
    EXPECT_EQ(PrefixRoots(ReadAll()).back(), latest.checkpoint.root_hash);
    signed_at[latest.checkpoint.tree_size] = latest;
  }
  // CheckpointAt gives back exactly what was signed, for every group's end,
  // and NotFound for sizes inside a request.
  for (uint64_t size = 0; size <= ledger_->size(); ++size) {
    absl::StatusOr<SignedCheckpoint> at = ledger_->CheckpointAt(size);
    auto it = signed_at.find(size);
    if (it == signed_at.end()) {
      EXPECT_THAT(at, StatusIs(Code::kNotFound)) << size;
      continue;
    }
    ASSERT_THAT(at, IsOk()) << size;
    EXPECT_EQ(at->body, it->second.body);
    EXPECT_EQ(at->signature, it->second.signature);
    EXPECT_EQ(at->checkpoint.root_hash, ledger_->RootAt(size).value());
  }
  EXPECT_THAT(ledger_->CheckpointAt(ledger_->size() + 1),
              StatusIs(Code::kOutOfRange));
  EXPECT_THAT(ledger_->RootAt(ledger_->size() + 1),
              StatusIs(Code::kOutOfRange));
  // The same after a reopen.
  Reopen();
  for (const auto& [size, checkpoint] : signed_at) {
    EXPECT_EQ(ledger_->CheckpointAt(size).value().signature,
              checkpoint.signature);
  }
}

// --- Proofs
// --------------------------------------------------------------------

TEST_F(LedgerTest, InclusionAndConsistencyProofsVerify) {
  OpenLedger();
  std::set<uint64_t> checkpoint_sizes = {0};
  for (int r = 0; r < 14; ++r) {  // single entries, then larger requests
    AppendRequest request;
    request.actor = "a";
    request.idempotency_key = absl::StrCat("r", r);
    const int count = r < 9 ? 1 : r - 6;
    for (int i = 0; i < count; ++i) {
      request.entries.push_back({"k", absl::StrCat(r, ".", i)});
    }
    checkpoint_sizes.insert(MustAppend(request).tree_size);
  }
  const uint64_t size = ledger_->size();
  ASSERT_EQ(size, 9u + 3 + 4 + 5 + 6 + 7);
  const std::vector<StoredEntry> entries = ReadAll();
  const std::vector<merkle::Hash> roots = PrefixRoots(entries);

  for (uint64_t tree_size = 1; tree_size <= size; ++tree_size) {
    ASSERT_EQ(ledger_->RootAt(tree_size).value(), roots[tree_size]);
    for (uint64_t leaf = 0; leaf < tree_size; ++leaf) {
      absl::StatusOr<std::vector<merkle::Hash>> proof =
          ledger_->InclusionProof(leaf, tree_size);
      ASSERT_THAT(proof, IsOk()) << leaf << " in " << tree_size;
      EXPECT_THAT(
          merkle::VerifyInclusion(merkle::HashLeaf(entries[leaf].bytes), leaf,
                                  tree_size, *proof, roots[tree_size]),
          IsOk())
          << leaf << " in " << tree_size;
      if (leaf + 1 < tree_size) {  // it proves this leaf and no other
        EXPECT_THAT(
            merkle::VerifyInclusion(merkle::HashLeaf(entries[leaf + 1].bytes),
                                    leaf, tree_size, *proof, roots[tree_size]),
            Not(IsOk()));
      }
    }
  }
  // Between every pair of signed checkpoints, against their signed roots.
  for (const uint64_t old_size : checkpoint_sizes) {
    const merkle::Hash old_root =
        ledger_->CheckpointAt(old_size).value().checkpoint.root_hash;
    for (const uint64_t new_size : checkpoint_sizes) {
      if (new_size < old_size) continue;
      const merkle::Hash new_root =
          ledger_->CheckpointAt(new_size).value().checkpoint.root_hash;
      absl::StatusOr<std::vector<merkle::Hash>> proof =
          ledger_->ConsistencyProof(old_size, new_size);
      ASSERT_THAT(proof, IsOk()) << old_size << " -> " << new_size;
      EXPECT_THAT(merkle::VerifyConsistency(old_size, new_size, old_root,
                                            new_root, *proof),
                  IsOk())
          << old_size << " -> " << new_size;
      if (old_size > 0 && old_size < new_size) {
        EXPECT_THAT(
            merkle::VerifyConsistency(old_size, new_size, roots[old_size - 1],
                                      new_root, *proof),
            Not(IsOk()));
      }
    }
  }
  // And between every pair of sizes, against recomputed roots.
  for (uint64_t old_size = 0; old_size <= size; ++old_size) {
    for (uint64_t new_size = old_size; new_size <= size; ++new_size) {
      absl::StatusOr<std::vector<merkle::Hash>> proof =
          ledger_->ConsistencyProof(old_size, new_size);
      ASSERT_THAT(proof, IsOk());
      EXPECT_THAT(merkle::VerifyConsistency(old_size, new_size, roots[old_size],
                                            roots[new_size], *proof),
                  IsOk())
          << old_size << " -> " << new_size;
    }
  }
}

// Nodes high in the tree are kept in memory after a proof first reads them:
// proofs served from that cache, at sizes that share those nodes and sizes
// that grew past them, verify as the first ones did.
TEST_F(LedgerTest, ProofsServedFromTheNodeCacheVerify) {
  OpenLedger();
  // Up to level 11 (2,048 leaves), so levels 8 to 11 are cached.
  AppendRequests(0, 26, 100);
  std::vector<uint64_t> sizes = {257, 511, 1024, 1500, 2048, 2600};
  auto check = [this](const std::vector<uint64_t>& tree_sizes) {
    const std::vector<StoredEntry> entries = ReadAll();
    const std::vector<merkle::Hash> roots = PrefixRoots(entries);
    for (const uint64_t tree_size : tree_sizes) {
      for (uint64_t leaf = 0; leaf < tree_size; leaf += 37) {
        absl::StatusOr<std::vector<merkle::Hash>> proof =
            ledger_->InclusionProof(leaf, tree_size);
        ASSERT_THAT(proof, IsOk());
        EXPECT_THAT(
            merkle::VerifyInclusion(merkle::HashLeaf(entries[leaf].bytes), leaf,
                                    tree_size, *proof, roots[tree_size]),
            IsOk())
            << leaf << " in " << tree_size;
      }
      for (uint64_t old_size = 0; old_size <= tree_size; old_size += 41) {
        absl::StatusOr<std::vector<merkle::Hash>> proof =
            ledger_->ConsistencyProof(old_size, tree_size);
        ASSERT_THAT(proof, IsOk());
        EXPECT_THAT(
            merkle::VerifyConsistency(old_size, tree_size, roots[old_size],
                                      roots[tree_size], *proof),
            IsOk())
            << old_size << " -> " << tree_size;
      }
    }
  };
  ASSERT_NO_FATAL_FAILURE(check(sizes));  // reads the nodes, fills the cache
  ASSERT_NO_FATAL_FAILURE(check(sizes));  // from the cache
  AppendRequests(26, 40, 100);
  sizes.push_back(4000);
  ASSERT_NO_FATAL_FAILURE(check(sizes));

  // Reopened, the ledger reads every such node of its tree before a proof
  // asks: at 4,000 entries, 15 + 7 + 3 + 1 of levels 8 to 11. A proof
  // that missed one would add it.
  Reopen();
  ASSERT_NO_FATAL_FAILURE(AwaitNodeCache());
  EXPECT_EQ(ledger_->node_cache().nodes, 26u);
  ASSERT_NO_FATAL_FAILURE(check(sizes));
  EXPECT_EQ(ledger_->node_cache().nodes, 26u);
}

// The node cache is read on a thread of the ledger's: closing the ledger
// right after Open, while that runs, stops it, and appends and proofs run
// beside it.
TEST_F(LedgerTest, NodeCacheReadingStopsWithTheLedger) {
  OpenLedger();
  AppendRequests(0, 40, 500);
  for (int i = 0; i < 10; ++i) {
    Reopen();
    if (i % 2 == 1) ledger_->Close();
  }
  Reopen();
  MustAppend(OneEntry("a", "after", "p"));
  const merkle::Hash root = ledger_->LatestCheckpoint().checkpoint.root_hash;
  const std::vector<StoredEntry> entries = ReadAll();
  ASSERT_EQ(entries.size(), 20'001u);
  ExpectInclusionProofsVerify(entries, root, 997);
  ledger_.reset();
}

// With node_cache_nodes_max below what a tree's high nodes number, the
// reading at Open keeps the highest levels that fit, proofs add what room
// is left, and the cache never holds more; with 0 it holds nothing. Proofs
// verify either way.
TEST_F(LedgerTest, NodeCacheKeepsItsLimit) {
  OpenLedger();
  AppendRequests(0, 10, 500);
  const merkle::Hash root = ledger_->LatestCheckpoint().checkpoint.root_hash;
  const std::vector<StoredEntry> entries = ReadAll();
  ASSERT_EQ(entries.size(), 5'000u);
  // 5,000 entries have 19 + 9 + 4 + 2 + 1 nodes at levels 8 to 12: 35 in
  // all, 16 from level 9 up, and the root of the first 4,096 alone at 12.
  // Open itself reads the nodes of the tree's compact range (4,096 + 512 +
  // 256 + ...), the one of level 8 among them, and proofs of leaves all over
  // the tree read more level-8 nodes. The cache only grows, so what it holds
  // after the proofs is the most it held.
  const struct {
    size_t nodes_max;
    uint64_t after_open;
    uint64_t after_proofs;
  } cases[] = {{20, 17, 20}, {35, 35, 35}, {1, 1, 1}, {0, 0, 0}};
  for (const auto& c : cases) {
    SCOPED_TRACE(absl::StrCat("node_cache_nodes_max ", c.nodes_max));
    LedgerOptions options = Options();
    options.create_if_missing = false;
    options.node_cache_nodes_max = c.nodes_max;
    ASSERT_NO_FATAL_FAILURE(OpenLedger(std::move(options)));
    ASSERT_NO_FATAL_FAILURE(AwaitNodeCache());
    EXPECT_EQ(ledger_->node_cache().nodes, c.after_open);
    ASSERT_NO_FATAL_FAILURE(ExpectInclusionProofsVerify(entries, root, 97));
    EXPECT_EQ(ledger_->node_cache().nodes, c.after_proofs);
  }
}

TEST_F(LedgerTest, ProofArgumentErrors) {
  OpenLedger();
  for (int i = 0; i < 5; ++i) MustAppend(OneEntry("a", absl::StrCat(i), "p"));
  const uint64_t size = ledger_->size();
  EXPECT_THAT(ledger_->InclusionProof(0, size + 1),
              StatusIs(Code::kOutOfRange));
  EXPECT_THAT(ledger_->InclusionProof(size + 1, size + 1),
              StatusIs(Code::kOutOfRange));
  EXPECT_THAT(ledger_->InclusionProof(size, size),
              StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(ledger_->InclusionProof(4, 3), StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(ledger_->InclusionProof(0, 0), StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(ledger_->ConsistencyProof(0, size + 1),
              StatusIs(Code::kOutOfRange));
  EXPECT_THAT(ledger_->ConsistencyProof(3, 2),
              StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(ledger_->ConsistencyProof(size, size).value(), IsEmpty());
  EXPECT_THAT(ledger_->ConsistencyProof(0, size).value(), IsEmpty());
  EXPECT_THAT(ledger_->InclusionProof(0, 1).value(), IsEmpty());
}

// --- Idempotency
// ---------------------------------------------------------------

TEST_F(LedgerTest, RetryWithSameContentReturnsTheOriginalReceipt) {
  OpenLedger();
  const AppendRequest request =
      MakeRequest("brand:a", "upload-7", {{"k.A", "one"}, {"k.B", "two"}});
  MustAppend(OneEntry("brand:a", "before", "x"));
  const AppendReceipt original = MustAppend(request);
  EXPECT_FALSE(original.replayed);
  clock_.Advance(absl::Minutes(1));
  MustAppend(OneEntry("brand:a", "after", "y"));
  ASSERT_EQ(ledger_->size(), 4u);

  const AppendReceipt retry = MustAppend(request);
  EXPECT_TRUE(retry.replayed);
  EXPECT_TRUE(SameReceipt(retry, original));
  EXPECT_EQ(retry.tree_size, 3u);  // the original group's size
  EXPECT_EQ(ledger_->size(), 4u);
  EXPECT_EQ(ledger_->LatestCheckpoint().checkpoint.tree_size, 4u);

  Reopen();
  const AppendReceipt after_reopen = MustAppend(request);
  EXPECT_TRUE(after_reopen.replayed);
  EXPECT_TRUE(SameReceipt(after_reopen, original));
  EXPECT_EQ(ledger_->size(), 4u);
}

TEST_F(LedgerTest, SameKeyWithOtherContentIsAlreadyExists) {
  OpenLedger();
  const AppendRequest request =
      MakeRequest("brand:a", "upload-7", {{"k.A", "one"}, {"k.B", "two"}});
  const AppendReceipt original = MustAppend(request);
  std::vector<std::pair<std::string, AppendRequest>> others;
  const auto other = [&](std::string name, auto change) {
    AppendRequest changed = request;
    change(changed);
    others.emplace_back(std::move(name), std::move(changed));
  };
  other("payload", [](AppendRequest& r) { r.entries[1].payload = "TWO"; });
  other("kind", [](AppendRequest& r) { r.entries[0].kind = "k.C"; });
  other("extra entry", [](AppendRequest& r) {
    r.entries.push_back({"k.A", "three"});
  });
  other("missing entry", [](AppendRequest& r) { r.entries.pop_back(); });
  other("order",
        [](AppendRequest& r) { std::swap(r.entries[0], r.entries[1]); });
  other("boundary", [](AppendRequest& r) { r.entries[0] = {"k.Ao", "ne"}; });
  for (int round = 0; round < 2; ++round) {
    for (const auto& [name, changed] : others) {
      EXPECT_THAT(ledger_->Append(changed),
                  StatusIs(Code::kAlreadyExists, HasSubstr("upload-7")))
          << name;
      EXPECT_EQ(ledger_->size(), 2u) << name;
    }
    // The original still replays.
    EXPECT_TRUE(SameReceipt(MustAppend(request), original));
    Reopen();
  }
}

TEST_F(LedgerTest, IdempotencyKeysAreScopedToTheActor) {
  OpenLedger();
  const AppendReceipt first = MustAppend(OneEntry("brand:a", "k", "from a"));
  const AppendReceipt second = MustAppend(OneEntry("brand:b", "k", "from b"));
  EXPECT_FALSE(second.replayed);
  EXPECT_EQ(second.first_seq, 1u);
  // Even identical content under another actor is another request.
  const AppendReceipt third = MustAppend(OneEntry("brand:c", "k", "from a"));
  EXPECT_FALSE(third.replayed);
  EXPECT_EQ(third.first_seq, 2u);
  EXPECT_TRUE(
      SameReceipt(MustAppend(OneEntry("brand:a", "k", "from a")), first));
  EXPECT_TRUE(
      SameReceipt(MustAppend(OneEntry("brand:b", "k", "from b")), second));
  EXPECT_THAT(ledger_->Append(OneEntry("brand:b", "k", "from a")),
              StatusIs(Code::kAlreadyExists));
  EXPECT_EQ(ledger_->size(), 3u);
}

// --- Derived keys
// ----------------------------------------------------------------

class IndexedLedgerTest : public LedgerTest {
 protected:
  void SetUp() override {
    LedgerOptions options = Options();
    options.indexer = &indexer_;
    OpenLedger(options);
  }
  void ReopenIndexed() {
    LedgerOptions options = Options();
    options.indexer = &indexer_;
    options.create_if_missing = false;
    OpenLedger(options);
  }
};

TEST_F(IndexedLedgerTest, TakenUniqueKeyIsAlreadyExistsNamingIt) {
  const AppendRequest first = OneEntry("brand:a", "k1", "invoice:A");
  ASSERT_EQ(MustAppend(first).first_seq, 0u);
  EXPECT_THAT(ledger_->Append(OneEntry("brand:a", "k2", "invoice:A")),
              StatusIs(Code::kAlreadyExists, HasSubstr("inv/A")));
  // Unique keys are global, not per actor.
  EXPECT_THAT(ledger_->Append(OneEntry("brand:b", "k1", "invoice:A")),
              StatusIs(Code::kAlreadyExists, HasSubstr("inv/A")));
  // A request with a taken key appends none of its entries.
  EXPECT_THAT(ledger_->Append(MakeRequest(
                  "brand:a", "k3", {{"k", "invoice:B"}, {"k", "invoice:A"}})),
              StatusIs(Code::kAlreadyExists, HasSubstr("inv/A")));
  EXPECT_EQ(ledger_->size(), 1u);
  EXPECT_THAT(ledger_->FindUnique("inv/B"), StatusIs(Code::kNotFound));
  // The retry of the first request is a replay, not a conflict.
  EXPECT_TRUE(MustAppend(first).replayed);
  // The refused request's key was not spent: it can carry other content.
  EXPECT_EQ(
      MustAppend(MakeRequest("brand:a", "k3", {{"k", "invoice:B"}})).first_seq,
      1u);
  EXPECT_EQ(ledger_->FindUnique("inv/B").value(), 1u);
  EXPECT_EQ(ledger_->FindUnique("inv/A").value(), 0u);
  ReopenIndexed();
  EXPECT_THAT(ledger_->Append(OneEntry("brand:a", "k9", "invoice:B")),
              StatusIs(Code::kAlreadyExists, HasSubstr("inv/B")));
}

TEST_F(IndexedLedgerTest, DuplicateUniqueKeyInOneRequestIsAlreadyExists) {
  EXPECT_THAT(ledger_->Append(MakeRequest(
                  "brand:a", "k1",
                  {{"k", "invoice:C"}, {"k", "plain"}, {"k", "invoice:C"}})),
              StatusIs(Code::kAlreadyExists, HasSubstr("inv/C")));
  EXPECT_EQ(ledger_->size(), 0u);
  EXPECT_THAT(ledger_->FindUnique("inv/C"), StatusIs(Code::kNotFound));
}

TEST_F(IndexedLedgerTest, FindUniqueAndFindByLookupKey) {
  MustAppend(OneEntry("brand:a", "k0", "invoice:1"));  // 0
  MustAppend(OneEntry("brand:b", "k1", "invoice:2"));  // 1
  MustAppend(MakeRequest("brand:a", "k2",
                         {{"k", "invoice:3"}, {"k", "invoice:4"}}));  // 2, 3
  MustAppend(OneEntry("brand:b", "k3", "lookup:p,pq"));               // 4
  MustAppend(OneEntry("brand:a", "k4", "invoice:5"));                 // 5
  MustAppend(OneEntry("brand:b", "k5", "lookup:pq"));                 // 6
  MustAppend(OneEntry("brand:b", "k6", "plain"));                     // 7
  MustAppend(OneEntry("brand:b", "k7", "lookup:p\x01"));              // 8
  for (int i = 1; i <= 5; ++i) {
    EXPECT_EQ(ledger_->FindUnique(absl::StrCat("inv/", i)).value(),
              std::vector<uint64_t>({0, 1, 2, 3, 5})[i - 1]);
  }
  EXPECT_THAT(ledger_->FindUnique("inv/6"), StatusIs(Code::kNotFound));
  EXPECT_THAT(ledger_->FindUnique("party/brand:a"), StatusIs(Code::kNotFound));

  const auto find = [this](absl::string_view key, std::optional<uint64_t> after,
                           size_t max) {
    absl::StatusOr<std::vector<uint64_t>> seqs =
        ledger_->FindByLookupKey(key, after, max);
    EXPECT_THAT(seqs, IsOk());
    return seqs.value_or(std::vector<uint64_t>{});
  };
  EXPECT_THAT(find("party/brand:a", std::nullopt, 100),
              ElementsAre(0, 2, 3, 5));
  EXPECT_THAT(find("party/brand:b", std::nullopt, 100), ElementsAre(1));
  EXPECT_THAT(find("party/brand:a", 0, 100), ElementsAre(2, 3, 5));
  EXPECT_THAT(find("party/brand:a", 2, 100), ElementsAre(3, 5));
  EXPECT_THAT(find("party/brand:a", 4, 100), ElementsAre(5));
  EXPECT_THAT(find("party/brand:a", 5, 100), IsEmpty());
  EXPECT_THAT(find("party/brand:a", UINT64_MAX, 100), IsEmpty());
  EXPECT_THAT(find("party/brand:a", std::nullopt, 2), ElementsAre(0, 2));
  EXPECT_THAT(find("party/brand:a", 2, 1), ElementsAre(3));
  // 0 means the configured limit, as for ReadEntries.
  EXPECT_THAT(find("party/brand:a", std::nullopt, 0), ElementsAre(0, 2, 3, 5));
  // A key that is a prefix of another does not see the other's entries.
  EXPECT_THAT(find("p", std::nullopt, 100), ElementsAre(4));
  EXPECT_THAT(find("pq", std::nullopt, 100), ElementsAre(4, 6));
  // The scan of "p" ends at "p\x01", the least key past its records.
  EXPECT_THAT(find("p\x01", std::nullopt, 100), ElementsAre(8));
  EXPECT_THAT(find("party/brand", std::nullopt, 100), IsEmpty());
  EXPECT_THAT(find("nobody", std::nullopt, 100), IsEmpty());
  ReopenIndexed();
  EXPECT_THAT(find("party/brand:a", std::nullopt, 100),
              ElementsAre(0, 2, 3, 5));
  EXPECT_EQ(ledger_->FindUnique("inv/5").value(), 5u);
}

TEST_F(IndexedLedgerTest, ReadByLookupKeyChecksEntriesAgainstIndexedLeaves) {
  MustAppend(OneEntry("brand:a", "k0", "lookup:w"));  // 0
  MustAppend(OneEntry("brand:a", "k1", "plain"));     // 1
  MustAppend(MakeRequest("brand:a", "k2",
                         {{"k", "lookup:w"}, {"k", "lookup:v,w"}}));  // 2, 3
  MustAppend(OneEntry("brand:a", "k3", "lookup:w"));                  // 4
  const std::vector<StoredEntry> all = ReadAll();
  ASSERT_EQ(all.size(), 5u);
  const auto seqs_read = [this](std::optional<uint64_t> after, size_t max) {
    absl::StatusOr<std::vector<StoredEntry>> read =
        ledger_->ReadByLookupKey("w", after, max);
    EXPECT_THAT(read, IsOk());
    std::vector<uint64_t> seqs;
    for (const StoredEntry& entry : read.value_or(std::vector<StoredEntry>{})) {
      seqs.push_back(entry.entry.seq());
    }
    return seqs;
  };
  // What FindByLookupKey finds, read as ReadEntriesAt reads it.
  absl::StatusOr<std::vector<StoredEntry>> found =
      ledger_->ReadByLookupKey("w", std::nullopt, 100);
  ASSERT_THAT(found, IsOk());
  const uint64_t holders[] = {0, 2, 3, 4};
  ASSERT_EQ(found->size(), std::size(holders));
  for (size_t i = 0; i < std::size(holders); ++i) {
    EXPECT_EQ((*found)[i].entry.seq(), holders[i]);
    EXPECT_EQ((*found)[i].bytes, all[holders[i]].bytes);
  }
  EXPECT_THAT(seqs_read(2, 1), ElementsAre(3));
  EXPECT_THAT(seqs_read(std::nullopt, 2), ElementsAre(0, 2));
  EXPECT_THAT(seqs_read(4, 100), IsEmpty());
  EXPECT_THAT(seqs_read(UINT64_MAX, 100), IsEmpty());
  EXPECT_THAT(ledger_->ReadByLookupKey("", std::nullopt, 10),
              StatusIs(Code::kInvalidArgument));

  ledger_.reset();
  {
    std::unique_ptr<RawDb> db = RawDb::Open(DataDir());
    ASSERT_NE(db, nullptr);
    // Each lookup record holds its entry's leaf hash.
    for (const uint64_t seq : holders) {
      EXPECT_EQ(
          db->Get(RawDb::kIndex, storage::LookupIndexKey("w", seq)),
          std::string(merkle::HashBytes(merkle::HashLeaf(all[seq].bytes))));
    }
    // The read compares with that record, not with the node family: a
    // changed leaf node goes unseen here (verify finds it), but a changed
    // entry does not.
    db->Put(RawDb::kNodes, storage::NodeKey({0, 2}), std::string(32, 'x'));
    wsr::premium::v1::Entry entry = all[3].entry;
    entry.set_payload("lookup:w");
    db->Put(RawDb::kEntries, storage::SeqKey(3), entry.SerializeAsString());
  }
  ReopenIndexed();
  const uint64_t two[] = {2};
  EXPECT_THAT(ledger_->ReadEntriesAt(two),
              StatusIs(Code::kDataLoss,
                       HasSubstr("entry 2 does not match its Merkle leaf")));
  EXPECT_THAT(seqs_read(std::nullopt, 2), ElementsAre(0, 2));
  EXPECT_THAT(ledger_->ReadByLookupKey("w", std::nullopt, 100),
              StatusIs(Code::kDataLoss,
                       HasSubstr("entry 3 does not match its Merkle leaf")));
  EXPECT_THAT(VerifyLedger({DataDir(), &indexer_, false}, nullptr),
              StatusIs(Code::kDataLoss));

  // A record that holds another leaf, or no leaf, is refused.
  const struct {
    std::string value;
    std::string error;
  } cases[] = {
      {std::string(merkle::HashBytes(merkle::HashLeaf(all[0].bytes))),
       "entry 4 does not match its Merkle leaf"},
      {"", "the lookup index record of entry 4 holds 0 bytes"},
      {"12345", "the lookup index record of entry 4 holds 5 bytes"},
  };
  for (const auto& c : cases) {
    ledger_.reset();
    {
      std::unique_ptr<RawDb> db = RawDb::Open(DataDir());
      ASSERT_NE(db, nullptr);
      db->Put(RawDb::kIndex, storage::LookupIndexKey("w", 4), c.value);
    }
    ReopenIndexed();
    EXPECT_THAT(ledger_->ReadByLookupKey("w", 3, 100),
                StatusIs(Code::kDataLoss, HasSubstr(c.error)));
  }
}

TEST_F(IndexedLedgerTest, OpeningAFormatOneLedgerUpgradesIt) {
  MustAppend(OneEntry("brand:a", "k0", "lookup:w"));  // 0
  MustAppend(OneEntry("brand:a", "k1", "lookup:w"));  // 1
  ledger_.reset();
  // Format 1 as it was written: empty lookup records, no
  // lookup_leaves_from.
  {
    std::unique_ptr<RawDb> db = RawDb::Open(DataDir());
    ASSERT_NE(db, nullptr);
    for (const std::string& key : db->Keys(RawDb::kIndex)) {
      if (key[0] == storage::kLookupKeyTag) db->Put(RawDb::kIndex, key, "");
    }
    db->Put(RawDb::kMeta, storage::kMetaFormatVersion, "1");
    db->Delete(RawDb::kMeta, storage::kMetaLookupLeavesFrom);
  }
  EXPECT_THAT(VerifyLedger({DataDir(), &indexer_, false}, nullptr), IsOk());

  ReopenIndexed();
  MustAppend(OneEntry("brand:a", "k2", "lookup:w"));  // 2
  absl::StatusOr<std::vector<StoredEntry>> read =
      ledger_->ReadByLookupKey("w", std::nullopt, 100);
  ASSERT_THAT(read, IsOk());
  EXPECT_EQ(read->size(), 3u);
  const std::vector<StoredEntry> all = ReadAll();
  ledger_.reset();
  {
    std::unique_ptr<RawDb> db = RawDb::Open(DataDir());
    ASSERT_NE(db, nullptr);
    EXPECT_EQ(db->Get(RawDb::kMeta, storage::kMetaFormatVersion), "2");
    EXPECT_EQ(db->Get(RawDb::kMeta, storage::kMetaLookupLeavesFrom),
              storage::EncodeFixed64(2));
    EXPECT_EQ(db->Get(RawDb::kIndex, storage::LookupIndexKey("w", 1)), "");
    EXPECT_EQ(db->Get(RawDb::kIndex, storage::LookupIndexKey("w", 2)),
              std::string(merkle::HashBytes(merkle::HashLeaf(all[2].bytes))));
  }
  EXPECT_THAT(VerifyLedger({DataDir(), &indexer_, false}, nullptr), IsOk());

  // The older records' entries are still checked, against the node family.
  {
    std::unique_ptr<RawDb> db = RawDb::Open(DataDir());
    ASSERT_NE(db, nullptr);
    wsr::premium::v1::Entry entry = all[1].entry;
    entry.set_payload("lookup:w,x");
    db->Put(RawDb::kEntries, storage::SeqKey(1), entry.SerializeAsString());
  }
  ReopenIndexed();
  EXPECT_THAT(ledger_->ReadByLookupKey("w", std::nullopt, 100),
              StatusIs(Code::kDataLoss,
                       HasSubstr("entry 1 does not match its Merkle leaf")));
  ledger_.reset();
  {
    std::unique_ptr<RawDb> db = RawDb::Open(DataDir());
    ASSERT_NE(db, nullptr);
    db->Put(RawDb::kEntries, storage::SeqKey(1), all[1].bytes);
  }

  // Other formats, and a format 2 without its lookup_leaves_from (or one
  // beyond the tree), are refused.
  LedgerOptions options = Options();
  options.indexer = &indexer_;
  options.create_if_missing = false;
  const struct {
    std::optional<std::string> version;
    std::optional<std::string> leaves_from;
    Code code;
    std::string error;
  } cases[] = {
      {"3", storage::EncodeFixed64(2), Code::kFailedPrecondition,
       "unsupported ledger format version \"3\""},
      {std::nullopt, storage::EncodeFixed64(2), Code::kFailedPrecondition,
       "unsupported ledger format version \"(none)\""},
      {"2", std::nullopt, Code::kDataLoss, "no stored lookup_leaves_from"},
      {"2", storage::EncodeFixed64(4), Code::kDataLoss,
       "lookup_leaves_from is malformed or beyond"},
      {"2", "x", Code::kDataLoss, "lookup_leaves_from is malformed"},
  };
  for (const auto& c : cases) {
    {
      std::unique_ptr<RawDb> db = RawDb::Open(DataDir());
      ASSERT_NE(db, nullptr);
      for (const auto& [key, value] :
           {std::pair(storage::kMetaFormatVersion, c.version),
            std::pair(storage::kMetaLookupLeavesFrom, c.leaves_from)}) {
        if (value.has_value()) {
          db->Put(RawDb::kMeta, key, *value);
        } else {
          db->Delete(RawDb::kMeta, key);
        }
      }
    }
    EXPECT_THAT(Ledger::Open(options), StatusIs(c.code, HasSubstr(c.error)))
        << c.error;
  }
}

TEST_F(IndexedLedgerTest, IndexerErrorRefusesTheAppendWithItsStatus) {
  MustAppend(OneEntry("brand:a", "k0", "invoice:1"));
  EXPECT_THAT(ledger_->Append(OneEntry("brand:a", "k1", "reject:now")),
              StatusIs(Code::kFailedPrecondition, "test indexer rejects"));
  EXPECT_THAT(ledger_->Append(MakeRequest(
                  "brand:a", "k2", {{"k", "invoice:2"}, {"k", "reject:x"}})),
              StatusIs(Code::kFailedPrecondition, "test indexer rejects"));
  EXPECT_EQ(ledger_->size(), 1u);
  EXPECT_THAT(ledger_->FindUnique("inv/2"), StatusIs(Code::kNotFound));
  // Nothing of the refused requests was kept: their keys are free.
  EXPECT_EQ(MustAppend(OneEntry("brand:a", "k2", "invoice:2")).first_seq, 1u);
}

TEST_F(IndexedLedgerTest, MalformedDerivedKeysAreRefused) {
  for (const char* kind : {"empty", "nul", "long", "many"}) {
    EXPECT_THAT(ledger_->Append(OneEntry("brand:a", kind,
                                         absl::StrCat("malformed:", kind))),
                StatusIs(Code::kInternal))
        << kind;
  }
  EXPECT_EQ(ledger_->size(), 0u);
}

TEST_F(IndexedLedgerTest, IndexerSeesTheEntryAsStoredButForSeqAndTime) {
  MustAppend(OneEntry("brand:a", "k0", "plain"));
  MustAppend(MakeRequest("brand:a", "k1",
                         {{"k.A", "position:"}, {"k.B", "position:"}}));
  EXPECT_THAT(
      ledger_->FindByLookupKey("position/brand:a/k1/k.A/0/2", std::nullopt, 10)
          .value(),
      ElementsAre(1));
  EXPECT_THAT(
      ledger_->FindByLookupKey("position/brand:a/k1/k.B/1/2", std::nullopt, 10)
          .value(),
      ElementsAre(2));
  // Verification derives the keys again from the stored entries.
  ledger_.reset();
  EXPECT_THAT(VerifyLedger({DataDir(), &indexer_, false}, nullptr), IsOk());
}

TEST_F(IndexedLedgerTest, RepeatedDerivedKeyInOneEntryIsRefused) {
  // One entry cannot hold a key twice; storing it once would leave a
  // ledger that verification counts wrong.
  EXPECT_THAT(ledger_->Append(OneEntry("brand:a", "k0", "lookup:x,y,x")),
              StatusIs(Code::kInternal));
  EXPECT_EQ(ledger_->size(), 0u);
  MustAppend(
      MakeRequest("brand:a", "k1", {{"k", "lookup:x,y"}, {"k", "lookup:x"}}));
  ledger_.reset();
  EXPECT_THAT(VerifyLedger({DataDir(), &indexer_, false}, nullptr), IsOk());
}

TEST_F(IndexedLedgerTest, FindRefusesMalformedKeys) {
  MustAppend(OneEntry("brand:a", "k0", "invoice:1"));
  MustAppend(OneEntry("brand:a", "k1", "lookup:a"));
  for (const std::string& key :
       {std::string(), std::string("a\0", 2), std::string("a\0\0", 3),
        std::string("inv/1\0", 6),
        std::string(kDerivedKeyLengthMax + 1, 'k')}) {
    EXPECT_THAT(ledger_->FindUnique(key), StatusIs(Code::kInvalidArgument))
        << absl::CEscape(key);
    EXPECT_THAT(ledger_->FindByLookupKey(key, std::nullopt, 10),
                StatusIs(Code::kInvalidArgument))
        << absl::CEscape(key);
  }
  EXPECT_EQ(ledger_->FindUnique(std::string(kDerivedKeyLengthMax, 'k'))
                .status()
                .code(),
            Code::kNotFound);
  EXPECT_THAT(ledger_->FindByLookupKey("a", std::nullopt, 10).value(),
              ElementsAre(1));
}

// --- Input validation
// ----------------------------------------------------------

TEST_F(LedgerTest, RefusesBadRequestsAndAppendsNothing) {
  LedgerOptions options = Options();
  options.request_entries_max = 4;
  options.request_bytes_max = 1000;
  OpenLedger(options);
  MustAppend(OneEntry("a", "first", "x"));
  const AppendRequest good = MakeRequest("brand:a", "key-1", {{"k.K", "p"}});
  struct Case {
    std::string name;
    std::function<void(AppendRequest&)> change;
    Code code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"empty actor", [](auto& r) { r.actor = ""; }, Code::kInvalidArgument,
       "actor"},
      {"long actor", [](auto& r) { r.actor = std::string(129, 'a'); },
       Code::kInvalidArgument, "actor"},
      {"actor space", [](auto& r) { r.actor = "brand a"; },
       Code::kInvalidArgument, "actor"},
      {"actor slash", [](auto& r) { r.actor = "brand/a"; },
       Code::kInvalidArgument, "actor"},
      {"actor utf8", [](auto& r) { r.actor = "caf\xc3\xa9"; },
       Code::kInvalidArgument, "actor"},
      {"actor nul", [](auto& r) { r.actor = std::string("a\0b", 3); },
       Code::kInvalidArgument, "actor"},
      {"empty key", [](auto& r) { r.idempotency_key = ""; },
       Code::kInvalidArgument, "idempotency_key"},
      {"long key", [](auto& r) { r.idempotency_key = std::string(129, 'k'); },
       Code::kInvalidArgument, "idempotency_key"},
      {"key space", [](auto& r) { r.idempotency_key = "a b"; },
       Code::kInvalidArgument, "idempotency_key"},
      {"key at", [](auto& r) { r.idempotency_key = "a@b"; },
       Code::kInvalidArgument, "idempotency_key"},
      {"key newline", [](auto& r) { r.idempotency_key = "a\n"; },
       Code::kInvalidArgument, "idempotency_key"},
      {"no entries", [](auto& r) { r.entries.clear(); }, Code::kInvalidArgument,
       "entries"},
      {"empty kind", [](auto& r) { r.entries[0].kind = ""; },
       Code::kInvalidArgument, "entries[0].kind"},
      {"long kind", [](auto& r) { r.entries[0].kind = std::string(129, 'k'); },
       Code::kInvalidArgument, "entries[0].kind"},
      {"kind dash",
       [](auto& r) {
         r.entries.push_back({"a-b", "p"});
       },
       Code::kInvalidArgument, "entries[1].kind"},
      {"kind slash", [](auto& r) { r.entries[0].kind = "type/a.B"; },
       Code::kInvalidArgument, "entries[0].kind"},
      {"kind space", [](auto& r) { r.entries[0].kind = "a B"; },
       Code::kInvalidArgument, "entries[0].kind"},
      {"payload over max",
       [](auto& r) { r.entries[0].payload.assign(kPayloadBytesMax + 1, 'p'); },
       Code::kInvalidArgument, "payload"},
      {"too many entries",
       [](auto& r) {
         r.entries.assign(5, AppendEntry{"k", "p"});
       },
       Code::kResourceExhausted, "entries"},
      {"too many bytes",
       [](auto& r) {
         r.entries = {{"k", std::string(500, 'p')},
                      {"k", std::string(500, 'p')}};
       },
       Code::kResourceExhausted, "bytes"},
  };
  for (const Case& c : cases) {
    AppendRequest request = good;
    c.change(request);
    EXPECT_THAT(ValidateAppendRequest(request, options),
                StatusIs(c.code, HasSubstr(c.message)))
        << c.name;
    EXPECT_THAT(ledger_->Append(request),
                StatusIs(c.code, HasSubstr(c.message)))
        << c.name;
    EXPECT_EQ(ledger_->size(), 1u) << c.name;
  }
  EXPECT_EQ(ledger_->LatestCheckpoint().checkpoint.tree_size, 1u);
  // The same key with valid content is still free.
  EXPECT_FALSE(MustAppend(good).replayed);
}

TEST_F(LedgerTest, AcceptsRequestsAtEveryLimit) {
  LedgerOptions options = Options();
  options.request_entries_max = 4;
  OpenLedger(options);
  AppendRequest request;
  request.actor = std::string(kActorLengthMax - 5, 'a') + "._:@-";
  request.idempotency_key =
      std::string(kIdempotencyKeyLengthMax - 7, 'K') + "._:/=+-";
  request.entries = {{std::string(kKindLengthMax - 2, 'k') + "._",
                      std::string(kPayloadBytesMax, 'p')},
                     {"Z9", ""},
                     {"k", std::string("\0\xff", 2)},
                     {"k", "p"}};
  EXPECT_THAT(ValidateAppendRequest(request, options), IsOk());
  const AppendReceipt receipt = MustAppend(request);
  EXPECT_EQ(receipt.entry_count, 4u);
  EXPECT_EQ(ledger_->ReadEntry(0).value().entry.payload().size(),
            kPayloadBytesMax);
  EXPECT_EQ(ledger_->ReadEntry(2).value().entry.payload(),
            std::string("\0\xff", 2));

  // request_bytes_max counts actor, key, kinds and payloads; equal is fine.
  LedgerOptions small = options;
  const AppendRequest exact = MakeRequest("ab", "cd", {{"ef", "ghij"}});
  small.request_bytes_max = 10;
  EXPECT_THAT(ValidateAppendRequest(exact, small), IsOk());
  small.request_bytes_max = 9;
  EXPECT_THAT(ValidateAppendRequest(exact, small),
              StatusIs(Code::kResourceExhausted));
}

// --- Waiting and closing
// ------------------------------------------------------

TEST_F(LedgerTest, WaitForGrowthWakesOnAppend) {
  OpenLedger();
  MustAppend(OneEntry("a", "k0", "x"));
  std::atomic<uint64_t> seen{0};
  const absl::Time start = absl::Now();
  std::thread waiter([&] {
    seen = ledger_->WaitForGrowth(1, absl::Now() + absl::Seconds(20));
  });
  absl::SleepFor(absl::Milliseconds(20));
  MustAppend(MakeRequest("a", "k1", {{"k", "1"}, {"k", "2"}}));
  waiter.join();
  EXPECT_EQ(seen, 3u);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  // Already grown: returns at once.
  EXPECT_EQ(ledger_->WaitForGrowth(0, absl::InfiniteFuture()), 3u);
}

TEST_F(LedgerTest, WaitForGrowthReturnsAtTheDeadline) {
  OpenLedger();
  MustAppend(OneEntry("a", "k0", "x"));
  const absl::Time deadline = absl::Now() + absl::Milliseconds(100);
  EXPECT_EQ(ledger_->WaitForGrowth(1, deadline), 1u);
  EXPECT_GE(absl::Now(), deadline - absl::Milliseconds(5));
  EXPECT_EQ(ledger_->WaitForGrowth(1, absl::InfinitePast()), 1u);
}

TEST_F(LedgerTest, CloseMakesAppendUnavailableAndWakesWaiters) {
  OpenLedger();
  MustAppend(OneEntry("a", "k0", "x"));
  std::atomic<uint64_t> seen{99};
  const absl::Time start = absl::Now();
  std::thread waiter([&] {
    seen = ledger_->WaitForGrowth(1, absl::Now() + absl::Seconds(20));
  });
  absl::SleepFor(absl::Milliseconds(50));
  ledger_->Close();
  waiter.join();
  EXPECT_EQ(seen, 1u);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10)) << "Close did not wake";
  EXPECT_THAT(ledger_->Append(OneEntry("a", "k1", "y")),
              StatusIs(Code::kUnavailable));
  // A retry of an appended request is refused too: the ledger is closing.
  EXPECT_THAT(ledger_->Append(OneEntry("a", "k0", "x")),
              StatusIs(Code::kUnavailable));
  ledger_->Close();  // idempotent
  EXPECT_EQ(ledger_->size(), 1u);
  EXPECT_THAT(ledger_->ReadEntry(0), IsOk());
  EXPECT_EQ(ledger_->WaitForGrowth(1, absl::InfiniteFuture()), 1u);
  Reopen();
  EXPECT_EQ(MustAppend(OneEntry("a", "k1", "y")).first_seq, 1u);
}

// --- Grouping and the queue limit
// ------------------------------------------------

// Holds a group's leader inside the clock, so that exactly two of `probes`
// queue behind it (pending_requests_max = 3 counts the leader) and the rest
// are refused; then lets them go. The two that queued form the next group.
class GroupedLedgerTest : public LedgerTest {
 protected:
  void SetUp() override {
    LedgerOptions options = Options();
    options.pending_requests_max = 3;
    options.indexer = &indexer_;
    options.clock = gate_.AsFunction();
    OpenLedger(options);
  }

  struct Outcome {
    AppendReceipt leader;
    int refused = 0;
    std::vector<absl::StatusOr<AppendReceipt>> queued;
  };

  Outcome Race(const std::vector<AppendRequest>& probes) {
    Outcome outcome;
    gate_.Shut();
    std::thread leader(
        [&] { outcome.leader = MustAppend(OneEntry("leader", "lead", "x")); });
    EXPECT_TRUE(gate_.AwaitWaiter(absl::Seconds(30)));
    absl::Mutex mu;
    int refused = 0;
    std::vector<absl::StatusOr<AppendReceipt>> results(probes.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < probes.size(); ++i) {
      threads.emplace_back([&, i] {
        results[i] = ledger_->Append(probes[i]);
        absl::MutexLock lock(&mu);
        if (absl::IsResourceExhausted(results[i].status())) ++refused;
      });
    }
    {
      absl::MutexLock lock(&mu);
      const int expected = static_cast<int>(probes.size()) - 2;
      std::pair<int*, int> arg(&refused, expected);
      EXPECT_TRUE(mu.AwaitWithTimeout(absl::Condition(
                                          +[](std::pair<int*, int>* arg) {
                                            return *arg->first >= arg->second;
                                          },
                                          &arg),
                                      absl::Seconds(30)))
          << "the queue limit did not refuse the surplus";
    }
    gate_.Open();
    leader.join();
    for (std::thread& thread : threads) thread.join();
    for (auto& result : results) {
      if (absl::IsResourceExhausted(result.status())) {
        EXPECT_THAT(result,
                    StatusIs(Code::kResourceExhausted, HasSubstr("waiting")));
        ++outcome.refused;
      } else {
        outcome.queued.push_back(result);
      }
    }
    return outcome;
  }

  GateClock gate_;
};

TEST_F(GroupedLedgerTest, PendingLimitRefusesAndQueuedAppendsShareAGroup) {
  std::vector<AppendRequest> probes;
  for (int i = 0; i < 6; ++i) {
    probes.push_back(MakeRequest(absl::StrCat("p", i), "k",
                                 {{"k", "a"}, {"k", absl::StrCat(i)}}));
  }
  const Outcome outcome = Race(probes);
  EXPECT_EQ(outcome.refused, 4);
  ASSERT_EQ(outcome.queued.size(), 2u);
  EXPECT_EQ(outcome.leader.tree_size, 1u);
  ASSERT_THAT(outcome.queued[0], IsOk());
  ASSERT_THAT(outcome.queued[1], IsOk());
  // One group: one tree size, one time, one checkpoint.
  EXPECT_EQ(outcome.queued[0]->tree_size, 5u);
  EXPECT_EQ(outcome.queued[1]->tree_size, 5u);
  EXPECT_EQ(outcome.queued[0]->append_time_micros,
            outcome.queued[1]->append_time_micros);
  EXPECT_NE(outcome.queued[0]->first_seq, outcome.queued[1]->first_seq);
  EXPECT_THAT(ledger_->CheckpointAt(3), StatusIs(Code::kNotFound));
  EXPECT_THAT(ledger_->CheckpointAt(5), IsOk());
  EXPECT_EQ(ledger_->size(), 5u);
  // Refused requests left no trace: their keys are free.
  for (const AppendRequest& probe : probes) {
    EXPECT_THAT(ledger_->Append(probe), IsOk());
  }
  EXPECT_EQ(ledger_->size(), 5u + 4 * 2);
}

TEST_F(GroupedLedgerTest, SameUniqueKeyInOneGroupAppendsOnce) {
  std::vector<AppendRequest> probes;
  for (int i = 0; i < 6; ++i) {
    probes.push_back(OneEntry("brand:a", absl::StrCat("k", i), "invoice:Z"));
  }
  const Outcome outcome = Race(probes);
  ASSERT_EQ(outcome.queued.size(), 2u);
  const int ok = outcome.queued[0].ok() + outcome.queued[1].ok();
  EXPECT_EQ(ok, 1);
  for (const auto& result : outcome.queued) {
    if (!result.ok()) {
      EXPECT_THAT(result, StatusIs(Code::kAlreadyExists, HasSubstr("inv/Z")));
    }
  }
  EXPECT_EQ(ledger_->size(), 2u);
  EXPECT_EQ(ledger_->FindUnique("inv/Z").value(), 1u);
}

TEST_F(GroupedLedgerTest, RetryInTheSameGroupGetsTheSameReceipt) {
  const std::vector<AppendRequest> probes(
      6, MakeRequest("brand:a", "same", {{"k", "1"}, {"k", "2"}}));
  const Outcome outcome = Race(probes);
  ASSERT_EQ(outcome.queued.size(), 2u);
  ASSERT_THAT(outcome.queued[0], IsOk());
  ASSERT_THAT(outcome.queued[1], IsOk());
  EXPECT_TRUE(SameReceipt(*outcome.queued[0], *outcome.queued[1]));
  EXPECT_EQ(outcome.queued[0]->replayed + outcome.queued[1]->replayed, 1);
  EXPECT_EQ(outcome.queued[0]->first_seq, 1u);
  EXPECT_EQ(outcome.queued[0]->tree_size, 3u);
  EXPECT_EQ(ledger_->size(), 3u);
}

TEST_F(GroupedLedgerTest, SameKeyOtherContentInTheSameGroupIsAlreadyExists) {
  std::vector<AppendRequest> probes;
  for (int i = 0; i < 6; ++i) {
    probes.push_back(OneEntry("brand:a", "same", absl::StrCat("content ", i)));
  }
  const Outcome outcome = Race(probes);
  ASSERT_EQ(outcome.queued.size(), 2u);
  EXPECT_EQ(outcome.queued[0].ok() + outcome.queued[1].ok(), 1);
  for (const auto& result : outcome.queued) {
    if (!result.ok()) {
      EXPECT_THAT(result, StatusIs(Code::kAlreadyExists, HasSubstr("same")));
    }
  }
  EXPECT_EQ(ledger_->size(), 2u);
}

// --- Concurrency -------------------------------------------------------------

TEST_F(LedgerTest, ConcurrentAppendsAreDenseAtomicAndIdempotent) {
  LedgerOptions options = Options();
  options.indexer = &indexer_;
  options.clock = [] { return absl::Now(); };
  OpenLedger(options);
  constexpr int kThreads = 8;
  constexpr int kAppendsPerThread = 200;
  constexpr int kSharedEvery = 5;  // every 5th append retries a shared request

  const auto shared_request = [](int k) {
    AppendRequest request;
    request.actor = "shared";
    request.idempotency_key = absl::StrCat("shared-", k);
    for (int i = 0; i <= k % 3; ++i) {
      request.entries.push_back({"k.Shared", absl::StrCat(k, "/", i)});
    }
    return request;
  };
  struct Done {
    AppendRequest request;
    absl::StatusOr<AppendReceipt> receipt;
    int shared = -1;  // the shared request's number, if any
  };
  std::vector<std::vector<Done>> done(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 random(1234 + t);
      for (int i = 0; i < kAppendsPerThread; ++i) {
        Done d;
        if (i % kSharedEvery == 0) {
          d.shared = i / kSharedEvery;
          d.request = shared_request(d.shared);
        } else {
          d.request.actor = absl::StrCat("actor-", t);
          d.request.idempotency_key = absl::StrCat("t", t, "-", i);
          const int count = 1 + static_cast<int>(random() % 4);
          for (int e = 0; e < count; ++e) {
            d.request.entries.push_back(
                {"k.Own", absl::StrCat("lookup:thread/", t)});
          }
        }
        d.receipt = ledger_->Append(d.request);
        done[t].push_back(std::move(d));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  // Every distinct request once: the own ones and one of each shared.
  std::map<uint64_t, const Done*> by_first_seq;
  std::map<int, std::vector<const Done*>> shared;
  std::map<int, std::vector<uint64_t>> own_seqs;
  for (int t = 0; t < kThreads; ++t) {
    for (const Done& d : done[t]) {
      ASSERT_THAT(d.receipt, IsOk());
      EXPECT_EQ(d.receipt->entry_count, d.request.entries.size());
      if (d.shared >= 0) {
        shared[d.shared].push_back(&d);
        if (d.receipt->replayed) continue;
      } else {
        EXPECT_FALSE(d.receipt->replayed);
        for (uint64_t e = 0; e < d.receipt->entry_count; ++e) {
          own_seqs[t].push_back(d.receipt->first_seq + e);
        }
      }
      EXPECT_TRUE(by_first_seq.emplace(d.receipt->first_seq, &d).second)
          << "two requests at seq " << d.receipt->first_seq;
    }
  }
  ASSERT_EQ(shared.size(), kAppendsPerThread / kSharedEvery);
  for (const auto& [k, attempts] : shared) {
    ASSERT_EQ(attempts.size(), static_cast<size_t>(kThreads));
    int appended = 0;
    for (const Done* d : attempts) {
      appended += !d->receipt->replayed;
      EXPECT_TRUE(SameReceipt(*d->receipt, *attempts[0]->receipt))
          << "shared request " << k;
    }
    EXPECT_EQ(appended, 1) << "shared request " << k;
  }

  // Dense and unique: the requests tile [0, size()).
  const uint64_t size = ledger_->size();
  uint64_t next = 0;
  std::set<uint64_t> tree_sizes;
  for (const auto& [first_seq, d] : by_first_seq) {
    EXPECT_EQ(first_seq, next);
    next = first_seq + d->receipt->entry_count;
    EXPECT_GE(d->receipt->tree_size, next);
    tree_sizes.insert(d->receipt->tree_size);
  }
  EXPECT_EQ(next, size);
  // Appends were grouped: fewer checkpoints than requests.
  EXPECT_LT(tree_sizes.size(), by_first_seq.size());
  for (const uint64_t tree_size : tree_sizes) {
    EXPECT_THAT(ledger_->CheckpointAt(tree_size), IsOk());
  }

  // Each request's entries are contiguous and whole.
  const std::vector<StoredEntry> entries = ReadAll();
  ASSERT_EQ(entries.size(), size);
  int64_t last_time = 0;
  for (uint64_t seq = 0; seq < size; ++seq) {
    EXPECT_EQ(entries[seq].entry.seq(), seq);
    EXPECT_GE(entries[seq].entry.append_time_micros(), last_time);
    last_time = entries[seq].entry.append_time_micros();
  }
  for (const auto& [first_seq, d] : by_first_seq) {
    for (uint64_t e = 0; e < d->receipt->entry_count; ++e) {
      const wsr::premium::v1::Entry& entry = entries[first_seq + e].entry;
      EXPECT_EQ(entry.actor(), d->request.actor);
      EXPECT_EQ(entry.idempotency_key(), d->request.idempotency_key);
      EXPECT_EQ(entry.request_index(), e);
      EXPECT_EQ(entry.request_entry_count(), d->receipt->entry_count);
      EXPECT_EQ(entry.payload(), d->request.entries[e].payload);
      EXPECT_EQ(entry.append_time_micros(), d->receipt->append_time_micros);
    }
  }

  // The signed root is the root of the bytes read back.
  const merkle::Hash root = PrefixRoots(entries).back();
  EXPECT_EQ(ledger_->LatestCheckpoint().checkpoint.root_hash, root);
  EXPECT_EQ(ledger_->LatestCheckpoint().checkpoint.tree_size, size);
  EXPECT_EQ(ledger_->RootAt(size).value(), root);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(
        ledger_
            ->FindByLookupKey(absl::StrCat("thread/", t), std::nullopt, 100'000)
            .value(),
        own_seqs[t]);
  }

  ledger_.reset();
  VerifyReport report;
  EXPECT_THAT(VerifyLedger({DataDir(), &indexer_, true}, &report), IsOk());
  EXPECT_EQ(report.entries_checked, size);
  EXPECT_EQ(report.requests_checked, by_first_seq.size());
  EXPECT_EQ(report.checkpoints_checked, tree_sizes.size() + 1);
}

}  // namespace
}  // namespace premium
