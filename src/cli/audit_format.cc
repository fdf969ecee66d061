// CEF (ArcSight Common Event Format, rev. 25): a header of pipe-separated fields,
// then key=value extensions. Header fields escape '\' and '|'; extension values
// escape '\', '=' and line breaks. Every value here can come from a client (a
// model name in a path, a user name), so all of them are escaped.
#include "audit_format.h"

#include <chrono>

#include "aegis/common/clock.h"
#include "aegis/common/version.h"

namespace aegis::cli::internal {
namespace {

std::string Header(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '|') out += '\\';
    if (c == '\n' || c == '\r') {
      out += ' ';
      continue;
    }
    out += c;
  }
  return out;
}

std::string Value(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '=') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Str(const nlohmann::json& e, const char* key) {
  auto it = e.find(key);
  return it != e.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::string EventToCef(const nlohmann::json& e) {
  const std::string action = Str(e, "action");
  const std::string decision = Str(e, "decision");
  const int status = e.value("status", 0);
  // 0-10: denials are what a SOC looks at first; server errors next.
  const int severity = decision == "deny" ? 7 : status >= 500 ? 5 : 3;
  std::string out = "CEF:0|Aegis|Aegis Model Server|" + std::string(kVersion) + "|" + Header(action) + "|" +
                    Header(action + " " + decision) + "|" + std::to_string(severity) + "|";
  std::vector<std::pair<std::string, std::string>> ext;
  if (auto t = ParseRfc3339(Str(e, "time"))) {
    ext.emplace_back(
        "rt", std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count()));
  }
  if (e.contains("seq")) ext.emplace_back("externalId", std::to_string(e.value("seq", 0ull)));
  ext.emplace_back("suser", Str(e, "principal"));
  const std::string remote = Str(e, "remote");
  const size_t colon = remote.rfind(':');
  if (!remote.empty() && colon != std::string::npos) {
    std::string ip = remote.substr(0, colon);
    if (ip.size() > 2 && ip.front() == '[') ip = ip.substr(1, ip.size() - 2);
    ext.emplace_back("src", ip);
    ext.emplace_back("spt", remote.substr(colon + 1));
  }
  ext.emplace_back("act", action);
  ext.emplace_back("outcome", decision);
  ext.emplace_back("cs1Label", "resource");
  ext.emplace_back("cs1", Str(e, "resource"));
  ext.emplace_back("cs2Label", "grant");
  ext.emplace_back("cs2", Str(e, "grant"));
  ext.emplace_back("cs3Label", "authMethod");
  ext.emplace_back("cs3", Str(e, "auth_method"));
  ext.emplace_back("cs4Label", "requestId");
  ext.emplace_back("cs4", Str(e, "request_id"));
  ext.emplace_back("cn1Label", "httpStatus");
  ext.emplace_back("cn1", std::to_string(status));
  ext.emplace_back("cn2Label", "latencyMicros");
  ext.emplace_back("cn2", std::to_string(e.value("latency_us", 0ll)));
  if (!Str(e, "traceparent").empty()) {
    ext.emplace_back("cs5Label", "traceparent");
    ext.emplace_back("cs5", Str(e, "traceparent"));
  }
  if (!Str(e, "reason").empty()) ext.emplace_back("reason", Str(e, "reason"));
  // A summary event (inference_events = "summary") stands for `cnt` requests.
  if (const auto s = e.find("summary"); s != e.end() && s->is_object()) {
    ext.emplace_back("cnt", std::to_string(s->value("count", 0ull)));
  }
  bool first = true;
  for (const auto& [k, v] : ext) {
    if (!first) out += ' ';
    first = false;
    out += k + "=" + Value(v);
  }
  return out;
}

}  // namespace aegis::cli::internal
