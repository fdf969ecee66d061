// How the CLI names a replica's audit log (audit::AuditLogOptions::replica_id,
// docs/scale-out.md): `--replica-id` when given, else, on a shared PostgreSQL
// store, the host name — on Kubernetes the StatefulSet pod's name, which is
// stable and unique in the fleet. A single server on SQLite names none unless
// asked, so its log keeps the format it always had.
//
// Thread-safety: stateless functions.
#pragma once

#include <filesystem>
#include <string>

namespace aegis::cli {

// For a new log (`aegis init`, `aegis store migrate`): `flag` when set,
// checked; else the host name when `shared_store`; else empty. Throws
// CommandError when the id given or the host name cannot name a replica.
std::string ReplicaIdForNewLog(const std::string& flag, bool shared_store);

// For `aegis serve` of the log in `audit_dir`: empty (its replica_id file
// decides) unless the store is shared and the log has no name yet (a data
// folder prepared before replicas were named): then the host name, which the
// log keeps from then on.
std::string ReplicaIdForServe(const std::filesystem::path& audit_dir, bool shared_store);

}  // namespace aegis::cli
