// The server's secret: a 256-bit key in <data-dir>/server.secret (mode 0600)
// from which credentials are derived deterministically, so that a retried
// request gets back the same token or paystub code as the first attempt
// without the server storing any of them.
#ifndef PREMIUM_SERVICES_SERVER_SECRET_H_
#define PREMIUM_SERVICES_SERVER_SECRET_H_

#include <openssl/types.h>

#include <initializer_list>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ledger/merkle/hasher.h"

namespace premium {

class ServerSecret {
 public:
  static constexpr char kFileName[] = "server.secret";

  // Loads the secret at `path`, creating it (mode 0600) if absent.
  static absl::StatusOr<std::unique_ptr<ServerSecret>> LoadOrCreate(
      const std::string& path);
  // Loads an existing secret: NotFound if absent, FailedPrecondition if
  // others may read it, DataLoss if malformed.
  static absl::StatusOr<std::unique_ptr<ServerSecret>> Load(
      const std::string& path);

  // HMAC-SHA256 over the length-prefixed `purpose` and `parts`: distinct
  // inputs never collide by concatenation. Safe to call from many threads.
  merkle::Hash Derive(absl::string_view purpose,
                      std::initializer_list<absl::string_view> parts) const;

 private:
  struct MacContextDeleter {
    void operator()(EVP_MAC_CTX* context) const;
  };
  using MacContext = std::unique_ptr<EVP_MAC_CTX, MacContextDeleter>;

  explicit ServerSecret(MacContext keyed) : keyed_(std::move(keyed)) {}

  // HMAC-SHA256 already keyed with the secret, never fed itself: each Derive
  // works on a copy, so no call fetches the algorithms or hashes the key
  // again (a paystub code per payroll line). EVP_MAC_CTX_dup takes it const,
  // which OpenSSL makes safe to do from many threads at once.
  const MacContext keyed_;
};

}  // namespace premium

#endif  // PREMIUM_SERVICES_SERVER_SECRET_H_
