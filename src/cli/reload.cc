#include "reload.h"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include "aegis/common/file_util.h"

namespace aegis::cli::internal {
namespace {

constexpr std::string_view kReloadable[] = {
    "logging.level", "logging.format", "logging.access_log",      "tls.cert",          "tls.key",
    "tls.ca",        "tls.client_ca",  "tls.require_client_cert", "metrics.client_ca",
};

// "table.key" → the value as TOML text, for every value of the document; an
// array is one value.
void Flatten(const toml::table& table, const std::string& prefix, std::map<std::string, std::string>& out) {
  for (const auto& [key, node] : table) {
    const std::string path = prefix + std::string(key.str());
    if (const toml::table* sub = node.as_table()) {
      Flatten(*sub, path + ".", out);
      continue;
    }
    std::ostringstream value;
    if (const toml::array* array = node.as_array()) {
      value << *array;
      // An array of tables ([[auth.mtls]]) is reported by the key of its
      // tables' entries, so that it classifies like any other key.
      if (!array->empty() && array->is_array_of_tables()) {
        std::set<std::string> members;
        for (const auto& element : *array) {
          for (const auto& [k, v] : *element.as_table()) members.insert(std::string(k.str()));
        }
        for (const std::string& m : members) out[path + "." + m] = value.str();
        continue;
      }
    } else {
      node.visit([&value](const auto& leaf) { value << leaf; });
    }
    out[path] = value.str();
  }
}

StatusOr<toml::table> Parse(const std::string& text, const std::string& name) {
  try {
    return toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(name + ": " + std::string(e.description()));
  }
}

std::string Join(const std::vector<std::string>& keys) {
  std::string out;
  for (const std::string& k : keys) out += (out.empty() ? "" : ", ") + k;
  return out;
}

}  // namespace

bool IsReloadable(std::string_view key) {
  return std::find(std::begin(kReloadable), std::end(kReloadable), key) != std::end(kReloadable);
}

std::vector<std::string> ChangedKeys(const toml::table& before, const toml::table& after) {
  std::map<std::string, std::string> a, b;
  Flatten(before, "", a);
  Flatten(after, "", b);
  std::set<std::string> changed;
  for (const auto& [key, value] : a) {
    const auto it = b.find(key);
    if (it == b.end() || it->second != value) changed.insert(key);
  }
  for (const auto& [key, value] : b) {
    if (!a.contains(key)) changed.insert(key);
  }
  return {changed.begin(), changed.end()};
}

Reloader::Reloader(std::filesystem::path data_dir, const std::string& started, ReloadHooks hooks)
    : data_dir_(std::move(data_dir)), hooks_(std::move(hooks)) {
  // The text the server started with loaded already; a document that does
  // not parse here compares as empty (every key then reads as changed).
  auto parsed = Parse(started, "aegis.toml");
  if (parsed.ok()) started_ = std::move(parsed).value();
  applied_ = started_;
}

ReloadResult Reloader::Reload() {
  ReloadResult result;
  const std::filesystem::path file = data_dir_ / "aegis.toml";
  auto refused = [&result](const std::string& why) {
    result.detail = why + "; the running configuration is kept";
    return result;
  };
  // Everything is checked before anything changes.
  auto text = ReadFile(file, 1 << 20);
  if (!text.ok()) return refused(text.status().message());
  auto config = LoadConfig(data_dir_);
  if (!config.ok()) return refused(config.status().message());
  auto document = Parse(*text, file.string());
  if (!document.ok()) return refused(document.status().message());  // changed since LoadConfig read it
  if (hooks_.level_override) config->logging.level = *hooks_.level_override;
  auto destination = AccessLog::Open(config->logging.access_log);
  if (!destination.ok()) return refused("logging.access_log: " + destination.status().message());
  if (hooks_.reload_tls) {
    // The last check, and the first change: it swaps only when every listener's files load.
    if (Status tls = hooks_.reload_tls(*config); !tls.ok()) return refused("tls: " + tls.message());
  }
  if (hooks_.access_log != nullptr) hooks_.access_log->Use(std::move(destination).value());
  log::Configure(config->logging.level, config->logging.format);

  for (const std::string& key : ChangedKeys(applied_, *document)) {
    if (IsReloadable(key)) result.changed.push_back(key);
  }
  for (const std::string& key : ChangedKeys(started_, *document)) {
    if (!IsReloadable(key)) result.restart_needed.push_back(key);
  }
  applied_ = std::move(document).value();
  result.applied = true;
  result.tls_cert = config->Resolve(config->tls_cert);
  result.detail = "TLS files read again; changed: " + (result.changed.empty() ? "none" : Join(result.changed));
  if (!result.restart_needed.empty()) result.detail += "; not applied until a restart: " + Join(result.restart_needed);
  return result;
}

}  // namespace aegis::cli::internal
