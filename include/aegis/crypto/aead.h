// AES-256-GCM authenticated encryption (OpenSSL EVP) — the only cipher Aegis uses
// at rest. 256-bit key, 96-bit nonce, 128-bit tag.
//
// Seal returns ciphertext || tag; Open verifies the tag before releasing any
// plaintext and returns DataLoss on any mismatch (wrong key, nonce, AAD, a flipped
// bit, truncation).
//
// AeadContext is the bulk form: the key schedule is computed once and each call
// only sets a fresh nonce (blob chunks); one context per thread.
//
// Thread-safety: the free functions are stateless and safe for concurrent use; an
// AeadContext is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "aegis/common/status.h"
#include "aegis/crypto/secure_buffer.h"

namespace aegis::crypto {

inline constexpr size_t kAeadKeySize = 32;
inline constexpr size_t kAeadNonceSize = 12;
inline constexpr size_t kAeadTagSize = 16;

// Encrypts `plaintext` into `out`, which must be exactly plaintext.size() + kAeadTagSize.
Status AeadSeal(std::span<const uint8_t> key, std::span<const uint8_t> nonce, std::span<const uint8_t> aad,
                std::span<const uint8_t> plaintext, std::span<uint8_t> out);

// Decrypts `sealed` (ciphertext || tag) into `out`, which must be exactly
// sealed.size() - kAeadTagSize. On failure `out` is wiped.
Status AeadOpen(std::span<const uint8_t> key, std::span<const uint8_t> nonce, std::span<const uint8_t> aad,
                std::span<const uint8_t> sealed, std::span<uint8_t> out);

// A reusable AES-256-GCM context bound to one key. Same semantics as the free
// functions; the detached forms take the tag separately and allow in-place
// operation (`out` may alias the input exactly).
class AeadContext {
 public:
  static StatusOr<AeadContext> Create(std::span<const uint8_t> key);
  AeadContext(AeadContext&&) noexcept;
  AeadContext& operator=(AeadContext&&) noexcept;
  ~AeadContext();

  Status Seal(std::span<const uint8_t> nonce, std::span<const uint8_t> aad, std::span<const uint8_t> plaintext,
              std::span<uint8_t> out);
  Status Open(std::span<const uint8_t> nonce, std::span<const uint8_t> aad, std::span<const uint8_t> sealed,
              std::span<uint8_t> out);
  // `out` same size as `plaintext`; writes the tag to `tag` (kAeadTagSize bytes).
  Status SealDetached(std::span<const uint8_t> nonce, std::span<const uint8_t> aad, std::span<const uint8_t> plaintext,
                      std::span<uint8_t> out, std::span<uint8_t> tag);
  // `out` same size as `ciphertext`; wiped on failure.
  Status OpenDetached(std::span<const uint8_t> nonce, std::span<const uint8_t> aad, std::span<const uint8_t> ciphertext,
                      std::span<const uint8_t> tag, std::span<uint8_t> out);

 private:
  struct Impl;
  explicit AeadContext(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace aegis::crypto
