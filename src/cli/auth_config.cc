#include "auth_config.h"

#include <algorithm>
#include <set>

#include "aegis/auth/token_authenticator.h"
#include "config_schema.h"
#include "toml_table.h"

namespace aegis::cli::internal {
namespace {

// The forms the TLS layer reports SANs in; anything else could never match.
bool IsValidSanPattern(std::string_view san) {
  for (std::string_view prefix : {"DNS:", "URI:", "email:", "IP:"}) {
    if (san.size() > prefix.size() && san.substr(0, prefix.size()) == prefix) {
      return std::all_of(san.begin(), san.end(), [](char c) { return c > 0x20 && c < 0x7f; });
    }
  }
  return false;
}

Status LoadJwt(const toml::table& table, const std::string& file, Config& config) {
  TableReader r(table, "auth.jwt.", file);
  AEGIS_RETURN_IF_ERROR(r.OnlyKeys(KeysOf("auth.jwt")));
  JwtSettings jwt;
  AEGIS_RETURN_IF_ERROR(r.String("issuer", jwt.verifier.issuer));
  AEGIS_RETURN_IF_ERROR(r.String("audience", jwt.verifier.audience));
  if (jwt.verifier.issuer.empty()) return r.Error("issuer", "is required");
  if (jwt.verifier.audience.empty()) return r.Error("audience", "is required");
  std::string jwks_file, jwks_ca, models_claim;
  AEGIS_RETURN_IF_ERROR(r.String("jwks_file", jwks_file));
  AEGIS_RETURN_IF_ERROR(r.String("jwks_url", jwt.jwks_url));
  AEGIS_RETURN_IF_ERROR(r.String("jwks_ca", jwks_ca));
  if (jwks_file.empty() == jwt.jwks_url.empty())
    return r.Error("jwks_file", "set exactly one of jwks_file and jwks_url");
  if (!jwt.jwks_url.empty() && jwt.jwks_url.rfind("https://", 0) != 0) {
    return r.Error("jwks_url", "must be an https:// URL");
  }
  if (!jwks_ca.empty() && jwt.jwks_url.empty()) return r.Error("jwks_ca", "only applies to jwks_url");
  jwt.jwks_file = config.Resolve(jwks_file.empty() ? std::filesystem::path() : std::filesystem::path(jwks_file));
  if (jwks_file.empty()) jwt.jwks_file.clear();
  if (!jwks_ca.empty()) jwt.jwks_ca = config.Resolve(jwks_ca);
  AEGIS_RETURN_IF_ERROR(r.String("roles_claim", jwt.verifier.roles_claim));
  AEGIS_RETURN_IF_ERROR(r.String("models_claim", models_claim));
  if (!models_claim.empty()) jwt.verifier.models_claim = models_claim;
  int64_t leeway = jwt.verifier.leeway.count();
  AEGIS_RETURN_IF_ERROR(r.Integer("leeway_seconds", leeway, 0, 600));
  jwt.verifier.leeway = std::chrono::seconds(leeway);
  if (const toml::node* map = table.get("role_map")) {
    if (!map->is_table()) return r.Error("role_map", "must be a table of \"IdP role\" = \"aegis role\"");
    for (const auto& [from, to] : *map->as_table()) {
      const std::string key = "role_map." + std::string(from.str());
      if (!to.is_string()) return r.Error(key, "must be a string");
      const std::string role = to.value<std::string>().value();
      if (!policy::ParseRole(role)) return r.Error(key, "unknown role '" + role + "'");
      jwt.verifier.role_map.emplace(std::string(from.str()), role);
    }
  }
  config.jwt = std::move(jwt);
  return Status::Ok();
}

Status LoadCertificateIdentities(const toml::array& entries, const std::string& file, Config& config) {
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string prefix = "auth.mtls[" + std::to_string(i) + "].";
    if (!entries[i].is_table()) return Status::InvalidArgument(file + ": " + prefix + " must be a table");
    TableReader r(*entries[i].as_table(), prefix, file);
    AEGIS_RETURN_IF_ERROR(r.OnlyKeys(KeysOf("auth.mtls")));
    auth::CertificateMapping mapping;
    std::string role, models = "*";
    AEGIS_RETURN_IF_ERROR(r.String("subject", mapping.subject));
    AEGIS_RETURN_IF_ERROR(r.String("san", mapping.san));
    AEGIS_RETURN_IF_ERROR(r.String("role", role));
    AEGIS_RETURN_IF_ERROR(r.String("models", models));
    if (mapping.subject.empty() == mapping.san.empty()) return r.Error("subject", "set exactly one of subject and san");
    if (!mapping.san.empty() && !IsValidSanPattern(mapping.san)) {
      return r.Error("san", "must be DNS:<name>, URI:<uri>, email:<address> or IP:<address>");
    }
    if (role.empty()) return r.Error("role", "is required");
    auto grant = auth::MakeGrant(role, models);
    if (!grant.ok()) return r.Error("role", grant.status().message());
    mapping.grant = *grant;
    config.client_identities.push_back(std::move(mapping));
  }
  return Status::Ok();
}

}  // namespace

Status LoadAuthConfig(const toml::table& root, const std::string& file, Config& config) {
  if (const toml::node* tls = root.get("tls"); tls != nullptr && tls->is_table()) {
    TableReader t(*tls->as_table(), "tls.", file);
    std::string client_ca;
    AEGIS_RETURN_IF_ERROR(t.String("client_ca", client_ca));
    if (!client_ca.empty()) config.tls_client_ca = config.Resolve(client_ca);
    AEGIS_RETURN_IF_ERROR(t.Bool("require_client_cert", config.require_client_cert));
    if (config.require_client_cert && config.tls_client_ca.empty()) {
      return t.Error("require_client_cert", "needs tls.client_ca");
    }
  }
  const toml::node* auth = root.get("auth");
  if (auth == nullptr) return Status::Ok();
  if (!auth->is_table()) return Status::InvalidArgument(file + ": auth: must be a table");
  TableReader r(*auth->as_table(), "auth.", file);
  AEGIS_RETURN_IF_ERROR(r.OnlyKeys(KeysOf("auth")));
  if (const toml::node* jwt = auth->as_table()->get("jwt")) {
    if (!jwt->is_table()) return r.Error("jwt", "must be a table");
    AEGIS_RETURN_IF_ERROR(LoadJwt(*jwt->as_table(), file, config));
  }
  if (const toml::node* mtls = auth->as_table()->get("mtls")) {
    if (!mtls->is_array()) return r.Error("mtls", "must be an array of tables ([[auth.mtls]])");
    AEGIS_RETURN_IF_ERROR(LoadCertificateIdentities(*mtls->as_array(), file, config));
  }
  if (!config.client_identities.empty() && config.tls_client_ca.empty()) {
    return r.Error("mtls", "certificate identities need tls.client_ca");
  }
  return Status::Ok();
}

}  // namespace aegis::cli::internal
