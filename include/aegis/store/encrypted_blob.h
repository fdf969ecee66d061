// Encrypted blob format: how a model artifact is kept at rest.
//
// A blob is a header followed by fixed-size chunks. Each chunk is sealed with
// AES-256-GCM under the artifact's own data key (DEK) with a fresh random nonce;
// the associated data binds the header (format version, artifact id, chunk size),
// the chunk index and a final-chunk flag, and the final chunk also binds the
// plaintext length. So reordering, dropping, duplicating or splicing chunks
// between artifacts, and truncation at any point (including at a chunk boundary)
// all fail authentication.
//
//   header (40 bytes, integers big-endian):
//     "AEGISBLB" | u32 version=1 | 16-byte artifact id | u32 chunk_size | u64 plaintext_size
//   chunk i: 12-byte nonce | ciphertext | 16-byte tag
//   AAD(i):  header[0..32) | u64 i | u8 final [| u64 plaintext_size, final chunk only]
//
// Every chunk but the last holds exactly chunk_size (4 KiB..64 MiB) bytes; an empty
// artifact is one empty final chunk. The plaintext length is bound by the final
// chunk only because a streaming writer learns it at Commit(). A reader checks the
// file size against the header exactly before decrypting anything.
//
// BlobWriter streams: it never holds more than one chunk of plaintext and writes
// only ciphertext, to `<path>.partial`, renamed into place by Commit() after fsync.
// A writer destroyed without Commit() removes the partial file.
//
// Thread-safety: a BlobWriter is used by one thread at a time; ReadBlob is stateless.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>

#include "aegis/common/status.h"
#include "aegis/crypto/secure_buffer.h"

namespace aegis::store {

using ArtifactId = std::array<uint8_t, 16>;
inline constexpr uint32_t kDefaultChunkSize = 1u << 20;  // 1 MiB

class BlobWriter {
 public:
  static StatusOr<std::unique_ptr<BlobWriter>> Create(const std::filesystem::path& path, const ArtifactId& id,
                                                      std::span<const uint8_t> dek,
                                                      uint32_t chunk_size = kDefaultChunkSize);
  ~BlobWriter();
  Status Append(std::span<const uint8_t> plaintext);
  // Seals the final chunk, fsyncs, renames into place. Returns the plaintext size.
  StatusOr<uint64_t> Commit();
  uint64_t bytes_written() const { return plaintext_bytes_; }

 private:
  BlobWriter() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  uint64_t plaintext_bytes_ = 0;
};

// Reads and decrypts a whole blob into memory. DataLoss on any tampering, a wrong
// key or a wrong artifact id; NotFound if absent; TooLarge if it cannot be held in
// memory. Uses all cores for large blobs (>= 8 MiB).
StatusOr<crypto::SecureBuffer> ReadBlob(const std::filesystem::path& path, const ArtifactId& id,
                                        std::span<const uint8_t> dek);

}  // namespace aegis::store
