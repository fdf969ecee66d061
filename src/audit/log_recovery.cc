#include "log_recovery.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "aegis/audit/event_line.h"
#include "aegis/common/file_util.h"
#include "aegis/crypto/encoding.h"
#include "checkpoint.h"
#include "log_files.h"

namespace aegis::audit::internal {
namespace {

// Cuts `path` after its last newline; returns how many bytes were cut.
StatusOr<uint64_t> CutTornTail(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return Status::Internal("cannot open " + path.string() + ": " + std::strerror(errno));
  const off_t size = ::lseek(fd, 0, SEEK_END);
  off_t keep = size;
  char block[4096];
  while (keep > 0) {
    const off_t start = keep > static_cast<off_t>(sizeof block) ? keep - static_cast<off_t>(sizeof block) : 0;
    const size_t n = static_cast<size_t>(keep - start);
    if (::pread(fd, block, n, start) != static_cast<ssize_t>(n)) {
      ::close(fd);
      return Status::Internal("cannot read " + path.string());
    }
    const void* nl = memrchr(block, '\n', n);
    if (nl != nullptr) {
      keep = start + (static_cast<const char*>(nl) - block) + 1;
      break;
    }
    keep = start;
  }
  Status s;
  if (keep != size && (::ftruncate(fd, keep) != 0 || ::fsync(fd) != 0)) {
    s = Status::Internal("cannot repair " + path.string() + ": " + std::strerror(errno));
  }
  ::close(fd);
  if (!s.ok()) return s;
  return static_cast<uint64_t>(size - keep);
}

// audit.jsonl (events without seq/prev) → segment 0.
StatusOr<uint64_t> MigrateLegacyLog(const std::filesystem::path& dir) {
  const auto legacy = dir / kLegacyFile;
  AEGIS_ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(legacy));
  MerkleHasher hasher;
  Hash prev{};
  uint64_t seq = 0;
  std::string out;
  ForEachLine(file.view(), [&](std::string_view line) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return true;  // never tamper-evident: skip debris
    const size_t start = out.size();
    out += "{\"seq\":" + std::to_string(seq) + ",\"prev\":\"" + crypto::HexEncode(prev) + "\"";
    if (!j.empty())
      out += "," + std::string(line.substr(line.find('{') + 1));
    else
      out += "}";
    prev = hasher.Leaf(std::string_view(out).substr(start));
    out += '\n';
    ++seq;
    return true;
  });
  AEGIS_RETURN_IF_ERROR(WriteFileAtomic(dir / SegmentName(0), out, 0600));
  if (::unlink(legacy.c_str()) != 0) return Status::Internal("cannot remove " + legacy.string());
  AEGIS_RETURN_IF_ERROR(SyncDirectory(dir));
  return seq;
}

}  // namespace

StatusOr<std::string> RecoverAuditDirectory(const std::filesystem::path& dir) {
  std::string done;
  AEGIS_ASSIGN_OR_RETURN(auto segments, ListSegments(dir));
  std::error_code ec;
  if (segments.empty() && std::filesystem::exists(dir / kLegacyFile, ec)) {
    AEGIS_ASSIGN_OR_RETURN(uint64_t n, MigrateLegacyLog(dir));
    spdlog::warn("audit: moved {} events of the old audit.jsonl into the tamper-evident log", n);
    done = "migrated " + std::to_string(n) + " events from audit.jsonl";
    AEGIS_ASSIGN_OR_RETURN(segments, ListSegments(dir));
  }
  if (!segments.empty() && !segments.back().compressed) {
    AEGIS_ASSIGN_OR_RETURN(uint64_t cut, CutTornTail(segments.back().path));
    if (cut > 0) {
      spdlog::warn("audit: cut a torn write of {} bytes from {}", cut, segments.back().path.string());
      done += std::string(done.empty() ? "" : "; ") + "cut a torn event write of " + std::to_string(cut) + " bytes";
    }
  }
  if (std::filesystem::exists(dir / kHeadsFile, ec)) {
    AEGIS_ASSIGN_OR_RETURN(uint64_t cut, CutTornTail(dir / kHeadsFile));
    if (cut > 0)
      done += std::string(done.empty() ? "" : "; ") + "cut a torn head write of " + std::to_string(cut) + " bytes";
  }
  if (std::filesystem::exists(dir / kCheckpointsFile, ec)) {
    AEGIS_ASSIGN_OR_RETURN(uint64_t cut, CutTornTail(dir / kCheckpointsFile));
    if (cut > 0)
      done +=
          std::string(done.empty() ? "" : "; ") + "cut a torn checkpoint write of " + std::to_string(cut) + " bytes";
  }
  return done;
}

}  // namespace aegis::audit::internal
