#include "ledger/merkle/hasher.h"

#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/merkle/reference_root.h"

namespace premium::merkle {
namespace {

using ::testing::HasSubstr;

Hash MustFromHex(std::string_view hex) {
  absl::StatusOr<Hash> hash = HashFromHex(hex);
  EXPECT_TRUE(hash.ok()) << hash.status();
  return hash.value_or(Hash{});
}

TEST(HasherTest, EmptyRootIsSha256OfNothing) {
  EXPECT_EQ(HashToHex(EmptyRoot()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(HasherTest, Sha256OfIsPlainSha256) {
  // FIPS 180-2's "abc", and a message longer than a block.
  EXPECT_EQ(HashToHex(Sha256Of("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HashToHex(Sha256Of(std::string(1000, 'a'))),
            "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
  EXPECT_EQ(Sha256Of(""), EmptyRoot());
}

TEST(HasherTest, Sha256StreamIsSha256OfThePiecesJoined) {
  Sha256Stream stream;
  stream.Update("a");
  stream.Update("");
  stream.Update("bc");
  EXPECT_EQ(stream.Finish(), Sha256Of("abc"));
  // Finish starts it over.
  EXPECT_EQ(stream.Finish(), EmptyRoot());
  const std::string long_message(1000, 'a');
  for (size_t i = 0; i < long_message.size(); i += 7) {
    stream.Update(std::string_view(long_message).substr(i, 7));
  }
  EXPECT_EQ(stream.Finish(), Sha256Of(long_message));
}

TEST(HasherTest, LeafAndNodeHashesArePrefixedSha256) {
  // SHA-256 of the single byte 0x00 and of 0x01 followed by 64 zero bytes,
  // from an independent SHA-256 (python3 hashlib).
  EXPECT_EQ(HashToHex(HashLeaf("")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  EXPECT_EQ(HashToHex(HashChildren(Hash{}, Hash{})),
            "ae0798d0ecaed2b778eddebf18f071a561c53658c05e76cedecc27cafbdbc577");
}

// The certificate-transparency / transparency-dev test vectors: 8 leaves and
// the RFC 6962 roots of their prefixes of size 1 to 8.
TEST(HasherTest, Rfc6962TestVectors) {
  const std::vector<std::string> leaf_hex = {
      "",
      "00",
      "10",
      "2021",
      "3031",
      "40414243",
      "5051525354555657",
      "606162636465666768696a6b6c6d6e6f"};
  const std::vector<std::string> root_hex = {
      "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
      "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
      "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
      "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
      "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
      "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};
  std::vector<Hash> leaves;
  for (const std::string& hex : leaf_hex) {
    leaves.push_back(HashLeaf(absl::HexStringToBytes(hex)));
  }
  for (size_t size = 1; size <= leaves.size(); ++size) {
    EXPECT_EQ(HashToHex(ReferenceRoot(leaves, 0, size)), root_hex[size - 1])
        << "size " << size;
  }
}

TEST(HasherTest, LeafAndNodeDomainsAreSeparated) {
  const Hash left = HashLeaf("a");
  const Hash right = HashLeaf("b");
  const std::string node_preimage =
      std::string(HashBytes(left)) + std::string(HashBytes(right));
  EXPECT_NE(HashLeaf(node_preimage), HashChildren(left, right));
  EXPECT_NE(HashChildren(left, right), HashChildren(right, left));
}

TEST(HasherTest, HexRoundTrip) {
  const Hash hash = HashLeaf("entry");
  const std::string hex = HashToHex(hash);
  EXPECT_EQ(hex.size(), 64u);
  EXPECT_EQ(MustFromHex(hex), hash);
  std::string upper = hex;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  EXPECT_EQ(MustFromHex(upper), hash);
}

TEST(HasherTest, BadHexIsInvalidArgument) {
  const std::string good = HashToHex(HashLeaf("x"));
  for (const std::string& bad :
       {std::string(), good.substr(1), good + "0", good + good,
        "g" + good.substr(1), good.substr(0, 63) + " ",
        std::string(64, '\0')}) {
    absl::StatusOr<Hash> hash = HashFromHex(bad);
    EXPECT_EQ(hash.status().code(), absl::StatusCode::kInvalidArgument)
        << "input: " << absl::CHexEscape(bad);
  }
  EXPECT_THAT(HashFromHex("abc").status().message(), HasSubstr("3 characters"));
}

TEST(HasherTest, BadHexMessageIsBounded) {
  const std::string huge(1 << 20, 'z');
  absl::StatusOr<Hash> hash = HashFromHex(huge);
  EXPECT_EQ(hash.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_LT(hash.status().message().size(), 300u);
}

TEST(HasherTest, BytesRoundTrip) {
  const Hash hash = HashLeaf("entry");
  const std::string_view bytes = HashBytes(hash);
  EXPECT_EQ(bytes.size(), kHashBytes);
  absl::StatusOr<Hash> parsed = HashFromBytes(bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, hash);
}

TEST(HasherTest, WrongByteLengthIsInvalidArgument) {
  const std::string bytes(HashBytes(HashLeaf("entry")));
  for (size_t length : {size_t{0}, size_t{1}, size_t{31}, size_t{33}}) {
    const std::string input =
        length <= bytes.size() ? bytes.substr(0, length) : bytes + "x";
    absl::StatusOr<Hash> hash = HashFromBytes(input);
    EXPECT_EQ(hash.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(hash.status().message(),
                HasSubstr("got " + std::to_string(length)));
  }
}

}  // namespace
}  // namespace premium::merkle
