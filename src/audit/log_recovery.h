// Start-up repair of an audit directory (internal to the audit module), run with
// the directory locked and before verification:
//  - a torn last line of the newest segment, heads.jsonl or checkpoints.jsonl (a write cut short
//    by a crash, never acknowledged) is cut off;
//  - a pre-tree-head log (audit.jsonl, one JSON event per line) becomes segment 0,
//    each event given its seq and prev, so it is covered by the next signed head.
//
// Thread-safety: stateless; the caller holds the directory lock.
#pragma once

#include <filesystem>
#include <string>

#include "aegis/common/status.h"

namespace aegis::audit::internal {

// What was repaired, for the audit.start event ("" when nothing).
StatusOr<std::string> RecoverAuditDirectory(const std::filesystem::path& dir);

}  // namespace aegis::audit::internal
