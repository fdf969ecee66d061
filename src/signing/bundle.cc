// Sigstore bundle v0.3 with a DSSE envelope, key-based (OMS "key" method).
// The shape written is the one model_signing (Python) writes, so either tool
// verifies the other's bundles; the reader accepts every variant the OMS
// specification lists (keyid absent/""/null, rawBytes instead of hint, no
// tlogEntries) and nothing looser.
#include "aegis/signing/bundle.h"

#include <nlohmann/json.hpp>

#include "aegis/common/strict_json.h"
#include "aegis/crypto/encoding.h"
#include "aegis/crypto/hash.h"
#include "envelope.h"
#include "manifest_rules.h"
#include "statement.h"

namespace aegis::signing {
namespace internal {

using json::element;
using json::Fields;
using json::JsonDocument;

namespace {

// Standard padded base64 as written by every OMS implementation; DSSE also
// allows URL-safe text, and protobuf JSON readers accept missing padding.
std::optional<std::vector<uint8_t>> DecodeBase64(std::string_view text) {
  if (auto bytes = crypto::Base64Decode(text)) return bytes;
  std::string normal(text);
  for (int i = 0; i < 2 && !normal.empty() && normal.back() == '='; ++i) normal.pop_back();
  for (char& c : normal) c = c == '-' ? '+' : c == '_' ? '/' : c;
  while (normal.size() % 4 != 0) normal += '=';
  return crypto::Base64Decode(normal);
}

Status ParseVerificationMaterial(element value, Envelope& envelope) {
  AEGIS_ASSIGN_OR_RETURN(Fields vm, Fields::Of(value, "verificationMaterial",
                                               {"publicKey", "x509CertificateChain", "certificate", "tlogEntries"}));
  if (vm.Has("x509CertificateChain") || vm.Has("certificate")) {
    return Status::InvalidArgument("certificate-based bundles are not supported (expected a public key bundle)");
  }
  if (!vm.Has("publicKey")) return Status::InvalidArgument("bundle has no verificationMaterial.publicKey");
  AEGIS_ASSIGN_OR_RETURN(element public_key, vm.Required("publicKey"));
  // Before model_signing 1.1 the key itself was embedded (rawBytes): never
  // trusted, the verifier's own key decides; only the hint is compared.
  AEGIS_ASSIGN_OR_RETURN(Fields pk, Fields::Of(public_key, "publicKey", {"hint", "rawBytes"}));
  if (pk.Has("hint")) {
    AEGIS_ASSIGN_OR_RETURN(std::string_view hint, pk.String("hint"));
    envelope.key_hint = hint;
  }
  // A key-signed bundle has no transparency log to check: entries are ignored.
  if (vm.Has("tlogEntries")) AEGIS_RETURN_IF_ERROR(vm.Array("tlogEntries").status());
  return Status::Ok();
}

Status ParseDsse(element value, Envelope& envelope) {
  AEGIS_ASSIGN_OR_RETURN(Fields dsse, Fields::Of(value, "dsseEnvelope", {"payload", "payloadType", "signatures"}));
  AEGIS_ASSIGN_OR_RETURN(std::string_view type, dsse.String("payloadType"));
  if (type != kInTotoPayloadType) {
    return Status::InvalidArgument("payloadType must be " + std::string(kInTotoPayloadType));
  }
  envelope.payload_type = type;
  AEGIS_ASSIGN_OR_RETURN(std::string_view payload, dsse.String("payload"));
  auto decoded = DecodeBase64(payload);
  if (!decoded) return Status::InvalidArgument("payload is not valid base64");
  envelope.payload.assign(decoded->begin(), decoded->end());
  AEGIS_ASSIGN_OR_RETURN(simdjson::dom::array signatures, dsse.Array("signatures"));
  // One signer, one key: several signatures would raise "which one counts?".
  if (signatures.size() != 1) {
    return Status::InvalidArgument("expected exactly one signature, found " + std::to_string(signatures.size()));
  }
  for (element entry : signatures) {
    AEGIS_ASSIGN_OR_RETURN(Fields sig, Fields::Of(entry, "signature", {"sig", "keyid"}));
    AEGIS_ASSIGN_OR_RETURN(std::string_view text, sig.String("sig"));
    auto bytes = DecodeBase64(text);
    if (!bytes || bytes->empty()) return Status::InvalidArgument("signature is not valid base64");
    envelope.signature = std::move(*bytes);
    if (sig.Has("keyid")) AEGIS_RETURN_IF_ERROR(sig.String("keyid").status());  // informational
  }
  return Status::Ok();
}

}  // namespace

StatusOr<Envelope> ParseEnvelope(std::string_view bundle_json) {
  if (bundle_json.size() > kMaxBundleBytes) return Status::InvalidArgument("bundle is larger than 16 MiB");
  JsonDocument doc;
  AEGIS_RETURN_IF_ERROR(doc.Parse(bundle_json, "bundle"));
  AEGIS_ASSIGN_OR_RETURN(
      Fields top,
      Fields::Of(doc.root(), "bundle", {"mediaType", "verificationMaterial", "dsseEnvelope", "messageSignature"}));
  auto media_type = top.String("mediaType");
  if (!media_type.ok()) return Status::InvalidArgument("not a sigstore bundle v0.3");
  if (*media_type != kBundleMediaType) {
    return Status::InvalidArgument("not a sigstore bundle v0.3 (mediaType " + Quote(*media_type) + ")");
  }
  if (top.Has("messageSignature") || !top.Has("dsseEnvelope")) {
    return Status::InvalidArgument("bundle has no dsseEnvelope (OMS signs a DSSE envelope)");
  }
  Envelope envelope;
  AEGIS_ASSIGN_OR_RETURN(element material, top.Required("verificationMaterial"));
  AEGIS_RETURN_IF_ERROR(ParseVerificationMaterial(material, envelope));
  AEGIS_ASSIGN_OR_RETURN(element dsse, top.Required("dsseEnvelope"));
  AEGIS_RETURN_IF_ERROR(ParseDsse(dsse, envelope));
  return envelope;
}

std::string OmsKeyHint(const crypto::PublicKey& key) { return crypto::HexEncode(crypto::Sha256(key.ToPem())); }

}  // namespace internal

std::string PreAuthEncoding(std::string_view payload_type, std::string_view payload) {
  std::string pae = "DSSEv1 ";
  pae.reserve(payload_type.size() + payload.size() + 32);
  pae.append(std::to_string(payload_type.size())).append(" ").append(payload_type).append(" ");
  pae.append(std::to_string(payload.size())).append(" ").append(payload);
  return pae;
}

StatusOr<std::string> SignManifest(const Manifest& manifest, const crypto::PrivateKey& key) {
  AEGIS_RETURN_IF_ERROR(internal::ValidateManifest(manifest));
  const std::string payload = StatementJson(manifest);
  if (payload.size() / 3 * 4 + 4096 > kMaxBundleBytes) {
    return Status::InvalidArgument("the manifest is too large for a bundle (16 MiB): use a larger shard size");
  }
  // Never hand out a bundle our own verifier would refuse.
  AEGIS_RETURN_IF_ERROR(internal::ParseStatement(payload).status());
  AEGIS_ASSIGN_OR_RETURN(std::vector<uint8_t> signature,
                         key.Sign(crypto::AsBytes(PreAuthEncoding(kInTotoPayloadType, payload))));
  using Json = nlohmann::ordered_json;
  const Json bundle = {
      {"mediaType", kBundleMediaType},
      {"verificationMaterial",
       {{"publicKey", {{"hint", internal::OmsKeyHint(key.public_key())}}}, {"tlogEntries", Json::array()}}},
      {"dsseEnvelope",
       {{"payload", crypto::Base64Encode(crypto::AsBytes(payload))},
        {"payloadType", kInTotoPayloadType},
        {"signatures", Json::array({{{"sig", crypto::Base64Encode(signature)}, {"keyid", ""}}})}}},
  };
  return bundle.dump(2) + "\n";
}

StatusOr<Manifest> VerifyBundle(std::string_view bundle_json, const crypto::PublicKey& key) {
  AEGIS_ASSIGN_OR_RETURN(internal::Envelope envelope, internal::ParseEnvelope(bundle_json));
  // The hint is not signed: it only words the error. A signature that verifies
  // with the key we trust decides, whatever another tool put in the hint.
  const bool hint_matches = envelope.key_hint.empty() || envelope.key_hint == internal::OmsKeyHint(key) ||
                            envelope.key_hint == key.fingerprint();
  // The signature covers PAE(payloadType, payload): checked before a single
  // byte of the statement is interpreted.
  const std::string pae = PreAuthEncoding(envelope.payload_type, envelope.payload);
  if (!key.Verify(crypto::AsBytes(pae), envelope.signature).ok()) {
    return Status::PermissionDenied(hint_matches ? "signature does not verify with this key"
                                                 : "the bundle was signed by a different key");
  }
  return internal::ParseStatement(envelope.payload);
}

}  // namespace aegis::signing
