// premiumctl: the command line of the premium ledger (DESIGN section 8).
#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "clients/premiumctl/commands.h"
#include "clients/premiumctl/connection.h"

int main(int argc, char** argv) {
  using premium::ctl::CommandAction;
  CLI::App app{"premiumctl: the premium ledger's command line"};
  app.require_subcommand(1);
  // Global flags may also follow the command: "premiumctl program add ...
  // --output json". Subcommands inherit this setting when added after it.
  app.fallthrough();
  premium::ctl::GlobalFlags flags;
  app.add_option("--server", flags.server,
                 "HOST:PORT (env PREMIUM_SERVER; default 127.0.0.1:50051)");
  app.add_option("--token-file", flags.token_file,
                 "file holding your token (or env PREMIUM_TOKEN)");
  app.add_option("--output", flags.output, "table, json or csv")
      ->capture_default_str();
  app.add_option("--tls-ca", flags.tls_ca,
                 "CA certificate (PEM) to trust for the server: enables TLS");
  app.add_option("--tls-cert", flags.tls_cert, "client certificate (PEM)");
  app.add_option("--tls-key", flags.tls_key, "client private key (PEM)");
  app.add_option("--tls-server-name", flags.tls_server_name,
                 "name to expect in the server's certificate");
  app.add_option("--timeout", flags.timeout_seconds,
                 "seconds each call may take")
      ->capture_default_str();

  CommandAction action;
  const premium::ctl::ActionSink set_action = [&action](CommandAction chosen) {
    action = std::move(chosen);
  };
  premium::ctl::AddAdminCommands(app, set_action);
  premium::ctl::AddAuditCommands(app, set_action);
  premium::ctl::AddLedgerCommands(app, set_action);
  premium::ctl::AddStandingCommands(app, set_action);
  premium::ctl::AddUploadCommands(app, set_action);
  premium::ctl::AddListCommands(app, set_action);
  premium::ctl::AddWorkerCommands(app, set_action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForAllHelp& help) {
    return app.exit(help);
  } catch (const CLI::ParseError& error) {
    std::fprintf(stderr, "premiumctl: %s (see --help)\n", error.what());
    return 2;
  }
  absl::StatusOr<std::unique_ptr<premium::ctl::Connection>> connection =
      premium::ctl::Connection::Create(flags);
  absl::Status status = connection.status();
  if (status.ok() && action) status = action(**connection);
  if (!status.ok()) {
    std::fprintf(stderr, "premiumctl: %s: %s\n",
                 absl::StatusCodeToString(status.code()).c_str(),
                 std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
