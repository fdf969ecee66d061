// `aegis incident …` and `aegis principal …`: security incidents and
// suspended principals (control plane; docs/threat-detection.md,
// "Incidents and response"). Reading needs admin or auditor; acting, admin.
#include <cstdio>
#include <iostream>

#include "client_options.h"
#include "commands.h"

namespace aegis::cli {
namespace {

constexpr size_t kMaxNoteBytes = 1024;

struct IncidentOptions {
  ClientFlags client;
  std::string id, state, note, name;
  bool json = false;
};

// Checked here too, so a typo fails before any connection with the same words the server would use.
void CheckId(const std::string& id) {
  const bool ok = id.size() == 32 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
  if (!ok) throw CommandError("an incident id is 32 lowercase hex characters (see aegis incident list)");
}

void Print(const nlohmann::json& body) { std::cout << body.dump() << std::endl; }

std::string Text(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// What `incident list --json` prints of each incident (the documented contract).
nlohmann::json ListEntry(const nlohmann::json& i) {
  nlohmann::json out = nlohmann::json::object();
  for (const char* key :
       {"id", "kind", "severity", "state", "principal", "model", "first_seen", "last_seen", "count", "actions"}) {
    out[key] = i.contains(key) ? i[key] : nlohmann::json(nullptr);
  }
  return out;
}

void RunList(const IncidentOptions& o) {
  std::string path = "/v1/incidents";
  if (!o.state.empty()) {
    if (o.state != "open" && o.state != "acknowledged" && o.state != "resolved") {
      throw CommandError("--state must be open, acknowledged or resolved");
    }
    path += "?state=" + o.state;
  }
  auto client = ConnectClient(o.client);
  auto body = ExpectJson(Check(client->Request("GET", path), "incident list failed"));
  const auto incidents = body.value("incidents", nlohmann::json::array());
  if (o.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& i : incidents) out.push_back(ListEntry(i));
    return Print(nlohmann::json{{"incidents", std::move(out)}});
  }
  std::printf("%-32s %-19s %-8s %-12s %-24s %-16s %6s %s\n", "ID", "KIND", "SEVERITY", "STATE", "PRINCIPAL", "MODEL",
              "COUNT", "LAST SEEN");
  for (const auto& i : incidents) {
    std::printf("%-32s %-19s %-8s %-12s %-24s %-16s %6lld %s\n", Text(i, "id").c_str(), Text(i, "kind").c_str(),
                Text(i, "severity").c_str(), Text(i, "state").c_str(), Text(i, "principal").c_str(),
                Text(i, "model").c_str(), static_cast<long long>(i.value("count", int64_t{0})),
                Text(i, "last_seen").c_str());
  }
}

void PrintIncident(const nlohmann::json& i) {
  std::cout << "incident " << Text(i, "id") << "\n"
            << "  kind       " << Text(i, "kind") << " (" << Text(i, "severity") << ")\n"
            << "  state      " << Text(i, "state") << "\n"
            << "  principal  " << Text(i, "principal") << "\n"
            << "  model      " << Text(i, "model") << (Text(i, "version").empty() ? "" : "/" + Text(i, "version"))
            << "\n"
            << "  source     " << Text(i, "source") << "\n"
            << "  seen       " << i.value("count", int64_t{0}) << " times, " << Text(i, "first_seen") << " to "
            << Text(i, "last_seen") << "\n"
            << "  evidence   " << (i.contains("evidence") ? i["evidence"].dump() : "{}") << "\n";
  if (!Text(i, "note").empty()) std::cout << "  note       " << Text(i, "note") << "\n";
  for (const auto& a : i.value("actions", nlohmann::json::array())) {
    std::cout << "  action     " << Text(a, "at") << " " << Text(a, "action") << ": " << Text(a, "outcome") << "\n";
  }
  std::cout << std::flush;
}

void RunShow(const IncidentOptions& o) {
  CheckId(o.id);
  auto client = ConnectClient(o.client);
  auto body = ExpectJson(Check(client->Request("GET", "/v1/incidents/" + o.id), "incident show failed"));
  if (o.json) return Print(body);
  PrintIncident(body);
}

void RunAck(const IncidentOptions& o) {
  CheckId(o.id);
  auto client = ConnectClient(o.client);
  auto body = ExpectJson(Check(client->Request("POST", "/v1/incidents/" + o.id + "/ack", "{}"), "incident ack failed"));
  if (o.json) return Print(body);
  std::cout << "acknowledged incident " << o.id << std::endl;
}

void RunResolve(const IncidentOptions& o) {
  CheckId(o.id);
  if (o.note.empty()) throw CommandError("--note must say how the incident was resolved");
  if (o.note.size() > kMaxNoteBytes) throw CommandError("--note is at most 1024 bytes");
  auto client = ConnectClient(o.client);
  auto body = ExpectJson(
      Check(client->Request("POST", "/v1/incidents/" + o.id + "/resolve", nlohmann::json{{"note", o.note}}.dump()),
            "incident resolve failed"));
  if (o.json) return Print(body);
  std::cout << "resolved incident " << o.id << std::endl;
}

void RunSuspension(const IncidentOptions& o, bool suspend) {
  auto client = ConnectClient(o.client);
  const std::string path = "/v1/principals/" + EncodePathSegment(o.name) + (suspend ? "/suspend" : "/reinstate");
  auto body = ExpectJson(
      Check(client->Request("POST", path, "{}"), suspend ? "principal suspend failed" : "principal reinstate failed"));
  if (o.json) return Print(body);
  std::cout << (suspend ? "suspended " : "reinstated ") << o.name << std::endl;
}

CLI::App* Sub(CLI::App* parent, const char* name, const char* help, const std::shared_ptr<IncidentOptions>& o) {
  CLI::App* cmd = parent->add_subcommand(name, help);
  AddClientFlags(cmd, o->client);
  AddJsonFlag(cmd, o->json);
  return cmd;
}

}  // namespace

void RegisterIncidentCommands(CLI::App& app) {
  auto o = std::make_shared<IncidentOptions>();
  CLI::App* incident = app.add_subcommand("incident", "Security incidents: list, show, acknowledge, resolve");
  incident->require_subcommand(1);
  CLI::App* list = Sub(incident, "list", "List incidents, newest first (admin, auditor)", o);
  list->add_option("--state", o->state, "Only open, acknowledged or resolved incidents");
  list->callback([o] { RunList(*o); });
  CLI::App* show = Sub(incident, "show", "Show one incident with its evidence and actions (admin, auditor)", o);
  show->add_option("ID", o->id, "Incident id (see incident list)")->required();
  show->callback([o] { RunShow(*o); });
  CLI::App* ack = Sub(incident, "ack", "Acknowledge an open incident (admin)", o);
  ack->add_option("ID", o->id, "Incident id")->required();
  ack->callback([o] { RunAck(*o); });
  CLI::App* resolve = Sub(incident, "resolve", "Resolve an incident with a note (admin)", o);
  resolve->add_option("ID", o->id, "Incident id")->required();
  resolve->add_option("--note", o->note, "How it was resolved (text, at most 1024 bytes)")->required();
  resolve->callback([o] { RunResolve(*o); });

  CLI::App* principal = app.add_subcommand("principal", "Suspend or reinstate a principal (admin)");
  principal->require_subcommand(1);
  CLI::App* suspend = Sub(principal, "suspend", "Refuse a principal on both planes (403) until reinstated", o);
  suspend->add_option("NAME", o->name, "As the audit log names it: token:NAME, user:NAME, jwt:SUB, cert:SUBJECT")
      ->required();
  suspend->callback([o] { RunSuspension(*o, true); });
  CLI::App* reinstate = Sub(principal, "reinstate", "Lift a principal's suspension", o);
  reinstate->add_option("NAME", o->name, "As the audit log names it")->required();
  reinstate->callback([o] { RunSuspension(*o, false); });
}

}  // namespace aegis::cli
