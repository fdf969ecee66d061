// `aegis init`: creates a complete, secure installation in one step.
//
// Everything is built in a private sibling directory and renamed into place at the
// end, so a failure (or Ctrl-C) never leaves a half-made installation behind, and
// an existing installation is never touched.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>

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
};

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
  const fs::path target = fs::absolute(o.data_dir).lexically_normal();
  RequireFreshTarget(target);
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
  auto kek = Check(keys::LocalKeyProvider::Create(staging / "keys", passphrase), "creating the KEK");
  std::string ca_path = SetUpTls(staging / "tls", o, *kek);
  Check(MakeDirectory(staging / "blobs", 0700));
  Check(MakeDirectory(staging / "db", 0700));
  std::string admin_token;
  {
    auto store = Check(store::MetadataStore::Open(staging / "db" / "aegis.db"), "creating the database");
    auto tokens = Check(auth::TokenAuthenticator::Create(store.get(), Clock::Real()));
    // The break-glass credential: revoke it once a human admin exists.
    admin_token = Check(tokens->Issue({"admin", "admin", "*", std::nullopt, "init"})).token;
  }
  {
    // Creates the audit signing key (wrapped by the KEK) and the first signed head.
    auto log = Check(audit::AuditLog::Open(AuditOptions(staging, *kek)), "creating the audit log");
    audit::AuditEvent e = audit::SystemEvent(Clock::Real().Now(), audit::SystemAction::kServerInit, "installation");
    e.principal = "cli";  // a person ran `aegis init`, not the server
    log->Append(std::move(e));
    Check(log->Flush());
  }
  Check(WriteFileExclusive(staging / "aegis.toml",
                           RenderDefaultConfig(o.listen, o.admin_listen, /*local_ca=*/!ca_path.empty()), 0600));

  // rename(2) replaces an empty directory atomically and fails on a non-empty one.
  if (::rename(staging.c_str(), target.c_str()) != 0) {
    throw CommandError("cannot move the installation into " + target.string() + ": " + std::strerror(errno));
  }
  cleanup.armed = false;
  Check(SyncDirectory(parent));
  if (!ca_path.empty()) ca_path = (target / "tls" / "ca.crt").string();

  if (o.json) {
    nlohmann::ordered_json out = {
        {"data_dir", target.string()},
        {"admin_token", admin_token},
        {"ca_cert", ca_path.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(ca_path)}};
    std::cout << out.dump() << std::endl;
    return;
  }
  std::cout << "Created an Aegis installation in " << target.string() << "\n\n"
            << "Admin token (shown only now; store it in a secret manager):\n  " << admin_token << "\n\n";
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
  cmd->add_option("--listen", opts->listen, "Data plane address written to the config")->capture_default_str();
  cmd->add_option("--admin-listen", opts->admin_listen, "Control plane address written to the config")
      ->capture_default_str();
  cmd->footer(
      "Set AEGIS_PASSPHRASE to seal the key-encryption key under a passphrase (Argon2id).\n\n"
      "Examples:\n"
      "  aegis init --data-dir /srv/aegis\n"
      "  AEGIS_PASSPHRASE=... aegis init --data-dir /srv/aegis --san aegis.internal --san 10.0.0.5 \\\n"
      "      --listen 0.0.0.0:8443 --json");
  cmd->callback([opts] { RunInit(*opts); });
}

}  // namespace aegis::cli
