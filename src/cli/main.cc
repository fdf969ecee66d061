// aegis: the secure model server and its client commands.
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <span>
#include <string>

#include "aegis/common/version.h"
#include "aegis/runtime/model_instances.h"
#include "commands.h"

namespace {

// For a command line that names no command, or one that does not exist, the
// one line that says so and lists the valid commands at that level (CLI11's own
// message says only that an argument was not expected). Empty for any other
// parse error.
std::string UnknownCommandLine(const CLI::App& app, const CLI::ParseError& e) {
  if (dynamic_cast<const CLI::ExtrasError*>(&e) == nullptr && dynamic_cast<const CLI::RequiredError*>(&e) == nullptr) {
    return "";
  }
  // The innermost command given, and how it was spelt.
  const CLI::App* at = &app;
  std::string path = "aegis";
  for (auto subs = at->get_subcommands(); !subs.empty(); subs = at->get_subcommands()) {
    at = subs.front();
    path += " " + at->get_name();
  }
  const auto commands =
      at->get_subcommands([](const CLI::App* sub) { return !sub->get_name().empty() && !sub->get_group().empty(); });
  if (commands.empty()) return "";
  std::string valid;
  for (const CLI::App* sub : commands) valid += (valid.empty() ? "" : ", ") + sub->get_name();
  for (const std::string& word : app.remaining(true)) {
    if (word.starts_with("-")) return "";  // an unknown option: CLI11's message names it
    if (!word.empty()) {
      return "aegis: unknown command '" + (path == "aegis" ? word : path.substr(6) + " " + word) + "'; valid: " + valid;
    }
  }
  if (dynamic_cast<const CLI::RequiredError*>(&e) == nullptr) return "";
  return "aegis: '" + path + "' needs a command: " + valid;
}

}  // namespace

// The outer handler catches what setting up the commands might throw (the inner
// one needs `app` for CLI11's own exit codes), so no exception ends in abort().
int main(int argc, char** argv) try {
  // A confined engine worker, started by the server: nothing of the CLI runs
  // (hidden from --help; refuses to run without the server's descriptors).
  if (argc >= 2 && std::strcmp(argv[1], "engine-worker") == 0) {
    return aegis::runtime::RunEngineWorker(std::span<char* const>(argv + 2, static_cast<size_t>(argc - 2)));
  }
  CLI::App app{"Aegis: a secure model server (encrypted models, TLS, KServe v2)", "aegis"};
  // One line, the release and the source revision it was built from.
  app.set_version_flag("--version",
                       "aegis " + std::string(aegis::kVersion) + " (revision " + std::string(aegis::kRevision) + ")");
  app.require_subcommand(1);
  app.failure_message([](const CLI::App*, const CLI::Error& e) { return std::string("aegis: ") + e.what() + "\n"; });
  aegis::cli::RegisterInit(app);
  aegis::cli::RegisterServe(app);
  aegis::cli::RegisterModelCommands(app);
  aegis::cli::RegisterAuditCommands(app);
  aegis::cli::RegisterScan(app);
  aegis::cli::RegisterTrustCommands(app);
  aegis::cli::RegisterIdentityCommands(app);
  aegis::cli::RegisterIncidentCommands(app);
  aegis::cli::RegisterStoreCommands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (const std::string line = UnknownCommandLine(app, e); !line.empty()) {
      std::fprintf(stderr, "%s\n", line.c_str());
      return e.get_exit_code();
    }
    return app.exit(e);
  } catch (const aegis::cli::CommandError& e) {
    std::fprintf(stderr, "aegis: %s\n", e.what());
    return e.exit_code;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "aegis: unexpected error: %s\n", e.what());
    return 1;
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "aegis: unexpected error: %s\n", e.what());
  return 1;
}
