// SHA-256 (OpenSSL EVP): one-shot and streaming, plus constant-time comparison.
//
// Thread-safety: Sha256Hasher is not thread-safe; the free functions are.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

namespace aegis::crypto {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest Sha256(std::span<const uint8_t> data);
inline Sha256Digest Sha256(std::string_view s) {
  return Sha256(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;
  void Update(std::span<const uint8_t> data);
  Sha256Digest Finish();  // call Reset() before hashing the next message
  // Starts a new message on the same context (cheaper than a new hasher when
  // hashing millions of small messages, as the audit Merkle tree does).
  void Reset();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Constant-time equality (CRYPTO_memcmp); false when sizes differ.
bool ConstantTimeEqual(std::span<const uint8_t> a, std::span<const uint8_t> b);

}  // namespace aegis::crypto
