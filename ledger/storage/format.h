// The persistent format of the ledger in RocksDB. Everything here is part of
// the on-disk format: changing a name, a key layout or a value layout needs a
// new kFormatVersion and a migration.
//
// Column families and their records (all integers big-endian, so that the
// byte order of keys is their numeric order):
//
//   "default"      meta records, keyed by name:
//                    "format_version" -> decimal text, kFormatVersion
//                    "origin"         -> the checkpoint origin, set once
//                    "tree_size"      -> fixed64 committed tree size N
//                    "lookup_leaves_from" -> fixed64 seq S: lookup index
//                                        records of entries from S on hold
//                                        their entry's leaf hash (below)
//                  Entries with seq >= N must not exist: N is written in the
//                  same WriteBatch as the entries it covers.
//   "entries"      fixed64 seq -> the serialized wsr.premium.v1.Entry, exactly
//                  the bytes hashed into the Merkle leaf.
//   "nodes"        fixed64 last leaf || uint8 level -> 32-byte hash of the
//                  perfect subtree at `level` covering leaves
//                  [index << level, (index+1) << level), whose last leaf is
//                  ((index+1) << level) - 1. Keyed by the leaf that completes
//                  the node, so keys grow with the log: new nodes are always
//                  written past every older one (RocksDB files never overlap
//                  and compaction is a move), and the nodes of one append sit
//                  together, leaf first. Level 0 holds the leaf hashes. A tree
//                  of size N holds exactly 2N - popcount(N) nodes.
//   "checkpoints"  fixed64 tree_size -> root hash (32) || Ed25519 signature
//                  (64) over CheckpointBody(origin, tree_size, root). One per
//                  committed group of appends, and one for the empty tree.
//   "idempotency"  actor || 0x00 || idempotency key -> IdempotencyRecord:
//                    request fingerprint (32) || fixed64 first_seq ||
//                    fixed64 entry_count || fixed64 tree_size ||
//                    fixed64 append_time_micros (two's complement)
//   "index"        derived keys, written in the batch of the entry that
//                  derives them:
//                    'u' || unique key -> fixed64 seq
//                    'l' || lookup key || 0x00 || fixed64 seq -> the
//                         32-byte leaf hash of entry seq, so that reading a
//                         worker's entries checks each against its leaf
//                         without reading a 32 KiB node block per entry
//                         (README, Lookups); empty for
//                         entries before "lookup_leaves_from", written by
//                         format 1.
//
// Format 1 had no "lookup_leaves_from" and empty lookup records. Opening it
// for writing upgrades it in place to format 2 with "lookup_leaves_from" at
// its tree size: older records keep their empty values and are checked
// against the node family.
#ifndef PREMIUM_LEDGER_STORAGE_FORMAT_H_
#define PREMIUM_LEDGER_STORAGE_FORMAT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ledger/merkle/compact_range.h"
#include "ledger/merkle/hasher.h"

namespace premium::storage {

inline constexpr char kFormatVersion[] = "2";
// The one older format this build reads: Ledger::Open upgrades it.
inline constexpr char kFormatVersionWithoutLookupLeaves[] = "1";

// The RocksDB database lives in this directory of the ledger's data
// directory, beside the signing key files.
inline constexpr char kDatabaseDirectory[] = "db";

inline constexpr char kEntriesFamily[] = "entries";
inline constexpr char kNodesFamily[] = "nodes";
inline constexpr char kCheckpointsFamily[] = "checkpoints";
inline constexpr char kIdempotencyFamily[] = "idempotency";
inline constexpr char kIndexFamily[] = "index";

inline constexpr char kMetaFormatVersion[] = "format_version";
inline constexpr char kMetaOrigin[] = "origin";
inline constexpr char kMetaTreeSize[] = "tree_size";
inline constexpr char kMetaLookupLeavesFrom[] = "lookup_leaves_from";
// Present while a streamed append writes beyond the committed tree: the
// tree size it started from (fixed64). Entries, nodes and derived keys past
// that size are then staged, not corrupt, and Open removes them.
inline constexpr char kMetaStagedFrom[] = "staged_from";

inline constexpr char kUniqueKeyTag = 'u';
inline constexpr char kLookupKeyTag = 'l';

// The fingerprint of an append request, kept in its IdempotencyRecord so that
// a retry can be told from a different request reusing the key: SHA-256 over
// the length-prefixed (fixed64) actor, idempotency key and entry count, then
// each entry's kind and payload, in order.
class RequestFingerprinter {
 public:
  RequestFingerprinter(absl::string_view actor,
                       absl::string_view idempotency_key, uint64_t entry_count);
  RequestFingerprinter(const RequestFingerprinter&) = delete;
  RequestFingerprinter& operator=(const RequestFingerprinter&) = delete;

  void AddEntry(absl::string_view kind, absl::string_view payload);
  merkle::Hash Finish();

 private:
  void Add(absl::string_view field);
  merkle::Sha256Stream stream_;
};

std::string EncodeFixed64(uint64_t value);
// InvalidArgument unless `bytes` is exactly 8 bytes.
absl::StatusOr<uint64_t> DecodeFixed64(absl::string_view bytes);
// A stored tree size (kMetaTreeSize): DecodeFixed64, and DataLoss beyond
// merkle::kMaxTreeSize, which no ledger reaches but a damaged value can.
absl::StatusOr<uint64_t> DecodeTreeSize(absl::string_view bytes);
// The stored kMetaLookupLeavesFrom of a format-2 ledger of `tree_size`
// entries: DataLoss if it is missing, malformed or beyond the tree.
absl::StatusOr<uint64_t> DecodeLookupLeavesFrom(
    const std::optional<std::string>& stored, uint64_t tree_size);

std::string SeqKey(uint64_t seq);
std::string NodeKey(const merkle::NodeId& id);
absl::StatusOr<merkle::NodeId> DecodeNodeKey(absl::string_view key);

std::string IdempotencyKey(absl::string_view actor,
                           absl::string_view idempotency_key);
std::string UniqueIndexKey(absl::string_view unique_key);
std::string LookupIndexPrefix(absl::string_view lookup_key);
// The least key after every record of `lookup_key` (an iterator's bound).
std::string LookupIndexEnd(absl::string_view lookup_key);
std::string LookupIndexKey(absl::string_view lookup_key, uint64_t seq);
// The leaf hash a lookup index record of entry `seq` holds: nullopt for an
// empty record before `leaves_from` (format 1); DataLoss for an empty one
// from it on, or a value of another size.
absl::StatusOr<std::optional<merkle::Hash>> DecodeLookupIndexValue(
    uint64_t seq, absl::string_view value, uint64_t leaves_from);

struct IdempotencyRecord {
  merkle::Hash fingerprint{};
  uint64_t first_seq = 0;
  uint64_t entry_count = 0;
  uint64_t tree_size = 0;
  int64_t append_time_micros = 0;
};
inline constexpr size_t kIdempotencyRecordBytes = 32 + 4 * 8;
std::string EncodeIdempotencyRecord(const IdempotencyRecord& record);
absl::StatusOr<IdempotencyRecord> DecodeIdempotencyRecord(
    absl::string_view bytes);

struct CheckpointRecord {
  merkle::Hash root_hash{};
  std::string signature;
};
std::string EncodeCheckpointRecord(const CheckpointRecord& record);
absl::StatusOr<CheckpointRecord> DecodeCheckpointRecord(
    absl::string_view bytes);

}  // namespace premium::storage

#endif  // PREMIUM_LEDGER_STORAGE_FORMAT_H_
