// How premiumctl reaches the server: the global flags of DESIGN section 8,
// the channel they describe, and a context per call with its deadline and
// credentials.
#ifndef PREMIUM_CLIENTS_PREMIUMCTL_CONNECTION_H_
#define PREMIUM_CLIENTS_PREMIUMCTL_CONNECTION_H_

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace premium::ctl {

enum class OutputFormat { kTable, kJson, kCsv };

struct GlobalFlags {
  std::string server;  // HOST:PORT; env PREMIUM_SERVER; 127.0.0.1:50051
  std::string token_file;
  std::string output = "table";
  std::string tls_ca;    // trust this CA (PEM) for the server's certificate
  std::string tls_cert;  // client certificate (PEM), when the server asks
  std::string tls_key;   // its private key (PEM)
  std::string tls_server_name;  // overrides the name checked in the cert
  double timeout_seconds = 60;
};

class Connection {
 public:
  // Reads the token (--token-file, else env PREMIUM_TOKEN; none is fine for
  // calls that need none) and the TLS files. InvalidArgument names the flag.
  static absl::StatusOr<std::unique_ptr<Connection>> Create(
      const GlobalFlags& flags);

  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  OutputFormat output() const { return output_; }
  bool has_token() const { return !token_.empty(); }

  // A context with the call deadline and, when a token is known, the
  // "authorization: Bearer" metadata.
  std::unique_ptr<grpc::ClientContext> NewContext() const;

 private:
  Connection() = default;
  std::shared_ptr<grpc::Channel> channel_;
  std::string token_;
  absl::Duration timeout_;
  OutputFormat output_ = OutputFormat::kTable;
};

// The same command line gives the same request id, so running a command
// again after a lost answer appends nothing twice.
std::string RequestIdFor(absl::string_view command,
                         const google::protobuf::Message& request);

// Today's date, UTC, "YYYY-MM-DD": the default of --as-of and --effective.
std::string Today();

// Prints rows under a header, each column as wide as its widest cell.
void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows);

// Prints one CSV record (RFC 4180: fields quoted when they need it).
void PrintCsvRecord(const std::vector<std::string>& fields);

}  // namespace premium::ctl

#endif  // PREMIUM_CLIENTS_PREMIUMCTL_CONNECTION_H_
