// The files of an audit directory and how to read them (internal to the audit
// module): segment names, listing, whole-file reads that separate complete
// lines from a torn tail.
//
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aegis/audit/audit_log.h"
#include "aegis/common/status.h"

namespace aegis::audit::internal {

inline constexpr std::string_view kHeadsFile = "heads.jsonl";
inline constexpr std::string_view kKeyFile = "key.json";
inline constexpr std::string_view kLegacyFile = "audit.jsonl";  // before tree heads existed

std::string SegmentName(uint64_t first_seq);
std::string CompressedSegmentName(uint64_t first_seq);  // sealed, zstd (segment_compression.h)
std::optional<uint64_t> ParseSegmentName(std::string_view file_name);

struct Segment {
  std::filesystem::path path;
  uint64_t first_seq = 0;
  bool compressed = false;  // segment-<seq>.jsonl.zst
};
// Every segment-*.jsonl and segment-*.jsonl.zst of `dir`, by first seq; when
// both exist for one seq (a compression cut short) the .jsonl. Other files
// are ignored.
StatusOr<std::vector<Segment>> ListSegments(const std::filesystem::path& dir);

// A read-only view of a whole file (mmap; empty files allowed).
class MappedFile {
 public:
  static StatusOr<MappedFile> Open(const std::filesystem::path& path);
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&&) = delete;
  ~MappedFile();
  std::string_view view() const { return {data_, size_}; }

 private:
  MappedFile(const char* data, size_t size) : data_(data), size_(size) {}
  const char* data_ = nullptr;
  size_t size_ = 0;
};

// A segment's bytes, decompressed when it is compressed (bounded: DataLoss past
// kMaxSegmentBytes or when corrupt). A plain segment compressed since it was
// listed is read from its .zst.
class SegmentText {
 public:
  static StatusOr<SegmentText> Read(const Segment& segment);
  std::string_view view() const { return mapped_ ? mapped_->view() : std::string_view(text_); }

 private:
  std::optional<MappedFile> mapped_;
  std::string text_;
};
// The first `n` bytes of a segment (fewer if it is shorter).
StatusOr<std::string> SegmentPrefix(const Segment& segment, size_t n);

// Calls `line` for each newline-terminated line of `text` (without the newline);
// returns the number of bytes after the last newline (a torn tail). Stops early
// when `line` returns false.
size_t ForEachLine(std::string_view text, const std::function<bool(std::string_view)>& line);

// The last `limit` complete lines of a file, oldest first (reads backwards in blocks).
StatusOr<std::vector<std::string>> LastLines(const std::filesystem::path& path, size_t limit);
// The same for a segment, compressed or not.
StatusOr<std::vector<std::string>> LastLines(const Segment& segment, size_t limit);

// The events of `query` (AuditLog::Read), at most `limit`.
StatusOr<AuditPage> ReadAuditWindow(const std::filesystem::path& dir, const AuditQuery& query, size_t limit);

}  // namespace aegis::audit::internal
