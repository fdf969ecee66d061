// The reasons JwtVerifier::Verify refuses a token with (internal to
// src/auth): short, fixed, safe to show, never token contents. Apart from
// jwt_internal.h so that the authenticator can tell which of them point at the
// configuration (Authenticator::ConfigurationHint) without the JWT code's
// OpenSSL internals.
//
// Thread-safety: constants.
#pragma once

#include <string_view>

namespace aegis::auth::internal::reason {

inline constexpr std::string_view kInvalidToken = "invalid token";
inline constexpr std::string_view kUnsupportedHeader = "unsupported token header";
inline constexpr std::string_view kExpired = "token expired";
inline constexpr std::string_view kNotYetValid = "token not yet valid";
inline constexpr std::string_view kIssuedInFuture = "token issued in the future";
inline constexpr std::string_view kUnknownKey = "unknown key id";
inline constexpr std::string_view kAlgorithmMismatch = "algorithm does not match the key";
inline constexpr std::string_view kUnsupportedAlgorithm = "unsupported algorithm";
inline constexpr std::string_view kInvalidSignature = "invalid signature";
inline constexpr std::string_view kWrongIssuer = "wrong issuer";
inline constexpr std::string_view kWrongAudience = "wrong audience";

}  // namespace aegis::auth::internal::reason
