// The replica id of an audit directory (internal to the audit module): the
// name of the replica whose log this is, in DIR/audit/replica_id (one line).
// It is fixed when first given (`aegis init --store-url`, `aegis store
// migrate`, or the first start of a replica on PostgreSQL) and from then on
// read from the directory, so the offline commands write and check what the
// server does, and a log never silently changes its name (docs/audit.md).
//
// Thread-safety: stateless functions.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "aegis/audit/audit_log.h"
#include "aegis/common/status.h"

namespace aegis::audit::internal {

inline constexpr std::string_view kReplicaIdFile = kReplicaIdFileName;

// The directory's replica id: the file's when it exists (InvalidArgument when
// `requested` is set and differs: one log, one name), else `requested`, which
// is then written durably (empty `requested`: the log names no replica).
// DataLoss when the file is not a valid id.
StatusOr<std::string> ResolveReplicaId(const std::filesystem::path& dir, std::string_view requested);

}  // namespace aegis::audit::internal
