#include "ledger/merkle/hasher.h"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace premium::merkle {
namespace {

constexpr uint8_t kLeafPrefix = 0x00;
constexpr uint8_t kNodePrefix = 0x01;

// Error messages quote at most this many characters of a bad hex string, so a
// hostile input cannot blow up a log line.
constexpr size_t kQuotedInputMaxChars = 80;

// This Abseil is built with its own absl::string_view (not an alias of
// std::string_view), and the two do not convert implicitly.
absl::string_view ToAbsl(std::string_view view) {
  return absl::string_view(view.data(), view.size());
}

[[noreturn]] void DieOnCryptoFailure(const char* what) {
  std::fprintf(stderr, "premium::merkle: OpenSSL %s failed\n", what);
  std::abort();
}

// Fetching the algorithm is the expensive part of an OpenSSL 3 digest (the
// one-shot SHA256() re-fetches on every call, ~2.5x slower for a node hash),
// so it is fetched once for the process and deliberately never freed.
const EVP_MD* Sha256() {
  static const EVP_MD* const md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (fetched == nullptr) DieOnCryptoFailure("EVP_MD_fetch(SHA256)");
    return fetched;
  }();
  return md;
}

// One digest context per thread, reused for every hash on that thread: no
// allocation per hash and no sharing between threads.
EVP_MD_CTX* ThreadContext() {
  thread_local const std::unique_ptr<EVP_MD_CTX, Sha256Stream::ContextDeleter>
      ctx = [] {
        EVP_MD_CTX* created = EVP_MD_CTX_new();
        if (created == nullptr) DieOnCryptoFailure("EVP_MD_CTX_new");
        return std::unique_ptr<EVP_MD_CTX, Sha256Stream::ContextDeleter>(
            created);
      }();
  return ctx.get();
}

// SHA-256(prefix || first || second); the prefix is omitted when null.
Hash Digest(const uint8_t* prefix, std::string_view first,
            std::string_view second) {
  EVP_MD_CTX* ctx = ThreadContext();
  if (EVP_DigestInit_ex2(ctx, Sha256(), nullptr) != 1) {
    DieOnCryptoFailure("EVP_DigestInit_ex2");
  }
  if ((prefix != nullptr && EVP_DigestUpdate(ctx, prefix, 1) != 1) ||
      EVP_DigestUpdate(ctx, first.data(), first.size()) != 1 ||
      EVP_DigestUpdate(ctx, second.data(), second.size()) != 1) {
    DieOnCryptoFailure("EVP_DigestUpdate");
  }
  Hash hash;
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(ctx, hash.data(), &length) != 1 ||
      length != kHashBytes) {
    DieOnCryptoFailure("EVP_DigestFinal_ex");
  }
  return hash;
}

std::string QuoteForError(std::string_view input) {
  if (input.size() <= kQuotedInputMaxChars) {
    return absl::StrCat("\"", absl::CHexEscape(ToAbsl(input)), "\"");
  }
  return absl::StrCat(
      "\"", absl::CHexEscape(ToAbsl(input.substr(0, kQuotedInputMaxChars))),
      "...\" (", input.size(), " characters)");
}

}  // namespace

Hash HashLeaf(std::string_view entry_bytes) {
  return Digest(&kLeafPrefix, entry_bytes, {});
}

Hash HashChildren(const Hash& left, const Hash& right) {
  return Digest(&kNodePrefix, HashBytes(left), HashBytes(right));
}

Hash Sha256Of(std::string_view data) { return Digest(nullptr, data, {}); }

void Sha256Stream::ContextDeleter::operator()(EVP_MD_CTX* ctx) const {
  EVP_MD_CTX_free(ctx);
}

Sha256Stream::Sha256Stream() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) DieOnCryptoFailure("EVP_MD_CTX_new");
  if (EVP_DigestInit_ex2(ctx_.get(), Sha256(), nullptr) != 1) {
    DieOnCryptoFailure("EVP_DigestInit_ex2");
  }
}

Sha256Stream::~Sha256Stream() = default;

void Sha256Stream::Update(std::string_view data) {
  if (EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) != 1) {
    DieOnCryptoFailure("EVP_DigestUpdate");
  }
}

Hash Sha256Stream::Finish() {
  Hash hash;
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(ctx_.get(), hash.data(), &length) != 1 ||
      length != kHashBytes ||
      EVP_DigestInit_ex2(ctx_.get(), Sha256(), nullptr) != 1) {
    DieOnCryptoFailure("EVP_DigestFinal_ex");
  }
  return hash;
}

Hash EmptyRoot() {
  // Computed once: it is a constant of the format.
  static const Hash root = Digest(nullptr, {}, {});
  return root;
}

std::string HashToHex(const Hash& hash) {
  return absl::BytesToHexString(ToAbsl(HashBytes(hash)));
}

absl::StatusOr<Hash> HashFromHex(std::string_view hex) {
  if (hex.size() != 2 * kHashBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("hash hex must be ", 2 * kHashBytes, " hex digits, got ",
                     hex.size(), " characters: ", QuoteForError(hex)));
  }
  for (char c : hex) {
    // absl::HexStringToBytes in this Abseil version does not report bad
    // digits, so they are refused here.
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "hash hex has a non-hex character: ", QuoteForError(hex)));
    }
  }
  return HashFromBytes(absl::HexStringToBytes(ToAbsl(hex)));
}

std::string_view HashBytes(const Hash& hash) {
  return std::string_view(reinterpret_cast<const char*>(hash.data()),
                          hash.size());
}

absl::StatusOr<Hash> HashFromBytes(std::string_view bytes) {
  if (bytes.size() != kHashBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "hash must be ", kHashBytes, " bytes, got ", bytes.size()));
  }
  Hash hash;
  std::memcpy(hash.data(), bytes.data(), kHashBytes);
  return hash;
}

}  // namespace premium::merkle
