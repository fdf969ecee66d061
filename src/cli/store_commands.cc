// aegis store migrate: moves a SQLite installation's state into PostgreSQL.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "aegis/audit/audit_log.h"
#include "aegis/cli/config.h"
#include "aegis/common/clock.h"
#include "aegis/common/file_util.h"
#include "aegis/store/artifact_copy.h"
#include "aegis/store/metadata_store.h"
#include "commands.h"
#include "passphrase.h"
#include "store_open.h"

namespace aegis::cli {
namespace {

namespace fs = std::filesystem;

struct MigrateOptions {
  std::string data_dir;
  std::string to;
  bool json = false;
};

struct Copied {
  size_t trusted_keys = 0, tokens = 0, users = 0, sessions = 0, models = 0, baselines = 0, suspensions = 0,
         incidents = 0;
  uint64_t artifact_bytes = 0;

  std::string Summary() const {
    return std::to_string(models) + " model versions (" + std::to_string(artifact_bytes) + " bytes of ciphertext), " +
           std::to_string(trusted_keys) + " trusted keys, " + std::to_string(tokens) + " tokens, " +
           std::to_string(users) + " users, " + std::to_string(sessions) + " sessions, " + std::to_string(incidents) +
           " incidents, " + std::to_string(suspensions) + " suspensions, " + std::to_string(baselines) + " baselines";
  }
};

// Everything the SQLite store holds, written through the PostgreSQL store's own
// methods (so its checks apply), inside the caller's transaction.
Status CopyState(store::MetadataStore& from, store::MetadataStore& to, const fs::path& blobs, Copied& n) {
  AEGIS_ASSIGN_OR_RETURN(auto keys, from.ListTrustedKeys());
  for (const auto& k : keys) AEGIS_RETURN_IF_ERROR(to.InsertTrustedKey(k));
  n.trusted_keys = keys.size();
  AEGIS_ASSIGN_OR_RETURN(auto tokens, from.ListTokens());
  for (const auto& t : tokens) AEGIS_RETURN_IF_ERROR(to.InsertToken(t));
  n.tokens = tokens.size();
  AEGIS_ASSIGN_OR_RETURN(auto users, from.ListUsers());
  for (const auto& u : users) AEGIS_RETURN_IF_ERROR(to.InsertUser(u));
  n.users = users.size();
  AEGIS_ASSIGN_OR_RETURN(auto sessions, from.ListSessionIds());
  for (const auto& id : sessions) {
    AEGIS_ASSIGN_OR_RETURN(auto s, from.GetSession(id));
    AEGIS_RETURN_IF_ERROR(to.InsertSession(s));
  }
  n.sessions = sessions.size();
  // In push order, so the database assigns the same order of sequences.
  AEGIS_ASSIGN_OR_RETURN(auto versions, from.ListModelVersions());
  std::sort(versions.begin(), versions.end(), [](const auto& a, const auto& b) { return a.sequence < b.sequence; });
  for (const auto& v : versions) {
    const fs::path blob = blobs / (v.artifact_id + ".blob");
    AEGIS_RETURN_IF_ERROR(
        store::UploadArtifact(to, v.artifact_id, blob).WithContext("model " + v.name + " version " + v.version));
    std::error_code ec;
    n.artifact_bytes += fs::file_size(blob, ec);
    AEGIS_RETURN_IF_ERROR(to.InsertModelVersion(v).status());
  }
  n.models = versions.size();
  AEGIS_ASSIGN_OR_RETURN(auto baselines, from.ListBaselines());
  for (const auto& b : baselines) AEGIS_RETURN_IF_ERROR(to.PutBaseline(b));
  n.baselines = baselines.size();
  AEGIS_ASSIGN_OR_RETURN(auto suspensions, from.ListSuspensions());
  for (const auto& s : suspensions) AEGIS_RETURN_IF_ERROR(to.InsertSuspension(s));
  n.suspensions = suspensions.size();
  // Oldest first, so the newest stays newest.
  AEGIS_ASSIGN_OR_RETURN(auto incidents, from.ListIncidents(std::nullopt, SIZE_MAX));
  std::reverse(incidents.begin(), incidents.end());
  for (const auto& i : incidents) {
    AEGIS_RETURN_IF_ERROR(to.InsertIncident(i));
    for (const auto& action : i.actions) AEGIS_RETURN_IF_ERROR(to.AppendIncidentAction(i.id, action));
  }
  n.incidents = incidents.size();
  return Status::Ok();
}

// aegis.toml with [store] url set, as TOML text: the line replaces a `url`
// key or its commented example in [store], or a new [store] table is appended.
std::string WithStoreUrl(const std::string& config, const std::string& url) {
  std::string quoted = "\"";
  for (char c : url) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  quoted += "\"";
  const std::string line = "url = " + quoted;
  const size_t table = config.find("\n[store]\n");
  if (table == std::string::npos) return config + (config.ends_with("\n") ? "" : "\n") + "\n[store]\n" + line + "\n";
  const size_t body = table + std::string("\n[store]\n").size();
  const size_t next_table = config.find("\n[", body);
  const size_t end = next_table == std::string::npos ? config.size() : next_table;
  for (const std::string key : {"url =", "# url ="}) {
    for (size_t at = body; at < end;) {
      const size_t eol = std::min(config.find('\n', at), end);
      if (config.compare(at, key.size(), key) == 0) return config.substr(0, at) + line + config.substr(eol);
      at = eol + 1;
    }
  }
  return config.substr(0, body) + line + "\n" + config.substr(body);
}

void RunMigrate(const MigrateOptions& o) {
  Check(store::MetadataStore::CheckPostgresUrl(o.to), "--to");
  const fs::path dir = fs::absolute(o.data_dir).lexically_normal();
  const Config config = Check(LoadConfig(dir), "reading the configuration");
  if (!config.store_url.empty())
    throw CommandError(dir.string() + " keeps its state in PostgreSQL already (store.url)");
  const fs::path db = dir / "db" / "aegis.db";
  std::error_code ec;
  if (!fs::is_regular_file(db, ec)) throw CommandError("no SQLite database at " + db.string());

  // The audit log's lock keeps the server out while the state is copied (a
  // push meanwhile would be lost), and the log records the migration.
  auto kek = OpenKek(dir / "keys");
  audit::AuditLogOptions options = AuditOptions(dir, *kek);
  options.verify_interval = std::chrono::seconds(0);
  auto opened = audit::AuditLog::Open(options);
  if (!opened.ok() && opened.status().code() == StatusCode::kUnavailable &&
      opened.status().message().find("in use") != std::string::npos) {
    throw CommandError("the server is running on " + dir.string() + ": stop it first");
  }
  auto log = Check(std::move(opened), "opening the audit log");

  auto from = Check(store::MetadataStore::Open(db), "opening " + db.string());
  auto to = Check(store::MetadataStore::OpenPostgres(o.to, DbPasswordFromEnvironment()), "--to");
  if (!Check(to->ListTokens(), "--to").empty() || !Check(to->ListModelVersions(), "--to").empty() ||
      !Check(to->ListUsers(), "--to").empty() || !Check(to->ListTrustedKeys(), "--to").empty()) {
    throw CommandError("the database of --to holds an installation already: migrate into an empty database");
  }
  Copied copied;
  const Status status = to->InOneTransaction([&] { return CopyState(*from, *to, config.data_dir / "blobs", copied); });
  audit::AuditEvent event =
      audit::SystemEvent(Clock::Real().Now(), audit::SystemAction::kStoreMigrate, "store",
                         status.ok() ? "copied to PostgreSQL: " + copied.Summary() : status.message(),
                         status.ok() ? audit::Decision::kAllow : audit::Decision::kDeny);
  event.principal = "cli";
  log->Append(std::move(event));
  Check(log->Flush(), "recording the migration in the audit log");
  Check(status, "copying into --to (nothing was committed)");

  const fs::path config_path = dir / "aegis.toml";
  const std::string text = Check(ReadFile(config_path, 1 << 20), "reading " + config_path.string());
  Check(WriteFileAtomic(config_path, WithStoreUrl(text, o.to), 0600), "updating " + config_path.string());

  if (o.json) {
    nlohmann::ordered_json out = {{"data_dir", dir.string()},
                                  {"models", copied.models},
                                  {"artifact_bytes", copied.artifact_bytes},
                                  {"trusted_keys", copied.trusted_keys},
                                  {"tokens", copied.tokens},
                                  {"users", copied.users},
                                  {"sessions", copied.sessions},
                                  {"incidents", copied.incidents},
                                  {"suspensions", copied.suspensions},
                                  {"baselines", copied.baselines},
                                  {"config", config_path.string()}};
    std::cout << out.dump() << std::endl;
    return;
  }
  std::cout << "Copied " << copied.Summary() << " into PostgreSQL.\n"
            << config_path.string() << " now sets [store] url; start the server with AEGIS_DB_PASSWORD set.\n"
            << "The SQLite database " << db.string()
            << " is left as it was: keep it until the server runs well on PostgreSQL, then remove it.\n";
}

}  // namespace

void RegisterStoreCommands(CLI::App& app) {
  CLI::App* store = app.add_subcommand("store", "Offline operations on the installation's database");
  store->require_subcommand(1);
  auto o = std::make_shared<MigrateOptions>();
  CLI::App* migrate = store->add_subcommand(
      "migrate", "Offline (server stopped): copy a SQLite installation's state into an empty PostgreSQL database");
  migrate->add_option("--from-data-dir", o->data_dir, "The installation's data directory (SQLite)")->required();
  migrate
      ->add_option("--to", o->to,
                   "postgresql://USER@HOST:PORT/DB?sslmode=verify-full&sslrootcert=CA (password from "
                   "AEGIS_DB_PASSWORD)")
      ->required();
  AddJsonFlag(migrate, o->json);
  migrate->footer(
      "Everything is copied in one transaction (model ciphertext as it is, never decrypted); on any error nothing "
      "is committed. Then aegis.toml gets [store] url.\n\nExample:\n"
      "  AEGIS_DB_PASSWORD=... aegis store migrate --from-data-dir /srv/aegis \\\n"
      "      --to 'postgresql://aegis@db.internal:5432/aegis?sslmode=verify-full&sslrootcert=/etc/aegis/db-ca.crt'");
  migrate->callback([o] { RunMigrate(*o); });
}

}  // namespace aegis::cli
