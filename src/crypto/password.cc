#include "aegis/crypto/password.h"

#include <array>
#include <charconv>
#include <vector>

#include <argon2.h>

#include "aegis/crypto/random.h"

namespace aegis::crypto {
namespace {

constexpr size_t kSaltSize = 16;
constexpr size_t kHashSize = 32;
constexpr std::string_view kPrefix = "$argon2id$v=19$";
// Verification takes its cost from the stored string: bounds keep a tampered row
// from pinning a core or exhausting memory on every login attempt.
constexpr uint32_t kMaxTimeCost = 64;
constexpr uint32_t kMaxMemoryKiB = 1u << 20;  // 1 GiB
constexpr uint32_t kMaxParallelism = 16;

bool ParamsInRange(uint32_t t, uint32_t m, uint32_t p) {
  return t >= 1 && t <= kMaxTimeCost && p >= 1 && p <= kMaxParallelism && m >= 8 * p && m <= kMaxMemoryKiB;
}

// Reads "<key>=<decimal>" followed by `end` from the front of `s`.
bool TakeParam(std::string_view& s, std::string_view key, char end, uint32_t& out) {
  if (!s.starts_with(key) || s.size() <= key.size() || s[key.size()] != '=') return false;
  s.remove_prefix(key.size() + 1);
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc() || ptr == s.data() || ptr == s.data() + s.size() || *ptr != end) return false;
  s.remove_prefix(static_cast<size_t>(ptr - s.data()) + 1);
  return true;
}

// Only Argon2id version 1.3 with bounded cost parameters is accepted.
bool AcceptableEncoding(std::string_view encoded) {
  if (!encoded.starts_with(kPrefix) || encoded.find('\0') != std::string_view::npos) return false;
  encoded.remove_prefix(kPrefix.size());
  uint32_t m = 0, t = 0, p = 0;
  return TakeParam(encoded, "m", ',', m) && TakeParam(encoded, "t", ',', t) && TakeParam(encoded, "p", '$', p) &&
         ParamsInRange(t, m, p);
}

}  // namespace

StatusOr<std::string> HashPassword(std::string_view password, const PasswordHashParams& params) {
  if (!ParamsInRange(params.t_cost, params.m_cost_kib, params.parallelism)) {
    return Status::InvalidArgument("Argon2id parameters out of range");
  }
  std::array<uint8_t, kSaltSize> salt{};
  AEGIS_RETURN_IF_ERROR(RandomBytes(salt));
  const size_t encoded_len =
      argon2_encodedlen(params.t_cost, params.m_cost_kib, params.parallelism, kSaltSize, kHashSize, Argon2_id);
  std::vector<char> encoded(encoded_len);
  const int rc =
      argon2id_hash_encoded(params.t_cost, params.m_cost_kib, params.parallelism, password.data(), password.size(),
                            salt.data(), salt.size(), kHashSize, encoded.data(), encoded.size());
  if (rc != ARGON2_OK) return Status::Internal(std::string("Argon2id failed: ") + argon2_error_message(rc));
  return std::string(encoded.data());  // NUL-terminated by libargon2
}

bool VerifyPassword(std::string_view encoded, std::string_view password) {
  if (!AcceptableEncoding(encoded)) return false;
  const std::string terminated(encoded);  // libargon2 wants a C string
  return argon2id_verify(terminated.c_str(), password.data(), password.size()) == ARGON2_OK;
}

}  // namespace aegis::crypto
