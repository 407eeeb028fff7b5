#include "clients/premiumctl/connection.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
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
std::string FileProblem(const absl::Status& status) {
  if (absl::IsNotFound(status)) return "no such file";
  return std::string(status.message());
}

absl::StatusOr<std::string> ReadPem(const std::string& flag,
                                    const std::string& path) {
  absl::StatusOr<std::string> pem = ReadSmallFile(path, kPemFileBytesMax);
  if (!pem.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", path, ": ", FileProblem(pem.status())));
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

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentials(
    const GlobalFlags& flags) {
  if (flags.tls_ca.empty() && flags.tls_cert.empty() &&
      flags.tls_key.empty()) {
    return grpc::InsecureChannelCredentials();
  }
  if (flags.tls_cert.empty() != flags.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  grpc::SslCredentialsOptions options;
  if (!flags.tls_ca.empty()) {
    absl::StatusOr<std::string> ca = ReadPem("--tls-ca", flags.tls_ca);
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *ca;
  }
  if (!flags.tls_cert.empty()) {
    absl::StatusOr<std::string> cert = ReadPem("--tls-cert", flags.tls_cert);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadPem("--tls-key", flags.tls_key);
    if (!key.ok()) return key.status();
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
                       FileProblem(token.status())));
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

}  // namespace premium::ctl
