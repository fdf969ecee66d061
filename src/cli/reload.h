// SIGHUP: what `aegis serve` changes without a restart (internal to src/cli;
// docs/operations.md, "Reloading the configuration").
//
// Reloadable keys, applied to the running server:
//   [logging] level, format, access_log — the access log file is also opened
//     again when its name is unchanged (after logrotate moved it);
//   [tls] cert, key, ca, client_ca, require_client_cert, and [metrics]
//     client_ca — the TLS files are read again even when their names are
//     unchanged (a certificate renewed in place), for new connections only.
// Every other key needs a restart: a change to one is logged as a warning
// naming it, and the running value stays until the next start.
//
// A reload is all or nothing. The new aegis.toml must load as at start-up
// (every check), the access log must open, and every listener's TLS files must
// load and verify; otherwise nothing changes and the reload is reported as
// refused, with the reason.
//
// Thread-safety: Reload() is called from one thread at a time (serve's signal
// thread); the hooks it calls are the thread-safe parts of the server.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "aegis/cli/config.h"
#include "aegis/common/access_log.h"
#include "aegis/common/log.h"
#include "aegis/common/status.h"

namespace aegis::cli::internal {

// Whether a change to `key` ("table.key") is applied by a reload.
bool IsReloadable(std::string_view key);

// Every "table.key" whose value differs between two documents, or that only
// one of them has, sorted. An entry of an array of tables counts as its
// table's key ("auth.mtls.role"); any change inside an array reports the array.
std::vector<std::string> ChangedKeys(const toml::table& before, const toml::table& after);

// What a reload did.
struct ReloadResult {
  bool applied = false;
  // Applied: what changed and what needs a restart. Refused: why.
  std::string detail;
  std::vector<std::string> changed;         // reloadable keys whose value changed
  std::vector<std::string> restart_needed;  // changed keys a reload does not apply
  std::filesystem::path tls_cert;           // applied: the server certificate now in use
};

// How a reload reaches the running server.
struct ReloadHooks {
  // Loads every listener's TLS files from `config` and swaps them in, or
  // changes nothing and says why (http::HttpsServer::ReloadTls).
  std::function<Status(const Config& config)> reload_tls;
  AccessLog* access_log = nullptr;
  // `aegis serve --log-level`: replaces [logging] level at every reload too.
  std::optional<log::Level> level_override;
};

class Reloader {
 public:
  // `started` is the text of aegis.toml the server started with: the keys
  // that need a restart are compared with it.
  Reloader(std::filesystem::path data_dir, const std::string& started, ReloadHooks hooks);

  ReloadResult Reload();

 private:
  const std::filesystem::path data_dir_;
  ReloadHooks hooks_;
  toml::table started_;  // what the restart-only keys still are
  toml::table applied_;  // the document of the last applied reload (or the start)
};

}  // namespace aegis::cli::internal
