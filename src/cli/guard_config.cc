#include "guard_config.h"

#include <sstream>

#include "toml_table.h"

namespace aegis::cli::internal {
namespace {

// A rate ("N/s", "N/m", "N/h" or "off") into `limit`'s rate and burst; `burst_key`
// (when present) then replaces the burst.
Status Rate(const TableReader& r, const toml::table& table, const std::string& key, const std::string& burst_key,
            guard::RateLimit& limit) {
  if (table.contains(key)) {
    std::string text;
    AEGIS_RETURN_IF_ERROR(r.String(key, text));
    auto parsed = guard::ParseRate(text);
    if (!parsed.ok()) return r.Error(key, parsed.status().message());
    limit.per_second = parsed->per_second;
    limit.burst = parsed->burst;
  }
  if (!burst_key.empty() && table.contains(burst_key)) {
    if (!(limit.per_second > 0)) return r.Error(burst_key, "needs a rate (" + key + " is off)");
    AEGIS_RETURN_IF_ERROR(r.Integer(burst_key, limit.burst, 1, 1'000'000'000));
  }
  return Status::Ok();
}

}  // namespace

Status LoadGuardConfig(const toml::table& root, const std::string& file, Config& config) {
  guard::GuardOptions& g = config.guard;
  g.ipv6_source_prefix = config.http_limits.ipv6_source_prefix;  // [limits], read before
  if (const toml::node* node = root.get("guard")) {
    if (!node->is_table()) return Status::InvalidArgument(file + ": guard: must be a table ([guard])");
    const toml::table& table = *node->as_table();
    TableReader r(table, "guard.", file);
    AEGIS_RETURN_IF_ERROR(r.OnlyKeys({"rate", "burst", "quota", "concurrency", "auth_failures", "max_tracked"}));
    AEGIS_RETURN_IF_ERROR(Rate(r, table, "rate", "burst", g.principal));
    AEGIS_RETURN_IF_ERROR(r.Integer("quota", g.principal.quota_per_day, 0, 1'000'000'000'000));
    AEGIS_RETURN_IF_ERROR(r.Integer("concurrency", g.concurrency, 0, 1'000'000));
    AEGIS_RETURN_IF_ERROR(Rate(r, table, "auth_failures", "", g.auth_failures));
    AEGIS_RETURN_IF_ERROR(r.Integer("max_tracked", g.max_tracked, 1000, 100'000'000));
  }
  if (const toml::table* models = root["models"].as_table()) {
    for (const auto& [key, node] : *models) {
      const toml::table* table = node.as_table();
      if (table == nullptr || (!table->contains("rate") && !table->contains("burst"))) continue;
      const std::string name(key.str());
      TableReader r(*table, "models.\"" + name + "\".", file);
      guard::RateLimit limit;
      AEGIS_RETURN_IF_ERROR(Rate(r, *table, "rate", "burst", limit));
      if (limit.per_second > 0) g.models[name] = limit;
    }
  }
  return Status::Ok();
}

std::string RenderGuardConfig() {
  const guard::GuardOptions d = DefaultGuard();
  std::ostringstream out;
  out << "[guard]\n"
      << "# Per principal (a token, a user, a JWT subject, a certificate): requests as\n"
      << "# \"N/s\", \"N/m\" or \"N/h\" (a burst of N), a daily quota (0 = none) and requests\n"
      << "# in flight. Over a limit: 429 with Retry-After and RateLimit headers.\n"
      << "# A credential's own --rate/--burst/--quota replace these (docs/threat-detection.md).\n"
      << "rate = \"" << guard::FormatRate(d.principal.per_second) << "\"\n"
      << "burst = " << d.principal.burst << "\n"
      << "quota = " << d.principal.quota_per_day << "\n"
      << "concurrency = " << d.concurrency << "\n"
      << "# Failed authentications per client address, checked before any credential.\n"
      << "auth_failures = \"" << d.auth_failures.burst << "/m\"\n";
  return out.str();
}

}  // namespace aegis::cli::internal
