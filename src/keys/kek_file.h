// On-disk forms of the local KEK (internal to src/keys).
//
// kek.key:    32 raw bytes, mode 0600 (group/other access refused on read).
// kek.sealed: 97 bytes, all integers big-endian:
//   "AEGISKEK" | u8 version=1 | u32 t_cost | u32 m_cost_kib | u32 parallelism |
//   16-byte salt | 12-byte nonce | 32-byte encrypted KEK | 16-byte tag
// sealed with AES-256-GCM under Argon2id(passphrase, salt, params); the bytes
// before the nonce are the associated data, so the parameters cannot be swapped
// for weaker ones without failing authentication.
//
// Thread-safety: stateless functions.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "aegis/common/status.h"
#include "aegis/crypto/kdf.h"
#include "aegis/crypto/secure_buffer.h"

namespace aegis::keys::internal {

inline constexpr size_t kKekSize = 32;

// Reads kek.key: PermissionDenied if group/other bits are set or it is not a
// regular file, DataLoss if it is not exactly 32 bytes.
StatusOr<crypto::SecureBuffer> ReadRawKek(const std::filesystem::path& path);

// The kek.sealed bytes for `kek` under `passphrase`.
StatusOr<std::string> SealKek(const crypto::SecureBuffer& kek, std::string_view passphrase,
                              const crypto::Argon2idParams& params);

// Recovers the KEK; Unauthenticated("wrong passphrase") when the tag fails,
// DataLoss when the file is malformed.
StatusOr<crypto::SecureBuffer> UnsealKek(std::string_view sealed, std::string_view passphrase);

}  // namespace aegis::keys::internal
