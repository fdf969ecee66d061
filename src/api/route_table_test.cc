// Properties of both planes' route tables, and the dispatcher's guarantees
// checked for every route: no route-specific work before authentication, the
// policy asked for every granted route, one audit event named by the route.
#include "route_table.h"

#include <set>
#include <string>
#include <utility>

#include "aegis/api/control_plane.h"
#include "aegis/api/data_plane.h"
#include "api_test_env.h"

namespace aegis::api {
namespace {

using internal::Access;
using internal::Route;
using policy::Action;

struct Plane {
  std::span<const Route> routes;
  http::ListenerKind listener;
  const char* name;
  bool public_model_ready = false;  // the data plane's table with [server] public_model_ready
};

std::vector<Plane> Planes() {
  return {{internal::DataPlaneRoutes(), http::ListenerKind::kData, "data"},
          {internal::PublicReadyDataPlaneRoutes(), http::ListenerKind::kData, "data (public_model_ready)", true},
          {internal::ControlPlaneRoutes(), http::ListenerKind::kAdmin, "control"}};
}

// A path the route's pattern matches: every {param} becomes "p".
std::string PathFor(const Route& route) {
  std::string path;
  std::string_view rest = route.pattern;
  while (!rest.empty()) {
    const size_t open = rest.find('{');
    if (open == std::string_view::npos) {
      path += rest;
      break;
    }
    path += rest.substr(0, open);
    path += "p";
    rest.remove_prefix(rest.find('}', open) + 1);
  }
  if (path.ends_with("/**")) path.resize(path.size() - 3);
  return path;
}

std::string MethodFor(const Route& route) {
  return route.method == internal::kAnyMethod ? "GET" : std::string(route.method);
}

class RouteTableTest : public testing::ApiTestEnv {
 protected:
  http::Plan Begin(const Plane& plane, const http::RequestHead& head) {
    if (plane.listener == http::ListenerKind::kData) {
      return DataPlane(services_, {.public_model_ready = plane.public_model_ready}).Begin(head);
    }
    return ControlPlane(services_).Begin(head);
  }
};

TEST(RouteTableShapeTest, EveryRouteHasAnActionAndItsPermission) {
  std::set<Action> routed;
  for (const Plane& plane : Planes()) {
    std::set<std::pair<std::string_view, std::string_view>> seen;
    ASSERT_FALSE(plane.routes.empty());
    for (const Route& r : plane.routes) {
      const std::string what = std::string(plane.name) + " " + std::string(r.method) + " " + std::string(r.pattern);
      EXPECT_TRUE(seen.emplace(r.method, r.pattern).second) << "duplicate row: " << what;
      EXPECT_TRUE(r.pattern.starts_with("/")) << what;
      EXPECT_FALSE(r.resource.empty()) << what;
      EXPECT_NE(policy::ActionName(r.action), "unknown") << what;
      routed.insert(r.action);
      const auto needed = policy::RequiredPermission(r.action);
      switch (r.access) {
        case Access::kGranted:
          ASSERT_TRUE(r.permission.has_value()) << what;
          EXPECT_EQ(r.permission, needed) << what;
          EXPECT_NE(r.handler, nullptr) << what;
          break;
        case Access::kAuthenticated:
          EXPECT_FALSE(needed.has_value()) << what;
          EXPECT_NE(r.handler, nullptr) << what;
          break;
        case Access::kAnonymous:
          EXPECT_FALSE(needed.has_value()) << what;
          EXPECT_NE(r.anonymous, nullptr) << what;
          EXPECT_EQ(r.handler, nullptr) << what;
          break;
      }
    }
  }
  // Every action of the vocabulary is served by some route (the last
  // enumerator ends the enum).
  for (int a = 0; a <= static_cast<int>(Action::kBaselineRead); ++a) {
    EXPECT_TRUE(routed.count(static_cast<Action>(a))) << policy::ActionName(static_cast<Action>(a)) << " has no route";
  }
}

TEST(RouteTableShapeTest, OnlyTheseActionsAreOpenWithoutAGrant) {
  std::set<std::string_view> anonymous, authenticated;
  for (const Plane& plane : Planes()) {
    for (const Route& r : plane.routes) {
      if (r.access == Access::kAnonymous) anonymous.insert(policy::ActionName(r.action));
      if (r.access == Access::kAuthenticated) authenticated.insert(policy::ActionName(r.action));
    }
  }
  // model.ready_public only in the table [server] public_model_ready selects.
  EXPECT_EQ(anonymous, (std::set<std::string_view>{"server.live", "server.ready", "model.ready_public", "login",
                                                   "dashboard.page"}));
  EXPECT_EQ(authenticated, (std::set<std::string_view>{"logout", "whoami"}));
}

TEST_F(RouteTableTest, WithoutACredentialEveryNonAnonymousRouteIs401BeforeAnyWork) {
  for (const Plane& plane : Planes()) {
    for (const Route& r : plane.routes) {
      if (r.access == Access::kAnonymous) continue;
      for (const std::optional<std::string>& bearer :
           {std::optional<std::string>(),
            std::optional<std::string>("aegis_0000000000000000_" + std::string(43, 'A'))}) {
        const std::string path = PathFor(r);
        const std::string what = std::string(r.method) + " " + path + (bearer ? " (bad token)" : "");
        const http::RequestHead head = Head(MethodFor(r), path, bearer, plane.listener);
        http::Plan plan = Begin(plane, head);
        ASSERT_TRUE(plan.immediate.has_value()) << what;
        EXPECT_EQ(plan.immediate->status, 401) << what;
        EXPECT_EQ(HeaderOf(*plan.immediate, "WWW-Authenticate"), "Bearer realm=\"aegis\"") << what;
        // Nothing of the route ran: no body is read, nothing is queued.
        EXPECT_FALSE(plan.handler) << what;
        EXPECT_EQ(plan.sink, nullptr) << what;
        EXPECT_EQ(plan.body_limit, http::Plan{}.body_limit) << what;
        Run(plan, head);
        const auto event = LastEvent();
        EXPECT_EQ(event["action"], policy::ActionName(r.action)) << what;
        EXPECT_EQ(event["decision"], "deny") << what;
        EXPECT_EQ(event["principal"], "anonymous") << what;
        EXPECT_EQ(event["status"], 401) << what;
        EXPECT_EQ(event["listener"], plane.listener == http::ListenerKind::kData ? "data" : "admin") << what;
      }
    }
  }
}

TEST_F(RouteTableTest, EveryGrantedRouteAsksThePolicy) {
  // The auditor holds no data-plane permission; the consumer no control-plane role.
  const std::string auditor = Token("auditor");
  const std::string consumer = Token("consumer");
  for (const Plane& plane : Planes()) {
    const bool data = plane.listener == http::ListenerKind::kData;
    for (const Route& r : plane.routes) {
      if (r.access != Access::kGranted) continue;
      const std::string path = PathFor(r);
      const std::string what = std::string(r.method) + " " + path;
      const std::string& token = data ? auditor : consumer;
      const http::RequestHead head = Head(MethodFor(r), path, token, plane.listener);
      http::Plan plan = Begin(plane, head);
      ASSERT_TRUE(plan.immediate.has_value()) << what;
      EXPECT_EQ(plan.immediate->status, 403) << what;
      EXPECT_FALSE(plan.handler) << what;
      EXPECT_EQ(plan.sink, nullptr) << what;
      Run(plan, head);
      const auto event = LastEvent();
      EXPECT_EQ(event["action"], policy::ActionName(r.action)) << what;
      EXPECT_EQ(event["decision"], "deny") << what;
      EXPECT_EQ(event["status"], 403) << what;
      EXPECT_TRUE(event["principal"].get<std::string>().starts_with("token:")) << what;
      const std::string reason = data ? "not allowed to " : "this identity has no control-plane role";
      EXPECT_TRUE(event["reason"].get<std::string>().starts_with(reason)) << what << ": " << event["reason"];
    }
  }
}

TEST_F(RouteTableTest, AllowListsThePathsMethodsInAFixedOrder) {
  const std::string admin = Token("admin");
  const std::pair<std::string, std::string> cases[] = {
      {"/v1/tokens", "GET, POST"},
      {"/v1/users", "GET, POST"},
      {"/v1/models/m/versions/1", "PUT, DELETE"},
      {"/v1/trust/k", "PUT, DELETE"},
      {"/v1/tokens/x", "DELETE"},
      {"/v1/users/u/disable", "POST"},
      {"/v1/users/u", "DELETE"},
      {"/v1/audit", "GET"},
      {"/metrics", "GET"},
      {"/v1/login", "POST"},
      {"/dashboard/app.css", "GET, HEAD"},
      {"/", "GET, HEAD"},
  };
  for (const auto& [path, allow] : cases) {
    const http::RequestHead head = Head("PATCH", path, admin, http::ListenerKind::kAdmin);
    http::Plan plan = ControlPlane(services_).Begin(head);
    ASSERT_TRUE(plan.immediate.has_value()) << path;
    EXPECT_EQ(plan.immediate->status, 405) << path;
    EXPECT_EQ(HeaderOf(*plan.immediate, "Allow"), allow) << path;
    EXPECT_EQ(plan.immediate->body, R"({"error": "method not allowed"})") << path;
  }
}

}  // namespace
}  // namespace aegis::api
