#include "ledger/storage/format.h"

#include <openssl/evp.h>

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/checkpoint/checkpoint.h"
#include "ledger/merkle/compact_range.h"
#include "ledger/merkle/hasher.h"
#include "ledger/testing/ledger_testing.h"
#include "rocksdb/comparator.h"

namespace premium::storage {
namespace {

using ::premium::testing::IsOk;
using ::premium::testing::StatusIs;

// RocksDB's default key order, which the format relies on.
int CompareKeys(const std::string& a, const std::string& b) {
  return rocksdb::BytewiseComparator()->Compare(a, b);
}

std::vector<uint64_t> InterestingNumbers() {
  std::vector<uint64_t> numbers = {0,
                                   1,
                                   2,
                                   127,
                                   128,
                                   255,
                                   256,
                                   65535,
                                   65536,
                                   UINT32_MAX,
                                   uint64_t{UINT32_MAX} + 1,
                                   INT64_MAX,
                                   uint64_t{INT64_MAX} + 1,
                                   UINT64_MAX - 1,
                                   UINT64_MAX};
  std::mt19937_64 random(7);
  for (int i = 0; i < 200; ++i) numbers.push_back(random() >> (random() % 64));
  return numbers;
}

merkle::Hash HashOf(absl::string_view text) {
  return merkle::HashLeaf(std::string_view(text.data(), text.size()));
}

// --- fixed64 -----------------------------------------------------------------

TEST(Fixed64Test, IsBigEndian) {
  EXPECT_EQ(EncodeFixed64(0x0102030405060708),
            std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  EXPECT_EQ(EncodeFixed64(0), std::string(8, '\0'));
  EXPECT_EQ(EncodeFixed64(UINT64_MAX), std::string(8, '\xff'));
  EXPECT_EQ(SeqKey(0x0102030405060708), EncodeFixed64(0x0102030405060708));
}

TEST(Fixed64Test, ByteOrderIsNumericOrder) {
  const std::vector<uint64_t> numbers = InterestingNumbers();
  for (const uint64_t a : numbers) {
    for (const uint64_t b : numbers) {
      const int order = CompareKeys(EncodeFixed64(a), EncodeFixed64(b));
      EXPECT_EQ(order < 0, a < b) << a << " vs " << b;
      EXPECT_EQ(order == 0, a == b) << a << " vs " << b;
    }
  }
}

TEST(Fixed64Test, RoundTrips) {
  for (const uint64_t value : InterestingNumbers()) {
    const std::string bytes = EncodeFixed64(value);
    ASSERT_EQ(bytes.size(), 8u);
    absl::StatusOr<uint64_t> decoded = DecodeFixed64(bytes);
    ASSERT_THAT(decoded, IsOk());
    EXPECT_EQ(*decoded, value);
  }
}

TEST(Fixed64Test, DecodeRefusesOtherLengths) {
  for (const size_t length : {0, 1, 7, 9, 16}) {
    EXPECT_THAT(DecodeFixed64(std::string(length, '\x01')),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << length;
  }
}

// --- Node keys -------------------------------------------------------------

TEST(NodeKeyTest, IsBigEndianLastLeafThenLevel) {
  // Level 3, index 0x0102 covers leaves 0x810..0x817.
  EXPECT_EQ(NodeKey({3, 0x0102}), std::string("\0\0\0\0\0\0\x08\x17\x03", 9));
  EXPECT_EQ(NodeKey({0, 0}), std::string(9, '\0'));
}

TEST(NodeKeyTest, RoundTrips) {
  // Nodes of trees up to 2^63 leaves: (index + 1) << level fits in 64 bits.
  for (int level : {0, 1, 5, 40}) {
    for (uint64_t index : {uint64_t{0}, uint64_t{1}, uint64_t{12345}}) {
      const merkle::NodeId id{level, index};
      const std::string key = NodeKey(id);
      absl::StatusOr<merkle::NodeId> decoded = DecodeNodeKey(key);
      ASSERT_TRUE(decoded.ok()) << decoded.status();
      EXPECT_EQ(*decoded, id);
    }
  }
}

// Keys grow in the order appends complete nodes, which is the order
// CompactRange reports them: later nodes never sort before earlier ones.
TEST(NodeKeyTest, OrderIsTheOrderAppendsCompleteNodes) {
  merkle::CompactRange range;
  std::string previous;
  for (uint64_t leaf = 0; leaf < 1000; ++leaf) {
    range.Append(merkle::HashLeaf(std::to_string(leaf)),
                 [&](merkle::NodeId id, const merkle::Hash&) {
                   const std::string key = NodeKey(id);
                   EXPECT_LT(CompareKeys(previous, key), 0) << id.ToString();
                   previous = key;
                 });
  }
}

TEST(NodeKeyTest, DecodeRefusesMalformedKeys) {
  const std::string good = NodeKey({2, 7});
  for (const std::string& bad :
       {std::string(), good.substr(0, 8), good + "x", std::string(8, '\0'),
        std::string(10, '\0'),
        // Level 64 and above do not exist.
        good.substr(0, 8) + "\x40",
        // Last leaf 0 cannot end a node of level 1.
        std::string("\x00\x00\x00\x00\x00\x00\x00\x00\x01", 9),
        // Nor can the last possible leaf end any node: end would wrap.
        std::string("\xff\xff\xff\xff\xff\xff\xff\xff\x00", 9)}) {
    EXPECT_THAT(DecodeNodeKey(bad),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << bad.size();
  }
}

// --- Other keys -------------------------------------------------------------

TEST(IndexKeysTest, Layouts) {
  EXPECT_EQ(IdempotencyKey("brand:acme", "key-1"),
            std::string("brand:acme\0key-1", 16));
  EXPECT_EQ(UniqueIndexKey("inv/1"), "uinv/1");
  EXPECT_EQ(LookupIndexPrefix("party/a"), std::string("lparty/a\0", 9));
  EXPECT_EQ(LookupIndexKey("party/a", 258),
            absl::StrCat(std::string("lparty/a\0", 9), EncodeFixed64(258)));
}

TEST(IndexKeysTest, IdempotencyKeysOfDifferentPairsDiffer) {
  // The separator cannot occur in an actor, so pairs cannot collide.
  EXPECT_NE(IdempotencyKey("ab", "c"), IdempotencyKey("a", "bc"));
  EXPECT_NE(IdempotencyKey("a", "b"), IdempotencyKey("b", "a"));
}

TEST(IndexKeysTest, LookupKeysDoNotMatchAnotherKeysPrefix) {
  const std::string prefix = LookupIndexPrefix("party/a");
  EXPECT_TRUE(absl::StartsWith(LookupIndexKey("party/a", 9), prefix));
  EXPECT_FALSE(absl::StartsWith(LookupIndexKey("party/ab", 9), prefix));
  EXPECT_FALSE(absl::StartsWith(UniqueIndexKey("party/a"), prefix));
  // Within one lookup key, keys sort by seq.
  EXPECT_LT(CompareKeys(LookupIndexKey("k", 255), LookupIndexKey("k", 256)), 0);
  EXPECT_LT(
      CompareKeys(LookupIndexKey("k", UINT64_MAX), LookupIndexKey("k0", 0)), 0);
}

// --- Idempotency records -----------------------------------------------------

TEST(IdempotencyRecordTest, RoundTrips) {
  for (const int64_t time : {int64_t{0}, int64_t{1'700'000'000'000'000},
                             int64_t{-1}, INT64_MIN, INT64_MAX}) {
    const IdempotencyRecord record{HashOf("request"), 0x0102030405060708, 3,
                                   UINT64_MAX, time};
    const std::string bytes = EncodeIdempotencyRecord(record);
    ASSERT_EQ(bytes.size(), kIdempotencyRecordBytes);
    absl::StatusOr<IdempotencyRecord> decoded = DecodeIdempotencyRecord(bytes);
    ASSERT_THAT(decoded, IsOk());
    EXPECT_EQ(decoded->fingerprint, record.fingerprint);
    EXPECT_EQ(decoded->first_seq, record.first_seq);
    EXPECT_EQ(decoded->entry_count, record.entry_count);
    EXPECT_EQ(decoded->tree_size, record.tree_size);
    EXPECT_EQ(decoded->append_time_micros, time);
  }
}

TEST(IdempotencyRecordTest, Layout) {
  const IdempotencyRecord record{HashOf("r"), 1, 2, 3, -2};
  EXPECT_EQ(kIdempotencyRecordBytes, 64u);
  EXPECT_EQ(
      EncodeIdempotencyRecord(record),
      absl::StrCat(
          absl::string_view(
              reinterpret_cast<const char*>(record.fingerprint.data()), 32),
          EncodeFixed64(1), EncodeFixed64(2), EncodeFixed64(3),
          EncodeFixed64(UINT64_MAX - 1)));
}

TEST(IdempotencyRecordTest, DecodeRefusesOtherLengths) {
  const std::string bytes = EncodeIdempotencyRecord({HashOf("r"), 1, 2, 3, 4});
  for (const std::string& bad :
       {std::string(), bytes.substr(0, bytes.size() - 1), bytes + "x",
        bytes.substr(0, 32)}) {
    EXPECT_THAT(DecodeIdempotencyRecord(bad),
                StatusIs(absl::StatusCode::kDataLoss))
        << bad.size();
  }
}

// --- Checkpoint records
// -------------------------------------------------------

TEST(CheckpointRecordTest, RoundTripsAndLayout) {
  const CheckpointRecord record{HashOf("root"),
                                std::string(kEd25519SignatureBytes, '\x5a')};
  const std::string bytes = EncodeCheckpointRecord(record);
  ASSERT_EQ(bytes.size(), 32 + kEd25519SignatureBytes);
  EXPECT_EQ(bytes.substr(0, 32),
            std::string(merkle::HashBytes(record.root_hash)));
  EXPECT_EQ(bytes.substr(32), record.signature);
  absl::StatusOr<CheckpointRecord> decoded = DecodeCheckpointRecord(bytes);
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(decoded->root_hash, record.root_hash);
  EXPECT_EQ(decoded->signature, record.signature);
}

TEST(CheckpointRecordTest, DecodeRefusesOtherLengths) {
  const std::string bytes = EncodeCheckpointRecord(
      {HashOf("root"), std::string(kEd25519SignatureBytes, 's')});
  for (const std::string& bad :
       {std::string(), bytes.substr(0, 32), bytes.substr(1), bytes + "x"}) {
    EXPECT_THAT(DecodeCheckpointRecord(bad),
                StatusIs(absl::StatusCode::kDataLoss))
        << bad.size();
  }
}

// --- Request fingerprints
// ------------------------------------------------------

struct FingerprintInput {
  std::string actor = "brand:acme";
  std::string key = "upload-1";
  std::vector<std::pair<std::string, std::string>> entries = {
      {"wsr.premium.v1.A", "payload-a"}, {"wsr.premium.v1.B", "payload-b"}};
  // Defaults to entries.size().
  std::optional<uint64_t> entry_count;
};

merkle::Hash Fingerprint(const FingerprintInput& input) {
  RequestFingerprinter fingerprinter(
      input.actor, input.key, input.entry_count.value_or(input.entries.size()));
  for (const auto& [kind, payload] : input.entries) {
    fingerprinter.AddEntry(kind, payload);
  }
  return fingerprinter.Finish();
}

TEST(RequestFingerprinterTest, IsDeterministic) {
  EXPECT_EQ(Fingerprint({}), Fingerprint({}));
}

TEST(RequestFingerprinterTest, IsSha256OfLengthPrefixedFields) {
  // Pins the persistent definition in format.h.
  std::string message;
  const auto add = [&message](absl::string_view field) {
    message += EncodeFixed64(field.size());
    message.append(field.data(), field.size());
  };
  const FingerprintInput input;
  add(input.actor);
  add(input.key);
  add(EncodeFixed64(input.entries.size()));
  for (const auto& [kind, payload] : input.entries) {
    add(kind);
    add(payload);
  }
  merkle::Hash expected;
  unsigned int length = 0;
  ASSERT_EQ(EVP_Digest(message.data(), message.size(), expected.data(), &length,
                       EVP_sha256(), nullptr),
            1);
  EXPECT_EQ(Fingerprint(input), expected);
}

TEST(RequestFingerprinterTest, DiffersWhenAnyFieldOrBoundaryChanges) {
  const merkle::Hash base = Fingerprint({});
  std::vector<std::pair<std::string, FingerprintInput>> variants;
  const auto variant = [&variants](std::string name, auto change) {
    FingerprintInput input;
    change(input);
    variants.emplace_back(std::move(name), std::move(input));
  };
  variant("actor", [](auto& in) { in.actor = "brand:acmf"; });
  variant("key", [](auto& in) { in.key = "upload-2"; });
  variant("kind", [](auto& in) { in.entries[1].first = "wsr.premium.v1.C"; });
  variant("payload", [](auto& in) { in.entries[0].second = "payload-A"; });
  variant("empty payload", [](auto& in) { in.entries[0].second = ""; });
  variant("extra entry", [](auto& in) { in.entries.push_back({"k", "p"}); });
  variant("missing entry", [](auto& in) { in.entries.pop_back(); });
  variant("entry order",
          [](auto& in) { std::swap(in.entries[0], in.entries[1]); });
  variant("entry count only", [](auto& in) { in.entry_count = 3; });
  variant("actor/key boundary", [](auto& in) {
    in.actor = "brand:acmeu";
    in.key = "pload-1";
  });
  variant("kind/payload boundary", [](auto& in) {
    in.entries[0] = {"wsr.premium.v1.Ap", "ayload-a"};
  });
  variant("entry/entry boundary", [](auto& in) {
    in.entries[0].second = "payload-awsr.premium.v1.B";
    in.entries[1].first = "";
  });
  for (const auto& [name, input] : variants) {
    EXPECT_NE(Fingerprint(input), base) << name;
  }
  for (size_t i = 0; i < variants.size(); ++i) {
    for (size_t j = i + 1; j < variants.size(); ++j) {
      EXPECT_NE(Fingerprint(variants[i].second),
                Fingerprint(variants[j].second))
          << variants[i].first << " vs " << variants[j].first;
    }
  }
}

TEST(RequestFingerprinterTest, KindPayloadBoundaryMatters) {
  // The example of the brief: kind "ab" + payload "c" vs kind "a" + "bc".
  RequestFingerprinter first("actor", "key", 1);
  first.AddEntry("ab", "c");
  RequestFingerprinter second("actor", "key", 1);
  second.AddEntry("a", "bc");
  EXPECT_NE(first.Finish(), second.Finish());
}

}  // namespace
}  // namespace premium::storage
