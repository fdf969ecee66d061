// The `aegis` subcommands. Each Register* adds its subcommand to the app; the
// callbacks throw CommandError with a one-line message on failure, which main()
// prints as "aegis: <message>" and turns into exit code 1.
#pragma once

#include <stdexcept>
#include <string>

#include <CLI/CLI.hpp>

#include "aegis/common/status.h"

namespace aegis::cli {

struct CommandError : std::runtime_error {
  using std::runtime_error::runtime_error;
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

void RegisterInit(CLI::App& app);
void RegisterServe(CLI::App& app);
void RegisterModelCommands(CLI::App& app);
void RegisterAuditCommands(CLI::App& app);

}  // namespace aegis::cli
