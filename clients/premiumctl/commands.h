// premiumctl's commands, one registration function per command group. Each
// command runs as a callback returning absl::Status: main prints a non-OK
// status as one line on standard error and exits non-zero.
#ifndef PREMIUM_CLIENTS_PREMIUMCTL_COMMANDS_H_
#define PREMIUM_CLIENTS_PREMIUMCTL_COMMANDS_H_

#include <functional>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "clients/premiumctl/connection.h"

namespace premium::ctl {

// What a command runs once flags are parsed.
using CommandAction = std::function<absl::Status(const Connection&)>;

// Registration hands each command's action to `set_action`, which keeps the
// one that was chosen on the command line.
using ActionSink = std::function<void(CommandAction)>;

void AddAdminCommands(CLI::App& app, const ActionSink& set_action);
void AddAuditCommands(CLI::App& app, const ActionSink& set_action);
void AddLedgerCommands(CLI::App& app, const ActionSink& set_action);
// After AddUploadCommands: adds "list" (and "received") to its groups.
void AddListCommands(CLI::App& app, const ActionSink& set_action);
void AddStandingCommands(CLI::App& app, const ActionSink& set_action);
void AddUploadCommands(CLI::App& app, const ActionSink& set_action);
void AddWorkerCommands(CLI::App& app, const ActionSink& set_action);

}  // namespace premium::ctl

#endif  // PREMIUM_CLIENTS_PREMIUMCTL_COMMANDS_H_
