#include "ledger/storage/store.h"

#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/storage/format.h"
#include "ledger/testing/ledger_testing.h"
#include "rocksdb/write_batch.h"

namespace premium::storage {
namespace {

using ::premium::testing::IsOk;
using ::premium::testing::TempDir;

constexpr uint64_t kLeaves = 200'000;
constexpr uint64_t kLeavesPerBatch = 10'000;

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

// Writes kLeaves leaves in synced batches; closing the store flushes them
// into table files.
void WriteLeaves(const std::string& path) {
  std::unique_ptr<Store> store = OpenStore(path);
  ASSERT_NE(store, nullptr);
  for (uint64_t first = 0; first < kLeaves; first += kLeavesPerBatch) {
    rocksdb::WriteBatch batch;
    for (uint64_t seq = first; seq < first + kLeavesPerBatch; ++seq) {
      ASSERT_TRUE(batch
                      .Put(store->handle(Family::kNodes), NodeKey({0, seq}),
                           LeafValue(seq))
                      .ok());
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
  ASSERT_NO_FATAL_FAILURE(WriteLeaves(path));
  std::unique_ptr<Store> store = OpenStore(path);
  ASSERT_NE(store, nullptr);
  for (uint64_t seq = 0; seq < kLeaves; seq += 997) {
    absl::StatusOr<std::optional<std::string>> value =
        store->Get(Family::kNodes, NodeKey({0, seq}));
    ASSERT_THAT(value, IsOk());
    ASSERT_EQ(*value, LeafValue(seq)) << seq;
    absl::StatusOr<std::optional<std::string>> absent =
        store->Get(Family::kNodes, NodeKey({1, seq}));
    ASSERT_THAT(absent, IsOk());
    EXPECT_EQ(*absent, std::nullopt) << seq;
  }
  // 200K keys of 9 bytes and values of 32: about 250 KiB of bloom filter and
  // 50 KiB of index, which RocksDB's defaults keep beside the reader.
  EXPECT_LT(store->TableReadersBytes(), 32u << 10);
}

// A proof's siblings below the subtrees the ledger caches lie within about
// 21 KiB of node records: the nodes' blocks are large enough to hold them
// in one or two reads (RocksDB's default is 4 KiB).
TEST(StoreTest, NodeBlocksHoldASubtreesNodes) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  ASSERT_NO_FATAL_FAILURE(WriteLeaves(path));
  std::unique_ptr<Store> store = OpenStore(path);
  ASSERT_NE(store, nullptr);
  absl::StatusOr<Store::DataBlocks> blocks =
      store->DataBlocksOf(Family::kNodes);
  ASSERT_THAT(blocks, IsOk());
  ASSERT_GT(blocks->count, 0u);
  EXPECT_GE(blocks->bytes / blocks->count, 28u << 10);
}

}  // namespace
}  // namespace premium::storage
