// The `aegis` subcommands. Each Register* adds its subcommand to the app; the
// callbacks throw CommandError with a one-line message on failure, which main()
// prints as "aegis: <message>" and turns into exit code 1.
#pragma once

#include <stdexcept>
#include <string>

#include <CLI/CLI.hpp>

#include "aegis/audit/audit_log.h"
#include "aegis/common/status.h"
#include "aegis/keys/key_provider.h"

namespace aegis::cli {

struct CommandError : std::runtime_error {
  explicit CommandError(const std::string& message, int exit_code = 1)
      : std::runtime_error(message), exit_code(exit_code) {}
  int exit_code;  // 1 unless the command documents another (aegis scan: 2 = could not scan)
};

// Throws CommandError for a non-OK status.
inline void Check(const Status& status, const std::string& context = "") {
  if (!status.ok()) throw CommandError(context.empty() ? status.message() : context + ": " + status.message());
}
template <typename T>
T Check(StatusOr<T> value, const std::string& context = "") {
  Check(value.status(), context);
  return std::move(value).value();
}

// The one wording of --json across commands.
inline constexpr const char* kJsonHelp = "Print machine-readable JSON instead of text";
inline CLI::Option* AddJsonFlag(CLI::App* command, bool& json) { return command->add_flag("--json", json, kJsonHelp); }

// The help group of the options that say where the server is and who calls it
// (client_options.h). CLI11 prints groups in the order they first appear, and
// each command's own options share the help flag's "Options" group, so the
// command's options always come first and these after.
inline constexpr const char* kConnectionGroup = "Connection options";

// The audit log of the installation at `data_dir` (DIR/audit, signing key in DIR/keys).
audit::AuditLogOptions AuditOptions(const std::filesystem::path& data_dir, const keys::KeyProvider& kek);

void RegisterInit(CLI::App& app);
void RegisterServe(CLI::App& app);
void RegisterModelCommands(CLI::App& app);
// `aegis model sign|verify` (offline, no server), added under the `model` subcommand.
void RegisterModelSigningCommands(CLI::App& model);
// `aegis scan PATH`: exit 0 clean, 1 findings, 2 could not scan.
void RegisterScan(CLI::App& app);
void RegisterAuditCommands(CLI::App& app);
// `aegis audit verify|prove|consistency` (offline, on a data directory), under `audit`.
void RegisterAuditOfflineCommands(CLI::App& audit);
// `aegis trust add|list|remove` (control plane).
void RegisterTrustCommands(CLI::App& app);
// `aegis token …`, `aegis user …`, `aegis login`, `aegis logout` (control plane).
void RegisterIdentityCommands(CLI::App& app);
// `aegis incident list|show|ack|resolve`, `aegis principal suspend|reinstate`.
void RegisterIncidentCommands(CLI::App& app);
// aegis store migrate (store_commands.cc).
void RegisterStoreCommands(CLI::App& app);

}  // namespace aegis::cli
