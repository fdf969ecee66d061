// Control-plane routes for security incidents and suspended principals
// (docs/threat-detection.md, "Incidents and response"). Reading needs
// incident.read (admin, auditor); acting needs incident.manage (admin) — the
// policy checked that before these run. Ids, states, notes and principal
// names are checked here before anything is looked up.
#include "aegis/incident/incidents.h"
#include "aegis/incident/suspensions.h"
#include "control_routes.h"
#include "model_json.h"
#include "request_json.h"

namespace aegis::api::internal {
namespace {

constexpr uint64_t kMaxIncidentBody = uint64_t{4} * 1024;  // {"note": at most 1 KiB of text, escaped}
constexpr size_t kDefaultIncidentLimit = 100;
constexpr size_t kMaxIncidentLimit = 1000;

Json IncidentJson(const store::IncidentRecord& r) {
  Json actions = Json::array();
  for (const auto& a : r.actions) actions.push_back(Json{{"action", a.action}, {"at", a.at}, {"outcome", a.outcome}});
  // Evidence was written by the server as a JSON object; shown as one (or as
  // text should it ever not parse).
  Json evidence = Json::parse(r.evidence, nullptr, false);
  if (evidence.is_discarded()) evidence = r.evidence;
  return Json{{"id", r.id},
              {"kind", r.kind},
              {"severity", r.severity},
              {"state", r.state},
              {"principal", r.principal},
              {"model", r.model},
              {"version", r.version},
              {"source", r.source},
              {"first_seen", r.first_seen},
              {"last_seen", r.last_seen},
              {"count", r.count},
              {"evidence", std::move(evidence)},
              {"note", r.note},
              {"actions", std::move(actions)}};
}

http::Response Unavailable() { return http::Response::Error(503, "incidents are not enabled on this server"); }

struct ListQuery {
  std::optional<incident::IncidentState> state;
  size_t limit = kDefaultIncidentLimit;
};

StatusOr<ListQuery> ParseListQuery(const http::RequestHead& head) {
  ListQuery q;
  if (auto value = head.QueryParam("state")) {
    q.state = incident::ParseIncidentState(*value);
    if (!q.state) return Status::InvalidArgument("state must be open, acknowledged or resolved");
  }
  if (auto value = head.QueryParam("limit")) {
    auto n = ParseDecimal(*value);
    if (!n || *n == 0 || *n > kMaxIncidentLimit) {
      return Status::InvalidArgument("limit must be an integer from 1 to " + std::to_string(kMaxIncidentLimit));
    }
    q.limit = static_cast<size_t>(*n);
  }
  return q;
}

// The route's preconditions: incidents enabled (503 otherwise) and the path's
// {id} well formed (400), checked before any lookup.
bool IdOrRefuse(RouteRequest& r, std::string& id) {
  if (r.services.incidents == nullptr) {
    r.plan.immediate = Unavailable();
    return false;
  }
  id = std::string(r.params.Get("id"));
  if (incident::IsIncidentId(id)) return true;
  r.event.reason = "malformed incident id";
  r.plan.immediate = http::Response::Error(400, "an incident id is 32 lowercase hex characters");
  return false;
}

http::Response Answer(const StatusOr<store::IncidentRecord>& incident) {
  if (!incident.ok()) return http::Response::Error(incident.status());
  return http::Response::Json(200, Dump(IncidentJson(*incident)));
}

}  // namespace

void PlanIncidentList(RouteRequest& r, const auth::Principal&) {
  if (r.services.incidents == nullptr) {
    r.plan.immediate = Unavailable();
    return;
  }
  auto query = ParseListQuery(r.head);
  if (!query.ok()) {
    r.plan.immediate = http::Response::Error(query.status());
    return;
  }
  const Services services = r.services;  // a database read: on the worker pool
  r.plan.handler = [services, q = *query](http::Request&) {
    auto listed = services.incidents->List(q.state, q.limit);
    if (!listed.ok()) return http::Response::Error(listed.status());
    Json out = Json::array();
    for (const auto& i : *listed) out.push_back(IncidentJson(i));
    return http::Response::Json(200, Dump(Json{{"incidents", std::move(out)}}));
  };
}

void PlanIncidentRead(RouteRequest& r, const auth::Principal&) {
  std::string id;
  if (!IdOrRefuse(r, id)) return;
  const Services services = r.services;
  r.plan.handler = [services, id](http::Request&) { return Answer(services.incidents->Get(id)); };
}

void PlanIncidentAck(RouteRequest& r, const auth::Principal& principal) {
  std::string id;
  if (!IdOrRefuse(r, id)) return;
  const Services services = r.services;
  r.plan.body_limit = kMaxIncidentBody;  // no body is needed; a small one is ignored
  r.plan.handler = [services, id, late = r.Late(), by = principal.name](http::Request&) {
    auto changed = services.incidents->Acknowledge(id, by);
    if (!changed.ok()) late->reason = changed.status().message();
    return Answer(changed);
  };
}

void PlanIncidentResolve(RouteRequest& r, const auth::Principal& principal) {
  std::string id;
  if (!IdOrRefuse(r, id)) return;
  const Services services = r.services;
  r.plan.body_limit = kMaxIncidentBody;
  r.plan.handler = [services, id, late = r.Late(), by = principal.name](http::Request& request) {
    auto fields = ParseBodyFields(request.body, {{"note", FieldType::kString, true}});
    if (!fields.ok()) {
      late->reason = fields.status().message();
      return http::Response::Error(fields.status());
    }
    auto changed = services.incidents->Resolve(id, *fields->String("note"), by);
    if (!changed.ok()) late->reason = changed.status().message();
    return Answer(changed);
  };
}

namespace {

// POST /v1/principals/{name}/suspend|reinstate, after the name is checked.
void PlanSuspension(RouteRequest& r, const auth::Principal& principal, bool suspend) {
  if (r.services.suspensions == nullptr) {
    r.plan.immediate = http::Response::Error(503, "suspensions are not enabled on this server");
    return;
  }
  const std::string name(r.params.Get("name"));
  if (Status valid = incident::CheckPrincipalName(name); !valid.ok()) {
    r.event.reason = "malformed principal name";
    r.plan.immediate = http::Response::Error(valid);
    return;
  }
  // An administrator who suspends their own credential can no longer undo it.
  if (suspend && name == principal.name) {
    r.event.reason = "refused to suspend the caller's own credential";
    r.plan.immediate = http::Response::Error(400, "you cannot suspend the credential you are using");
    return;
  }
  const Services services = r.services;
  r.plan.handler = [services, name, suspend, late = r.Late(), by = principal.name](http::Request&) {
    const Status done =
        suspend ? services.suspensions->Suspend(name, "suspended by " + by, by) : services.suspensions->Reinstate(name);
    if (!done.ok()) {
      late->reason = done.message();
      return http::Response::Error(done);
    }
    return http::Response::Json(200, Dump(Json{{"principal", name}, {"suspended", suspend}}));
  };
}

}  // namespace

void PlanPrincipalSuspend(RouteRequest& r, const auth::Principal& principal) { PlanSuspension(r, principal, true); }
void PlanPrincipalReinstate(RouteRequest& r, const auth::Principal& principal) { PlanSuspension(r, principal, false); }

}  // namespace aegis::api::internal
