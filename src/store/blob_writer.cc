#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "aegis/common/file_util.h"
#include "aegis/crypto/random.h"
#include "aegis/store/encrypted_blob.h"
#include "blob_format.h"

namespace aegis::store {

using internal::kChunkOverhead;
using internal::kHeaderSize;

struct BlobWriter::Impl {
  std::filesystem::path path, partial;
  int fd = -1;
  crypto::AeadContext aead;
  internal::BlobHeader header;
  crypto::SecureBuffer pending;  // plaintext of the chunk not yet sealed
  std::vector<uint8_t> sealed;   // nonce | ciphertext | tag of one chunk
  uint64_t next_index = 0;
  bool done = false;  // committed, or failed: no further use

  explicit Impl(crypto::AeadContext ctx) : aead(std::move(ctx)) {}
  ~Impl() {
    if (fd >= 0) ::close(fd);
    // Not committed: leave no partial ciphertext behind.
    if (!partial.empty()) ::unlink(partial.c_str());
  }

  Status Errno(const char* what) const {
    return Status::Internal(std::string(what) + " " + partial.string() + ": " + std::strerror(errno));
  }

  Status WriteAll(const uint8_t* data, size_t size) {
    while (size > 0) {
      const ssize_t n = ::write(fd, data, size);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Errno("cannot write");
      data += n;
      size -= static_cast<size_t>(n);
    }
    return Status::Ok();
  }

  Status SealChunk(std::span<const uint8_t> plaintext, bool final) {
    sealed.resize(plaintext.size() + kChunkOverhead);
    const auto nonce = std::span(sealed).first(crypto::kAeadNonceSize);
    AEGIS_RETURN_IF_ERROR(crypto::RandomBytes(nonce));
    std::array<uint8_t, internal::kMaxAadSize> aad;
    const auto header_bytes = internal::EncodeHeader(header);  // plaintext_size is only read when final
    const size_t aad_len = internal::ChunkAad(header_bytes, next_index, final, aad);
    AEGIS_RETURN_IF_ERROR(aead.SealDetached(nonce, std::span(aad).first(aad_len), plaintext,
                                            std::span(sealed).subspan(crypto::kAeadNonceSize, plaintext.size()),
                                            std::span(sealed).last(crypto::kAeadTagSize)));
    ++next_index;
    return WriteAll(sealed.data(), sealed.size());
  }

  Status Commit() {
    AEGIS_RETURN_IF_ERROR(SealChunk(pending.span(), /*final=*/true));
    pending.clear();
    const auto header_bytes = internal::EncodeHeader(header);
    if (::pwrite(fd, header_bytes.data(), header_bytes.size(), 0) != static_cast<ssize_t>(header_bytes.size())) {
      return Errno("cannot write header of");
    }
    if (::fsync(fd) != 0) return Errno("cannot fsync");
    const int rc = ::close(fd);
    fd = -1;
    if (rc != 0) return Errno("cannot close");
    // RENAME_NOREPLACE: a committed blob is immutable; never replace one.
    int moved = ::renameat2(AT_FDCWD, partial.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE);
    if (moved != 0 && errno == EINVAL) {
      // Filesystem without RENAME_NOREPLACE: link() refuses an existing target just as well.
      moved = ::link(partial.c_str(), path.c_str());
      if (moved == 0) ::unlink(partial.c_str());
    }
    if (moved != 0) {
      if (errno == EEXIST) return Status::AlreadyExists(path.string() + " already exists");
      return Errno("cannot rename");
    }
    partial.clear();  // now owned by its final name
    return SyncDirectory(path.parent_path().empty() ? "." : path.parent_path());
  }
};

StatusOr<std::unique_ptr<BlobWriter>> BlobWriter::Create(const std::filesystem::path& path, const ArtifactId& id,
                                                         std::span<const uint8_t> dek, uint32_t chunk_size) {
  if (chunk_size < internal::kMinChunkSize || chunk_size > internal::kMaxChunkSize) {
    return Status::InvalidArgument("blob chunk size must be between 4 KiB and 64 MiB");
  }
  AEGIS_ASSIGN_OR_RETURN(crypto::AeadContext aead, crypto::AeadContext::Create(dek));
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) return Status::AlreadyExists(path.string() + " already exists");
  auto impl = std::make_unique<Impl>(std::move(aead));
  impl->path = path;
  std::filesystem::path partial = path;
  partial += ".partial";
  // O_EXCL: two writers must never interleave into one file (a stale partial after a
  // crash is swept by the store, not silently reused).
  impl->fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (impl->fd < 0) {
    if (errno == EEXIST) return Status::AlreadyExists(partial.string() + " already exists");
    return Status::Internal("cannot create " + partial.string() + ": " + std::strerror(errno));
  }
  impl->partial = std::move(partial);
  impl->header.artifact_id = id;
  impl->header.chunk_size = chunk_size;
  impl->pending.reserve(chunk_size);
  // Placeholder header; the real one (with the final size) is written by Commit.
  const auto placeholder = internal::EncodeHeader(impl->header);
  AEGIS_RETURN_IF_ERROR(impl->WriteAll(placeholder.data(), placeholder.size()));
  auto writer = std::unique_ptr<BlobWriter>(new BlobWriter());
  writer->impl_ = std::move(impl);
  return writer;
}

BlobWriter::~BlobWriter() = default;

Status BlobWriter::Append(std::span<const uint8_t> plaintext) {
  Impl& w = *impl_;
  if (w.done) return Status::Internal("blob writer already committed or failed");
  const size_t chunk = w.header.chunk_size;
  Status status;
  while (status.ok() && !plaintext.empty()) {
    // A full pending chunk is sealed only once more data arrives: until then it might
    // be the final one, whose flag must be set.
    if (w.pending.size() == chunk) {
      status = w.SealChunk(w.pending.span(), /*final=*/false);
      w.pending.resize(0);
    } else if (w.pending.empty() && plaintext.size() > chunk) {
      // Whole chunks with data after them go straight from the caller's buffer.
      status = w.SealChunk(plaintext.first(chunk), /*final=*/false);
      plaintext = plaintext.subspan(chunk);
      plaintext_bytes_ += chunk;
    } else {
      const size_t take = std::min(chunk - w.pending.size(), plaintext.size());
      w.pending.append(plaintext.data(), take);
      plaintext = plaintext.subspan(take);
      plaintext_bytes_ += take;
    }
  }
  if (!status.ok()) w.done = true;
  return status;
}

StatusOr<uint64_t> BlobWriter::Commit() {
  Impl& w = *impl_;
  if (w.done) return Status::Internal("blob writer already committed or failed");
  w.done = true;
  w.header.plaintext_size = plaintext_bytes_;
  AEGIS_RETURN_IF_ERROR(w.Commit());
  return plaintext_bytes_;
}

}  // namespace aegis::store
