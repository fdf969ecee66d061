// Control-plane routes for the audit log and the trust store of publisher keys.
#include "control_routes.h"
#include "model_json.h"
#include "request_json.h"

namespace aegis::api::internal {
namespace {

constexpr size_t kDefaultAuditLimit = 100;
constexpr size_t kMaxAuditLimit = 10000;
constexpr uint64_t kMaxTrustBody = 64 * 1024;  // a PEM public key is well under 1 KiB

StatusOr<size_t> ParseLimit(const http::RequestHead& head) {
  auto value = head.QueryParam("limit");
  if (!value) return kDefaultAuditLimit;
  auto n = ParseDecimal(*value);
  if (!n || *n == 0 || *n > kMaxAuditLimit) {
    return Status::InvalidArgument("limit must be an integer from 1 to " + std::to_string(kMaxAuditLimit));
  }
  return static_cast<size_t>(*n);
}

http::Response ReadAudit(const Services& services, size_t limit) {
  auto lines = services.audit->Recent(limit);
  if (!lines.ok()) return http::Response::Error(lines.status());
  // The lines are JSON objects we wrote ourselves: splice them in verbatim.
  std::string body = "{\"events\":[";
  for (size_t i = 0; i < lines->size(); ++i) {
    if (i) body += ',';
    body += (*lines)[i];
  }
  body += "]}";
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

void PlanAuditRead(ControlRequest& r) {
  if (r.head.method != "GET") {
    r.plan.immediate = MethodNotAllowed("GET");
  } else if (auto limit = ParseLimit(r.head); !limit.ok()) {
    r.plan.immediate = http::Response::Error(limit.status());
  } else {
    const Services services = r.services;
    r.plan.handler = [services, n = *limit](http::Request&) { return ReadAudit(services, n); };
  }
}

void PlanTrustList(ControlRequest& r) {
  if (r.head.method != "GET") {
    r.plan.immediate = MethodNotAllowed("GET");
    return;
  }
  const Services services = r.services;
  r.plan.handler = [services](http::Request&) { return ListKeys(services); };
}

void PlanTrustKey(ControlRequest& r, const std::string& name) {
  const Services services = r.services;
  if (r.head.method == "PUT") {
    r.plan.body_limit = kMaxTrustBody;
    r.plan.handler = [services, name, principal = r.principal.name](http::Request& request) {
      return AddKey(services, name, principal, request.body);
    };
  } else if (r.head.method == "DELETE") {
    r.plan.handler = [services, name](http::Request&) { return RemoveKey(services, name); };
  } else {
    r.plan.immediate = MethodNotAllowed("PUT, DELETE");
  }
}

}  // namespace aegis::api::internal
