#include "request_log.h"

#include <chrono>
#include <cstdio>

#include "aegis/common/log.h"

namespace aegis::api::internal {
namespace {

void Member(std::string& out, std::string_view key, std::string_view value) {
  out += ",\"";
  out += key;
  out += "\":";
  log::AppendJsonString(out, value);
}

void Member(std::string& out, std::string_view key, uint64_t value) {
  out += ",\"";
  out += key;
  out += "\":";
  out += std::to_string(value);
}

}  // namespace

std::pair<std::string_view, std::string_view> ModelOfResource(std::string_view resource) {
  constexpr std::string_view kModel = "model:", kVersions = "/versions/";
  if (!resource.starts_with(kModel)) return {};
  resource.remove_prefix(kModel.size());
  const size_t at = resource.find(kVersions);
  if (at == std::string_view::npos) return {resource, {}};
  return {resource.substr(0, at), resource.substr(at + kVersions.size())};
}

std::string AccessLine(const audit::AuditEvent& event, std::string_view method, std::string_view path,
                       const http::RequestEnd& end) {
  std::string out;
  out.reserve(320);
  out += "{\"time\":\"";
  log::AppendRfc3339(out, event.time);
  out += '"';
  Member(out, "request_id", event.request_id);
  Member(out, "listener", audit::ListenerName(event.listener));
  Member(out, "remote", event.remote);
  Member(out, "method", method);
  Member(out, "path", path);
  Member(out, "status", static_cast<uint64_t>(end.status));
  Member(out, "bytes_in", end.bytes_in);
  Member(out, "bytes_out", end.bytes_out);
  char duration[32];
  const double ms = std::chrono::duration<double, std::milli>(end.latency).count();
  std::snprintf(duration, sizeof duration, "%.3f", ms);
  out += ",\"duration_ms\":";
  out += duration;
  // Who was authenticated; a failed login (401) names only who it claimed to
  // be, which is left to the audit log.
  if (!event.principal.empty() && event.principal != "anonymous" && end.status != 401) {
    Member(out, "principal", event.principal);
  }
  const auto [model, version] = ModelOfResource(event.resource);
  if (!model.empty()) Member(out, "model", model);
  if (!version.empty()) Member(out, "version", version);
  Member(out, "action", event.action);
  out += '}';
  return out;
}

void LogServerError(const audit::AuditEvent& event, std::string_view method, std::string_view path) {
  const auto [model, version] = ModelOfResource(event.resource);
  log::Error({.request_id = event.request_id,
              .model = model,
              .version = version,
              .principal = event.principal,
              .status = event.status},
             "{} {} answered {}: {}", method, path, event.status, event.reason);
}

}  // namespace aegis::api::internal
