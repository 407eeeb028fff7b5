// Shared helpers of the ledger's tests: a temporary directory, status and
// proto matchers, a fake clock, a test Indexer and raw access to a closed
// ledger's RocksDB database (for tampering). Header-only; test code only.
#ifndef PREMIUM_LEDGER_TESTING_LEDGER_TESTING_H_
#define PREMIUM_LEDGER_TESTING_LEDGER_TESTING_H_

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "ledger/ledger.h"
#include "ledger/storage/format.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"

namespace premium::testing {

// ---------------------------------------------------------------------------
// Status helpers.

inline const absl::Status& GetStatus(const absl::Status& status) {
  return status;
}
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

// Matches an absl::Status or absl::StatusOr<T> with the given code.
MATCHER_P(StatusIs, code,
          absl::StrCat(negation ? "doesn't have" : "has", " status code ",
                       absl::StatusCodeToString(code))) {
  const absl::Status& status = ::premium::testing::GetStatus(arg);
  *result_listener << "whose status is " << status;
  return status.code() == code;
}

// As above, and the message matches `message_matcher`.
MATCHER_P2(StatusIs, code, message_matcher,
           absl::StrCat(negation ? "doesn't have" : "has", " status code ",
                        absl::StatusCodeToString(code),
                        " and a matching message")) {
  const absl::Status& status = ::premium::testing::GetStatus(arg);
  *result_listener << "whose status is " << status;
  return status.code() == code &&
         ::testing::ExplainMatchResult(
             message_matcher, std::string(status.message()), result_listener);
}

MATCHER(IsOk, negation ? "isn't OK" : "is OK") {
  const absl::Status& status = ::premium::testing::GetStatus(arg);
  *result_listener << "whose status is " << status;
  return status.ok();
}

// Matches an OK absl::StatusOr<T> whose value matches `matcher` (a matcher
// or a plain value, compared with ==).
MATCHER_P(IsOkAndHolds, matcher, "is OK and holds a matching value") {
  if (!arg.ok()) {
    *result_listener << "whose status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(matcher, *arg, result_listener);
}

// Field-by-field equality of two protocol buffer messages, the differences
// explained (gMock has no proto matcher of its own).
MATCHER_P(EqualsProto, expected,
          absl::StrCat(negation ? "doesn't equal " : "equals ",
                       expected.ShortDebugString())) {
  google::protobuf::util::MessageDifferencer differencer;
  std::string differences;
  differencer.ReportDifferencesToString(&differences);
  const bool equal = differencer.Compare(expected, arg);
  *result_listener << differences;
  return equal;
}

#define PL_CONCAT_INNER(a, b) a##b
#define PL_CONCAT(a, b) PL_CONCAT_INNER(a, b)

#define PL_ASSERT_OK(expr) ASSERT_THAT((expr), ::premium::testing::IsOk())
#define PL_EXPECT_OK(expr) EXPECT_THAT((expr), ::premium::testing::IsOk())

// Declares or assigns `lhs` from the value of a StatusOr, or fails the test
// (returning from the current function) with the status.
#define PL_ASSERT_OK_AND_ASSIGN(lhs, rexpr) \
  PL_ASSERT_OK_AND_ASSIGN_IMPL(PL_CONCAT(status_or_, __LINE__), lhs, rexpr)
#define PL_ASSERT_OK_AND_ASSIGN_IMPL(status_or, lhs, rexpr)            \
  auto status_or = (rexpr);                                            \
  ASSERT_TRUE(status_or.ok()) << #rexpr << ": " << status_or.status(); \
  lhs = std::move(status_or).value()

// ---------------------------------------------------------------------------
// A fresh directory under ::testing::TempDir(), removed with its contents.
class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir();
    if (pattern.empty() || pattern.back() != '/') pattern += '/';
    pattern += "premium_ledger_test.XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp " << pattern << " failed";
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code error;
    std::filesystem::remove_all(path_, error);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(absl::string_view name) const {
    return absl::StrCat(path_, "/", name);
  }

 private:
  std::string path_;
};

inline std::string ReadFileOrDie(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  EXPECT_TRUE(file.good()) << "cannot read " << path;
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

inline void WriteFileOrDie(const std::string& path, absl::string_view data) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  ASSERT_TRUE(file.good()) << "cannot write " << path;
  file.write(data.data(), static_cast<std::streamsize>(data.size()));
  ASSERT_TRUE(file.good()) << "cannot write " << path;
}

// ---------------------------------------------------------------------------
// A settable clock, for LedgerOptions::clock. Copies share their time.
class FakeClock {
 public:
  FakeClock() : state_(std::make_shared<State>()) {}
  void Set(absl::Time now) {
    absl::MutexLock lock(&state_->mu);
    state_->now = now;
  }
  void Advance(absl::Duration duration) {
    absl::MutexLock lock(&state_->mu);
    state_->now += duration;
  }
  absl::Time Now() const {
    absl::MutexLock lock(&state_->mu);
    return state_->now;
  }
  std::function<absl::Time()> AsFunction() const {
    std::shared_ptr<State> state = state_;
    return [state] {
      absl::MutexLock lock(&state->mu);
      return state->now;
    };
  }

 private:
  struct State {
    absl::Mutex mu;
    absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  };
  std::shared_ptr<State> state_;
};

// ---------------------------------------------------------------------------
// Derives keys from a text payload:
//   "invoice:X"     unique "inv/X", lookup "party/<actor>"
//   "lookup:a,b"    lookups "a" and "b"
//   "position:"     lookup "position/<actor>/<key>/<kind>/<request_index>/
//                   <request_entry_count>": all an indexer may rely on
//   "reject:..."    refuses with FailedPrecondition("test indexer rejects")
//   "malformed:empty|nul|long|many"   keys the ledger must refuse
//   anything else   no keys
class TestIndexer : public Indexer {
 public:
  absl::Status Derive(const wsr::premium::v1::Entry& entry,
                      DerivedKeys* keys) const override {
    absl::string_view rest = entry.payload();
    if (absl::ConsumePrefix(&rest, "invoice:")) {
      keys->unique_keys.push_back(absl::StrCat("inv/", rest));
      keys->lookup_keys.push_back(absl::StrCat("party/", entry.actor()));
    } else if (absl::ConsumePrefix(&rest, "lookup:")) {
      for (absl::string_view key : absl::StrSplit(rest, ',')) {
        keys->lookup_keys.push_back(std::string(key));
      }
    } else if (absl::ConsumePrefix(&rest, "position:")) {
      keys->lookup_keys.push_back(
          absl::StrCat("position/", entry.actor(), "/", entry.idempotency_key(),
                       "/", entry.kind(), "/", entry.request_index(), "/",
                       entry.request_entry_count()));
    } else if (absl::ConsumePrefix(&rest, "reject:")) {
      return absl::FailedPreconditionError("test indexer rejects");
    } else if (absl::ConsumePrefix(&rest, "malformed:")) {
      if (rest == "empty") keys->unique_keys.push_back("");
      if (rest == "nul") keys->lookup_keys.push_back(std::string("a\0b", 3));
      if (rest == "long") {
        keys->unique_keys.push_back(std::string(kDerivedKeyLengthMax + 1, 'k'));
      }
      if (rest == "many") {
        for (size_t i = 0; i <= kDerivedKeysPerEntryMax; ++i) {
          keys->lookup_keys.push_back(absl::StrCat("many/", i));
        }
      }
    }
    return absl::OkStatus();
  }
};

// ---------------------------------------------------------------------------
// Requests.

inline AppendRequest MakeRequest(
    absl::string_view actor, absl::string_view idempotency_key,
    std::vector<std::pair<std::string, std::string>> entries) {
  AppendRequest request;
  request.actor = std::string(actor);
  request.idempotency_key = std::string(idempotency_key);
  for (auto& [kind, payload] : entries) {
    request.entries.push_back(AppendEntry{std::move(kind), std::move(payload)});
  }
  return request;
}

// One entry of kind "test.Kind".
inline AppendRequest OneEntry(absl::string_view actor,
                              absl::string_view idempotency_key,
                              absl::string_view payload) {
  return MakeRequest(actor, idempotency_key,
                     {{"test.Kind", std::string(payload)}});
}

// ---------------------------------------------------------------------------
// Raw access to the RocksDB database of a closed ledger, to tamper with it.
class RawDb {
 public:
  static std::unique_ptr<RawDb> Open(const std::string& data_dir) {
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const char* name :
         {"default", storage::kEntriesFamily, storage::kNodesFamily,
          storage::kCheckpointsFamily, storage::kIdempotencyFamily,
          storage::kIndexFamily}) {
      descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    const rocksdb::Status status = rocksdb::DB::Open(
        rocksdb::DBOptions(),
        absl::StrCat(data_dir, "/", storage::kDatabaseDirectory), descriptors,
        &handles, &db);
    EXPECT_TRUE(status.ok()) << status.ToString();
    if (!status.ok()) return nullptr;
    return std::unique_ptr<RawDb>(new RawDb(db, std::move(handles)));
  }

  ~RawDb() {
    for (rocksdb::ColumnFamilyHandle* handle : handles_) {
      db_->DestroyColumnFamilyHandle(handle);
    }
    db_->Close();
  }

  enum Family {
    kMeta = 0,
    kEntries,
    kNodes,
    kCheckpoints,
    kIdempotency,
    kIndex
  };

  std::optional<std::string> Get(Family family, absl::string_view key) {
    std::string value;
    const rocksdb::Status status =
        db_->Get(rocksdb::ReadOptions(), handles_[family],
                 rocksdb::Slice(key.data(), key.size()), &value);
    if (status.IsNotFound()) return std::nullopt;
    EXPECT_TRUE(status.ok()) << status.ToString();
    return value;
  }
  void Put(Family family, absl::string_view key, absl::string_view value) {
    const rocksdb::Status status =
        db_->Put(rocksdb::WriteOptions(), handles_[family],
                 rocksdb::Slice(key.data(), key.size()),
                 rocksdb::Slice(value.data(), value.size()));
    EXPECT_TRUE(status.ok()) << status.ToString();
  }
  void Delete(Family family, absl::string_view key) {
    const rocksdb::Status status =
        db_->Delete(rocksdb::WriteOptions(), handles_[family],
                    rocksdb::Slice(key.data(), key.size()));
    EXPECT_TRUE(status.ok()) << status.ToString();
  }
  // Writes every memtable to a table file.
  void Flush() {
    for (rocksdb::ColumnFamilyHandle* handle : handles_) {
      const rocksdb::Status status =
          db_->Flush(rocksdb::FlushOptions(), handle);
      EXPECT_TRUE(status.ok()) << status.ToString();
    }
  }
  // Every key of a family, in order.
  std::vector<std::string> Keys(Family family) {
    std::vector<std::string> keys;
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), handles_[family]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      keys.push_back(it->key().ToString());
    }
    EXPECT_TRUE(it->status().ok()) << it->status().ToString();
    return keys;
  }

 private:
  RawDb(rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*> handles)
      : db_(db), handles_(std::move(handles)) {}
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

}  // namespace premium::testing

#endif  // PREMIUM_LEDGER_TESTING_LEDGER_TESTING_H_
