#include "ledger/storage/store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ledger/storage/format.h"
#include "rocksdb/cache.h"
#include "rocksdb/env.h"
#include "rocksdb/file_checksum.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "rocksdb/table_properties.h"

namespace premium::storage {
namespace {

// Bounds of a memtable's arena block (see FamilyOptions); 1 MiB is RocksDB's
// own default.
constexpr size_t kArenaBlockBytesMin = 64 << 10;
constexpr size_t kArenaBlockBytesMax = 1 << 20;
constexpr size_t kNodeBlockBytes = 32 << 10;
// Read ahead by whole-family scans (Reads::kWhole).
constexpr size_t kScanReadaheadBytes = 2 << 20;

std::string FamilyName(Family family) {
  switch (family) {
    case Family::kMeta:
      return rocksdb::kDefaultColumnFamilyName;
    case Family::kEntries:
      return std::string(kEntriesFamily);
    case Family::kNodes:
      return std::string(kNodesFamily);
    case Family::kCheckpoints:
      return std::string(kCheckpointsFamily);
    case Family::kIdempotency:
      return std::string(kIdempotencyFamily);
    case Family::kIndex:
      return std::string(kIndexFamily);
  }
  return "";
}

rocksdb::ColumnFamilyOptions FamilyOptions(
    Family family, const std::shared_ptr<rocksdb::Cache>& cache,
    size_t write_buffer_bytes) {
  rocksdb::ColumnFamilyOptions options;
  // Every family's memtable takes one arena block as soon as it holds a
  // record, and the shared budget (db_write_buffer_size) counts those blocks.
  // RocksDB's defaults (64 MiB memtables, 1 MiB blocks, a memtable bloom of
  // 2% of 64 MiB) overrun a budget of a few MiB with the first record of each
  // family: every write then flushes the oldest memtable into a file of a few
  // KiB, and these files, keyed in append order, are moved down the levels
  // without ever being merged (a 4 MiB budget made 800 table files a minute,
  // each holding a reader and a mapping: premiumd's memory grew with them).
  // Blocks of 1/64 of the budget let each memtable fill before it is flushed.
  options.write_buffer_size = write_buffer_bytes;
  options.arena_block_size = std::clamp<size_t>(
      write_buffer_bytes / 64, kArenaBlockBytesMin, kArenaBlockBytesMax);
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  // Every block carries a checksum that RocksDB checks on each read;
  // xxh3 is the fastest of the strong ones this version offers.
  table.checksum = rocksdb::kXXH3;
  // A proof reads the siblings of its leaf's path. Below the subtrees of
  // 256 leaves, whose nodes the ledger keeps in memory, they all lie among
  // the subtree's 511 node records (keyed by last leaf), about 21 KiB:
  // blocks of 32 KiB put them in one or two reads instead of four to six of
  // RocksDB's default 4 KiB (1.1M entries, warm: inclusion proof p50
  // 38 -> 25 us, p99 124-243 -> 62-65 us), and scattered leaf reads cost
  // no more (26 of them, p50 409-613 -> 416-423 us).
  if (family == Family::kNodes) table.block_size = kNodeBlockBytes;
  // Idempotency records, unique keys and checkpoints are looked up where
  // they may be absent (mostly are, for the first two), which a filter
  // answers without reading a block. Entries and nodes are read only where
  // they must exist: a filter would cost a read and cache space and save
  // none (11M entries, warm, in process: inclusion proof p50 62 -> 51 us,
  // p99 135 -> 103-112 us; 26 scattered entries and their leaves p50
  // 790-830 -> 672 us).
  if (family != Family::kEntries && family != Family::kNodes) {
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    table.partition_filters = true;
  }
  // Each table's index and filter are kept in the block cache, not beside
  // the table's reader, so that they count against its budget: outside it
  // they grow with the ledger (about 4% of the table files' size in the
  // soak test, a few bytes per entry for ever). They are cut into
  // partitions (a two-level index) so that the cache holds the parts in
  // use rather than whole filters of large files, and the top level, and
  // the newest (level-0) tables' index and filter, stay pinned.
  table.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
  table.cache_index_and_filter_blocks = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_top_level_index_and_filter = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // Every append first asks whether each of its unique keys (a paystub
  // code's hash, an invoice) is taken, and the answer is nearly always no: a
  // bloom filter on the memtable answers that without searching it.
  if (family == Family::kIndex) {
    options.memtable_prefix_bloom_size_ratio = 0.02;
    options.memtable_whole_key_filtering = true;
  }
  // Hashes do not compress; entries do, a little.
  options.compression = family == Family::kNodes ? rocksdb::kNoCompression
                                                 : rocksdb::kLZ4Compression;
  return options;
}

}  // namespace

absl::Status FromRocksStatus(const rocksdb::Status& status,
                             absl::string_view context) {
  if (status.ok()) return absl::OkStatus();
  const std::string message = absl::StrCat(context, ": ", status.ToString());
  if (status.IsCorruption()) return absl::DataLossError(message);
  if (status.IsNotFound()) return absl::NotFoundError(message);
  if (status.IsInvalidArgument()) return absl::InvalidArgumentError(message);
  if (status.IsBusy() || status.IsTryAgain() || status.IsTimedOut()) {
    return absl::UnavailableError(message);
  }
  if (status.IsIOError()) return absl::UnavailableError(message);
  return absl::InternalError(message);
}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const Options& options) {
  // Checked first because RocksDB would otherwise create the directory (read
  // write), or report a missing database as an I/O error (read only).
  if (options.mode != Mode::kReadWriteCreate &&
      rocksdb::Env::Default()
          ->FileExists(absl::StrCat(options.path, "/CURRENT"))
          .IsNotFound()) {
    return absl::NotFoundError(
        absl::StrCat("no ledger database at ", options.path));
  }
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = options.mode == Mode::kReadWriteCreate;
  db_options.create_missing_column_families =
      options.mode == Mode::kReadWriteCreate;
  db_options.paranoid_checks = true;
  // Acknowledged writes are synced, so only a write that was never
  // acknowledged can be torn at the tail of the WAL; damage anywhere else
  // must stop the open instead of silently dropping what follows it.
  db_options.wal_recovery_mode =
      rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  db_options.max_background_jobs = 2;
  // Reads go through the block cache, not mmap: every table page a mapping
  // touches stays in the process's resident memory, which then grows with
  // the part of the ledger that is read (soak test, 600 s: the mapped files
  // 37 -> 59 MiB with mmap, flat at 28 MiB, the binaries, without; 2M-line
  // ingest: peak RSS 515 -> 412 MiB). It costs the tail of scattered reads
  // a little (proofs at 2.2M entries, p99 235 -> 295 us).
  db_options.allow_mmap_reads = false;
  // The small column families (meta, checkpoints) would otherwise pin the
  // WAL until it reaches RocksDB's 1.5 GB default, all of it replayed on the
  // next open.
  db_options.max_total_wal_size = 256 << 20;
  // One budget for the memtables of all column families (each would
  // otherwise take up to 2 x 64 MiB): memory stays flat however large the
  // ledger or an upload grows.
  db_options.db_write_buffer_size = options.write_buffer_bytes;
  db_options.keep_log_file_num = 10;
  // A CRC32C of every whole table file, kept in the MANIFEST: block
  // checksums leave a table's footer padding uncovered, and verify should
  // tell any changed byte.
  db_options.file_checksum_gen_factory =
      rocksdb::GetFileChecksumGenCrc32cFactory();

  std::shared_ptr<rocksdb::Cache> cache =
      rocksdb::NewLRUCache(options.block_cache_bytes);
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (size_t i = 0; i < kFamilyCount; ++i) {
    const Family family = static_cast<Family>(i);
    descriptors.emplace_back(
        FamilyName(family),
        FamilyOptions(family, cache, options.write_buffer_bytes));
  }

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  rocksdb::Status status;
  if (options.mode == Mode::kReadOnly) {
    status = rocksdb::DB::OpenForReadOnly(db_options, options.path, descriptors,
                                          &handles, &db);
  } else {
    status =
        rocksdb::DB::Open(db_options, options.path, descriptors, &handles, &db);
  }
  if (!status.ok()) {
    if (status.IsInvalidArgument() &&
        status.ToString().find("does not exist") != std::string::npos) {
      return absl::NotFoundError(
          absl::StrCat("no ledger database at ", options.path));
    }
    return FromRocksStatus(
        status, absl::StrCat("opening the ledger at ", options.path));
  }
  auto store = std::unique_ptr<Store>(new Store());
  store->mode_ = options.mode;
  store->db_.reset(db);
  for (size_t i = 0; i < kFamilyCount; ++i) store->handles_[i] = handles[i];
  return store;
}

Store::~Store() {
  if (db_ == nullptr) return;
  // With the WAL on, RocksDB does not flush memtables on close: flushing
  // here makes the next open read O(1) of log instead of replaying it.
  if (mode_ != Mode::kReadOnly) {
    std::vector<rocksdb::ColumnFamilyHandle*> handles(handles_.begin(),
                                                      handles_.end());
    db_->Flush(rocksdb::FlushOptions(), handles).PermitUncheckedError();
  }
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    if (handle != nullptr) db_->DestroyColumnFamilyHandle(handle);
  }
  db_->Close();
}

absl::StatusOr<std::optional<std::string>> Store::Get(
    Family family, absl::string_view key) const {
  std::string value;
  const rocksdb::Status status =
      db_->Get(rocksdb::ReadOptions(), handle(family),
               rocksdb::Slice(key.data(), key.size()), &value);
  if (status.IsNotFound()) return std::nullopt;
  if (!status.ok()) return FromRocksStatus(status, "reading the ledger");
  return value;
}

absl::StatusOr<std::vector<std::optional<std::string>>>
Store::MultiGetIfPresent(Family family,
                         absl::Span<const std::string> keys) const {
  // RocksDB's batched MultiGet reads keys in key order, one pass per table
  // file, sharing each block between the keys in it.
  std::vector<size_t> order(keys.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&keys](size_t a, size_t b) { return keys[a] < keys[b]; });
  std::vector<rocksdb::Slice> sorted;
  sorted.reserve(keys.size());
  for (const size_t i : order) sorted.emplace_back(keys[i]);
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  db_->MultiGet(rocksdb::ReadOptions(), handle(family), sorted.size(),
                sorted.data(), values.data(), statuses.data(),
                /*sorted_input=*/true);
  std::vector<std::optional<std::string>> result(keys.size());
  for (size_t k = 0; k < order.size(); ++k) {
    if (statuses[k].IsNotFound()) continue;
    if (!statuses[k].ok()) {
      return FromRocksStatus(statuses[k], "reading the ledger");
    }
    result[order[k]] = values[k].ToString();
  }
  return result;
}

absl::StatusOr<std::vector<std::string>> Store::MultiGet(
    Family family, absl::Span<const std::string> keys) const {
  absl::StatusOr<std::vector<std::optional<std::string>>> found =
      MultiGetIfPresent(family, keys);
  if (!found.ok()) return found.status();
  std::vector<std::string> values;
  values.reserve(keys.size());
  for (size_t i = 0; i < found->size(); ++i) {
    if (!(*found)[i].has_value()) {
      return absl::DataLossError(absl::StrCat(
          "a record the ledger needs is missing from ", FamilyName(family),
          " (key ", i, " of ", keys.size(), ")"));
    }
    values.push_back(*std::move((*found)[i]));
  }
  return values;
}

uint64_t Store::TableReadersBytes() const {
  uint64_t total_bytes = 0;
  for (rocksdb::ColumnFamilyHandle* family : handles_) {
    uint64_t bytes = 0;
    if (db_->GetIntProperty(family,
                            rocksdb::DB::Properties::kEstimateTableReadersMem,
                            &bytes)) {
      total_bytes += bytes;
    }
  }
  return total_bytes;
}

std::unique_ptr<rocksdb::Iterator> Store::NewIterator(
    Family family, Reads reads, const rocksdb::Slice* upper_bound) const {
  rocksdb::ReadOptions options;
  options.iterate_upper_bound = upper_bound;
  options.fill_cache = reads == Reads::kFew;
  if (reads == Reads::kWhole) options.readahead_size = kScanReadaheadBytes;
  return std::unique_ptr<rocksdb::Iterator>(
      db_->NewIterator(options, handle(family)));
}

absl::Status Store::Write(rocksdb::WriteBatch* batch) {
  if (mode_ == Mode::kReadOnly) {
    return absl::FailedPreconditionError("the ledger is open read-only");
  }
  rocksdb::WriteOptions options;
  options.sync = true;
  return FromRocksStatus(db_->Write(options, batch), "writing the ledger");
}

absl::Status Store::WriteUnsynced(rocksdb::WriteBatch* batch) {
  if (mode_ == Mode::kReadOnly) {
    return absl::FailedPreconditionError("the ledger is open read-only");
  }
  return FromRocksStatus(db_->Write(rocksdb::WriteOptions(), batch),
                         "writing the ledger");
}

absl::Status Store::SyncWal() {
  if (mode_ == Mode::kReadOnly) {
    return absl::FailedPreconditionError("the ledger is open read-only");
  }
  return FromRocksStatus(db_->SyncWAL(), "syncing the write-ahead log");
}

absl::StatusOr<Store::Tables> Store::TablesOf(Family family) const {
  rocksdb::TablePropertiesCollection tables;
  if (absl::Status s = FromRocksStatus(
          db_->GetPropertiesOfAllTables(handle(family), &tables),
          "reading table properties");
      !s.ok()) {
    return s;
  }
  Tables totals;
  for (const auto& [file, properties] : tables) {
    totals.data_blocks += properties->num_data_blocks;
    totals.data_bytes += properties->data_size;
    totals.filter_bytes += properties->filter_size;
  }
  return totals;
}

absl::Status Store::VerifyChecksums() const {
  if (absl::Status s = FromRocksStatus(db_->VerifyChecksum(),
                                       "verifying RocksDB block checksums");
      !s.ok()) {
    return s;
  }
  return FromRocksStatus(db_->VerifyFileChecksums(rocksdb::ReadOptions()),
                         "verifying RocksDB table file checksums");
}

}  // namespace premium::storage
