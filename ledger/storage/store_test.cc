#include "ledger/storage/store.h"

#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/storage/format.h"
#include "ledger/testing/ledger_testing.h"
#include "rocksdb/perf_context.h"
#include "rocksdb/perf_level.h"
#include "rocksdb/write_batch.h"

namespace premium::storage {
namespace {

using ::premium::testing::IsOk;
using ::premium::testing::TempDir;

constexpr uint64_t kLeaves = 200'000;
constexpr uint64_t kLeavesPerBatch = 10'000;
// Keys read by each short scan of IteratorsStopAtTheirUpperBound.
constexpr uint64_t kScanLeaves = 3;

std::string LeafValue(uint64_t seq) {
  std::string value = absl::StrCat("leaf ", seq);
  value.resize(32, '.');
  return value;
}

std::unique_ptr<Store> OpenStore(const std::string& path) {
  Store::Options options;
  options.path = path;
  options.mode = Store::Mode::kReadWriteCreate;
  options.block_cache_bytes = 1 << 20;
  options.write_buffer_bytes = 1 << 20;
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
  EXPECT_THAT(store, IsOk());
  return store.ok() ? *std::move(store) : nullptr;
}

// Writes kLeaves leaves, keyed as nodes, into each of `families` in synced
// batches; closing the store flushes them into table files.
void WriteLeaves(const std::string& path,
                 std::initializer_list<Family> families = {Family::kNodes}) {
  std::unique_ptr<Store> store = OpenStore(path);
  ASSERT_NE(store, nullptr);
  for (uint64_t first = 0; first < kLeaves; first += kLeavesPerBatch) {
    rocksdb::WriteBatch batch;
    for (uint64_t seq = first; seq < first + kLeavesPerBatch; ++seq) {
      for (const Family family : families) {
        ASSERT_TRUE(
            batch.Put(store->handle(family), NodeKey({0, seq}), LeafValue(seq))
                .ok());
      }
    }
    ASSERT_THAT(store->Write(&batch), IsOk());
  }
}

// A table's index and filter grow with it: kept beside its reader they would
// grow premiumd's memory with the ledger for ever (issue 6's soak). They are
// in the block cache, partitioned, and point reads still find every key and
// no absent one.
TEST(StoreTest, TableIndexesAndFiltersLiveInTheBlockCache) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  // Nodes have no filter, the index has one (NodeTablesHave...).
  ASSERT_NO_FATAL_FAILURE(WriteLeaves(path, {Family::kNodes, Family::kIndex}));
  std::unique_ptr<Store> store = OpenStore(path);
  ASSERT_NE(store, nullptr);
  for (const Family family : {Family::kNodes, Family::kIndex}) {
    for (uint64_t seq = 0; seq < kLeaves; seq += 997) {
      absl::StatusOr<std::optional<std::string>> value =
          store->Get(family, NodeKey({0, seq}));
      ASSERT_THAT(value, IsOk());
      ASSERT_EQ(*value, LeafValue(seq)) << seq;
      absl::StatusOr<std::optional<std::string>> absent =
          store->Get(family, NodeKey({1, seq}));
      ASSERT_THAT(absent, IsOk());
      EXPECT_EQ(*absent, std::nullopt) << seq;
    }
  }
  // 200K keys of 9 bytes and values of 32 in each family: about 250 KiB of
  // bloom filter and 100 KiB of indexes, which RocksDB's defaults keep
  // beside the readers.
  EXPECT_LT(store->TableReadersBytes(), 64u << 10);
}

// A proof's siblings below the subtrees the ledger caches lie within about
// 21 KiB of node records: the nodes' blocks are large enough to hold them
// in one or two reads (RocksDB's default is 4 KiB). Nodes are read only
// where they must exist, so they have no filter; unique keys, mostly
// looked up to find them absent, have one.
TEST(StoreTest, NodeTablesHaveLargeBlocksAndNoFilter) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  ASSERT_NO_FATAL_FAILURE(WriteLeaves(path));
  {
    std::unique_ptr<Store> store = OpenStore(path);
    ASSERT_NE(store, nullptr);
    rocksdb::WriteBatch batch;
    for (uint64_t i = 0; i < 1000; ++i) {
      ASSERT_TRUE(batch
                      .Put(store->handle(Family::kIndex),
                           UniqueIndexKey(absl::StrCat("code ", i)),
                           EncodeFixed64(i))
                      .ok());
    }
    ASSERT_THAT(store->Write(&batch), IsOk());
  }
  std::unique_ptr<Store> store = OpenStore(path);
  ASSERT_NE(store, nullptr);
  absl::StatusOr<Store::Tables> nodes = store->TablesOf(Family::kNodes);
  ASSERT_THAT(nodes, IsOk());
  ASSERT_GT(nodes->data_blocks, 0u);
  EXPECT_GE(nodes->data_bytes / nodes->data_blocks, 28u << 10);
  EXPECT_EQ(nodes->filter_bytes, 0u);
  absl::StatusOr<Store::Tables> index = store->TablesOf(Family::kIndex);
  ASSERT_THAT(index, IsOk());
  ASSERT_GT(index->data_blocks, 0u);
  EXPECT_GT(index->filter_bytes, 0u);
}

// A short scan that ends at its iterator's upper bound reads no block past
// it; one that stops only when it sees a key past its range has to read the
// block that key is in whenever its range ends a block (here 21 of the 5,614
// blocks that 1,980 scans of 3 keys touch).
TEST(StoreTest, IteratorsStopAtTheirUpperBound) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  ASSERT_NO_FATAL_FAILURE(WriteLeaves(path, {Family::kIndex}));
  std::unique_ptr<Store> store = OpenStore(path);
  ASSERT_NE(store, nullptr);
  const auto blocks_read = [&store](bool bounded) {
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kEnableCount);
    rocksdb::get_perf_context()->Reset();
    for (uint64_t first = 0; first + kScanLeaves < kLeaves; first += 101) {
      // Past the range's last key, before the next one: where a lookup
      // key's records end.
      const std::string end =
          absl::StrCat(NodeKey({0, first + kScanLeaves - 1}), "\x01");
      const rocksdb::Slice upper_bound(end);
      std::unique_ptr<rocksdb::Iterator> it = store->NewIterator(
          Family::kIndex, Store::Reads::kFew, bounded ? &upper_bound : nullptr);
      uint64_t seen = 0;
      for (it->Seek(NodeKey({0, first}));
           it->Valid() && it->key().compare(end) < 0; it->Next()) {
        EXPECT_EQ(it->key(), NodeKey({0, first + seen}));
        ++seen;
      }
      EXPECT_TRUE(it->status().ok()) << it->status().ToString();
      EXPECT_EQ(seen, kScanLeaves) << first;
      // The bound ends the iterator where the key past it would be.
      if (bounded) EXPECT_FALSE(it->Valid()) << first;
    }
    const rocksdb::PerfContext& perf = *rocksdb::get_perf_context();
    const uint64_t blocks = perf.block_read_count + perf.block_cache_hit_count;
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
    return blocks;
  };
  const uint64_t unbounded_blocks = blocks_read(false);
  const uint64_t bounded_blocks = blocks_read(true);
  EXPECT_LT(bounded_blocks, unbounded_blocks);
}

}  // namespace
}  // namespace premium::storage
