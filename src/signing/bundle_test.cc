// Sign and verify end to end: real folders, every key type, the shapes other
// OMS implementations write (including a genuine model_signing 1.1 bundle),
// and every refusal of the bundle and envelope layers.
#include "aegis/signing/bundle.h"

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "aegis/crypto/encoding.h"
#include "common/testing/scoped_temp_dir.h"
#include "common/testing/status_matchers.h"
#include "envelope.h"

namespace aegis::signing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;
using crypto::KeyType;
using crypto::PrivateKey;

void Write(const fs::path& path, std::string_view content) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

PrivateKey NewKey(KeyType type = KeyType::kEcdsaP256) { return PrivateKey::Generate(type).value(); }

// A bundle around any payload, the way another implementation might lay it out.
std::string BundleFor(std::string_view payload, const PrivateKey& key, std::string_view type = kInTotoPayloadType) {
  const auto sig = key.Sign(crypto::AsBytes(PreAuthEncoding(type, payload))).value();
  const Json bundle = {{"mediaType", kBundleMediaType},
                       {"verificationMaterial", {{"publicKey", {{"hint", internal::OmsKeyHint(key.public_key())}}}}},
                       {"dsseEnvelope",
                        {{"payload", crypto::Base64Encode(crypto::AsBytes(payload))},
                         {"payloadType", type},
                         {"signatures", Json::array({{{"sig", crypto::Base64Encode(sig)}}})}}}};
  return bundle.dump();
}

class BundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = tmp_.path() / "credit-risk";
    Write(model_ / "model.onnx", std::string(10000, 'm'));
    Write(model_ / "tokenizer.json", "{\"vocab\": []}");
    Write(model_ / "tokenizer" / "merges.txt", "a b");
    Write(model_ / "weights" / "part-0.bin", std::string(4096, '0'));
  }
  Manifest Hash(SerializationMethod method = SerializationMethod::kFiles, uint64_t shard_size = 0,
                const fs::path& path = {}) {
    HashOptions options;
    options.serialization.method = method;
    options.serialization.shard_size = shard_size;
    return HashModel(path.empty() ? model_ : path, options).value();
  }
  std::string Sign(const Manifest& m) { return SignManifest(m, key_).value(); }
  // Verifies, then re-hashes the folder with the signed serialization.
  Status VerifyModel(std::string_view bundle, const fs::path& path, const crypto::PublicKey& key) {
    AEGIS_ASSIGN_OR_RETURN(Manifest signed_manifest, VerifyBundle(bundle, key));
    HashOptions options;
    options.serialization = signed_manifest.serialization;
    AEGIS_ASSIGN_OR_RETURN(Manifest actual, HashModel(path, options));
    return CompareManifests(signed_manifest, actual);
  }

  testing::ScopedTempDir tmp_;
  fs::path model_;
  PrivateKey key_ = NewKey();
};

TEST(Pae, MatchesTheDsseSpecificationExample) {
  EXPECT_EQ(PreAuthEncoding("http://example.com/HelloWorld", "hello world"),
            "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
  EXPECT_EQ(PreAuthEncoding("", ""), "DSSEv1 0  0 ");
}

TEST_F(BundleTest, RoundTripsFoldersFilesAndShardsWithEveryKeyType) {
  for (KeyType type : {KeyType::kEcdsaP256, KeyType::kEcdsaP384, KeyType::kEd25519}) {
    const PrivateKey key = NewKey(type);
    for (auto [method, shard] :
         {std::pair{SerializationMethod::kFiles, 0}, std::pair{SerializationMethod::kShards, 4096}}) {
      const Manifest m = Hash(method, shard);
      auto bundle = SignManifest(m, key);
      ASSERT_OK(bundle);
      EXPECT_OK(VerifyModel(*bundle, model_, key.public_key())) << crypto::KeyTypeName(type);
      auto verified = VerifyBundle(*bundle, key.public_key());
      ASSERT_OK(verified);
      EXPECT_EQ(verified->model_name, "credit-risk");
      EXPECT_EQ(verified->SubjectDigest(), m.SubjectDigest());
    }
  }
  const Manifest single = Hash(SerializationMethod::kFiles, 0, model_ / "model.onnx");
  EXPECT_OK(VerifyModel(Sign(single), model_ / "model.onnx", key_.public_key()));
}

TEST_F(BundleTest, WritesTheModelSigningKeyBundleShape) {
  const Manifest m = Hash();
  const std::string text = Sign(m);
  EXPECT_EQ(text.back(), '\n');
  EXPECT_NE(text.find("\n  \"verificationMaterial\""), std::string::npos) << "pretty-printed";
  const auto bundle = nlohmann::json::parse(text);
  EXPECT_EQ(bundle["mediaType"], "application/vnd.dev.sigstore.bundle.v0.3+json");
  EXPECT_EQ(bundle["verificationMaterial"]["publicKey"]["hint"],
            crypto::HexEncode(crypto::Sha256(key_.public_key().ToPem())));
  EXPECT_EQ(bundle["verificationMaterial"]["tlogEntries"], nlohmann::json::array());
  const auto& envelope = bundle["dsseEnvelope"];
  EXPECT_EQ(envelope["payloadType"], "application/vnd.in-toto+json");
  ASSERT_EQ(envelope["signatures"].size(), 1u);
  EXPECT_EQ(envelope["signatures"][0]["keyid"], "");
  const auto payload = crypto::Base64Decode(envelope["payload"].get<std::string>()).value();
  EXPECT_EQ(std::string(payload.begin(), payload.end()), StatementJson(m));
  // The signature is over the PAE of the decoded payload.
  const auto sig = crypto::Base64Decode(envelope["signatures"][0]["sig"].get<std::string>()).value();
  EXPECT_OK(key_.public_key().Verify(crypto::AsBytes(PreAuthEncoding(kInTotoPayloadType, StatementJson(m))), sig));
}

TEST_F(BundleTest, AcceptsCompactPrettyAndOtherImplementationsShapes) {
  const Manifest m = Hash(SerializationMethod::kShards, 4096);
  const std::string ours = Sign(m);
  EXPECT_OK(VerifyBundle(nlohmann::json::parse(ours).dump(), key_.public_key())) << "compact";
  // Another writer: sorted keys, 4-space indent, keyid null, no tlogEntries,
  // Python's resource order, shard_size as a float, "sha256" per shard.
  nlohmann::json statement = nlohmann::json::parse(StatementJson(m));
  statement["predicate"]["serialization"]["shard_size"] = 4096.0;
  for (auto& r : statement["predicate"]["resources"]) r["algorithm"] = "sha256";
  auto& resources = statement["predicate"]["resources"];
  std::stable_sort(resources.begin(), resources.end(), [](const auto& a, const auto& b) {
    // "tokenizer/merges.txt" before "tokenizer.json", as model_signing orders them.
    auto key = [](std::string n) {
      n = n.substr(0, n.find(':'));
      for (char& c : n) c = c == '/' ? '\x01' : c;
      return n;
    };
    return key(a["name"]) < key(b["name"]);
  });
  crypto::Sha256Hasher subject;
  for (const auto& r : resources) subject.Update(crypto::HexDecode(r["digest"].get<std::string>()).value());
  statement["subject"][0]["digest"]["sha256"] = crypto::HexEncode(subject.Finish());
  const std::string payload = statement.dump(4);
  const auto sig = key_.Sign(crypto::AsBytes(PreAuthEncoding(kInTotoPayloadType, payload))).value();
  nlohmann::json other = {
      {"dsseEnvelope",
       {{"signatures", {{{"keyid", nullptr}, {"sig", crypto::Base64Encode(sig)}}}},
        {"payloadType", kInTotoPayloadType},
        {"payload", crypto::Base64Encode(crypto::AsBytes(payload))}}},
      {"verificationMaterial", {{"publicKey", {{"hint", internal::OmsKeyHint(key_.public_key())}}}}},
      {"mediaType", kBundleMediaType}};
  const std::string other_text = other.dump(4);
  auto verified = VerifyBundle(other_text, key_.public_key());
  ASSERT_OK(verified);
  HashOptions options;
  options.serialization = verified->serialization;
  EXPECT_OK(CompareManifests(*verified, HashModel(model_, options).value()));
  EXPECT_NE(verified->SubjectDigest(), m.SubjectDigest()) << "the other order is a different subject";
}

// A bundle written by model_signing 1.1.0 (sigstore/model-transparency,
// scripts/tests/v1.1.0-elliptic-key/model.sig, Apache-2.0): ECDSA P-384 over
// SHA-384, compact bundle, pretty payload, its own key order and ignore list.
constexpr char kOmsPublicKey[] = R"(-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEsu6rZGBTjxtvRWPMixT+3HyndV0J0Ybt
aHZUcO4DEK+OJHO/4e32bb/fbJKSpRgcBsIpKLcVijUomyFOERbd7u+BTPSUjGZD
Qq6J7lTvp/EAXQGOKxW9RP0MGX3qAkvi
-----END PUBLIC KEY-----
)";
constexpr char kOmsBundle[] =
    R"({"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e"},"tlogEntries":[]},"dsseEnvelope":{"payload":")"
    "ewogICJfdHlwZSI6ICJodHRwczovL2luLXRvdG8uaW8vU3RhdGVtZW50L3YxIiwKICAic3ViamVjdCI6IFsKICAgIHsKICAgICAgIm5hbWUiOiAidj"
    "EuMS4w"
    "LWVsbGlwdGljLWtleSIsCiAgICAgICJkaWdlc3QiOiB7CiAgICAgICAgInNoYTI1NiI6ICI5Mjc0NTExMGIxYWI0MzY4NDcxY2JlMzE2NjRlMTAxNz"
    "RlOTU0"
    "YjExM2EzZGYzMzNkYjg2MDMxN2IyYzZkZWM0IgogICAgICB9CiAgICB9CiAgXSwKICAicHJlZGljYXRlVHlwZSI6ICJodHRwczovL21vZGVsX3NpZ2"
    "5pbmcv"
    "c2lnbmF0dXJlL3YxLjAiLAogICJwcmVkaWNhdGUiOiB7CiAgICAicmVzb3VyY2VzIjogWwogICAgICB7CiAgICAgICAgImFsZ29yaXRobSI6ICJzaG"
    "EyNTYi"
    "LAogICAgICAgICJuYW1lIjogInNpZ25tZS0xIiwKICAgICAgICAiZGlnZXN0IjogImJjOWE3MTdkYjYwNjRhMzJjYmU5ZWFlNmZjNDA2NTFkZDZkMz"
    "ZlZjE3"
    "NTcxODNmNTkwZWZmMmIxNzY1ZDdlYmMiCiAgICAgIH0sCiAgICAgIHsKICAgICAgICAiYWxnb3JpdGhtIjogInNoYTI1NiIsCiAgICAgICAgIm5hbW"
    "UiOiAi"
    "c2lnbm1lLTIiLAogICAgICAgICJkaWdlc3QiOiAiMzJkY2IxZjhlMWFlNTJkNTk2M2U1NmE2YmEwNmFiNThiNDI0YzE1ZWQyYTZiNzBkMmZlY2ExZD"
    "A4OTM3"
    "MDAyOCIKICAgICAgfQogICAgXSwKICAgICJzZXJpYWxpemF0aW9uIjogewogICAgICAiYWxsb3dfc3ltbGlua3MiOiBmYWxzZSwKICAgICAgIm1ldG"
    "hvZCI6"
    "ICJmaWxlcyIsCiAgICAgICJoYXNoX3R5cGUiOiAic2hhMjU2IiwKICAgICAgImlnbm9yZV9wYXRocyI6IFsKICAgICAgICAiLmdpdCIsCiAgICAgIC"
    "AgIm1v"
    "ZGVsLnNpZyIsCiAgICAgICAgImlnbm9yZS1tZSIsCiAgICAgICAgIi5naXRhdHRyaWJ1dGVzIiwKICAgICAgICAiLmdpdGlnbm9yZSIsCiAgICAgIC"
    "AgIi5n"
    "aXRodWIiCiAgICAgIF0KICAgIH0KICB9Cn0="
    R"(","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"MGUCMQCVqSw64cBnPHqbyadq+OIgwQSg7WW8Mztp3dJ++atQsxzbtwafJJ164u7WEXmx5hECMBSiShuN7OTLec6wLXpHUjFIQA/hhiBCjSzM9Q2cIUZpDmv+tWs1AkNxstJDbNl0lQ==","keyid":""}]}})";

TEST_F(BundleTest, VerifiesAGenuineModelSigningBundle) {
  const auto key = crypto::PublicKey::FromPem(kOmsPublicKey).value();
  EXPECT_EQ(key.type(), KeyType::kEcdsaP384);
  EXPECT_EQ(internal::OmsKeyHint(key), "e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e");
  auto m = VerifyBundle(kOmsBundle, key);
  ASSERT_OK(m);
  EXPECT_EQ(m->model_name, "v1.1.0-elliptic-key");
  EXPECT_EQ(m->resources.size(), 2u);
  const fs::path model = tmp_.path() / "v1.1.0-elliptic-key";
  Write(model / "signme-1", "signme-1\n");
  Write(model / "signme-2", "signme-2");
  Write(model / "ignore-me", "not signed");
  Write(model / "model.sig", kOmsBundle);
  EXPECT_OK(VerifyModel(kOmsBundle, model, key));
  Write(model / "signme-2", "signme-3");
  EXPECT_EQ(VerifyModel(kOmsBundle, model, key).message(), "file 'signme-2' changed");
  // Our own key must not verify it.
  EXPECT_EQ(VerifyBundle(kOmsBundle, key_.public_key()).status().message(), "the bundle was signed by a different key");
}

TEST_F(BundleTest, DetectsTamperingOnDisk) {
  const std::string bundle = Sign(Hash());
  Write(model_ / "weights" / "part-0.bin", std::string(4095, '0') + "1");
  EXPECT_EQ(VerifyModel(bundle, model_, key_.public_key()).message(), "file 'weights/part-0.bin' changed");
  Write(model_ / "weights" / "part-0.bin", std::string(4096, '0'));
  Write(model_ / "weights" / "part-1.bin", "extra");
  EXPECT_EQ(VerifyModel(bundle, model_, key_.public_key()).message(),
            "file 'weights/part-1.bin' is not in the manifest");
  fs::remove(model_ / "weights" / "part-1.bin");
  fs::remove(model_ / "tokenizer.json");
  EXPECT_EQ(VerifyModel(bundle, model_, key_.public_key()).message(), "file 'tokenizer.json' is missing");
}

// Edits the parsed bundle, keeping the signature: for envelope-level refusals.
std::string EditBundle(const std::string& bundle, const std::function<void(nlohmann::json&)>& edit) {
  auto j = nlohmann::json::parse(bundle);
  edit(j);
  return j.dump();
}

TEST_F(BundleTest, RefusesMalformedEnvelopes) {
  const std::string good = Sign(Hash());
  const auto pub = key_.public_key();
  const std::vector<std::pair<std::function<void(nlohmann::json&)>, std::string>> cases = {
      {[](auto& j) { j["mediaType"] = "application/vnd.dev.sigstore.bundle.v0.2+json"; },
       "not a sigstore bundle v0.3 (mediaType 'application/vnd.dev.sigstore.bundle.v0.2+json')"},
      {[](auto& j) { j["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.3"; },
       "not a sigstore bundle v0.3 (mediaType 'application/vnd.dev.sigstore.bundle+json;version=0.3')"},
      {[](auto& j) { j.erase("mediaType"); }, "not a sigstore bundle v0.3"},
      {[](auto& j) { j["dsseEnvelope"]["payloadType"] = "application/json"; },
       "payloadType must be application/vnd.in-toto+json"},
      {[](auto& j) { j["dsseEnvelope"]["payload"] = "!!not base64!!"; }, "payload is not valid base64"},
      {[](auto& j) { j["dsseEnvelope"]["signatures"][0]["sig"] = "***"; }, "signature is not valid base64"},
      {[](auto& j) { j["dsseEnvelope"]["signatures"] = nlohmann::json::array(); },
       "expected exactly one signature, found 0"},
      {[](auto& j) { j["dsseEnvelope"]["signatures"].push_back(j["dsseEnvelope"]["signatures"][0]); },
       "expected exactly one signature, found 2"},
      {[](auto& j) { j["verificationMaterial"].erase("publicKey"); }, "bundle has no verificationMaterial.publicKey"},
      {[](auto& j) {
         j["verificationMaterial"]["certificate"] = {{"rawBytes", "MIIB"}};
       },
       "certificate-based bundles are not supported (expected a public key bundle)"},
      {[](auto& j) { j.erase("dsseEnvelope"); }, "bundle has no dsseEnvelope (OMS signs a DSSE envelope)"},
      {[](auto& j) { j["dsseEnvelope"]["signatures"][0]["keyid"] = 7; }, "signature.keyid must be a string"},
  };
  for (const auto& [edit, message] : cases) {
    auto result = VerifyBundle(EditBundle(good, edit), pub);
    EXPECT_EQ(result.status().message(), message);
  }
  EXPECT_EQ(VerifyBundle("{\"mediaType\": 1", pub).status().message(), "bundle is not valid JSON");
  EXPECT_EQ(VerifyBundle(std::string(kMaxBundleBytes + 1, ' '), pub).status().message(),
            "bundle is larger than 16 MiB");
  std::string duplicated = good;
  duplicated.insert(1, "\"dsseEnvelope\": {},");
  EXPECT_EQ(VerifyBundle(duplicated, pub).status().message(), "bundle: duplicate key \"dsseEnvelope\"");
}

TEST_F(BundleTest, SignatureIsCheckedBeforeTheStatementIsRead) {
  const Manifest m = Hash();
  const std::string good = Sign(m);
  // Another key: with the hint, the message names it; without, a plain failure.
  const auto other = NewKey().public_key();
  EXPECT_STATUS_IS(VerifyBundle(good, other), StatusCode::kPermissionDenied);
  EXPECT_EQ(VerifyBundle(good, other).status().message(), "the bundle was signed by a different key");
  const std::string no_hint = EditBundle(good, [](auto& j) { j["verificationMaterial"]["publicKey"].erase("hint"); });
  EXPECT_OK(VerifyBundle(no_hint, key_.public_key()));
  EXPECT_EQ(VerifyBundle(no_hint, other).status().message(), "signature does not verify with this key");
  // An unsigned hint that names nobody does not stop a signature that verifies.
  const std::string odd_hint = EditBundle(good, [](auto& j) { j["verificationMaterial"]["publicKey"]["hint"] = "00"; });
  EXPECT_OK(VerifyBundle(odd_hint, key_.public_key()));
  // A payload edited after signing: even one into garbage fails on the signature.
  for (std::string payload : {StatementJson(m) + " ", std::string("not json at all")}) {
    const std::string edited = EditBundle(
        good, [&](auto& j) { j["dsseEnvelope"]["payload"] = crypto::Base64Encode(crypto::AsBytes(payload)); });
    EXPECT_EQ(VerifyBundle(edited, key_.public_key()).status().message(), "signature does not verify with this key");
  }
  // The payload type is signed too: signing as another type does not carry over.
  const std::string typed = BundleFor(StatementJson(m), key_, "application/json");
  EXPECT_EQ(VerifyBundle(typed, key_.public_key()).status().message(),
            "payloadType must be application/vnd.in-toto+json");
  const std::string relabelled =
      EditBundle(typed, [](auto& j) { j["dsseEnvelope"]["payloadType"] = kInTotoPayloadType; });
  EXPECT_EQ(VerifyBundle(relabelled, key_.public_key()).status().message(), "signature does not verify with this key");
}

TEST_F(BundleTest, ReorderedResourcesFailTheSignatureOrTheOrderRule) {
  const Manifest m = Hash();
  auto statement = nlohmann::json::parse(StatementJson(m));
  auto& resources = statement["predicate"]["resources"];
  std::reverse(resources.begin(), resources.end());
  const std::string reordered = statement.dump();
  const std::string forged = EditBundle(
      Sign(m), [&](auto& j) { j["dsseEnvelope"]["payload"] = crypto::Base64Encode(crypto::AsBytes(reordered)); });
  EXPECT_EQ(VerifyBundle(forged, key_.public_key()).status().message(), "signature does not verify with this key");
  EXPECT_EQ(VerifyBundle(BundleFor(reordered, key_), key_.public_key()).status().message(), "resources are not sorted");
}

TEST_F(BundleTest, StatementRefusalsSurfaceThroughSignedBundles) {
  auto statement = nlohmann::json::parse(StatementJson(Hash()));
  statement["predicate"]["resources"][0]["name"] = "../../etc/passwd";
  EXPECT_EQ(VerifyBundle(BundleFor(statement.dump(), key_), key_.public_key()).status().message(),
            "resource name '../../etc/passwd' is not a safe relative path");
  statement = nlohmann::json::parse(StatementJson(Hash()));
  statement["predicate"]["serialization"]["method"] = "tensors";
  EXPECT_EQ(VerifyBundle(BundleFor(statement.dump(), key_), key_.public_key()).status().message(),
            "unsupported serialization method 'tensors'");
  statement = nlohmann::json::parse(StatementJson(Hash()));
  statement["subject"][0]["digest"]["sha256"] = std::string(64, '0');
  EXPECT_EQ(VerifyBundle(BundleFor(statement.dump(), key_), key_.public_key()).status().message(),
            "subject digest does not match the resources");
}

TEST_F(BundleTest, RefusesToSignWhatItWouldNotVerify) {
  Manifest m = Hash();
  m.resources[0].name = "../escape";
  EXPECT_EQ(SignManifest(m, key_).status().message(), "resource name '../escape' is not a safe relative path");
  m = Hash();
  std::swap(m.resources[0], m.resources[1]);
  EXPECT_EQ(SignManifest(m, key_).status().message(), "resources are not sorted");
}

TEST(Envelope, AcceptsPreOneOneAndUrlSafeVariants) {
  const std::string raw_bytes_bundle = R"({"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
    "verificationMaterial": {"publicKey": {"rawBytes": "LS0t", "keyDetails": "PKIX_ECDSA_P384_SHA_384"}},
    "dsseEnvelope": {"payload": "e30", "payloadType": "application/vnd.in-toto+json",
                     "signatures": [{"sig": "MEUC-_8", "keyid": null}]}})";
  auto envelope = internal::ParseEnvelope(raw_bytes_bundle);
  ASSERT_OK(envelope);
  EXPECT_EQ(envelope->payload, "{}");
  EXPECT_TRUE(envelope->key_hint.empty());
  EXPECT_EQ(envelope->signature, (std::vector<uint8_t>{0x30, 0x45, 0x02, 0xfb, 0xff}));
}

}  // namespace
}  // namespace aegis::signing
