#include "ledger/storage/format.h"

#include <cassert>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "ledger/checkpoint/checkpoint.h"

namespace premium::storage {
namespace {

void AppendFixed64(std::string* out, uint64_t value) {
  char bytes[8];
  for (int i = 7; i >= 0; --i) {
    bytes[i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  out->append(bytes, sizeof(bytes));
}

uint64_t ReadFixed64(const char* bytes) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) {
    value = (value << 8) | static_cast<uint8_t>(bytes[i]);
  }
  return value;
}

merkle::Hash ReadHash(const char* bytes) {
  merkle::Hash hash;
  std::memcpy(hash.data(), bytes, hash.size());
  return hash;
}

void AppendHash(std::string* out, const merkle::Hash& hash) {
  out->append(merkle::HashBytes(hash));
}

}  // namespace

RequestFingerprinter::RequestFingerprinter(absl::string_view actor,
                                           absl::string_view idempotency_key,
                                           uint64_t entry_count) {
  Add(actor);
  Add(idempotency_key);
  Add(EncodeFixed64(entry_count));
}

void RequestFingerprinter::Add(absl::string_view field) {
  stream_.Update(EncodeFixed64(field.size()));
  stream_.Update(std::string_view(field.data(), field.size()));
}

void RequestFingerprinter::AddEntry(absl::string_view kind,
                                    absl::string_view payload) {
  Add(kind);
  Add(payload);
}

merkle::Hash RequestFingerprinter::Finish() { return stream_.Finish(); }

std::string EncodeFixed64(uint64_t value) {
  std::string out;
  AppendFixed64(&out, value);
  return out;
}

absl::StatusOr<uint64_t> DecodeFixed64(absl::string_view bytes) {
  if (bytes.size() != 8) {
    return absl::InvalidArgumentError(
        absl::StrCat("fixed64 must be 8 bytes, got ", bytes.size()));
  }
  return ReadFixed64(bytes.data());
}

absl::StatusOr<uint64_t> DecodeTreeSize(absl::string_view bytes) {
  absl::StatusOr<uint64_t> size = DecodeFixed64(bytes);
  if (!size.ok() || *size > merkle::kMaxTreeSize) {
    return absl::DataLossError("malformed stored tree size");
  }
  return size;
}

std::string SeqKey(uint64_t seq) { return EncodeFixed64(seq); }

std::string NodeKey(const merkle::NodeId& id) {
  assert(id.level >= 0 && id.level < 64);
  std::string key;
  AppendFixed64(&key, id.end() - 1);
  key.push_back(static_cast<char>(id.level));
  return key;
}

absl::StatusOr<merkle::NodeId> DecodeNodeKey(absl::string_view key) {
  if (key.size() != 9 || static_cast<uint8_t>(key[8]) > 63) {
    return absl::InvalidArgumentError("malformed node key");
  }
  const uint64_t last_leaf = ReadFixed64(key.data());
  const int level = static_cast<uint8_t>(key[8]);
  // The node's leaves end at last_leaf, so last_leaf + 1 is a multiple of
  // its width.
  const uint64_t end = last_leaf + 1;
  if (end == 0 || (end & ((uint64_t{1} << level) - 1)) != 0) {
    return absl::InvalidArgumentError("malformed node key");
  }
  return merkle::NodeId{level, (end >> level) - 1};
}

std::string IdempotencyKey(absl::string_view actor,
                           absl::string_view idempotency_key) {
  return absl::StrCat(actor, absl::string_view("\0", 1), idempotency_key);
}

std::string UniqueIndexKey(absl::string_view unique_key) {
  return absl::StrCat(absl::string_view(&kUniqueKeyTag, 1), unique_key);
}

std::string LookupIndexPrefix(absl::string_view lookup_key) {
  return absl::StrCat(absl::string_view(&kLookupKeyTag, 1), lookup_key,
                      absl::string_view("\0", 1));
}

std::string LookupIndexEnd(absl::string_view lookup_key) {
  // Lookup keys hold no zero byte (ValidateQueryKey), so no other key's
  // records fall between the prefix's "\0" and this "\1".
  return absl::StrCat(absl::string_view(&kLookupKeyTag, 1), lookup_key,
                      absl::string_view("\1", 1));
}

std::string LookupIndexKey(absl::string_view lookup_key, uint64_t seq) {
  std::string key = LookupIndexPrefix(lookup_key);
  AppendFixed64(&key, seq);
  return key;
}

absl::StatusOr<uint64_t> DecodeLookupLeavesFrom(
    const std::optional<std::string>& stored, uint64_t tree_size) {
  if (!stored.has_value()) {
    return absl::DataLossError("the ledger has no stored lookup_leaves_from");
  }
  absl::StatusOr<uint64_t> from = DecodeFixed64(*stored);
  if (!from.ok() || *from > tree_size) {
    return absl::DataLossError(absl::StrCat(
        "the stored lookup_leaves_from is malformed or beyond the tree size ",
        tree_size));
  }
  return *from;
}

absl::StatusOr<std::optional<merkle::Hash>> DecodeLookupIndexValue(
    uint64_t seq, absl::string_view value, uint64_t leaves_from) {
  if (value.empty() && seq < leaves_from) return std::nullopt;
  absl::StatusOr<merkle::Hash> leaf =
      merkle::HashFromBytes(std::string_view(value.data(), value.size()));
  if (!leaf.ok()) {
    return absl::DataLossError(
        absl::StrCat("the lookup index record of entry ", seq, " holds ",
                     value.size(), " bytes, not its 32-byte leaf hash"));
  }
  return *leaf;
}

std::string EncodeIdempotencyRecord(const IdempotencyRecord& record) {
  std::string out;
  out.reserve(kIdempotencyRecordBytes);
  AppendHash(&out, record.fingerprint);
  AppendFixed64(&out, record.first_seq);
  AppendFixed64(&out, record.entry_count);
  AppendFixed64(&out, record.tree_size);
  AppendFixed64(&out, static_cast<uint64_t>(record.append_time_micros));
  return out;
}

absl::StatusOr<IdempotencyRecord> DecodeIdempotencyRecord(
    absl::string_view bytes) {
  if (bytes.size() != kIdempotencyRecordBytes) {
    return absl::DataLossError(absl::StrCat("idempotency record must be ",
                                            kIdempotencyRecordBytes,
                                            " bytes, got ", bytes.size()));
  }
  IdempotencyRecord record;
  record.fingerprint = ReadHash(bytes.data());
  record.first_seq = ReadFixed64(bytes.data() + 32);
  record.entry_count = ReadFixed64(bytes.data() + 40);
  record.tree_size = ReadFixed64(bytes.data() + 48);
  record.append_time_micros =
      static_cast<int64_t>(ReadFixed64(bytes.data() + 56));
  return record;
}

std::string EncodeCheckpointRecord(const CheckpointRecord& record) {
  std::string out;
  AppendHash(&out, record.root_hash);
  out.append(record.signature);
  return out;
}

absl::StatusOr<CheckpointRecord> DecodeCheckpointRecord(
    absl::string_view bytes) {
  if (bytes.size() != 32 + kEd25519SignatureBytes) {
    return absl::DataLossError(absl::StrCat("checkpoint record must be ",
                                            32 + kEd25519SignatureBytes,
                                            " bytes, got ", bytes.size()));
  }
  CheckpointRecord record;
  record.root_hash = ReadHash(bytes.data());
  record.signature = std::string(bytes.substr(32));
  return record;
}

}  // namespace premium::storage
