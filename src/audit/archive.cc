#include "archive.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

#include "aegis/audit/log_verifier.h"
#include "aegis/common/clock.h"
#include "aegis/common/file_util.h"
#include "aegis/crypto/encoding.h"
#include "checkpoint.h"
#include "log_files.h"
#include "segments_lock.h"

namespace aegis::audit::internal {
namespace {

Status Errno(const std::string& what) { return Status::Internal(what + ": " + std::strerror(errno)); }

// Appends `line` + newline to `path` and syncs it.
Status AppendLine(const std::filesystem::path& path, const std::string& line) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Errno("cannot open " + path.string());
  const std::string data = line + "\n";
  const bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) && ::fsync(fd) == 0;
  Status s = ok ? Status::Ok() : Errno("cannot append to " + path.string());
  ::close(fd);
  return s;
}

// A segment's file as it is on disk (plain, or .zst if it was compressed meanwhile).
StatusOr<std::pair<std::string, std::string>> SegmentFile(const Segment& segment) {
  std::error_code ec;
  Segment s = segment;
  if (!s.compressed && !std::filesystem::exists(s.path, ec)) {
    s = {s.path.parent_path() / CompressedSegmentName(s.first_seq), s.first_seq, true};
  }
  AEGIS_ASSIGN_OR_RETURN(std::string bytes, ReadFile(s.path, (uint64_t{1} << 30) + (uint64_t{1} << 20)));
  return std::pair(s.path.filename().string(), std::move(bytes));
}

Status RemoveSegment(const std::filesystem::path& dir, uint64_t first_seq) {
  for (const std::string& name : {SegmentName(first_seq), CompressedSegmentName(first_seq)}) {
    if (::unlink((dir / name).c_str()) != 0 && errno != ENOENT) return Errno("cannot remove " + name);
  }
  return SyncDirectory(dir);
}

struct Record {
  uint64_t first = 0, end = 0;
  bool removed = true;  // false: kept live (--keep-live) until retention prunes it
};

StatusOr<std::vector<Record>> ReadRecords(const std::filesystem::path& dir) {
  std::vector<Record> out;
  std::error_code ec;
  const auto path = dir / kArchivesFile;
  if (!std::filesystem::exists(path, ec)) return out;
  AEGIS_ASSIGN_OR_RETURN(std::string text, ReadFile(path, size_t{64} << 20));
  ForEachLine(text, [&](std::string_view line) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j["end_event"].is_number_unsigned() && j["first_event"].is_number_unsigned()) {
      const bool kept = j["kept_live"].is_boolean() && j["kept_live"].get<bool>();
      out.push_back({j["first_event"].get<uint64_t>(), j["end_event"].get<uint64_t>(), !kept});
    }
    return true;
  });
  return out;
}

}  // namespace

StatusOr<uint64_t> FinishArchivedRemovals(const std::filesystem::path& dir) {
  AEGIS_ASSIGN_OR_RETURN(auto records, ReadRecords(dir));
  uint64_t end = 0;
  for (const auto& r : records) {
    if (r.removed) end = std::max(end, r.end);
  }
  if (end == 0) return uint64_t{0};
  // Readers of the live log wait while segments go (segments_lock.h).
  AEGIS_ASSIGN_OR_RETURN(auto lock, SegmentsLock::Take(dir, SegmentsLock::Mode::kExclusive));
  AEGIS_ASSIGN_OR_RETURN(auto segments, ListSegments(dir));
  uint64_t removed = 0;
  for (const auto& s : segments) {
    if (s.first_seq >= end) break;
    AEGIS_RETURN_IF_ERROR(RemoveSegment(dir, s.first_seq));
    ++removed;
  }
  return removed;
}

StatusOr<uint64_t> NextArchiveStart(const std::filesystem::path& dir) {
  AEGIS_ASSIGN_OR_RETURN(auto records, ReadRecords(dir));
  uint64_t archived_end = 0;
  for (const auto& r : records) archived_end = std::max(archived_end, r.end);
  AEGIS_ASSIGN_OR_RETURN(auto segments, ListSegments(dir));
  for (const auto& s : segments) {
    if (s.first_seq >= archived_end) return s.first_seq;
  }
  return archived_end;
}

StatusOr<ArchiveOutcome> ArchiveSegments(const std::filesystem::path& dir, std::chrono::system_clock::time_point before,
                                         const std::filesystem::path& output, const crypto::PublicKey& key,
                                         bool keep_live, bool replace_unrecorded) {
  ArchiveOutcome outcome;
  std::error_code ec;
  // A folder with a complete archive is never overwritten; a partial one (a
  // crash in step 1 or 2) is, and so is, when the caller named the folder after
  // the archive's first event, one the live log never recorded (step 3 cut short).
  if (replace_unrecorded && std::filesystem::exists(output / kArchiveManifest, ec)) {
    if (::unlink((output / kArchiveManifest).c_str()) != 0) return Errno("cannot replace " + output.string());
    AEGIS_RETURN_IF_ERROR(SyncDirectory(output));
  }
  if (std::filesystem::exists(output / kArchiveManifest, ec)) {
    return Status::AlreadyExists(output.string() + " already holds an archive: use a new folder");
  }
  AEGIS_ASSIGN_OR_RETURN(outcome.finished_removals, FinishArchivedRemovals(dir));
  AEGIS_ASSIGN_OR_RETURN(auto segments, ListSegments(dir));
  // Archives are contiguous: this one starts where the last one ended (segments
  // kept live by --keep-live are already archived).
  AEGIS_ASSIGN_OR_RETURN(auto records, ReadRecords(dir));
  uint64_t archived_end = 0;
  for (const auto& r : records) archived_end = std::max(archived_end, r.end);
  std::erase_if(segments, [&](const Segment& s) { return s.first_seq < archived_end; });
  AEGIS_ASSIGN_OR_RETURN(auto checkpoints, ReadCheckpoints(dir));
  const auto boundary = [&](uint64_t seq) -> const Checkpoint* {
    for (auto it = checkpoints.rbegin(); it != checkpoints.rend(); ++it) {
      if (it->range.size() == seq && it->segment == seq && it->offset == 0) return &*it;
    }
    return nullptr;
  };
  // The newest segment is never archived; each boundary up to the end must have
  // a checkpoint signed (when its segment was sealed) at or before `before`.
  const Checkpoint* end = nullptr;
  size_t count = 0;
  for (size_t i = 1; i < segments.size(); ++i) {
    const Checkpoint* c = boundary(segments[i].first_seq);
    if (c == nullptr || c->head.time() > before) break;
    end = c;
    count = i;
  }
  if (segments.empty() || end == nullptr) {
    return Status::NotFound("no sealed segment of the audit log was sealed before " + FormatRfc3339(before));
  }
  const uint64_t first = segments.front().first_seq;
  const Checkpoint* start = first > 0 ? boundary(first) : nullptr;
  if (first > 0 && start == nullptr)
    return Status::DataLoss("no checkpoint at the first live event " + std::to_string(first));

  // (1) Copy.
  AEGIS_RETURN_IF_ERROR(MakeDirectory(output, 0700));
  nlohmann::ordered_json names = nlohmann::ordered_json::array();
  for (size_t i = 0; i < count; ++i) {
    AEGIS_ASSIGN_OR_RETURN(auto file, SegmentFile(segments[i]));
    AEGIS_RETURN_IF_ERROR(WriteFileAtomic(output / file.first, file.second, 0600));
    names.push_back(file.first);
  }
  AEGIS_ASSIGN_OR_RETURN(std::string key_json, ReadFile(dir / kKeyFile, size_t{64} * 1024));
  AEGIS_RETURN_IF_ERROR(WriteFileAtomic(output / kKeyFile, key_json, 0644));
  std::string heads;
  AEGIS_ASSIGN_OR_RETURN(std::string live_heads, ReadFile(dir / kHeadsFile, size_t{1} << 30));
  ForEachLine(live_heads, [&](std::string_view line) {
    auto head = HeadFromJson(line);
    if (head.ok() && head->tree_size >= first && head->tree_size <= end->range.size()) {
      heads.append(line).push_back('\n');
    }
    return true;
  });
  AEGIS_RETURN_IF_ERROR(WriteFileAtomic(output / kHeadsFile, heads, 0600));
  std::string cps;
  if (start != nullptr) cps += CheckpointToJson(*start) + "\n";
  cps += CheckpointToJson(*end) + "\n";
  AEGIS_RETURN_IF_ERROR(WriteFileAtomic(output / kCheckpointsFile, cps, 0600));
  AEGIS_RETURN_IF_ERROR(SyncDirectory(output));

  // (2) Verify the copy on its own, with the live key.
  VerifyOptions options;
  options.pinned_key = key;
  AEGIS_ASSIGN_OR_RETURN(auto report, VerifyAuditLog(output, options));
  if (!report.ok || report.first_event != first || report.events != end->range.size() ||
      report.root != end->head.root) {
    return Status::DataLoss(
        "the archive copy in " + output.string() + " does not verify (" +
        (report.ok ? "it does not end at the checkpoint at " + std::to_string(end->range.size()) : report.error) +
        "); the live log is unchanged");
  }

  // (3) Record it: in the folder, then in the live log's list of archives.
  outcome.first_event = first;
  outcome.end_event = end->range.size();
  outcome.segments = count;
  outcome.root = end->head.root;
  nlohmann::ordered_json manifest;
  manifest["first_event"] = first;
  manifest["end_event"] = outcome.end_event;
  manifest["root"] = crypto::HexEncode(outcome.root);
  manifest["head_timestamp_ms"] = end->head.timestamp_ms;
  manifest["key_id"] = key.fingerprint();
  manifest["segments"] = names;
  manifest["created"] = FormatRfc3339(std::chrono::system_clock::now());
  AEGIS_RETURN_IF_ERROR(WriteFileAtomic(output / kArchiveManifest, manifest.dump(2) + "\n", 0600));
  AEGIS_RETURN_IF_ERROR(SyncDirectory(output));
  nlohmann::ordered_json record = manifest;
  record.erase("segments");
  record["output"] = std::filesystem::absolute(output).string();
  if (keep_live) record["kept_live"] = true;
  AEGIS_RETURN_IF_ERROR(AppendLine(dir / kArchivesFile, record.dump()));

  // (4) Remove them from the live log, oldest first, while no reader walks it.
  if (!keep_live) {
    AEGIS_ASSIGN_OR_RETURN(auto lock, SegmentsLock::Take(dir, SegmentsLock::Mode::kExclusive));
    for (size_t i = 0; i < count; ++i) AEGIS_RETURN_IF_ERROR(RemoveSegment(dir, segments[i].first_seq));
  }
  return outcome;
}

StatusOr<PruneOutcome> PruneArchived(const std::filesystem::path& dir, std::chrono::system_clock::time_point cutoff) {
  PruneOutcome outcome;
  AEGIS_ASSIGN_OR_RETURN(auto records, ReadRecords(dir));
  uint64_t archived_end = 0;
  for (const auto& r : records) archived_end = std::max(archived_end, r.end);
  if (archived_end == 0) return outcome;
  AEGIS_ASSIGN_OR_RETURN(auto lock, SegmentsLock::Take(dir, SegmentsLock::Mode::kExclusive));
  AEGIS_ASSIGN_OR_RETURN(auto segments, ListSegments(dir));
  AEGIS_ASSIGN_OR_RETURN(auto checkpoints, ReadCheckpoints(dir));
  for (size_t i = 0; i + 1 < segments.size(); ++i) {
    const uint64_t next = segments[i + 1].first_seq;
    if (next > archived_end) break;  // not all of segment i is archived
    // Sealed (its checkpoint signed) before the cutoff, and the live log can start after it.
    const Checkpoint* sealed = nullptr;
    for (auto it = checkpoints.rbegin(); it != checkpoints.rend() && sealed == nullptr; ++it) {
      if (it->range.size() == next && it->segment == next && it->offset == 0) sealed = &*it;
    }
    if (sealed == nullptr || sealed->head.time() > cutoff) break;
    if (outcome.segments == 0) outcome.first_event = segments[i].first_seq;
    AEGIS_RETURN_IF_ERROR(RemoveSegment(dir, segments[i].first_seq));
    ++outcome.segments;
    outcome.end_event = next;
  }
  return outcome;
}

}  // namespace aegis::audit::internal
