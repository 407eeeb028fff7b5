#include "ledger/ledger.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <limits>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "ledger/merkle/compact_range.h"
#include "ledger/merkle/proof.h"
#include "ledger/storage/format.h"
#include "ledger/storage/store.h"

namespace premium {
namespace {

// ReadEntries reads ranges of at least this many entries as scans.
constexpr uint64_t kScanEntriesMin = 256;
// Levels a node key can name (storage::NodeKey).
constexpr int kNodeLevelsMax = 64;
// LedgerOptions::node_cache_nodes_max: a table of 2^27 slots, 5.1 GiB.
constexpr size_t kNodeCacheNodesLimit = size_t{1} << 26;
// What a group's write batch holds per entry beside the request's own bytes:
// the entry's envelope and key, its leaf and interior nodes, its index
// records (payroll lines: 369 bytes; purchases and payments: 314-567).
constexpr size_t kBatchBytesPerEntry = 512;
// Reserved at most for one group's batch; a larger one grows as it must.
constexpr size_t kBatchReserveBytesMax = 256 << 20;

using storage::Family;
using wsr::premium::v1::Entry;

bool MatchesCharset(absl::string_view text, absl::string_view extra) {
  return std::all_of(text.begin(), text.end(), [extra](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || extra.find(c) != absl::string_view::npos;
  });
}

absl::Status ValidateToken(absl::string_view field, absl::string_view value,
                           size_t length_max, absl::string_view extra) {
  if (value.empty() || value.size() > length_max) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " must be 1 to ", length_max, " characters, got ",
                     value.size()));
  }
  if (!MatchesCharset(value, extra)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " may hold only letters, digits and \"", extra,
                     "\": got \"", absl::CHexEscape(value), "\""));
  }
  return absl::OkStatus();
}

absl::Status ValidateDerivedKeys(uint64_t entry_index,
                                 const DerivedKeys& keys) {
  if (keys.unique_keys.size() + keys.lookup_keys.size() >
      kDerivedKeysPerEntryMax) {
    return absl::InternalError(absl::StrCat("entries[", entry_index,
                                            "] derives more than ",
                                            kDerivedKeysPerEntryMax, " keys"));
  }
  for (const auto* list : {&keys.unique_keys, &keys.lookup_keys}) {
    // A key listed twice would be stored once but counted twice by
    // verification, which would then reject a healthy ledger.
    absl::flat_hash_set<absl::string_view> seen;
    for (const std::string& key : *list) {
      if (!IsDerivableKey(key)) {
        return absl::InternalError(absl::StrCat("entries[", entry_index,
                                                "] derives a malformed key \"",
                                                absl::CHexEscape(key), "\""));
      }
      if (!seen.insert(key).second) {
        return absl::InternalError(
            absl::StrCat("entries[", entry_index, "] derives the key \"",
                         absl::CHexEscape(key), "\" twice"));
      }
    }
  }
  return absl::OkStatus();
}

// A key to look up: what an indexer may derive. Anything else cannot be
// stored, and a NUL would read another key's records as this one's.
absl::Status ValidateQueryKey(absl::string_view key) {
  if (!IsDerivableKey(key)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a derived key is 1 to ", kDerivedKeyLengthMax,
        " bytes without NUL; got \"", absl::CHexEscape(key), "\""));
  }
  return absl::OkStatus();
}

// The index records of one write, put into its WriteBatch in key order.
// RocksDB's memtable skip list starts each insert from where the last one
// ended; index keys in entry order (paystub code hashes, workers all over
// a supplier's payroll) would each search from the top of a list of
// millions of keys, which was the largest single cost of a payroll upload.
class SortedIndexPuts {
 public:
  void Put(std::string key, std::string value) {
    puts_.emplace_back(std::move(key), std::move(value));
  }

  // Adds them to `batch` in `family`, sorted; leaves none behind.
  void AddTo(rocksdb::ColumnFamilyHandle* family, rocksdb::WriteBatch* batch) {
    // Stable: the later of two puts of one key must stay the later.
    std::stable_sort(
        puts_.begin(), puts_.end(),
        [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [key, value] : puts_) batch->Put(family, key, value);
    puts_.clear();
  }

 private:
  std::vector<std::pair<std::string, std::string>> puts_;
};

merkle::Hash RequestFingerprint(const AppendRequest& request) {
  storage::RequestFingerprinter fingerprinter(
      request.actor, request.idempotency_key, request.entries.size());
  for (const AppendEntry& entry : request.entries) {
    fingerprinter.AddEntry(entry.kind, entry.payload);
  }
  return fingerprinter.Finish();
}

size_t RequestBytes(const AppendRequest& request) {
  size_t bytes = request.actor.size() + request.idempotency_key.size();
  for (const AppendEntry& entry : request.entries) {
    bytes += entry.kind.size() + entry.payload.size();
  }
  return bytes;
}

AppendReceipt ReceiptFromRecord(const storage::IdempotencyRecord& record,
                                bool replayed) {
  return AppendReceipt{record.first_seq, record.entry_count, record.tree_size,
                       record.append_time_micros, replayed};
}

absl::StatusOr<StoredEntry> ParseStoredEntry(uint64_t seq, std::string bytes) {
  StoredEntry stored;
  if (!stored.entry.ParseFromString(bytes)) {
    return absl::DataLossError(
        absl::StrCat("entry ", seq, " does not parse as an Entry"));
  }
  if (stored.entry.seq() != seq) {
    return absl::DataLossError(absl::StrCat(
        "entry stored at seq ", seq, " says it is seq ", stored.entry.seq()));
  }
  stored.bytes = std::move(bytes);
  return stored;
}

absl::Status MakeDirectory(const std::string& path) {
  std::error_code error;
  std::filesystem::create_directories(path, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot create ", path, ": ", error.message()));
  }
  // The directory holds the signing key and, later, credentials.
  if (::chmod(path.c_str(), 0700) != 0) {
    return absl::InternalError(
        absl::StrCat("chmod ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateAppendRequest(const AppendRequest& request,
                                   const LedgerOptions& options) {
  if (absl::Status s =
          ValidateToken("actor", request.actor, kActorLengthMax, "._:@-");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateToken("idempotency_key", request.idempotency_key,
                                     kIdempotencyKeyLengthMax, "._:/=+-");
      !s.ok()) {
    return s;
  }
  if (request.entries.empty()) {
    return absl::InvalidArgumentError(
        "entries: a request appends at least one");
  }
  if (request.entries.size() > options.request_entries_max) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "entries: ", request.entries.size(), " in one request; the limit is ",
        options.request_entries_max));
  }
  for (size_t i = 0; i < request.entries.size(); ++i) {
    const AppendEntry& entry = request.entries[i];
    if (absl::Status s = ValidateToken(absl::StrCat("entries[", i, "].kind"),
                                       entry.kind, kKindLengthMax, "._");
        !s.ok()) {
      return s;
    }
    if (entry.payload.size() > kPayloadBytesMax) {
      return absl::InvalidArgumentError(
          absl::StrCat("entries[", i, "].payload is ", entry.payload.size(),
                       " bytes; the limit is ", kPayloadBytesMax));
    }
  }
  if (const size_t bytes = RequestBytes(request);
      bytes > options.request_bytes_max) {
    return absl::ResourceExhaustedError(
        absl::StrCat("request is ", bytes, " bytes; the limit is ",
                     options.request_bytes_max));
  }
  return absl::OkStatus();
}

class Ledger::Impl {
 public:
  Impl(LedgerOptions options, std::unique_ptr<storage::Store> store,
       std::unique_ptr<CheckpointSigner> signer, std::string origin)
      : options_(std::move(options)),
        store_(std::move(store)),
        signer_(std::move(signer)),
        origin_(std::move(origin)) {}

  ~Impl() {
    Close();
    if (node_cache_warmer_.joinable()) node_cache_warmer_.join();
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](std::deque<Writer*>* writers) { return writers->empty(); },
        &writers_));
  }

  absl::Status Initialize() ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Load() ABSL_LOCKS_EXCLUDED(mu_);

  absl::StatusOr<AppendReceipt> Append(const AppendRequest& request);
  absl::StatusOr<AppendReceipt> AppendStreamed(absl::string_view actor,
                                               absl::string_view key,
                                               uint64_t entry_count,
                                               EntrySource& source);
  void Close() {
    stop_warming_.store(true, std::memory_order_relaxed);
    absl::MutexLock lock(&mu_);
    closed_ = true;
    // WaitForGrowth returns once the ledger closes: wake every waiter now
    // rather than at its deadline.
    grown_.SignalAll();
  }
  uint64_t size() const { return size_.load(std::memory_order_acquire); }
  absl::StatusOr<std::vector<StoredEntry>> ReadEntries(uint64_t begin_seq,
                                                       uint64_t end_seq,
                                                       size_t max) const;
  absl::StatusOr<std::vector<StoredEntry>> ReadEntriesAt(
      absl::Span<const uint64_t> seqs) const;
  uint64_t WaitForGrowth(uint64_t known_size, absl::Time deadline) const;
  SignedCheckpoint LatestCheckpoint() const {
    absl::MutexLock lock(&mu_);
    return latest_;
  }
  absl::StatusOr<SignedCheckpoint> CheckpointAt(uint64_t tree_size) const;
  const CheckpointVerifier& verifier() const { return signer_->verifier(); }
  const std::string& origin() const { return origin_; }
  absl::StatusOr<std::vector<merkle::Hash>> Proof(
      absl::StatusOr<std::vector<merkle::ProofElement>> plan) const;
  absl::StatusOr<merkle::Hash> RootAt(uint64_t tree_size) const;
  absl::StatusOr<uint64_t> FindUnique(absl::string_view unique_key) const;
  absl::StatusOr<std::vector<uint64_t>> FindByLookupKey(
      absl::string_view lookup_key, std::optional<uint64_t> after_seq,
      size_t max_results) const;
  absl::StatusOr<std::vector<StoredEntry>> ReadByLookupKey(
      absl::string_view lookup_key, std::optional<uint64_t> after_seq,
      size_t max_results) const;
  // Starts reading the committed tree's high nodes into node_cache_.
  void StartWarmingNodeCache();
  NodeCache node_cache() const {
    NodeCache state;
    state.warming = warming_.load(std::memory_order_acquire);
    absl::ReaderMutexLock lock(&node_cache_mu_);
    state.nodes = node_cache_.size();
    return state;
  }

 private:
  struct Writer {
    const AppendRequest* request = nullptr;
    merkle::Hash fingerprint{};
    std::vector<DerivedKeys> keys;
    size_t bytes = 0;
    bool done = false;
    absl::StatusOr<AppendReceipt> result;
    // An earlier writer of the same group with the same request.
    const Writer* replay_of = nullptr;
    // A streamed append: it takes its turn alone, never in a group.
    bool exclusive = false;
    absl::CondVar cv;
  };

  // State of one group being built by the leader.
  struct Group {
    explicit Group(size_t batch_reserve_bytes) : batch(batch_reserve_bytes) {}

    rocksdb::WriteBatch batch;
    SortedIndexPuts index_puts;
    merkle::CompactRange range;
    int64_t append_time_micros = 0;
    absl::flat_hash_map<std::string, Writer*> by_idempotency_key;
    absl::flat_hash_set<std::string> unique_keys;
    std::vector<Writer*> appended;
  };

  absl::StatusOr<SignedCheckpoint> Sign(const merkle::CompactRange& range);
  absl::StatusOr<std::optional<storage::IdempotencyRecord>> StoredRequest(
      const std::string& key) const;
  // What the leader does with a writer of its group.
  enum class Admission { kAppend, kReplay };
  absl::StatusOr<Admission> Admit(Writer* writer, Group* group) const;
  absl::Status AddToBatch(Writer* writer, Group* group);
  void CommitGroup(absl::Span<Writer* const> writers);
  // The work of a streamed append, done with the write turn held.
  absl::StatusOr<AppendReceipt> WriteStreamed(absl::string_view actor,
                                              absl::string_view key,
                                              uint64_t entry_count,
                                              EntrySource& source);
  // Writes the source's entries beyond `range` in unsynced batches,
  // extending `range`; returns the request's fingerprint.
  absl::StatusOr<merkle::Hash> StageEntries(absl::string_view actor,
                                            absl::string_view key,
                                            uint64_t entry_count,
                                            int64_t append_time_micros,
                                            EntrySource& source,
                                            merkle::CompactRange* range);
  // Removes everything staged beyond `tree_size` (entries, nodes, derived
  // keys) and the staging mark, with a synced write.
  absl::Status RemoveStaged(uint64_t tree_size);
  absl::StatusOr<merkle::CompactRange> RangeAt(uint64_t tree_size) const;
  // The seqs of FindByLookupKey and, if `leaves` is set, the leaf hash
  // each index record holds.
  absl::Status ScanLookupIndex(
      absl::string_view lookup_key, std::optional<uint64_t> after_seq,
      size_t max_results, std::vector<uint64_t>* seqs,
      std::vector<std::optional<merkle::Hash>>* leaves) const;
  // The first entry whose lookup index records hold its leaf hash; a
  // format-1 ledger is upgraded first (format.h), at `tree_size`.
  absl::StatusOr<uint64_t> LookupLeavesFrom(uint64_t tree_size);
  // The entries at `seqs`, each checked against its leaf hash: the one in
  // `leaves[i]` where given (from a lookup index record), else the one in
  // the node family. `leaves` is empty or as long as `seqs`.
  absl::StatusOr<std::vector<StoredEntry>> ReadCheckedEntries(
      absl::Span<const uint64_t> seqs,
      absl::Span<const std::optional<merkle::Hash>> leaves) const;
  // The hashes of committed nodes `ids`, in order: from node_cache_ where it
  // has them, the rest read in one batch (and cached if high enough).
  absl::StatusOr<std::vector<merkle::Hash>> NodeHashes(
      absl::Span<const merkle::NodeId> ids) const;

  // Hashes of the committed nodes at kCachedNodeLevelMin and above, read
  // through on a proof's first use: such a node covers a complete subtree and
  // never changes once committed. A proof's nodes below that level lie
  // within the 256 entries around its leaf, a few blocks of the node table;
  // each higher one is a block of its own, far from the others in key
  // order. These are what this keeps: about one node per 128 entries.
  static constexpr int kCachedNodeLevelMin = 8;
  // At level 8 and above an index has at most 55 bits (trees of at most
  // 2^63 leaves), so index and level pack into 64.
  static uint64_t CachedNodeKey(const merkle::NodeId& id) {
    return id.index << 6 | static_cast<uint64_t>(id.level);
  }
  mutable absl::Mutex node_cache_mu_;
  mutable absl::flat_hash_map<uint64_t, merkle::Hash> node_cache_
      ABSL_GUARDED_BY(node_cache_mu_);
  // Adds a node unless the cache is full (LedgerOptions::node_cache_nodes_max);
  // false once it is.
  bool CacheNodeLocked(uint64_t key, const merkle::Hash& hash) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(node_cache_mu_) {
    if (node_cache_.size() >= options_.node_cache_nodes_max) return false;
    node_cache_.emplace(key, hash);
    return true;
  }
  // Without it a proof that finds a high node missing reads a block of
  // its own for it: right after Open, at 11M entries, a proof read about
  // five such blocks besides its leaf's, and took twice as long.
  void WarmNodeCache(uint64_t tree_size);
  std::thread node_cache_warmer_;
  std::atomic<bool> warming_{false};
  std::atomic<bool> stop_warming_{false};

  const LedgerOptions options_;
  const std::unique_ptr<storage::Store> store_;
  const std::unique_ptr<CheckpointSigner> signer_;
  const std::string origin_;

  mutable absl::Mutex mu_;
  std::deque<Writer*> writers_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // Set when a write failed: memory may then be behind the disk, so the
  // ledger refuses appends until it is reopened.
  absl::Status failed_ ABSL_GUARDED_BY(mu_);
  SignedCheckpoint latest_ ABSL_GUARDED_BY(mu_);
  mutable absl::CondVar grown_;

  // Owned by the current leader (the front writer); replaced under mu_.
  merkle::CompactRange range_;
  int64_t last_append_time_micros_ = 0;

  std::atomic<uint64_t> size_{0};
  // Set by Load, before the ledger is shared; see LookupLeavesFrom.
  uint64_t lookup_leaves_from_ = 0;
};

absl::StatusOr<SignedCheckpoint> Ledger::Impl::Sign(
    const merkle::CompactRange& range) {
  SignedCheckpoint signed_checkpoint;
  signed_checkpoint.checkpoint =
      Checkpoint{origin_, range.size(), range.Root()};
  signed_checkpoint.body = CheckpointBody(signed_checkpoint.checkpoint);
  absl::StatusOr<std::string> signature = signer_->Sign(signed_checkpoint.body);
  if (!signature.ok()) return signature.status();
  signed_checkpoint.signature = *std::move(signature);
  return signed_checkpoint;
}

absl::Status Ledger::Impl::Initialize() {
  absl::StatusOr<SignedCheckpoint> empty = Sign(merkle::CompactRange());
  if (!empty.ok()) return empty.status();
  rocksdb::WriteBatch batch;
  batch.Put(store_->handle(Family::kMeta), storage::kMetaFormatVersion,
            storage::kFormatVersion);
  batch.Put(store_->handle(Family::kMeta), storage::kMetaOrigin, origin_);
  batch.Put(store_->handle(Family::kMeta), storage::kMetaTreeSize,
            storage::EncodeFixed64(0));
  batch.Put(store_->handle(Family::kMeta), storage::kMetaLookupLeavesFrom,
            storage::EncodeFixed64(0));
  batch.Put(store_->handle(Family::kCheckpoints), storage::EncodeFixed64(0),
            storage::EncodeCheckpointRecord(
                {empty->checkpoint.root_hash, empty->signature}));
  if (absl::Status s = store_->Write(&batch); !s.ok()) return s;
  return Load();
}

absl::Status Ledger::Impl::Load() {
  absl::StatusOr<std::optional<std::string>> size_bytes =
      store_->Get(Family::kMeta, storage::kMetaTreeSize);
  if (!size_bytes.ok()) return size_bytes.status();
  if (!size_bytes->has_value()) {
    return absl::DataLossError("the ledger has no stored tree size");
  }
  absl::StatusOr<uint64_t> tree_size = storage::DecodeTreeSize(**size_bytes);
  if (!tree_size.ok()) return tree_size.status();

  absl::StatusOr<merkle::CompactRange> range = RangeAt(*tree_size);
  if (!range.ok()) return range.status();
  absl::StatusOr<SignedCheckpoint> checkpoint = CheckpointAt(*tree_size);
  if (!checkpoint.ok()) {
    return absl::DataLossError(
        absl::StrCat("no signed checkpoint for the stored tree size ",
                     *tree_size, ": ", checkpoint.status().message()));
  }
  if (checkpoint->checkpoint.root_hash != range->Root()) {
    return absl::DataLossError(absl::StrCat(
        "the stored tree of size ", *tree_size,
        " does not match its signed checkpoint; run premiumd verify"));
  }

  // A streamed append interrupted by a crash left its staged records past
  // the committed size; they were never visible, and go now.
  absl::StatusOr<std::optional<std::string>> staged_from =
      store_->Get(Family::kMeta, storage::kMetaStagedFrom);
  if (!staged_from.ok()) return staged_from.status();
  if (staged_from->has_value()) {
    absl::StatusOr<uint64_t> from = storage::DecodeFixed64(**staged_from);
    if (!from.ok() || *from != *tree_size) {
      return absl::DataLossError(absl::StrCat(
          "a streamed append was staged from a tree size other than the "
          "committed one (",
          *tree_size, ")"));
    }
    if (absl::Status s = RemoveStaged(*tree_size); !s.ok()) return s;
  }

  // Otherwise entries past the committed size cannot come from this ledger,
  // whose writes carry the size in the same batch.
  std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(Family::kEntries);
  it->Seek(storage::SeqKey(*tree_size));
  if (it->Valid()) {
    return absl::DataLossError(absl::StrCat(
        "an entry exists beyond the committed tree size ", *tree_size));
  }
  if (absl::Status s = storage::FromRocksStatus(it->status(), "scanning");
      !s.ok()) {
    return s;
  }
  absl::StatusOr<uint64_t> lookup_leaves_from = LookupLeavesFrom(*tree_size);
  if (!lookup_leaves_from.ok()) return lookup_leaves_from.status();
  lookup_leaves_from_ = *lookup_leaves_from;

  int64_t last_time_micros = 0;
  if (*tree_size > 0) {
    size_.store(*tree_size, std::memory_order_release);
    absl::StatusOr<std::vector<StoredEntry>> last =
        ReadEntries(*tree_size - 1, *tree_size, 1);
    if (!last.ok()) return last.status();
    last_time_micros = last->front().entry.append_time_micros();
  }
  absl::MutexLock lock(&mu_);
  range_ = *std::move(range);
  last_append_time_micros_ = last_time_micros;
  latest_ = *std::move(checkpoint);
  size_.store(*tree_size, std::memory_order_release);
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Ledger::Impl::LookupLeavesFrom(uint64_t tree_size) {
  absl::StatusOr<std::optional<std::string>> version =
      store_->Get(Family::kMeta, storage::kMetaFormatVersion);
  if (!version.ok()) return version.status();
  if (*version == storage::kFormatVersionWithoutLookupLeaves) {
    // The upgrade to format 2 (format.h): records written from here on hold
    // their leaf hash. One synced batch, so a crash leaves format 1 whole.
    rocksdb::WriteBatch batch;
    batch.Put(store_->handle(Family::kMeta), storage::kMetaFormatVersion,
              storage::kFormatVersion);
    batch.Put(store_->handle(Family::kMeta), storage::kMetaLookupLeavesFrom,
              storage::EncodeFixed64(tree_size));
    if (absl::Status s = store_->Write(&batch); !s.ok()) return s;
    return tree_size;
  }
  absl::StatusOr<std::optional<std::string>> stored =
      store_->Get(Family::kMeta, storage::kMetaLookupLeavesFrom);
  if (!stored.ok()) return stored.status();
  return storage::DecodeLookupLeavesFrom(*stored, tree_size);
}

absl::StatusOr<AppendReceipt> Ledger::Impl::Append(
    const AppendRequest& request) {
  if (absl::Status s = ValidateAppendRequest(request, options_); !s.ok()) {
    return s;
  }
  Writer writer;
  writer.request = &request;
  writer.fingerprint = RequestFingerprint(request);
  writer.bytes = RequestBytes(request);
  writer.keys.resize(request.entries.size());
  if (options_.indexer != nullptr) {
    // The entry as it will be stored, but for seq and append time.
    Entry entry;
    entry.set_actor(request.actor);
    entry.set_idempotency_key(request.idempotency_key);
    entry.set_request_entry_count(
        static_cast<uint32_t>(request.entries.size()));
    for (size_t i = 0; i < request.entries.size(); ++i) {
      entry.set_request_index(static_cast<uint32_t>(i));
      entry.set_kind(request.entries[i].kind);
      entry.set_payload(request.entries[i].payload);
      if (absl::Status s = options_.indexer->Derive(entry, &writer.keys[i]);
          !s.ok()) {
        return s;
      }
      if (absl::Status s = ValidateDerivedKeys(i, writer.keys[i]); !s.ok()) {
        return s;
      }
    }
  }

  absl::MutexLock lock(&mu_);
  if (closed_) return absl::UnavailableError("the ledger is closing");
  if (!failed_.ok()) {
    return absl::UnavailableError(
        absl::StrCat("the ledger stopped appending after a failed write: ",
                     failed_.message()));
  }
  if (writers_.size() >= options_.pending_requests_max) {
    return absl::ResourceExhaustedError(
        absl::StrCat(writers_.size(), " appends are waiting; the limit is ",
                     options_.pending_requests_max));
  }
  writers_.push_back(&writer);
  while (!writer.done && writers_.front() != &writer) writer.cv.Wait(&mu_);
  if (writer.done) return writer.result;

  // This writer leads: it takes the writers queued behind it, up to the
  // group limit, and commits them with one synced write.
  std::vector<Writer*> group;
  size_t group_bytes = 0;
  for (Writer* w : writers_) {
    if (w->exclusive) break;
    if (!group.empty() && group_bytes + w->bytes > options_.group_bytes_max) {
      break;
    }
    group.push_back(w);
    group_bytes += w->bytes;
  }
  mu_.Unlock();
  CommitGroup(group);
  mu_.Lock();
  for (Writer* w : group) {
    assert(writers_.front() == w);
    writers_.pop_front();
    w->done = true;
    if (w != &writer) w->cv.Signal();
  }
  if (!writers_.empty()) writers_.front()->cv.Signal();
  return writer.result;
}

absl::StatusOr<AppendReceipt> Ledger::Impl::AppendStreamed(
    absl::string_view actor, absl::string_view key, uint64_t entry_count,
    EntrySource& source) {
  if (absl::Status s = ValidateToken("actor", actor, kActorLengthMax, "._:@-");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateToken("idempotency_key", key,
                                     kIdempotencyKeyLengthMax, "._:/=+-");
      !s.ok()) {
    return s;
  }
  if (entry_count == 0) {
    return absl::InvalidArgumentError(
        "entries: a request appends at least one");
  }
  // Entry.request_entry_count is 32 bits.
  if (entry_count > options_.streamed_entries_max ||
      entry_count > std::numeric_limits<uint32_t>::max()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("entries: ", entry_count, " in one request; the limit is ",
                     options_.streamed_entries_max));
  }

  Writer writer;
  writer.exclusive = true;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return absl::UnavailableError("the ledger is closing");
    if (!failed_.ok()) {
      return absl::UnavailableError(
          absl::StrCat("the ledger stopped appending after a failed write: ",
                       failed_.message()));
    }
    if (writers_.size() >= options_.pending_requests_max) {
      return absl::ResourceExhaustedError(
          absl::StrCat(writers_.size(), " appends are waiting; the limit is ",
                       options_.pending_requests_max));
    }
    writers_.push_back(&writer);
    while (writers_.front() != &writer) writer.cv.Wait(&mu_);
  }
  absl::StatusOr<AppendReceipt> result =
      absl::UnavailableError("the ledger is closing");
  bool open = false;
  {
    absl::MutexLock lock(&mu_);
    open = !closed_ && failed_.ok();
  }
  if (open) result = WriteStreamed(actor, key, entry_count, source);
  absl::MutexLock lock(&mu_);
  assert(writers_.front() == &writer);
  writers_.pop_front();
  if (!writers_.empty()) writers_.front()->cv.Signal();
  return result;
}

absl::StatusOr<AppendReceipt> Ledger::Impl::WriteStreamed(
    absl::string_view actor, absl::string_view key, uint64_t entry_count,
    EntrySource& source) {
  const std::string idempotency_key = storage::IdempotencyKey(actor, key);
  absl::StatusOr<std::optional<storage::IdempotencyRecord>> stored =
      StoredRequest(idempotency_key);
  if (!stored.ok()) return stored.status();
  if (stored->has_value()) {
    // A retry, or a reuse of the key: only the fingerprint tells.
    storage::RequestFingerprinter fingerprinter(actor, key, entry_count);
    uint64_t given = 0;
    for (;;) {
      absl::StatusOr<std::vector<AppendEntry>> batch =
          source.Next(options_.streamed_batch_entries);
      if (!batch.ok()) return batch.status();
      if (batch->empty()) break;
      given += batch->size();
      for (const AppendEntry& entry : *batch) {
        fingerprinter.AddEntry(entry.kind, entry.payload);
      }
    }
    if (given != entry_count ||
        fingerprinter.Finish() != (*stored)->fingerprint) {
      return absl::AlreadyExistsError(
          absl::StrCat("idempotency_key \"", key,
                       "\" was already used for a different request"));
    }
    return ReceiptFromRecord(**stored, /*replayed=*/true);
  }

  // The write turn is held: range_ and the time are this writer's.
  merkle::CompactRange range = range_;
  const uint64_t first_seq = range.size();
  const int64_t append_time_micros =
      std::max(absl::ToUnixMicros(options_.clock()), last_append_time_micros_);
  const auto fail = [this](const absl::Status& status) {
    absl::MutexLock lock(&mu_);
    failed_ = status;
    return absl::UnavailableError(
        absl::StrCat("the append was not made durable: ", status.message()));
  };
  rocksdb::WriteBatch mark;
  mark.Put(store_->handle(Family::kMeta), storage::kMetaStagedFrom,
           storage::EncodeFixed64(first_seq));
  if (absl::Status s = store_->Write(&mark); !s.ok()) return fail(s);

  absl::StatusOr<merkle::Hash> fingerprint =
      StageEntries(actor, key, entry_count, append_time_micros, source, &range);
  absl::StatusOr<SignedCheckpoint> checkpoint =
      fingerprint.ok() ? Sign(range) : fingerprint.status();
  if (!checkpoint.ok()) {
    // Nothing was committed: take the staged records back out.
    if (absl::Status s = RemoveStaged(first_seq); !s.ok()) return fail(s);
    return checkpoint.status();
  }
  const uint64_t tree_size = range.size();
  rocksdb::WriteBatch commit;
  commit.Put(
      store_->handle(Family::kIdempotency), idempotency_key,
      storage::EncodeIdempotencyRecord({*fingerprint, first_seq, entry_count,
                                        tree_size, append_time_micros}));
  commit.Put(store_->handle(Family::kCheckpoints),
             storage::EncodeFixed64(tree_size),
             storage::EncodeCheckpointRecord(
                 {checkpoint->checkpoint.root_hash, checkpoint->signature}));
  commit.Put(store_->handle(Family::kMeta), storage::kMetaTreeSize,
             storage::EncodeFixed64(tree_size));
  commit.Delete(store_->handle(Family::kMeta), storage::kMetaStagedFrom);
  // The staged batches were written unsynced, possibly into WAL files that
  // have since been switched: sync them all before the commit that makes
  // them count.
  if (absl::Status s = store_->SyncWal(); !s.ok()) return fail(s);
  if (absl::Status s = store_->Write(&commit); !s.ok()) return fail(s);

  absl::MutexLock lock(&mu_);
  range_ = std::move(range);
  last_append_time_micros_ = append_time_micros;
  latest_ = *std::move(checkpoint);
  size_.store(tree_size, std::memory_order_release);
  grown_.SignalAll();
  return AppendReceipt{first_seq, entry_count, tree_size, append_time_micros,
                       false};
}

absl::StatusOr<merkle::Hash> Ledger::Impl::StageEntries(
    absl::string_view actor, absl::string_view key, uint64_t entry_count,
    int64_t append_time_micros, EntrySource& source,
    merkle::CompactRange* range) {
  const uint64_t first_seq = range->size();
  storage::RequestFingerprinter fingerprinter(actor, key, entry_count);
  LedgerOptions batch_limits = options_;
  batch_limits.request_entries_max = options_.streamed_batch_entries;
  batch_limits.request_bytes_max = std::numeric_limits<size_t>::max();
  Entry entry;
  entry.set_append_time_micros(append_time_micros);
  entry.set_actor(std::string(actor));
  entry.set_idempotency_key(std::string(key));
  entry.set_request_entry_count(static_cast<uint32_t>(entry_count));
  std::string bytes;
  uint64_t given = 0;
  uint64_t total_bytes = 0;
  for (;;) {
    AppendRequest batch;
    batch.actor = std::string(actor);
    batch.idempotency_key = std::string(key);
    absl::StatusOr<std::vector<AppendEntry>> entries =
        source.Next(options_.streamed_batch_entries);
    if (!entries.ok()) return entries.status();
    if (entries->empty()) break;
    batch.entries = *std::move(entries);
    if (given + batch.entries.size() > entry_count) {
      return absl::InvalidArgumentError(
          absl::StrCat("the source yields more than the ", entry_count,
                       " entries announced"));
    }
    if (absl::Status s = ValidateAppendRequest(batch, batch_limits); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("streamed entries from #",
                                                 given, ": ", s.message()));
    }
    rocksdb::WriteBatch write;
    SortedIndexPuts index_puts;
    absl::flat_hash_set<std::string> batch_unique_keys;
    for (size_t i = 0; i < batch.entries.size(); ++i) {
      const AppendEntry& append = batch.entries[i];
      const uint64_t index = given + i;
      const uint64_t seq = first_seq + index;
      total_bytes += append.kind.size() + append.payload.size();
      if (total_bytes > options_.streamed_bytes_max) {
        return absl::ResourceExhaustedError(
            absl::StrCat("the request is over the limit of ",
                         options_.streamed_bytes_max, " bytes"));
      }
      fingerprinter.AddEntry(append.kind, append.payload);
      entry.set_seq(seq);
      entry.set_request_index(static_cast<uint32_t>(index));
      entry.set_kind(append.kind);
      entry.set_payload(append.payload);
      DerivedKeys keys;
      if (options_.indexer != nullptr) {
        if (absl::Status s = options_.indexer->Derive(entry, &keys); !s.ok()) {
          return absl::Status(
              s.code(), absl::StrCat("entries[", index, "]: ", s.message()));
        }
        if (absl::Status s = ValidateDerivedKeys(index, keys); !s.ok()) {
          return s;
        }
      }
      const std::string seq_key = storage::SeqKey(seq);
      for (const std::string& unique_key : keys.unique_keys) {
        absl::StatusOr<std::optional<std::string>> holder =
            store_->Get(Family::kIndex, storage::UniqueIndexKey(unique_key));
        if (!holder.ok()) return holder.status();
        std::optional<uint64_t> holder_seq;
        if (holder->has_value()) {
          absl::StatusOr<uint64_t> decoded = storage::DecodeFixed64(**holder);
          if (!decoded.ok()) return decoded.status();
          holder_seq = *decoded;
        }
        if (!batch_unique_keys.insert(unique_key).second ||
            (holder_seq.has_value() && *holder_seq >= first_seq)) {
          return absl::AlreadyExistsError(
              absl::StrCat("entries[", index, "]: \"", unique_key,
                           "\" appears twice in the same request"));
        }
        if (holder_seq.has_value()) {
          return absl::AlreadyExistsError(
              absl::StrCat("entries[", index, "]: \"", unique_key,
                           "\" is already recorded at seq ", *holder_seq));
        }
        index_puts.Put(storage::UniqueIndexKey(unique_key), seq_key);
      }
      bytes.clear();
      if (!entry.SerializeToString(&bytes)) {
        return absl::InternalError(
            absl::StrCat("cannot serialize entry ", seq));
      }
      write.Put(store_->handle(Family::kEntries), seq_key, bytes);
      const merkle::Hash leaf = merkle::HashLeaf(bytes);
      for (const std::string& lookup_key : keys.lookup_keys) {
        index_puts.Put(storage::LookupIndexKey(lookup_key, seq),
                       std::string(merkle::HashBytes(leaf)));
      }
      range->Append(leaf, [&](merkle::NodeId id, const merkle::Hash& hash) {
        write.Put(store_->handle(Family::kNodes), storage::NodeKey(id),
                  merkle::HashBytes(hash));
      });
    }
    index_puts.AddTo(store_->handle(Family::kIndex), &write);
    if (absl::Status s = store_->WriteUnsynced(&write); !s.ok()) return s;
    given += batch.entries.size();
  }
  if (given != entry_count) {
    return absl::InvalidArgumentError(absl::StrCat("the source yielded ", given,
                                                   " entries, not the ",
                                                   entry_count, " announced"));
  }
  return fingerprinter.Finish();
}

absl::Status Ledger::Impl::RemoveStaged(uint64_t tree_size) {
  // Deletes go out in bounded batches; the mark goes last, synced, so a
  // crash in between leaves a mark the next Open acts on again.
  constexpr size_t kDeletesPerBatch = 10'000;
  rocksdb::WriteBatch batch;
  const auto flush_if_full = [&]() -> absl::Status {
    if (static_cast<size_t>(batch.Count()) < kDeletesPerBatch) {
      return absl::OkStatus();
    }
    absl::Status s = store_->WriteUnsynced(&batch);
    batch.Clear();
    return s;
  };
  std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(Family::kEntries);
  for (it->Seek(storage::SeqKey(tree_size)); it->Valid(); it->Next()) {
    batch.Delete(store_->handle(Family::kEntries), it->key());
    Entry entry;
    DerivedKeys keys;
    // The derived keys are recomputed from the entry; an entry that no
    // longer parses leaves index records only at seqs readers ignore.
    if (options_.indexer != nullptr &&
        entry.ParseFromArray(it->value().data(),
                             static_cast<int>(it->value().size())) &&
        options_.indexer->Derive(entry, &keys).ok()) {
      for (const std::string& unique_key : keys.unique_keys) {
        // Only this entry's own claim: a committed holder stays.
        absl::StatusOr<std::optional<std::string>> holder =
            store_->Get(Family::kIndex, storage::UniqueIndexKey(unique_key));
        if (!holder.ok()) return holder.status();
        if (holder->has_value() && **holder == storage::SeqKey(entry.seq())) {
          batch.Delete(store_->handle(Family::kIndex),
                       storage::UniqueIndexKey(unique_key));
        }
      }
      for (const std::string& lookup_key : keys.lookup_keys) {
        batch.Delete(store_->handle(Family::kIndex),
                     storage::LookupIndexKey(lookup_key, entry.seq()));
      }
    }
    if (absl::Status s = flush_if_full(); !s.ok()) return s;
  }
  if (absl::Status s = storage::FromRocksStatus(it->status(), "scanning");
      !s.ok()) {
    return s;
  }
  // Node keys start with the last leaf they cover: every node completed by
  // a staged leaf sorts at or after the first staged seq.
  it = store_->NewIterator(Family::kNodes);
  for (it->Seek(storage::EncodeFixed64(tree_size)); it->Valid(); it->Next()) {
    batch.Delete(store_->handle(Family::kNodes), it->key());
    if (absl::Status s = flush_if_full(); !s.ok()) return s;
  }
  if (absl::Status s = storage::FromRocksStatus(it->status(), "scanning");
      !s.ok()) {
    return s;
  }
  batch.Delete(store_->handle(Family::kMeta), storage::kMetaStagedFrom);
  if (absl::Status s = store_->SyncWal(); !s.ok()) return s;
  return store_->Write(&batch);
}

absl::StatusOr<std::optional<storage::IdempotencyRecord>>
Ledger::Impl::StoredRequest(const std::string& key) const {
  absl::StatusOr<std::optional<std::string>> bytes =
      store_->Get(Family::kIdempotency, key);
  if (!bytes.ok()) return bytes.status();
  if (!bytes->has_value()) return std::nullopt;
  absl::StatusOr<storage::IdempotencyRecord> record =
      storage::DecodeIdempotencyRecord(**bytes);
  if (!record.ok()) return record.status();
  return *record;
}

absl::StatusOr<Ledger::Impl::Admission> Ledger::Impl::Admit(
    Writer* writer, Group* group) const {
  const AppendRequest& request = *writer->request;
  const std::string key =
      storage::IdempotencyKey(request.actor, request.idempotency_key);
  const auto conflict = [&request] {
    return absl::AlreadyExistsError(
        absl::StrCat("idempotency_key \"", request.idempotency_key,
                     "\" was already used for a different request"));
  };
  if (auto it = group->by_idempotency_key.find(key);
      it != group->by_idempotency_key.end()) {
    if (it->second->fingerprint != writer->fingerprint) return conflict();
    writer->replay_of = it->second;
    return Admission::kReplay;
  }
  absl::StatusOr<std::optional<storage::IdempotencyRecord>> stored =
      StoredRequest(key);
  if (!stored.ok()) return stored.status();
  if (stored->has_value()) {
    if ((*stored)->fingerprint != writer->fingerprint) return conflict();
    writer->result = ReceiptFromRecord(**stored, /*replayed=*/true);
    return Admission::kReplay;
  }
  // Check every unique key before the writer adds anything to the batch,
  // so that a refused request leaves no trace in it.
  absl::flat_hash_set<absl::string_view> in_request;
  for (size_t i = 0; i < writer->keys.size(); ++i) {
    for (const std::string& unique_key : writer->keys[i].unique_keys) {
      if (!in_request.insert(unique_key).second ||
          group->unique_keys.contains(unique_key)) {
        return absl::AlreadyExistsError(
            absl::StrCat("entries[", i, "]: \"", unique_key,
                         "\" appears twice in the same appends"));
      }
      absl::StatusOr<std::optional<std::string>> holder =
          store_->Get(Family::kIndex, storage::UniqueIndexKey(unique_key));
      if (!holder.ok()) return holder.status();
      if (holder->has_value()) {
        absl::StatusOr<uint64_t> seq = storage::DecodeFixed64(**holder);
        return absl::AlreadyExistsError(absl::StrCat(
            "entries[", i, "]: \"", unique_key, "\" is already recorded",
            seq.ok() ? absl::StrCat(" at seq ", *seq) : ""));
      }
    }
  }
  return Admission::kAppend;
}

absl::Status Ledger::Impl::AddToBatch(Writer* writer, Group* group) {
  const AppendRequest& request = *writer->request;
  const uint64_t first_seq = group->range.size();
  Entry entry;
  entry.set_append_time_micros(group->append_time_micros);
  entry.set_actor(request.actor);
  entry.set_idempotency_key(request.idempotency_key);
  entry.set_request_entry_count(static_cast<uint32_t>(request.entries.size()));
  std::string bytes;
  for (size_t i = 0; i < request.entries.size(); ++i) {
    const uint64_t seq = first_seq + i;
    entry.set_seq(seq);
    entry.set_request_index(static_cast<uint32_t>(i));
    entry.set_kind(request.entries[i].kind);
    entry.set_payload(request.entries[i].payload);
    bytes.clear();
    if (!entry.SerializeToString(&bytes)) {
      return absl::InternalError(absl::StrCat("cannot serialize entry ", seq));
    }
    const std::string seq_key = storage::SeqKey(seq);
    group->batch.Put(store_->handle(Family::kEntries), seq_key, bytes);
    const merkle::Hash leaf = merkle::HashLeaf(bytes);
    group->range.Append(leaf, [&](merkle::NodeId id, const merkle::Hash& hash) {
      group->batch.Put(store_->handle(Family::kNodes), storage::NodeKey(id),
                       merkle::HashBytes(hash));
    });
    for (const std::string& unique_key : writer->keys[i].unique_keys) {
      group->index_puts.Put(storage::UniqueIndexKey(unique_key), seq_key);
      group->unique_keys.insert(unique_key);
    }
    for (const std::string& lookup_key : writer->keys[i].lookup_keys) {
      group->index_puts.Put(storage::LookupIndexKey(lookup_key, seq),
                            std::string(merkle::HashBytes(leaf)));
    }
  }
  assert(group->range.size() == first_seq + request.entries.size());
  writer->result = AppendReceipt{first_seq, request.entries.size(), 0,
                                 group->append_time_micros, false};
  group->by_idempotency_key.emplace(
      storage::IdempotencyKey(request.actor, request.idempotency_key), writer);
  group->appended.push_back(writer);
  return absl::OkStatus();
}

void Ledger::Impl::CommitGroup(absl::Span<Writer* const> writers) {
  // A batch grown record by record is copied each time it doubles: a
  // payroll upload's is 3.5 times its own size (memmove and fresh pages
  // were a tenth of premiumd's time in an upload; ingest at 400K lines,
  // 3 runs each: 34.5-35.2K -> 35.5-37.2K lines/s).
  size_t reserve_bytes = 0;
  for (const Writer* writer : writers) {
    reserve_bytes +=
        writer->bytes + writer->request->entries.size() * kBatchBytesPerEntry;
  }
  Group group(std::min(reserve_bytes, kBatchReserveBytesMax));
  group.range = range_;
  const int64_t now_micros = absl::ToUnixMicros(options_.clock());
  group.append_time_micros = std::max(now_micros, last_append_time_micros_);
  for (Writer* writer : writers) {
    absl::StatusOr<Admission> admission = Admit(writer, &group);
    if (!admission.ok()) {
      writer->result = admission.status();
      continue;
    }
    if (*admission == Admission::kReplay) continue;
    if (absl::Status s = AddToBatch(writer, &group); !s.ok()) {
      // A half-added writer would poison the batch: fail the whole group.
      for (Writer* w : writers) w->result = s;
      return;
    }
  }

  absl::Status status;
  SignedCheckpoint checkpoint;
  if (!group.appended.empty()) {
    absl::StatusOr<SignedCheckpoint> signed_checkpoint = Sign(group.range);
    status = signed_checkpoint.status();
    if (status.ok()) checkpoint = *std::move(signed_checkpoint);
  }
  if (status.ok() && !group.appended.empty()) {
    const uint64_t tree_size = group.range.size();
    for (Writer* writer : group.appended) {
      writer->result->tree_size = tree_size;
      storage::IdempotencyRecord record{
          writer->fingerprint, writer->result->first_seq,
          writer->result->entry_count, tree_size, group.append_time_micros};
      group.batch.Put(store_->handle(Family::kIdempotency),
                      storage::IdempotencyKey(writer->request->actor,
                                              writer->request->idempotency_key),
                      storage::EncodeIdempotencyRecord(record));
    }
    group.batch.Put(
        store_->handle(Family::kCheckpoints), storage::EncodeFixed64(tree_size),
        storage::EncodeCheckpointRecord(
            {checkpoint.checkpoint.root_hash, checkpoint.signature}));
    group.batch.Put(store_->handle(Family::kMeta), storage::kMetaTreeSize,
                    storage::EncodeFixed64(tree_size));
    group.index_puts.AddTo(store_->handle(Family::kIndex), &group.batch);
    status = store_->Write(&group.batch);
  }
  if (!status.ok()) {
    absl::MutexLock lock(&mu_);
    failed_ = status;
    for (Writer* writer : group.appended) {
      writer->result = absl::UnavailableError(
          absl::StrCat("the append was not made durable: ", status.message()));
    }
  } else if (!group.appended.empty()) {
    absl::MutexLock lock(&mu_);
    range_ = std::move(group.range);
    last_append_time_micros_ = group.append_time_micros;
    latest_ = std::move(checkpoint);
    size_.store(range_.size(), std::memory_order_release);
    grown_.SignalAll();
  }
  for (Writer* writer : writers) {
    if (writer->replay_of == nullptr) continue;
    writer->result = writer->replay_of->result;
    if (writer->result.ok()) writer->result->replayed = true;
  }
}

absl::StatusOr<std::vector<StoredEntry>> Ledger::Impl::ReadEntries(
    uint64_t begin_seq, uint64_t end_seq, size_t max) const {
  if (begin_seq > end_seq) {
    return absl::InvalidArgumentError(
        absl::StrCat("begin_seq ", begin_seq, " is after end_seq ", end_seq));
  }
  if (max == 0 || max > options_.read_entries_max) {
    max = options_.read_entries_max;
  }
  end_seq = std::min({end_seq, size(), begin_seq + max});
  std::vector<StoredEntry> entries;
  if (begin_seq >= end_seq) return entries;
  entries.reserve(end_seq - begin_seq);
  // A long range is read as one (Reads::kRange): catching up, reading a pay
  // period back.
  const bool scan = end_seq - begin_seq >= kScanEntriesMin;
  const auto iterator = [this, scan](Family family) {
    return store_->NewIterator(family, scan ? storage::Store::Reads::kRange
                                            : storage::Store::Reads::kFew);
  };
  std::unique_ptr<rocksdb::Iterator> it = iterator(Family::kEntries);
  uint64_t seq = begin_seq;
  for (it->Seek(storage::SeqKey(seq)); seq < end_seq; it->Next(), ++seq) {
    if (!it->Valid() || it->key() != storage::SeqKey(seq)) {
      if (absl::Status s = storage::FromRocksStatus(it->status(), "reading");
          !s.ok()) {
        return s;
      }
      return absl::DataLossError(
          absl::StrCat("entry ", seq, " is missing from the ledger"));
    }
    absl::StatusOr<StoredEntry> entry =
        ParseStoredEntry(seq, it->value().ToString());
    if (!entry.ok()) return entry.status();
    entries.push_back(*std::move(entry));
  }
  // An entry rewritten behind the ledger's back no longer matches its leaf.
  // Nodes are keyed by their last leaf, then level (storage::NodeKey), so
  // the range's leaves come in order along one pass over the nodes, each
  // followed by the nodes that end with it (at most one per level): a scan,
  // not a point read per leaf.
  std::unique_ptr<rocksdb::Iterator> nodes = iterator(Family::kNodes);
  nodes->Seek(storage::NodeKey({0, begin_seq}));
  for (size_t i = 0; i < entries.size(); ++i) {
    const uint64_t leaf_seq = begin_seq + i;
    const std::string leaf_key = storage::NodeKey({0, leaf_seq});
    // Between two leaves lie the nodes that end with the first: fewer than
    // the 64 levels a key can name.
    for (int skipped = 0; nodes->Valid() && nodes->key().compare(leaf_key) < 0;
         ++skipped) {
      if (skipped == kNodeLevelsMax) {
        return absl::DataLossError(absl::StrCat(
            "the ledger's Merkle nodes are malformed before entry ", leaf_seq));
      }
      nodes->Next();
    }
    if (!nodes->Valid() || nodes->key() != leaf_key) {
      if (absl::Status s = storage::FromRocksStatus(nodes->status(), "reading");
          !s.ok()) {
        return s;
      }
      return absl::DataLossError(absl::StrCat("the Merkle leaf of entry ",
                                              leaf_seq,
                                              " is missing from the ledger"));
    }
    const merkle::Hash leaf = merkle::HashLeaf(entries[i].bytes);
    if (nodes->value() != merkle::HashBytes(leaf)) {
      return absl::DataLossError(
          absl::StrCat("entry ", leaf_seq, " does not match its Merkle leaf"));
    }
    nodes->Next();
  }
  return entries;
}

absl::StatusOr<std::vector<StoredEntry>> Ledger::Impl::ReadEntriesAt(
    absl::Span<const uint64_t> seqs) const {
  if (seqs.size() > options_.read_entries_max) {
    return absl::InvalidArgumentError(
        absl::StrCat(seqs.size(), " entries asked at once; the limit is ",
                     options_.read_entries_max));
  }
  const uint64_t tree_size = size();
  for (const uint64_t seq : seqs) {
    if (seq >= tree_size) {
      return absl::OutOfRangeError(absl::StrCat(
          "seq ", seq, " is beyond the ledger's size ", tree_size));
    }
  }
  return ReadCheckedEntries(seqs, {});
}

absl::StatusOr<std::vector<StoredEntry>> Ledger::Impl::ReadCheckedEntries(
    absl::Span<const uint64_t> seqs,
    absl::Span<const std::optional<merkle::Hash>> leaves) const {
  assert(leaves.empty() || leaves.size() == seqs.size());
  std::vector<std::string> entry_keys;
  entry_keys.reserve(seqs.size());
  for (const uint64_t seq : seqs) entry_keys.push_back(storage::SeqKey(seq));
  absl::StatusOr<std::vector<std::string>> bytes =
      store_->MultiGet(Family::kEntries, entry_keys);
  if (absl::IsDataLoss(bytes.status())) {
    // Name the missing entry: the batched read says only which key.
    for (size_t i = 0; i < seqs.size(); ++i) {
      absl::StatusOr<std::optional<std::string>> one =
          store_->Get(Family::kEntries, entry_keys[i]);
      if (!one.ok()) return one.status();
      if (!one->has_value()) {
        return absl::DataLossError(
            absl::StrCat("entry ", seqs[i], " is missing from the ledger"));
      }
    }
  }
  if (!bytes.ok()) return bytes.status();
  // An entry rewritten behind the ledger's back no longer matches its leaf.
  // The leaves not given are read from the node family, in one batch.
  std::vector<merkle::Hash> expected(seqs.size());
  std::vector<size_t> unknown;
  std::vector<std::string> leaf_keys;
  for (size_t i = 0; i < seqs.size(); ++i) {
    if (!leaves.empty() && leaves[i].has_value()) {
      expected[i] = *leaves[i];
    } else {
      unknown.push_back(i);
      leaf_keys.push_back(storage::NodeKey({0, seqs[i]}));
    }
  }
  if (!leaf_keys.empty()) {
    absl::StatusOr<std::vector<std::string>> stored =
        store_->MultiGet(Family::kNodes, leaf_keys);
    if (!stored.ok()) return stored.status();
    for (size_t j = 0; j < unknown.size(); ++j) {
      absl::StatusOr<merkle::Hash> leaf = merkle::HashFromBytes((*stored)[j]);
      if (!leaf.ok()) {
        return absl::DataLossError(absl::StrCat(
            "the stored leaf of entry ", seqs[unknown[j]], " is malformed"));
      }
      expected[unknown[j]] = *leaf;
    }
  }
  std::vector<StoredEntry> entries;
  entries.reserve(seqs.size());
  for (size_t i = 0; i < seqs.size(); ++i) {
    if (merkle::HashLeaf((*bytes)[i]) != expected[i]) {
      return absl::DataLossError(
          absl::StrCat("entry ", seqs[i], " does not match its Merkle leaf"));
    }
    absl::StatusOr<StoredEntry> entry =
        ParseStoredEntry(seqs[i], std::move((*bytes)[i]));
    if (!entry.ok()) return entry.status();
    entries.push_back(*std::move(entry));
  }
  return entries;
}

uint64_t Ledger::Impl::WaitForGrowth(uint64_t known_size,
                                     absl::Time deadline) const {
  absl::MutexLock lock(&mu_);
  while (size() <= known_size && !closed_) {
    if (grown_.WaitWithDeadline(&mu_, deadline)) break;
  }
  return size();
}

absl::StatusOr<SignedCheckpoint> Ledger::Impl::CheckpointAt(
    uint64_t tree_size) const {
  absl::StatusOr<std::optional<std::string>> bytes =
      store_->Get(Family::kCheckpoints, storage::EncodeFixed64(tree_size));
  if (!bytes.ok()) return bytes.status();
  if (!bytes->has_value()) {
    return absl::NotFoundError(
        absl::StrCat("no checkpoint was signed at tree size ", tree_size));
  }
  absl::StatusOr<storage::CheckpointRecord> record =
      storage::DecodeCheckpointRecord(**bytes);
  if (!record.ok()) return record.status();
  SignedCheckpoint checkpoint;
  checkpoint.checkpoint = Checkpoint{origin_, tree_size, record->root_hash};
  checkpoint.body = CheckpointBody(checkpoint.checkpoint);
  checkpoint.signature = std::move(record->signature);
  if (absl::Status s =
          signer_->verifier().Verify(checkpoint.body, checkpoint.signature);
      !s.ok()) {
    return absl::DataLossError(absl::StrCat("stored checkpoint at tree size ",
                                            tree_size, ": ", s.message()));
  }
  return checkpoint;
}

absl::StatusOr<std::vector<merkle::Hash>> Ledger::Impl::NodeHashes(
    absl::Span<const merkle::NodeId> ids) const {
  std::vector<merkle::Hash> hashes(ids.size());
  // Positions in `ids` of the nodes to read.
  std::vector<size_t> unread;
  unread.reserve(ids.size());
  {
    absl::ReaderMutexLock lock(&node_cache_mu_);
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i].level >= kCachedNodeLevelMin) {
        auto it = node_cache_.find(CachedNodeKey(ids[i]));
        if (it != node_cache_.end()) {
          hashes[i] = it->second;
          continue;
        }
      }
      unread.push_back(i);
    }
  }
  if (unread.empty()) return hashes;
  std::vector<std::string> keys;
  keys.reserve(unread.size());
  for (const size_t i : unread) keys.push_back(storage::NodeKey(ids[i]));
  absl::StatusOr<std::vector<std::string>> values =
      store_->MultiGet(Family::kNodes, keys);
  if (!values.ok()) return values.status();
  bool cacheable = false;
  for (size_t k = 0; k < unread.size(); ++k) {
    absl::StatusOr<merkle::Hash> hash = merkle::HashFromBytes((*values)[k]);
    if (!hash.ok()) return absl::DataLossError("malformed stored node hash");
    hashes[unread[k]] = *hash;
    cacheable |= ids[unread[k]].level >= kCachedNodeLevelMin;
  }
  // Most proofs find every high node cached: they take no writer lock.
  if (!cacheable) return hashes;
  absl::MutexLock lock(&node_cache_mu_);
  for (const size_t i : unread) {
    if (ids[i].level < kCachedNodeLevelMin) continue;
    if (!CacheNodeLocked(CachedNodeKey(ids[i]), hashes[i])) break;
  }
  return hashes;
}

absl::StatusOr<std::vector<merkle::Hash>> Ledger::Impl::Proof(
    absl::StatusOr<std::vector<merkle::ProofElement>> plan) const {
  if (!plan.ok()) return plan.status();
  absl::StatusOr<std::vector<merkle::Hash>> hashes =
      NodeHashes(merkle::NodesOf(*plan));
  if (!hashes.ok()) return hashes.status();
  return merkle::AssembleProof(*plan, *hashes);
}

void Ledger::Impl::StartWarmingNodeCache() {
  const uint64_t tree_size = size();
  if (tree_size < (uint64_t{1} << kCachedNodeLevelMin) ||
      options_.node_cache_nodes_max == 0) {
    return;
  }
  warming_.store(true, std::memory_order_release);
  node_cache_warmer_ = std::thread([this, tree_size] {
    WarmNodeCache(tree_size);
    warming_.store(false, std::memory_order_release);
  });
}

void Ledger::Impl::WarmNodeCache(uint64_t tree_size) {
  // The lowest level whose nodes, with all those above, fit in the cache.
  const auto nodes_from = [tree_size](int level) {
    uint64_t nodes = 0;
    for (int l = level; l < 64; ++l) nodes += tree_size >> l;
    return nodes;
  };
  const size_t nodes_max = options_.node_cache_nodes_max;
  int level_min = kCachedNodeLevelMin;
  while (nodes_from(level_min) > nodes_max) ++level_min;
  // Level 63 holds at most one node, so a limit of at least one stops the
  // climb there.
  assert(nodes_max > 0 && level_min < 64);
  const uint64_t width = uint64_t{1} << level_min;

  // Nodes are keyed by last leaf, then level: those of one last leaf are
  // adjacent, so each subtree of `width` leaves costs one seek, which reads
  // the block that ends it. Nearly every block of the family is read, in
  // order, so they bypass the block cache.
  std::unique_ptr<rocksdb::Iterator> it =
      store_->NewIterator(Family::kNodes, storage::Store::Reads::kRange);
  constexpr size_t kBatchNodes = 4096;
  std::vector<std::pair<uint64_t, merkle::Hash>> batch;
  batch.reserve(kBatchNodes + 64);
  for (uint64_t end = width; end <= tree_size; end += width) {
    it->Seek(storage::NodeKey({level_min, end / width - 1}));
    for (int level = level_min;
         level < 64 && (end & ((uint64_t{1} << level) - 1)) == 0; ++level) {
      const merkle::NodeId id{level, (end >> level) - 1};
      if (!it->Valid() || it->key() != storage::NodeKey(id)) return;
      absl::StatusOr<merkle::Hash> hash =
          merkle::HashFromBytes(it->value().ToStringView());
      if (!hash.ok()) return;
      batch.emplace_back(CachedNodeKey(id), *hash);
      it->Next();
    }
    if (batch.size() < kBatchNodes && end + width <= tree_size) continue;
    if (stop_warming_.load(std::memory_order_relaxed)) return;
    absl::MutexLock lock(&node_cache_mu_);
    for (const auto& [key, hash] : batch) {
      if (!CacheNodeLocked(key, hash)) return;
    }
    batch.clear();
  }
}

absl::StatusOr<merkle::CompactRange> Ledger::Impl::RangeAt(
    uint64_t tree_size) const {
  absl::StatusOr<std::vector<merkle::Hash>> hashes =
      NodeHashes(merkle::CompactRange::NodeIdsForSize(tree_size));
  if (!hashes.ok()) return hashes.status();
  return merkle::CompactRange::FromNodes(tree_size, *std::move(hashes));
}

absl::StatusOr<merkle::Hash> Ledger::Impl::RootAt(uint64_t tree_size) const {
  if (tree_size > size()) {
    return absl::OutOfRangeError(absl::StrCat(
        "tree size ", tree_size, " is beyond the ledger's size ", size()));
  }
  absl::StatusOr<merkle::CompactRange> range = RangeAt(tree_size);
  if (!range.ok()) return range.status();
  return range->Root();
}

absl::StatusOr<uint64_t> Ledger::Impl::FindUnique(
    absl::string_view unique_key) const {
  if (absl::Status s = ValidateQueryKey(unique_key); !s.ok()) return s;
  absl::StatusOr<std::optional<std::string>> bytes =
      store_->Get(Family::kIndex, storage::UniqueIndexKey(unique_key));
  if (!bytes.ok()) return bytes.status();
  if (!bytes->has_value()) {
    return absl::NotFoundError(
        absl::StrCat("no entry holds \"", unique_key, "\""));
  }
  absl::StatusOr<uint64_t> seq = storage::DecodeFixed64(**bytes);
  if (!seq.ok() || *seq >= size()) {
    return absl::NotFoundError(
        absl::StrCat("no entry holds \"", unique_key, "\""));
  }
  return *seq;
}

absl::StatusOr<std::vector<uint64_t>> Ledger::Impl::FindByLookupKey(
    absl::string_view lookup_key, std::optional<uint64_t> after_seq,
    size_t max_results) const {
  std::vector<uint64_t> seqs;
  if (absl::Status s =
          ScanLookupIndex(lookup_key, after_seq, max_results, &seqs, nullptr);
      !s.ok()) {
    return s;
  }
  return seqs;
}

absl::StatusOr<std::vector<StoredEntry>> Ledger::Impl::ReadByLookupKey(
    absl::string_view lookup_key, std::optional<uint64_t> after_seq,
    size_t max_results) const {
  std::vector<uint64_t> seqs;
  std::vector<std::optional<merkle::Hash>> leaves;
  if (absl::Status s =
          ScanLookupIndex(lookup_key, after_seq, max_results, &seqs, &leaves);
      !s.ok()) {
    return s;
  }
  return ReadCheckedEntries(seqs, leaves);
}

absl::Status Ledger::Impl::ScanLookupIndex(
    absl::string_view lookup_key, std::optional<uint64_t> after_seq,
    size_t max_results, std::vector<uint64_t>* seqs,
    std::vector<std::optional<merkle::Hash>>* leaves) const {
  if (absl::Status s = ValidateQueryKey(lookup_key); !s.ok()) return s;
  if (max_results == 0 || max_results > options_.read_entries_max) {
    max_results = options_.read_entries_max;
  }
  if (after_seq.has_value() && *after_seq == UINT64_MAX) {
    return absl::OkStatus();
  }
  const std::string prefix = storage::LookupIndexPrefix(lookup_key);
  const std::string end = storage::LookupIndexEnd(lookup_key);
  const rocksdb::Slice upper_bound(end);
  const uint64_t committed = size();
  std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(
      Family::kIndex, storage::Store::Reads::kFew, &upper_bound);
  const uint64_t from_seq = after_seq.has_value() ? *after_seq + 1 : 0;
  for (it->Seek(storage::LookupIndexKey(lookup_key, from_seq));
       it->Valid() && it->key().starts_with(prefix) &&
       seqs->size() < max_results;
       it->Next()) {
    absl::StatusOr<uint64_t> seq = storage::DecodeFixed64(
        absl::string_view(it->key().data(), it->key().size())
            .substr(prefix.size()));
    if (!seq.ok()) return absl::DataLossError("malformed lookup index key");
    // Written with the entries, but visible a moment before the size is.
    if (*seq >= committed) break;
    seqs->push_back(*seq);
    if (leaves != nullptr) {
      absl::StatusOr<std::optional<merkle::Hash>> leaf =
          storage::DecodeLookupIndexValue(
              *seq, absl::string_view(it->value().data(), it->value().size()),
              lookup_leaves_from_);
      if (!leaf.ok()) return leaf.status();
      leaves->push_back(*leaf);
    }
  }
  return storage::FromRocksStatus(it->status(), "index scan");
}

// Ledger: the public face forwards to Impl.

absl::StatusOr<std::unique_ptr<Ledger>> Ledger::Open(LedgerOptions options) {
  if (options.data_dir.empty()) {
    return absl::InvalidArgumentError("data_dir must be set");
  }
  if (!options.origin.empty()) {
    if (absl::Status s = ValidateOrigin(options.origin); !s.ok()) return s;
  }
  // Entries record their place in a request in 32 bits.
  if (options.request_entries_max == 0 ||
      options.request_entries_max > UINT32_MAX ||
      options.pending_requests_max == 0 || options.read_entries_max == 0 ||
      options.group_bytes_max == 0 || options.request_bytes_max == 0) {
    return absl::InvalidArgumentError(
        "ledger limits must be positive, and request_entries_max at most "
        "2^32 - 1");
  }
  if (options.node_cache_nodes_max > kNodeCacheNodesLimit) {
    return absl::InvalidArgumentError(absl::StrCat(
        "node_cache_nodes_max must be at most ", kNodeCacheNodesLimit));
  }
  if (options.create_if_missing) {
    if (absl::Status s = MakeDirectory(options.data_dir); !s.ok()) return s;
  }
  storage::Store::Options store_options;
  store_options.path =
      absl::StrCat(options.data_dir, "/", storage::kDatabaseDirectory);
  store_options.mode = options.create_if_missing
                           ? storage::Store::Mode::kReadWriteCreate
                           : storage::Store::Mode::kReadWrite;
  store_options.block_cache_bytes = options.block_cache_bytes;
  store_options.write_buffer_bytes = options.write_buffer_bytes;
  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      storage::Store::Open(store_options);
  if (!store.ok()) return store.status();

  absl::StatusOr<std::optional<std::string>> stored_origin =
      (*store)->Get(Family::kMeta, storage::kMetaOrigin);
  if (!stored_origin.ok()) return stored_origin.status();
  absl::StatusOr<std::optional<std::string>> tree_size =
      (*store)->Get(Family::kMeta, storage::kMetaTreeSize);
  if (!tree_size.ok()) return tree_size.status();
  const bool initialized = tree_size->has_value();

  // A crash between making the key and the first write leaves a key, or
  // half a key pair, and an uninitialized database. Nothing was ever signed
  // with it (the first checkpoint is written with the tree size), so a
  // complete key is used and an incomplete one is made anew.
  absl::StatusOr<std::unique_ptr<CheckpointSigner>> signer =
      CheckpointSigner::LoadFromDirectory(options.data_dir);
  if (!initialized && (absl::IsNotFound(signer.status()) ||
                       absl::IsDataLoss(signer.status()))) {
    for (absl::string_view file : {CheckpointSigner::kPrivateKeyFile,
                                   CheckpointSigner::kPublicKeyFile}) {
      const std::string path = absl::StrCat(options.data_dir, "/", file);
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return absl::InternalError(absl::StrCat("cannot remove ", path));
      }
    }
    signer = CheckpointSigner::CreateInDirectory(options.data_dir);
  }
  if (!signer.ok()) {
    if (absl::IsNotFound(signer.status())) {
      return absl::DataLossError(absl::StrCat(
          "the ledger's signing key is missing: ", signer.status().message()));
    }
    return signer.status();
  }

  std::string origin;
  if (initialized) {
    absl::StatusOr<std::optional<std::string>> version =
        (*store)->Get(Family::kMeta, storage::kMetaFormatVersion);
    if (!version.ok()) return version.status();
    if (!version->has_value() ||
        (**version != storage::kFormatVersion &&
         **version != storage::kFormatVersionWithoutLookupLeaves)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "unsupported ledger format version \"", version->value_or("(none)"),
          "\"; this build reads ", storage::kFormatVersion, " and upgrades ",
          storage::kFormatVersionWithoutLookupLeaves));
    }
    if (!stored_origin->has_value()) {
      return absl::DataLossError("the ledger has no stored origin");
    }
    origin = **stored_origin;
    if (!options.origin.empty() && options.origin != origin) {
      return absl::FailedPreconditionError(absl::StrCat("origin \"",
                                                        options.origin,
                                                        "\" does not match the "
                                                        "ledger's origin \"",
                                                        origin, "\""));
    }
  } else if (!options.origin.empty()) {
    origin = options.origin;
  } else {
    // Unique per key, so two ledgers never sign the same origin.
    const merkle::Hash key_hash = merkle::HashLeaf((*signer)->public_key_pem());
    origin =
        absl::StrCat("premium-ledger/",
                     absl::BytesToHexString(absl::string_view(
                         reinterpret_cast<const char*>(key_hash.data()), 8)));
  }

  auto impl = std::make_unique<Impl>(std::move(options), *std::move(store),
                                     *std::move(signer), std::move(origin));
  if (absl::Status s = initialized ? impl->Load() : impl->Initialize();
      !s.ok()) {
    return s;
  }
  impl->StartWarmingNodeCache();
  return std::unique_ptr<Ledger>(new Ledger(std::move(impl)));
}

Ledger::Ledger(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Ledger::~Ledger() = default;

absl::StatusOr<AppendReceipt> Ledger::Append(const AppendRequest& request) {
  return impl_->Append(request);
}
absl::StatusOr<AppendReceipt> Ledger::AppendStreamed(
    absl::string_view actor, absl::string_view idempotency_key,
    uint64_t entry_count, EntrySource& source) {
  return impl_->AppendStreamed(actor, idempotency_key, entry_count, source);
}
void Ledger::Close() { impl_->Close(); }
uint64_t Ledger::size() const { return impl_->size(); }

absl::StatusOr<StoredEntry> Ledger::ReadEntry(uint64_t seq) const {
  if (seq >= size()) {
    return absl::OutOfRangeError(
        absl::StrCat("seq ", seq, " is beyond the ledger's size ", size()));
  }
  const uint64_t seqs[] = {seq};
  absl::StatusOr<std::vector<StoredEntry>> entries = impl_->ReadEntriesAt(seqs);
  if (!entries.ok()) return entries.status();
  assert(entries->size() == 1);
  return std::move(entries->front());
}

absl::StatusOr<std::vector<StoredEntry>> Ledger::ReadEntriesAt(
    absl::Span<const uint64_t> seqs) const {
  return impl_->ReadEntriesAt(seqs);
}

absl::StatusOr<std::vector<StoredEntry>> Ledger::ReadEntries(
    uint64_t begin_seq, uint64_t end_seq, size_t max_entries) const {
  return impl_->ReadEntries(begin_seq, end_seq, max_entries);
}

uint64_t Ledger::WaitForGrowth(uint64_t known_size, absl::Time deadline) const {
  return impl_->WaitForGrowth(known_size, deadline);
}

SignedCheckpoint Ledger::LatestCheckpoint() const {
  return impl_->LatestCheckpoint();
}

absl::StatusOr<SignedCheckpoint> Ledger::CheckpointAt(
    uint64_t tree_size) const {
  if (tree_size > size()) {
    return absl::OutOfRangeError(absl::StrCat(
        "tree size ", tree_size, " is beyond the ledger's size ", size()));
  }
  return impl_->CheckpointAt(tree_size);
}

const CheckpointVerifier& Ledger::verifier() const { return impl_->verifier(); }
const std::string& Ledger::origin() const { return impl_->origin(); }

absl::StatusOr<std::vector<merkle::Hash>> Ledger::InclusionProof(
    uint64_t leaf_index, uint64_t tree_size) const {
  if (tree_size > size()) {
    return absl::OutOfRangeError(absl::StrCat(
        "tree size ", tree_size, " is beyond the ledger's size ", size()));
  }
  return impl_->Proof(merkle::InclusionProofPlan(leaf_index, tree_size));
}

absl::StatusOr<std::vector<merkle::Hash>> Ledger::ConsistencyProof(
    uint64_t old_size, uint64_t new_size) const {
  if (new_size > size()) {
    return absl::OutOfRangeError(absl::StrCat(
        "tree size ", new_size, " is beyond the ledger's size ", size()));
  }
  return impl_->Proof(merkle::ConsistencyProofPlan(old_size, new_size));
}

absl::StatusOr<merkle::Hash> Ledger::RootAt(uint64_t tree_size) const {
  return impl_->RootAt(tree_size);
}

Ledger::NodeCache Ledger::node_cache() const { return impl_->node_cache(); }

absl::StatusOr<uint64_t> Ledger::FindUnique(
    absl::string_view unique_key) const {
  return impl_->FindUnique(unique_key);
}

absl::StatusOr<std::vector<uint64_t>> Ledger::FindByLookupKey(
    absl::string_view lookup_key, std::optional<uint64_t> after_seq,
    size_t max_results) const {
  return impl_->FindByLookupKey(lookup_key, after_seq, max_results);
}

absl::StatusOr<std::vector<StoredEntry>> Ledger::ReadByLookupKey(
    absl::string_view lookup_key, std::optional<uint64_t> after_seq,
    size_t max_results) const {
  return impl_->ReadByLookupKey(lookup_key, after_seq, max_results);
}

}  // namespace premium
