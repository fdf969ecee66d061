// Control-plane routes for the audit log and the trust store of publisher keys.
#include "aegis/common/clock.h"
#include "control_routes.h"
#include "model_json.h"
#include "request_json.h"

namespace aegis::api::internal {
namespace {

constexpr size_t kDefaultAuditLimit = 100;
constexpr size_t kMaxAuditLimit = 10000;
constexpr uint64_t kMaxTrustBody = uint64_t{64} * 1024;  // a PEM public key is well under 1 KiB

StatusOr<audit::AuditQuery> ParseAuditQuery(const http::RequestHead& head) {
  audit::AuditQuery q;
  q.limit = kDefaultAuditLimit;
  if (auto value = head.QueryParam("limit")) {
    auto n = ParseDecimal(*value);
    if (!n || *n == 0 || *n > kMaxAuditLimit) {
      return Status::InvalidArgument("limit must be an integer from 1 to " + std::to_string(kMaxAuditLimit));
    }
    q.limit = static_cast<size_t>(*n);
  }
  if (auto value = head.QueryParam("from_seq")) {
    auto n = ParseDecimal(*value);
    if (!n) return Status::InvalidArgument("from_seq must be a non-negative integer");
    q.from_seq = *n;
  }
  if (auto value = head.QueryParam("since")) {
    auto t = ParseRfc3339(*value);
    if (!t) return Status::InvalidArgument("since must be an RFC 3339 time such as 2026-12-04T10:00:00Z");
    q.since = *t;
  }
  return q;
}

http::Response ReadAudit(const Services& services, const audit::AuditQuery& query) {
  // Without a starting point: the most recent events. With one: a forward page.
  const bool window = query.from_seq || query.since;
  std::vector<std::string> lines;
  std::optional<uint64_t> next;
  if (window) {
    auto page = services.audit->Read(query);
    if (!page.ok()) return http::Response::Error(page.status());
    lines = std::move(page->lines);
    next = page->next_seq;
  } else {
    auto recent = services.audit->Recent(query.limit);
    if (!recent.ok()) return http::Response::Error(recent.status());
    lines = std::move(*recent);
  }
  // The lines are JSON objects we wrote ourselves: splice them in verbatim.
  std::string body = "{\"events\":[";
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i) body += ',';
    body += lines[i];
  }
  body += "]";
  if (next) body += ",\"next_seq\":" + std::to_string(*next);
  body += "}";
  return http::Response::Json(200, std::move(body));
}

// {"public_key": PEM, "models": GLOB?}.
StatusOr<std::pair<std::string, std::string>> ParseTrustRequest(const std::string& body) {
  AEGIS_ASSIGN_OR_RETURN(auto fields, ParseBodyFields(body, {{"public_key", FieldType::kString, true},
                                                             {"models", FieldType::kString, false}}));
  return std::make_pair(*fields.String("public_key"), fields.String("models").value_or("*"));
}

http::Response ListKeys(const Services& services) {
  auto keys = services.registry->ListTrustedKeys();
  if (!keys.ok()) return http::Response::Error(keys.status());
  Json out = Json::array();
  for (const auto& k : *keys) out.push_back(TrustedKeyJson(k));
  return http::Response::Json(200, Dump(Json{{"keys", std::move(out)}}));
}

http::Response AddKey(const Services& services, const std::string& name, const std::string& principal,
                      const std::string& body) {
  auto request = ParseTrustRequest(body);
  if (!request.ok()) return http::Response::Error(request.status());
  auto key = services.registry->AddTrustedKey(name, request->first, request->second, principal);
  if (!key.ok()) return http::Response::Error(key.status());
  return http::Response::Json(201, Dump(TrustedKeyJson(*key)));
}

http::Response RemoveKey(const Services& services, const std::string& name) {
  auto withdrawn = services.registry->RemoveTrustedKey(name);
  if (!withdrawn.ok()) return http::Response::Error(withdrawn.status());
  return http::Response::Json(200, Dump(Json{{"deleted", name}, {"withdrawn_versions", *withdrawn}}));
}

}  // namespace

void PlanAuditRead(RouteRequest& r, const auth::Principal&) {
  if (auto query = ParseAuditQuery(r.head); !query.ok()) {
    r.plan.immediate = http::Response::Error(query.status());
  } else {
    const Services services = r.services;
    r.plan.handler = [services, q = *query](http::Request&) { return ReadAudit(services, q); };
  }
}

void PlanTrustList(RouteRequest& r, const auth::Principal&) {
  const Services services = r.services;
  r.plan.handler = [services](http::Request&) { return ListKeys(services); };
}

void PlanTrustAdd(RouteRequest& r, const auth::Principal& principal) {
  const Services services = r.services;
  r.plan.body_limit = kMaxTrustBody;
  r.plan.handler = [services, name = std::string(r.params.Get("name")), principal = principal.name](
                       http::Request& request) { return AddKey(services, name, principal, request.body); };
}

void PlanTrustRemove(RouteRequest& r, const auth::Principal&) {
  const Services services = r.services;
  r.plan.handler = [services, name = std::string(r.params.Get("name"))](http::Request&) {
    return RemoveKey(services, name);
  };
}

}  // namespace aegis::api::internal
