#include "guard_config.h"

#include <algorithm>
#include <sstream>

#include "config_schema.h"
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

// [guard.response]: a list of actions per incident kind, and throttle_rate.
Status LoadResponse(const toml::table& table, const std::string& file, bool alerts, Config& config) {
  TableReader r(table, "guard.response.", file);
  AEGIS_RETURN_IF_ERROR(r.OnlyKeys(KeysOf("guard.response")));
  for (size_t k = 0; k < incident::kIncidentKindCount; ++k) {
    const auto kind = static_cast<incident::IncidentKind>(k);
    const std::string key(incident::IncidentKindName(kind));
    const toml::node* node = table.get(key);
    if (node == nullptr) continue;
    const toml::array* list = node->as_array();
    if (list == nullptr) return r.Error(key, "must be a list of actions, e.g. [\"alert\", \"suspend\"]");
    std::vector<incident::ResponseAction> actions;
    for (const toml::node& item : *list) {
      const std::optional<std::string> name = item.value<std::string>();
      const auto action = name ? incident::ParseResponseAction(*name) : std::nullopt;
      if (!action) return r.Error(key, "actions are \"alert\", \"throttle\", \"suspend\" or \"withdraw\"");
      if (std::find(actions.begin(), actions.end(), *action) != actions.end()) {
        return r.Error(key, "lists \"" + *name + "\" twice");
      }
      if (*action == incident::ResponseAction::kAlert && !alerts) {
        return r.Error(key, "\"alert\" needs a receiver: set [guard.alerts] webhook_url");
      }
      actions.push_back(*action);
    }
    config.playbooks.by_kind[k] = std::move(actions);
  }
  if (table.contains("throttle_rate")) {
    std::string text;
    AEGIS_RETURN_IF_ERROR(r.String("throttle_rate", text));
    auto parsed = guard::ParseRate(text);
    if (!parsed.ok()) return r.Error("throttle_rate", parsed.status().message());
    if (!(parsed->per_second > 0)) return r.Error("throttle_rate", "must be a rate (\"off\" would not throttle)");
    config.throttle_limit = {.per_second = parsed->per_second, .burst = parsed->burst};
  }
  return Status::Ok();
}

// [guard.alerts]: where incident alerts go (an Alertmanager-compatible webhook).
Status LoadAlerts(const toml::table& table, const std::string& file, Config& config) {
  TableReader r(table, "guard.alerts.", file);
  AEGIS_RETURN_IF_ERROR(r.OnlyKeys(KeysOf("guard.alerts")));
  audit::WebhookOptions o;
  o.format = audit::WebhookFormat::kAlertmanager;
  o.batch_size = 1;  // one alert per notification, as Alertmanager groups by alertname
  AEGIS_RETURN_IF_ERROR(r.String("webhook_url", o.url));
  if (o.url.empty()) return r.Error("webhook_url", "is required (https://...)");
  if (auto url = audit::ParseWebhookUrl(o.url); !url.ok()) return r.Error("webhook_url", url.status().message());
  std::string path;
  AEGIS_RETURN_IF_ERROR(r.String("ca_file", path));
  if (!path.empty()) o.ca_file = config.Resolve(path);
  path.clear();
  AEGIS_RETURN_IF_ERROR(r.String("token_file", path));
  if (!path.empty()) {
    auto token = audit::ReadBearerTokenFile(config.Resolve(path));
    if (!token.ok()) return r.Error("token_file", token.status().message());
    o.bearer_token = std::move(token).value();
  }
  AEGIS_RETURN_IF_ERROR(r.String("receiver", o.receiver));
  if (o.receiver.size() > 128 || o.receiver.find_first_of("\"\\") != std::string::npos ||
      std::any_of(o.receiver.begin(), o.receiver.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; })) {
    return r.Error("receiver", "must be at most 128 characters without quotes, backslashes or control characters");
  }
  AEGIS_RETURN_IF_ERROR(r.Integer("queue_size", o.queue_size, 1, 100000));
  AEGIS_RETURN_IF_ERROR(r.Seconds("timeout_seconds", o.timeout, 1, 300));
  config.alerts = std::move(o);
  return Status::Ok();
}

// Alerts on every kind once a receiver is configured; the kinds' own actions after.
incident::Playbooks DefaultPlaybooks(bool alerts) {
  incident::Playbooks p = incident::Playbooks::Defaults();
  if (!alerts) return p;
  for (auto& actions : p.by_kind) actions.insert(actions.begin(), incident::ResponseAction::kAlert);
  return p;
}

// A number in [min, max] (an integer is accepted too).
Status Number(const TableReader& r, const toml::table& table, const std::string& key, double& out, double min,
              double max) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return Status::Ok();
  if (!node->is_floating_point() && !node->is_integer()) return r.Error(key, "must be a number");
  const double v = node->value<double>().value();
  if (!(v >= min && v <= max)) {
    std::ostringstream range;
    range << "must be between " << min << " and " << max;
    return r.Error(key, range.str());
  }
  out = v;
  return Status::Ok();
}

// The extraction detector's keys of one table into `s` (the same in [guard]
// and in [models."NAME"], where they start from [guard]'s).
Status Extraction(const TableReader& r, const toml::table& table, guard::ExtractionSettings& s) {
  if (table.contains("extraction")) {
    std::string mode;
    AEGIS_RETURN_IF_ERROR(r.String("extraction", mode));
    if (mode != "on" && mode != "off") return r.Error("extraction", "must be \"on\" or \"off\"");
    s.enabled = mode == "on";
  }
  AEGIS_RETURN_IF_ERROR(Number(r, table, "extraction_threshold", s.threshold, 0.5, 0.999));
  AEGIS_RETURN_IF_ERROR(r.Integer("extraction_min_queries", s.min_queries, 20, 5000));
  AEGIS_RETURN_IF_ERROR(r.Integer("extraction_window", s.window, 20, 5000));
  AEGIS_RETURN_IF_ERROR(r.Integer("extraction_max_rows_per_day", s.max_rows_per_day, 0, 1'000'000'000'000));
  if (s.window < s.min_queries) return r.Error("extraction_window", "must be at least extraction_min_queries");
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
    AEGIS_RETURN_IF_ERROR(r.OnlyKeys(KeysOf("guard")));
    AEGIS_RETURN_IF_ERROR(Rate(r, table, "rate", "burst", g.principal));
    AEGIS_RETURN_IF_ERROR(r.Integer("quota", g.principal.quota_per_day, 0, 1'000'000'000'000));
    AEGIS_RETURN_IF_ERROR(r.Integer("concurrency", g.concurrency, 0, 1'000'000));
    AEGIS_RETURN_IF_ERROR(Rate(r, table, "auth_failures", "", g.auth_failures));
    AEGIS_RETURN_IF_ERROR(r.Integer("max_tracked", g.max_tracked, 1000, 100'000'000));
    // Alerts first: the response's "alert" needs a receiver.
    if (const toml::node* alerts = table.get("alerts")) {
      if (!alerts->is_table()) return r.Error("alerts", "must be a table ([guard.alerts])");
      AEGIS_RETURN_IF_ERROR(LoadAlerts(*alerts->as_table(), file, config));
    }
    config.playbooks = DefaultPlaybooks(config.alerts.has_value());
    if (const toml::node* response = table.get("response")) {
      if (!response->is_table()) return r.Error("response", "must be a table ([guard.response])");
      AEGIS_RETURN_IF_ERROR(LoadResponse(*response->as_table(), file, config.alerts.has_value(), config));
    }
    AEGIS_RETURN_IF_ERROR(Extraction(r, table, config.extraction.defaults));
    AEGIS_RETURN_IF_ERROR(r.Integer("extraction_max_tracked", config.extraction.max_tracked, 1, 1'000'000));
  }
  if (const toml::table* models = root["models"].as_table()) {
    for (const auto& [key, node] : *models) {
      const toml::table* table = node.as_table();
      if (table == nullptr) continue;
      const std::string name(key.str());
      TableReader r(*table, "models.\"" + name + "\".", file);
      guard::ExtractionSettings settings = config.extraction.defaults;
      AEGIS_RETURN_IF_ERROR(Extraction(r, *table, settings));
      if (settings != config.extraction.defaults) config.extraction.models[name] = settings;
      if (!table->contains("rate") && !table->contains("burst")) continue;
      guard::RateLimit limit;
      AEGIS_RETURN_IF_ERROR(Rate(r, *table, "rate", "burst", limit));
      if (limit.per_second > 0) g.models[name] = limit;
    }
  }
  return Status::Ok();
}

std::string RenderGuardConfig() {
  const guard::GuardOptions d = DefaultGuard();
  const guard::ExtractionSettings e;
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
      << "auth_failures = \"" << d.auth_failures.burst << "/m\"\n"
      << "# Model-extraction detection per principal and model (PRADA): alarm when the\n"
      << "# Shapiro-Wilk W of the last extraction_window query distances falls below\n"
      << "# extraction_threshold, or past extraction_max_rows_per_day rows (0 = off).\n"
      << "# The playbook suspends the credential. [models.\"NAME\"] may override each.\n"
      << "extraction = \"on\"\n"
      << "extraction_threshold = " << e.threshold << "\n"
      << "extraction_min_queries = " << e.min_queries << "\n"
      << "extraction_window = " << e.window << "\n"
      << "extraction_max_rows_per_day = " << e.max_rows_per_day << "\n";
  return out.str();
}

}  // namespace aegis::cli::internal
