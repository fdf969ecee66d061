// Hex and base64 (standard and url-safe) encoders/decoders. Decoders reject any
// character outside the alphabet, bad padding and trailing garbage.
//
// Thread-safety: stateless.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace aegis::crypto {

std::string HexEncode(std::span<const uint8_t> bytes);
std::optional<std::vector<uint8_t>> HexDecode(std::string_view hex);

std::string Base64Encode(std::span<const uint8_t> bytes);  // RFC 4648 §4, padded
std::optional<std::vector<uint8_t>> Base64Decode(std::string_view text);
std::string Base64UrlEncode(std::span<const uint8_t> bytes);  // RFC 4648 §5, unpadded
std::optional<std::vector<uint8_t>> Base64UrlDecode(std::string_view text);

inline std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace aegis::crypto
