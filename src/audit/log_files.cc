#include "log_files.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "aegis/common/file_util.h"
#include "segment_compression.h"

namespace aegis::audit::internal {
namespace {

constexpr std::string_view kSegmentPrefix = "segment-";
constexpr std::string_view kSegmentSuffix = ".jsonl";
constexpr std::string_view kCompressedSuffix = ".zst";
constexpr size_t kSeqDigits = 20;  // every uint64 fits; names sort as numbers

Status Errno(const std::string& what, const std::filesystem::path& path) {
  return Status::Internal(what + " " + path.string() + ": " + std::strerror(errno));
}

}  // namespace

std::string SegmentName(uint64_t first_seq) {
  char digits[kSeqDigits + 1];
  std::snprintf(digits, sizeof digits, "%020llu", static_cast<unsigned long long>(first_seq));
  return std::string(kSegmentPrefix) + digits + std::string(kSegmentSuffix);
}

std::string CompressedSegmentName(uint64_t first_seq) {
  return SegmentName(first_seq) + std::string(kCompressedSuffix);
}

std::optional<uint64_t> ParseSegmentName(std::string_view name) {
  if (name.ends_with(kCompressedSuffix)) name.remove_suffix(kCompressedSuffix.size());
  if (name.size() != kSegmentPrefix.size() + kSeqDigits + kSegmentSuffix.size() || !name.starts_with(kSegmentPrefix) ||
      !name.ends_with(kSegmentSuffix)) {
    return std::nullopt;
  }
  std::string_view digits = name.substr(kSegmentPrefix.size(), kSeqDigits);
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  uint64_t seq = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), seq);
  if (ec != std::errc() || ptr != digits.data() + digits.size()) return std::nullopt;
  return seq;
}

StatusOr<std::vector<Segment>> ListSegments(const std::filesystem::path& dir) {
  std::vector<Segment> out;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    auto seq = ParseSegmentName(it->path().filename().string());
    if (!seq) continue;
    // A segment that is a symlink or a directory is not ours: refuse rather than follow.
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec) || it->is_symlink(type_ec)) {
      return Status::DataLoss("audit segment " + it->path().string() + " is not a regular file");
    }
    out.push_back({it->path(), *seq, it->path().extension() == kCompressedSuffix});
  }
  if (ec) return Status::Internal("cannot list " + dir.string() + ": " + ec.message());
  // By seq, the plain one of a pair first, then drop the other.
  std::sort(out.begin(), out.end(), [](const Segment& a, const Segment& b) {
    return a.first_seq != b.first_seq ? a.first_seq < b.first_seq : !a.compressed && b.compressed;
  });
  out.erase(std::unique(out.begin(), out.end(),
                        [](const Segment& a, const Segment& b) { return a.first_seq == b.first_seq; }),
            out.end());
  return out;
}

StatusOr<MappedFile> MappedFile::Open(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return Errno("cannot open", path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return Errno("cannot stat", path);
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    return MappedFile(nullptr, 0);
  }
  void* data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (data == MAP_FAILED) return Errno("cannot map", path);
  ::madvise(data, size, MADV_SEQUENTIAL);
  return MappedFile(static_cast<const char*>(data), size);
}

MappedFile::MappedFile(MappedFile&& other) noexcept : data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
}

size_t ForEachLine(std::string_view text, const std::function<bool(std::string_view)>& line) {
  size_t pos = 0;
  while (pos < text.size()) {
    const void* nl = std::memchr(text.data() + pos, '\n', text.size() - pos);
    if (nl == nullptr) return text.size() - pos;
    const size_t end = static_cast<size_t>(static_cast<const char*>(nl) - text.data());
    if (!line(text.substr(pos, end - pos))) return 0;
    pos = end + 1;
  }
  return 0;
}

StatusOr<std::vector<std::string>> LastLines(const std::filesystem::path& path, size_t limit) {
  std::vector<std::string> lines;
  if (limit == 0) return lines;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return Errno("cannot open", path);
  const off_t end = ::lseek(fd, 0, SEEK_END);
  std::string tail;
  off_t pos = end;
  constexpr off_t kBlock = off_t{64} * 1024;
  // Read backwards until the window holds limit + 1 newlines (so its first line is whole).
  while (pos > 0 && static_cast<size_t>(std::count(tail.begin(), tail.end(), '\n')) <= limit) {
    const off_t start = pos > kBlock ? pos - kBlock : 0;
    std::string block(static_cast<size_t>(pos - start), '\0');
    if (::pread(fd, block.data(), block.size(), start) != static_cast<ssize_t>(block.size())) {
      ::close(fd);
      return Errno("cannot read", path);
    }
    tail.insert(0, block);
    pos = start;
  }
  ::close(fd);
  // Drop a torn last line (no newline yet: being written or cut by a crash).
  const size_t last_nl = tail.rfind('\n');
  if (last_nl == std::string::npos) return lines;
  tail.resize(last_nl + 1);
  size_t line_end = tail.size() - 1;  // at the final '\n'
  while (lines.size() < limit) {
    const size_t nl = line_end == 0 ? std::string::npos : tail.rfind('\n', line_end - 1);
    const size_t line_start = nl == std::string::npos ? 0 : nl + 1;
    if (line_start == 0 && pos > 0) break;  // the window's first line may be partial
    lines.emplace_back(tail.substr(line_start, line_end - line_start));
    if (nl == std::string::npos) break;
    line_end = nl;
  }
  std::reverse(lines.begin(), lines.end());
  return lines;
}

namespace {

Segment CompressedTwin(const Segment& plain) {
  return {plain.path.parent_path() / CompressedSegmentName(plain.first_seq), plain.first_seq, true};
}

StatusOr<std::string> ReadCompressed(const Segment& segment) {
  // A compressed segment is at most about a tenth of its text; anything larger
  // than the text limit is not ours.
  AEGIS_ASSIGN_OR_RETURN(std::string packed, ReadFile(segment.path, kMaxSegmentBytes));
  auto text = Decompress(packed);
  if (!text.ok()) return Status::DataLoss(segment.path.filename().string() + ": " + text.status().message());
  return text;
}

}  // namespace

StatusOr<SegmentText> SegmentText::Read(const Segment& segment) {
  SegmentText out;
  if (segment.compressed) {
    AEGIS_ASSIGN_OR_RETURN(out.text_, ReadCompressed(segment));
    return out;
  }
  auto mapped = MappedFile::Open(segment.path);
  if (!mapped.ok()) {
    std::error_code ec;
    if (!std::filesystem::exists(segment.path, ec)) return Read(CompressedTwin(segment));
    return mapped.status();
  }
  out.mapped_.emplace(std::move(*mapped));
  return out;
}

StatusOr<std::string> SegmentPrefix(const Segment& segment, size_t n) {
  if (segment.compressed) {
    AEGIS_ASSIGN_OR_RETURN(std::string packed, ReadFile(segment.path, kMaxSegmentBytes));
    return DecompressPrefix(packed, n);
  }
  int fd = ::open(segment.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT) return SegmentPrefix(CompressedTwin(segment), n);
  if (fd < 0) return Errno("cannot open", segment.path);
  std::string head(n, '\0');
  const ssize_t got = ::pread(fd, head.data(), head.size(), 0);
  ::close(fd);
  head.resize(got > 0 ? static_cast<size_t>(got) : 0);
  return head;
}

StatusOr<std::vector<std::string>> LastLines(const Segment& segment, size_t limit) {
  if (!segment.compressed) {
    auto lines = LastLines(segment.path, limit);
    std::error_code ec;
    if (lines.ok() || std::filesystem::exists(segment.path, ec)) return lines;
    return LastLines(CompressedTwin(segment), limit);
  }
  AEGIS_ASSIGN_OR_RETURN(SegmentText text, SegmentText::Read(segment));
  std::vector<std::string> all;
  ForEachLine(text.view(), [&](std::string_view line) {
    all.emplace_back(line);
    return true;
  });
  if (all.size() > limit) all.erase(all.begin(), all.end() - static_cast<std::ptrdiff_t>(limit));
  return all;
}

}  // namespace aegis::audit::internal
