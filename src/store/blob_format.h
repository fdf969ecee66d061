// The encrypted blob layout shared by BlobWriter and ReadBlob (internal to src/store).
//
// Integers are big-endian. The 40-byte header is
//   "AEGISBLB" | u32 version | 16-byte artifact id | u32 chunk_size | u64 plaintext_size
// and every chunk but the last holds exactly chunk_size plaintext bytes; the last
// holds 1..chunk_size (0 only for an empty artifact, which is one empty chunk).
//
// Chunk associated data:
//   header[0..32) | u64 chunk index | u8 final            (chunks before the last)
//   header[0..32) | u64 chunk index | u8 final=1 | u64 plaintext_size   (the last)
// A streaming writer only learns plaintext_size at Commit, so the size is bound by
// the final chunk; together with the index and the final flag that makes any
// reordering, splicing, truncation or header edit fail authentication.
//
// Thread-safety: plain functions and values.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "aegis/common/status.h"
#include "aegis/crypto/aead.h"
#include "aegis/store/encrypted_blob.h"

namespace aegis::store::internal {

inline constexpr uint32_t kBlobVersion = 1;
inline constexpr size_t kHeaderSize = 40;
inline constexpr size_t kHeaderPrefixSize = 32;  // the header without plaintext_size
inline constexpr size_t kChunkOverhead = crypto::kAeadNonceSize + crypto::kAeadTagSize;
// Bounds keep a hostile header from asking for absurd buffers per chunk.
inline constexpr uint32_t kMinChunkSize = 4u << 10;
inline constexpr uint32_t kMaxChunkSize = 64u << 20;
inline constexpr size_t kMaxAadSize = kHeaderPrefixSize + 8 + 1 + 8;

struct BlobHeader {
  ArtifactId artifact_id{};
  uint32_t chunk_size = 0;
  uint64_t plaintext_size = 0;
};

std::array<uint8_t, kHeaderSize> EncodeHeader(const BlobHeader& header);
// Checks magic and version only; the caller validates the rest against expectations.
std::optional<BlobHeader> DecodeHeader(std::span<const uint8_t, kHeaderSize> bytes);

// Number of chunks for `plaintext_size` (at least one).
uint64_t ChunkCount(uint64_t plaintext_size, uint32_t chunk_size);

// Writes the associated data for one chunk into `out`; returns its length.
size_t ChunkAad(std::span<const uint8_t, kHeaderSize> header, uint64_t index, bool final,
                std::span<uint8_t, kMaxAadSize> out);

}  // namespace aegis::store::internal
