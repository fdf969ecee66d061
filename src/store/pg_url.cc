#include "pg_url.h"

#include <map>
#include <memory>

namespace aegis::store::internal {
namespace {

// Each entry of a comma-separated host list is a socket directory (absolute
// path, or an abstract socket "@name") or a TCP host.
bool AllUnixSockets(const std::string& hosts) {
  if (hosts.empty()) return true;  // libpq's default is the local socket directory
  size_t start = 0;
  while (start <= hosts.size()) {
    const size_t end = std::min(hosts.find(',', start), hosts.size());
    const std::string host = hosts.substr(start, end - start);
    if (host.empty() || (host[0] != '/' && host[0] != '@')) return false;
    start = end + 1;
  }
  return true;
}

}  // namespace

StatusOr<PgConnectOptions> ParseStoreUrl(std::string_view url, const std::optional<std::string>& password) {
  const std::string text(url);
  for (const char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Status::InvalidArgument("must not contain control characters");
    }
  }
  if (text.rfind("postgresql://", 0) != 0 && text.rfind("postgres://", 0) != 0) {
    return Status::InvalidArgument("must be a postgresql:// URL");
  }
  char* error = nullptr;
  struct FreeOptions {
    void operator()(PQconninfoOption* o) const { PQconninfoFree(o); }
  };
  std::unique_ptr<PQconninfoOption, FreeOptions> parsed(PQconninfoParse(text.c_str(), &error));
  if (!parsed) {
    // libpq's reason may quote the URL; keep only what kind of mistake it was.
    std::string reason = error ? error : "out of memory";
    PQfreemem(error);
    reason = reason.substr(0, reason.find('\n'));
    if (reason.find('"') != std::string::npos) reason = reason.substr(0, reason.find('"')) + "...";
    return Status::InvalidArgument("is not a valid connection URL: " + reason);
  }
  std::map<std::string, std::string> set;
  for (const PQconninfoOption* o = parsed.get(); o->keyword; ++o) {
    if (o->val && *o->val) set[o->keyword] = o->val;
  }
  if (set.contains("password")) {
    return Status::InvalidArgument("must not contain a password: set AEGIS_DB_PASSWORD or use a libpq passfile");
  }
  if (set.contains("service")) {
    return Status::InvalidArgument("must not name a service: write the connection settings in the URL");
  }
  const bool tcp = !AllUnixSockets(set.contains("host") ? set["host"] : "") || set.contains("hostaddr");
  if (tcp && (!set.contains("sslmode") || set["sslmode"] != "verify-full")) {
    return Status::InvalidArgument(
        "must set sslmode=verify-full for a TCP host (and sslrootcert= the CA that signed the "
        "database's certificate)");
  }
  if (!set.contains("dbname")) return Status::InvalidArgument("must name the database (postgresql://.../DB)");

  const std::map<std::string, std::string> defaults = {
      {"connect_timeout", "5"},      {"keepalives", "1"},         {"keepalives_idle", "10"},
      {"keepalives_interval", "5"},  {"keepalives_count", "3"},   {"tcp_user_timeout", "10000"},
      {"application_name", "aegis"}, {"client_encoding", "UTF8"}, {"target_session_attrs", "read-write"},
  };
  for (const auto& [key, value] : defaults) set.emplace(key, value);

  PgConnectOptions out;
  for (const auto& [key, value] : set) out.keywords.emplace_back(key, value);
  if (password && !password->empty()) out.keywords.emplace_back("password", *password);
  out.display = "postgresql://" + (set.contains("user") ? set["user"] + "@" : std::string()) +
                (set.contains("host") ? set["host"] : std::string()) + (set.contains("port") ? ":" + set["port"] : "") +
                "/" + set["dbname"];
  return out;
}

}  // namespace aegis::store::internal
