#include "replica_id.h"

#include <system_error>

#include "aegis/audit/tree_head.h"
#include "aegis/common/file_util.h"

namespace aegis::audit::internal {

StatusOr<std::string> ResolveReplicaId(const std::filesystem::path& dir, std::string_view requested) {
  if (!requested.empty()) {
    if (Status s = CheckReplicaId(requested); !s.ok()) {
      return Status::InvalidArgument("replica id \"" + std::string(requested) + "\": " + s.message());
    }
  }
  const auto path = dir / kReplicaIdFile;
  std::error_code ec;
  const auto type = std::filesystem::symlink_status(path, ec).type();
  if (type == std::filesystem::file_type::not_found) {
    if (requested.empty()) return std::string();
    AEGIS_RETURN_IF_ERROR(WriteFileAtomic(path, std::string(requested) + "\n", 0600));
    return std::string(requested);
  }
  if (type != std::filesystem::file_type::regular) {
    return Status::DataLoss(path.string() + " is not a regular file");
  }
  // One short line: anything longer is not an id (and is not read whole).
  AEGIS_ASSIGN_OR_RETURN(std::string text, ReadFile(path, 256));
  if (text.ends_with('\n')) text.pop_back();
  if (Status s = CheckReplicaId(text); !s.ok()) return Status::DataLoss(path.string() + ": " + s.message());
  if (!requested.empty() && text != requested) {
    return Status::InvalidArgument("the audit log in " + dir.string() + " belongs to replica \"" + text + "\", not \"" +
                                   std::string(requested) + "\" (" + path.string() + ")");
  }
  return text;
}

}  // namespace aegis::audit::internal
