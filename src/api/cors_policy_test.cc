// CorsPolicy on its own (origin rules, preflight, decoration of every kind of
// plan), then through DataPlane::Begin: a preflight needs no credential and is
// audited; actual responses carry the headers only for listed origins.
#include "aegis/api/cors_policy.h"

#include "aegis/api/data_plane.h"
#include "api_test_env.h"

namespace aegis::api {
namespace {

using Json = nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

std::string Get(const Headers& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return "";
}

CorsPolicy Policy(const std::vector<std::string>& origins) {
  auto p = CorsPolicy::Parse(origins);
  EXPECT_TRUE(p.ok()) << p.status().message();
  return p.ok() ? *p : CorsPolicy();
}

http::RequestHead HeadWith(std::string method, std::vector<std::pair<std::string, std::string>> headers) {
  http::RequestHead head;
  head.method = std::move(method);
  head.target = head.path = "/v2/models/m/infer";
  head.headers = std::move(headers);
  return head;
}

TEST(CorsPolicyTest, OriginsAreNormalizedAsBrowsersSendThem) {
  const std::pair<std::string, std::string> good[] = {
      {"https://app.example.com", "https://app.example.com"},
      {"HTTPS://App.Example.COM", "https://app.example.com"},
      {"https://app.example.com:443", "https://app.example.com"},
      {"https://app.example.com:8443", "https://app.example.com:8443"},
      {"https://[2001:DB8::1]:9000", "https://[2001:db8::1]:9000"},
      {"http://localhost:3000", "http://localhost:3000"},
      {"http://127.0.0.1:80", "http://127.0.0.1"},
      {"http://[::1]:5173", "http://[::1]:5173"},
  };
  for (const auto& [in, want] : good) {
    auto got = CorsPolicy::NormalizeOrigin(in);
    ASSERT_TRUE(got.ok()) << in << ": " << got.status().message();
    EXPECT_EQ(*got, want) << in;
  }
}

TEST(CorsPolicyTest, AnythingButSchemeHostPortIsRefusedWithTheRule) {
  const std::pair<std::string, std::string> bad[] = {
      {"*", "is not allowed: list each origin"},
      {"null", "is not allowed"},
      {"app.example.com", "must be scheme://host[:port]"},
      {"ftp://app.example.com", "must start with https://"},
      {"https://app.example.com/", "no path (not even a trailing '/')"},
      {"https://app.example.com/app", "no path"},
      {"https://app.example.com?x=1", "no path"},
      {"https://user@app.example.com", "user info"},
      {"https://app.example.com:0", "invalid port"},
      {"https://app.example.com:65536", "invalid port"},
      {"https://app.example.com:", "empty port"},
      {"https://*.example.com", "invalid host name"},
      {"https://", "invalid host name"},
      {"https://app..example.com", "invalid host name"},
      {"https://[zz::1]", "invalid IPv6 address"},
      {"http://app.example.com", "allowed only for localhost"},
      {"https://app.example.com\r\nX: y", "no path"},
  };
  for (const auto& [in, want] : bad) {
    auto got = CorsPolicy::NormalizeOrigin(in);
    ASSERT_FALSE(got.ok()) << in;
    EXPECT_NE(got.status().message().find(want), std::string::npos) << in << ": " << got.status().message();
    EXPECT_EQ(got.status().message().rfind("CORS origin '", 0), 0u) << got.status().message();
  }
  auto twice = CorsPolicy::Parse({"https://a.example", "https://A.example:443"});
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("listed twice"), std::string::npos);
  EXPECT_FALSE(CorsPolicy().enabled());
  EXPECT_FALSE(Policy({}).enabled());
}

TEST(CorsPolicyTest, APreflightIsAnsweredForListedOriginsOnly) {
  const CorsPolicy cors = Policy({"https://app.example.com"});
  const auto ok = HeadWith("OPTIONS", {{"origin", "https://app.example.com"},
                                       {"access-control-request-method", "POST"},
                                       {"access-control-request-headers", "authorization,content-type"}});
  ASSERT_TRUE(cors.IsPreflight(ok));
  http::Response r = cors.Preflight(ok);
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(Get(r.headers, "Access-Control-Allow-Origin"), "https://app.example.com");
  EXPECT_EQ(Get(r.headers, "Access-Control-Allow-Methods"), "GET, POST");
  EXPECT_NE(Get(r.headers, "Access-Control-Allow-Headers").find("Authorization"), std::string::npos);
  EXPECT_EQ(Get(r.headers, "Access-Control-Max-Age"), "600");
  EXPECT_EQ(Get(r.headers, "Vary"), "Origin");
  EXPECT_EQ(Get(r.headers, "Access-Control-Allow-Credentials"), "");

  // Exact match: another scheme, port or a suffix is another origin.
  for (const char* other : {"https://evil.example", "http://app.example.com", "https://app.example.com:8443",
                            "https://app.example.com.evil.example", "https://APP.example.com"}) {
    const auto head = HeadWith("OPTIONS", {{"origin", other}, {"access-control-request-method", "POST"}});
    r = cors.Preflight(head);
    EXPECT_EQ(r.status, 403) << other;
    EXPECT_EQ(r.body, R"({"error": "origin not allowed"})") << other;
    EXPECT_EQ(Get(r.headers, "Access-Control-Allow-Origin"), "") << other;
  }
  // Not a preflight: no Access-Control-Request-Method, no Origin, or CORS off.
  EXPECT_FALSE(cors.IsPreflight(HeadWith("OPTIONS", {{"origin", "https://app.example.com"}})));
  EXPECT_FALSE(cors.IsPreflight(HeadWith("OPTIONS", {{"access-control-request-method", "POST"}})));
  EXPECT_FALSE(CorsPolicy().IsPreflight(ok));
}

TEST(CorsPolicyTest, EveryKindOfAnswerIsDecorated) {
  const CorsPolicy cors = Policy({"https://app.example.com"});
  const auto allowed = HeadWith("POST", {{"origin", "https://app.example.com"}});
  const auto other = HeadWith("POST", {{"origin", "https://evil.example"}});

  http::Plan immediate;
  immediate.immediate = http::Response::Error(401, "no");
  cors.Decorate(allowed, immediate);
  EXPECT_EQ(Get(immediate.immediate->headers, "Access-Control-Allow-Origin"), "https://app.example.com");
  EXPECT_NE(Get(immediate.immediate->headers, "Access-Control-Expose-Headers").find("X-Request-Id"), std::string::npos);

  http::Plan handler;
  handler.handler = [](http::Request&) { return http::Response::Json(200, "{}"); };
  cors.Decorate(other, handler);
  http::Request request;
  http::Response r = handler.handler(request);
  EXPECT_EQ(Get(r.headers, "Vary"), "Origin");
  EXPECT_EQ(Get(r.headers, "Access-Control-Allow-Origin"), "") << "an unlisted origin gets no CORS header";

  http::Plan async;
  async.async_handler = [](http::Request&, http::Reply reply) { reply(http::Response::Json(200, "{}")); };
  cors.Decorate(allowed, async);
  http::Response delivered;
  async.async_handler(request, http::Reply([&](http::Response resp) { delivered = std::move(resp); }));
  EXPECT_EQ(Get(delivered.headers, "Access-Control-Allow-Origin"), "https://app.example.com");

  http::Plan budget;
  budget.reserve_body = [](uint64_t) { return std::optional<http::Response>(http::Response::Error(503, "full")); };
  cors.Decorate(allowed, budget);
  EXPECT_EQ(Get(budget.reserve_body(10)->headers, "Access-Control-Allow-Origin"), "https://app.example.com");

  // No Origin (every non-browser client): nothing is wrapped or added.
  http::Plan plain;
  plain.immediate = http::Response::Json(200, "{}");
  cors.Decorate(HeadWith("POST", {}), plain);
  EXPECT_TRUE(plain.immediate->headers.empty());
}

class CorsDataPlaneTest : public testing::ApiTestEnv {};

TEST_F(CorsDataPlaneTest, PreflightsNeedNoCredentialAndAreAudited) {
  DataPlane plane(services_, {.cors = Policy({"https://app.example.com"})});
  auto head = Head("OPTIONS", "/v2/models/m/infer", std::nullopt, http::ListenerKind::kData);
  head.headers.emplace_back("origin", "https://app.example.com");
  head.headers.emplace_back("access-control-request-method", "POST");
  http::Plan plan = plane.Begin(head);
  EXPECT_EQ(Run(plan, head).status, 204);
  Json e = LastEvent();
  EXPECT_EQ(e["action"], "cors.preflight");
  EXPECT_EQ(e["decision"], "allow");
  EXPECT_EQ(e["resource"], "path:/v2/models/m/infer");

  head.headers[0].second = "https://evil.example";
  plan = plane.Begin(head);
  EXPECT_EQ(Run(plan, head).status, 403);
  e = LastEvent();
  EXPECT_EQ(e["decision"], "deny");
  EXPECT_EQ(e["reason"], "CORS origin not allowed: https://evil.example");

  // The same OPTIONS without CORS configured is an ordinary request: 401 first.
  plan = DataPlane(services_).Begin(head);
  EXPECT_EQ(Run(plan, head).status, 401);

  // An actual request from a listed origin: its 401 says who may read it.
  auto get = Head("GET", "/v2", std::nullopt, http::ListenerKind::kData);
  get.headers.emplace_back("origin", "https://app.example.com");
  plan = plane.Begin(get);
  http::Response r = Run(plan, get);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(HeaderOf(r, "Access-Control-Allow-Origin"), "https://app.example.com");
}

}  // namespace
}  // namespace aegis::api
