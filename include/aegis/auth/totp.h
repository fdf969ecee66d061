// TOTP (RFC 6238 over RFC 4226 HOTP): HMAC-SHA-1, 30-second steps, 6 digits —
// what every authenticator app implements — and the otpauth:// URI they enrol
// from. The HMAC is OpenSSL's (EVP_MAC).
//
// Thread-safety: pure functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "aegis/common/status.h"

namespace aegis::auth {

inline constexpr int64_t kTotpStepSeconds = 30;
inline constexpr int kTotpDigits = 6;

// RFC 4648 base32, upper case, without padding (as authenticator apps expect).
std::string Base32Encode(std::span<const uint8_t> bytes);
// Accepts upper or lower case, with or without '=' padding; nullopt otherwise.
std::optional<std::string> Base32Decode(std::string_view text);

// The time step containing `t` (seconds since the epoch / 30).
int64_t TotpStep(std::chrono::system_clock::time_point t);
// The 6-digit code for `step`, zero-padded.
std::string TotpCode(std::span<const uint8_t> secret, int64_t step);

// The step (within ±1 of `now`'s step) whose code equals `code`, or nullopt.
// `code` must be exactly 6 ASCII digits; comparisons are constant time.
std::optional<int64_t> MatchTotp(std::span<const uint8_t> secret, std::string_view code,
                                 std::chrono::system_clock::time_point now);

// "otpauth://totp/Aegis:<account>?secret=<base32>&issuer=Aegis&algorithm=SHA1&digits=6&period=30",
// with the account percent-encoded.
std::string TotpUri(std::string_view account, std::span<const uint8_t> secret);

}  // namespace aegis::auth
