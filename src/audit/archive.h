// Archiving sealed segments for cold storage (internal to src/audit; the public
// entry point is AuditLog::Archive, docs/audit.md "Archiving").
//
// An archive folder is a self-contained, verifiable audit directory: the
// segments of events [first, end), key.json, the heads of sizes first..end,
// the checkpoints at `first` (when > 0) and at `end`, and archive.json
// describing it. VerifyAuditLog verifies it like a live log.
//
// The steps, each durable before the next, so that a crash at any point loses
// nothing: (1) copy the segments and the rest into the folder, fsync every file
// and the folder; (2) verify the copy on its own with the live log's key: it
// must end at the signed checkpoint at `end`; (3) write archive.json into the
// folder, then append a line for it to the live archives.jsonl (fsync); (4)
// remove the archived segments from the live log, oldest first. Every segment
// boundary up to `end` has a signed checkpoint, so the live log verifies from
// its first remaining segment after any prefix of (4); the next Archive
// finishes an interrupted (4) first.
//
// Thread-safety: the caller holds the audit directory's lock (AuditLog) and
// its segment_files_mu; readers are kept out by SegmentsLock (segments_lock.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

#include "aegis/audit/merkle.h"
#include "aegis/common/status.h"
#include "aegis/crypto/signature.h"

namespace aegis::audit::internal {

inline constexpr std::string_view kArchivesFile = "archives.jsonl";
inline constexpr std::string_view kArchiveManifest = "archive.json";

struct ArchiveOutcome {
  uint64_t first_event = 0;
  uint64_t end_event = 0;  // exclusive
  size_t segments = 0;
  Hash root{};                     // the signed root over events [0, end)
  uint64_t finished_removals = 0;  // segments of an interrupted archive removed first
};

// Archives the sealed segments of `dir` sealed at or before `before` into
// `output`, starting where the last archive ended; with `keep_live` the
// segments stay in the live log (step 4 skipped) until retention prunes them.
// With `replace_unrecorded` (the server's own archiving, whose folder is named
// after NextArchiveStart) a complete archive in `output` that the live log
// never recorded (a crash in step 3) is made again rather than refused: the
// live log still holds all of it. Segments are removed (steps 4 and the
// finishing of an interrupted 4) under the exclusive SegmentsLock.
StatusOr<ArchiveOutcome> ArchiveSegments(const std::filesystem::path& dir, std::chrono::system_clock::time_point before,
                                         const std::filesystem::path& output, const crypto::PublicKey& key,
                                         bool keep_live = false, bool replace_unrecorded = false);

// The first event the next archive of `dir` would hold.
StatusOr<uint64_t> NextArchiveStart(const std::filesystem::path& dir);

struct PruneOutcome {
  uint64_t segments = 0;
  uint64_t first_event = 0, end_event = 0;  // the events removed: [first, end)
};
// [audit] retention_days: removes, oldest first, the live segments that a
// recorded archive holds and that were sealed before `cutoff`. Never a segment
// no archive holds.
StatusOr<PruneOutcome> PruneArchived(const std::filesystem::path& dir, std::chrono::system_clock::time_point cutoff);

// Removes the live segments that a recorded archive holds (after a crash in
// step 4); returns how many.
StatusOr<uint64_t> FinishArchivedRemovals(const std::filesystem::path& dir);

}  // namespace aegis::audit::internal
