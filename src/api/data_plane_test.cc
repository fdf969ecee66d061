// DataPlane::Begin in process: real registry, tokens and audit log; no network.
#include "aegis/api/data_plane.h"

#include "aegis/common/file_util.h"
#include "api_test_env.h"

namespace aegis::api {
namespace {

using Json = nlohmann::json;

class DataPlaneTest : public testing::ApiTestEnv {
 protected:
  http::RequestHead Data(std::string method, std::string_view target, const std::optional<std::string>& bearer) {
    return Head(std::move(method), target, bearer, http::ListenerKind::kData);
  }
  http::Plan Begin(const http::RequestHead& head) { return DataPlane(services_).Begin(head); }

  // Serves examples/mlp.onnx as `name` version 1 (unsigned: the fixture allows it).
  void ServeMlp(const std::string& name) {
    const char* src = std::getenv("AEGIS_SOURCE_DIR");
    auto bytes = ReadFile(std::filesystem::path(src ? src : ".") / "examples" / "mlp.onnx");
    ASSERT_TRUE(bytes.ok()) << bytes.status().message();
    auto session = registry_->BeginPush(name, "1", runtime::ModelFormat::kOnnx, "tester");
    ASSERT_TRUE(session.ok()) << session.status().message();
    ASSERT_TRUE((*session)->Write({reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()}).ok());
    auto served = (*session)->Finish();
    ASSERT_TRUE(served.ok()) << served.status().message();
  }
};

TEST_F(DataPlaneTest, HealthProbesNeedNoCredentialAndAreAudited) {
  auto head = Data("GET", "/v2/health/live", std::nullopt);
  http::Plan plan = Begin(head);
  http::Response r = Run(plan, head);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"live":true})");
  Json e = LastEvent();
  EXPECT_EQ(e["action"], "server.live");
  EXPECT_EQ(e["decision"], "allow");
  EXPECT_EQ(e["principal"], "anonymous");
  EXPECT_EQ(e["resource"], "server");
  EXPECT_EQ(e["listener"], "data");
  EXPECT_FALSE(e.contains("auth_method"));

  head = Data("GET", "/v2/health/ready", std::nullopt);
  plan = Begin(head);
  EXPECT_EQ(Run(plan, head).status, 200);
  draining_ = true;
  plan = Begin(head);
  r = Run(plan, head);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, R"({"ready":false})");
  EXPECT_EQ(LastEvent()["action"], "server.ready");

  // A wrong method on an anonymous route: 405 without asking for a credential.
  head = Data("POST", "/v2/health/live", std::nullopt);
  plan = Begin(head);
  r = Run(plan, head);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(HeaderOf(r, "Allow"), "GET");
}

// [server] public_model_ready: per-model readiness without a credential,
// audited as its own action; everything else is unchanged. Off, it needs the
// model.ready grant.
TEST_F(DataPlaneTest, ModelReadinessIsPublicOnlyWhenConfigured) {
  ServeMlp("m");
  for (const char* path : {"/v2/models/m/ready", "/v2/models/m/versions/1/ready"}) {
    auto head = Data("GET", path, std::nullopt);
    http::Plan plan = DataPlane(services_).Begin(head);
    EXPECT_EQ(Run(plan, head).status, 401) << path;
    EXPECT_EQ(LastEvent()["action"], "model.ready") << path;

    plan = DataPlane(services_, {.public_model_ready = true}).Begin(head);
    http::Response r = Run(plan, head);
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(Json::parse(r.body), (Json{{"name", "m"}, {"ready", true}})) << path;
    Json e = LastEvent();
    EXPECT_EQ(e["action"], "model.ready_public") << path;
    EXPECT_EQ(e["principal"], "anonymous") << path;
    EXPECT_EQ(e["decision"], "allow") << path;
  }
  // Unknown models are 404 for anyone (the name's existence is what opening it gives away).
  auto head = Data("GET", "/v2/models/nope/ready", std::nullopt);
  http::Plan plan = DataPlane(services_, {.public_model_ready = true}).Begin(head);
  EXPECT_EQ(Run(plan, head).status, 404);
  // Metadata and inference still need a credential.
  for (const auto& [method, path] :
       {std::pair{"GET", "/v2/models/m"}, std::pair{"POST", "/v2/models/m/infer"}, std::pair{"GET", "/v2"}}) {
    head = Data(method, path, std::nullopt);
    plan = DataPlane(services_, {.public_model_ready = true}).Begin(head);
    EXPECT_EQ(Run(plan, head).status, 401) << path;
  }
}

TEST_F(DataPlaneTest, ServerMetadataNeedsAGrantAndNamesIt) {
  const std::string consumer = Token("consumer", "fraud-*");
  auto head = Data("GET", "/v2", consumer);
  http::Plan plan = Begin(head);
  http::Response r = Run(plan, head);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Json::parse(r.body)["name"], "aegis");
  Json e = LastEvent();
  EXPECT_EQ(e["action"], "server.metadata");
  EXPECT_EQ(e["decision"], "allow");
  EXPECT_EQ(e["grant"], "consumer:fraud-*");
  EXPECT_EQ(e["auth_method"], "token");
  EXPECT_TRUE(e["principal"].get<std::string>().starts_with("token:consumer-"));
}

TEST_F(DataPlaneTest, AWrongMethodIsRefusedOnlyAfterAuthenticationAndAuthorization) {
  auto head = Data("POST", "/v2", std::nullopt);
  http::Plan plan = Begin(head);
  EXPECT_EQ(Run(plan, head).status, 401);

  head = Data("POST", "/v2", Token("auditor"));
  plan = Begin(head);
  EXPECT_EQ(Run(plan, head).status, 403);

  head = Data("PUT", "/v2/models/m/versions/1/infer", Token("consumer"));
  plan = Begin(head);
  http::Response r = Run(plan, head);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(HeaderOf(r, "Allow"), "POST");
  Json e = LastEvent();
  EXPECT_EQ(e["action"], "infer");
  EXPECT_EQ(e["resource"], "model:m/versions/1");
  EXPECT_EQ(e["decision"], "allow");
  EXPECT_EQ(e["status"], 405);
}

TEST_F(DataPlaneTest, AControlPlanePathSaysThisIsTheDataPlane) {
  auto head = Data("GET", "/v1/models", Token("admin"));
  http::Plan plan = Begin(head);
  http::Response r = Run(plan, head);
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("this is the data plane"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("9443"), std::string::npos) << r.body;
  EXPECT_EQ(LastEvent()["action"], "unknown");
}

TEST_F(DataPlaneTest, UnknownPathsAre404AndAuditedAsUnknown) {
  for (const char* path : {"/v3", "/v2/models", "/v2/health", "/v2/models/m/versions", "/v2/models/m/x", "/v2//x",
                           "/v2/models/m/infer/", "/metrics", "/"}) {
    auto head = Data("GET", path, Token("admin"));
    http::Plan plan = Begin(head);
    http::Response r = Run(plan, head);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(r.body, R"({"error": "no such endpoint"})") << path;
    Json e = LastEvent();
    EXPECT_EQ(e["action"], "unknown") << path;
    EXPECT_EQ(e["resource"], std::string("path:") + path) << path;
    EXPECT_EQ(e["principal"], "anonymous") << path << ": nothing is authenticated for an unknown path";
  }
}

TEST_F(DataPlaneTest, TheScopeIsCheckedBeforeTheModelIsLookedUp) {
  const std::string consumer = Token("consumer", "fraud-*");
  // Out of scope: 403 whether or not the model exists, so nothing leaks.
  auto head = Data("GET", "/v2/models/credit/ready", consumer);
  http::Plan plan = Begin(head);
  http::Response r = Run(plan, head);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(Json::parse(r.body)["error"], "not allowed to model.ready on model 'credit'");
  Json e = LastEvent();
  EXPECT_EQ(e["action"], "model.ready");
  EXPECT_EQ(e["resource"], "model:credit");
  EXPECT_EQ(e["decision"], "deny");
  // In scope but absent: the registry answers.
  head = Data("GET", "/v2/models/fraud-x/versions/3", consumer);
  plan = Begin(head);
  EXPECT_EQ(Run(plan, head).status, 404);
  EXPECT_EQ(LastEvent()["resource"], "model:fraud-x/versions/3");
  head = Data("POST", "/v2/models/fraud-x/infer", consumer);
  plan = Begin(head);
  EXPECT_FALSE(plan.handler || plan.async_handler) << "an unknown model's body is never read";
  EXPECT_EQ(Run(plan, head).status, 404);
}

TEST_F(DataPlaneTest, InferenceRunsOnTheServedVersionAndNamesIt) {
  ServeMlp("fraud-mlp");
  const std::string consumer = Token("consumer", "fraud-*");
  auto head = Data("POST", "/v2/models/fraud-mlp/infer", consumer);
  http::Plan plan = Begin(head);
  ASSERT_FALSE(plan.immediate.has_value()) << plan.immediate->body;
  ASSERT_TRUE(plan.async_handler) << "inference answers when its model does";
  EXPECT_EQ(plan.body_limit, services_.limits.max_body_bytes);
  Json input{{"inputs", {{{"name", "input"}, {"shape", {5, 4}}, {"datatype", "FP32"}, {"data", Json::array()}}}}};
  for (int i = 0; i < 20; ++i) input["inputs"][0]["data"].push_back(0.25 * i);
  http::Response r = Run(plan, head, input.dump());
  EXPECT_EQ(r.status, 200) << r.body;
  Json out = Json::parse(r.body);
  EXPECT_EQ(out["model_name"], "fraud-mlp");
  EXPECT_EQ(out["model_version"], "1");
  EXPECT_FALSE(out["outputs"].empty());
  Json e = LastEvent();
  EXPECT_EQ(e["action"], "infer");
  EXPECT_EQ(e["resource"], "model:fraud-mlp/versions/1") << "the version that served, not the one asked for";
  EXPECT_EQ(e["grant"], "consumer:fraud-*");
  EXPECT_EQ(e["status"], 200);

  head = Data("GET", "/v2/models/fraud-mlp", consumer);
  plan = Begin(head);
  r = Run(plan, head);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Json::parse(r.body)["versions"], Json::array({"1"}));
  EXPECT_EQ(LastEvent()["action"], "model.metadata");
}

// The access log: one line per request, from the same facts as the audit
// event, with the bytes and the method and path, and never a credential or the query.
TEST_F(DataPlaneTest, EveryRequestWritesAnAccessLineWithoutItsCredential) {
  ServeMlp("fraud-mlp");
  const std::filesystem::path file = tmp_.path() / "access.log";
  AccessLog access;
  access.Use(AccessLog::Open(file.string()).value());
  services_.access_log = &access;
  const std::string consumer = Token("consumer", "fraud-*");
  auto head = Data("POST", "/v2/models/fraud-mlp/infer?secret=q", consumer);
  const std::string infer_id = head.request_id;
  http::Plan plan = Begin(head);
  ASSERT_TRUE(plan.on_complete);
  plan.on_complete({.status = 200, .latency = std::chrono::microseconds(1500), .bytes_in = 42, .bytes_out = 310});
  head = Data("GET", "/v2", "not-a-valid-token");
  plan = Begin(head);
  EXPECT_EQ(Run(plan, head).status, 401);
  // Refused by the HTTP layer before any route saw it (no path decoded).
  http::RequestHead refused;
  refused.method = "GET";
  refused.target = "/v2/x?token=hunter2";
  refused.remote_address = "127.0.0.1:40001";
  refused.request_id = "refused-1";
  DataPlane(services_).OnRejected(refused, 431, "request header too large");
  access.Flush();
  auto text = ReadFile(file);
  ASSERT_TRUE(text.ok());
  for (const std::string& secret :
       {consumer, std::string("secret=q"), std::string("not-a-valid-token"), std::string("hunter2")}) {
    EXPECT_EQ(text->find(secret), std::string::npos) << secret << " in " << *text;
  }
  std::vector<Json> lines;
  for (size_t start = 0, end; (end = text->find('\n', start)) != std::string::npos; start = end + 1) {
    lines.push_back(Json::parse(text->substr(start, end - start)));
  }
  ASSERT_EQ(lines.size(), 3u) << *text;
  const Json& infer = lines[0];
  EXPECT_EQ(infer["method"], "POST");
  EXPECT_EQ(infer["path"], "/v2/models/fraud-mlp/infer");
  EXPECT_EQ(infer["status"], 200);
  EXPECT_EQ(infer["bytes_in"], 42);
  EXPECT_EQ(infer["bytes_out"], 310);
  EXPECT_DOUBLE_EQ(infer["duration_ms"].get<double>(), 1.5);
  EXPECT_EQ(infer["model"], "fraud-mlp");
  EXPECT_EQ(infer["version"], "1");
  EXPECT_EQ(infer["action"], "infer");
  EXPECT_EQ(infer["listener"], "data");
  EXPECT_EQ(infer["remote"], "127.0.0.1:40000");
  EXPECT_TRUE(infer["principal"].get<std::string>().starts_with("token:consumer")) << infer;
  EXPECT_EQ(infer["request_id"], infer_id);
  EXPECT_EQ(lines[1]["status"], 401);
  EXPECT_FALSE(lines[1].contains("principal"));
  EXPECT_EQ(lines[2]["status"], 431);
  EXPECT_EQ(lines[2]["path"], "/v2/x");
  EXPECT_EQ(lines[2]["request_id"], "refused-1");
  services_.access_log = nullptr;
}

// The ids the HTTP layer adopted from the client reach the audit event, and a
// server error always says why: the response's message, else the status's name.
TEST_F(DataPlaneTest, ClientIdsAreAuditedAndServerErrorsCarryAReason) {
  auto head = Data("GET", "/v2/health/live", std::nullopt);
  head.request_id = "client-42";
  head.request_id_from_client = true;
  head.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  http::Plan plan = Begin(head);
  EXPECT_EQ(Run(plan, head).status, 200);
  Json e = LastEvent();
  EXPECT_EQ(e["request_id"], "client-42");
  EXPECT_EQ(e["request_id_origin"], "client");
  EXPECT_EQ(e["traceparent"], head.traceparent);
  EXPECT_FALSE(e.contains("reason"));

  head = Data("GET", "/v2/health/ready", std::nullopt);
  draining_ = true;
  plan = Begin(head);
  EXPECT_EQ(Run(plan, head).status, 503);
  e = LastEvent();
  EXPECT_FALSE(e.contains("request_id_origin"));
  EXPECT_FALSE(e.contains("traceparent"));
  EXPECT_EQ(e["reason"], "unavailable");

  head = Data("GET", "/v2", Token("consumer"));
  plan = Begin(head);
  ASSERT_TRUE(plan.on_complete);
  plan.on_complete({.status = 500, .latency = std::chrono::milliseconds(1), .error = "engine failed"});
  EXPECT_EQ(LastEvent()["reason"], "engine failed");
}

}  // namespace
}  // namespace aegis::api
