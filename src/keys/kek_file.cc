#include "kek_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "aegis/crypto/aead.h"
#include "aegis/crypto/encoding.h"
#include "aegis/crypto/random.h"

namespace aegis::keys::internal {
namespace {

constexpr std::string_view kMagic = "AEGISKEK";
constexpr uint8_t kVersion = 1;
constexpr size_t kSaltSize = 16;
constexpr size_t kAadSize = kMagic.size() + 1 + 3 * sizeof(uint32_t) + kSaltSize;  // everything before the nonce
constexpr size_t kSealedSize = kAadSize + crypto::kAeadNonceSize + kKekSize + crypto::kAeadTagSize;

void PutU32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

uint32_t GetU32(std::string_view in, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(in[at + i]);
  return v;
}

std::span<const uint8_t> Bytes(std::string_view s, size_t at, size_t len) { return crypto::AsBytes(s.substr(at, len)); }

}  // namespace

StatusOr<crypto::SecureBuffer> ReadRawKek(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("no KEK at " + path.string());
    return Status::Internal("cannot open " + path.string() + ": " + std::strerror(errno));
  }
  struct stat st {};
  Status status;
  if (::fstat(fd, &st) != 0) {
    status = Status::Internal("cannot stat " + path.string());
  } else if (!S_ISREG(st.st_mode)) {
    status = Status::PermissionDenied(path.string() + " is not a regular file");
  } else if ((st.st_mode & 077) != 0) {
    // Same rule as ssh for private keys: a key others can read is already compromised.
    status = Status::PermissionDenied(path.string() + " is accessible by group or others (chmod 600 it)");
  } else if (static_cast<uint64_t>(st.st_size) != kKekSize) {
    status = Status::DataLoss(path.string() + " is " + std::to_string(st.st_size) + " bytes, expected 32");
  }
  crypto::SecureBuffer kek(kKekSize);
  size_t done = 0;
  while (status.ok() && done < kKekSize) {
    const ssize_t n = ::read(fd, kek.data() + done, kKekSize - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) status = Status::DataLoss("cannot read " + path.string());
    if (n > 0) done += static_cast<size_t>(n);
  }
  ::close(fd);
  if (!status.ok()) return status;
  return kek;
}

StatusOr<std::string> SealKek(const crypto::SecureBuffer& kek, std::string_view passphrase,
                              const crypto::Argon2idParams& params) {
  if (kek.size() != kKekSize) return Status::InvalidArgument("KEK must be 32 bytes");
  uint8_t salt[kSaltSize];
  uint8_t nonce[crypto::kAeadNonceSize];
  AEGIS_RETURN_IF_ERROR(crypto::RandomBytes(salt));
  AEGIS_RETURN_IF_ERROR(crypto::RandomBytes(nonce));
  AEGIS_ASSIGN_OR_RETURN(crypto::SecureBuffer wrapping_key,
                         crypto::DeriveKeyArgon2id(passphrase, salt, params, crypto::kAeadKeySize));
  std::string out(kMagic);
  out += static_cast<char>(kVersion);
  PutU32(out, params.t_cost);
  PutU32(out, params.m_cost_kib);
  PutU32(out, params.parallelism);
  out.append(reinterpret_cast<const char*>(salt), kSaltSize);
  const std::string aad = out;
  out.append(reinterpret_cast<const char*>(nonce), sizeof nonce);
  uint8_t sealed[kKekSize + crypto::kAeadTagSize];
  AEGIS_RETURN_IF_ERROR(crypto::AeadSeal(wrapping_key.span(), nonce, crypto::AsBytes(aad), kek.span(), sealed));
  out.append(reinterpret_cast<const char*>(sealed), sizeof sealed);
  return out;
}

StatusOr<crypto::SecureBuffer> UnsealKek(std::string_view sealed, std::string_view passphrase) {
  if (sealed.size() != kSealedSize || sealed.substr(0, kMagic.size()) != kMagic) {
    return Status::DataLoss("kek.sealed is not a sealed Aegis KEK");
  }
  if (static_cast<uint8_t>(sealed[kMagic.size()]) != kVersion) {
    return Status::DataLoss("kek.sealed has an unsupported version");
  }
  const size_t params_at = kMagic.size() + 1;
  const crypto::Argon2idParams params{GetU32(sealed, params_at), GetU32(sealed, params_at + 4),
                                      GetU32(sealed, params_at + 8)};
  // DeriveKeyArgon2id bounds the parameters, so a doctored file cannot demand 4 TiB.
  auto wrapping_key =
      crypto::DeriveKeyArgon2id(passphrase, Bytes(sealed, params_at + 12, kSaltSize), params, crypto::kAeadKeySize);
  if (!wrapping_key.ok()) return Status::DataLoss("kek.sealed: " + wrapping_key.status().message());
  crypto::SecureBuffer kek(kKekSize);
  const Status opened = crypto::AeadOpen(wrapping_key->span(), Bytes(sealed, kAadSize, crypto::kAeadNonceSize),
                                         Bytes(sealed, 0, kAadSize),
                                         Bytes(sealed, kAadSize + crypto::kAeadNonceSize, kKekSize + 16), kek.span());
  // A wrong passphrase and a doctored file look the same to GCM; the passphrase is far likelier.
  if (!opened.ok()) return Status::Unauthenticated("wrong passphrase");
  return kek;
}

}  // namespace aegis::keys::internal
