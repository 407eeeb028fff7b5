#include "clients/premiumctl/connection.h"

#include <grpc/support/log.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "ledger/merkle/hasher.h"
#include "ledger/util/files.h"
#include "services/credentials.h"

namespace premium::ctl {
namespace {

constexpr size_t kPemFileBytesMax = 64 * 1024;
constexpr char kDefaultServer[] = "127.0.0.1:50051";
// Large enough for the biggest response any service sends.
constexpr int kMessageBytesMax = 64 << 20;

// ReadSmallFile's NotFound carries only the path, which the caller already
// prints: say what is wrong with it instead.
std::string ReadProblem(const absl::Status& status) {
  if (absl::IsNotFound(status)) return "no such file";
  return std::string(status.message());
}

absl::StatusOr<std::string> ReadPem(const std::string& flag,
                                    const std::string& path) {
  absl::StatusOr<std::string> pem = ReadSmallFile(path, kPemFileBytesMax);
  if (!pem.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", path, ": ", ReadProblem(pem.status())));
  }
  return pem;
}

absl::StatusOr<OutputFormat> ParseOutput(const std::string& output) {
  if (output == "table") return OutputFormat::kTable;
  if (output == "json") return OutputFormat::kJson;
  if (output == "csv") return OutputFormat::kCsv;
  return absl::InvalidArgumentError(absl::StrCat(
      "--output must be table, json or csv, not \"", output, "\""));
}

// gRPC loads the PEM files only when it first connects, and a bad file then
// shows as "UNAVAILABLE: empty address list": ChannelCredentials checks them
// first, naming the flag. ParseCert and ParseKey return null when `pem` holds
// no certificate, or no unencrypted private key.
using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;
using Cert = std::unique_ptr<X509, decltype(&X509_free)>;
using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
Bio PemBio(const std::string& pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
             &BIO_free);
}
Cert ParseCert(const std::string& pem) {
  Bio bio = PemBio(pem);
  Cert cert(bio == nullptr
                ? nullptr
                : PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr),
            &X509_free);
  ERR_clear_error();
  return cert;
}
Key ParseKey(const std::string& pem) {
  Bio bio = PemBio(pem);
  // No passphrase prompt: gRPC cannot use an encrypted key either.
  pem_password_cb* no_passphrase = [](char*, int, int, void*) { return 0; };
  Key key(bio == nullptr ? nullptr
                         : PEM_read_bio_PrivateKey(bio.get(), nullptr,
                                                   no_passphrase, nullptr),
          &EVP_PKEY_free);
  ERR_clear_error();
  return key;
}

// gRPC logs its own lines for TLS failures (a failed handshake, a file it
// cannot load) besides the status premiumctl prints: keep standard error to
// that one line unless GRPC_VERBOSITY asks for gRPC's logs.
void QuietGrpcLogs() {
  if (std::getenv("GRPC_VERBOSITY") == nullptr) {
    gpr_set_log_function([](gpr_log_func_args*) {});
  }
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentials(
    const GlobalFlags& flags) {
  if (flags.tls_ca.empty() && flags.tls_cert.empty() && flags.tls_key.empty()) {
    return grpc::InsecureChannelCredentials();
  }
  if (flags.tls_cert.empty() != flags.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  grpc::SslCredentialsOptions options;
  if (!flags.tls_ca.empty()) {
    absl::StatusOr<std::string> ca = ReadPem("--tls-ca", flags.tls_ca);
    if (!ca.ok()) return ca.status();
    if (ParseCert(*ca) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("--tls-ca ", flags.tls_ca, ": no PEM certificate"));
    }
    options.pem_root_certs = *ca;
  }
  if (!flags.tls_cert.empty()) {
    absl::StatusOr<std::string> cert = ReadPem("--tls-cert", flags.tls_cert);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadPem("--tls-key", flags.tls_key);
    if (!key.ok()) return key.status();
    const Cert parsed_cert = ParseCert(*cert);
    if (parsed_cert == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("--tls-cert ", flags.tls_cert, ": no PEM certificate"));
    }
    const Key parsed_key = ParseKey(*key);
    if (parsed_key == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--tls-key ", flags.tls_key, ": no unencrypted PEM private key"));
    }
    if (X509_check_private_key(parsed_cert.get(), parsed_key.get()) != 1) {
      ERR_clear_error();
      return absl::InvalidArgumentError(
          absl::StrCat("--tls-key ", flags.tls_key,
                       " is not the key of --tls-cert ", flags.tls_cert));
    }
    options.pem_cert_chain = *cert;
    options.pem_private_key = *key;
  }
  return grpc::SslCredentials(options);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Connection>> Connection::Create(
    const GlobalFlags& flags) {
  auto connection = std::unique_ptr<Connection>(new Connection());
  absl::StatusOr<OutputFormat> output = ParseOutput(flags.output);
  if (!output.ok()) return output.status();
  connection->output_ = *output;
  if (!(flags.timeout_seconds > 0)) {
    return absl::InvalidArgumentError("--timeout must be positive");
  }
  connection->timeout_ = absl::Seconds(flags.timeout_seconds);

  if (!flags.token_file.empty()) {
    absl::StatusOr<std::string> token = ReadTokenFile(flags.token_file);
    if (!token.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--token-file ", flags.token_file, ": ",
                       ReadProblem(token.status())));
    }
    connection->token_ = *token;
  } else if (const char* token = std::getenv("PREMIUM_TOKEN");
             token != nullptr) {
    connection->token_ = token;
  }

  std::string server = flags.server;
  if (server.empty()) {
    const char* env = std::getenv("PREMIUM_SERVER");
    server = env != nullptr && *env != '\0' ? env : kDefaultServer;
  }
  QuietGrpcLogs();
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      ChannelCredentials(flags);
  if (!credentials.ok()) return credentials.status();
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(kMessageBytesMax);
  arguments.SetMaxSendMessageSize(kMessageBytesMax);
  if (!flags.tls_server_name.empty()) {
    arguments.SetSslTargetNameOverride(flags.tls_server_name);
  }
  connection->channel_ =
      grpc::CreateCustomChannel(server, *credentials, arguments);
  return connection;
}

std::unique_ptr<grpc::ClientContext> Connection::NewContext() const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  if (!token_.empty()) {
    context->AddMetadata("authorization", absl::StrCat("Bearer ", token_));
  }
  return context;
}

std::string RequestIdFor(absl::string_view command,
                         const google::protobuf::Message& request) {
  const merkle::Hash digest = merkle::HashLeaf(
      absl::StrCat(command, "\n", request.SerializeAsString()));
  return absl::StrCat("cli-", command, "-",
                      absl::BytesToHexString(absl::string_view(
                          reinterpret_cast<const char*>(digest.data()), 16)));
}

std::string Today() {
  const absl::CivilDay today =
      absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
  return absl::StrFormat("%04d-%02d-%02d", today.year(), today.month(),
                         today.day());
}

void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(header.size(), 0);
  for (size_t i = 0; i < header.size(); ++i) widths[i] = header[i].size();
  for (const std::vector<std::string>& row : rows) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  const auto print_row = [&widths](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      // The last column is not padded: no trailing blanks.
      absl::StrAppend(&line, i == 0 ? "" : "  ",
                      i + 1 == row.size()
                          ? row[i]
                          : absl::StrFormat("%-*s", widths[i], row[i]));
    }
    std::printf("%s\n", line.c_str());
  };
  print_row(header);
  for (const std::vector<std::string>& row : rows) print_row(row);
}

void PrintCsvRecord(const std::vector<std::string>& fields) {
  std::string line;
  for (size_t i = 0; i < fields.size(); ++i) {
    const std::string& field = fields[i];
    const bool quote = field.find_first_of(",\"\r\n") != std::string::npos;
    absl::StrAppend(
        &line, i == 0 ? "" : ",", quote ? "\"" : "",
        quote ? absl::StrReplaceAll(field, {{"\"", "\"\""}}) : field,
        quote ? "\"" : "");
  }
  std::printf("%s\n", line.c_str());
}

}  // namespace premium::ctl
