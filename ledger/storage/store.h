// Store: the ledger's RocksDB database and its column families (format.h).
// Every committing write of the ledger goes through Store::Write, which syncs
// the WAL before returning: an acknowledged write is durable.
#ifndef PREMIUM_LEDGER_STORAGE_STORE_H_
#define PREMIUM_LEDGER_STORAGE_STORE_H_

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace premium::storage {

enum class Family {
  kMeta = 0,
  kEntries,
  kNodes,
  kCheckpoints,
  kIdempotency,
  kIndex,
};
inline constexpr size_t kFamilyCount = 6;

// Maps a RocksDB status onto the project's one error type. Corruption becomes
// DataLoss; `context` says what was being done.
absl::Status FromRocksStatus(const rocksdb::Status& status,
                             absl::string_view context);

class Store {
 public:
  enum class Mode {
    // Creates the database (and its column families) if it does not exist.
    kReadWriteCreate,
    // The database must exist.
    kReadWrite,
    // For offline verification: no write, no recovery that changes files.
    kReadOnly,
  };

  struct Options {
    std::string path;
    Mode mode = Mode::kReadWrite;
    // Shared LRU cache of data blocks. Not part of the persistent format.
    size_t block_cache_bytes = 64 << 20;
    // One budget for the memtables of all column families.
    size_t write_buffer_bytes = 128 << 20;
  };

  // NotFound if the database does not exist and mode is not
  // kReadWriteCreate; DataLoss if RocksDB finds corruption on open.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const Options& options);
  ~Store();

  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Returns the value, or nullopt when the key is absent.
  absl::StatusOr<std::optional<std::string>> Get(Family family,
                                                 absl::string_view key) const;
  // Reads every key, in one batch; DataLoss names the first one absent.
  absl::StatusOr<std::vector<std::string>> MultiGet(
      Family family, absl::Span<const std::string> keys) const;
  // Reads every key, in one batch: each value, or nullopt when absent.
  absl::StatusOr<std::vector<std::optional<std::string>>> MultiGetIfPresent(
      Family family, absl::Span<const std::string> keys) const;
  // What an iterator will read, which decides how it uses the block cache
  // and reads ahead.
  enum class Reads {
    // A seek and a few steps (a worker's index, a short range): blocks are
    // cached.
    kFew,
    // Many keys in order, once (catching up on the log, a pay period read
    // back): blocks bypass the block cache, which serves point reads and
    // they would only flush, and are read ahead as the reads run on (RocksDB
    // grows it from 8 KiB to 256 KiB).
    kRange,
    // A whole family once, in order (verification): as kRange, read ahead 2
    // MiB at a time.
    kWhole,
  };
  // With `upper_bound`, the iterator ends before the first key at or past
  // it. A scan whose range ends inside a block then does not read the next
  // block to see the key past it, as its last step otherwise does in each
  // level it spans; a bound that is itself a stored key saves nothing (the
  // block it begins must be read to know). The bound must outlive the
  // iterator.
  std::unique_ptr<rocksdb::Iterator> NewIterator(
      Family family, Reads reads = Reads::kFew,
      const rocksdb::Slice* upper_bound = nullptr) const;

  // Applies `batch` atomically and syncs the WAL before returning.
  // FailedPrecondition in read-only mode.
  absl::Status Write(rocksdb::WriteBatch* batch);
  // Applies `batch` atomically without syncing: only for staged data that a
  // later synced commit makes durable and a crash before it leaves
  // recognisably incomplete (see kMetaStagedFrom).
  absl::Status WriteUnsynced(rocksdb::WriteBatch* batch);
  // Syncs every WAL file written so far.
  absl::Status SyncWal();

  // Memory held by the readers of the table files, summed over the
  // families: whatever of theirs is not kept in the block cache. Their
  // indexes and filters are (FamilyOptions), so this stays small however
  // large the ledger grows.
  uint64_t TableReadersBytes() const;

  // What `family`'s table files hold, summed over them.
  struct Tables {
    uint64_t data_blocks = 0;
    uint64_t data_bytes = 0;
    uint64_t filter_bytes = 0;
  };
  absl::StatusOr<Tables> TablesOf(Family family) const;

  // Reads every block of every file and checks its checksum, then every
  // table file whole against the CRC32C the MANIFEST keeps for it.
  absl::Status VerifyChecksums() const;

  rocksdb::ColumnFamilyHandle* handle(Family family) const {
    return handles_[static_cast<size_t>(family)];
  }

 private:
  Store() = default;

  Mode mode_ = Mode::kReadWrite;
  std::unique_ptr<rocksdb::DB> db_;
  std::array<rocksdb::ColumnFamilyHandle*, kFamilyCount> handles_{};
};

}  // namespace premium::storage

#endif  // PREMIUM_LEDGER_STORAGE_STORE_H_
