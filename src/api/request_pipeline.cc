#include "request_pipeline.h"

#include <charconv>
#include <chrono>
#include <string>

#include "aegis/auth/authenticator.h"
#include "aegis/common/log.h"
#include "request_log.h"
#include "throttled_warnings.h"

namespace aegis::api::internal {
namespace {

// The names of request events that no route names, so that have no
// policy::Action: a path no route matches, a request the HTTP layer refused
// before any route saw it, and a CORS preflight (nothing is asked of the policy).
constexpr std::string_view kUnroutedAction = "unknown";
constexpr std::string_view kRejectedAction = "http.reject";
constexpr std::string_view kPreflightAction = "cors.preflight";

audit::AuditEvent NewEvent(const Services& services, const http::RequestHead& head, std::string_view action,
                           std::string resource) {
  audit::AuditEvent e;
  e.request_id = head.request_id;
  e.request_id_from_client = head.request_id_from_client;
  e.traceparent = head.traceparent;
  e.principal = "anonymous";
  e.action = std::string(action);
  e.resource = std::move(resource);
  e.decision = audit::Decision::kAllow;
  e.remote = ClientRemote(services, head);
  switch (head.listener) {
    case http::ListenerKind::kAdmin:
      e.listener = audit::Listener::kAdmin;
      break;
    case http::ListenerKind::kMetrics:
      e.listener = audit::Listener::kMetrics;
      break;
    case http::ListenerKind::kData:
      e.listener = audit::Listener::kData;
      break;
  }
  return e;
}

// The reason of a 5xx whose response carried no error message (a readiness
// probe's 503, a response the HTTP layer made).
std::string ServerErrorReason(int status) {
  switch (status) {
    case 500:
      return "internal error";
    case 503:
      return "unavailable";
    case 504:
      return "timed out";
    default:
      return "server error " + std::to_string(status);
  }
}

monitor::AuthMethod MonitorMethod(auth::Method method) {
  switch (method) {
    case auth::Method::kToken:
      return monitor::AuthMethod::kToken;
    case auth::Method::kSession:
      return monitor::AuthMethod::kSession;
    case auth::Method::kJwt:
      return monitor::AuthMethod::kJwt;
    case auth::Method::kClientCert:
      return monitor::AuthMethod::kMtls;
  }
  return monitor::AuthMethod::kNone;
}

}  // namespace

std::optional<std::vector<std::string_view>> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.empty() || path.front() != '/') return std::nullopt;
  path.remove_prefix(1);
  while (!path.empty()) {
    size_t slash = path.find('/');
    std::string_view seg = path.substr(0, slash);
    if (seg.empty()) return std::nullopt;
    out.push_back(seg);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
    if (path.empty()) return std::nullopt;  // trailing slash
  }
  return out;
}

audit::AuditEvent StartEvent(const Services& services, const http::RequestHead& head, policy::Action action,
                             std::string resource) {
  return NewEvent(services, head, policy::ActionName(action), std::move(resource));
}

audit::AuditEvent StartUnroutedEvent(const Services& services, const http::RequestHead& head) {
  return NewEvent(services, head, kUnroutedAction, "path:" + head.path);
}

audit::AuditEvent StartPreflightEvent(const Services& services, const http::RequestHead& head) {
  return NewEvent(services, head, kPreflightAction, "path:" + head.path);
}

void AuditOnComplete(http::Plan& plan, const Services& services, const http::RequestHead& head, audit::AuditEvent event,
                     std::shared_ptr<const LateOutcome> late, monitor::ModelSeries* series,
                     std::optional<monitor::ScrapeListener> scrape) {
  audit::AuditLog* log = services.audit;
  const Clock* clock = services.clock;
  monitor::Monitor* mon = services.monitor;
  plan.on_complete = [log, clock, mon, series, scrape, access = services.access_log, method = head.method,
                      path = head.path, late = std::move(late),
                      event = std::move(event)](const http::RequestEnd& end) mutable {
    const int status = end.status;
    if (late && !late->reason.empty()) event.reason = late->reason;
    // A server error always says why: the message the client got, else the status's name.
    if (status >= 500 && event.reason.empty()) {
      event.reason = end.error.empty() ? ServerErrorReason(status) : std::string(end.error);
    }
    if (late && late->denied) event.decision = audit::Decision::kDeny;
    if (late && !late->principal.empty()) event.principal = late->principal;
    if (late && !late->auth_method.empty()) event.auth_method = late->auth_method;
    event.time = clock->Now();
    event.status = status;
    event.latency_us = std::chrono::duration_cast<std::chrono::microseconds>(end.latency).count();
    if (status >= 500) LogServerError(event, method, path);
    if (access != nullptr && access->enabled()) access->Write(AccessLine(event, method, path, end));
    const bool denied = event.decision == audit::Decision::kDeny;
    if (mon == nullptr) {
      log->Append(std::move(event));
      return;
    }
    if (denied) {
      mon->RecordDenial(
          {event.time, event.principal, event.remote, event.action, event.resource, status, event.reason});
    }
    if (scrape && status == 200 && !denied) {
      mon->MetricsScraped(*scrape);
    } else {
      monitor::StageTimer timer;
      log->Append(std::move(event));
      mon->ObserveStage(monitor::Stage::kAudit, timer.Lap());
    }
    mon->RequestEnded(series, status, denied, end.latency);
  };
}

namespace {

// A refusal that points at the server's configuration rather than at the
// caller (auth::Authenticator::ConfigurationHint) is logged with the request
// id, at most once a minute per kind: clients can cause it at will.
void LogConfigurationProblem(const Status& refusal, std::string_view request_id) {
  const auto hint = auth::Authenticator::ConfigurationHint(refusal);
  if (!hint) return;
  static ThrottledWarnings warnings(std::chrono::minutes(1));
  const auto held_back = warnings.Admit(*hint, std::chrono::steady_clock::now());
  if (!held_back) return;
  log::Warn({.request_id = request_id}, "authentication refused ({}): {}{}", refusal.message(), *hint,
            *held_back == 0 ? std::string()
                            : " (" + std::to_string(*held_back) + " more refused so since the last such line)");
}

}  // namespace

std::optional<auth::Principal> Authenticate(const Services& services, const http::RequestHead& head, http::Plan& plan,
                                            audit::AuditEvent& event) {
  std::optional<auth::PresentedCertificate> certificate;
  if (head.client_cert) {
    certificate =
        auth::PresentedCertificate{head.client_cert->subject, head.client_cert->sans, head.client_cert->fingerprint};
  }
  const auto authorization = head.Header("authorization");
  monitor::StageTimer timer;
  auto principal = services.authenticator->Authenticate(authorization, certificate ? &*certificate : nullptr);
  ObserveStage(services, monitor::Stage::kAuth, timer.Lap());
  if (principal.ok()) {
    CountAuthAttempt(services, MonitorMethod(principal->method), true);
    event.principal = principal->name;
    event.auth_method = std::string(auth::MethodName(principal->method));
    return std::move(principal).value();
  }
  const auto presented = auth::Authenticator::PresentedMethod(authorization, certificate ? &*certificate : nullptr);
  CountAuthAttempt(services, presented ? MonitorMethod(*presented) : monitor::AuthMethod::kNone, false);
  event.decision = audit::Decision::kDeny;
  event.reason = principal.status().message();
  LogConfigurationProblem(principal.status(), event.request_id);
  http::Response response = http::Response::Error(principal.status());
  response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"aegis\"");
  plan.immediate = std::move(response);
  return std::nullopt;
}

namespace {

bool Apply(const Services& services, const policy::Decision& decision, http::Plan& plan, audit::AuditEvent& event) {
  if (decision.allowed) {
    event.grant = decision.grant;
    return true;
  }
  Deny(services, decision.reason, plan, event);
  return false;
}

}  // namespace

void Deny(const Services& services, std::string reason, http::Plan& plan, audit::AuditEvent& event) {
  if (services.monitor != nullptr) services.monitor->AuthzDenied();
  event.decision = audit::Decision::kDeny;
  event.reason = std::move(reason);
  plan.immediate = http::Response::Error(403, event.reason);
}

bool Authorize(const Services& services, const auth::Principal& principal, policy::Action action,
               std::string_view model, http::Plan& plan, audit::AuditEvent& event) {
  monitor::StageTimer timer;
  policy::Decision decision = policy::AuthorizeAction(principal.subject, action, model, services.clock->Now());
  ObserveStage(services, monitor::Stage::kPolicy, timer.Lap());
  return Apply(services, decision, plan, event);
}

std::string SourceAddress(std::string_view remote) {
  if (!remote.empty() && remote.front() == '[') {
    const size_t close = remote.find(']');
    return std::string(remote.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1));
  }
  return std::string(remote.substr(0, remote.rfind(':')));
}

namespace {

// Every X-Forwarded-For field of the request, joined as one list (RFC 9110
// allows a list to be split over several fields).
std::string ForwardedFor(const http::RequestHead& head) {
  std::string joined;
  for (const auto& [name, value] : head.headers) {
    if (name != "x-forwarded-for") continue;
    if (!joined.empty()) joined += ", ";
    joined += value;
    if (joined.size() > http::TrustedProxies::kMaxHeaderBytes) break;  // refused as a whole anyway
  }
  return joined;
}

}  // namespace

std::string ClientSource(const Services& services, const http::RequestHead& head) {
  std::string peer = SourceAddress(head.remote_address);
  if (services.trusted_proxies == nullptr || services.trusted_proxies->empty()) return peer;
  return services.trusted_proxies->ClientAddress(peer, ForwardedFor(head));
}

std::string ClientRemote(const Services& services, const http::RequestHead& head) {
  if (services.trusted_proxies == nullptr || services.trusted_proxies->empty()) return head.remote_address;
  const std::string peer = SourceAddress(head.remote_address);
  const std::string client = services.trusted_proxies->ClientAddress(peer, ForwardedFor(head));
  if (client == peer) return head.remote_address;
  return client.find(':') == std::string::npos ? client : "[" + client + "]";
}

std::optional<uint64_t> ParseDecimal(std::string_view text) {
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return n;
}

http::Plan Respond(http::Response response) {
  http::Plan plan;
  plan.immediate = std::move(response);
  return plan;
}

http::Response MethodNotAllowed(std::string_view allow) {
  http::Response r = http::Response::Error(405, "method not allowed");
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

void AuditRejected(const Services& services, const http::RequestHead& head, int status, std::string_view reason) {
  audit::AuditEvent e = NewEvent(services, head, kRejectedAction, head.path.empty() ? "-" : "path:" + head.path);
  e.decision = audit::Decision::kDeny;
  e.status = status;
  e.reason = std::string(reason);
  e.time = services.clock->Now();
  if (services.monitor != nullptr) {
    services.monitor->RecordDenial({e.time, e.principal, e.remote, e.action, e.resource, status, e.reason});
  }
  // The target as sent, without its query (which may carry a secret), when
  // no path was decoded from it.
  const std::string_view target(head.target);
  const std::string_view path = head.path.empty() ? target.substr(0, target.find('?')) : std::string_view(head.path);
  // A request Begin saw (its path is set) writes its access line when it ends.
  if (head.path.empty() && services.access_log != nullptr && services.access_log->enabled()) {
    http::RequestEnd end;
    end.status = status;
    services.access_log->Write(AccessLine(e, head.method, path, end));
  }
  if (status >= 500) LogServerError(e, head.method, path);
  services.audit->Append(std::move(e));
  if (services.monitor != nullptr) services.monitor->RequestRejected(status);
}

http::Response ErrorResponse(const Status& status) {
  http::Response response = http::Response::Error(status);
  if (status.code() == StatusCode::kUnavailable) response.headers.emplace_back("Retry-After", "1");
  return response;
}

}  // namespace aegis::api::internal
