#include "aegis/api/metrics_plane.h"

#include "request_pipeline.h"

namespace aegis::api {

http::Plan MetricsPlane::Begin(const http::RequestHead& head) {
  if (services_.monitor != nullptr) services_.monitor->RequestBegan();
  // One route, matched exactly: no query, no other spelling, no other method
  // (not even HEAD), so the listener exposes nothing but the exposition.
  if (head.method != "GET" || head.path != "/metrics" || !head.query.empty()) {
    http::Plan plan = internal::Respond(http::Response::Error(404, "no such endpoint"));
    internal::AuditOnComplete(plan, services_, head, internal::StartUnroutedEvent(services_, head));
    return plan;
  }
  http::Plan plan;
  audit::AuditEvent event = internal::StartEvent(services_, head, policy::Action::kMetricsRead, "metrics");
  if (head.client_cert) event.principal = "mtls:" + head.client_cert->subject;
  monitor::Monitor* monitor = services_.monitor;
  if (monitor == nullptr) {
    plan.immediate = http::Response::Error(503, "monitoring is not enabled on this server");
  } else {
    // Built on the worker pool: the incident count reads the database.
    plan.handler = [monitor](http::Request&) {
      http::Response response;
      response.content_type = "text/plain; version=0.0.4; charset=utf-8";
      response.body = monitor->PrometheusText();
      return response;
    };
  }
  internal::AuditOnComplete(plan, services_, head, std::move(event), nullptr, nullptr,
                            monitor::ScrapeListener::kMetrics);
  return plan;
}

void MetricsPlane::OnRejected(const http::RequestHead& head, int status, std::string_view reason) {
  internal::AuditRejected(services_, head, status, reason);
}

}  // namespace aegis::api
