#include "aegis/auth/totp.h"

#include <array>
#include <memory>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "aegis/crypto/encoding.h"
#include "aegis/crypto/hash.h"

namespace aegis::auth {
namespace {

constexpr std::string_view kBase32Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

int Base32Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

struct MacDeleter {
  void operator()(EVP_MAC* p) const { EVP_MAC_free(p); }
  void operator()(EVP_MAC_CTX* p) const { EVP_MAC_CTX_free(p); }
};

// Fetched once: EVP_MAC objects are reference counted and safe to share.
const EVP_MAC* HmacAlgorithm() {
  static const std::unique_ptr<EVP_MAC, MacDeleter> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  return mac.get();
}

// HMAC-SHA-1(secret, counter as 8 big-endian bytes); false if OpenSSL refuses.
bool HmacSha1(std::span<const uint8_t> secret, uint64_t counter, std::array<uint8_t, 20>& out) {
  const EVP_MAC* mac = HmacAlgorithm();
  if (mac == nullptr || secret.empty()) return false;
  std::unique_ptr<EVP_MAC_CTX, MacDeleter> ctx(EVP_MAC_CTX_new(const_cast<EVP_MAC*>(mac)));
  if (!ctx) return false;
  char digest[] = "SHA1";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
  std::array<uint8_t, 8> message{};
  for (int i = 7; i >= 0; --i, counter >>= 8) message[static_cast<size_t>(i)] = static_cast<uint8_t>(counter);
  size_t len = 0;
  return EVP_MAC_init(ctx.get(), secret.data(), secret.size(), params) == 1 &&
         EVP_MAC_update(ctx.get(), message.data(), message.size()) == 1 &&
         EVP_MAC_final(ctx.get(), out.data(), &len, out.size()) == 1 && len == out.size();
}

bool IsSixDigits(std::string_view code) {
  if (code.size() != static_cast<size_t>(kTotpDigits)) return false;
  for (char c : code) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

std::string Base32Encode(std::span<const uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() * 8 + 4) / 5);
  uint32_t buffer = 0;
  int bits = 0;
  for (uint8_t b : bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(kBase32Alphabet[(buffer >> bits) & 31]);
    }
  }
  if (bits > 0) out.push_back(kBase32Alphabet[(buffer << (5 - bits)) & 31]);
  return out;
}

std::optional<std::string> Base32Decode(std::string_view text) {
  // Padding, when present, must complete the last 8-character group.
  if (const size_t pad = text.find('='); pad != std::string_view::npos) {
    if (text.size() % 8 != 0 || text.find_first_not_of('=', pad) != std::string_view::npos) return std::nullopt;
    text = text.substr(0, pad);
    if (text.size() % 8 == 0) return std::nullopt;  // a whole group of padding
  }
  // 1, 3 and 6 trailing characters cannot come from whole bytes.
  const size_t tail = text.size() % 8;
  if (tail == 1 || tail == 3 || tail == 6) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 5 / 8);
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    const int v = Base32Value(c);
    if (v < 0) return std::nullopt;
    buffer = (buffer << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  // Leftover bits must be zero: one byte string has exactly one encoding.
  if ((buffer & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

int64_t TotpStep(std::chrono::system_clock::time_point t) {
  const int64_t seconds = std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
  // Floor division, so times before the epoch do not share step 0.
  return seconds >= 0 ? seconds / kTotpStepSeconds : -((-seconds + kTotpStepSeconds - 1) / kTotpStepSeconds);
}

std::string TotpCode(std::span<const uint8_t> secret, int64_t step) {
  std::array<uint8_t, 20> mac{};
  // An empty string never equals a six-digit code, so a failure fails closed.
  if (!HmacSha1(secret, static_cast<uint64_t>(step), mac)) return {};
  // RFC 4226 §5.3 dynamic truncation.
  const size_t offset = mac[19] & 0x0f;
  const uint32_t binary = (static_cast<uint32_t>(mac[offset] & 0x7f) << 24) |
                          (static_cast<uint32_t>(mac[offset + 1]) << 16) |
                          (static_cast<uint32_t>(mac[offset + 2]) << 8) | mac[offset + 3];
  OPENSSL_cleanse(mac.data(), mac.size());
  uint32_t value = binary % 1000000;
  std::string code(kTotpDigits, '0');
  for (size_t i = code.size(); i-- > 0; value /= 10) code[i] = static_cast<char>('0' + value % 10);
  return code;
}

std::optional<int64_t> MatchTotp(std::span<const uint8_t> secret, std::string_view code,
                                 std::chrono::system_clock::time_point now) {
  if (!IsSixDigits(code)) return std::nullopt;
  const int64_t current = TotpStep(now);
  // Every candidate is computed and compared, so timing does not reveal which matched.
  // The current step wins a (one in a million) tie, then the older one.
  std::optional<int64_t> match;
  for (const int64_t step : {current + 1, current - 1, current}) {
    const std::string candidate = TotpCode(secret, step);
    if (crypto::ConstantTimeEqual(crypto::AsBytes(candidate), crypto::AsBytes(code))) match = step;
  }
  return match;
}

std::string TotpUri(std::string_view account, std::span<const uint8_t> secret) {
  // RFC 3986 unreserved characters stay; everything else (':', '@', ' ', …) is escaped.
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string label;
  for (unsigned char c : account) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      label.push_back(static_cast<char>(c));
    } else {
      label += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return "otpauth://totp/Aegis:" + label + "?secret=" + Base32Encode(secret) +
         "&issuer=Aegis&algorithm=SHA1&digits=6&period=30";
}

}  // namespace aegis::auth
