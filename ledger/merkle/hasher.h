// The RFC 6962 / RFC 9162 Merkle tree hasher: the one place the ledger hashes
// entries and tree nodes (DESIGN section 5).
//
//   leaf hash  = SHA-256(0x00 || entry bytes)
//   node hash  = SHA-256(0x01 || left hash || right hash)
//   empty root = SHA-256("")
//
// The 0x00 / 0x01 prefixes separate the leaf and node domains, so no entry can
// be passed off as an interior node (second-preimage resistance).
//
// A Hash is persisted and signed as its raw 32 bytes (HashBytes /
// HashFromBytes) and shown to people as 64 lowercase hex digits (HashToHex /
// HashFromHex). Those two encodings are part of the persistent format.
//
// All functions are pure and thread-safe. Hashing never fails: SHA-256 comes
// from OpenSSL's libcrypto, and a libcrypto failure (only possible when memory
// is exhausted) aborts the process rather than yield a wrong hash.
#ifndef LEDGER_MERKLE_HASHER_H_
#define LEDGER_MERKLE_HASHER_H_

#include <openssl/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace premium::merkle {

inline constexpr size_t kHashBytes = 32;

// A SHA-256 digest: a leaf hash, a node hash or a root hash.
using Hash = std::array<uint8_t, kHashBytes>;

// SHA-256(0x00 || entry_bytes). `entry_bytes` are exactly the bytes stored for
// the entry; any length, including empty.
Hash HashLeaf(std::string_view entry_bytes);

// SHA-256(0x01 || left || right): the parent of two adjacent subtrees.
Hash HashChildren(const Hash& left, const Hash& right);

// SHA-256(""): the root of the tree of size 0.
Hash EmptyRoot();

// SHA-256(data), with no prefix: the digest of a code or token, never a tree
// hash. The algorithm is fetched once, unlike OpenSSL's one-shot SHA256().
Hash Sha256Of(std::string_view data);

// SHA-256 of data given in pieces (an uploaded file as it arrives, a
// request's fields), with no prefix. As every hash here, it aborts if
// OpenSSL fails (only an allocation can), rather than return a wrong digest.
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;

  void Update(std::string_view data);
  // The digest of everything given since the start or the last Finish.
  Hash Finish();

  // Frees an OpenSSL digest context (this one's, and the hasher's own).
  struct ContextDeleter {
    void operator()(EVP_MD_CTX* ctx) const;
  };

 private:
  std::unique_ptr<EVP_MD_CTX, ContextDeleter> ctx_;
};

// 64 lowercase hex digits.
std::string HashToHex(const Hash& hash);

// Parses exactly 64 hex digits (either case). InvalidArgument, quoting the
// input (shortened if long), for any other length or a non-hex character.
absl::StatusOr<Hash> HashFromHex(std::string_view hex);

// A view of the raw 32 bytes, valid as long as `hash` is.
std::string_view HashBytes(const Hash& hash);

// Copies exactly kHashBytes raw bytes. InvalidArgument naming the length for
// any other length.
absl::StatusOr<Hash> HashFromBytes(std::string_view bytes);

}  // namespace premium::merkle

#endif  // LEDGER_MERKLE_HASHER_H_
