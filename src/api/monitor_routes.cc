// Control-plane routes for monitoring: GET /metrics (Prometheus) and
// GET /v1/dashboard (the live dashboard's data). Both need the metrics.read
// permission (admin and auditor), checked before they get here.
#include "control_routes.h"

namespace aegis::api::internal {
namespace {

// Both documents are built on the worker pool: the incident count reads the
// accounts from the database.
void PlanRead(RouteRequest& r, http::Response (*build)(monitor::Monitor&)) {
  monitor::Monitor* mon = r.services.monitor;
  if (mon == nullptr) {
    r.plan.immediate = http::Response::Error(503, "monitoring is not enabled on this server");
    return;
  }
  r.plan.handler = [mon, build](http::Request&) { return build(*mon); };
}

http::Response Metrics(monitor::Monitor& mon) {
  http::Response response;
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  response.body = mon.PrometheusText();
  return response;
}

http::Response Dashboard(monitor::Monitor& mon) { return http::Response::Json(200, mon.DashboardJson()); }

}  // namespace

void PlanMetrics(RouteRequest& r, const auth::Principal&) {
  r.scrape = monitor::ScrapeListener::kAdmin;
  PlanRead(r, Metrics);
}
void PlanDashboard(RouteRequest& r, const auth::Principal&) { PlanRead(r, Dashboard); }

}  // namespace aegis::api::internal
