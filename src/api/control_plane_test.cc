// ControlPlane::Begin in process: real registry, tokens, users and audit log; no
// network, no monitor.
#include "aegis/api/control_plane.h"

#include "aegis/auth/totp.h"
#include "aegis/crypto/encoding.h"
#include "api_test_env.h"

namespace aegis::api {
namespace {

using Json = nlohmann::json;

class ControlPlaneTest : public testing::ApiTestEnv {
 protected:
  http::RequestHead Admin(std::string method, std::string_view target, const std::optional<std::string>& bearer) {
    return Head(std::move(method), target, bearer, http::ListenerKind::kAdmin);
  }
  http::Plan Begin(const http::RequestHead& head) { return ControlPlane(services_).Begin(head); }
  // Begin, run and end one request.
  http::Response Call(const http::RequestHead& head, const std::string& body = "") {
    http::Plan plan = Begin(head);
    return Run(plan, head, body);
  }
};

TEST_F(ControlPlaneTest, TheDashboardFilesAreAnonymousAndHardened) {
  auto head = Admin("GET", "/", std::nullopt);
  http::Response r = Call(head);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_NE(HeaderOf(r, "Content-Security-Policy").find("default-src 'none'"), std::string::npos);
  Json e = LastEvent();
  EXPECT_EQ(e["action"], "dashboard.page");
  EXPECT_EQ(e["resource"], "dashboard:/");
  EXPECT_EQ(e["principal"], "anonymous");
  EXPECT_EQ(e["listener"], "admin");
  EXPECT_EQ(e["decision"], "allow");

  head = Admin("HEAD", "/dashboard/app.js", std::nullopt);
  r = Call(head);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/javascript; charset=utf-8");

  // Other methods: 405 with the page's headers; other paths under /dashboard:
  // 404 with them too, audited as page loads.
  head = Admin("POST", "/", std::nullopt);
  r = Call(head);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(HeaderOf(r, "Allow"), "GET, HEAD");
  EXPECT_EQ(HeaderOf(r, "X-Frame-Options"), "DENY");
  for (const char* path : {"/dashboard", "/dashboard/nope", "/dashboard/app.js/x", "/dashboard//app.js"}) {
    for (const char* method : {"GET", "DELETE"}) {
      head = Admin(method, path, std::nullopt);
      r = Call(head);
      EXPECT_EQ(r.status, 404) << method << " " << path;
      EXPECT_EQ(HeaderOf(r, "X-Frame-Options"), "DENY") << path;
      e = LastEvent();
      EXPECT_EQ(e["action"], "dashboard.page") << path;
      EXPECT_EQ(e["resource"], std::string("dashboard:") + path);
    }
  }
}

TEST_F(ControlPlaneTest, LoginIsAnonymousAndAuditsTheRealReason) {
  // A wrong method needs no credential either.
  auto head = Admin("GET", "/v1/login", std::nullopt);
  http::Response r = Call(head);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(HeaderOf(r, "Allow"), "POST");

  head = Admin("POST", "/v1/login", std::nullopt);
  http::Plan plan = Begin(head);
  ASSERT_FALSE(plan.immediate.has_value());
  ASSERT_TRUE(plan.handler) << "the password check runs on the worker pool";
  EXPECT_EQ(plan.body_limit, 8u * 1024);
  r = Run(plan, head, R"({"user":"nobody","password":"wrong password","totp":"123456"})");
  EXPECT_EQ(r.status, 401);
  Json e = LastEvent();
  EXPECT_EQ(e["action"], "login");
  EXPECT_EQ(e["resource"], "session");
  EXPECT_EQ(e["principal"], "user:nobody");
  EXPECT_EQ(e["decision"], "deny");
  EXPECT_FALSE(e["reason"].get<std::string>().empty());

  head = Admin("POST", "/v1/login", std::nullopt);
  r = Call(head, "not json");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(LastEvent()["decision"], "deny");
}

TEST_F(ControlPlaneTest, WhoamiNeedsAnyCredentialButNoControlPlaneRole) {
  auto head = Admin("GET", "/v1/whoami", Token("consumer", "fraud-*"));
  http::Response r = Call(head);
  EXPECT_EQ(r.status, 200);
  Json body = Json::parse(r.body);
  EXPECT_EQ(body["method"], "token");
  EXPECT_EQ(body["grants"], Json::array({"consumer:fraud-*"}));
  Json e = LastEvent();
  EXPECT_EQ(e["action"], "whoami");
  EXPECT_EQ(e["decision"], "allow");
  EXPECT_FALSE(e.contains("grant")) << "no policy decision was made";

  // Logging out is for sessions; a token is told to revoke instead.
  head = Admin("POST", "/v1/logout", Token("admin"));
  EXPECT_EQ(Call(head).status, 400);
  head = Admin("POST", "/v1/logout", std::nullopt);
  EXPECT_EQ(Call(head).status, 401);
}

TEST_F(ControlPlaneTest, AWrongMethodIsAuditedAsThePathsWritingRoute) {
  const std::string admin = Token("admin");
  const std::tuple<const char*, const char*, const char*, const char*> cases[] = {
      {"PATCH", "/v1/tokens", "token.create", "tokens"},
      {"PUT", "/v1/users", "user.add", "users"},
      {"GET", "/v1/models/m/versions/1", "model.push", "model:m/versions/1"},
      {"POST", "/v1/trust/k", "trust.add", "trust:k"},
      {"GET", "/v1/tokens/abc", "token.revoke", "token:abc"},
      {"PUT", "/v1/models", "model.list", "models"},
  };
  for (const auto& [method, path, action, resource] : cases) {
    auto head = Admin(method, path, admin);
    http::Response r = Call(head);
    EXPECT_EQ(r.status, 405) << method << " " << path;
    Json e = LastEvent();
    EXPECT_EQ(e["action"], action) << method << " " << path;
    EXPECT_EQ(e["resource"], resource) << method << " " << path;
    EXPECT_EQ(e["grant"], "admin:*") << "authorized before the method was refused";
  }
  // ... and authorized as that route: a role without its permission gets 403, not 405.
  auto head = Admin("PATCH", "/v1/tokens", Token("auditor"));
  http::Response r = Call(head);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(Json::parse(r.body)["error"], "not allowed to token.manage");
}

TEST_F(ControlPlaneTest, ListingAndScopedModelRoutesAskThePolicy) {
  const std::string deployer = Token("deployer", "b-*");
  auto head = Admin("GET", "/v1/models", deployer);
  http::Response r = Call(head);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["models"], Json::array());
  Json e = LastEvent();
  EXPECT_EQ(e["action"], "model.list");
  EXPECT_EQ(e["grant"], "deployer:b-*");

  head = Admin("DELETE", "/v1/models/a/versions/1", deployer);
  r = Call(head);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(Json::parse(r.body)["error"], "not allowed to model.remove on model 'a'");
  e = LastEvent();
  EXPECT_EQ(e["action"], "model.remove");
  EXPECT_EQ(e["resource"], "model:a/versions/1");
  EXPECT_EQ(e["decision"], "deny");

  // In scope: the handler runs (and the registry says the version is absent).
  head = Admin("DELETE", "/v1/models/b-1/versions/1", deployer);
  EXPECT_EQ(Call(head).status, 404);
  EXPECT_EQ(LastEvent()["grant"], "deployer:b-*");

  head = Admin("GET", "/v1/models", Token("consumer"));
  r = Call(head);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(Json::parse(r.body)["error"], "this identity has no control-plane role");
}

TEST_F(ControlPlaneTest, GrantedRoutesReachTheirHandlers) {
  const std::string admin = Token("admin");
  auto head = Admin("GET", "/v1/tokens", admin);
  http::Response r = Call(head);
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(Json::parse(r.body)["tokens"].empty());
  EXPECT_EQ(LastEvent()["action"], "token.list");

  head = Admin("POST", "/v1/tokens", admin);
  r = Call(head, R"({"name":"ci","role":"deployer","models":"ci-*"})");
  EXPECT_EQ(r.status, 201) << r.body;
  const std::string id = Json::parse(r.body)["id"];
  EXPECT_EQ(LastEvent()["action"], "token.create");

  head = Admin("DELETE", "/v1/tokens/" + id, admin);
  r = Call(head);
  EXPECT_EQ(r.status, 200) << r.body;
  Json e = LastEvent();
  EXPECT_EQ(e["action"], "token.revoke");
  EXPECT_EQ(e["resource"], "token:" + id);

  head = Admin("GET", "/v1/audit?limit=2", admin);
  r = Call(head);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Json::parse(r.body)["events"].size(), 2u);

  // Without a monitor the metrics routes say so (after authorization).
  head = Admin("GET", "/metrics", admin);
  EXPECT_EQ(Call(head).status, 503);
  EXPECT_EQ(LastEvent()["action"], "metrics.read");
  head = Admin("GET", "/v1/dashboard", Token("auditor"));
  EXPECT_EQ(Call(head).status, 503);
  EXPECT_EQ(LastEvent()["action"], "dashboard.read");
}

// Adds an account and logs it in; returns the session.
std::string AddAndLogIn(auth::UserDirectory& users, const std::string& name, const std::string& role) {
  const std::string password = "correct horse battery";
  auto enrolled = users.AddUser(auth::NewUser{name, role, "*", password}, "test");
  EXPECT_TRUE(enrolled.ok());
  if (!enrolled.ok()) return "";
  const std::string& uri = enrolled->totp_uri;
  const size_t begin = uri.find("secret=") + 7;
  const auto secret = auth::Base32Decode(uri.substr(begin, uri.find('&', begin) - begin)).value_or("");
  const std::string code = auth::TotpCode(crypto::AsBytes(secret), auth::TotpStep(std::chrono::system_clock::now()));
  auth::LoginOutcome out = users.Login({name, password, code, "192.0.2.1"});
  EXPECT_TRUE(out.status.ok()) << out.audit_reason;
  return out.session;
}

TEST_F(ControlPlaneTest, UserChangesRefuseBadNamesSelfServiceAndLosingTheLastAdmin) {
  const std::string token = Token("admin");
  EXPECT_EQ(Call(Admin("POST", "/v1/users/-dash/unlock", token)).status, 400);
  EXPECT_EQ(LastEvent()["reason"], std::string(auth::kUserNameRule));
  http::Response r = Call(Admin("DELETE", "/v1/users/ghost", token));
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(LastEvent()["action"], "user.remove");
  EXPECT_EQ(Call(Admin("POST", "/v1/users/ghost/reset-totp", Token("auditor"))).status, 403);

  // From here on the only administrator is alice, logged in with MFA.
  const std::string alice = AddAndLogIn(*users_, "alice", "admin");
  for (const auto& t : tokens_->List()) ASSERT_TRUE(tokens_->Revoke(t.id).ok());
  for (const char* change : {"unlock", "reset-totp", "enable"}) {
    r = Call(Admin("POST", std::string("/v1/users/alice/") + change, alice));
    EXPECT_EQ(r.status, 403) << change << ": " << r.body;
    Json e = LastEvent();
    EXPECT_EQ(e["decision"], "deny") << change;
    EXPECT_EQ(e["principal"], "user:alice") << change;
  }
  EXPECT_EQ(Call(Admin("DELETE", "/v1/users/alice", alice)).status, 403);
  r = Call(Admin("POST", "/v1/users/alice/disable", alice));
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find("last administrator"), std::string::npos) << r.body;
  EXPECT_NE(LastEvent()["reason"].get<std::string>().find("last administrator"), std::string::npos);
  EXPECT_FALSE(users_->ListUsers()->at(0).disabled);

  // Another admin may go while alice remains; a consumer's TOTP can be reset.
  AddAndLogIn(*users_, "bob", "admin");
  r = Call(Admin("DELETE", "/v1/users/bob", alice));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["removed"], true);
  const std::string carol = AddAndLogIn(*users_, "carol", "consumer");
  r = Call(Admin("POST", "/v1/users/carol/reset-totp", alice));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(Json::parse(r.body)["totp_uri"].get<std::string>().starts_with("otpauth://totp/Aegis:carol?"));
  Json e = LastEvent();
  EXPECT_EQ(e["action"], "user.reset_totp");
  EXPECT_EQ(e["resource"], "user:carol");
  EXPECT_EQ(e["decision"], "allow");
  EXPECT_FALSE(users_->AuthenticateSession(carol).ok()) << "reset-totp ends the user's sessions";
  EXPECT_EQ(Call(Admin("POST", "/v1/users/alice/disable", alice)).status, 409) << "bob is gone, alice is last";
  EXPECT_EQ(Call(Admin("POST", "/v1/users/carol/disable", alice)).status, 200);
  EXPECT_EQ(Call(Admin("POST", "/v1/users/carol/enable", alice)).status, 200);
  EXPECT_EQ(LastEvent()["action"], "user.enable");
}

TEST_F(ControlPlaneTest, UnknownPathsAre404AndAuditedAsUnknown) {
  for (const char* path : {"/v1", "/v1/nope", "/v1/models/m", "/v1/users/u/x", "/v1/login/x", "/v2", "/metrics/x",
                           "/v1//models", "/index.html"}) {
    auto head = Admin("GET", path, Token("admin"));
    http::Response r = Call(head);
    EXPECT_EQ(r.status, 404) << path;
    Json e = LastEvent();
    EXPECT_EQ(e["action"], "unknown") << path;
    EXPECT_EQ(e["resource"], std::string("path:") + path) << path;
    EXPECT_EQ(HeaderOf(r, "X-Frame-Options"), "") << path << ": not the dashboard's";
  }
}

}  // namespace
}  // namespace aegis::api
