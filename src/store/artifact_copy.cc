#include "aegis/store/artifact_copy.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "aegis/common/file_util.h"
#include "aegis/crypto/random.h"

namespace aegis::store {
namespace {

Status Errno(const std::string& what, const std::filesystem::path& path) {
  return Status::Internal(what + " " + path.string() + ": " + std::strerror(errno));
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Status UploadArtifact(MetadataStore& store, const std::string& artifact_id, const std::filesystem::path& blob) {
  Fd in{::open(blob.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)};
  if (in.fd < 0) return Errno("cannot open", blob);
  std::vector<uint8_t> chunk(kMaxArtifactChunkBytes);
  Status status;
  for (int64_t seq = 0; status.ok(); ++seq) {
    size_t filled = 0;
    while (filled < chunk.size()) {
      const ssize_t n = ::read(in.fd, chunk.data() + filled, chunk.size() - filled);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Errno("cannot read", blob);
      if (n == 0) break;
      filled += static_cast<size_t>(n);
    }
    if (filled == 0 && seq > 0) break;
    status = store.PutArtifactChunk(artifact_id, seq, std::span<const uint8_t>(chunk.data(), filled));
    if (filled < chunk.size()) break;
  }
  if (!status.ok()) store.DeleteArtifact(artifact_id).IgnoreError();  // the error to report is the first one
  return status;
}

Status FetchArtifact(MetadataStore& store, const std::string& artifact_id, const std::filesystem::path& blob,
                     uint64_t max_bytes) {
  std::error_code ec;
  if (std::filesystem::exists(blob, ec)) return Status::Ok();
  AEGIS_ASSIGN_OR_RETURN(const std::string suffix, crypto::RandomHex(6));
  std::filesystem::path temp = blob;
  temp += ".fetch-" + suffix;
  Fd out{::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)};
  if (out.fd < 0) return Errno("cannot create", temp);
  auto copy = [&]() -> Status {
    uint64_t total = 0;
    for (int64_t seq = 0;; ++seq) {
      auto chunk = store.GetArtifactChunk(artifact_id, seq);
      if (chunk.status().code() == StatusCode::kNotFound && seq > 0) break;
      if (chunk.status().code() == StatusCode::kNotFound) {
        return Status::NotFound("artifact " + artifact_id + " is neither in blobs/ nor in the database");
      }
      AEGIS_RETURN_IF_ERROR(chunk.status());
      total += chunk->size();
      if (total > max_bytes) return Status::DataLoss("artifact " + artifact_id + " in the database is too large");
      size_t written = 0;
      while (written < chunk->size()) {
        const ssize_t n = ::write(out.fd, chunk->data() + written, chunk->size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Errno("cannot write", temp);
        written += static_cast<size_t>(n);
      }
    }
    if (::fsync(out.fd) != 0) return Errno("cannot sync", temp);
    if (::rename(temp.c_str(), blob.c_str()) != 0) return Errno("cannot rename", temp);
    return SyncDirectory(blob.parent_path());
  };
  Status status = copy();
  if (!status.ok()) ::unlink(temp.c_str());
  return status;
}

}  // namespace aegis::store
