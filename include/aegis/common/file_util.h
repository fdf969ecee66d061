// Small filesystem helpers that get permissions and durability right.
//
// Everything Aegis writes under its data directory goes through these, so that
// files are created with restrictive modes from the first byte (no chmod race) and
// replaced atomically (write temp, fsync, rename, fsync directory): a crash leaves
// either the old or the new content, never half of it.
//
// Thread-safety: stateless functions; safe to call concurrently on different paths.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "aegis/common/status.h"

namespace aegis {

// Creates `dir` (and missing parents) and forces `mode` on `dir` itself.
Status MakeDirectory(const std::filesystem::path& dir, mode_t mode);

// Atomically creates or replaces `path` with `content`, file mode `mode`.
Status WriteFileAtomic(const std::filesystem::path& path, std::string_view content, mode_t mode);

// Creates `path` exclusively (fails with AlreadyExists if present).
Status WriteFileExclusive(const std::filesystem::path& path, std::string_view content, mode_t mode);

// Reads a whole file; refuses files larger than `max_bytes`.
StatusOr<std::string> ReadFile(const std::filesystem::path& path, size_t max_bytes = 64u << 20);

// fsyncs a directory so that a rename or create inside it is durable.
Status SyncDirectory(const std::filesystem::path& dir);

}  // namespace aegis
