// aegis: the secure model server and its client commands.
#include <cstdio>
#include <iostream>

#include "commands.h"

int main(int argc, char** argv) {
  CLI::App app{"Aegis: a secure model server (encrypted models, TLS, KServe v2)", "aegis"};
  app.require_subcommand(1);
  app.failure_message([](const CLI::App*, const CLI::Error& e) { return std::string("aegis: ") + e.what() + "\n"; });
  aegis::cli::RegisterInit(app);
  aegis::cli::RegisterServe(app);
  aegis::cli::RegisterModelCommands(app);
  aegis::cli::RegisterAuditCommands(app);
  aegis::cli::RegisterScan(app);
  aegis::cli::RegisterTrustCommands(app);
  aegis::cli::RegisterIdentityCommands(app);
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
}
