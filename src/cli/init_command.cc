// `aegis init`: creates a complete, secure installation in one step.
//
// Everything is built in a private sibling directory and renamed into place at the
// end, so a failure (or Ctrl-C) never leaves a half-made installation behind, and
// an existing installation is never touched.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <set>

#include <nlohmann/json.hpp>

#include "aegis/audit/audit_log.h"
#include "aegis/auth/token_authenticator.h"
#include "aegis/cli/config.h"
#include "aegis/common/file_util.h"
#include "aegis/crypto/certificates.h"
#include "aegis/crypto/encoding.h"
#include "aegis/crypto/random.h"
#include "aegis/http/host_port.h"
#include "aegis/http/server.h"
#include "aegis/keys/key_provider.h"
#include "aegis/store/metadata_store.h"
#include "commands.h"
#include "passphrase.h"
#include "replica_id.h"
#include "store_open.h"

namespace aegis::cli {
namespace {

namespace fs = std::filesystem;

struct InitOptions {
  std::string data_dir;
  bool json = false;
  std::string tls_cert, tls_key;
  std::string listen = "127.0.0.1:8443";
  std::string admin_listen = "127.0.0.1:9443";
  std::vector<std::string> sans;  // extra names for the server certificate
  std::string store_url;          // PostgreSQL: the installation's shared state
  std::string kek_file;           // the installation's KEK, for another replica
  std::string replica_id;         // names the audit log (replica_id.h)
  bool replica_id_given = false;  // --replica-id "" is refused, not taken as absent
};

// The shared database of --store-url, and whether it already holds an
// installation (then this data folder is another replica's, and no admin
// token is made: the installation's credentials are in the database).
struct SharedStore {
  std::unique_ptr<store::MetadataStore> store;
  bool initialised = false;
};

SharedStore OpenSharedStore(const InitOptions& o) {
  SharedStore shared;
  if (o.store_url.empty()) {
    if (!o.kek_file.empty()) throw CommandError("--kek-file prepares another replica: it needs --store-url");
    return shared;
  }
  Check(store::MetadataStore::CheckPostgresUrl(o.store_url), "--store-url");
  shared.store = Check(store::MetadataStore::OpenPostgres(o.store_url, DbPasswordFromEnvironment()), "--store-url");
  // The first admin token is the mark of an initialised installation (tokens
  // are revoked, never deleted).
  shared.initialised = !Check(shared.store->ListTokens(), "--store-url").empty();
  if (!shared.initialised && !o.kek_file.empty()) {
    // A replica's init prints no token: on an empty database the installation's
    // only admin token would be made and lost with its output.
    throw CommandError(
        "the database of --store-url holds no installation yet: create it first with aegis init --store-url "
        "(without --kek-file; it prints the admin token), then prepare replicas with --kek-file");
  }
  if (shared.initialised && o.kek_file.empty()) {
    throw CommandError(
        "the database of --store-url already holds an installation: to prepare another replica's data folder, "
        "pass --kek-file with the installation's key-encryption key (kek.key, or kek.sealed and AEGIS_PASSPHRASE)");
  }
  return shared;
}

// Copies the installation's KEK (kek.key, or kek.sealed opened with
// AEGIS_PASSPHRASE) into `keys_dir` and opens it.
std::unique_ptr<keys::LocalKeyProvider> ImportKek(const fs::path& source, const fs::path& keys_dir,
                                                  const std::optional<std::string>& passphrase) {
  const std::string name = source.filename().string();
  if (name != "kek.key" && name != "kek.sealed") {
    throw CommandError("--kek-file must be a kek.key or kek.sealed file from the installation's keys/ folder");
  }
  struct stat st {};
  if (::stat(source.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    throw CommandError("--kek-file " + source.string() + " is not a readable file");
  }
  if (name == "kek.key" && (st.st_mode & 077) != 0) {
    throw CommandError("--kek-file " + source.string() + " is readable by group or others: chmod 600 it first");
  }
  auto bytes = Check(ReadFile(source, 64 << 10), "--kek-file");
  Check(MakeDirectory(keys_dir, 0700));
  Check(WriteFileExclusive(keys_dir / name, bytes, 0600));
  if (name == "kek.sealed" && !passphrase) throw CommandError("--kek-file is sealed: set AEGIS_PASSPHRASE");
  return Check(keys::LocalKeyProvider::Open(keys_dir, passphrase), "--kek-file");
}

// A KEK that is not the installation's could not unwrap its models or TOTP
// secrets: refuse it now rather than at the first load.
void RequireInstallationKek(store::MetadataStore& shared, const keys::KeyProvider& kek) {
  std::set<std::string> ids;
  for (const auto& m : Check(shared.ListModelVersions(), "--store-url")) ids.insert(m.kek_id);
  for (const auto& u : Check(shared.ListUsers(), "--store-url")) ids.insert(u.kek_id);
  if (!ids.empty() && !ids.contains(kek.KeyId())) {
    throw CommandError("--kek-file is not the key-encryption key of the installation in --store-url (its id is " +
                       kek.KeyId() + ", the database's is " + *ids.begin() + ")");
  }
}

// The server certificate's names: localhost, 127.0.0.1 and ::1 always, then
// each --san as a DNS name or an IP literal; anything else is refused, since a
// certificate naming garbage would only fail later, at every client.
std::pair<std::vector<std::string>, std::vector<std::string>> CertificateNames(const std::vector<std::string>& sans) {
  std::vector<std::string> dns{"localhost"};
  std::vector<std::string> ips{"127.0.0.1", "::1"};
  for (const std::string& san : sans) {
    auto& list = http::IsIpLiteral(san) ? ips : dns;
    if (&list == &dns && !http::IsDnsName(san)) {
      throw CommandError("--san '" + san +
                         "' is neither a DNS name (letters, digits, '-' in dot-separated labels, no wildcard) "
                         "nor an IP address");
    }
    if (std::find(list.begin(), list.end(), san) == list.end()) list.push_back(san);
  }
  return {dns, ips};
}

constexpr int kCaDays = 3650;
constexpr int kServerCertDays = 397;  // the CA/Browser Forum maximum

void RequireFreshTarget(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return;
  if (!fs::is_directory(dir, ec)) throw CommandError(dir.string() + " exists and is not a directory");
  if (!fs::is_empty(dir, ec)) {
    throw CommandError(dir.string() + " is not empty; refusing to overwrite an existing installation");
  }
}

// The TLS identity: a fresh local CA + server certificate, or the operator's own.
std::string SetUpTls(const fs::path& tls_dir, const InitOptions& o, const keys::KeyProvider& kek) {
  Check(MakeDirectory(tls_dir, 0700));
  if (!o.tls_cert.empty()) {
    auto cert = Check(ReadFile(o.tls_cert, 1 << 20), "--tls-cert");
    auto key = Check(ReadFile(o.tls_key, 1 << 20), "--tls-key");
    // Refuse a pair the server could not use, before the installation exists.
    Check(http::CheckTlsFiles({o.tls_cert, o.tls_key}), "--tls-cert/--tls-key");
    Check(WriteFileExclusive(tls_dir / "server.crt", cert, 0644));
    Check(WriteFileExclusive(tls_dir / "server.key", key, 0600));
    return "";
  }
  auto ca = Check(crypto::CreateCertificateAuthority("Aegis local CA", kCaDays), "creating the CA");
  const auto [dns, ips] = CertificateNames(o.sans);
  auto server =
      Check(crypto::CreateServerCertificate(ca, dns, ips, kServerCertDays), "creating the server certificate");
  Check(WriteFileExclusive(tls_dir / "ca.crt", ca.certificate_pem, 0644));
  // The CA key is kept only wrapped by the KEK, for re-issuing certificates later.
  auto wrapped = Check(kek.Wrap(crypto::AsBytes(ca.private_key_pem), crypto::AsBytes("aegis-ca-key")));
  Check(WriteFileExclusive(tls_dir / "ca.key.wrapped", crypto::Base64Encode(wrapped) + "\n", 0600));
  Check(WriteFileExclusive(tls_dir / "server.crt", server.certificate_pem + ca.certificate_pem, 0644));
  Check(WriteFileExclusive(tls_dir / "server.key", server.private_key_pem, 0600));
  return (tls_dir / "ca.crt").string();
}

void RunInit(const InitOptions& o) {
  if (o.tls_cert.empty() != o.tls_key.empty()) throw CommandError("--tls-cert and --tls-key go together");
  if (!o.tls_cert.empty() && !o.sans.empty()) {
    throw CommandError("--san names go into the certificate init makes; with --tls-cert, put them in your own");
  }
  if (o.tls_cert.empty()) CertificateNames(o.sans);  // refuse a bad --san before anything is created
  if (o.replica_id_given && o.replica_id.empty()) throw CommandError("--replica-id: a replica id cannot be empty", 2);
  const std::string replica_id = ReplicaIdForNewLog(o.replica_id, !o.store_url.empty());
  const fs::path target = fs::absolute(o.data_dir).lexically_normal();
  RequireFreshTarget(target);
  // Connected (and the database's state known) before anything is created.
  SharedStore shared = OpenSharedStore(o);
  const fs::path parent = target.parent_path();
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) throw CommandError("cannot create " + parent.string() + ": " + ec.message());

  const fs::path staging = parent / ("." + target.filename().string() + ".init-" + Check(crypto::RandomHex(6)));
  Check(MakeDirectory(staging, 0700));
  // Removes the staging directory unless the installation was moved into place.
  struct Cleanup {
    fs::path path;
    bool armed = true;
    ~Cleanup() {
      std::error_code ec;
      if (armed) fs::remove_all(path, ec);
    }
  } cleanup{staging};

  auto passphrase = PassphraseFromEnvironment();
  std::unique_ptr<keys::LocalKeyProvider> kek;
  if (o.kek_file.empty()) {
    kek = Check(keys::LocalKeyProvider::Create(staging / "keys", passphrase), "creating the KEK");
  } else {
    kek = ImportKek(o.kek_file, staging / "keys", passphrase);
    RequireInstallationKek(*shared.store, *kek);
  }
  std::string ca_path = SetUpTls(staging / "tls", o, *kek);
  Check(MakeDirectory(staging / "blobs", 0700));
  Check(MakeDirectory(staging / "db", 0700));  // with PostgreSQL too: this replica's own state (last-serving)
  std::string admin_token;
  // The break-glass credential: revoke it once a human admin exists.
  const auth::TokenRequest admin{"admin", "admin", "*", std::nullopt, "init"};
  if (!shared.store) {
    auto store = Check(store::MetadataStore::Open(staging / "db" / "aegis.db"), "creating the database");
    auto tokens = Check(auth::TokenAuthenticator::Create(store.get(), Clock::Real()));
    admin_token = Check(tokens->Issue(admin)).token;
  }
  {
    // Creates the audit signing key (wrapped by the KEK) and the first signed head.
    audit::AuditLogOptions log_options = AuditOptions(staging, *kek);
    log_options.replica_id = replica_id;
    auto log = Check(audit::AuditLog::Open(log_options), "creating the audit log");
    audit::AuditEvent e = audit::SystemEvent(Clock::Real().Now(), audit::SystemAction::kServerInit, "installation");
    e.principal = "cli";  // a person ran `aegis init`, not the server
    log->Append(std::move(e));
    Check(log->Flush());
  }
  Check(WriteFileExclusive(staging / "aegis.toml",
                           RenderDefaultConfig(o.listen, o.admin_listen, /*local_ca=*/!ca_path.empty(), o.store_url),
                           0600));
  // The shared database's admin token is made last, when nothing local can
  // fail any more but the move into place (after which it is revoked).
  std::unique_ptr<auth::TokenAuthenticator> shared_tokens;
  std::string shared_admin_id;
  if (shared.store && !shared.initialised) {
    shared_tokens = Check(auth::TokenAuthenticator::Create(shared.store.get(), Clock::Real()));
    auto issued = Check(shared_tokens->Issue(admin), "creating the admin token");
    admin_token = issued.token;
    shared_admin_id = issued.record.id;
  }

  // rename(2) replaces an empty directory atomically and fails on a non-empty one.
  if (::rename(staging.c_str(), target.c_str()) != 0) {
    const int error = errno;
    if (shared_tokens) shared_tokens->Revoke(shared_admin_id).IgnoreError();
    errno = error;
    throw CommandError("cannot move the installation into " + target.string() + ": " + std::strerror(errno));
  }
  cleanup.armed = false;
  Check(SyncDirectory(parent));
  if (!ca_path.empty()) ca_path = (target / "tls" / "ca.crt").string();

  if (o.json) {
    nlohmann::ordered_json out = {
        {"data_dir", target.string()},
        {"admin_token", admin_token.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(admin_token)},
        {"replica", shared.initialised},
        {"replica_id", replica_id.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(replica_id)},
        {"ca_cert", ca_path.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(ca_path)}};
    std::cout << out.dump() << std::endl;
    return;
  }
  if (shared.initialised) {
    std::cout << "Prepared another replica's data folder in " << target.string()
              << " (no admin token: the installation's credentials are in the database)\n\n";
  } else {
    std::cout << "Created an Aegis installation in " << target.string() << "\n\n"
              << "Admin token (shown only now; store it in a secret manager):\n  " << admin_token << "\n\n";
  }
  if (!ca_path.empty()) std::cout << "CA certificate for clients:\n  " << ca_path << "\n\n";
  std::cout << "Start the server with:\n  aegis serve --data-dir " << target.string() << "\n";
}

}  // namespace

void RegisterInit(CLI::App& app) {
  auto opts = std::make_shared<InitOptions>();
  CLI::App* cmd = app.add_subcommand("init", "Create a new installation: KEK, TLS certificates, admin token, config");
  cmd->add_option("--data-dir", opts->data_dir, "Directory to create (must not exist or be empty)")->required();
  AddJsonFlag(cmd, opts->json);
  cmd->add_option("--tls-cert", opts->tls_cert, "Use this PEM certificate chain instead of a local CA");
  cmd->add_option("--tls-key", opts->tls_key, "Private key for --tls-cert (PEM)");
  cmd->add_option("--san", opts->sans,
                  "Another DNS name or IP address for the server certificate (repeatable; localhost, 127.0.0.1 "
                  "and ::1 are always in it)");
  cmd->add_option("--store-url", opts->store_url,
                  "Keep the installation's shared state in this PostgreSQL database (postgresql://USER@HOST:PORT/DB"
                  "?sslmode=verify-full&sslrootcert=CA; the password from AEGIS_DB_PASSWORD)");
  cmd->add_option("--kek-file", opts->kek_file,
                  "With --store-url on an initialised database: the installation's kek.key (or kek.sealed), to "
                  "prepare another replica's data folder");
  auto* replica_id =
      cmd->add_option("--replica-id", opts->replica_id,
                      "Name this replica's audit log (every event and signed head carries it; default with "
                      "--store-url: the host name, on Kubernetes the pod's)");
  cmd->add_option("--listen", opts->listen, "Data plane address written to the config")->capture_default_str();
  cmd->add_option("--admin-listen", opts->admin_listen, "Control plane address written to the config")
      ->capture_default_str();
  cmd->footer(
      "Set AEGIS_PASSPHRASE to seal the key-encryption key under a passphrase (Argon2id).\n\n"
      "Examples:\n"
      "  aegis init --data-dir /srv/aegis\n"
      "  AEGIS_PASSPHRASE=... aegis init --data-dir /srv/aegis --san aegis.internal --san 10.0.0.5 \\\n"
      "      --listen 0.0.0.0:8443 --json\n"
      "  AEGIS_DB_PASSWORD=... aegis init --data-dir /srv/aegis \\\n"
      "      --store-url "
      "'postgresql://aegis@db.internal:5432/aegis?sslmode=verify-full&sslrootcert=/etc/aegis/db-ca.crt'");
  cmd->callback([opts, replica_id] {
    opts->replica_id_given = replica_id->count() > 0;
    RunInit(*opts);
  });
}

}  // namespace aegis::cli
