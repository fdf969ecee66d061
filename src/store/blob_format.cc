#include "blob_format.h"

#include <cstring>
#include <string_view>

namespace aegis::store::internal {
namespace {

constexpr std::string_view kMagic = "AEGISBLB";

void PutBE(uint8_t* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i, v >>= 8) out[i] = static_cast<uint8_t>(v);
}

uint64_t GetBE(const uint8_t* in, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | in[i];
  return v;
}

}  // namespace

std::array<uint8_t, kHeaderSize> EncodeHeader(const BlobHeader& header) {
  std::array<uint8_t, kHeaderSize> out{};
  std::memcpy(out.data(), kMagic.data(), kMagic.size());
  PutBE(out.data() + 8, kBlobVersion, 4);
  std::memcpy(out.data() + 12, header.artifact_id.data(), header.artifact_id.size());
  PutBE(out.data() + 28, header.chunk_size, 4);
  PutBE(out.data() + 32, header.plaintext_size, 8);
  return out;
}

std::optional<BlobHeader> DecodeHeader(std::span<const uint8_t, kHeaderSize> bytes) {
  if (std::memcmp(bytes.data(), kMagic.data(), kMagic.size()) != 0) return std::nullopt;
  if (GetBE(bytes.data() + 8, 4) != kBlobVersion) return std::nullopt;
  BlobHeader header;
  std::memcpy(header.artifact_id.data(), bytes.data() + 12, header.artifact_id.size());
  header.chunk_size = static_cast<uint32_t>(GetBE(bytes.data() + 28, 4));
  header.plaintext_size = GetBE(bytes.data() + 32, 8);
  return header;
}

uint64_t ChunkCount(uint64_t plaintext_size, uint32_t chunk_size) {
  if (plaintext_size == 0) return 1;
  return plaintext_size / chunk_size + (plaintext_size % chunk_size != 0 ? 1 : 0);
}

size_t ChunkAad(std::span<const uint8_t, kHeaderSize> header, uint64_t index, bool final,
                std::span<uint8_t, kMaxAadSize> out) {
  std::memcpy(out.data(), header.data(), kHeaderPrefixSize);
  PutBE(out.data() + kHeaderPrefixSize, index, 8);
  out[kHeaderPrefixSize + 8] = final ? 1 : 0;
  if (!final) return kHeaderPrefixSize + 9;
  std::memcpy(out.data() + kHeaderPrefixSize + 9, header.data() + kHeaderPrefixSize, 8);
  return kMaxAadSize;
}

}  // namespace aegis::store::internal
