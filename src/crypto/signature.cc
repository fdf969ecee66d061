// ECDSA P-256/P-384 and Ed25519 through OpenSSL 3 EVP. Every key that enters
// Aegis passes one gate (AcceptKey): a named curve we support, a valid point.
#include "aegis/crypto/signature.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "aegis/crypto/encoding.h"
#include "aegis/crypto/hash.h"
#include "crypto/internal/openssl_ptr.h"

namespace aegis::crypto {
namespace {

constexpr size_t kMaxPemBytes = size_t{64} * 1024;

using namespace internal;  // the OpenSSL owning pointers

// OpenSSL leaves failure details on a thread-local queue; drop them so they do
// not surface later as the "cause" of some unrelated TLS error on this thread.
template <typename T>
T Clear(T value) {
  ERR_clear_error();
  return value;
}

// Never prompt for a passphrase (OpenSSL's default callback reads the terminal).
int NoPassphrase(char*, int, int, void*) { return -1; }

// The digest each key type signs with, as OMS and sigstore pair them.
const char* DigestName(KeyType type) {
  switch (type) {
    case KeyType::kEcdsaP256:
      return "SHA256";
    case KeyType::kEcdsaP384:
      return "SHA384";
    case KeyType::kEd25519:
      return nullptr;  // PureEdDSA hashes internally
  }
  return nullptr;
}

// Classifies a key; refuses anything but named P-256, P-384 and Ed25519 keys
// whose public part passes OpenSSL's full validity check.
StatusOr<KeyType> AcceptKey(EVP_PKEY* key) {
  KeyType type;
  if (EVP_PKEY_is_a(key, "ED25519")) {
    type = KeyType::kEd25519;
  } else if (EVP_PKEY_is_a(key, "EC")) {
    char encoding[32] = {0};
    char group[64] = {0};
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_EC_ENCODING, encoding, sizeof encoding, nullptr) != 1 ||
        std::string_view(encoding) != OSSL_PKEY_EC_ENCODING_GROUP ||
        EVP_PKEY_get_group_name(key, group, sizeof group, nullptr) != 1) {
      return Clear(Status::InvalidArgument("EC keys must use a named curve (P-256 or P-384)"));
    }
    const std::string_view name(group);
    if (name == "prime256v1" || name == "P-256") {
      type = KeyType::kEcdsaP256;
    } else if (name == "secp384r1" || name == "P-384") {
      type = KeyType::kEcdsaP384;
    } else {
      return Status::InvalidArgument("unsupported EC curve " + std::string(name) + " (use P-256 or P-384)");
    }
  } else {
    return Status::InvalidArgument("unsupported key type (use ECDSA P-256, ECDSA P-384 or Ed25519)");
  }
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!ctx || EVP_PKEY_public_check(ctx.get()) != 1) return Clear(Status::InvalidArgument("invalid public key"));
  return type;
}

StatusOr<std::vector<uint8_t>> SpkiDer(EVP_PKEY* key) {
  const int len = i2d_PUBKEY(key, nullptr);
  if (len <= 0) return Clear(Status::Internal("cannot encode public key"));
  std::vector<uint8_t> der(static_cast<size_t>(len));
  uint8_t* out = der.data();
  if (i2d_PUBKEY(key, &out) != len) return Clear(Status::Internal("cannot encode public key"));
  return der;
}

}  // namespace

struct PublicKey::Impl {
  KeyPtr key;
};

struct PrivateKey::Impl {
  KeyPtr key;
};

std::string_view KeyTypeName(KeyType type) {
  switch (type) {
    case KeyType::kEcdsaP256:
      return "ecdsa-p256";
    case KeyType::kEcdsaP384:
      return "ecdsa-p384";
    case KeyType::kEd25519:
      return "ed25519";
  }
  return "unknown";
}

namespace {

// The public half of any key (public or private), re-decoded from its DER so
// that a PublicKey never holds private material.
struct PublicParts {
  KeyPtr key;
  KeyType type{};
  std::string fingerprint;
};

StatusOr<PublicParts> PublicFromKey(EVP_PKEY* key) {
  AEGIS_ASSIGN_OR_RETURN(std::vector<uint8_t> der, SpkiDer(key));
  const uint8_t* in = der.data();
  PublicParts out;
  out.key.reset(d2i_PUBKEY(nullptr, &in, static_cast<long>(der.size())));
  if (!out.key || in != der.data() + der.size()) return Clear(Status::InvalidArgument("invalid public key"));
  AEGIS_ASSIGN_OR_RETURN(out.type, AcceptKey(out.key.get()));
  out.fingerprint = HexEncode(Sha256(der));
  return out;
}

}  // namespace

StatusOr<PublicKey> PublicKey::FromPem(std::string_view pem) {
  if (pem.size() > kMaxPemBytes) return Status::InvalidArgument("public key PEM is larger than 64 KiB");
  if (pem.find("BEGIN PUBLIC KEY") == std::string_view::npos) {
    return Status::InvalidArgument("not a public key PEM (expected BEGIN PUBLIC KEY)");
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  KeyPtr key(bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, NoPassphrase, nullptr) : nullptr);
  if (!key) return Clear(Status::InvalidArgument("cannot parse public key PEM"));
  AEGIS_ASSIGN_OR_RETURN(PublicParts parts, PublicFromKey(key.get()));
  PublicKey out;
  out.type_ = parts.type;
  out.fingerprint_ = std::move(parts.fingerprint);
  auto impl = std::make_shared<Impl>();
  impl->key = std::move(parts.key);
  out.impl_ = std::move(impl);
  return out;
}

std::string PublicKey::ToPem() const {
  if (!impl_) return {};
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), impl_->key.get()) != 1) return Clear(std::string());
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Status PublicKey::Verify(std::span<const uint8_t> message, std::span<const uint8_t> signature) const {
  if (!impl_) return Status::InvalidArgument("no public key");
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit_ex(ctx.get(), nullptr, DigestName(type_), nullptr, nullptr, impl_->key.get(),
                                      nullptr) != 1) {
    return Clear(Status::Internal("cannot initialise signature verification"));
  }
  // 1 = valid; 0 = invalid; negative = malformed signature. All but 1 refuse.
  if (EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(), message.size()) != 1) {
    return Clear(Status::PermissionDenied("signature does not verify"));
  }
  return Status::Ok();
}

StatusOr<PrivateKey> PrivateKey::Generate(KeyType type) {
  KeyPtr key;
  switch (type) {
    case KeyType::kEcdsaP256:
      key.reset(EVP_EC_gen("P-256"));
      break;
    case KeyType::kEcdsaP384:
      key.reset(EVP_EC_gen("P-384"));
      break;
    case KeyType::kEd25519:
      key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
      break;
  }
  if (!key) return Clear(Status::Internal("cannot generate key"));
  // One construction path for every private key: through its PKCS#8 PEM, in a
  // secure-heap BIO that is wiped when freed.
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Clear(Status::Internal("cannot encode generated key"));
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return FromPem(std::string_view(data, static_cast<size_t>(len)));
}

StatusOr<PrivateKey> PrivateKey::FromPem(std::string_view pem) {
  if (pem.size() > kMaxPemBytes) return Status::InvalidArgument("private key PEM is larger than 64 KiB");
  if (pem.find("ENCRYPTED") != std::string_view::npos) {
    return Status::InvalidArgument("encrypted private keys are not supported (decrypt with `openssl pkey` first)");
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  KeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr) : nullptr);
  if (!key) return Clear(Status::InvalidArgument("cannot parse private key PEM"));
  AEGIS_ASSIGN_OR_RETURN(PublicParts parts, PublicFromKey(key.get()));
  PrivateKey out;
  out.public_key_.type_ = parts.type;
  out.public_key_.fingerprint_ = std::move(parts.fingerprint);
  auto pub = std::make_shared<PublicKey::Impl>();
  pub->key = std::move(parts.key);
  out.public_key_.impl_ = std::move(pub);
  auto impl = std::make_shared<Impl>();
  impl->key = std::move(key);
  out.impl_ = std::move(impl);
  return out;
}

SecureBuffer PrivateKey::ToPem() const {
  if (!impl_) return {};
  // A secure-heap BIO is wiped when freed, so no copy of the key is left in it.
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), impl_->key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Clear(SecureBuffer());
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return SecureBuffer(reinterpret_cast<const uint8_t*>(data), static_cast<size_t>(len));
}

StatusOr<std::vector<uint8_t>> PrivateKey::Sign(std::span<const uint8_t> message) const {
  if (!impl_) return Status::InvalidArgument("no private key");
  MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (!ctx ||
      EVP_DigestSignInit_ex(ctx.get(), nullptr, DigestName(type()), nullptr, nullptr, impl_->key.get(), nullptr) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, message.data(), message.size()) != 1) {
    return Clear(Status::Internal("cannot sign"));
  }
  std::vector<uint8_t> signature(len);
  if (EVP_DigestSign(ctx.get(), signature.data(), &len, message.data(), message.size()) != 1) {
    return Clear(Status::Internal("cannot sign"));
  }
  signature.resize(len);  // DER ECDSA signatures are variable-length
  return signature;
}

}  // namespace aegis::crypto
