#include "aegis/api/control_plane.h"

#include "control_routes.h"

namespace aegis::api {
namespace {

enum class ControlRoute { kModels, kModelVersion, kAudit, kTrust, kTrustKey };

struct MatchedRoute {
  ControlRoute route;
  std::string action;
  std::string resource;
  std::string name;     // model or trusted-key name
  std::string version;  // model version
};

// The action names the method too, so the audit log says what was attempted
// even when the method is refused.
std::optional<MatchedRoute> Match(const http::RequestHead& head) {
  auto segs = internal::SplitPath(head.path);
  if (!segs || segs->size() < 2 || (*segs)[0] != "v1") return std::nullopt;
  const auto& s = *segs;
  const bool remove = head.method == "DELETE";
  if (s.size() == 2 && s[1] == "models") return MatchedRoute{ControlRoute::kModels, "model.list", "models", "", ""};
  if (s.size() == 2 && s[1] == "audit") return MatchedRoute{ControlRoute::kAudit, "audit.read", "audit", "", ""};
  if (s.size() == 2 && s[1] == "trust") return MatchedRoute{ControlRoute::kTrust, "trust.list", "trust", "", ""};
  if (s.size() == 3 && s[1] == "trust") {
    std::string name(s[2]);
    return MatchedRoute{ControlRoute::kTrustKey, remove ? "trust.remove" : "trust.add", "trust:" + name, name, ""};
  }
  if (s.size() == 5 && s[1] == "models" && s[3] == "versions") {
    std::string name(s[2]), version(s[4]);
    return MatchedRoute{ControlRoute::kModelVersion, remove ? "model.remove" : "model.push",
                        "model:" + name + "/versions/" + version, name, version};
  }
  return std::nullopt;
}

}  // namespace

http::Plan ControlPlane::Begin(const http::RequestHead& head) {
  auto route = Match(head);
  if (!route) {
    http::Plan plan = internal::Respond(http::Response::Error(404, "no such endpoint"));
    internal::AuditOnComplete(plan, services_, internal::StartEvent(head, "unknown", "path:" + head.path));
    return plan;
  }
  http::Plan plan;
  audit::AuditEvent event = internal::StartEvent(head, route->action, route->resource);
  auto late = std::make_shared<internal::LateOutcome>();
  if (auto principal = internal::Authenticate(services_, head, plan, event)) {
    internal::ControlRequest request{services_, head, *principal, plan, event};
    switch (route->route) {
      case ControlRoute::kModels:
        internal::PlanModelList(request);
        break;
      case ControlRoute::kModelVersion:
        internal::PlanModelVersion(request, route->name, route->version, late);
        break;
      case ControlRoute::kAudit:
        internal::PlanAuditRead(request);
        break;
      case ControlRoute::kTrust:
        internal::PlanTrustList(request);
        break;
      case ControlRoute::kTrustKey:
        internal::PlanTrustKey(request, route->name);
        break;
    }
  }
  internal::AuditOnComplete(plan, services_, std::move(event), std::move(late));
  return plan;
}

void ControlPlane::OnRejected(const http::RequestHead& head, int status, std::string_view reason) {
  internal::AuditRejected(services_, head, status, reason);
}

}  // namespace aegis::api
