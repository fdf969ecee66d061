#include "aegis/crypto/kdf.h"

#include <argon2.h>

namespace aegis::crypto {
namespace {

constexpr size_t kMinSaltSize = 16;
// Bounds keep a tampered parameter file from pinning the CPU or exhausting memory.
constexpr uint32_t kMaxTimeCost = 64;
constexpr uint32_t kMaxMemoryKiB = 4u << 20;  // 4 GiB
constexpr uint32_t kMaxParallelism = 64;
// libargon2 takes 32-bit lengths.
constexpr size_t kMaxInputSize = 0xFFFFFFFFu;

}  // namespace

StatusOr<SecureBuffer> DeriveKeyArgon2id(std::string_view passphrase, std::span<const uint8_t> salt,
                                         const Argon2idParams& params, size_t out_len, const Argon2idExtras& extras) {
  if (salt.size() < kMinSaltSize) return Status::InvalidArgument("Argon2id salt must be at least 16 bytes");
  if (out_len < 16 || out_len > 1024) return Status::InvalidArgument("Argon2id output length out of range");
  if (params.t_cost < 1 || params.t_cost > kMaxTimeCost || params.parallelism < 1 ||
      params.parallelism > kMaxParallelism || params.m_cost_kib < 8 * params.parallelism ||
      params.m_cost_kib > kMaxMemoryKiB) {
    return Status::InvalidArgument("Argon2id parameters out of range");
  }
  if (passphrase.size() > kMaxInputSize || salt.size() > kMaxInputSize || extras.secret.size() > kMaxInputSize ||
      extras.associated_data.size() > kMaxInputSize) {
    return Status::InvalidArgument("Argon2id input too long");
  }
  SecureBuffer out(out_len);
  // argon2_ctx is the one general entry point (argon2id_hash_raw is argon2_ctx
  // without K and X). libargon2 writes to the inputs only when asked to clear
  // them (ARGON2_FLAG_CLEAR_*), which these flags do not: the casts are safe.
  argon2_context ctx{};
  ctx.out = out.data();
  ctx.outlen = static_cast<uint32_t>(out.size());
  ctx.pwd = const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(passphrase.data()));
  ctx.pwdlen = static_cast<uint32_t>(passphrase.size());
  ctx.salt = const_cast<uint8_t*>(salt.data());
  ctx.saltlen = static_cast<uint32_t>(salt.size());
  ctx.secret = const_cast<uint8_t*>(extras.secret.data());
  ctx.secretlen = static_cast<uint32_t>(extras.secret.size());
  ctx.ad = const_cast<uint8_t*>(extras.associated_data.data());
  ctx.adlen = static_cast<uint32_t>(extras.associated_data.size());
  ctx.t_cost = params.t_cost;
  ctx.m_cost = params.m_cost_kib;
  ctx.lanes = params.parallelism;
  ctx.threads = params.parallelism;
  ctx.version = ARGON2_VERSION_13;
  ctx.flags = ARGON2_DEFAULT_FLAGS;
  const int rc = argon2_ctx(&ctx, Argon2_id);
  if (rc != ARGON2_OK) {
    return Status::Internal(std::string("Argon2id failed: ") + argon2_error_message(rc));
  }
  return out;
}

}  // namespace aegis::crypto
