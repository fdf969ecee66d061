// MetricsPlane::Begin in process: GET /metrics without a token, nothing else.
#include "aegis/api/metrics_plane.h"

#include "aegis/api/control_plane.h"
#include "api_test_env.h"

namespace aegis::api {
namespace {

using Json = nlohmann::json;

class MetricsPlaneTest : public testing::ApiTestEnv {
 protected:
  void SetUp() override {
    ApiTestEnv::SetUp();
    monitor::MonitorOptions options;
    options.registry = registry_.get();
    monitor_ = std::make_unique<monitor::Monitor>(options);
    services_.monitor = monitor_.get();
  }
  http::Response Call(std::string method, std::string_view target) {
    const http::RequestHead head = Head(std::move(method), target, std::nullopt, http::ListenerKind::kMetrics);
    http::Plan plan = MetricsPlane(services_).Begin(head);
    return Run(plan, head);
  }
  size_t Events() {
    auto recent = audit_->Recent(1000);
    return recent.ok() ? recent->size() : 0;
  }
  std::unique_ptr<monitor::Monitor> monitor_;
};

TEST_F(MetricsPlaneTest, ServesTheExpositionWithoutATokenAndCountsInsteadOfAuditing) {
  ASSERT_TRUE(audit_->Flush().ok());
  const size_t before = Events();
  http::Response r = Call("GET", "/metrics");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(r.body.find("# TYPE aegis_requests_total counter"), std::string::npos);
  ASSERT_TRUE(audit_->Flush().ok());
  EXPECT_EQ(Events(), before) << "an answered scrape is counted, not audited";
  EXPECT_NE(Call("GET", "/metrics").body.find(R"(aegis_metrics_scrapes_total{listener="metrics"} 1)"),
            std::string::npos);
}

TEST_F(MetricsPlaneTest, EverythingElseIs404AndAudited) {
  for (const auto& [method, target] : std::vector<std::pair<std::string, std::string>>{{"POST", "/metrics"},
                                                                                       {"HEAD", "/metrics"},
                                                                                       {"GET", "/metrics?x=1"},
                                                                                       {"GET", "/metrics/"},
                                                                                       {"GET", "/v2"},
                                                                                       {"GET", "/v1/models"},
                                                                                       {"GET", "/v1/dashboard"},
                                                                                       {"GET", "/"}}) {
    http::Response r = Call(method, target);
    EXPECT_EQ(r.status, 404) << method << " " << target;
    const Json e = LastEvent();
    EXPECT_EQ(e["action"], "unknown") << method << " " << target;
    EXPECT_EQ(e["listener"], "metrics");
    EXPECT_EQ(e["decision"], "allow") << "an unknown path, as on the other planes";
  }
  // The control plane still refuses a scrape without a token.
  const http::RequestHead head = Head("GET", "/metrics", std::nullopt, http::ListenerKind::kAdmin);
  http::Plan plan = ControlPlane(services_).Begin(head);
  EXPECT_EQ(Run(plan, head).status, 401);
  EXPECT_EQ(LastEvent()["action"], "metrics.read");
}

}  // namespace
}  // namespace aegis::api
