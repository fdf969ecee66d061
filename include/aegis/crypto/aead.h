// AES-256-GCM authenticated encryption (OpenSSL EVP) — the only cipher Aegis uses
// at rest. 256-bit key, 96-bit nonce, 128-bit tag.
//
// Seal returns ciphertext || tag; Open verifies the tag before releasing any
// plaintext and returns DataLoss on any mismatch (wrong key, nonce, AAD, a flipped
// bit, truncation).
//
// Thread-safety: stateless functions; safe for concurrent use.
#pragma once

#include <cstdint>
#include <span>

#include "aegis/common/status.h"
#include "aegis/crypto/secure_buffer.h"

namespace aegis::crypto {

inline constexpr size_t kAeadKeySize = 32;
inline constexpr size_t kAeadNonceSize = 12;
inline constexpr size_t kAeadTagSize = 16;

// Encrypts `plaintext` into `out` (resized to plaintext.size() + kAeadTagSize).
Status AeadSeal(std::span<const uint8_t> key, std::span<const uint8_t> nonce, std::span<const uint8_t> aad,
                std::span<const uint8_t> plaintext, std::span<uint8_t> out);

// Decrypts `sealed` (ciphertext || tag) into `out` (size sealed.size() - kAeadTagSize).
// On failure `out` is wiped.
Status AeadOpen(std::span<const uint8_t> key, std::span<const uint8_t> nonce, std::span<const uint8_t> aad,
                std::span<const uint8_t> sealed, std::span<uint8_t> out);

}  // namespace aegis::crypto
