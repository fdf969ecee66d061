// Control-plane routes for identities: API tokens, users, and people's login
// sessions (changes to one account: user_routes.cc). Token and user management
// need sensitive permissions (admin; people need a fresh MFA login) — the
// policy checked that before these run.
#include <chrono>

#include "aegis/policy/policy.h"
#include "control_routes.h"
#include "model_json.h"
#include "request_json.h"

namespace aegis::api::internal {
namespace {

constexpr uint64_t kMaxIdentityBody = uint64_t{8} * 1024;  // names, a role, a glob, a password
// People type passwords; names of unknown users land in the audit log, so bound them.
constexpr size_t kMaxAuditedUserName = 64;

// A credential's own limits, as given and as listed: null when it has none
// (the server's [guard] defaults apply).
Json LimitsJson(const store::RequestLimits& l) {
  if (l == store::RequestLimits{}) return nullptr;
  return Json{{"rate", l.rate.empty() ? Json(nullptr) : Json(l.rate)},
              {"burst", l.burst == 0 ? Json(nullptr) : Json(l.burst)},
              {"quota", l.quota_per_day == 0 ? Json(nullptr) : Json(l.quota_per_day)}};
}

// The optional "rate", "burst" and "quota" members of a create request; the
// directory checks them in full (auth::CheckCredentialLimits).
StatusOr<store::RequestLimits> ReadLimits(const BodyFields& fields) {
  store::RequestLimits limits;
  limits.rate = fields.String("rate").value_or("");
  for (const auto& [name, out] : {std::pair<const char*, uint64_t*>{"burst", &limits.burst},
                                  std::pair<const char*, uint64_t*>{"quota", &limits.quota_per_day}}) {
    if (const auto value = fields.Integer(name)) {
      if (*value < 1) return Status::InvalidArgument(std::string("member '") + name + "' must be at least 1");
      *out = static_cast<uint64_t>(*value);
    }
  }
  return limits;
}

Json TokenJson(const store::TokenRecord& t) {
  return Json{{"id", t.id},
              {"name", t.name},
              {"role", t.role},
              {"models", t.models},
              {"created_at", t.created_at},
              {"created_by", t.created_by},
              {"expires_at", t.expires_at ? Json(*t.expires_at) : Json(nullptr)},
              {"revoked", t.revoked},
              {"limits", LimitsJson(t.limits)}};
}

Json UserJson(const auth::UserInfo& u, std::chrono::system_clock::time_point now) {
  const bool locked = u.locked_until && FormatRfc3339(now) < *u.locked_until;
  return Json{{"name", u.name},
              {"role", u.role},
              {"models", u.models},
              {"disabled", u.disabled},
              {"locked", locked},
              {"created_at", u.created_at},
              {"created_by", u.created_by},
              {"limits", LimitsJson(u.limits)}};
}

http::Response CreateToken(const Services& services, const std::string& principal, const std::string& body) {
  auto fields = ParseBodyFields(body, {{"name", FieldType::kString, true},
                                       {"role", FieldType::kString, true},
                                       {"models", FieldType::kString, false},
                                       {"ttl_seconds", FieldType::kInteger, false},
                                       {"rate", FieldType::kString, false},
                                       {"burst", FieldType::kInteger, false},
                                       {"quota", FieldType::kInteger, false}});
  if (!fields.ok()) return http::Response::Error(fields.status());
  auto limits = ReadLimits(*fields);
  if (!limits.ok()) return http::Response::Error(limits.status());
  auth::TokenRequest request;
  request.limits = *limits;
  request.name = *fields->String("name");
  request.role = *fields->String("role");
  request.models = fields->String("models").value_or("*");
  if (auto ttl = fields->Integer("ttl_seconds")) request.ttl = std::chrono::seconds(*ttl);
  request.created_by = principal;
  auto issued = services.tokens->Issue(request);
  if (!issued.ok()) return http::Response::Error(issued.status());
  Json out = TokenJson(issued->record);
  out["token"] = issued->token;
  return http::Response::Json(201, Dump(out));
}

http::Response ListTokens(const Services& services) {
  Json tokens = Json::array();
  for (const auto& t : services.tokens->List()) tokens.push_back(TokenJson(t));
  return http::Response::Json(200, Dump(Json{{"tokens", std::move(tokens)}}));
}

http::Response AddUser(const Services& services, const std::string& principal, const std::string& body,
                       LateOutcome& late) {
  auto fields = ParseBodyFields(body, {{"name", FieldType::kString, true},
                                       {"role", FieldType::kString, true},
                                       {"models", FieldType::kString, false},
                                       {"password", FieldType::kString, true},
                                       {"rate", FieldType::kString, false},
                                       {"burst", FieldType::kInteger, false},
                                       {"quota", FieldType::kInteger, false}});
  if (!fields.ok()) return http::Response::Error(fields.status());
  auto limits = ReadLimits(*fields);
  if (!limits.ok()) return http::Response::Error(limits.status());
  auth::NewUser user{*fields->String("name"), *fields->String("role"), fields->String("models").value_or("*"),
                     *fields->String("password"), *limits};
  auto enrolled = services.users->AddUser(user, principal);
  if (!enrolled.ok()) {
    late.reason = enrolled.status().message();
    return http::Response::Error(enrolled.status());
  }
  const auto& r = enrolled->record;
  return http::Response::Json(201, Dump(Json{{"name", r.name},
                                             {"role", r.role},
                                             {"models", r.models},
                                             {"limits", LimitsJson(r.limits)},
                                             {"totp_uri", enrolled->totp_uri}}));
}

http::Response ListUsers(const Services& services) {
  auto users = services.users->ListUsers();
  if (!users.ok()) return http::Response::Error(users.status());
  const auto now = services.clock->Now();
  Json out = Json::array();
  for (const auto& u : *users) out.push_back(UserJson(u, now));
  return http::Response::Json(200, Dump(Json{{"users", std::move(out)}}));
}

http::Response Login(const Services& services, const std::string& source, const std::string& body, LateOutcome& late) {
  auto fields = ParseBodyFields(
      body,
      {{"user", FieldType::kString, true}, {"password", FieldType::kString, true}, {"totp", FieldType::kString, true}});
  if (!fields.ok()) {
    late.denied = true;
    late.reason = fields.status().message();
    return http::Response::Error(fields.status());
  }
  auth::LoginRequest request{*fields->String("user"), *fields->String("password"), *fields->String("totp"), source};
  std::string shown = request.user.substr(0, kMaxAuditedUserName);
  late.principal = "user:" + shown;
  late.auth_method = "session";
  auth::LoginOutcome outcome = services.users->Login(request);
  CountAuthAttempt(services, monitor::AuthMethod::kPassword, outcome.status.ok());
  if (!outcome.status.ok()) {
    late.denied = true;
    late.reason = outcome.audit_reason;
    http::Response response = http::Response::Error(outcome.status);
    if (outcome.status.code() == StatusCode::kTooManyRequests) {
      const auto wait = outcome.retry_after.count() > 0 ? outcome.retry_after.count() : 60;
      response.headers.emplace_back("Retry-After", std::to_string(wait));
    }
    return response;
  }
  const auth::Principal& p = *outcome.principal;
  const policy::Grant& grant = p.subject.grants.front();
  late.reason = "session " + p.credential_id;
  return http::Response::Json(200, Dump(Json{{"session", outcome.session},
                                             {"user", request.user},
                                             {"role", std::string(policy::RoleName(grant.role))},
                                             {"models", grant.models},
                                             {"expires_at", FormatRfc3339(outcome.expires_at)},
                                             {"idle_timeout_seconds", 15 * 60}}));
}

}  // namespace

void PlanTokenCreate(RouteRequest& r, const auth::Principal& principal) {
  const Services services = r.services;
  r.plan.body_limit = kMaxIdentityBody;
  r.plan.handler = [services, principal = principal.name](http::Request& request) {
    return CreateToken(services, principal, request.body);
  };
}

void PlanTokenList(RouteRequest& r, const auth::Principal&) {
  const Services services = r.services;
  r.plan.handler = [services](http::Request&) { return ListTokens(services); };
}

void PlanTokenRevoke(RouteRequest& r, const auth::Principal&) {
  const Services services = r.services;
  r.plan.handler = [services, id = std::string(r.params.Get("id"))](http::Request&) {
    Status revoked = services.tokens->Revoke(id);
    if (!revoked.ok()) return http::Response::Error(revoked);
    return http::Response::Json(200, Dump(Json{{"id", id}, {"revoked", true}}));
  };
}

void PlanUserAdd(RouteRequest& r, const auth::Principal& principal) {
  const Services services = r.services;
  r.plan.body_limit = kMaxIdentityBody;
  r.plan.handler = [services, late = r.Late(), principal = principal.name](http::Request& request) {
    return AddUser(services, principal, request.body, *late);
  };
}

void PlanUserList(RouteRequest& r, const auth::Principal&) {
  const Services services = r.services;
  r.plan.handler = [services](http::Request&) { return ListUsers(services); };
}

void PlanLogin(RouteRequest& r) {
  const Services services = r.services;
  r.plan.body_limit = kMaxIdentityBody;
  // Argon2id takes tens of milliseconds: on the worker pool, never the I/O thread.
  r.plan.handler = [services, late = r.Late(), source = ClientSource(r.services, r.head)](http::Request& request) {
    return Login(services, source, request.body, *late);
  };
}

void PlanLogout(RouteRequest& r, const auth::Principal& principal) {
  if (principal.method != auth::Method::kSession) {
    r.plan.immediate = http::Response::Error(400, "only a login session can log out; revoke tokens instead");
    return;
  }
  auto credential = auth::BearerCredential(r.head.Header("authorization"));
  Status ended = credential ? r.services.users->Logout(*credential) : Status::NotFound("no session");
  r.plan.immediate =
      ended.ok() ? http::Response::Json(200, Dump(Json{{"logged_out", true}})) : http::Response::Error(ended);
}

void PlanWhoami(RouteRequest& r, const auth::Principal& principal) {
  Json grants = Json::array();
  for (const auto& g : principal.subject.grants) grants.push_back(g.Describe());
  Json out{{"principal", principal.name},
           {"method", std::string(auth::MethodName(principal.method))},
           {"grants", std::move(grants)}};
  if (principal.subject.mfa_at) out["mfa_at"] = FormatRfc3339(*principal.subject.mfa_at);
  r.plan.immediate = http::Response::Json(200, Dump(out));
}

}  // namespace aegis::api::internal
