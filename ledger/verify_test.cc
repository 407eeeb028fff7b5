#include "ledger/verify.h"

#include <bit>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/checkpoint/checkpoint.h"
#include "ledger/ledger.h"
#include "ledger/merkle/hasher.h"
#include "ledger/storage/format.h"
#include "ledger/testing/ledger_testing.h"
#include "rocksdb/db.h"

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
using ::premium::testing::WriteFileOrDie;
using ::testing::HasSubstr;
using ::testing::StartsWith;

using Code = absl::StatusCode;
using wsr::premium::v1::Entry;

// The ledger every test starts from: seven requests, one group each.
//   request  0    1        2    3      4    5             6
//   seqs     0    1 2 3    4    5 6    7    8 9 10 11     12
// Checkpoints at 0, 1, 4, 5, 7, 8, 12, 13.
const std::vector<std::vector<std::string>> kPayloads = {
    {"invoice:0"}, {"invoice:1a", "lookup:x,y", "plain-1"},
    {"invoice:2"}, {"lookup:x", "plain-3"},
    {"plain-4"},   {"invoice:5a", "invoice:5b", "lookup:z", "plain-5"},
    {"invoice:6"},
};
constexpr uint64_t kEntries = 13;
constexpr uint64_t kNodes = 2 * 13 - 3;  // 2N - popcount(N)
constexpr uint64_t kCheckpoints = 8;
constexpr uint64_t kRequests = 7;
// Six invoices with two keys each, then x, y, x and z.
constexpr uint64_t kDerivedKeys = 6 * 2 + 4;

std::string FlipByte(std::string bytes, size_t at) {
  bytes[at] = static_cast<char>(bytes[at] ^ 0x01);
  return bytes;
}

// Every file of a directory tree with its contents.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& file : std::filesystem::recursive_directory_iterator(dir)) {
    if (file.is_regular_file()) {
      files[file.path().string()] = ReadFileOrDie(file.path().string());
    }
  }
  return files;
}

class VerifyTest : public ::testing::Test {
 protected:
  std::string DataDir() const { return dir_.Sub("data"); }

  LedgerOptions Options(bool indexed) const {
    LedgerOptions options;
    options.data_dir = DataDir();
    options.create_if_missing = true;
    options.clock = clock_.AsFunction();
    options.indexer = indexed ? &indexer_ : nullptr;
    return options;
  }

  // Builds the ledger above, with or without the test indexer, and closes it.
  void Build(bool indexed) {
    indexed_ = indexed;
    absl::StatusOr<std::unique_ptr<Ledger>> ledger =
        Ledger::Open(Options(indexed));
    ASSERT_THAT(ledger, IsOk());
    for (size_t r = 0; r < kPayloads.size(); ++r) {
      AppendRequest request;
      request.actor = r % 2 == 0 ? "brand:a" : "brand:b";
      request.idempotency_key = absl::StrCat("req-", r);
      for (const std::string& payload : kPayloads[r]) {
        request.entries.push_back({"test.Kind", payload});
      }
      clock_.Advance(absl::Seconds(1));
      ASSERT_THAT((*ledger)->Append(request), IsOk());
      requests_.push_back(request);
    }
    // A retry appends nothing and stores nothing.
    ASSERT_TRUE((*ledger)->Append(requests_[3]).value().replayed);
    ASSERT_EQ((*ledger)->size(), kEntries);
  }

  absl::Status Verify(VerifyReport* report = nullptr) {
    VerifyOptions options;
    options.data_dir = DataDir();
    options.indexer = indexed_ ? &indexer_ : nullptr;
    return VerifyLedger(options, report);
  }

  // Verify's status and, when it names a seq, that the report agrees.
  absl::Status VerifyNaming(std::optional<uint64_t>* first_bad_seq) {
    VerifyReport report;
    absl::Status status = Verify(&report);
    *first_bad_seq = report.first_bad_seq;
    if (report.first_bad_seq.has_value()) {
      EXPECT_THAT(
          std::string(status.message()),
          StartsWith(absl::StrCat("seq ", *report.first_bad_seq, ": ")));
    }
    return status;
  }

  void Tamper(const std::function<void(RawDb&)>& change) {
    std::unique_ptr<RawDb> db = RawDb::Open(DataDir());
    ASSERT_NE(db, nullptr);
    change(*db);
  }

  absl::StatusOr<std::unique_ptr<Ledger>> OpenLedger() {
    LedgerOptions options = Options(indexed_);
    options.create_if_missing = false;
    return Ledger::Open(options);
  }

  // The stored bytes of entry `seq`, with `change` applied to the Entry.
  static std::string Rewritten(RawDb& db, uint64_t seq,
                               const std::function<void(Entry&)>& change) {
    Entry entry;
    EXPECT_TRUE(entry.ParseFromString(
        db.Get(RawDb::kEntries, storage::SeqKey(seq)).value_or("")));
    change(entry);
    return entry.SerializeAsString();
  }

  // Rewrites entry `seq` with another payload *and* everything a careless
  // check would compare it with: its leaf and its request's fingerprint.
  static void RewriteConsistently(RawDb& db, uint64_t seq,
                                  const std::string& payload) {
    const std::string bytes =
        Rewritten(db, seq, [&](Entry& entry) { entry.set_payload(payload); });
    db.Put(RawDb::kEntries, storage::SeqKey(seq), bytes);
    db.Put(RawDb::kNodes, storage::NodeKey({0, seq}),
           std::string(merkle::HashBytes(merkle::HashLeaf(bytes))));
    Entry entry;
    ASSERT_TRUE(entry.ParseFromString(bytes));
    const uint64_t first_seq = seq - entry.request_index();
    storage::RequestFingerprinter fingerprinter(
        entry.actor(), entry.idempotency_key(), entry.request_entry_count());
    for (uint64_t s = first_seq; s < first_seq + entry.request_entry_count();
         ++s) {
      Entry member;
      ASSERT_TRUE(member.ParseFromString(
          db.Get(RawDb::kEntries, storage::SeqKey(s)).value()));
      fingerprinter.AddEntry(member.kind(), member.payload());
    }
    const std::string key =
        storage::IdempotencyKey(entry.actor(), entry.idempotency_key());
    storage::IdempotencyRecord record =
        storage::DecodeIdempotencyRecord(
            db.Get(RawDb::kIdempotency, key).value())
            .value();
    record.fingerprint = fingerprinter.Finish();
    db.Put(RawDb::kIdempotency, key, storage::EncodeIdempotencyRecord(record));
  }

  static std::string RecordKey(const AppendRequest& request) {
    return storage::IdempotencyKey(request.actor, request.idempotency_key);
  }

  TempDir dir_;
  FakeClock clock_;
  TestIndexer indexer_;
  bool indexed_ = false;
  std::vector<AppendRequest> requests_;
};

// --- Healthy ledgers ---------------------------------------------------------

TEST_F(VerifyTest, HealthyLedgerPassesWithTheRightCounts) {
  Build(/*indexed=*/false);
  const std::map<std::string, std::string> before = Snapshot(DataDir());
  VerifyReport report;
  ASSERT_THAT(Verify(&report), IsOk());
  // Verification changes nothing.
  EXPECT_EQ(Snapshot(DataDir()), before);
  EXPECT_EQ(report.tree_size, kEntries);
  EXPECT_EQ(report.entries_checked, kEntries);
  EXPECT_EQ(report.nodes_checked, kNodes);
  EXPECT_EQ(report.checkpoints_checked, kCheckpoints);
  EXPECT_EQ(report.requests_checked, kRequests);
  EXPECT_EQ(report.derived_keys_checked, 0u);
  EXPECT_FALSE(report.first_bad_seq.has_value());
  absl::StatusOr<std::unique_ptr<Ledger>> ledger = OpenLedger();
  ASSERT_THAT(ledger, IsOk());
  uint64_t bytes = 0;
  for (uint64_t seq = 0; seq < kEntries; ++seq) {
    bytes += (*ledger)->ReadEntry(seq).value().bytes.size();
  }
  ledger->reset();
  EXPECT_EQ(report.entry_bytes, bytes);
  // Also without the block checksum pass.
  VerifyOptions options;
  options.data_dir = DataDir();
  options.check_block_checksums = false;
  EXPECT_THAT(VerifyLedger(options, nullptr), IsOk());
}

TEST_F(VerifyTest, HealthyIndexedLedgerPassesWithTheRightCounts) {
  Build(/*indexed=*/true);
  VerifyReport report;
  ASSERT_THAT(Verify(&report), IsOk());
  EXPECT_EQ(report.entries_checked, kEntries);
  EXPECT_EQ(report.nodes_checked, kNodes);
  EXPECT_EQ(report.checkpoints_checked, kCheckpoints);
  EXPECT_EQ(report.requests_checked, kRequests);
  EXPECT_EQ(report.derived_keys_checked, kDerivedKeys);
}

TEST_F(VerifyTest, EmptyLedgerPasses) {
  ASSERT_THAT(Ledger::Open(Options(false)), IsOk());
  VerifyReport report;
  ASSERT_THAT(Verify(&report), IsOk());
  EXPECT_EQ(report.tree_size, 0u);
  EXPECT_EQ(report.entries_checked, 0u);
  EXPECT_EQ(report.nodes_checked, 0u);
  EXPECT_EQ(report.checkpoints_checked, 1u);
  EXPECT_EQ(report.requests_checked, 0u);
}

TEST_F(VerifyTest, NodeCountIsTwoNMinusPopcountForEverySize) {
  absl::StatusOr<std::unique_ptr<Ledger>> ledger = Ledger::Open(Options(false));
  ASSERT_THAT(ledger, IsOk());
  for (uint64_t n = 1; n <= 17; ++n) {
    ASSERT_THAT((*ledger)->Append(OneEntry("a", absl::StrCat(n), "x")), IsOk());
    VerifyReport report;
    ASSERT_THAT(Verify(&report), IsOk()) << n;
    EXPECT_EQ(report.entries_checked, n);
    EXPECT_EQ(report.nodes_checked,
              2 * n - static_cast<uint64_t>(std::popcount(n)))
        << n;
    EXPECT_EQ(report.checkpoints_checked, n + 1);
  }
}

TEST_F(VerifyTest, MissingLedgerIsNotFound) {
  VerifyOptions options;
  options.data_dir = dir_.Sub("absent");
  EXPECT_THAT(VerifyLedger(options, nullptr), StatusIs(Code::kNotFound));
  options.data_dir = dir_.path();  // exists, holds no ledger
  EXPECT_THAT(VerifyLedger(options, nullptr), StatusIs(Code::kNotFound));
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("absent")));
}

// --- Entries
// -------------------------------------------------------------------

TEST_F(VerifyTest, ChangedEntryByteIsNamedBySeq) {
  Build(false);
  // Single-entry requests, and the first, a middle and the last entry of
  // multi-entry requests.
  for (const uint64_t seq : {0, 1, 2, 3, 9, 11, 12}) {
    std::string original;
    Tamper([&](RawDb& db) {
      original = db.Get(RawDb::kEntries, storage::SeqKey(seq)).value();
      Entry entry;
      ASSERT_TRUE(entry.ParseFromString(original));
      const size_t at = original.find(entry.payload());
      ASSERT_NE(at, std::string::npos);
      db.Put(RawDb::kEntries, storage::SeqKey(seq), FlipByte(original, at));
    });
    std::optional<uint64_t> bad;
    EXPECT_THAT(VerifyNaming(&bad), StatusIs(Code::kDataLoss)) << seq;
    EXPECT_EQ(bad, seq);
    Tamper([&](RawDb& db) {
      db.Put(RawDb::kEntries, storage::SeqKey(seq), original);
    });
    ASSERT_THAT(Verify(), IsOk()) << "restored " << seq;
  }
}

TEST_F(VerifyTest, MalformedEntriesAreNamedBySeq) {
  Build(false);
  const struct {
    uint64_t seq;
    std::function<std::string(RawDb&)> bytes;
    std::string what;
  } cases[] = {
      {5, [](RawDb&) { return std::string("\xff\xff\xff"); }, "parse"},
      {6,
       [](RawDb& db) {
         return Rewritten(db, 6, [](Entry& e) { e.set_seq(7); });
       },
       "says it is seq 7"},
      {2,
       [](RawDb& db) {
         return Rewritten(db, 2, [](Entry& e) { e.set_request_index(0); });
       },
       ""},
      {4,
       [](RawDb& db) {
         return Rewritten(db, 4, [](Entry& e) {
           e.set_append_time_micros(e.append_time_micros() - 10'000'000);
         });
       },
       ""},
  };
  for (const auto& c : cases) {
    std::string original;
    Tamper([&](RawDb& db) {
      original = db.Get(RawDb::kEntries, storage::SeqKey(c.seq)).value();
      db.Put(RawDb::kEntries, storage::SeqKey(c.seq), c.bytes(db));
    });
    std::optional<uint64_t> bad;
    EXPECT_THAT(VerifyNaming(&bad),
                StatusIs(Code::kDataLoss, HasSubstr(c.what)))
        << c.seq;
    EXPECT_EQ(bad, c.seq);
    Tamper([&](RawDb& db) {
      db.Put(RawDb::kEntries, storage::SeqKey(c.seq), original);
    });
    ASSERT_THAT(Verify(), IsOk());
  }
}

TEST_F(VerifyTest, DeletedEntryIsNamedBySeq) {
  Build(false);
  for (const uint64_t seq : {0, 6, 12}) {
    std::string original;
    Tamper([&](RawDb& db) {
      original = db.Get(RawDb::kEntries, storage::SeqKey(seq)).value();
      db.Delete(RawDb::kEntries, storage::SeqKey(seq));
    });
    std::optional<uint64_t> bad;
    EXPECT_THAT(VerifyNaming(&bad),
                StatusIs(Code::kDataLoss, HasSubstr("missing")))
        << seq;
    EXPECT_EQ(bad, seq);
    Tamper([&](RawDb& db) {
      db.Put(RawDb::kEntries, storage::SeqKey(seq), original);
    });
    ASSERT_THAT(Verify(), IsOk());
  }
}

TEST_F(VerifyTest, EntryRewrittenWithItsLeafIsCaughtByAHigherNode) {
  Build(false);
  // Leaf 9 completes node (1, 4) = leaves 8 and 9.
  Tamper([](RawDb& db) { RewriteConsistently(db, 9, "forged"); });
  EXPECT_THAT(Verify(),
              StatusIs(Code::kDataLoss, HasSubstr("Merkle node (1, 4)")));
}

TEST_F(VerifyTest, EntryRewrittenWithItsLeafIsCaughtByTheCheckpoint) {
  Build(false);
  // Leaf 12 completes no higher node: only the signed root covers it.
  Tamper([](RawDb& db) { RewriteConsistently(db, 12, "forged"); });
  std::optional<uint64_t> bad;
  EXPECT_THAT(
      VerifyNaming(&bad),
      StatusIs(Code::kDataLoss, HasSubstr("checkpoint at tree size 13")));
  EXPECT_EQ(bad, 12u);
  // The ledger itself refuses to start on it.
  EXPECT_THAT(OpenLedger(), StatusIs(Code::kDataLoss));
}

TEST_F(VerifyTest, EntryStoredBeyondTheTreeSizeIsDetected) {
  Build(false);
  Tamper([](RawDb& db) {
    db.Put(RawDb::kEntries, storage::SeqKey(kEntries),
           Rewritten(db, kEntries - 1, [](Entry& e) { e.set_seq(kEntries); }));
  });
  std::optional<uint64_t> bad;
  EXPECT_THAT(VerifyNaming(&bad), StatusIs(Code::kDataLoss));
  EXPECT_EQ(bad, kEntries);
  EXPECT_THAT(OpenLedger(), StatusIs(Code::kDataLoss));
}

TEST_F(VerifyTest, ReadEntryRefusesEntriesChangedBehindItsBack) {
  Build(false);
  Tamper([](RawDb& db) {
    db.Put(RawDb::kEntries, storage::SeqKey(2),
           Rewritten(db, 2, [](Entry& e) { e.set_payload("forged"); }));
    db.Put(RawDb::kEntries, storage::SeqKey(3), "\xff\xff");
    db.Put(RawDb::kEntries, storage::SeqKey(5),
           Rewritten(db, 6, [](Entry&) {}));  // another seq's entry
    db.Delete(RawDb::kEntries, storage::SeqKey(7));
  });
  absl::StatusOr<std::unique_ptr<Ledger>> ledger = OpenLedger();
  ASSERT_THAT(ledger, IsOk());  // only the newest entries are read at open
  EXPECT_THAT((*ledger)->ReadEntry(1), IsOk());
  EXPECT_THAT((*ledger)->ReadEntry(2),
              StatusIs(Code::kDataLoss, HasSubstr("leaf")));
  EXPECT_THAT((*ledger)->ReadEntry(3), StatusIs(Code::kDataLoss));
  EXPECT_THAT((*ledger)->ReadEntry(5), StatusIs(Code::kDataLoss));
  EXPECT_THAT((*ledger)->ReadEntry(7),
              StatusIs(Code::kDataLoss, HasSubstr("missing")));
  EXPECT_THAT((*ledger)->ReadEntries(0, kEntries, 0),
              StatusIs(Code::kDataLoss));
  EXPECT_THAT((*ledger)->ReadEntries(8, kEntries, 0), IsOk());
}

// --- The tree
// ----------------------------------------------------------------------

TEST_F(VerifyTest, ChangedOrMissingNodesAreDetected) {
  Build(false);
  for (const merkle::NodeId id :
       {merkle::NodeId{0, 4}, merkle::NodeId{1, 0}, merkle::NodeId{2, 0},
        merkle::NodeId{3, 0}, merkle::NodeId{2, 2}, merkle::NodeId{1, 5}}) {
    for (const bool remove : {false, true}) {
      std::string original;
      Tamper([&](RawDb& db) {
        original = db.Get(RawDb::kNodes, storage::NodeKey(id)).value();
        if (remove) {
          db.Delete(RawDb::kNodes, storage::NodeKey(id));
        } else {
          db.Put(RawDb::kNodes, storage::NodeKey(id), FlipByte(original, 7));
        }
      });
      // A changed leaf is reported as such; other nodes by their id.
      const std::string what =
          id.level == 0 && !remove ? std::string("leaf hash") : id.ToString();
      std::optional<uint64_t> bad;
      EXPECT_THAT(VerifyNaming(&bad),
                  StatusIs(Code::kDataLoss, HasSubstr(what)))
          << id.ToString() << (remove ? " removed" : " changed");
      EXPECT_EQ(bad, id.begin());
      Tamper([&](RawDb& db) {
        db.Put(RawDb::kNodes, storage::NodeKey(id), original);
      });
      ASSERT_THAT(Verify(), IsOk());
    }
  }
}

TEST_F(VerifyTest, ExtraNodeIsDetected) {
  Build(false);
  Tamper([](RawDb& db) {
    db.Put(RawDb::kNodes, storage::NodeKey({0, kEntries}),
           std::string(32, 'n'));
  });
  EXPECT_THAT(Verify(), StatusIs(Code::kDataLoss, HasSubstr("Merkle nodes")));
}

TEST_F(VerifyTest, OpenRefusesATreeThatDoesNotMatchTheNewestCheckpoint) {
  Build(false);
  // (3, 0) is part of the compact range of 13: [0, 8) [8, 12) [12, 13).
  Tamper([](RawDb& db) {
    db.Put(RawDb::kNodes, storage::NodeKey({3, 0}),
           std::string(merkle::HashBytes(merkle::HashLeaf("forged"))));
  });
  EXPECT_THAT(OpenLedger(),
              StatusIs(Code::kDataLoss, HasSubstr("signed checkpoint")));
  Tamper([](RawDb& db) { db.Delete(RawDb::kNodes, storage::NodeKey({3, 0})); });
  EXPECT_THAT(OpenLedger(), StatusIs(Code::kDataLoss));
}

// --- Checkpoints
// -------------------------------------------------------------------

TEST_F(VerifyTest, CorruptCheckpointSignatureIsDetected) {
  Build(false);
  for (const uint64_t size : {uint64_t{0}, uint64_t{5}, kEntries}) {
    std::string original;
    Tamper([&](RawDb& db) {
      original =
          db.Get(RawDb::kCheckpoints, storage::EncodeFixed64(size)).value();
      db.Put(RawDb::kCheckpoints, storage::EncodeFixed64(size),
             FlipByte(original, 32 + 10));
    });
    EXPECT_THAT(
        Verify(),
        StatusIs(Code::kDataLoss,
                 HasSubstr(absl::StrCat("checkpoint at tree size ", size))));
    if (size == kEntries) {
      EXPECT_THAT(OpenLedger(), StatusIs(Code::kDataLoss));
    }
    Tamper([&](RawDb& db) {
      db.Put(RawDb::kCheckpoints, storage::EncodeFixed64(size), original);
    });
    ASSERT_THAT(Verify(), IsOk());
  }
}

TEST_F(VerifyTest, ChangedCheckpointRootIsDetected) {
  Build(false);
  Tamper([](RawDb& db) {
    const std::string key = storage::EncodeFixed64(7);
    db.Put(RawDb::kCheckpoints, key,
           FlipByte(db.Get(RawDb::kCheckpoints, key).value(), 0));
  });
  EXPECT_THAT(Verify(), StatusIs(Code::kDataLoss,
                                 HasSubstr("checkpoint at tree size 7")));
}

TEST_F(VerifyTest, DeletedNewestCheckpointIsDetected) {
  Build(false);
  Tamper([](RawDb& db) {
    db.Delete(RawDb::kCheckpoints, storage::EncodeFixed64(kEntries));
  });
  EXPECT_THAT(Verify(), StatusIs(Code::kDataLoss));
  EXPECT_THAT(OpenLedger(), StatusIs(Code::kDataLoss));
}

TEST_F(VerifyTest, DeletedOlderCheckpointIsDetected) {
  Build(false);
  Tamper([](RawDb& db) {
    db.Delete(RawDb::kCheckpoints, storage::EncodeFixed64(5));
  });
  EXPECT_THAT(Verify(), StatusIs(Code::kDataLoss));
}

TEST_F(VerifyTest, DeletedEmptyTreeCheckpointIsDetected) {
  Build(false);
  Tamper([](RawDb& db) {
    db.Delete(RawDb::kCheckpoints, storage::EncodeFixed64(0));
  });
  EXPECT_THAT(Verify(), StatusIs(Code::kDataLoss, HasSubstr("empty tree")));
}

TEST_F(VerifyTest, CheckpointBeyondTheTreeIsDetected) {
  Build(false);
  Tamper([](RawDb& db) {
    db.Put(
        RawDb::kCheckpoints, storage::EncodeFixed64(kEntries + 1),
        db.Get(RawDb::kCheckpoints, storage::EncodeFixed64(kEntries)).value());
  });
  EXPECT_THAT(Verify(), StatusIs(Code::kDataLoss));
}

TEST_F(VerifyTest, ReplacedPublicKeyIsDetected) {
  Build(false);
  TempDir other;
  ASSERT_THAT(CheckpointSigner::CreateInDirectory(other.path()), IsOk());
  const std::string public_key_path =
      absl::StrCat(DataDir(), "/", CheckpointSigner::kPublicKeyFile);
  WriteFileOrDie(public_key_path,
                 ReadFileOrDie(other.Sub(CheckpointSigner::kPublicKeyFile)));
  EXPECT_THAT(Verify(), StatusIs(Code::kDataLoss, HasSubstr("checkpoint")));
  EXPECT_THAT(OpenLedger(), StatusIs(Code::kDataLoss));
  WriteFileOrDie(public_key_path, "garbage");
  EXPECT_THAT(Verify(), StatusIs(Code::kDataLoss));
  std::filesystem::remove(public_key_path);
  EXPECT_THAT(Verify(), StatusIs(Code::kDataLoss));
}

// --- Meta records
// ------------------------------------------------------------------

TEST_F(VerifyTest, ChangedTreeSizeIsDetected) {
  Build(false);
  for (const std::string& size :
       {storage::EncodeFixed64(kEntries - 1),
        storage::EncodeFixed64(kEntries + 1), storage::EncodeFixed64(0),
        std::string("\x01\x02"), std::string()}) {
    Tamper(
        [&](RawDb& db) { db.Put(RawDb::kMeta, storage::kMetaTreeSize, size); });
    EXPECT_THAT(Verify(), StatusIs(Code::kDataLoss)) << absl::CEscape(size);
    EXPECT_THAT(OpenLedger(), StatusIs(Code::kDataLoss)) << absl::CEscape(size);
  }
  Tamper([](RawDb& db) { db.Delete(RawDb::kMeta, storage::kMetaTreeSize); });
  EXPECT_THAT(Verify(), StatusIs(Code::kDataLoss));
  Tamper([](RawDb& db) {
    db.Put(RawDb::kMeta, storage::kMetaTreeSize,
           storage::EncodeFixed64(kEntries));
  });
  EXPECT_THAT(Verify(), IsOk());
}

TEST_F(VerifyTest, ChangedOriginOrFormatVersionIsDetected) {
  Build(false);
  Tamper([](RawDb& db) {
    db.Put(RawDb::kMeta, storage::kMetaOrigin, "example.com/other");
  });
  EXPECT_THAT(Verify(), StatusIs(Code::kDataLoss));
  Tamper([](RawDb& db) {
    db.Put(RawDb::kMeta, storage::kMetaOrigin, "bad origin");
  });
  EXPECT_THAT(Verify(), StatusIs(Code::kDataLoss));
  Tamper([](RawDb& db) {
    db.Put(RawDb::kMeta, storage::kMetaFormatVersion, "3");
  });
  EXPECT_THAT(Verify(), StatusIs(Code::kDataLoss));
}

// --- Idempotency records
// ------------------------------------------------------------

TEST_F(VerifyTest, DeletedIdempotencyRecordIsNamedBySeq) {
  Build(false);
  Tamper([&](RawDb& db) {
    db.Delete(RawDb::kIdempotency, RecordKey(requests_[3]));
  });
  std::optional<uint64_t> bad;
  EXPECT_THAT(VerifyNaming(&bad),
              StatusIs(Code::kDataLoss, HasSubstr("idempotency")));
  EXPECT_EQ(bad, 5u);
}

TEST_F(VerifyTest, ModifiedIdempotencyRecordIsDetected) {
  Build(false);
  // Request 3 is seqs 5 and 6, appended alone: its group ended at 7.
  const std::function<void(storage::IdempotencyRecord&)> changes[] = {
      [](auto& r) { r.fingerprint[0] ^= 1; },
      [](auto& r) { r.first_seq = 4; },
      [](auto& r) { r.entry_count = 1; },
      [](auto& r) { r.tree_size = 8; },
      [](auto& r) { r.tree_size = kEntries; },
      [](auto& r) { r.tree_size = 6; },
      [](auto& r) { r.append_time_micros += 1; },
  };
  std::string original;
  Tamper([&](RawDb& db) {
    original = db.Get(RawDb::kIdempotency, RecordKey(requests_[3])).value();
  });
  for (size_t i = 0; i < std::size(changes); ++i) {
    Tamper([&](RawDb& db) {
      storage::IdempotencyRecord record =
          storage::DecodeIdempotencyRecord(original).value();
      changes[i](record);
      db.Put(RawDb::kIdempotency, RecordKey(requests_[3]),
             storage::EncodeIdempotencyRecord(record));
    });
    std::optional<uint64_t> bad;
    EXPECT_THAT(VerifyNaming(&bad), StatusIs(Code::kDataLoss)) << i;
    EXPECT_EQ(bad, 5u) << i;
  }
  Tamper([&](RawDb& db) {
    db.Put(RawDb::kIdempotency, RecordKey(requests_[3]), original.substr(1));
  });
  EXPECT_THAT(Verify(), StatusIs(Code::kDataLoss));
  Tamper([&](RawDb& db) {
    db.Put(RawDb::kIdempotency, RecordKey(requests_[3]), original);
  });
  EXPECT_THAT(Verify(), IsOk());
}

TEST_F(VerifyTest, ExtraIdempotencyRecordIsDetected) {
  Build(false);
  Tamper([&](RawDb& db) {
    db.Put(RawDb::kIdempotency, storage::IdempotencyKey("brand:a", "never"),
           db.Get(RawDb::kIdempotency, RecordKey(requests_[0])).value());
  });
  EXPECT_THAT(Verify(),
              StatusIs(Code::kDataLoss, HasSubstr("idempotency records")));
}

// --- Derived keys
// ----------------------------------------------------------------

TEST_F(VerifyTest, ExtraIndexRecordIsDetected) {
  Build(true);
  for (const std::string& key :
       {storage::LookupIndexKey("x", 7), storage::LookupIndexKey("new", 0),
        storage::UniqueIndexKey("inv/forged")}) {
    Tamper([&](RawDb& db) {
      db.Put(RawDb::kIndex, key, key[0] == 'u' ? storage::SeqKey(4) : "");
    });
    EXPECT_THAT(Verify(), StatusIs(Code::kDataLoss, HasSubstr("derived keys")))
        << absl::CEscape(key);
    Tamper([&](RawDb& db) { db.Delete(RawDb::kIndex, key); });
    ASSERT_THAT(Verify(), IsOk());
  }
}

TEST_F(VerifyTest, MissingOrWrongIndexRecordIsNamedBySeq) {
  Build(true);
  const struct {
    std::string key;
    std::optional<std::string> value;  // nullopt: deleted
    uint64_t seq;
  } cases[] = {
      {storage::LookupIndexKey("x", 2), std::nullopt, 2},
      {storage::LookupIndexKey("z", 10), std::nullopt, 10},
      {storage::LookupIndexKey("party/brand:a", 12), std::nullopt, 12},
      // A lookup record holds its entry's leaf hash, and no other value.
      {storage::LookupIndexKey("x", 2), "", 2},
      {storage::LookupIndexKey("z", 10), std::string(32, 'a'), 10},
      {storage::UniqueIndexKey("inv/5b"), std::nullopt, 9},
      {storage::UniqueIndexKey("inv/5b"), storage::SeqKey(8), 9},
      {storage::UniqueIndexKey("inv/0"), "garbage", 0},
  };
  for (const auto& c : cases) {
    std::string original;
    Tamper([&](RawDb& db) {
      original = db.Get(RawDb::kIndex, c.key).value();
      if (c.value.has_value()) {
        db.Put(RawDb::kIndex, c.key, *c.value);
      } else {
        db.Delete(RawDb::kIndex, c.key);
      }
    });
    std::optional<uint64_t> bad;
    EXPECT_THAT(VerifyNaming(&bad), StatusIs(Code::kDataLoss))
        << absl::CEscape(c.key);
    EXPECT_EQ(bad, c.seq) << absl::CEscape(c.key);
    Tamper([&](RawDb& db) { db.Put(RawDb::kIndex, c.key, original); });
    ASSERT_THAT(Verify(), IsOk());
  }
}

// A ledger upgraded from format 1 keeps the empty lookup records of its older
// entries; lookup_leaves_from says where the leaves begin.
TEST_F(VerifyTest, LookupLeavesFromSaysWhichRecordsHoldLeaves) {
  Build(true);
  constexpr uint64_t kUpgradedAt = 11;
  Tamper([&](RawDb& db) {
    db.Put(RawDb::kMeta, storage::kMetaLookupLeavesFrom,
           storage::EncodeFixed64(kUpgradedAt));
  });
  std::optional<uint64_t> bad;
  EXPECT_THAT(VerifyNaming(&bad),
              StatusIs(Code::kDataLoss, HasSubstr("leaf hash")));
  ASSERT_TRUE(bad.has_value());
  EXPECT_LT(*bad, kUpgradedAt);
  Tamper([&](RawDb& db) {
    for (const std::string& key : db.Keys(RawDb::kIndex)) {
      if (key[0] != storage::kLookupKeyTag) continue;
      const uint64_t seq =
          storage::DecodeFixed64(absl::string_view(key).substr(key.size() - 8))
              .value();
      if (seq < kUpgradedAt) db.Put(RawDb::kIndex, key, "");
    }
  });
  EXPECT_THAT(Verify(), IsOk());

  Tamper([&](RawDb& db) {
    db.Put(RawDb::kMeta, storage::kMetaLookupLeavesFrom,
           storage::EncodeFixed64(requests_.size() + 100));
  });
  EXPECT_THAT(Verify(), StatusIs(Code::kDataLoss, HasSubstr("beyond")));
  Tamper([&](RawDb& db) {
    db.Delete(RawDb::kMeta, storage::kMetaLookupLeavesFrom);
  });
  EXPECT_THAT(Verify(), StatusIs(Code::kDataLoss,
                                 HasSubstr("no stored lookup_leaves_from")));
}

// The index holds as many records as the log accounts for, but one is not
// a derived key: the digest of the index differs, and the exact pass names
// the entry whose record went missing.
TEST_F(VerifyTest, IndexRecordSwappedForAForgedOneIsNamedBySeq) {
  Build(true);
  const std::string genuine = storage::LookupIndexKey("z", 10);
  const std::string forged = storage::LookupIndexKey("z", 11);
  std::string original;
  Tamper([&](RawDb& db) {
    original = db.Get(RawDb::kIndex, genuine).value();
    db.Delete(RawDb::kIndex, genuine);
    db.Put(RawDb::kIndex, forged, "");
  });
  std::optional<uint64_t> bad;
  EXPECT_THAT(VerifyNaming(&bad), StatusIs(Code::kDataLoss));
  EXPECT_EQ(bad, 10u);
  Tamper([&](RawDb& db) {
    db.Delete(RawDb::kIndex, forged);
    db.Put(RawDb::kIndex, genuine, original);
  });
  ASSERT_THAT(Verify(), IsOk());
}

// A bad derived key is found after the walk, but its entry comes before the
// walk's own fault: it is the one named.
TEST_F(VerifyTest, ABadDerivedKeyBeforeAWalkFaultIsNamedFirst) {
  Build(true);
  Tamper([&](RawDb& db) {
    db.Delete(RawDb::kIndex, storage::LookupIndexKey("x", 2));
    db.Delete(RawDb::kEntries, storage::SeqKey(12));
  });
  std::optional<uint64_t> bad;
  EXPECT_THAT(VerifyNaming(&bad), StatusIs(Code::kDataLoss));
  EXPECT_EQ(bad, 2u);
}

TEST_F(VerifyTest, IndexMustMatchTheIndexerGiven) {
  Build(true);
  indexed_ = false;  // a ledger without an indexer must have no index
  EXPECT_THAT(Verify(), StatusIs(Code::kDataLoss, HasSubstr("derived keys")));
}

TEST_F(VerifyTest, UnindexedLedgerFailsWithAnIndexer) {
  Build(false);
  indexed_ = true;
  std::optional<uint64_t> bad;
  EXPECT_THAT(VerifyNaming(&bad), StatusIs(Code::kDataLoss));
  EXPECT_EQ(bad, 0u);
}

// --- RocksDB
// ---------------------------------------------------------------------

TEST_F(VerifyTest, CorruptBlockIsDataLoss) {
  Build(false);
  Tamper([](RawDb& db) { db.Flush(); });
  std::vector<std::string> tables;
  for (const auto& file : std::filesystem::directory_iterator(
           absl::StrCat(DataDir(), "/", storage::kDatabaseDirectory))) {
    if (file.path().extension() == ".sst") tables.push_back(file.path());
  }
  ASSERT_FALSE(tables.empty());
  for (const std::string& table : tables) {
    std::string contents = ReadFileOrDie(table);
    ASSERT_GT(contents.size(), 20u);
    WriteFileOrDie(table, FlipByte(contents, 10));
  }
  // The walk reads the damaged blocks too, on its own thread beside
  // RocksDB's checksum pass; the damaged block is the fault reported, not
  // what the walk made of it.
  VerifyReport report;
  const absl::Status status = Verify(&report);
  EXPECT_THAT(status, StatusIs(Code::kDataLoss));
  EXPECT_THAT(status.message(),
              ::testing::HasSubstr("verifying RocksDB block checksums"));
  EXPECT_FALSE(report.first_bad_seq.has_value());
  EXPECT_EQ(report.entries_checked, 0u);
}

}  // namespace
}  // namespace premium
