// The security sections of the dashboard's document (dashboard_sections.h).
#include <string_view>

#include "aegis/common/clock.h"
#include "aegis/common/version.h"
#include "dashboard_sections.h"

namespace aegis::monitor::internal {
namespace {

// Per list of the credentials view: the counts stay exact.
constexpr size_t kMaxCredentialItems = 100;

// The init command's admin token: the installation's break-glass credential.
constexpr std::string_view kBreakGlassIssuer = "init";

Json TokenJson(const store::TokenRecord& t, const std::map<std::string, std::chrono::system_clock::time_point>& used) {
  const auto u = used.find(t.id);
  return {{"id", t.id},
          {"name", t.name},
          {"role", t.role},
          {"models", t.models},
          {"created_by", t.created_by},
          {"created_at", t.created_at},
          {"expires_at", t.expires_at.value_or("")},
          {"last_used", u == used.end() ? "" : FormatMillis(u->second)}};
}

void Append(Json& list, Json item) {
  if (list.size() < kMaxCredentialItems) list.push_back(std::move(item));
}

}  // namespace

std::string FormatMillis(std::chrono::system_clock::time_point t) {
  if (t.time_since_epoch().count() == 0) return "";
  const std::string micros = FormatRfc3339(t);  // "…:SS.ffffffZ"
  return micros.size() == 27 ? micros.substr(0, 23) + "Z" : micros;
}

Json BuildJson() { return {{"version", std::string(kVersion)}, {"revision", std::string(kRevision)}}; }

Json DenialsJson(const std::vector<DenialRecord>& denials) {
  Json out = Json::array();
  for (const DenialRecord& d : denials) {
    out.push_back({{"time", FormatMillis(d.time)},
                   {"principal", d.principal},
                   {"remote", d.remote},
                   {"action", d.action},
                   {"resource", d.resource},
                   {"status", d.status},
                   {"reason", d.reason}});
  }
  return out;
}

Json IntegrityJson(const registry::Registry* registry, const std::vector<DenialRecord>& recent) {
  registry::IntegrityCounts counts;
  Json load_failures = Json::array();
  if (registry != nullptr) {
    counts = registry->Integrity();
    for (const auto& [model, n] : registry->LoadFailures()) load_failures.push_back({{"model", model}, {"count", n}});
  }
  return {{"failures", counts.failures},
          {"scan_findings", counts.scan_findings},
          {"load_failures", std::move(load_failures)},
          {"recent", DenialsJson(recent)}};
}

Json CredentialsJson(const auth::TokenAuthenticator* tokens, std::chrono::system_clock::time_point now,
                     std::chrono::system_clock::time_point since) {
  Json break_glass = Json::array(), no_expiry = Json::array(), expired = Json::array(), unused = Json::array();
  size_t total = 0, active = 0;
  if (tokens != nullptr) {
    const auto used = tokens->LastUsed();
    // RFC 3339 UTC times of one format: text order is time order (as the authenticator compares).
    const std::string now_text = FormatRfc3339(now);
    for (const store::TokenRecord& t : tokens->List()) {
      ++total;
      if (t.revoked) continue;
      if (t.expires_at && now_text >= *t.expires_at) {
        Append(expired, TokenJson(t, used));
        continue;
      }
      ++active;
      if (t.created_by == kBreakGlassIssuer) Append(break_glass, TokenJson(t, used));
      if (!t.expires_at) Append(no_expiry, TokenJson(t, used));
      if (used.find(t.id) == used.end()) Append(unused, TokenJson(t, used));
    }
  }
  return {{"since", FormatMillis(since)},
          {"tokens", total},
          {"active", active},
          {"break_glass", std::move(break_glass)},
          {"no_expiry", std::move(no_expiry)},
          {"expired", std::move(expired)},
          {"unused", std::move(unused)}};
}

}  // namespace aegis::monitor::internal
