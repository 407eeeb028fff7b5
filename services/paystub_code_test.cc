// Tests of paystub codes (DESIGN section 6): the printed form, that a code
// depends on everything it is derived from and on nothing else, that what a
// worker types is read back leniently but only as a code, and that the
// ledger's hash is SHA-256 of the canonical form.
#include "services/paystub_code.h"

#include <array>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/merkle/hasher.h"
#include "ledger/testing/ledger_testing.h"
#include "ledger/util/files.h"
#include "services/server_secret.h"

namespace premium {
namespace {

using ::premium::testing::IsOk;
using ::premium::testing::IsOkAndHolds;
using ::premium::testing::StatusIs;
using ::premium::testing::TempDir;
using ::testing::HasSubstr;

constexpr absl::string_view kCrockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

// "XXXX-XXXX-XXXX-XXXX" of Crockford base32 upper-case characters.
bool IsPrintedCode(absl::string_view code) {
  if (code.size() != 19) return false;
  for (size_t i = 0; i < code.size(); ++i) {
    if (i % 5 == 4) {
      if (code[i] != '-') return false;
    } else if (kCrockford.find(code[i]) == absl::string_view::npos) {
      return false;
    }
  }
  return true;
}

std::string WithoutHyphens(absl::string_view code) {
  return absl::StrReplaceAll(code, {{"-", ""}});
}

class PaystubCodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PL_ASSERT_OK_AND_ASSIGN(secret_,
                            ServerSecret::LoadOrCreate(dir_.Sub("one.secret")));
    PL_ASSERT_OK_AND_ASSIGN(
        other_secret_, ServerSecret::LoadOrCreate(dir_.Sub("other.secret")));
  }

  TempDir dir_;
  std::unique_ptr<ServerSecret> secret_;
  std::unique_ptr<ServerSecret> other_secret_;
};

TEST_F(PaystubCodeTest, PrintedAsFourGroupsOfCrockfordBase32) {
  for (uint64_t index = 0; index < 200; ++index) {
    const std::string code =
        DerivePaystubCode(*secret_, "s1", "sha256:abc", index);
    EXPECT_TRUE(IsPrintedCode(code)) << code;
    // No look-alikes: never I, L, O or U, never lower case.
    EXPECT_EQ(code.find_first_of("ILOUilou"), std::string::npos) << code;
  }
  static_assert(kPaystubCodeCharacters == 16);
}

TEST_F(PaystubCodeTest, DeterministicForTheSameInputs) {
  const std::string code = DerivePaystubCode(*secret_, "s1", "sha256:abc", 7);
  EXPECT_EQ(DerivePaystubCode(*secret_, "s1", "sha256:abc", 7), code);
  // The same secret loaded again (a restarted server) derives the same code:
  // a retried upload gets its codes back.
  PL_ASSERT_OK_AND_ASSIGN(std::unique_ptr<ServerSecret> reloaded,
                          ServerSecret::Load(dir_.Sub("one.secret")));
  EXPECT_EQ(DerivePaystubCode(*reloaded, "s1", "sha256:abc", 7), code);
}

// Codes are printed on paystubs and tokens handed to parties: the derivation
// may never change. The expected values come from Python's hmac module over
// the same length-prefixed message, not from this code.
TEST_F(PaystubCodeTest, DerivationIsPinnedToHmacSha256) {
  std::string key_hex;
  for (int i = 0; i < 32; ++i)
    absl::StrAppend(&key_hex, absl::Hex(i, absl::kZeroPad2));
  const std::string path = dir_.Sub("pinned.secret");
  ASSERT_THAT(WriteNewFile(path, key_hex + "\n", 0600), IsOk());
  PL_ASSERT_OK_AND_ASSIGN(std::unique_ptr<ServerSecret> pinned,
                          ServerSecret::Load(path));
  EXPECT_EQ(DerivePaystubCode(*pinned, "grower-01", "sha256:abc", 7),
            "QFFT-XWC0-D55Z-8EQ5");
  const merkle::Hash token =
      pinned->Derive("party-token", {"supplier", "req-1", "grower-01"});
  EXPECT_EQ(merkle::HashToHex(token),
            "2280344236a26bcb0a509a34630ede1e40f76d6f27db5d9301e2a0c32917e193");
  EXPECT_EQ(merkle::HashToHex(pinned->Derive("", {})),
            "9f0cd9b94097fe4929918d2b8942b34439574261a35dc50163f06c67d4e48899");
}

// Upload threads derive codes at once from the one secret.
TEST_F(PaystubCodeTest, ThreadsDeriveTheSameCodesAtOnce) {
  constexpr uint64_t kLines = 2'000;
  std::vector<std::string> expected;
  for (uint64_t index = 0; index < kLines; ++index) {
    expected.push_back(DerivePaystubCode(*secret_, "s1", "sha256:abc", index));
  }
  std::vector<std::thread> threads;
  std::vector<std::vector<std::string>> derived(4);
  for (std::vector<std::string>& codes : derived) {
    threads.emplace_back([&] {
      for (uint64_t index = 0; index < kLines; ++index) {
        codes.push_back(DerivePaystubCode(*secret_, "s1", "sha256:abc", index));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::vector<std::string>& codes : derived) {
    EXPECT_EQ(codes, expected);
  }
}

TEST_F(PaystubCodeTest, DiffersWhenAnyInputChanges) {
  const std::string code = DerivePaystubCode(*secret_, "s1", "key-1", 7);
  EXPECT_NE(DerivePaystubCode(*secret_, "s2", "key-1", 7), code);
  EXPECT_NE(DerivePaystubCode(*secret_, "s1", "key-2", 7), code);
  EXPECT_NE(DerivePaystubCode(*secret_, "s1", "key-1", 8), code);
  EXPECT_NE(DerivePaystubCode(*other_secret_, "s1", "key-1", 7), code);
  // Parts are length-prefixed: moving a character from the supplier to the
  // key, or from the key to the index, is another input.
  EXPECT_NE(DerivePaystubCode(*secret_, "s", "1key-1", 7),
            DerivePaystubCode(*secret_, "s1", "key-1", 7));
  EXPECT_NE(DerivePaystubCode(*secret_, "s1", "key-1", 17),
            DerivePaystubCode(*secret_, "s1", "key-11", 7));
}

TEST_F(PaystubCodeTest, TenThousandCodesOfOneUploadAreDistinct) {
  constexpr uint64_t kLines = 10'000;
  std::set<std::string> codes;
  std::array<std::set<char>, 16> seen_at;
  for (uint64_t index = 0; index < kLines; ++index) {
    const std::string code =
        DerivePaystubCode(*secret_, "s1", "sha256:feed", index);
    ASSERT_TRUE(IsPrintedCode(code)) << code;
    codes.insert(code);
    const std::string canonical = WithoutHyphens(code);
    for (size_t i = 0; i < canonical.size(); ++i)
      seen_at[i].insert(canonical[i]);
  }
  EXPECT_EQ(codes.size(), kLines);
  // 80 bits fill all 16 characters: every position takes every one of the
  // 32 characters somewhere in 10,000 codes (a position stuck on a few
  // values would mean fewer bits than the design's 50).
  for (size_t i = 0; i < seen_at.size(); ++i) {
    EXPECT_EQ(seen_at[i].size(), 32u) << "position " << i;
  }
}

TEST_F(PaystubCodeTest, CanonicalFormOfADerivedCode) {
  const std::string code = DerivePaystubCode(*secret_, "s1", "k", 0);
  const std::string canonical = WithoutHyphens(code);
  EXPECT_THAT(NormalizePaystubCode(code), IsOkAndHolds(canonical));
  EXPECT_THAT(NormalizePaystubCode(canonical), IsOkAndHolds(canonical));
  EXPECT_THAT(NormalizePaystubCode(absl::AsciiStrToLower(canonical)),
              IsOkAndHolds(canonical));
  const std::string spaced = absl::StrReplaceAll(code, {{"-", " "}});
  EXPECT_THAT(NormalizePaystubCode(spaced), IsOkAndHolds(canonical));
  EXPECT_THAT(NormalizePaystubCode(absl::StrCat("  ", spaced, " ")),
              IsOkAndHolds(canonical));
}

TEST(NormalizePaystubCodeTest, LookAlikesAndCaseAreAccepted) {
  const std::string canonical = "0123456789ABCDEF";
  for (const char* typed :
       {"0123-4567-89AB-CDEF", "0123456789abcdef", "o123-4567-89ab-cdef",
        "O123 4567 89AB CDEF", "0I23-4567-89AB-CDEF", "0l23-4567-89ab-cdef",
        "0L23-4567-89AB-CDEF", "0i23--4567--89ab--cdef", "oi23456789AbCdEf"}) {
    EXPECT_THAT(NormalizePaystubCode(typed), IsOkAndHolds(canonical)) << typed;
  }
  // Every letter of the alphabet but U, in either case.
  EXPECT_THAT(NormalizePaystubCode("ghjk-mnpq-rstv-wxyz"),
              IsOkAndHolds("GHJKMNPQRSTVWXYZ"));
}

TEST(NormalizePaystubCodeTest, AnythingElseIsRefused) {
  for (const std::string& typed : {
           std::string(""),
           std::string("----"),
           std::string("0123-4567-89AB-CDE"),       // 15 characters
           std::string("0123-4567-89AB-CDEF0"),     // 17
           std::string("0123-4567-89AB-CDEFGHJK"),  // 20
           std::string("0123-4567-89AB-CDEU"),      // U is not in the alphabet
           std::string("0123-4567-89AB-CDEu"),
           std::string("0123-4567-89AB-CDE!"),
           std::string("0123.4567.89AB.CDEF"),
           std::string("0123_4567_89AB_CDEF"),
           std::string("0123\t4567-89AB-CDEF"),
           std::string("0123\n4567-89AB-CDEF"),
           std::string("0123-4567-89AB-CDEF\n"),
           std::string("0123-4567-89AB-CDE\xC3\x89"),  // É
           std::string("0123-4567-89AB-CD\0F", 19),
           std::string("'; DROP TABLE codes; --"),
       }) {
    EXPECT_THAT(NormalizePaystubCode(typed),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << absl::CHexEscape(typed);
  }
}

TEST(NormalizePaystubCodeTest, OverlongInputIsRefusedBeforeReading) {
  // 16 characters padded with hyphens to 64 bytes are a code; to 65 bytes,
  // or a megabyte of them, are refused as too long.
  const std::string code = "0123456789ABCDEF";
  EXPECT_THAT(NormalizePaystubCode(code + std::string(48, '-')),
              IsOkAndHolds(code));
  EXPECT_THAT(
      NormalizePaystubCode(code + std::string(49, '-')),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("too long")));
  EXPECT_THAT(
      NormalizePaystubCode(std::string(1 << 20, '0')),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("too long")));
}

TEST(PaystubCodeHashTest, IsSha256OfTheCanonicalForm) {
  // FIPS 180-2 test vector: SHA-256("abc").
  EXPECT_EQ(merkle::HashToHex(PaystubCodeHash("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // SHA-256("") as well.
  EXPECT_EQ(merkle::HashToHex(PaystubCodeHash("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // Every way of typing one code hashes the same, once normalized.
  const merkle::Hash expected = PaystubCodeHash("0123456789ABCDEF");
  for (const char* typed :
       {"0123-4567-89AB-CDEF", "o123 4567 89ab cdef", "0I23456789abcdef"}) {
    absl::StatusOr<std::string> canonical = NormalizePaystubCode(typed);
    ASSERT_THAT(canonical, IsOk()) << typed;
    EXPECT_EQ(PaystubCodeHash(*canonical), expected) << typed;
  }
  // The printed form is not what is hashed.
  EXPECT_NE(PaystubCodeHash("0123-4567-89AB-CDEF"), expected);
}

}  // namespace
}  // namespace premium
