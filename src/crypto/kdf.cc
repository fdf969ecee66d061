#include "aegis/crypto/kdf.h"

#include <argon2.h>

namespace aegis::crypto {
namespace {

constexpr size_t kMinSaltSize = 16;
// Bounds keep a tampered parameter file from pinning the CPU or exhausting memory.
constexpr uint32_t kMaxTimeCost = 64;
constexpr uint32_t kMaxMemoryKiB = 4u << 20;  // 4 GiB
constexpr uint32_t kMaxParallelism = 64;

}  // namespace

StatusOr<SecureBuffer> DeriveKeyArgon2id(std::string_view passphrase, std::span<const uint8_t> salt,
                                         const Argon2idParams& params, size_t out_len) {
  if (salt.size() < kMinSaltSize) return Status::InvalidArgument("Argon2id salt must be at least 16 bytes");
  if (out_len < 16 || out_len > 1024) return Status::InvalidArgument("Argon2id output length out of range");
  if (params.t_cost < 1 || params.t_cost > kMaxTimeCost || params.parallelism < 1 ||
      params.parallelism > kMaxParallelism || params.m_cost_kib < 8 * params.parallelism ||
      params.m_cost_kib > kMaxMemoryKiB) {
    return Status::InvalidArgument("Argon2id parameters out of range");
  }
  SecureBuffer out(out_len);
  const int rc = argon2id_hash_raw(params.t_cost, params.m_cost_kib, params.parallelism, passphrase.data(),
                                   passphrase.size(), salt.data(), salt.size(), out.data(), out.size());
  if (rc != ARGON2_OK) {
    return Status::Internal(std::string("Argon2id failed: ") + argon2_error_message(rc));
  }
  return out;
}

}  // namespace aegis::crypto
