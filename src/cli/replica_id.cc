#include "replica_id.h"

#include <unistd.h>

#include <array>
#include <system_error>

#include "aegis/audit/audit_log.h"
#include "aegis/audit/tree_head.h"
#include "commands.h"

namespace aegis::cli {
namespace {

// Throws CommandError ending in `remedy` when the host name cannot be an id.
std::string HostReplicaId(const std::string& remedy) {
  std::array<char, 256> name{};
  if (::gethostname(name.data(), name.size() - 1) != 0) {
    throw CommandError("cannot read the host name to name this replica: " + remedy);
  }
  std::string host(name.data());
  if (Status s = audit::CheckReplicaId(host); !s.ok()) {
    throw CommandError("the host name \"" + host + "\" cannot name this replica (" + s.message() + "): " + remedy);
  }
  return host;
}

}  // namespace

std::string ReplicaIdForNewLog(const std::string& flag, bool shared_store) {
  if (!flag.empty()) {
    if (Status s = audit::CheckReplicaId(flag); !s.ok()) throw CommandError("--replica-id: " + s.message(), 2);
    return flag;
  }
  return shared_store ? HostReplicaId("pass --replica-id") : std::string();
}

std::string ReplicaIdForServe(const std::filesystem::path& audit_dir, bool shared_store) {
  if (!shared_store) return {};
  const auto file = audit_dir / audit::kReplicaIdFileName;
  std::error_code ec;
  // Present (even if broken: the audit log reports that): the file decides.
  if (std::filesystem::symlink_status(file, ec).type() != std::filesystem::file_type::not_found) return {};
  return HostReplicaId("write one (letters, digits, '.', '_', '-') into " + file.string());
}

}  // namespace aegis::cli
