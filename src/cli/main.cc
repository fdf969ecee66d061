// aegis: the secure model server and its client commands.
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <span>

#include "aegis/common/version.h"
#include "aegis/runtime/model_instances.h"
#include "commands.h"

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
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
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
