// Passphrase-based key derivation: Argon2id (libargon2, OWASP's first choice).
//
// Thread-safety: stateless; safe for concurrent use.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "aegis/common/status.h"
#include "aegis/crypto/secure_buffer.h"

namespace aegis::crypto {

struct Argon2idParams {
  uint32_t t_cost = 3;          // iterations
  uint32_t m_cost_kib = 65536;  // 64 MiB
  uint32_t parallelism = 1;
};

// The optional inputs of RFC 9106 §3.1: a secret value K and associated data X,
// both folded into the hash. Aegis derives its keys without them (empty); they
// are here so the RFC's own test vector (§5.3, which uses both) can pin this
// wrapper and the libargon2 call under it.
struct Argon2idExtras {
  std::span<const uint8_t> secret;
  std::span<const uint8_t> associated_data;
};

// Derives `out_len` bytes from `passphrase` and `salt` (≥ 16 bytes).
StatusOr<SecureBuffer> DeriveKeyArgon2id(std::string_view passphrase, std::span<const uint8_t> salt,
                                         const Argon2idParams& params, size_t out_len,
                                         const Argon2idExtras& extras = {});

}  // namespace aegis::crypto
