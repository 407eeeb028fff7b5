// TLS between premiumctl and premiumd, driven as a user would: the test makes
// a throwaway PKI with the OpenSSL 3 C API (a CA, a server certificate for
// localhost and 127.0.0.1, a client certificate, and an unrelated CA with a
// client certificate of its own), starts premiumd as a child process on
// 127.0.0.1:0 with the TLS flags (its first line of standard output names
// the port) and runs premiumctl per command.
//
// Every wait has a timeout; a child still running at the end of a test is
// killed, so a hung binary fails the test instead of hanging it.
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/testing/child_process.h"
#include "ledger/testing/ledger_testing.h"
#include "nlohmann/json.hpp"

namespace premium {
namespace {

using ::premium::testing::Child;
using ::premium::testing::CommandResult;
using ::premium::testing::ExpectOneLine;
using ::premium::testing::RunCommand;
using ::premium::testing::TempDir;
using ::premium::testing::WriteFileOrDie;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr absl::Duration kStartTimeout = absl::Seconds(20);
constexpr absl::Duration kStopTimeout = absl::Seconds(15);

// ---------------------------------------------------------------------------

// A failed premiumctl run: non-zero, nothing on stdout, one line on stderr.
void ExpectCtlFailure(const CommandResult& result) {
  EXPECT_NE(result.exit_code, 0) << result.out;
  EXPECT_EQ(result.out, "");
  ExpectOneLine(result.err);
  EXPECT_THAT(result.err, StartsWith("premiumctl: "));
}

// ---------------------------------------------------------------------------
// A throwaway PKI, made with the OpenSSL 3 C API.

struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct CertFree {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;
using Bio = std::unique_ptr<BIO, BioFree>;

std::string OpenSslErrors() {
  std::string errors;
  while (const unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    absl::StrAppend(&errors, errors.empty() ? "" : "; ", buffer);
  }
  return errors;
}

enum class CertKind { kCa, kServer, kClient };

struct KeyAndCert {
  Key key;
  Cert cert;
};

void AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension =
      X509V3_EXT_conf_nid(nullptr, &context, nid, value);
  ASSERT_NE(extension, nullptr)
      << OBJ_nid2sn(nid) << "=" << value << ": " << OpenSslErrors();
  const int added = X509_add_ext(cert, extension, -1);
  X509_EXTENSION_free(extension);
  ASSERT_EQ(added, 1) << OpenSslErrors();
}

// A P-256 key and a certificate for it: self-signed when `issuer` is null.
void Issue(const std::string& common_name, CertKind kind,
           const KeyAndCert* issuer, long serial, KeyAndCert* issued) {
  issued->key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  ASSERT_NE(issued->key, nullptr) << OpenSslErrors();
  issued->cert.reset(X509_new());
  X509* cert = issued->cert.get();
  ASSERT_NE(cert, nullptr);
  ASSERT_EQ(X509_set_version(cert, X509_VERSION_3), 1);
  ASSERT_EQ(ASN1_INTEGER_set(X509_get_serialNumber(cert), serial), 1);
  ASSERT_NE(X509_gmtime_adj(X509_getm_notBefore(cert), -3600), nullptr);
  ASSERT_NE(X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600), nullptr);
  X509_NAME* name = X509_get_subject_name(cert);
  ASSERT_EQ(X509_NAME_add_entry_by_txt(
                name, "O", MBSTRING_ASC,
                reinterpret_cast<const unsigned char*>("premium tls_test"), -1,
                -1, 0),
            1);
  ASSERT_EQ(X509_NAME_add_entry_by_txt(
                name, "CN", MBSTRING_ASC,
                reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                -1, 0),
            1);
  X509* issuer_cert = issuer != nullptr ? issuer->cert.get() : cert;
  EVP_PKEY* issuer_key =
      issuer != nullptr ? issuer->key.get() : issued->key.get();
  ASSERT_EQ(X509_set_issuer_name(cert, X509_get_subject_name(issuer_cert)), 1);
  ASSERT_EQ(X509_set_pubkey(cert, issued->key.get()), 1);

  ASSERT_NO_FATAL_FAILURE(
      AddExtension(cert, issuer_cert, NID_subject_key_identifier, "hash"));
  if (issuer != nullptr) {
    ASSERT_NO_FATAL_FAILURE(AddExtension(
        cert, issuer_cert, NID_authority_key_identifier, "keyid:always"));
  }
  switch (kind) {
    case CertKind::kCa:
      ASSERT_NO_FATAL_FAILURE(AddExtension(
          cert, issuer_cert, NID_basic_constraints, "critical,CA:TRUE"));
      ASSERT_NO_FATAL_FAILURE(AddExtension(cert, issuer_cert, NID_key_usage,
                                           "critical,keyCertSign,cRLSign"));
      break;
    case CertKind::kServer:
      ASSERT_NO_FATAL_FAILURE(AddExtension(
          cert, issuer_cert, NID_basic_constraints, "critical,CA:FALSE"));
      ASSERT_NO_FATAL_FAILURE(AddExtension(cert, issuer_cert, NID_key_usage,
                                           "critical,digitalSignature"));
      ASSERT_NO_FATAL_FAILURE(
          AddExtension(cert, issuer_cert, NID_ext_key_usage, "serverAuth"));
      ASSERT_NO_FATAL_FAILURE(AddExtension(cert, issuer_cert,
                                           NID_subject_alt_name,
                                           "DNS:localhost,IP:127.0.0.1"));
      break;
    case CertKind::kClient:
      ASSERT_NO_FATAL_FAILURE(AddExtension(
          cert, issuer_cert, NID_basic_constraints, "critical,CA:FALSE"));
      ASSERT_NO_FATAL_FAILURE(AddExtension(cert, issuer_cert, NID_key_usage,
                                           "critical,digitalSignature"));
      ASSERT_NO_FATAL_FAILURE(
          AddExtension(cert, issuer_cert, NID_ext_key_usage, "clientAuth"));
      break;
  }
  ASSERT_GT(X509_sign(cert, issuer_key, EVP_sha256()), 0) << OpenSslErrors();
}

std::string BioContents(BIO* bio) {
  BUF_MEM* memory = nullptr;
  BIO_get_mem_ptr(bio, &memory);
  if (memory == nullptr) return "";
  return std::string(memory->data, memory->length);
}

void WriteCertPem(const std::string& path, X509* cert) {
  Bio bio(BIO_new(BIO_s_mem()));
  ASSERT_NE(bio, nullptr);
  ASSERT_EQ(PEM_write_bio_X509(bio.get(), cert), 1) << OpenSslErrors();
  ASSERT_NO_FATAL_FAILURE(WriteFileOrDie(path, BioContents(bio.get())));
}

void WriteKeyPem(const std::string& path, EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  ASSERT_NE(bio, nullptr);
  ASSERT_EQ(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0,
                                     nullptr, nullptr),
            1)
      << OpenSslErrors();
  ASSERT_NO_FATAL_FAILURE(WriteFileOrDie(path, BioContents(bio.get())));
  ASSERT_EQ(chmod(path.c_str(), 0600), 0) << path;
}

// The PEM files of the throwaway PKI.
struct Pki {
  std::string ca;           // the CA the server and client certs chain to
  std::string server_cert;  // CN=localhost, DNS:localhost, IP:127.0.0.1
  std::string server_key;
  std::string client_cert;  // a client certificate signed by `ca`
  std::string client_key;
  std::string other_ca;           // an unrelated CA
  std::string other_client_cert;  // signed by `other_ca`
  std::string other_client_key;
};

void MakePki(const TempDir& dir, Pki* pki) {
  KeyAndCert ca;
  KeyAndCert server;
  KeyAndCert client;
  KeyAndCert other_ca;
  KeyAndCert other_client;
  ASSERT_NO_FATAL_FAILURE(Issue("tls_test CA", CertKind::kCa, nullptr, 1, &ca));
  ASSERT_NO_FATAL_FAILURE(
      Issue("localhost", CertKind::kServer, &ca, 2, &server));
  ASSERT_NO_FATAL_FAILURE(
      Issue("tls_test client", CertKind::kClient, &ca, 3, &client));
  ASSERT_NO_FATAL_FAILURE(
      Issue("tls_test other CA", CertKind::kCa, nullptr, 1, &other_ca));
  ASSERT_NO_FATAL_FAILURE(Issue("tls_test other client", CertKind::kClient,
                                &other_ca, 2, &other_client));

  pki->ca = dir.Sub("ca.pem");
  pki->server_cert = dir.Sub("server.pem");
  pki->server_key = dir.Sub("server.key");
  pki->client_cert = dir.Sub("client.pem");
  pki->client_key = dir.Sub("client.key");
  pki->other_ca = dir.Sub("other_ca.pem");
  pki->other_client_cert = dir.Sub("other_client.pem");
  pki->other_client_key = dir.Sub("other_client.key");
  ASSERT_NO_FATAL_FAILURE(WriteCertPem(pki->ca, ca.cert.get()));
  ASSERT_NO_FATAL_FAILURE(WriteCertPem(pki->server_cert, server.cert.get()));
  ASSERT_NO_FATAL_FAILURE(WriteKeyPem(pki->server_key, server.key.get()));
  ASSERT_NO_FATAL_FAILURE(WriteCertPem(pki->client_cert, client.cert.get()));
  ASSERT_NO_FATAL_FAILURE(WriteKeyPem(pki->client_key, client.key.get()));
  ASSERT_NO_FATAL_FAILURE(WriteCertPem(pki->other_ca, other_ca.cert.get()));
  ASSERT_NO_FATAL_FAILURE(
      WriteCertPem(pki->other_client_cert, other_client.cert.get()));
  ASSERT_NO_FATAL_FAILURE(
      WriteKeyPem(pki->other_client_key, other_client.key.get()));

  // The chain verifies with OpenSSL itself, so a refusal below is premiumd's
  // or premiumctl's doing, not a broken certificate.
  for (const auto& [leaf, root] :
       {std::pair{&server, &ca}, std::pair{&client, &ca},
        std::pair{&other_client, &other_ca}}) {
    X509_STORE* store = X509_STORE_new();
    ASSERT_EQ(X509_STORE_add_cert(store, root->cert.get()), 1);
    X509_STORE_CTX* context = X509_STORE_CTX_new();
    ASSERT_EQ(X509_STORE_CTX_init(context, store, leaf->cert.get(), nullptr),
              1);
    const int verified = X509_verify_cert(context);
    const int error = X509_STORE_CTX_get_error(context);
    X509_STORE_CTX_free(context);
    X509_STORE_free(store);
    ASSERT_EQ(verified, 1) << X509_verify_cert_error_string(error);
  }
}

// ---------------------------------------------------------------------------

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(MakePki(dir_, &pki_)); }

  void TearDown() override {
    if (server_ != nullptr && server_->running()) {
      server_->Signal(SIGTERM);
      const std::optional<int> exit_code = server_->WaitForExit(kStopTimeout);
      EXPECT_EQ(exit_code, std::optional<int>(0))
          << "premiumd did not stop cleanly; stderr: " << server_->err();
    }
    server_.reset();
  }

  // Starts premiumd on `data_dir_` with `tls_args` and learns its port from
  // the first line of its standard output. Call as
  // ASSERT_NO_FATAL_FAILURE(StartServer(...)).
  void StartServer(const std::vector<std::string>& tls_args) {
    std::vector<std::string> args = {PREMIUMD_PATH, "--data-dir", data_dir_,
                                     "--listen", "127.0.0.1:0"};
    args.insert(args.end(), tls_args.begin(), tls_args.end());
    server_ = Child::Start(args);
    ASSERT_NE(server_, nullptr);
    const std::optional<std::string> line =
        server_->WaitForFirstLine(kStartTimeout);
    ASSERT_TRUE(line.has_value())
        << "premiumd printed no line; stderr: " << server_->err();
    ASSERT_THAT(*line, StartsWith("premiumd: serving ledger "))
        << "stderr: " << server_->err();
    const size_t colon = line->rfind(':');
    ASSERT_NE(colon, std::string::npos) << *line;
    ASSERT_THAT(line->substr(0, colon), ::testing::EndsWith(" on 127.0.0.1"))
        << *line;
    ASSERT_TRUE(absl::SimpleAtoi(line->substr(colon + 1), &port_)) << *line;
    ASSERT_GT(port_, 0);
  }

  std::string Address(const std::string& host = "127.0.0.1") const {
    return absl::StrCat(host, ":", port_);
  }

  // premiumctl --server <address> --timeout 10 <args>.
  CommandResult Ctl(const std::vector<std::string>& args,
                    const std::string& address = "") {
    std::vector<std::string> command = {PREMIUMCTL_PATH, "--server",
                                        address.empty() ? Address() : address,
                                        "--timeout", "10"};
    command.insert(command.end(), args.begin(), args.end());
    return RunCommand(command);
  }

  // `ledger checkpoint --output json` with `tls_args`: the tree size, or -1
  // (with a test failure) if the command failed.
  int64_t TreeSize(const std::vector<std::string>& tls_args) {
    std::vector<std::string> args = tls_args;
    args.insert(args.end(), {"--output", "json", "ledger", "checkpoint"});
    const CommandResult result = Ctl(args);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.err, "");
    if (result.exit_code != 0) return -1;
    const nlohmann::json checkpoint =
        nlohmann::json::parse(result.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(checkpoint.is_object()) << result.out;
    if (!checkpoint.is_object() || !checkpoint.contains("tree_size")) {
      ADD_FAILURE() << "no tree_size in " << result.out;
      return -1;
    }
    EXPECT_THAT(checkpoint.value("public_key", ""),
                HasSubstr("BEGIN PUBLIC KEY"));
    const nlohmann::json& size = checkpoint["tree_size"];
    if (size.is_number_integer()) return size.get<int64_t>();
    int64_t parsed = -1;
    EXPECT_TRUE(size.is_string() &&
                absl::SimpleAtoi(size.get<std::string>(), &parsed))
        << result.out;
    return parsed;
  }

  // `program add` as the admin, with `tls_args`.
  CommandResult AddProgram(const std::vector<std::string>& tls_args,
                           const std::string& id) {
    std::vector<std::string> args = tls_args;
    args.insert(
        args.end(),
        {"--token-file", data_dir_ + "/admin.token", "program", "add", "--id",
         id, "--name", "Program " + id, "--currency", "USD", "--unit", "lb",
         "--worker-rate", "0.01", "--effective", "2025-01-01"});
    return Ctl(args);
  }

  // premiumd run to its end (it must not start serving).
  CommandResult RunPremiumd(const std::vector<std::string>& tls_args,
                            const std::string& data_dir) {
    std::vector<std::string> args = {PREMIUMD_PATH, "--data-dir", data_dir,
                                     "--listen", "127.0.0.1:0"};
    args.insert(args.end(), tls_args.begin(), tls_args.end());
    return RunCommand(args);
  }

  TempDir dir_;
  const std::string data_dir_ = dir_.Sub("data");
  Pki pki_;
  std::unique_ptr<Child> server_;
  int port_ = 0;
};

// Section 6: "TLS (server certificate, ...) by flags". The server presents
// its certificate; a client that trusts the CA gets through, one that speaks
// plaintext or trusts another CA does not.
TEST_F(TlsTest, ServerCertificateServesClientsThatTrustItsCa) {
  ASSERT_NO_FATAL_FAILURE(StartServer(
      {"--tls-cert", pki_.server_cert, "--tls-key", pki_.server_key}));

  const CommandResult checkpoint =
      Ctl({"--tls-ca", pki_.ca, "ledger", "checkpoint"});
  EXPECT_EQ(checkpoint.exit_code, 0) << checkpoint.err;
  EXPECT_EQ(checkpoint.err, "");
  EXPECT_FALSE(checkpoint.out.empty());

  // Plaintext to a TLS server.
  {
    SCOPED_TRACE("plaintext");
    ExpectCtlFailure(Ctl({"ledger", "checkpoint"}));
  }
  // A CA that did not sign the server's certificate.
  {
    SCOPED_TRACE("wrong CA");
    ExpectCtlFailure(Ctl({"--tls-ca", pki_.other_ca, "ledger", "checkpoint"}));
  }
  // The certificate names localhost and 127.0.0.1, nothing else.
  {
    SCOPED_TRACE("name not in the certificate");
    ExpectCtlFailure(Ctl({"--tls-ca", pki_.ca, "--tls-server-name",
                          "not-this-server.example", "ledger", "checkpoint"}));
  }
  EXPECT_GE(TreeSize({"--tls-ca", pki_.ca, "--tls-server-name", "localhost"}),
            0);
  const CommandResult by_name =
      Ctl({"--tls-ca", pki_.ca, "ledger", "checkpoint"}, Address("localhost"));
  EXPECT_EQ(by_name.exit_code, 0) << by_name.err;

  // The admin writes over TLS: the tree grows.
  const int64_t before = TreeSize({"--tls-ca", pki_.ca});
  ASSERT_GE(before, 1);
  const CommandResult program = AddProgram({"--tls-ca", pki_.ca}, "ffp");
  EXPECT_EQ(program.exit_code, 0) << program.err;
  EXPECT_EQ(program.err, "");
  EXPECT_THAT(program.out, HasSubstr("ffp"));
  EXPECT_GT(TreeSize({"--tls-ca", pki_.ca}), before);

  // The same write without TLS, or trusting the wrong CA, does not happen.
  {
    SCOPED_TRACE("program add in plaintext");
    ExpectCtlFailure(AddProgram({}, "plain"));
  }
  {
    SCOPED_TRACE("program add trusting the wrong CA");
    ExpectCtlFailure(AddProgram({"--tls-ca", pki_.other_ca}, "other"));
  }
  EXPECT_EQ(TreeSize({"--tls-ca", pki_.ca}), before + 1);
}

// Section 6: "optional client certificates". With --tls-client-ca only
// clients presenting a certificate that CA signed get through.
TEST_F(TlsTest, ClientCaRequiresClientCertificateSignedByIt) {
  ASSERT_NO_FATAL_FAILURE(
      StartServer({"--tls-cert", pki_.server_cert, "--tls-key", pki_.server_key,
                   "--tls-client-ca", pki_.ca}));
  const std::vector<std::string> client = {"--tls-ca",   pki_.ca,
                                           "--tls-cert", pki_.client_cert,
                                           "--tls-key",  pki_.client_key};

  const int64_t before = TreeSize(client);
  ASSERT_GE(before, 1);
  const CommandResult program = AddProgram(client, "ffp");
  EXPECT_EQ(program.exit_code, 0) << program.err;
  EXPECT_EQ(program.err, "");
  EXPECT_THAT(program.out, HasSubstr("ffp"));
  EXPECT_EQ(TreeSize(client), before + 1);

  {
    SCOPED_TRACE("no client certificate");
    ExpectCtlFailure(Ctl({"--tls-ca", pki_.ca, "ledger", "checkpoint"}));
    ExpectCtlFailure(AddProgram({"--tls-ca", pki_.ca}, "no-cert"));
  }
  {
    SCOPED_TRACE("client certificate of an unrelated CA");
    const std::vector<std::string> other = {
        "--tls-ca",   pki_.ca,
        "--tls-cert", pki_.other_client_cert,
        "--tls-key",  pki_.other_client_key};
    std::vector<std::string> args = other;
    args.insert(args.end(), {"ledger", "checkpoint"});
    ExpectCtlFailure(Ctl(args));
    ExpectCtlFailure(AddProgram(other, "other-cert"));
  }
  {
    SCOPED_TRACE("a client certificate whose key does not match");
    const CommandResult result =
        Ctl({"--tls-ca", pki_.ca, "--tls-cert", pki_.client_cert, "--tls-key",
             pki_.other_client_key, "ledger", "checkpoint"});
    ExpectCtlFailure(result);
    EXPECT_THAT(result.err, HasSubstr("is not the key of --tls-cert"));
  }
  {
    SCOPED_TRACE("plaintext");
    ExpectCtlFailure(Ctl({"ledger", "checkpoint"}));
  }
  // None of the refused clients wrote anything; the good one still works.
  EXPECT_EQ(TreeSize(client), before + 1);
}

struct BadFlags {
  std::vector<std::string> flags;
  std::string message;  // a part of the message on standard error
};

// Starts premiumd with `args` (after the binary) and returns it with the
// port of its first line ("premiumd: serving ... on HOST:PORT"), or a test
// failure.
std::unique_ptr<Child> StartPremiumd(const std::vector<std::string>& args,
                                     int* port) {
  std::vector<std::string> command = {PREMIUMD_PATH};
  command.insert(command.end(), args.begin(), args.end());
  std::unique_ptr<Child> child = Child::Start(command);
  if (child == nullptr) {
    ADD_FAILURE() << "cannot start premiumd";
    return nullptr;
  }
  const std::optional<std::string> line =
      child->WaitForFirstLine(kStartTimeout);
  if (!line.has_value() || !absl::StartsWith(*line, "premiumd: serving ") ||
      !absl::SimpleAtoi(line->substr(line->rfind(':') + 1), port)) {
    ADD_FAILURE() << "premiumd did not start: " << line.value_or("")
                  << "; stderr: " << child->err();
    return nullptr;
  }
  return child;
}

// The split deployment over TLS: the ledger process requires client
// certificates; a front presenting one signed by the CA reaches it, a front
// without one cannot, and the ledger flags are checked at start.
TEST_F(TlsTest, FrontReachesATlsLedgerWithItsClientCertificate) {
  int ledger_port = 0;
  std::unique_ptr<Child> ledger =
      StartPremiumd({"--data-dir", data_dir_, "--ledger-only", "--listen",
                     "127.0.0.1:0", "--tls-cert", pki_.server_cert, "--tls-key",
                     pki_.server_key, "--tls-client-ca", pki_.ca},
                    &ledger_port);
  ASSERT_NE(ledger, nullptr);
  const std::vector<std::string> front_args = {
      "--ledger-addr",
      absl::StrCat("127.0.0.1:", ledger_port),
      "--ledger-token-file",
      data_dir_ + "/ledger.token",
      "--secret-file",
      data_dir_ + "/server.secret",
      "--listen",
      "127.0.0.1:0",
      "--ledger-tls-ca",
      pki_.ca};
  std::vector<std::string> with_cert = front_args;
  with_cert.insert(with_cert.end(), {"--ledger-tls-cert", pki_.client_cert,
                                     "--ledger-tls-key", pki_.client_key});
  std::unique_ptr<Child> front = StartPremiumd(with_cert, &port_);
  ASSERT_NE(front, nullptr);
  const CommandResult added = AddProgram({}, "ffp");
  EXPECT_EQ(added.exit_code, 0) << added.err;
  EXPECT_THAT(added.out, HasSubstr("ffp"));
  front->Signal(SIGTERM);

  // Without a client certificate the ledger refuses the connection.
  std::unique_ptr<Child> no_cert = StartPremiumd(front_args, &port_);
  ASSERT_NE(no_cert, nullptr);
  ExpectCtlFailure(AddProgram({}, "other"));
  no_cert->Signal(SIGTERM);

  // Flags that cannot work are refused before serving.
  const std::vector<BadFlags> cases = {
      {{"--ledger-tls-cert", pki_.client_cert, "--ledger-tls-key",
        pki_.client_key},
       "need --ledger-tls-ca"},
      {{"--ledger-tls-ca", pki_.ca, "--ledger-tls-cert", pki_.client_cert},
       "--ledger-tls-cert and --ledger-tls-key go together"},
      {{"--ledger-tls-ca", dir_.Sub("missing.pem")}, "missing.pem"},
  };
  for (const BadFlags& bad : cases) {
    SCOPED_TRACE(absl::StrJoin(bad.flags, " "));
    std::vector<std::string> args = {PREMIUMD_PATH,
                                     "--ledger-addr",
                                     absl::StrCat("127.0.0.1:", ledger_port),
                                     "--ledger-token-file",
                                     data_dir_ + "/ledger.token",
                                     "--secret-file",
                                     data_dir_ + "/server.secret",
                                     "--listen",
                                     "127.0.0.1:0"};
    args.insert(args.end(), bad.flags.begin(), bad.flags.end());
    const CommandResult result = RunCommand(args);
    EXPECT_NE(result.exit_code, 0) << result.err;
    EXPECT_THAT(result.out, Not(HasSubstr("serving")));
    EXPECT_THAT(result.err, HasSubstr(bad.message));
  }
  ledger->Signal(SIGTERM);
}

// Incomplete or unusable TLS flags are refused at start, with a message, and
// premiumd never serves (in plaintext or otherwise) instead.
TEST_F(TlsTest, PremiumdRefusesBadTlsFlags) {
  const std::vector<BadFlags> cases = {
      {{"--tls-cert", pki_.server_cert},
       "--tls-cert and --tls-key go together"},
      {{"--tls-key", pki_.server_key}, "--tls-cert and --tls-key go together"},
      {{"--tls-client-ca", pki_.ca},
       "--tls-client-ca needs --tls-cert and --tls-key"},
      {{"--tls-cert", pki_.server_cert, "--tls-client-ca", pki_.ca},
       "--tls-cert and --tls-key go together"},
      {{"--tls-cert", dir_.Sub("missing.pem"), "--tls-key", pki_.server_key},
       "missing.pem"},
      // gRPC refuses the pair when the server starts.
      {{"--tls-cert", pki_.server_cert, "--tls-key", pki_.client_key}, ""},
  };
  int run = 0;
  for (const BadFlags& bad : cases) {
    SCOPED_TRACE(absl::StrJoin(bad.flags, " "));
    const CommandResult result =
        RunPremiumd(bad.flags, dir_.Sub(absl::StrCat("data", run++)));
    EXPECT_NE(result.exit_code, 0) << result.err;
    EXPECT_THAT(result.out, Not(HasSubstr("serving")));
    EXPECT_FALSE(result.err.empty());
    EXPECT_THAT(result.err, HasSubstr(bad.message));
  }
}

// premiumctl refuses a client certificate without its key (and the
// reverse), and files that hold no certificate or key, before connecting:
// one line that names the flag.
TEST_F(TlsTest, PremiumctlRefusesBadTlsFlags) {
  const std::vector<BadFlags> cases = {
      {{"--tls-ca", pki_.ca, "--tls-cert", pki_.client_cert},
       "INVALID_ARGUMENT: --tls-cert and --tls-key go together"},
      {{"--tls-cert", pki_.client_cert},
       "INVALID_ARGUMENT: --tls-cert and --tls-key go together"},
      {{"--tls-ca", pki_.ca, "--tls-key", pki_.client_key},
       "INVALID_ARGUMENT: --tls-cert and --tls-key go together"},
      {{"--tls-ca", dir_.Sub("missing.pem")},
       absl::StrCat("--tls-ca ", dir_.Sub("missing.pem"), ": no such file")},
      {{"--tls-ca", pki_.client_key},
       absl::StrCat("--tls-ca ", pki_.client_key, ": no PEM certificate")},
      {{"--tls-ca", pki_.ca, "--tls-cert", pki_.client_key, "--tls-key",
        pki_.client_key},
       absl::StrCat("--tls-cert ", pki_.client_key, ": no PEM certificate")},
      {{"--tls-ca", pki_.ca, "--tls-cert", pki_.client_cert, "--tls-key",
        pki_.client_cert},
       absl::StrCat("--tls-key ", pki_.client_cert, ": no unencrypted")},
  };
  for (const BadFlags& bad : cases) {
    SCOPED_TRACE(absl::StrJoin(bad.flags, " "));
    std::vector<std::string> args = bad.flags;
    args.insert(args.end(), {"ledger", "checkpoint"});
    // No server: the flags are checked before any connection (one to port 1
    // would fail with "Connection refused" instead).
    const CommandResult result = Ctl(args, "127.0.0.1:1");
    ExpectCtlFailure(result);
    EXPECT_THAT(result.err, HasSubstr(bad.message));
  }
}

}  // namespace
}  // namespace premium
