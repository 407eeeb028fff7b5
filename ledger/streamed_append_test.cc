// Ledger::AppendStreamed: requests larger than Append takes, staged beyond
// the committed tree and committed with one synced write.
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/ledger.h"
#include "ledger/merkle/hasher.h"
#include "ledger/merkle/proof.h"
#include "ledger/storage/format.h"
#include "ledger/testing/ledger_testing.h"
#include "ledger/verify.h"

namespace premium {
namespace {

using ::premium::testing::IsOk;
using ::premium::testing::OneEntry;
using ::premium::testing::RawDb;
using ::premium::testing::StatusIs;
using ::premium::testing::TempDir;
using ::premium::testing::TestIndexer;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

using Code = absl::StatusCode;

constexpr size_t kBatchEntries = 64;

// Yields `count` entries "invoice:<prefix><i>" (each a unique key and a
// lookup key under TestIndexer) in batches, optionally failing or exiting
// the process after `stop_after` batches.
class InvoiceSource : public EntrySource {
 public:
  InvoiceSource(std::string prefix, uint64_t count)
      : prefix_(std::move(prefix)), count_(count) {}

  // Entry `index` gets payload `payload` instead (to force a clash).
  void Override(uint64_t index, std::string payload) {
    override_index_ = index;
    override_payload_ = std::move(payload);
  }
  void FailAfterBatches(int batches, absl::Status status) {
    fail_after_ = batches;
    failure_ = std::move(status);
  }
  void ExitAfterBatches(int batches) { exit_after_ = batches; }

  absl::StatusOr<std::vector<AppendEntry>> Next(size_t max_entries) override {
    if (batches_ == fail_after_) return failure_;
    if (batches_ == exit_after_) _exit(3);
    ++batches_;
    std::vector<AppendEntry> entries;
    for (; next_ < count_ && entries.size() < max_entries; ++next_) {
      entries.push_back(AppendEntry{
          "test.Kind", next_ == override_index_
                           ? override_payload_
                           : absl::StrCat("invoice:", prefix_, next_)});
    }
    return entries;
  }

 private:
  const std::string prefix_;
  const uint64_t count_;
  uint64_t next_ = 0;
  int batches_ = 0;
  int fail_after_ = -1;
  int exit_after_ = -1;
  absl::Status failure_;
  uint64_t override_index_ = UINT64_MAX;
  std::string override_payload_;
};

class StreamedAppendTest : public ::testing::Test {
 protected:
  LedgerOptions Options() const {
    LedgerOptions options;
    options.data_dir = dir_.Sub("data");
    options.create_if_missing = true;
    options.origin = "test.premium-ledger";
    options.indexer = &indexer_;
    // Small limits so that a few hundred entries are "large".
    options.request_entries_max = 100;
    options.streamed_batch_entries = kBatchEntries;
    return options;
  }

  std::unique_ptr<Ledger> OpenLedger() {
    absl::StatusOr<std::unique_ptr<Ledger>> ledger = Ledger::Open(Options());
    EXPECT_THAT(ledger, IsOk());
    return ledger.ok() ? *std::move(ledger) : nullptr;
  }

  absl::Status Verify() const {
    VerifyOptions options;
    options.data_dir = dir_.Sub("data");
    options.indexer = &indexer_;
    VerifyReport report;
    return VerifyLedger(options, &report);
  }

  TempDir dir_;
  TestIndexer indexer_;
};

TEST_F(StreamedAppendTest, AppendsMoreThanOneRequestMayHold) {
  std::unique_ptr<Ledger> ledger = OpenLedger();
  ASSERT_THAT(ledger->Append(OneEntry("brand:a", "k0", "first")), IsOk());
  InvoiceSource source("big-", 1000);
  absl::StatusOr<AppendReceipt> receipt =
      ledger->AppendStreamed("brand:a", "big-upload", 1000, source);
  ASSERT_THAT(receipt, IsOk());
  EXPECT_EQ(receipt->first_seq, 1u);
  EXPECT_EQ(receipt->entry_count, 1000u);
  EXPECT_EQ(receipt->tree_size, 1001u);
  EXPECT_FALSE(receipt->replayed);
  EXPECT_EQ(ledger->size(), 1001u);
  EXPECT_EQ(ledger->LatestCheckpoint().checkpoint.tree_size, 1001u);

  // Every entry is there, in order, with its position in the request.
  absl::StatusOr<std::vector<StoredEntry>> entries =
      ledger->ReadEntries(1, 1001, 0);
  ASSERT_THAT(entries, IsOk());
  ASSERT_EQ(entries->size(), 1000u);
  for (uint32_t i = 0; i < 1000; ++i) {
    const auto& entry = (*entries)[i].entry;
    EXPECT_EQ(entry.payload(), absl::StrCat("invoice:big-", i));
    EXPECT_EQ(entry.request_index(), i);
    EXPECT_EQ(entry.request_entry_count(), 1000u);
    EXPECT_EQ(entry.append_time_micros(), receipt->append_time_micros);
  }
  // Derived keys are written and found.
  EXPECT_THAT(ledger->FindUnique("inv/big-999"), IsOk());
  EXPECT_EQ(*ledger->FindUnique("inv/big-999"), 1000u);
  // And the tree proves them.
  absl::StatusOr<std::vector<merkle::Hash>> proof =
      ledger->InclusionProof(500, 1001);
  ASSERT_THAT(proof, IsOk());
  EXPECT_THAT(merkle::VerifyInclusion(
                  merkle::HashLeaf((*entries)[499].bytes), 500, 1001, *proof,
                  ledger->LatestCheckpoint().checkpoint.root_hash),
              IsOk());
  ledger.reset();
  EXPECT_THAT(Verify(), IsOk());
  ledger = OpenLedger();
  EXPECT_EQ(ledger->size(), 1001u);
}

TEST_F(StreamedAppendTest, RetryReplaysAndOtherContentIsRefused) {
  std::unique_ptr<Ledger> ledger = OpenLedger();
  InvoiceSource first("r-", 300);
  absl::StatusOr<AppendReceipt> receipt =
      ledger->AppendStreamed("brand:a", "upload-1", 300, first);
  ASSERT_THAT(receipt, IsOk());
  InvoiceSource again("r-", 300);
  absl::StatusOr<AppendReceipt> replay =
      ledger->AppendStreamed("brand:a", "upload-1", 300, again);
  ASSERT_THAT(replay, IsOk());
  EXPECT_TRUE(replay->replayed);
  EXPECT_EQ(replay->first_seq, receipt->first_seq);
  EXPECT_EQ(replay->tree_size, receipt->tree_size);
  EXPECT_EQ(ledger->size(), 300u);

  InvoiceSource other("other-", 300);
  EXPECT_THAT(ledger->AppendStreamed("brand:a", "upload-1", 300, other),
              StatusIs(Code::kAlreadyExists));
  EXPECT_EQ(ledger->size(), 300u);
}

// A failure at any point leaves nothing: no entry, no derived key, and the
// next append gets the next seq.
TEST_F(StreamedAppendTest, RefusedRequestsLeaveNoTrace) {
  std::unique_ptr<Ledger> ledger = OpenLedger();
  ASSERT_THAT(ledger->Append(OneEntry("brand:a", "k0", "invoice:taken")),
              IsOk());

  InvoiceSource short_source("s-", 200);
  EXPECT_THAT(ledger->AppendStreamed("brand:a", "u1", 300, short_source),
              StatusIs(Code::kInvalidArgument, HasSubstr("not the 300")));
  InvoiceSource long_source("l-", 400);
  EXPECT_THAT(ledger->AppendStreamed("brand:a", "u2", 300, long_source),
              StatusIs(Code::kInvalidArgument, HasSubstr("more than the 300")));
  InvoiceSource failing("f-", 400);
  failing.FailAfterBatches(3, absl::DataLossError("spool file unreadable"));
  EXPECT_THAT(ledger->AppendStreamed("brand:a", "u3", 400, failing),
              StatusIs(Code::kDataLoss, HasSubstr("spool file unreadable")));
  // A clash with a committed entry in a late batch: the committed claim
  // must survive the clean-up.
  InvoiceSource clash("c-", 400);
  clash.Override(350, "invoice:taken");
  EXPECT_THAT(ledger->AppendStreamed("brand:a", "u4", 400, clash),
              StatusIs(Code::kAlreadyExists, HasSubstr("at seq 0")));
  // Twice in the same request, in different batches.
  InvoiceSource twice("t-", 400);
  twice.Override(300, "invoice:t-5");
  EXPECT_THAT(ledger->AppendStreamed("brand:a", "u5", 400, twice),
              StatusIs(Code::kAlreadyExists, HasSubstr("twice")));

  EXPECT_EQ(ledger->size(), 1u);
  EXPECT_EQ(*ledger->FindUnique("inv/taken"), 0u);
  for (const char* key :
       {"inv/s-0", "inv/l-5", "inv/f-100", "inv/c-349", "inv/t-299"}) {
    EXPECT_THAT(ledger->FindUnique(key), StatusIs(Code::kNotFound)) << key;
  }
  absl::StatusOr<std::vector<uint64_t>> party =
      ledger->FindByLookupKey("party/brand:a", std::nullopt, 0);
  ASSERT_THAT(party, IsOk());
  EXPECT_EQ(party->size(), 1u);

  absl::StatusOr<AppendReceipt> next =
      ledger->Append(OneEntry("brand:a", "k1", "invoice:c-349"));
  ASSERT_THAT(next, IsOk());
  EXPECT_EQ(next->first_seq, 1u);
  ledger.reset();
  EXPECT_THAT(Verify(), IsOk());
}

// Appends of others wait for the streamed one's turn and then all land,
// with dense seqs.
TEST_F(StreamedAppendTest, ConcurrentAppendsWaitTheirTurn) {
  std::unique_ptr<Ledger> ledger = OpenLedger();
  std::atomic<int> appended{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        if (ledger
                ->Append(OneEntry(absl::StrCat("brand:t", t),
                                  absl::StrCat("k", i), "payload"))
                .ok()) {
          ++appended;
        }
      }
    });
  }
  InvoiceSource source("big-", 2000);
  absl::StatusOr<AppendReceipt> receipt =
      ledger->AppendStreamed("supplier:s", "payroll", 2000, source);
  for (std::thread& thread : threads) thread.join();
  ASSERT_THAT(receipt, IsOk());
  EXPECT_EQ(appended.load(), 200);
  EXPECT_EQ(ledger->size(), 2200u);
  // The streamed request is contiguous.
  absl::StatusOr<std::vector<StoredEntry>> entries =
      ledger->ReadEntries(receipt->first_seq, receipt->first_seq + 2000, 0);
  ASSERT_THAT(entries, IsOk());
  for (const StoredEntry& stored : *entries) {
    EXPECT_EQ(stored.entry.actor(), "supplier:s");
  }
  ledger.reset();
  EXPECT_THAT(Verify(), IsOk());
}

// The process dies half way: the staged records stay on disk, marked;
// verify says to open the ledger, and opening removes them.
TEST_F(StreamedAppendTest, AnInterruptedAppendIsRemovedOnOpen) {
  // The death test forks while RocksDB's idle background threads exist
  // (gtest warns); "threadsafe" would re-run the fixture in another
  // directory. The child opens its own database, so no lock is shared.
  {
    std::unique_ptr<Ledger> ledger = OpenLedger();
    ASSERT_THAT(ledger->Append(OneEntry("brand:a", "k0", "invoice:kept")),
                IsOk());
  }
  EXPECT_EXIT(
      {
        std::unique_ptr<Ledger> ledger = OpenLedger();
        InvoiceSource source("dying-", 1000);
        source.ExitAfterBatches(5);
        (void)ledger->AppendStreamed("brand:a", "dies", 1000, source);
      },
      ::testing::ExitedWithCode(3), "");
  {
    // Five batches were staged past the committed size.
    std::unique_ptr<RawDb> raw = RawDb::Open(dir_.Sub("data"));
    ASSERT_NE(raw, nullptr);
    EXPECT_TRUE(raw->Get(RawDb::kEntries, storage::SeqKey(1)).has_value());
    EXPECT_TRUE(raw->Get(RawDb::kMeta, storage::kMetaStagedFrom).has_value());
  }
  EXPECT_THAT(Verify(),
              StatusIs(Code::kFailedPrecondition, HasSubstr("start premiumd")));
  {
    std::unique_ptr<Ledger> ledger = OpenLedger();
    EXPECT_EQ(ledger->size(), 1u);
    EXPECT_THAT(ledger->FindUnique("inv/dying-3"), StatusIs(Code::kNotFound));
    absl::StatusOr<AppendReceipt> next =
        ledger->Append(OneEntry("brand:a", "k1", "invoice:dying-3"));
    ASSERT_THAT(next, IsOk());
    EXPECT_EQ(next->first_seq, 1u);
  }
  {
    std::unique_ptr<RawDb> raw = RawDb::Open(dir_.Sub("data"));
    ASSERT_NE(raw, nullptr);
    EXPECT_FALSE(raw->Get(RawDb::kEntries, storage::SeqKey(2)).has_value());
    EXPECT_FALSE(raw->Get(RawDb::kMeta, storage::kMetaStagedFrom).has_value());
  }
  EXPECT_THAT(Verify(), IsOk());
}

TEST_F(StreamedAppendTest, RefusesBadArguments) {
  std::unique_ptr<Ledger> ledger = OpenLedger();
  InvoiceSource source("x-", 10);
  EXPECT_THAT(ledger->AppendStreamed("brand:a", "u", 0, source),
              StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(ledger->AppendStreamed("bad actor", "u", 10, source),
              StatusIs(Code::kInvalidArgument, HasSubstr("actor")));
  EXPECT_THAT(ledger->AppendStreamed("brand:a", "", 10, source),
              StatusIs(Code::kInvalidArgument, HasSubstr("idempotency_key")));
  EXPECT_THAT(ledger->AppendStreamed("brand:a", "u", uint64_t{1} << 40, source),
              StatusIs(Code::kResourceExhausted));
  EXPECT_EQ(ledger->size(), 0u);
  ledger->Close();
  EXPECT_THAT(ledger->AppendStreamed("brand:a", "u", 10, source),
              StatusIs(Code::kUnavailable));
}

}  // namespace
}  // namespace premium
