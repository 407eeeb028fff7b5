#include "ledger/checkpoint/checkpoint.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/merkle/hasher.h"
#include "ledger/testing/ledger_testing.h"

namespace premium {
namespace {

using ::premium::testing::IsOk;
using ::premium::testing::ReadFileOrDie;
using ::premium::testing::StatusIs;
using ::premium::testing::TempDir;
using ::premium::testing::WriteFileOrDie;
using ::testing::HasSubstr;
using ::testing::Not;

merkle::Hash CountingHash() {
  merkle::Hash hash;
  for (size_t i = 0; i < hash.size(); ++i) hash[i] = static_cast<uint8_t>(i);
  return hash;
}

std::string PrivateKeyPath(const TempDir& dir) {
  return dir.Sub(CheckpointSigner::kPrivateKeyFile);
}
std::string PublicKeyPath(const TempDir& dir) {
  return dir.Sub(CheckpointSigner::kPublicKeyFile);
}

mode_t FileMode(const std::string& path) {
  struct stat info;
  EXPECT_EQ(::stat(path.c_str(), &info), 0) << path;
  return info.st_mode & 07777;
}

// A PEM public key of another algorithm, made with OpenSSL.
std::string ForeignPublicKeyPem(const char* type, const char* parameter) {
  EVP_PKEY* key = parameter == nullptr
                      ? EVP_PKEY_Q_keygen(nullptr, nullptr, type, size_t{2048})
                      : EVP_PKEY_Q_keygen(nullptr, nullptr, type, parameter);
  EXPECT_NE(key, nullptr) << type;
  if (key == nullptr) return "";
  BIO* bio = BIO_new(BIO_s_mem());
  EXPECT_EQ(PEM_write_bio_PUBKEY(bio, key), 1);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(length));
  BIO_free(bio);
  EVP_PKEY_free(key);
  return pem;
}

// --- Body format -----------------------------------------------------------

TEST(CheckpointBodyTest, IsExactlyOriginSizeAndBase64Root) {
  const Checkpoint checkpoint{"example.com/ledger", 5, CountingHash()};
  EXPECT_EQ(CheckpointBody(checkpoint),
            "example.com/ledger\n5\n"
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n");
}

TEST(CheckpointBodyTest, EmptyTreeAndLargeSize) {
  EXPECT_EQ(CheckpointBody({"o", 0, merkle::EmptyRoot()}),
            "o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n");
  EXPECT_EQ(CheckpointBody({"o", UINT64_MAX, merkle::Hash{}}),
            "o\n18446744073709551615\n"
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n");
}

TEST(CheckpointBodyTest, ParseRoundTrips) {
  for (const uint64_t size : {uint64_t{0}, uint64_t{1}, uint64_t{10},
                              uint64_t{1234567}, uint64_t{UINT64_MAX}}) {
    const Checkpoint checkpoint{"premium-ledger/0123456789abcdef", size,
                                merkle::HashLeaf(absl::StrCat(size))};
    absl::StatusOr<Checkpoint> parsed =
        ParseCheckpointBody(CheckpointBody(checkpoint));
    ASSERT_THAT(parsed, IsOk()) << size;
    EXPECT_EQ(parsed->origin, checkpoint.origin);
    EXPECT_EQ(parsed->tree_size, size);
    EXPECT_EQ(parsed->root_hash, checkpoint.root_hash);
  }
}

TEST(CheckpointBodyTest, ParseRefusesAnythingElse) {
  const std::string root = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
  const std::string good = absl::StrCat("origin\n5\n", root, "\n");
  ASSERT_THAT(ParseCheckpointBody(good), IsOk());
  const struct {
    std::string body;
    std::string line;
  } cases[] = {
      {absl::StrCat(good, "extra\n"), "three lines"},
      {absl::StrCat(good, "\n"), "three lines"},
      {absl::StrCat("origin\n5\n", root), "three lines"},  // no final \n
      {absl::StrCat("origin\n5\n", root, "\r\n"), "line 3"},
      {"", "three lines"},
      {absl::StrCat("origin\n05\n", root, "\n"), "line 2"},
      {absl::StrCat("origin\n00\n", root, "\n"), "line 2"},
      {absl::StrCat("origin\n\n", root, "\n"), "line 2"},
      {absl::StrCat("origin\n-1\n", root, "\n"), "line 2"},
      {absl::StrCat("origin\n+5\n", root, "\n"), "line 2"},
      {absl::StrCat("origin\n 5\n", root, "\n"), "line 2"},
      {absl::StrCat("origin\n0x5\n", root, "\n"), "line 2"},
      {absl::StrCat("origin\n18446744073709551616\n", root, "\n"), "line 2"},
      {"origin\n5\n!!!!\n", "line 3"},
      {"origin\n5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n",
       "line 3"},  // unpadded
      {absl::StrCat("origin\n5\n", absl::Base64Escape(std::string(31, 'x')),
                    "\n"),
       "line 3"},
      {absl::StrCat("origin\n5\n", absl::Base64Escape(std::string(33, 'x')),
                    "\n"),
       "line 3"},
      {"origin\n5\n\n", "line 3"},
      {absl::StrCat("\n5\n", root, "\n"), "line 1"},
      {absl::StrCat("two words\n5\n", root, "\n"), "line 1"},
      {absl::StrCat(std::string(kOriginLengthMax + 1, 'o'), "\n5\n", root,
                    "\n"),
       "line 1"},
  };
  for (const auto& c : cases) {
    EXPECT_THAT(ParseCheckpointBody(c.body),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.line)))
        << absl::CEscape(c.body);
  }
}

TEST(CheckpointBodyTest, ValidateOrigin) {
  EXPECT_THAT(ValidateOrigin("a"), IsOk());
  EXPECT_THAT(ValidateOrigin("example.com/log~!"), IsOk());
  EXPECT_THAT(ValidateOrigin(std::string(kOriginLengthMax, 'o')), IsOk());
  for (const std::string& bad :
       {std::string(""), std::string(kOriginLengthMax + 1, 'o'),
        std::string("a b"), std::string("a\nb"), std::string("a\tb"),
        std::string("caf\xc3\xa9"), std::string("a\x7f"),
        std::string("a\0b", 3)}) {
    EXPECT_THAT(ValidateOrigin(bad),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << absl::CEscape(bad);
  }
}

// --- Signing -----------------------------------------------------------------

class CheckpointSignerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<CheckpointSigner>> signer =
        CheckpointSigner::CreateInDirectory(dir_.path());
    ASSERT_THAT(signer, IsOk());
    signer_ = *std::move(signer);
  }

  TempDir dir_;
  std::unique_ptr<CheckpointSigner> signer_;
  const std::string body_ =
      CheckpointBody({"example.com/ledger", 42, CountingHash()});
};

TEST_F(CheckpointSignerTest, SignsAndVerifies) {
  absl::StatusOr<std::string> signature = signer_->Sign(body_);
  ASSERT_THAT(signature, IsOk());
  EXPECT_EQ(signature->size(), kEd25519SignatureBytes);
  EXPECT_THAT(signer_->verifier().Verify(body_, *signature), IsOk());
  // Ed25519 is deterministic.
  EXPECT_EQ(signer_->Sign(body_).value(), *signature);
  // Anyone with only the public key file can verify.
  absl::StatusOr<std::unique_ptr<CheckpointVerifier>> verifier =
      CheckpointVerifier::FromPublicKeyPem(ReadFileOrDie(PublicKeyPath(dir_)));
  ASSERT_THAT(verifier, IsOk());
  EXPECT_THAT((*verifier)->Verify(body_, *signature), IsOk());
  EXPECT_EQ((*verifier)->public_key_pem(), signer_->public_key_pem());
}

TEST_F(CheckpointSignerTest, EveryFlippedSignatureBitFails) {
  const std::string signature = signer_->Sign(body_).value();
  for (size_t bit = 0; bit < signature.size() * 8; ++bit) {
    std::string flipped = signature;
    flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
    EXPECT_THAT(signer_->verifier().Verify(body_, flipped),
                StatusIs(absl::StatusCode::kPermissionDenied))
        << "bit " << bit;
  }
}

TEST_F(CheckpointSignerTest, WrongLengthSignatureFails) {
  const std::string signature = signer_->Sign(body_).value();
  EXPECT_THAT(signer_->verifier().Verify(body_, ""),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(signer_->verifier().Verify(body_, signature.substr(1)),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(signer_->verifier().Verify(body_, signature + "x"),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(CheckpointSignerTest, AnotherKeysSignatureFails) {
  TempDir other_dir;
  std::unique_ptr<CheckpointSigner> other =
      CheckpointSigner::CreateInDirectory(other_dir.path()).value();
  EXPECT_NE(other->public_key_pem(), signer_->public_key_pem());
  const std::string foreign = other->Sign(body_).value();
  EXPECT_THAT(other->verifier().Verify(body_, foreign), IsOk());
  EXPECT_THAT(signer_->verifier().Verify(body_, foreign),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(CheckpointSignerTest, SignatureOfAnotherBodyFails) {
  const std::string signature = signer_->Sign(body_).value();
  for (const Checkpoint& other :
       {Checkpoint{"example.com/ledger", 43, CountingHash()},
        Checkpoint{"example.com/ledgeR", 42, CountingHash()},
        Checkpoint{"example.com/ledger", 42, merkle::EmptyRoot()}}) {
    EXPECT_THAT(signer_->verifier().Verify(CheckpointBody(other), signature),
                StatusIs(absl::StatusCode::kPermissionDenied));
  }
  EXPECT_THAT(signer_->verifier().Verify(body_ + "\n", signature),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(CheckpointSignerTest, CreateWritesPrivateKeyWithMode0600) {
  EXPECT_EQ(FileMode(PrivateKeyPath(dir_)), 0600);
  EXPECT_EQ(FileMode(PublicKeyPath(dir_)), 0644);
  EXPECT_THAT(ReadFileOrDie(PrivateKeyPath(dir_)),
              HasSubstr("-----BEGIN PRIVATE KEY-----"));
  EXPECT_EQ(ReadFileOrDie(PublicKeyPath(dir_)), signer_->public_key_pem());
}

TEST_F(CheckpointSignerTest, CreateModeIgnoresTheUmask) {
  TempDir other_dir;
  const mode_t old_umask = ::umask(0);
  absl::StatusOr<std::unique_ptr<CheckpointSigner>> other =
      CheckpointSigner::CreateInDirectory(other_dir.path());
  ::umask(old_umask);
  ASSERT_THAT(other, IsOk());
  EXPECT_EQ(FileMode(PrivateKeyPath(other_dir)), 0600);
}

TEST_F(CheckpointSignerTest, CreateRefusesToReplaceAKey) {
  const std::string private_pem = ReadFileOrDie(PrivateKeyPath(dir_));
  const std::string public_pem = ReadFileOrDie(PublicKeyPath(dir_));
  EXPECT_THAT(CheckpointSigner::CreateInDirectory(dir_.path()),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(ReadFileOrDie(PrivateKeyPath(dir_)), private_pem);
  EXPECT_EQ(ReadFileOrDie(PublicKeyPath(dir_)), public_pem);
}

TEST_F(CheckpointSignerTest, LoadGivesTheSameKey) {
  absl::StatusOr<std::unique_ptr<CheckpointSigner>> loaded =
      CheckpointSigner::LoadFromDirectory(dir_.path());
  ASSERT_THAT(loaded, IsOk());
  EXPECT_EQ((*loaded)->public_key_pem(), signer_->public_key_pem());
  EXPECT_EQ((*loaded)->Sign(body_).value(), signer_->Sign(body_).value());
}

TEST_F(CheckpointSignerTest, LoadRefusesAKeyReadableByOthers) {
  for (const mode_t mode : {0640, 0604, 0660, 0644, 0610, 0601}) {
    ASSERT_EQ(::chmod(PrivateKeyPath(dir_).c_str(), mode), 0);
    EXPECT_THAT(CheckpointSigner::LoadFromDirectory(dir_.path()),
                StatusIs(absl::StatusCode::kFailedPrecondition))
        << std::oct << mode;
  }
  ASSERT_EQ(::chmod(PrivateKeyPath(dir_).c_str(), 0400), 0);
  EXPECT_THAT(CheckpointSigner::LoadFromDirectory(dir_.path()), IsOk());
}

TEST_F(CheckpointSignerTest, LoadRefusesAMissingKey) {
  TempDir empty;
  EXPECT_THAT(CheckpointSigner::LoadFromDirectory(empty.path()),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(CheckpointSigner::LoadFromDirectory(empty.Sub("absent")),
              StatusIs(absl::StatusCode::kNotFound));
  ASSERT_EQ(::unlink(PrivateKeyPath(dir_).c_str()), 0);
  EXPECT_THAT(CheckpointSigner::LoadFromDirectory(dir_.path()),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(CheckpointSignerTest, LoadRefusesAMismatchedPublicKey) {
  TempDir other_dir;
  ASSERT_THAT(CheckpointSigner::CreateInDirectory(other_dir.path()), IsOk());
  WriteFileOrDie(PublicKeyPath(dir_), ReadFileOrDie(PublicKeyPath(other_dir)));
  EXPECT_THAT(CheckpointSigner::LoadFromDirectory(dir_.path()),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(CheckpointSignerTest, LoadRefusesAGarbagePrivateKey) {
  WriteFileOrDie(PrivateKeyPath(dir_), "not a key\n");
  EXPECT_THAT(CheckpointSigner::LoadFromDirectory(dir_.path()),
              StatusIs(absl::StatusCode::kDataLoss));
}

// --- Verifier from a public key ---------------------------------------------

TEST_F(CheckpointSignerTest, FromPublicKeyPemRefusesGarbage) {
  const std::string pem = signer_->public_key_pem();
  for (const std::string& bad :
       {std::string(""), std::string("garbage"),
        std::string("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC "
                    "KEY-----\n"),
        pem.substr(0, pem.size() / 2), ReadFileOrDie(PrivateKeyPath(dir_)),
        std::string(20000, 'A')}) {
    EXPECT_THAT(CheckpointVerifier::FromPublicKeyPem(bad),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << bad;
  }
}

TEST(CheckpointVerifierTest, FromPublicKeyPemRefusesOtherAlgorithms) {
  const std::string rsa = ForeignPublicKeyPem("RSA", nullptr);
  const std::string ec = ForeignPublicKeyPem("EC", "P-256");
  const std::string x25519 = ForeignPublicKeyPem("X25519", nullptr);
  for (const std::string* pem : {&rsa, &ec, &x25519}) {
    ASSERT_THAT(*pem, HasSubstr("BEGIN PUBLIC KEY"));
    EXPECT_THAT(
        CheckpointVerifier::FromPublicKeyPem(*pem),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Ed25519")))
        << *pem;
  }
}

}  // namespace
}  // namespace premium
