// `aegis audit show`: recent audit events from a running server.
#include <cstdio>
#include <iostream>

#include "client_options.h"
#include "commands.h"

namespace aegis::cli {
namespace {

void RunShow(const ClientFlags& flags, int limit, bool json) {
  if (limit < 1 || limit > 10000) throw CommandError("--limit must be between 1 and 10000");
  auto client = ConnectClient(flags);
  auto body = ExpectJson(Check(client->Request("GET", "/v1/audit?limit=" + std::to_string(limit)), "audit failed"));
  if (json) {
    std::cout << body.dump() << std::endl;
    return;
  }
  for (const auto& e : body.value("events", nlohmann::json::array())) {
    std::printf("%s %-10s %-16s %-32s %-5s %d %s\n", e.value("time", "").c_str(), e.value("principal", "").c_str(),
                e.value("action", "").c_str(), e.value("resource", "").c_str(), e.value("decision", "").c_str(),
                e.value("status", 0), e.value("remote", "").c_str());
  }
}

}  // namespace

void RegisterAuditCommands(CLI::App& app) {
  CLI::App* audit = app.add_subcommand("audit", "Read the audit log");
  audit->require_subcommand(1);
  auto flags = std::make_shared<ClientFlags>();
  auto limit = std::make_shared<int>(50);
  auto json = std::make_shared<bool>(false);
  CLI::App* show = audit->add_subcommand("show", "Show the most recent audit events (oldest first)");
  show->add_option("--limit", *limit, "How many events (1-10000)")->capture_default_str();
  show->add_flag("--json", *json, "Print {\"events\": [...]} as JSON");
  AddClientFlags(show, *flags);
  show->callback([flags, limit, json] { RunShow(*flags, *limit, *json); });
}

}  // namespace aegis::cli
