#include <cstring>
#include <string_view>
#include <system_error>

#include "aegis/common/file_util.h"
#include "aegis/crypto/aead.h"
#include "aegis/crypto/encoding.h"
#include "aegis/crypto/hash.h"
#include "aegis/crypto/random.h"
#include "aegis/keys/key_provider.h"
#include "kek_file.h"

namespace aegis::keys {
namespace {

constexpr const char* kRawFile = "kek.key";
constexpr const char* kSealedFile = "kek.sealed";
constexpr uint8_t kWrapVersion = 1;
constexpr std::string_view kWrapLabel = "aegis-dek-v1";
constexpr std::string_view kKeyIdLabel = "aegis-kek-id";
constexpr size_t kMaxDekSize = 1024;

bool Exists(const std::filesystem::path& path) {
  std::error_code ec;
  return std::filesystem::symlink_status(path, ec).type() != std::filesystem::file_type::not_found;
}

// "aegis-dek-v1" || context: the label pins the wrap format, the context pins the artifact.
std::vector<uint8_t> WrapAad(std::span<const uint8_t> context) {
  // Built with memcpy: g++ 12 raises a bogus -Warray-bounds on vector::insert here.
  std::vector<uint8_t> aad(kWrapLabel.size() + context.size());
  std::memcpy(aad.data(), kWrapLabel.data(), kWrapLabel.size());
  if (!context.empty()) std::memcpy(aad.data() + kWrapLabel.size(), context.data(), context.size());
  return aad;
}

std::string ComputeKeyId(const crypto::SecureBuffer& kek) {
  crypto::Sha256Hasher hasher;
  hasher.Update(crypto::AsBytes(kKeyIdLabel));
  hasher.Update(kek.span());
  const crypto::Sha256Digest digest = hasher.Finish();
  return crypto::HexEncode(std::span(digest).first(8));
}

}  // namespace

LocalKeyProvider::LocalKeyProvider(crypto::SecureBuffer kek, std::string key_id)
    : kek_(std::move(kek)), key_id_(std::move(key_id)) {}

StatusOr<std::unique_ptr<LocalKeyProvider>> LocalKeyProvider::Create(const std::filesystem::path& keys_dir,
                                                                     const std::optional<std::string>& passphrase) {
  if (passphrase && passphrase->empty()) return Status::InvalidArgument("passphrase must not be empty");
  if (Exists(keys_dir / kRawFile) || Exists(keys_dir / kSealedFile)) {
    return Status::AlreadyExists("a KEK already exists in " + keys_dir.string());
  }
  AEGIS_RETURN_IF_ERROR(MakeDirectory(keys_dir, 0700));
  crypto::SecureBuffer kek(internal::kKekSize);
  AEGIS_RETURN_IF_ERROR(crypto::RandomBytes(kek.span()));
  if (passphrase) {
    AEGIS_ASSIGN_OR_RETURN(std::string sealed, internal::SealKek(kek, *passphrase, crypto::Argon2idParams{}));
    AEGIS_RETURN_IF_ERROR(WriteFileExclusive(keys_dir / kSealedFile, sealed, 0600));
  } else {
    // O_EXCL inside WriteFileExclusive closes the race with a concurrent init.
    AEGIS_RETURN_IF_ERROR(WriteFileExclusive(keys_dir / kRawFile, kek.view(), 0600));
  }
  std::string key_id = ComputeKeyId(kek);
  return std::unique_ptr<LocalKeyProvider>(new LocalKeyProvider(std::move(kek), std::move(key_id)));
}

StatusOr<std::unique_ptr<LocalKeyProvider>> LocalKeyProvider::Open(const std::filesystem::path& keys_dir,
                                                                   const std::optional<std::string>& passphrase) {
  const bool sealed = Exists(keys_dir / kSealedFile);
  const bool raw = Exists(keys_dir / kRawFile);
  if (sealed && raw) {
    // Which one is real is a question for a human, not a guess.
    return Status::Internal("both kek.key and kek.sealed exist in " + keys_dir.string());
  }
  crypto::SecureBuffer kek;
  if (sealed) {
    if (!passphrase) return Status::Unauthenticated("the KEK is sealed: a passphrase is required");
    AEGIS_ASSIGN_OR_RETURN(std::string bytes, ReadFile(keys_dir / kSealedFile, 4096));
    AEGIS_ASSIGN_OR_RETURN(kek, internal::UnsealKek(bytes, *passphrase));
  } else {
    AEGIS_ASSIGN_OR_RETURN(kek, internal::ReadRawKek(keys_dir / kRawFile));
  }
  std::string key_id = ComputeKeyId(kek);
  return std::unique_ptr<LocalKeyProvider>(new LocalKeyProvider(std::move(kek), std::move(key_id)));
}

bool LocalKeyProvider::IsSealed(const std::filesystem::path& keys_dir) { return Exists(keys_dir / kSealedFile); }

std::string LocalKeyProvider::KeyId() const { return key_id_; }

StatusOr<std::vector<uint8_t>> LocalKeyProvider::Wrap(std::span<const uint8_t> dek,
                                                      std::span<const uint8_t> context) const {
  if (dek.empty() || dek.size() > kMaxDekSize) return Status::InvalidArgument("DEK size out of range");
  // wrapped = version || nonce || ciphertext || tag
  std::vector<uint8_t> wrapped(1 + crypto::kAeadNonceSize + dek.size() + crypto::kAeadTagSize);
  wrapped[0] = kWrapVersion;
  const auto nonce = std::span(wrapped).subspan(1, crypto::kAeadNonceSize);
  AEGIS_RETURN_IF_ERROR(crypto::RandomBytes(nonce));
  AEGIS_RETURN_IF_ERROR(crypto::AeadSeal(kek_.span(), nonce, WrapAad(context), dek,
                                         std::span(wrapped).subspan(1 + crypto::kAeadNonceSize)));
  return wrapped;
}

StatusOr<crypto::SecureBuffer> LocalKeyProvider::Unwrap(std::span<const uint8_t> wrapped,
                                                        std::span<const uint8_t> context) const {
  constexpr size_t kOverhead = 1 + crypto::kAeadNonceSize + crypto::kAeadTagSize;
  if (wrapped.size() <= kOverhead || wrapped.size() > kOverhead + kMaxDekSize) {
    return Status::DataLoss("wrapped key has an invalid length");
  }
  if (wrapped[0] != kWrapVersion) return Status::DataLoss("wrapped key has an unknown version");
  crypto::SecureBuffer dek(wrapped.size() - kOverhead);
  Status opened = crypto::AeadOpen(kek_.span(), wrapped.subspan(1, crypto::kAeadNonceSize), WrapAad(context),
                                   wrapped.subspan(1 + crypto::kAeadNonceSize), dek.span());
  if (!opened.ok()) return Status::DataLoss("wrapped key failed to authenticate (altered, other artifact or KEK)");
  return dek;
}

}  // namespace aegis::keys
