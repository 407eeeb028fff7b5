#include "ledger/verify.h"

#include <openssl/rand.h>

#include <array>
#include <atomic>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "ledger/checkpoint/checkpoint.h"
#include "ledger/merkle/compact_range.h"
#include "ledger/merkle/hasher.h"
#include "ledger/storage/format.h"
#include "ledger/storage/store.h"
#include "ledger/util/files.h"

namespace premium {
namespace {

using storage::Family;
using Reads = storage::Store::Reads;
using wsr::premium::v1::Entry;

constexpr size_t kPublicKeyFileBytesMax = 16 * 1024;

absl::Status BadSeq(VerifyReport* report, uint64_t seq,
                    absl::string_view what) {
  report->first_bad_seq = seq;
  return absl::DataLossError(absl::StrCat("seq ", seq, ": ", what));
}

// An order-independent digest of a set of index records: the sum, in two
// 64-bit lanes, of a keyed hash of each record. Two sets with equal digests
// and counts are equal but with probability about 2^-128, because the key
// is drawn at random for each verification and never leaves this process:
// whoever wrote the records could not aim at a sum.
class IndexDigest {
 public:
  // A key drawn at random; Internal if OpenSSL has no randomness to give.
  static absl::StatusOr<std::array<uint8_t, 32>> NewKey() {
    std::array<uint8_t, 32> key;
    if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
      return absl::InternalError("no randomness for the index digest");
    }
    return key;
  }

  explicit IndexDigest(const std::array<uint8_t, 32>& key)
      : prefix_(reinterpret_cast<const char*>(key.data()), key.size()) {}

  void Add(absl::string_view index_key, absl::string_view value) {
    // key || length of index_key || index_key || value: unambiguous.
    buffer_.assign(prefix_);
    const uint32_t length = static_cast<uint32_t>(index_key.size());
    buffer_.append(reinterpret_cast<const char*>(&length), sizeof(length));
    buffer_.append(index_key.data(), index_key.size());
    buffer_.append(value.data(), value.size());
    const merkle::Hash hash = merkle::HashLeaf(buffer_);
    uint64_t lanes[2];
    std::memcpy(lanes, hash.data(), sizeof(lanes));
    sum_[0] += lanes[0];
    sum_[1] += lanes[1];
  }

  bool operator==(const IndexDigest& other) const { return sum_ == other.sum_; }

 private:
  const std::string prefix_;
  std::string buffer_;
  std::array<uint64_t, 2> sum_ = {0, 0};
};

// The request whose entries the Verifier is walking. Outside the class
// because clang (14) does not see a nested struct with default member
// initializers as default-constructible inside its enclosing class, so
// std::optional<OpenRequest>::emplace() would not compile there.
struct OpenRequest {
  uint64_t first_seq = 0;
  uint32_t entry_count = 0;
  std::string actor;
  std::string idempotency_key;
  int64_t append_time_micros = 0;
  std::unique_ptr<storage::RequestFingerprinter> fingerprinter;
};

// What a scan of the stored records finds without the walk: RocksDB's
// checksums and how many records each family holds.
struct StoredRecords {
  explicit StoredRecords(const std::array<uint8_t, 32>& digest_key)
      : index_digest(digest_key) {}

  absl::Status checksums;
  // Of the counts below; not set if the checksums failed.
  absl::Status counts;
  uint64_t nodes = 0;
  uint64_t requests = 0;
  uint64_t index_records = 0;
  IndexDigest index_digest;
};

// Walks the ledger's records in order, once, and recomputes everything the
// stored records claim. One instance verifies one data directory.
class Verifier {
 public:
  Verifier(const VerifyOptions& options, VerifyReport* report)
      : options_(options), report_(report) {}

  absl::Status Run();

 private:
  absl::Status OpenStore();
  absl::Status ReadMeta();
  absl::Status CheckEntry(uint64_t seq, absl::string_view bytes);
  absl::Status CheckRequest(uint64_t seq, const Entry& entry);
  absl::Status CloseRequest(uint64_t last_seq);
  absl::Status CheckNode(const merkle::NodeId& id, const merkle::Hash& hash);
  absl::Status CheckCheckpointsUpTo(uint64_t tree_size);
  // The size of the next checkpoint the walk has not reached yet.
  std::optional<uint64_t> NextCheckpointSize() const;
  absl::Status WalkEntries();
  // Adds the entry's derived keys to expected_index_ or, in the exact pass,
  // queues them and checks the queue when it is full.
  absl::Status CheckDerivedKeys(uint64_t seq, const Entry& entry,
                                const merkle::Hash& leaf);
  // What a lookup index record of entry `seq` holds (format.h).
  std::string LookupIndexValue(uint64_t seq, const merkle::Hash& leaf) const {
    return seq < lookup_leaves_from_ ? std::string()
                                     : std::string(merkle::HashBytes(leaf));
  }
  // Checks every queued derived key in one batched read, reporting the
  // first bad one in ledger order.
  absl::Status FlushDerivedKeys();
  // The exact pass, run only once a fault is known: reads back every
  // derived key of the entries before `end_seq`, to name the first entry
  // whose index records are missing or wrong.
  absl::Status FindBadDerivedKey(uint64_t end_seq);
  // Everything up to the counts: the meta records, the checkpoints and the
  // walk of the log.
  absl::Status Walk();
  // Fills `stored`; run beside the walk, on the second core.
  void ScanStored(StoredRecords* stored) const;
  absl::Status CheckCounts(const StoredRecords& stored);
  // The number of records of `family`; of kIndex, their digest too.
  // Cancelled once the walk has failed.
  absl::StatusOr<uint64_t> CountRecords(Family family,
                                        IndexDigest* digest = nullptr) const;

  const VerifyOptions& options_;
  VerifyReport* report_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<CheckpointVerifier> verifier_;
  std::string origin_;
  uint64_t tree_size_ = 0;
  uint64_t lookup_leaves_from_ = 0;
  merkle::CompactRange range_;
  int64_t last_append_time_micros_ = 0;
  // The request whose entries are being walked.
  std::optional<OpenRequest> request_;
  // Node keys are in the order appends complete them (format.h), the order
  // CompactRange reports them: one sequential walk checks them all.
  std::unique_ptr<rocksdb::Iterator> nodes_;
  std::unique_ptr<rocksdb::Iterator> checkpoints_;
  uint64_t last_checkpoint_size_ = 0;
  uint64_t derived_keys_ = 0;
  // Derived keys read back one at a time, or even in batches, were most of
  // verification's time: the walk only adds them to a digest, compared
  // with that of the index records, which CheckCounts scans in order. The
  // exact pass reads them kDerivedKeysBatch at a time, in key order.
  std::array<uint8_t, 32> digest_key_ = {};
  std::optional<IndexDigest> expected_index_;
  bool exact_pass_ = false;
  struct QueuedKey {
    uint64_t seq = 0;
    bool unique = false;
    std::string key;        // as the indexer derived it, for messages
    std::string index_key;  // where the index stores it
    std::string value;      // what it must hold there
  };
  static constexpr size_t kDerivedKeysBatch = 16'384;
  std::vector<QueuedKey> queued_keys_;
  std::atomic<bool> walk_failed_{false};
};

absl::Status Verifier::OpenStore() {
  storage::Store::Options store_options;
  store_options.path =
      absl::StrCat(options_.data_dir, "/", storage::kDatabaseDirectory);
  store_options.mode = storage::Store::Mode::kReadOnly;
  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      storage::Store::Open(store_options);
  if (!store.ok()) return store.status();
  store_ = *std::move(store);
  absl::StatusOr<std::string> public_key_pem = ReadSmallFile(
      absl::StrCat(options_.data_dir, "/", CheckpointSigner::kPublicKeyFile),
      kPublicKeyFileBytesMax);
  if (!public_key_pem.ok()) {
    return absl::DataLossError(
        absl::StrCat("the ledger's public key is missing: ",
                     public_key_pem.status().message()));
  }
  absl::StatusOr<std::unique_ptr<CheckpointVerifier>> verifier =
      CheckpointVerifier::FromPublicKeyPem(*public_key_pem);
  if (!verifier.ok()) {
    return absl::DataLossError(
        absl::StrCat("the ledger's public key: ", verifier.status().message()));
  }
  verifier_ = *std::move(verifier);
  return absl::OkStatus();
}

absl::Status Verifier::ReadMeta() {
  absl::StatusOr<std::optional<std::string>> version =
      store_->Get(Family::kMeta, storage::kMetaFormatVersion);
  if (!version.ok()) return version.status();
  if (!version->has_value() ||
      (**version != storage::kFormatVersion &&
       **version != storage::kFormatVersionWithoutLookupLeaves)) {
    return absl::DataLossError("missing or unknown format version");
  }
  absl::StatusOr<std::optional<std::string>> origin =
      store_->Get(Family::kMeta, storage::kMetaOrigin);
  if (!origin.ok()) return origin.status();
  if (!origin->has_value() || !ValidateOrigin(**origin).ok()) {
    return absl::DataLossError("missing or malformed origin");
  }
  origin_ = **origin;
  absl::StatusOr<std::optional<std::string>> size =
      store_->Get(Family::kMeta, storage::kMetaTreeSize);
  if (!size.ok()) return size.status();
  absl::StatusOr<uint64_t> tree_size =
      size->has_value() ? storage::DecodeTreeSize(**size)
                        : absl::DataLossError("missing tree size");
  if (!tree_size.ok()) return tree_size.status();
  tree_size_ = *tree_size;
  report_->tree_size = tree_size_;
  // Format 1 (not yet upgraded by an Open) has no leaf in any lookup
  // record: as if they began past its last entry.
  lookup_leaves_from_ = tree_size_;
  if (**version == storage::kFormatVersion) {
    absl::StatusOr<std::optional<std::string>> from =
        store_->Get(Family::kMeta, storage::kMetaLookupLeavesFrom);
    if (!from.ok()) return from.status();
    absl::StatusOr<uint64_t> decoded =
        storage::DecodeLookupLeavesFrom(*from, tree_size_);
    if (!decoded.ok()) return decoded.status();
    lookup_leaves_from_ = *decoded;
  }
  absl::StatusOr<std::optional<std::string>> staged =
      store_->Get(Family::kMeta, storage::kMetaStagedFrom);
  if (!staged.ok()) return staged.status();
  if (staged->has_value()) {
    // Not tampering, but not checkable as it stands: the records past the
    // tree size were never committed, and opening the ledger removes them.
    return absl::FailedPreconditionError(absl::StrCat(
        "a streamed append was interrupted at tree size ", tree_size_,
        " and left uncommitted records past it; start premiumd on this "
        "directory once (it removes them), then verify again"));
  }
  return absl::OkStatus();
}

absl::Status Verifier::Run() {
  if (absl::Status s = OpenStore(); !s.ok()) return s;
  absl::StatusOr<std::array<uint8_t, 32>> key = IndexDigest::NewKey();
  if (!key.ok()) return key.status();
  digest_key_ = *key;
  // RocksDB's checksums and the counts read every family once more,
  // independently of the walk: on the second core they take no time of
  // their own (1.1M entries: 5.4 -> 3.5 s).
  StoredRecords stored(digest_key_);
  std::thread scan([this, &stored] { ScanStored(&stored); });
  const absl::Status walked = Walk();
  if (!walked.ok()) walk_failed_.store(true, std::memory_order_relaxed);
  scan.join();
  // A damaged block is the first fault, whatever the walk made of it.
  if (!stored.checksums.ok()) {
    *report_ = VerifyReport();
    return stored.checksums;
  }
  if (!walked.ok()) return walked;
  if (!stored.counts.ok()) return stored.counts;
  return CheckCounts(stored);
}

absl::Status Verifier::Walk() {
  if (absl::Status s = ReadMeta(); !s.ok()) return s;
  checkpoints_ = store_->NewIterator(Family::kCheckpoints, Reads::kWhole);
  checkpoints_->SeekToFirst();
  if (absl::Status s = CheckCheckpointsUpTo(0); !s.ok()) return s;
  if (report_->checkpoints_checked != 1) {
    return absl::DataLossError("no checkpoint for the empty tree");
  }
  expected_index_.emplace(digest_key_);
  const absl::Status walked = WalkEntries();
  if (!walked.ok()) {
    // A bad derived key of an entry before the walk's failure is the first
    // fault.
    const std::optional<uint64_t> failed_at = report_->first_bad_seq;
    if (absl::Status s = FindBadDerivedKey(failed_at.value_or(tree_size_));
        !s.ok()) {
      return s;
    }
    report_->first_bad_seq = failed_at;
    return walked;
  }
  return absl::OkStatus();
}

void Verifier::ScanStored(StoredRecords* stored) const {
  if (options_.check_block_checksums) {
    stored->checksums = store_->VerifyChecksums();
    if (!stored->checksums.ok()) return;
  }
  const struct {
    Family family;
    uint64_t* count;
  } families[] = {
      {Family::kNodes, &stored->nodes},
      {Family::kIdempotency, &stored->requests},
      {Family::kIndex, &stored->index_records},
  };
  for (const auto& family : families) {
    absl::StatusOr<uint64_t> count = CountRecords(
        family.family,
        family.family == Family::kIndex ? &stored->index_digest : nullptr);
    if (!count.ok()) {
      stored->counts = count.status();
      return;
    }
    *family.count = *count;
  }
}

absl::Status Verifier::FindBadDerivedKey(uint64_t end_seq) {
  if (options_.indexer == nullptr) return absl::OkStatus();
  exact_pass_ = true;
  const uint64_t derived_keys = derived_keys_;
  derived_keys_ = 0;
  std::unique_ptr<rocksdb::Iterator> it =
      store_->NewIterator(Family::kEntries, Reads::kWhole);
  uint64_t seq = 0;
  for (it->SeekToFirst(); it->Valid() && seq < end_seq; it->Next(), ++seq) {
    Entry entry;
    if (!entry.ParseFromArray(it->value().data(),
                              static_cast<int>(it->value().size())) ||
        entry.seq() != seq) {
      break;  // the walk reported it
    }
    const merkle::Hash leaf = merkle::HashLeaf(
        std::string_view(it->value().data(), it->value().size()));
    if (absl::Status s = CheckDerivedKeys(seq, entry, leaf); !s.ok()) return s;
  }
  if (absl::Status s = FlushDerivedKeys(); !s.ok()) return s;
  derived_keys_ = derived_keys;
  report_->derived_keys_checked = derived_keys_;
  return storage::FromRocksStatus(it->status(), "scan");
}

absl::Status Verifier::WalkEntries() {
  std::unique_ptr<rocksdb::Iterator> it =
      store_->NewIterator(Family::kEntries, Reads::kWhole);
  uint64_t seq = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++seq) {
    absl::StatusOr<uint64_t> key_seq = storage::DecodeFixed64(
        absl::string_view(it->key().data(), it->key().size()));
    if (!key_seq.ok()) return BadSeq(report_, seq, "malformed entry key");
    if (*key_seq != seq) {
      return BadSeq(
          report_, seq,
          absl::StrCat("entry is missing (the next stored is ", *key_seq, ")"));
    }
    if (seq >= tree_size_) {
      return BadSeq(report_, seq,
                    absl::StrCat("entry stored beyond the committed tree size ",
                                 tree_size_));
    }
    if (absl::Status s = CheckEntry(
            seq, absl::string_view(it->value().data(), it->value().size()));
        !s.ok()) {
      return s;
    }
    if (absl::Status s = CheckCheckpointsUpTo(seq + 1); !s.ok()) return s;
  }
  if (absl::Status s = storage::FromRocksStatus(it->status(), "scan");
      !s.ok()) {
    return s;
  }
  if (seq < tree_size_) {
    return BadSeq(report_, seq, "entry is missing (the log ends early)");
  }
  if (request_.has_value()) {
    return BadSeq(report_, request_->first_seq,
                  "the last request is incomplete");
  }
  if (checkpoints_->Valid()) {
    return absl::DataLossError(
        "a checkpoint is stored for a tree size the ledger never had");
  }
  if (report_->checkpoints_checked == 0 || range_.size() != tree_size_ ||
      last_checkpoint_size_ != tree_size_) {
    return absl::DataLossError("no checkpoint at the committed tree size");
  }
  return absl::OkStatus();
}

absl::Status Verifier::CheckEntry(uint64_t seq, absl::string_view bytes) {
  Entry entry;
  if (!entry.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return BadSeq(report_, seq, "entry does not parse");
  }
  if (entry.seq() != seq) {
    return BadSeq(report_, seq,
                  absl::StrCat("entry says it is seq ", entry.seq()));
  }
  if (entry.append_time_micros() < last_append_time_micros_) {
    return BadSeq(report_, seq, "append time goes back");
  }
  last_append_time_micros_ = entry.append_time_micros();
  // The tree first: a changed entry fails its own leaf here, whereas the
  // request check would blame the request's first entry.
  absl::Status node_status;
  const merkle::Hash leaf =
      merkle::HashLeaf(std::string_view(bytes.data(), bytes.size()));
  range_.Append(leaf, [&](merkle::NodeId id, const merkle::Hash& hash) {
    if (node_status.ok()) node_status = CheckNode(id, hash);
  });
  if (!node_status.ok()) return node_status;
  if (absl::Status s = CheckRequest(seq, entry); !s.ok()) return s;
  if (absl::Status s = CheckDerivedKeys(seq, entry, leaf); !s.ok()) return s;
  report_->entries_checked += 1;
  report_->entry_bytes += bytes.size();
  return absl::OkStatus();
}

absl::Status Verifier::CheckRequest(uint64_t seq, const Entry& entry) {
  if (entry.request_index() == 0) {
    if (request_.has_value()) {
      return BadSeq(report_, seq, "a request starts before the last ended");
    }
    if (entry.request_entry_count() == 0) {
      return BadSeq(report_, seq, "request_entry_count is 0");
    }
    request_.emplace();
    request_->first_seq = seq;
    request_->entry_count = entry.request_entry_count();
    request_->actor = entry.actor();
    request_->idempotency_key = entry.idempotency_key();
    request_->append_time_micros = entry.append_time_micros();
    request_->fingerprinter = std::make_unique<storage::RequestFingerprinter>(
        entry.actor(), entry.idempotency_key(), entry.request_entry_count());
  } else if (!request_.has_value() ||
             seq - request_->first_seq != entry.request_index() ||
             entry.request_entry_count() != request_->entry_count ||
             entry.actor() != request_->actor ||
             entry.idempotency_key() != request_->idempotency_key ||
             entry.append_time_micros() != request_->append_time_micros) {
    return BadSeq(report_, seq, "entry does not continue its request");
  }
  request_->fingerprinter->AddEntry(entry.kind(), entry.payload());
  if (entry.request_index() + 1 == request_->entry_count) {
    return CloseRequest(seq);
  }
  return absl::OkStatus();
}

absl::Status Verifier::CloseRequest(uint64_t last_seq) {
  const OpenRequest& request = *request_;
  absl::StatusOr<std::optional<std::string>> bytes = store_->Get(
      Family::kIdempotency,
      storage::IdempotencyKey(request.actor, request.idempotency_key));
  if (!bytes.ok()) return bytes.status();
  if (!bytes->has_value()) {
    return BadSeq(report_, request.first_seq,
                  "the request's idempotency record is missing");
  }
  absl::StatusOr<storage::IdempotencyRecord> record =
      storage::DecodeIdempotencyRecord(**bytes);
  if (!record.ok()) {
    return BadSeq(report_, request.first_seq, record.status().message());
  }
  if (record->fingerprint != request_->fingerprinter->Finish() ||
      record->first_seq != request.first_seq ||
      record->entry_count != request.entry_count ||
      record->tree_size <= last_seq || record->tree_size > tree_size_ ||
      record->append_time_micros != request.append_time_micros) {
    return BadSeq(report_, request.first_seq,
                  "the request does not match its idempotency record");
  }
  // One group committed the whole request and signed a checkpoint at its
  // end, the first one after the request's last entry (the checkpoint
  // iterator stands there now). The receipt's tree size must name it.
  const std::optional<uint64_t> group_end = NextCheckpointSize();
  if (!group_end.has_value() || *group_end != record->tree_size) {
    return BadSeq(
        report_, request.first_seq,
        absl::StrCat("the idempotency record says the request was committed "
                     "at tree size ",
                     record->tree_size, " but the next checkpoint is ",
                     group_end.has_value() ? absl::StrCat("at ", *group_end)
                                           : std::string("missing")));
  }
  report_->requests_checked += 1;
  request_.reset();
  return absl::OkStatus();
}

absl::Status Verifier::CheckNode(const merkle::NodeId& id,
                                 const merkle::Hash& hash) {
  const std::string key = storage::NodeKey(id);
  if (nodes_ == nullptr) {
    nodes_ = store_->NewIterator(Family::kNodes, Reads::kWhole);
    nodes_->SeekToFirst();
  }
  rocksdb::Iterator* it = nodes_.get();
  const uint64_t first_leaf = id.begin();
  if (!it->Valid() || it->key() != key) {
    return BadSeq(report_, first_leaf,
                  absl::StrCat("Merkle node ", id.ToString(),
                               " is missing from the stored tree"));
  }
  if (it->value() != merkle::HashBytes(hash)) {
    return BadSeq(report_, first_leaf,
                  id.level == 0
                      ? std::string("the entry does not match its stored leaf "
                                    "hash")
                      : absl::StrCat("stored Merkle node ", id.ToString(),
                                     " does not match the entries under it"));
  }
  it->Next();
  report_->nodes_checked += 1;
  return absl::OkStatus();
}

std::optional<uint64_t> Verifier::NextCheckpointSize() const {
  if (!checkpoints_->Valid()) return std::nullopt;
  absl::StatusOr<uint64_t> size = storage::DecodeFixed64(absl::string_view(
      checkpoints_->key().data(), checkpoints_->key().size()));
  if (!size.ok()) return std::nullopt;
  return *size;
}

absl::Status Verifier::CheckCheckpointsUpTo(uint64_t tree_size) {
  for (; checkpoints_->Valid(); checkpoints_->Next()) {
    absl::StatusOr<uint64_t> size = storage::DecodeFixed64(absl::string_view(
        checkpoints_->key().data(), checkpoints_->key().size()));
    if (!size.ok()) return absl::DataLossError("malformed checkpoint key");
    if (*size > tree_size) break;
    if (*size < tree_size) {
      return absl::DataLossError(
          absl::StrCat("checkpoint at tree size ", *size, " is out of order"));
    }
    absl::StatusOr<storage::CheckpointRecord> record =
        storage::DecodeCheckpointRecord(absl::string_view(
            checkpoints_->value().data(), checkpoints_->value().size()));
    if (!record.ok()) return record.status();
    const Checkpoint checkpoint{origin_, *size, record->root_hash};
    if (absl::Status s =
            verifier_->Verify(CheckpointBody(checkpoint), record->signature);
        !s.ok()) {
      return absl::DataLossError(
          absl::StrCat("checkpoint at tree size ", *size, ": ", s.message()));
    }
    if (record->root_hash != range_.Root()) {
      // The signature holds, so the entries changed under a checkpoint.
      const uint64_t first = *size == 0 ? 0 : *size - 1;
      return BadSeq(report_, first,
                    absl::StrCat("the entries no longer hash to the signed "
                                 "checkpoint at tree size ",
                                 *size));
    }
    report_->checkpoints_checked += 1;
    last_checkpoint_size_ = *size;
  }
  return storage::FromRocksStatus(checkpoints_->status(), "checkpoint scan");
}

absl::Status Verifier::CheckDerivedKeys(uint64_t seq, const Entry& entry,
                                        const merkle::Hash& leaf) {
  if (options_.indexer == nullptr) return absl::OkStatus();
  DerivedKeys keys;
  if (absl::Status s = options_.indexer->Derive(entry, &keys); !s.ok()) {
    return BadSeq(report_, seq,
                  absl::StrCat("the indexer refuses the entry: ", s.message()));
  }
  if (!exact_pass_) {
    const std::string seq_key = storage::SeqKey(seq);
    for (const std::string& key : keys.unique_keys) {
      expected_index_->Add(storage::UniqueIndexKey(key), seq_key);
    }
    for (const std::string& key : keys.lookup_keys) {
      expected_index_->Add(storage::LookupIndexKey(key, seq),
                           LookupIndexValue(seq, leaf));
    }
    derived_keys_ += keys.unique_keys.size() + keys.lookup_keys.size();
    report_->derived_keys_checked = derived_keys_;
    return absl::OkStatus();
  }
  for (std::string& key : keys.unique_keys) {
    std::string index_key = storage::UniqueIndexKey(key);
    queued_keys_.push_back({seq, true, std::move(key), std::move(index_key),
                            storage::SeqKey(seq)});
  }
  for (std::string& key : keys.lookup_keys) {
    std::string index_key = storage::LookupIndexKey(key, seq);
    queued_keys_.push_back({seq, false, std::move(key), std::move(index_key),
                            LookupIndexValue(seq, leaf)});
  }
  if (queued_keys_.size() < kDerivedKeysBatch) return absl::OkStatus();
  return FlushDerivedKeys();
}

absl::Status Verifier::FlushDerivedKeys() {
  if (queued_keys_.empty()) return absl::OkStatus();
  std::vector<std::string> index_keys;
  index_keys.reserve(queued_keys_.size());
  for (const QueuedKey& queued : queued_keys_) {
    index_keys.push_back(queued.index_key);
  }
  absl::StatusOr<std::vector<std::optional<std::string>>> values =
      store_->MultiGetIfPresent(Family::kIndex, index_keys);
  if (!values.ok()) return values.status();
  // Queued in ledger order: the first bad one is the first fault.
  for (size_t i = 0; i < queued_keys_.size(); ++i) {
    const QueuedKey& queued = queued_keys_[i];
    const std::optional<std::string>& value = (*values)[i];
    if (value.has_value() && *value == queued.value) continue;
    return BadSeq(
        report_, queued.seq,
        queued.unique
            ? absl::StrCat("unique key \"", queued.key,
                           "\" is missing or names another entry")
            : absl::StrCat("lookup key \"", queued.key,
                           "\" is missing or does not hold the entry's leaf "
                           "hash"));
  }
  derived_keys_ += queued_keys_.size();
  report_->derived_keys_checked = derived_keys_;
  queued_keys_.clear();
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Verifier::CountRecords(Family family,
                                                IndexDigest* digest) const {
  std::unique_ptr<rocksdb::Iterator> it =
      store_->NewIterator(family, Reads::kWhole);
  uint64_t count = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (walk_failed_.load(std::memory_order_relaxed)) {
      return absl::CancelledError("the walk failed");
    }
    ++count;
    if (digest != nullptr) {
      digest->Add(absl::string_view(it->key().data(), it->key().size()),
                  absl::string_view(it->value().data(), it->value().size()));
    }
  }
  if (absl::Status s = storage::FromRocksStatus(it->status(), "count");
      !s.ok()) {
    return s;
  }
  return count;
}

// Every expected node and idempotency record was found by the walk; equal
// counts mean nothing extra is stored either. The index records must be
// exactly the derived keys: equal counts and digests.
absl::Status Verifier::CheckCounts(const StoredRecords& stored) {
  const struct {
    uint64_t stored;
    uint64_t expected;
    absl::string_view what;
    bool index;
  } expectations[] = {
      {stored.nodes, report_->nodes_checked, "Merkle nodes", false},
      {stored.requests, report_->requests_checked, "idempotency records",
       false},
      {stored.index_records, derived_keys_, "derived keys", true},
  };
  for (const auto& expectation : expectations) {
    const bool counts_differ = expectation.stored != expectation.expected;
    const bool index_differs =
        expectation.index &&
        (counts_differ || !(stored.index_digest == *expected_index_));
    if (index_differs) {
      // Name the first entry whose index records are missing or wrong, if
      // one is; otherwise records no entry derives were added.
      if (absl::Status s = FindBadDerivedKey(tree_size_); !s.ok()) return s;
    }
    if (counts_differ) {
      return absl::DataLossError(absl::StrCat(
          expectation.stored, " ", expectation.what, " are stored where the ",
          "log accounts for ", expectation.expected));
    }
    if (index_differs) {
      return absl::DataLossError(
          "the stored derived keys differ from those the log accounts for");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status VerifyLedger(const VerifyOptions& options, VerifyReport* report) {
  VerifyReport scratch;
  if (report == nullptr) report = &scratch;
  *report = VerifyReport();
  return Verifier(options, report).Run();
}

}  // namespace premium
