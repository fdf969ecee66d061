// JWKS (RFC 7517) → verification keys, built with OpenSSL 3 from their public
// components.
//
// The set is operator configuration, so it fails loudly and whole: a key of an
// unknown type, a signing algorithm we do not honour, a private key member, a
// missing or repeated kid refuse the JWKS with a message naming the key,
// rather than leaving tokens to fail one by one later. The one exception is an
// encryption key ("use": "enc"): IdPs such as Keycloak publish theirs in the
// same set, and it is simply never used here.
#include <algorithm>
#include <array>
#include <set>
#include <vector>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "aegis/common/strict_json.h"
#include "aegis/crypto/encoding.h"
#include "jwt_internal.h"

namespace aegis::auth::internal {
namespace {

using crypto::internal::BnPtr;
using crypto::internal::KeyPtr;
using crypto::internal::PkeyCtxPtr;
using json::element;
using json::Fields;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, crypto::internal::OpensslDeleter<OSSL_PARAM_BLD_free>>;
using ParamsPtr = std::unique_ptr<OSSL_PARAM, crypto::internal::OpensslDeleter<OSSL_PARAM_free>>;

constexpr size_t kMaxKidBytes = 256;
constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 8192;
// OpenSSL refuses exponents over 64 bits for moduli above 3072 bits; one rule
// for every size keeps a key from working or not depending on its length.
constexpr int kMaxRsaExponentBits = 64;
constexpr size_t kCoordinateBytes = 32;  // P-256 x and y; Ed25519 x

// RFC 7517 private members (RSA, EC/OKP) and the secret of a symmetric key.
constexpr std::array<std::string_view, 8> kPrivateMembers = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};
constexpr std::array<std::string_view, 18> kKnownMembers = {
    "kid", "kty", "use", "alg", "key_ops", "crv", "n", "e", "x", "y", "d", "p", "q", "dp", "dq", "qi", "oth", "k"};

Status ClearAndRefuse(const std::string& message) {
  ERR_clear_error();
  return Status::InvalidArgument(message);
}

// A value from the JWKS fit to quote in a message: short printable ASCII.
std::string Quoted(std::string_view text) {
  const bool printable = text.size() <= 40 && std::all_of(text.begin(), text.end(), [](char c) {
                           return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
                         });
  return printable ? "\"" + std::string(text) + "\"" : "(unprintable)";
}

// One key being read: its fields and the name messages give it.
struct JwkReader {
  const Fields& fields;
  std::string where;  // JWKS key "kid"

  Status Error(std::string_view what) const { return ClearAndRefuse(where + ": " + std::string(what)); }

  StatusOr<std::vector<uint8_t>> Bytes(std::string_view member) const {
    auto text = fields.String(member);
    if (!text.ok()) return Error("\"" + std::string(member) + "\" must be a base64url string");
    auto bytes = crypto::Base64UrlDecode(*text);
    if (!bytes || bytes->empty()) {
      return Error("\"" + std::string(member) + "\" must be non-empty, canonical, unpadded base64url");
    }
    return std::move(*bytes);
  }
  StatusOr<std::string_view> Curve() const {
    auto crv = fields.String("crv");
    if (!crv.ok()) return Error("\"crv\" must be a string");
    return *crv;
  }
};

StatusOr<KeyPtr> FromParams(const JwkReader& jwk, const char* type, OSSL_PARAM_BLD* builder) {
  ParamsPtr params(OSSL_PARAM_BLD_to_param(builder));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return jwk.Error("OpenSSL refuses the key");
  }
  return KeyPtr(raw);
}

StatusOr<KeyPtr> RsaKey(const JwkReader& jwk) {
  AEGIS_ASSIGN_OR_RETURN(std::vector<uint8_t> n_bytes, jwk.Bytes("n"));
  AEGIS_ASSIGN_OR_RETURN(std::vector<uint8_t> e_bytes, jwk.Bytes("e"));
  BnPtr n(BN_bin2bn(n_bytes.data(), static_cast<int>(n_bytes.size()), nullptr));
  BnPtr e(BN_bin2bn(e_bytes.data(), static_cast<int>(e_bytes.size()), nullptr));
  if (!n || !e) return jwk.Error("cannot read the RSA key");
  const int bits = BN_num_bits(n.get());
  if (bits < kMinRsaBits || bits > kMaxRsaBits) {
    return jwk.Error("RSA modulus is " + std::to_string(bits) + " bits (2048 to 8192 accepted)");
  }
  if (!BN_is_odd(n.get())) return jwk.Error("RSA modulus is even");
  if (!BN_is_odd(e.get()) || BN_num_bits(e.get()) < 2 || BN_num_bits(e.get()) > kMaxRsaExponentBits) {
    return jwk.Error("RSA exponent must be odd, at least 3 and at most 64 bits");
  }
  ParamBldPtr builder(OSSL_PARAM_BLD_new());
  if (!builder || OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
    return jwk.Error("cannot build the RSA key");
  }
  return FromParams(jwk, "RSA", builder.get());
}

StatusOr<KeyPtr> EcP256Key(const JwkReader& jwk) {
  AEGIS_ASSIGN_OR_RETURN(std::string_view crv, jwk.Curve());
  if (crv != "P-256") return jwk.Error("unsupported EC curve " + Quoted(crv) + " (only P-256)");
  AEGIS_ASSIGN_OR_RETURN(std::vector<uint8_t> x, jwk.Bytes("x"));
  AEGIS_ASSIGN_OR_RETURN(std::vector<uint8_t> y, jwk.Bytes("y"));
  // RFC 7518 §6.2.1.2: coordinates are full length, never shortened.
  if (x.size() != kCoordinateBytes || y.size() != kCoordinateBytes) {
    return jwk.Error("P-256 coordinates must be 32 bytes each");
  }
  std::vector<uint8_t> point = {0x04};  // SEC 1 uncompressed point
  point.insert(point.end(), x.begin(), x.end());
  point.insert(point.end(), y.begin(), y.end());
  ParamBldPtr builder(OSSL_PARAM_BLD_new());
  if (!builder || OSSL_PARAM_BLD_push_utf8_string(builder.get(), OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
    return jwk.Error("cannot build the EC key");
  }
  auto key = FromParams(jwk, "EC", builder.get());
  if (!key.ok()) return jwk.Error("x, y is not a point on P-256");
  // Import already decodes the point onto the curve; the full public check
  // (on the curve, not infinity, right order) is the gate every EC key that
  // enters Aegis passes, whoever wrote the importer.
  PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key->get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) return jwk.Error("x, y is not a point on P-256");
  return key;
}

StatusOr<KeyPtr> Ed25519Key(const JwkReader& jwk) {
  AEGIS_ASSIGN_OR_RETURN(std::string_view crv, jwk.Curve());
  if (crv != "Ed25519") return jwk.Error("unsupported OKP curve " + Quoted(crv) + " (only Ed25519)");
  AEGIS_ASSIGN_OR_RETURN(std::vector<uint8_t> x, jwk.Bytes("x"));
  if (x.size() != kCoordinateBytes) return jwk.Error("an Ed25519 key is 32 bytes");
  KeyPtr key(EVP_PKEY_new_raw_public_key_ex(nullptr, "ED25519", nullptr, x.data(), x.size()));
  if (!key) return jwk.Error("OpenSSL refuses the key");
  return key;
}

// "use" and "key_ops" (RFC 7517 §4.2, §4.3): when given, they must allow
// verifying signatures.
Status CheckIntendedUse(const JwkReader& jwk) {
  if (jwk.fields.Get("use")) {
    auto use = jwk.fields.String("use");
    if (!use.ok() || *use != "sig") return jwk.Error("\"use\" must be \"sig\"");
  }
  if (jwk.fields.Get("key_ops")) {
    auto ops = jwk.fields.Array("key_ops");
    if (!ops.ok()) return jwk.Error("\"key_ops\" must be an array of strings");
    bool verify = false;
    for (element op : *ops) {
      std::string_view name;
      if (op.get_string().get(name) != simdjson::SUCCESS) return jwk.Error("\"key_ops\" must be an array of strings");
      verify = verify || name == "verify";
    }
    if (!verify) return jwk.Error("\"key_ops\" does not include \"verify\"");
  }
  return Status::Ok();
}

StatusOr<VerificationKey> BuildKey(const JwkReader& jwk) {
  auto kty = jwk.fields.String("kty");
  if (!kty.ok()) return jwk.Error("\"kty\" must be a string");
  VerificationKey out{};
  if (*kty == "RSA") {
    out.algorithm = JwsAlgorithm::kRs256;
    AEGIS_ASSIGN_OR_RETURN(out.key, RsaKey(jwk));
  } else if (*kty == "EC") {
    out.algorithm = JwsAlgorithm::kEs256;
    AEGIS_ASSIGN_OR_RETURN(out.key, EcP256Key(jwk));
  } else if (*kty == "OKP") {
    out.algorithm = JwsAlgorithm::kEdDsa;
    AEGIS_ASSIGN_OR_RETURN(out.key, Ed25519Key(jwk));
  } else {
    // Fail closed: a key we cannot use means tokens the IdP signs with it would
    // all fail; better the operator hears it now.
    return jwk.Error("unsupported key type " + Quoted(*kty) + " (RSA, EC P-256 and OKP Ed25519 are supported)");
  }
  if (jwk.fields.Get("alg")) {
    auto alg = jwk.fields.String("alg");
    const std::string_view expected = AlgorithmName(out.algorithm);
    if (!alg.ok() || *alg != expected) {
      return jwk.Error("\"alg\" must be \"" + std::string(expected) + "\" for a " + std::string(*kty) + " key" +
                       " (the key type fixes the algorithm)");
    }
  }
  return out;
}

// One member of "keys": its kid and its key (none for an encryption key).
struct ParsedJwk {
  std::string kid;
  std::optional<VerificationKey> key;
};

StatusOr<ParsedJwk> ParseJwk(element value, size_t index) {
  const std::string position = "JWKS key #" + std::to_string(index + 1);
  AEGIS_ASSIGN_OR_RETURN(Fields fields, Fields::Of(value, position, kKnownMembers));
  auto kid = fields.String("kid");
  if (!kid.ok() || kid->empty() || kid->size() > kMaxKidBytes || HasControlCharacters(*kid)) {
    return Status::InvalidArgument(position + ": \"kid\" must be a string of 1 to 256 printable characters");
  }
  const JwkReader jwk{fields, "JWKS key " + Quoted(*kid)};
  for (std::string_view member : kPrivateMembers) {
    if (fields.Get(member)) {
      return jwk.Error("holds private key material (\"" + std::string(member) + "\"): publish public keys only");
    }
  }
  ParsedJwk out{std::string(*kid), std::nullopt};
  auto use = fields.String("use");
  if (use.ok() && *use == "enc") return out;
  AEGIS_RETURN_IF_ERROR(CheckIntendedUse(jwk));
  AEGIS_ASSIGN_OR_RETURN(out.key, BuildKey(jwk));
  return out;
}

}  // namespace

StatusOr<std::shared_ptr<const KeySet>> ParseJwks(std::string_view jwks_json) {
  if (jwks_json.size() > kMaxJwksBytes) return Status::InvalidArgument("JWKS is larger than 1 MiB");
  json::JsonDocument doc;
  AEGIS_RETURN_IF_ERROR(doc.Parse(jwks_json, "JWKS"));
  AEGIS_RETURN_IF_ERROR(json::UniqueKeys(doc.root(), "JWKS"));
  AEGIS_ASSIGN_OR_RETURN(Fields top, Fields::Of(doc.root(), "JWKS", {"keys"}));
  AEGIS_ASSIGN_OR_RETURN(simdjson::dom::array keys, top.Array("keys"));
  if (keys.size() > kMaxJwksKeys) return Status::InvalidArgument("JWKS has more than 64 keys");
  auto set = std::make_shared<KeySet>();
  std::set<std::string, std::less<>> kids;  // encryption keys' too: a kid names one key
  size_t index = 0;
  for (element value : keys) {
    AEGIS_ASSIGN_OR_RETURN(ParsedJwk jwk, ParseJwk(value, index++));
    if (!kids.insert(jwk.kid).second) return Status::InvalidArgument("JWKS has two keys with kid " + Quoted(jwk.kid));
    if (jwk.key) set->emplace(std::move(jwk.kid), std::move(*jwk.key));
  }
  if (set->empty()) return Status::InvalidArgument("JWKS has no signature verification key");
  return std::shared_ptr<const KeySet>(std::move(set));
}

}  // namespace aegis::auth::internal
