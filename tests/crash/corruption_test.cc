// Corruption injected into a ledger's files, at random: every injection must
// be detected (the ledger refuses to open, or VerifyLedger — what `premiumd
// verify` runs — fails), or have changed nothing the ledger serves. A
// changed entry, checkpoint or proof answered as if it were data is a
// failure.
//
// Three kinds of injection, each on a fresh copy of a pristine ledger:
//   - a byte flipped in a table file (*.sst) of a ledger whose data was
//     flushed (closed cleanly);
//   - a byte flipped in a write-ahead log (*.log) of a ledger copied while
//     open, after its last append was acknowledged (synced): the image a
//     power cut would leave, with the newest requests only in the WAL;
//   - a stored value rewritten behind the ledger's back, through RocksDB
//     (a key of any column family, one byte changed).
// Detected, for table files and values, means every injection; a WAL flip
// may also land in a block's padding, which holds nothing. "Nothing
// changed" is checked by reading every entry, the newest
// checkpoint and an inclusion proof of every entry, and comparing them with
// the pristine ledger's.
//
// Environment: CORRUPTION_INJECTIONS (per kind, default 60), CORRUPTION_SEED.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ledger/ledger.h"
#include "ledger/testing/ledger_testing.h"
#include "ledger/verify.h"

namespace premium::crash {
namespace {

namespace fs = std::filesystem;
using ::premium::testing::FakeClock;
using ::premium::testing::MakeRequest;
using ::premium::testing::RawDb;
using ::premium::testing::TempDir;
using ::premium::testing::TestIndexer;

constexpr uint64_t kDefaultInjections = 60;
constexpr uint64_t kDefaultSeed = 0xc0221u;
// Requests of the pristine ledger: enough for several table blocks per
// column family and a WAL of more than one group.
constexpr int kFlushedRequests = 400;
constexpr int kWalRequests = 60;

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* text = std::getenv(name);
  uint64_t value = 0;
  if (text == nullptr || !absl::SimpleAtoi(text, &value)) return fallback;
  return value;
}

// Everything a ledger serves, to compare a damaged copy with the pristine
// one.
struct Served {
  uint64_t size = 0;
  std::vector<std::string> entries;
  std::string checkpoint_body;
  std::string checkpoint_signature;
  std::vector<std::vector<std::string>> proofs;

  bool operator==(const Served&) const = default;
};

absl::StatusOr<Served> ReadServed(Ledger& ledger) {
  Served served;
  served.size = ledger.size();
  for (uint64_t seq = 0; seq < served.size;) {
    absl::StatusOr<std::vector<StoredEntry>> entries =
        ledger.ReadEntries(seq, served.size, 0);
    if (!entries.ok()) return entries.status();
    for (const StoredEntry& stored : *entries) {
      served.entries.push_back(stored.bytes);
      ++seq;
    }
  }
  const SignedCheckpoint checkpoint = ledger.LatestCheckpoint();
  served.checkpoint_body = checkpoint.body;
  served.checkpoint_signature = checkpoint.signature;
  for (uint64_t seq = 0; seq < served.size; ++seq) {
    absl::StatusOr<std::vector<merkle::Hash>> proof =
        ledger.InclusionProof(seq, served.size);
    if (!proof.ok()) return proof.status();
    std::vector<std::string>& hashes = served.proofs.emplace_back();
    for (const merkle::Hash& hash : *proof) {
      hashes.emplace_back(hash.begin(), hash.end());
    }
  }
  return served;
}

enum class Outcome {
  kRefusedToOpen,
  kVerifyFailed,
  kUnchanged,
  kServedChanged
};

class CorruptionTest : public ::testing::Test {
 protected:
  LedgerOptions Options(const std::string& data_dir) {
    LedgerOptions options;
    options.data_dir = data_dir;
    options.create_if_missing = true;
    options.indexer = &indexer_;
    options.clock = clock_.AsFunction();
    return options;
  }

  // Appends `count` requests of 1 to 4 entries (invoices with unique keys,
  // lookups and plain payloads, so that every column family is used).
  void AppendRequests(Ledger& ledger, int count) {
    for (int i = 0; i < count; ++i, ++requests_) {
      std::vector<std::pair<std::string, std::string>> entries;
      for (int e = 0; e <= requests_ % 4; ++e) {
        const std::string payload =
            e == 0   ? absl::StrCat("invoice:", requests_)
            : e == 1 ? absl::StrCat("lookup:w", requests_ % 17)
                     : absl::StrCat("plain-", requests_, "-", e);
        entries.emplace_back("test.Kind", payload);
      }
      clock_.Advance(absl::Milliseconds(3));
      ASSERT_TRUE(ledger
                      .Append(MakeRequest(
                          absl::StrCat("brand:b", requests_ % 3),
                          absl::StrCat("req-", requests_), std::move(entries)))
                      .ok());
    }
  }

  void SetUp() override {
    // The flushed image: built and closed.
    {
      auto ledger = Ledger::Open(Options(flushed_dir()));
      ASSERT_TRUE(ledger.ok()) << ledger.status();
      ASSERT_NO_FATAL_FAILURE(AppendRequests(**ledger, kFlushedRequests));
    }
    // The WAL image: the flushed ledger reopened, more appended, and the
    // directory copied while it is open.
    fs::copy(flushed_dir(), wal_source_dir(), fs::copy_options::recursive);
    auto ledger = Ledger::Open(Options(wal_source_dir()));
    ASSERT_TRUE(ledger.ok()) << ledger.status();
    ASSERT_NO_FATAL_FAILURE(AppendRequests(**ledger, kWalRequests));
    fs::copy(wal_source_dir(), wal_dir(), fs::copy_options::recursive);
    auto served = ReadServed(**ledger);
    ASSERT_TRUE(served.ok()) << served.status();
    wal_served_ = *std::move(served);
    ledger->reset();
    auto flushed = Ledger::Open(Options(flushed_dir()));
    ASSERT_TRUE(flushed.ok());
    served = ReadServed(**flushed);
    ASSERT_TRUE(served.ok()) << served.status();
    flushed_served_ = *std::move(served);
    ASSERT_GT(wal_served_.size, flushed_served_.size);
  }

  std::string flushed_dir() const { return dir_.Sub("flushed"); }
  std::string wal_source_dir() const { return dir_.Sub("wal-source"); }
  std::string wal_dir() const { return dir_.Sub("wal"); }

  // What a ledger copy in `data_dir` does with its damage.
  Outcome Judge(const std::string& data_dir, const Served& pristine,
                std::string* detail) {
    {
      LedgerOptions options = Options(data_dir);
      options.create_if_missing = false;
      absl::StatusOr<std::unique_ptr<Ledger>> ledger = Ledger::Open(options);
      if (!ledger.ok()) {
        *detail = std::string(ledger.status().message());
        return Outcome::kRefusedToOpen;
      }
    }
    VerifyOptions verify;
    verify.data_dir = data_dir;
    verify.indexer = &indexer_;
    if (absl::Status s = VerifyLedger(verify, nullptr); !s.ok()) {
      *detail = std::string(s.message());
      return Outcome::kVerifyFailed;
    }
    // Verified: then it must serve exactly what the pristine ledger did.
    LedgerOptions options = Options(data_dir);
    options.create_if_missing = false;
    absl::StatusOr<std::unique_ptr<Ledger>> ledger = Ledger::Open(options);
    if (!ledger.ok()) {
      *detail = std::string(ledger.status().message());
      return Outcome::kRefusedToOpen;
    }
    absl::StatusOr<Served> served = ReadServed(**ledger);
    if (!served.ok()) {
      // An error on read is detection too (never served as data), but
      // verify should have seen it first.
      *detail = absl::StrCat("verify passed, then a read failed: ",
                             served.status().message());
      return Outcome::kServedChanged;
    }
    if (*served == pristine) return Outcome::kUnchanged;
    *detail = absl::StrCat("verify passed and it serves other data: size ",
                           served->size, " instead of ", pristine.size);
    return Outcome::kServedChanged;
  }

  // The files of `dir` whose names end with `suffix`, largest first.
  static std::vector<fs::path> Files(const std::string& dir,
                                     const std::string& suffix) {
    std::vector<fs::path> files;
    for (const auto& file : fs::recursive_directory_iterator(dir)) {
      if (file.is_regular_file() && file.file_size() > 0 &&
          absl::EndsWith(file.path().filename().string(), suffix)) {
        files.push_back(file.path());
      }
    }
    std::sort(files.begin(), files.end());
    return files;
  }

  static void FlipByte(const fs::path& file, uint64_t offset, uint8_t mask) {
    std::fstream stream(file, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(stream.good()) << file;
    stream.seekg(static_cast<std::streamoff>(offset));
    char byte = 0;
    stream.read(&byte, 1);
    byte = static_cast<char>(byte ^ mask);
    stream.seekp(static_cast<std::streamoff>(offset));
    stream.write(&byte, 1);
    ASSERT_TRUE(stream.good()) << file;
  }

  struct Tally {
    uint64_t refused = 0;
    uint64_t verify_failed = 0;
    uint64_t unchanged = 0;
  };

  // Injects `injections` random byte flips into files named *`suffix` of a
  // copy of `image`, and checks each.
  void FlipBytesIn(const std::string& image, const Served& pristine,
                   const std::string& suffix, uint64_t injections,
                   std::mt19937_64& rng, Tally* tally) {
    const std::vector<fs::path> files = Files(image, suffix);
    ASSERT_FALSE(files.empty()) << "no " << suffix << " file in " << image;
    for (uint64_t i = 0; i < injections; ++i) {
      const std::string copy = dir_.Sub(absl::StrCat("copy-", suffix, i));
      fs::copy(image, copy, fs::copy_options::recursive);
      const fs::path original = files[rng() % files.size()];
      const fs::path target = copy / fs::relative(original, image);
      const uint64_t offset = rng() % fs::file_size(target);
      const uint8_t mask = static_cast<uint8_t>(1 + rng() % 255);
      ASSERT_NO_FATAL_FAILURE(FlipByte(target, offset, mask));
      std::string detail;
      const Outcome outcome = Judge(copy, pristine, &detail);
      ASSERT_NE(outcome, Outcome::kServedChanged)
          << "flip of byte " << offset << " of " << original.filename() << " ("
          << fs::file_size(target) << " bytes) with mask " << int{mask} << ": "
          << detail;
      if (outcome == Outcome::kUnchanged) {
        std::printf("  harmless: byte %llu of %s (%llu bytes), mask %d\n",
                    static_cast<unsigned long long>(offset),
                    original.filename().c_str(),
                    static_cast<unsigned long long>(fs::file_size(target)),
                    int{mask});
      }
      Count(outcome, tally);
      fs::remove_all(copy);
    }
  }

  static void Count(Outcome outcome, Tally* tally) {
    switch (outcome) {
      case Outcome::kRefusedToOpen:
        ++tally->refused;
        break;
      case Outcome::kVerifyFailed:
        ++tally->verify_failed;
        break;
      default:
        ++tally->unchanged;
    }
  }

  static void Print(const char* kind, uint64_t injections, const Tally& t) {
    std::printf(
        "corruption %s: %llu injected, %llu refused to open, %llu failed "
        "verify, %llu changed nothing served, 0 served as data\n",
        kind, static_cast<unsigned long long>(injections),
        static_cast<unsigned long long>(t.refused),
        static_cast<unsigned long long>(t.verify_failed),
        static_cast<unsigned long long>(t.unchanged));
  }

  TempDir dir_;
  FakeClock clock_;
  TestIndexer indexer_;
  int requests_ = 0;
  Served flushed_served_;
  Served wal_served_;
};

TEST_F(CorruptionTest, FlippedTableFileBytesAreNeverServed) {
  const uint64_t injections =
      EnvOr("CORRUPTION_INJECTIONS", kDefaultInjections);
  std::mt19937_64 rng(EnvOr("CORRUPTION_SEED", kDefaultSeed));
  Tally tally;
  ASSERT_NO_FATAL_FAILURE(FlipBytesIn(flushed_dir(), flushed_served_, ".sst",
                                      injections, rng, &tally));
  Print("sst", injections, tally);
  // Every byte of a table file is under a block checksum or the whole
  // file's CRC32C (the footer's padding only under the latter).
  EXPECT_EQ(tally.unchanged, 0u);
}

TEST_F(CorruptionTest, FlippedWalBytesAreNeverServed) {
  const uint64_t injections =
      EnvOr("CORRUPTION_INJECTIONS", kDefaultInjections);
  std::mt19937_64 rng(EnvOr("CORRUPTION_SEED", kDefaultSeed) + 1);
  Tally tally;
  ASSERT_NO_FATAL_FAILURE(
      FlipBytesIn(wal_dir(), wal_served_, ".log", injections, rng, &tally));
  Print("wal", injections, tally);
  // A WAL block's last few bytes, too few for a record header, are padding
  // that no checksum covers: a flip there changes nothing served, and is
  // the only harmless kind.
  EXPECT_GE(tally.refused + tally.verify_failed, injections - injections / 50);
}

TEST_F(CorruptionTest, ValuesRewrittenBehindTheLedgersBackAreDetected) {
  const uint64_t injections =
      EnvOr("CORRUPTION_INJECTIONS", kDefaultInjections);
  std::mt19937_64 rng(EnvOr("CORRUPTION_SEED", kDefaultSeed) + 2);
  Tally tally;
  for (uint64_t i = 0; i < injections; ++i) {
    const std::string copy = dir_.Sub(absl::StrCat("copy-value-", i));
    fs::copy(flushed_dir(), copy, fs::copy_options::recursive);
    std::string what;
    {
      std::unique_ptr<RawDb> db = RawDb::Open(copy);
      ASSERT_NE(db, nullptr);
      // Any column family but the default one's format and origin
      // records, which the ledger reads on open and checks as a whole.
      const auto family = static_cast<RawDb::Family>(rng() % 6);
      const std::vector<std::string> keys = db->Keys(family);
      if (keys.empty()) continue;
      const std::string& key = keys[rng() % keys.size()];
      std::string value = *db->Get(family, key);
      if (value.empty()) value.push_back('\0');
      value[rng() % value.size()] ^= static_cast<char>(1 + rng() % 255);
      db->Put(family, key, value);
      db->Flush();
      what = absl::StrCat("family ", family, " key ",
                          absl::CEscape(key.substr(0, 40)));
    }
    std::string detail;
    const Outcome outcome = Judge(copy, flushed_served_, &detail);
    // A rewritten value is never harmless: every stored byte is data or
    // its proof.
    ASSERT_TRUE(outcome == Outcome::kRefusedToOpen ||
                outcome == Outcome::kVerifyFailed)
        << what << ": " << detail;
    Count(outcome, &tally);
    fs::remove_all(copy);
  }
  Print("values", injections, tally);
}

}  // namespace
}  // namespace premium::crash
