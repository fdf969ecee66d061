#include "segment_compression.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include <spdlog/spdlog.h>
#include <zstd.h>

#include "aegis/common/file_util.h"
#include "log_files.h"

namespace aegis::audit::internal {
namespace {

// Level 3 (zstd's default): ~8x on event lines at a few hundred MB/s, in the background.
constexpr int kLevel = 3;

struct CCtxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};

struct DStreamFree {
  void operator()(ZSTD_DStream* s) const { ZSTD_freeDStream(s); }
};

// Streams `compressed` through the decoder, appending to `out` until the input
// ends or `out` reaches `stop_at` (then `complete` stays false).
Status Stream(std::string_view compressed, uint64_t limit, size_t stop_at, std::string& out, bool& complete) {
  std::unique_ptr<ZSTD_DStream, DStreamFree> ds(ZSTD_createDStream());
  if (!ds) return Status::Internal("zstd: out of memory");
  // A frame's window is what the decoder allocates: refuse more than the limit's
  // (8 MiB is zstd's default for level 3; 2^27 covers any level we write).
  ZSTD_DCtx_setParameter(ds.get(), ZSTD_d_windowLogMax, 27);
  ZSTD_inBuffer in{compressed.data(), compressed.size(), 0};
  std::string chunk(ZSTD_DStreamOutSize(), '\0');
  complete = false;
  for (;;) {
    ZSTD_outBuffer o{chunk.data(), chunk.size(), 0};
    const size_t consumed = in.pos;
    const size_t ret = ZSTD_decompressStream(ds.get(), &o, &in);
    if (ZSTD_isError(ret)) return Status::DataLoss(std::string("not valid zstd: ") + ZSTD_getErrorName(ret));
    if (out.size() + o.pos > limit) {
      return Status::DataLoss("decompresses past the limit of " + std::to_string(limit) + " bytes");
    }
    out.append(chunk.data(), o.pos);
    if (out.size() >= stop_at) {
      out.resize(stop_at);
      return Status::Ok();
    }
    if (ret == 0 && in.pos == in.size) break;  // the last frame ended with the input
    // The decoder wants input that is not there: cut short.
    if (in.pos == in.size && o.pos < o.size) return Status::DataLoss("truncated zstd data");
    if (in.pos == consumed && o.pos == 0) return Status::DataLoss("zstd data makes no progress");
  }
  complete = true;
  return Status::Ok();
}

Status Errno(const std::string& what) { return Status::Internal(what + ": " + std::strerror(errno)); }

Status WriteAndSync(const std::filesystem::path& path, std::string_view data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Errno("cannot create " + path.string());
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Status s = Errno("cannot write " + path.string());
      ::close(fd);
      return s;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  Status s = ::fsync(fd) == 0 ? Status::Ok() : Errno("cannot sync " + path.string());
  ::close(fd);
  return s;
}

Status CompressOne(const std::filesystem::path& dir, const Segment& segment) {
  AEGIS_ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(segment.path));
  const std::string_view plain = file.view();
  std::string packed(ZSTD_compressBound(plain.size()), '\0');
  std::unique_ptr<ZSTD_CCtx, CCtxFree> cctx(ZSTD_createCCtx());
  if (!cctx) return Status::Internal("zstd: out of memory");
  // The frame's content checksum makes a flipped byte a decoding error that
  // names the segment, not just an altered event.
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, kLevel);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 1);
  const size_t n = ZSTD_compress2(cctx.get(), packed.data(), packed.size(), plain.data(), plain.size());
  if (ZSTD_isError(n)) return Status::Internal(std::string("zstd: ") + ZSTD_getErrorName(n));
  packed.resize(n);
  const auto target = dir / CompressedSegmentName(segment.first_seq);
  const auto tmp = std::filesystem::path(target.string() + ".tmp");
  AEGIS_RETURN_IF_ERROR(WriteAndSync(tmp, packed));
  // What is on disk must give back the original bytes before the original goes.
  AEGIS_ASSIGN_OR_RETURN(std::string written, ReadFile(tmp, static_cast<size_t>(n) + 1));
  auto check = Decompress(written, plain.size());
  if (!check.ok() || *check != plain) {
    ::unlink(tmp.c_str());
    return Status::Internal("compressed " + segment.path.filename().string() + " does not read back identically");
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) return Errno("cannot rename " + tmp.string());
  AEGIS_RETURN_IF_ERROR(SyncDirectory(dir));
  if (::unlink(segment.path.c_str()) != 0) return Errno("cannot remove " + segment.path.string());
  return SyncDirectory(dir);
}

// Whether a segment holds at least one complete line.
bool HoldsData(const Segment& segment) {
  std::error_code ec;
  return segment.compressed || std::filesystem::file_size(segment.path, ec) > 0;
}

}  // namespace

StatusOr<std::string> Decompress(std::string_view compressed, uint64_t limit) {
  std::string out;
  bool complete = false;
  AEGIS_RETURN_IF_ERROR(Stream(compressed, limit, SIZE_MAX, out, complete));
  return out;
}

StatusOr<std::string> DecompressPrefix(std::string_view compressed, size_t n) {
  std::string out;
  bool complete = false;
  AEGIS_RETURN_IF_ERROR(Stream(compressed, kMaxSegmentBytes, n, out, complete));
  return out;
}

StatusOr<int> CompressSealedSegments(const std::filesystem::path& dir) {
  AEGIS_ASSIGN_OR_RETURN(auto segments, ListSegments(dir));
  int compressed = 0;
  for (size_t i = 0; i + 1 < segments.size(); ++i) {
    // Sealed once its successor holds data: a failed switch to a new segment
    // removes the new file before anything is written to it, and the writer
    // goes on appending to this one.
    if (segments[i].compressed || !HoldsData(segments[i + 1])) continue;
    AEGIS_RETURN_IF_ERROR(CompressOne(dir, segments[i]));
    ++compressed;
  }
  return compressed;
}

}  // namespace aegis::audit::internal
