// Cryptographically secure randomness (OpenSSL RAND_bytes, which seeds from the OS).
//
// Thread-safety: safe for concurrent use.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "aegis/common/status.h"

namespace aegis::crypto {

// Fills `out` or returns Internal if the DRBG fails (never silently weak).
Status RandomBytes(std::span<uint8_t> out);

// `n` random bytes as lowercase hex (2n characters).
StatusOr<std::string> RandomHex(size_t n);

// `n` random bytes as unpadded base64url.
StatusOr<std::string> RandomBase64Url(size_t n);

}  // namespace aegis::crypto
