// Password hashing: Argon2id (libargon2) in the PHC string format
// ("$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>"), OWASP's first choice.
//
// Thread-safety: stateless; safe for concurrent use. Each call allocates
// m_cost_kib of memory for its duration: callers bound concurrency.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "aegis/common/status.h"

namespace aegis::crypto {

struct PasswordHashParams {
  // OWASP Password Storage Cheat Sheet: m=19 MiB, t=2, p=1 at minimum.
  uint32_t t_cost = 2;
  uint32_t m_cost_kib = 19456;
  uint32_t parallelism = 1;
};

// Hashes `password` with a fresh 128-bit random salt.
StatusOr<std::string> HashPassword(std::string_view password, const PasswordHashParams& params = {});

// Whether `password` matches `encoded` (constant time in the comparison).
// False for a malformed or non-Argon2id `encoded`.
bool VerifyPassword(std::string_view encoded, std::string_view password);

}  // namespace aegis::crypto
