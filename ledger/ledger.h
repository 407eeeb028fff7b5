// Ledger: the append-only, tamper-evident log of the premium ledger.
//
// Entries get dense sequence numbers 0, 1, 2, ... and are never changed or
// deleted. Every entry is a leaf of an RFC 6962 Merkle tree; after each group
// of appends the ledger signs a checkpoint (checkpoint/checkpoint.h) of the
// new tree, so anyone holding the public key can check an entry's inclusion
// and that history was only ever appended to.
//
// Durability: Append returns only after its entries, their Merkle nodes, the
// new checkpoint and every derived record are in one RocksDB WriteBatch whose
// WAL was synced. Concurrent appends are grouped into one such write. A crash
// at any instant leaves each request either wholly in the ledger or not at
// all.
//
// Thread safety: every method may be called from any number of threads.
#ifndef PREMIUM_LEDGER_LEDGER_H_
#define PREMIUM_LEDGER_LEDGER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "ledger/checkpoint/checkpoint.h"
#include "ledger/merkle/hasher.h"
#include "wsr/premium/v1/entry.pb.h"

namespace premium {

// Input limits. Exceeding one is an error the caller sees, never a truncation.
inline constexpr size_t kActorLengthMax = 128;
inline constexpr size_t kIdempotencyKeyLengthMax = 128;
inline constexpr size_t kKindLengthMax = 128;
inline constexpr size_t kPayloadBytesMax = 64 * 1024;
inline constexpr size_t kDerivedKeyLengthMax = 256;
inline constexpr size_t kDerivedKeysPerEntryMax = 16;

// Secondary keys derived from an entry. They are derived state: a pure
// function of the entry, written in the same batch, checked by verification.
struct DerivedKeys {
  // No two entries of the ledger may share a unique key (a brand's invoice
  // id, say). An append that would reuse one fails with AlreadyExists.
  std::vector<std::string> unique_keys;
  // Any number of entries may share a lookup key (a party, a worker).
  std::vector<std::string> lookup_keys;
};

// Whether an indexer may derive `key`: 1 to kDerivedKeyLengthMax bytes
// without NUL (a NUL would let one lookup key's prefix match another's).
inline bool IsDerivableKey(absl::string_view key) {
  return !key.empty() && key.size() <= kDerivedKeyLengthMax &&
         key.find('\0') == absl::string_view::npos;
}

// Derives the keys of an entry. Implemented by the domain layer, which knows
// the payload types; the ledger only stores and checks what it returns.
class Indexer {
 public:
  virtual ~Indexer() = default;
  // Fills `keys` for `entry` (whose seq and append time are not yet set when
  // called for an append). A non-OK status refuses the append with it. Each
  // key is IsDerivableKey and listed once per entry; an append whose keys
  // break this fails with Internal, so an indexer refuses (InvalidArgument)
  // a payload whose fields cannot form its keys.
  virtual absl::Status Derive(const wsr::premium::v1::Entry& entry,
                              DerivedKeys* keys) const = 0;
};

struct LedgerOptions {
  // Directory of the RocksDB database and the signing key.
  std::string data_dir;
  // Creates the directory, the key and an empty ledger when absent. When
  // false, opening a directory without a ledger fails with NotFound.
  bool create_if_missing = false;
  // The checkpoint origin. Set once when the ledger is created (empty: a
  // name derived from the public key); on a later open, non-empty must match
  // the stored one (FailedPrecondition otherwise).
  std::string origin;
  // Not owned; must outlive the Ledger. Null: no derived keys.
  const Indexer* indexer = nullptr;
  // Source of append times. Tests inject a fake clock.
  std::function<absl::Time()> clock = [] { return absl::Now(); };

  // Limits of one request, checked before anything is appended.
  size_t request_entries_max = 100'000;
  size_t request_bytes_max = 64 << 20;
  // Limits of one streamed request (AppendStreamed), and the entries of
  // each unsynced batch it is written in.
  uint64_t streamed_entries_max = 20'000'000;
  uint64_t streamed_bytes_max = uint64_t{8} << 30;
  size_t streamed_batch_entries = 10'000;
  // Bytes of entries grouped into one synced write; a single request larger
  // than this is written alone.
  size_t group_bytes_max = 16 << 20;
  // Appends waiting for their turn; beyond it Append fails with
  // ResourceExhausted rather than queueing without bound.
  size_t pending_requests_max = 4096;
  // Entries returned by one ReadEntries call at most.
  size_t read_entries_max = 10'000;
  size_t block_cache_bytes = 64 << 20;
  // Memtables of all column families together; with the block cache and
  // the node cache, what bounds the ledger's memory.
  size_t write_buffer_bytes = 128 << 20;
  // Merkle nodes kept in memory for proofs (see InclusionProof), at most
  // 2^26; 0 keeps none. They live in a hash table of 41-byte slots, at most
  // 7/8 full: the default is the most that 2^20 slots hold (41 MiB), every
  // such node of a ledger of up to 117M entries; beyond, the highest levels.
  size_t node_cache_nodes_max = (size_t{1} << 20) / 8 * 7;
};

struct AppendEntry {
  // Fully qualified protobuf type name of the payload, [A-Za-z0-9_.]{1,128}.
  std::string kind;
  std::string payload;
};

struct AppendRequest {
  // Who asks: [A-Za-z0-9._:@-]{1,128}. Idempotency keys are scoped to it.
  std::string actor;
  // [A-Za-z0-9._:/=+-]{1,128}.
  std::string idempotency_key;
  std::vector<AppendEntry> entries;
};

// The entries of one streamed request, a batch at a time, in order.
class EntrySource {
 public:
  virtual ~EntrySource() = default;
  // The next entries, at most `max_entries`; none once every entry was
  // given. An error ends the append with it, and nothing is appended.
  virtual absl::StatusOr<std::vector<AppendEntry>> Next(size_t max_entries) = 0;
};

struct AppendReceipt {
  uint64_t first_seq = 0;
  uint64_t entry_count = 0;
  // Tree size after the group that appended the request.
  uint64_t tree_size = 0;
  int64_t append_time_micros = 0;
  // True when the request had been appended before and nothing was added.
  bool replayed = false;
};

struct StoredEntry {
  // Exactly the bytes hashed into the tree.
  std::string bytes;
  wsr::premium::v1::Entry entry;
};

struct SignedCheckpoint {
  Checkpoint checkpoint;
  // CheckpointBody(checkpoint) and its Ed25519 signature.
  std::string body;
  std::string signature;
};

class Ledger {
 public:
  // Opens (or creates, see LedgerOptions) the ledger in options.data_dir.
  // Startup reads O(log n) records: the tree is not replayed. The newest
  // checkpoint is checked against the stored tree and its signature; a
  // mismatch is DataLoss and the ledger refuses to open.
  static absl::StatusOr<std::unique_ptr<Ledger>> Open(LedgerOptions options);

  // Waits for appends in flight, then closes the database.
  ~Ledger();

  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  // Appends the request's entries atomically and durably (see above).
  //   InvalidArgument: a field breaks its format or limit (named), or the
  //     indexer refused an entry; nothing appended.
  //   AlreadyExists: the idempotency key was used by this actor for other
  //     entries, or a unique key is taken; nothing appended.
  //   ResourceExhausted: too many appends waiting, or the request is over a
  //     size limit.
  //   Unavailable: the ledger is closing, or a write failed (after which the
  //     ledger refuses appends until reopened, since the disk may be ahead
  //     of memory).
  // A retry of an appended request returns its receipt with replayed = true.
  absl::StatusOr<AppendReceipt> Append(const AppendRequest& request);

  // Appends one request too large to hold in memory (up to
  // streamed_entries_max entries of `source`), with Append's guarantees: it
  // becomes visible whole or not at all, durably, and a retry with the same
  // key and entries replays its receipt (the source is read to compare).
  // While it runs it has the ledger's write turn: other appends wait, so
  // the source should be local (a spooled file), not a network peer.
  //
  // Its entries are written beyond the committed tree in unsynced batches of
  // streamed_batch_entries, then committed with one synced write. A crash
  // before that leaves them beyond the committed size, marked as staged, and
  // the next Open removes them. `entry_count` is the number of entries the
  // source will yield (it is part of the request's fingerprint).
  // Errors as Append; InvalidArgument also when the source yields another
  // number of entries, and the source's own error when it fails.
  absl::StatusOr<AppendReceipt> AppendStreamed(
      absl::string_view actor, absl::string_view idempotency_key,
      uint64_t entry_count, EntrySource& source);

  // Stops accepting appends (Unavailable) and wakes every waiter. Appends in
  // flight finish. Idempotent.
  void Close();

  // Number of committed entries: the size of the newest signed tree.
  uint64_t size() const;

  // OutOfRange if seq >= size(); DataLoss if the stored bytes do not parse,
  // carry another seq, or do not match their stored leaf hash.
  absl::StatusOr<StoredEntry> ReadEntry(uint64_t seq) const;
  // Entries [begin_seq, min(end_seq, size())), at most `max_entries` (0: the
  // configured limit). InvalidArgument if begin_seq > end_seq.
  absl::StatusOr<std::vector<StoredEntry>> ReadEntries(
      uint64_t begin_seq, uint64_t end_seq, size_t max_entries) const;
  // The entries at `seqs`, in the order given, checked as ReadEntry checks
  // them: point reads batched, for records found through an index (a
  // worker's lines) that are scattered over the log. OutOfRange if a seq is
  // >= size(); InvalidArgument for more than read_entries_max seqs.
  absl::StatusOr<std::vector<StoredEntry>> ReadEntriesAt(
      absl::Span<const uint64_t> seqs) const;

  // Blocks until size() > known_size, the deadline passes or the ledger
  // closes; returns size() then.
  uint64_t WaitForGrowth(uint64_t known_size, absl::Time deadline) const;

  SignedCheckpoint LatestCheckpoint() const;
  // The checkpoint signed when the tree had `tree_size` entries. NotFound
  // when no group ended at that size.
  absl::StatusOr<SignedCheckpoint> CheckpointAt(uint64_t tree_size) const;
  const CheckpointVerifier& verifier() const;
  const std::string& origin() const;

  // The audit path of `leaf_index` in the tree of `tree_size` entries.
  // InvalidArgument unless leaf_index < tree_size; OutOfRange if tree_size >
  // size(). At most 8 reads, all within the 256 entries around the leaf,
  // once the nodes above are cached: the ledger keeps in memory the nodes of
  // subtrees of 256 entries or more, about one per 128 entries, at most
  // LedgerOptions::node_cache_nodes_max of them. Those of the tree
  // committed at Open are read on a thread of the ledger's own right after
  // it (see node_cache()); the later ones as proofs first read them.
  absl::StatusOr<std::vector<merkle::Hash>> InclusionProof(
      uint64_t leaf_index, uint64_t tree_size) const;
  // Proof that the tree of old_size is a prefix of the tree of new_size.
  // InvalidArgument unless old_size <= new_size; OutOfRange if new_size >
  // size(). O(log n) reads.
  absl::StatusOr<std::vector<merkle::Hash>> ConsistencyProof(
      uint64_t old_size, uint64_t new_size) const;
  // The root hash of the tree of `tree_size` entries (<= size()).
  absl::StatusOr<merkle::Hash> RootAt(uint64_t tree_size) const;

  struct NodeCache {
    // Nodes held in memory.
    uint64_t nodes = 0;
    // True while the nodes of the tree committed at Open are being read
    // (only the highest levels when they do not all fit). That reading
    // passes over the node records once, past the block cache, and ends
    // early if the ledger closes or a read fails (the proof that needs the
    // node then reads it, and reports the failure).
    bool warming = false;
  };
  NodeCache node_cache() const;

  // The entry that holds `unique_key`, or NotFound. InvalidArgument for a
  // key no indexer may derive (empty, over kDerivedKeyLengthMax, or with a
  // NUL).
  absl::StatusOr<uint64_t> FindUnique(absl::string_view unique_key) const;
  // Entries holding `lookup_key`, ascending, after `after_seq` (nullopt:
  // from the first), at most `max_results` (0, or more than
  // read_entries_max: read_entries_max). InvalidArgument as FindUnique.
  absl::StatusOr<std::vector<uint64_t>> FindByLookupKey(
      absl::string_view lookup_key, std::optional<uint64_t> after_seq,
      size_t max_results) const;
  // The entries FindByLookupKey finds, read as ReadEntriesAt reads them but
  // checked against the leaf hash each index record holds, which spares a
  // read of the node family per entry (format.h).
  absl::StatusOr<std::vector<StoredEntry>> ReadByLookupKey(
      absl::string_view lookup_key, std::optional<uint64_t> after_seq,
      size_t max_results) const;

 private:
  class Impl;
  explicit Ledger(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Checks the syntax and limits of a request without touching any ledger.
// The same check Append makes first.
absl::Status ValidateAppendRequest(const AppendRequest& request,
                                   const LedgerOptions& options);

}  // namespace premium

#endif  // PREMIUM_LEDGER_LEDGER_H_
