#include "aegis/registry/registry.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "aegis/common/file_util.h"
#include "aegis/crypto/signature.h"
#include "aegis/keys/key_provider.h"
#include "aegis/signing/bundle.h"
#include "common/testing/examples.h"
#include "common/testing/scoped_temp_dir.h"
#include "common/testing/status_matchers.h"

namespace aegis::registry {
namespace {

namespace fs = std::filesystem;

using ::aegis::testing::ReadExample;

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "blobs");
    kek_ = std::move(keys::LocalKeyProvider::Create(dir_ / "keys", std::nullopt)).value();
    publisher_ = crypto::PrivateKey::Generate(crypto::KeyType::kEcdsaP256).value();
    Reopen();
    ASSERT_OK(registry_->AddTrustedKey("publisher", publisher_.public_key().ToPem(), "*", "admin"));
  }
  void Reopen(bool require_signature = true, std::vector<std::string> required = {}, int parallelism = 0) {
    registry_.reset();
    store_.reset();
    store_ = std::move(store::MetadataStore::Open(dir_ / "aegis.db")).value();
    RegistryOptions options;
    options.blobs_dir = dir_ / "blobs";
    options.require_signature = require_signature;
    options.required_models = std::move(required);
    options.load_parallelism = parallelism;
    // The registry's logic, with engines in process: confinement has its own
    // tests (src/runtime, tests/integration/test_confinement.py).
    options.runtime.isolation = runtime::Isolation::kNone;
    // ONNX Runtime always needs a worker process (node): OpenCV runs in process.
    options.runtime.onnx_engine = runtime::OnnxEngine::kOpenCv;
    registry_ = std::make_unique<Registry>(std::move(options), store_.get(), kek_.get(), Clock::Real());
  }

  // A sigstore bundle for `bytes` as a single-file model, signed by `key`.
  std::string Sign(const std::string& bytes, const crypto::PrivateKey& key) {
    const fs::path file = publisher_dir_.path() / "model.bin";  // the publisher's disk, not the server's
    fs::create_directories(file.parent_path());
    EXPECT_OK(WriteFileAtomic(file, bytes, 0600));
    auto manifest = signing::HashModel(file, signing::HashOptions{});
    EXPECT_OK(manifest);
    auto bundle = signing::SignManifest(*manifest, key);
    EXPECT_OK(bundle);
    return bundle.ok() ? *bundle : "";
  }

  Status Push(const std::string& name, const std::string& version, runtime::ModelFormat format,
              const std::string& bytes) {
    return PushWithBundle(name, version, format, bytes, Sign(bytes, publisher_));
  }

  Status PushWithBundle(const std::string& name, const std::string& version, runtime::ModelFormat format,
                        const std::string& bytes, const std::string& bundle) {
    AEGIS_ASSIGN_OR_RETURN(auto session, registry_->BeginPush(name, version, format, "tester", bundle));
    // Uneven chunks, as the network delivers them.
    for (size_t off = 0; off < bytes.size(); off += 1000) {
      size_t n = std::min<size_t>(1000, bytes.size() - off);
      AEGIS_RETURN_IF_ERROR(session->Write({reinterpret_cast<const uint8_t*>(bytes.data()) + off, n}));
    }
    return session->Finish().status();
  }

  // Every file under dir_, concatenated: what an attacker with the disk would see.
  std::string AllBytesOnDisk() {
    std::string all;
    for (const auto& e : fs::recursive_directory_iterator(dir_)) {
      if (e.is_regular_file()) all += ReadFile(e.path(), 1ull << 32).value();
    }
    return all;
  }

  testing::ScopedTempDir tmp_;
  const fs::path& dir_ = tmp_.path();
  testing::ScopedTempDir publisher_dir_;
  crypto::PrivateKey publisher_;
  std::unique_ptr<keys::LocalKeyProvider> kek_;
  std::unique_ptr<store::MetadataStore> store_;
  std::unique_ptr<Registry> registry_;
};

TEST_F(RegistryTest, PushServesAndNeverWritesPlaintext) {
  const std::string model = ReadExample("mlp.onnx");
  ASSERT_OK(Push("mlp", "1", runtime::ModelFormat::kOnnx, model));
  auto served = registry_->Find("mlp", "");
  ASSERT_OK(served);
  EXPECT_EQ((*served)->record.version, "1");
  EXPECT_EQ((*served)->record.created_by, "tester");
  EXPECT_EQ((*served)->instances->platform(), "onnx_opencv");
  const std::string disk = AllBytesOnDisk();
  for (size_t off = 0; off + 64 <= model.size(); off += model.size() / 8) {
    EXPECT_EQ(disk.find(model.substr(off, 64)), std::string::npos) << "plaintext window at " << off;
  }
}

TEST_F(RegistryTest, NewestVersionIsTheLastPushedAndRemoveFallsBack) {
  const std::string model = ReadExample("mlp.onnx");
  ASSERT_OK(Push("mlp", "2", runtime::ModelFormat::kOnnx, model));
  ASSERT_OK(Push("mlp", "10", runtime::ModelFormat::kOnnx, model));
  EXPECT_EQ((*registry_->Find("mlp", ""))->record.version, "10");
  // The served record carries the push sequence the store assigned.
  EXPECT_EQ((*registry_->Find("mlp", "10"))->record.sequence, store_->GetModelVersion("mlp", "10")->sequence);
  EXPECT_GT((*registry_->Find("mlp", "10"))->record.sequence, (*registry_->Find("mlp", "2"))->record.sequence);
  ASSERT_TRUE(registry_->Remove("mlp", "10").ok());
  EXPECT_EQ((*registry_->Find("mlp", ""))->record.version, "2");
  EXPECT_STATUS_IS(registry_->Find("mlp", "10"), StatusCode::kNotFound);
  EXPECT_STATUS_IS(registry_->Remove("mlp", "10"), StatusCode::kNotFound);
}

TEST_F(RegistryTest, AWithdrawnVersionAnswers503UntilItsLastHolderLetsGo) {
  const std::string model = ReadExample("mlp.onnx");
  ASSERT_OK(Push("mlp", "1", runtime::ModelFormat::kOnnx, model));
  ASSERT_OK(Push("mlp", "2", runtime::ModelFormat::kOnnx, model));
  EXPECT_STATUS_IS(registry_->Withdraw("mlp", "3", "incident-a"), StatusCode::kNotFound);
  ASSERT_OK(registry_->Withdraw("mlp", "2", "incident-a"));
  ASSERT_OK(registry_->Withdraw("mlp", "2", "incident-b"));
  EXPECT_STATUS_IS(registry_->Find("mlp", "2"), StatusCode::kUnavailable);
  // The newest is withdrawn: the bare name does not fall back to an older version.
  EXPECT_STATUS_IS(registry_->Find("mlp", ""), StatusCode::kUnavailable);
  EXPECT_OK(registry_->Find("mlp", "1"));
  EXPECT_FALSE(registry_->Reinstate("mlp", "2", "incident-a")) << "incident-b still holds it";
  EXPECT_STATUS_IS(registry_->Find("mlp", "2"), StatusCode::kUnavailable);
  EXPECT_TRUE(registry_->Reinstate("mlp", "2", "incident-b"));
  EXPECT_OK(registry_->Find("mlp", "2"));
  EXPECT_EQ((*registry_->Find("mlp", ""))->record.version, "2");
  EXPECT_TRUE(registry_->Reinstate("mlp", "2", "incident-b")) << "letting go twice is harmless";
}

TEST_F(RegistryTest, RefusesDuplicatesBadNamesAndModelsTheEngineRefuses) {
  const std::string model = ReadExample("mlp.onnx");
  ASSERT_OK(Push("mlp", "1", runtime::ModelFormat::kOnnx, model));
  EXPECT_STATUS_IS(Push("mlp", "1", runtime::ModelFormat::kOnnx, model), StatusCode::kAlreadyExists);
  for (const char* bad : {"", "..", "a/b", "-x", "a..b", "white space", "%2e"}) {
    EXPECT_STATUS_IS(registry_->BeginPush(bad, "1", runtime::ModelFormat::kOnnx, "t"), StatusCode::kInvalidArgument)
        << bad;
  }
  Status refused = Push("junk", "1", runtime::ModelFormat::kOnnx, std::string(4096, 'x'));
  EXPECT_STATUS_IS(refused, StatusCode::kUnprocessable) << refused.message();
  EXPECT_STATUS_IS(registry_->Find("junk", ""), StatusCode::kNotFound);
  // The refused push left nothing behind: one blob, for mlp.
  size_t blobs = 0;
  for (const auto& e : fs::directory_iterator(dir_ / "blobs")) blobs += e.is_regular_file();
  EXPECT_EQ(blobs, 1u);
  // And the name can be pushed again.
  EXPECT_OK(Push("junk", "1", runtime::ModelFormat::kOnnx, model));
  // Refused before any engine saw them (the scanner, a duplicate, a bad name):
  // no load failure for the metrics. A served version knows its load time.
  EXPECT_TRUE(registry_->LoadFailures().empty());
  EXPECT_GT((*registry_->Find("junk", "1"))->load_time.count(), 0);
}

TEST_F(RegistryTest, AbortedPushLeavesNoTrace) {
  {
    const std::string model = ReadExample("mlp.onnx");
    auto session = registry_->BeginPush("mlp", "1", runtime::ModelFormat::kOnnx, "t", Sign(model, publisher_));
    ASSERT_OK(session);
    ASSERT_OK((*session)->Write({reinterpret_cast<const uint8_t*>(model.data()), 100}));
  }  // client disconnected
  EXPECT_TRUE(fs::is_empty(dir_ / "blobs"));
  EXPECT_OK(Push("mlp", "1", runtime::ModelFormat::kOnnx, ReadExample("mlp.onnx")));
}

TEST_F(RegistryTest, ReloadsFromTheEncryptedStoreAfterRestart) {
  ASSERT_OK(Push("mlp", "1", runtime::ModelFormat::kOnnx, ReadExample("mlp.onnx")));
  ASSERT_OK(Push("xgb", "1", runtime::ModelFormat::kXgboost, ReadExample("xgb_classifier.json")));
  Reopen();
  EXPECT_FALSE(registry_->Ready());
  EXPECT_TRUE(registry_->LoadAll().empty());
  EXPECT_TRUE(registry_->Ready());
  EXPECT_OK(registry_->Find("mlp", "1"));
  EXPECT_EQ((*registry_->Find("xgb", ""))->instances->platform(), "xgboost");
}

// A version that fails to load answers 503 by itself; the server is unready
// only when that version is required.
TEST_F(RegistryTest, TamperedBlobIsNotServedAndMakesServerUnreadyOnlyWhenRequired) {
  ASSERT_OK(Push("mlp", "1", runtime::ModelFormat::kOnnx, ReadExample("mlp.onnx")));
  ASSERT_OK(Push("ok", "1", runtime::ModelFormat::kOnnx, ReadExample("mlp.onnx")));
  auto record = store_->GetModelVersion("mlp", "1");
  ASSERT_OK(record);
  const fs::path blob = dir_ / "blobs" / (record->artifact_id + ".blob");
  {
    std::fstream f(blob, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(200);
    char c = 0;
    f.read(&c, 1);
    f.seekp(200);
    c ^= 0x01;
    f.write(&c, 1);
  }
  Reopen();
  ASSERT_EQ(registry_->LoadAll().size(), 1u);
  EXPECT_TRUE(registry_->Ready());
  EXPECT_STATUS_IS(registry_->Find("mlp", "1"), StatusCode::kUnavailable);
  Reopen(true, {"mlp"});
  auto failures = registry_->LoadAll();
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_STATUS_IS(failures[0], StatusCode::kDataLoss) << failures[0].message();
  EXPECT_EQ(registry_->LoadFailures().at("mlp"), 1u);
  EXPECT_EQ(registry_->LoadFailures().count("ok"), 0u);
  EXPECT_GT((*registry_->Find("ok", "1"))->load_time.count(), 0) << "decryption, checks and engine load took time";
  EXPECT_FALSE(registry_->Ready());
  EXPECT_STATUS_IS(registry_->Find("mlp", "1"), StatusCode::kUnavailable);
  EXPECT_STATUS_IS(registry_->Find("mlp", ""), StatusCode::kUnavailable);
  EXPECT_OK(registry_->Find("ok", "1"));
  // Removing the damaged version makes the server ready again.
  ASSERT_OK(registry_->Remove("mlp", "1"));
  EXPECT_TRUE(registry_->Ready());
}

TEST_F(RegistryTest, RequiredByNameMeansItsNewestVersion) {
  ASSERT_OK(Push("mlp", "1", runtime::ModelFormat::kOnnx, ReadExample("mlp.onnx")));
  ASSERT_OK(Push("mlp", "2", runtime::ModelFormat::kOnnx, ReadExample("mlp.onnx")));
  auto record = store_->GetModelVersion("mlp", "1");
  ASSERT_OK(record);
  ASSERT_OK(WriteFileAtomic(dir_ / "blobs" / (record->artifact_id + ".blob"), "not the ciphertext", 0600));
  Reopen(true, {"mlp", "nothing-by-this-name", "mlp/9"});  // the last two name nothing recorded
  EXPECT_EQ(registry_->LoadAll().size(), 1u);
  EXPECT_TRUE(registry_->Ready());
  Reopen(true, {"mlp/1"});
  EXPECT_EQ(registry_->LoadAll().size(), 1u);
  EXPECT_FALSE(registry_->Ready());
}

TEST_F(RegistryTest, LoadsSeveralVersionsAtOnce) {
  for (int v = 1; v <= 6; ++v) {
    ASSERT_OK(
        Push("m" + std::to_string(v % 3), std::to_string(v), runtime::ModelFormat::kOnnx, ReadExample("mlp.onnx")));
  }
  Reopen(true, {"m0", "m1", "m2"}, 3);
  EXPECT_FALSE(registry_->Loaded());
  EXPECT_TRUE(registry_->LoadAll().empty());
  EXPECT_TRUE(registry_->Loaded());
  EXPECT_TRUE(registry_->Ready());
  EXPECT_EQ(registry_->Served().size(), 6u);
  EXPECT_EQ((*registry_->Find("m0", ""))->record.version, "6");
}

// Incidents re-apply their withdrawals before the listeners open, while the
// versions are recorded but not loaded yet: the hold must stick.
TEST_F(RegistryTest, AVersionWithdrawnBeforeItLoadsNeverServes) {
  ASSERT_OK(Push("mlp", "1", runtime::ModelFormat::kOnnx, ReadExample("mlp.onnx")));
  Reopen();
  EXPECT_STATUS_IS(registry_->Withdraw("nope", "1", "incident-1"), StatusCode::kNotFound);
  ASSERT_OK(registry_->Withdraw("mlp", "1", "incident-1"));
  EXPECT_TRUE(registry_->LoadAll().empty());
  EXPECT_STATUS_IS(registry_->Find("mlp", "1"), StatusCode::kUnavailable);
  EXPECT_TRUE(registry_->Reinstate("mlp", "1", "incident-1"));
  EXPECT_OK(registry_->Find("mlp", "1"));
}

TEST_F(RegistryTest, OrphanedBlobsAreRemovedAtStart) {
  ASSERT_OK(WriteFileExclusive(dir_ / "blobs" / "deadbeef.blob", "ciphertext", 0600));
  EXPECT_TRUE(registry_->LoadAll().empty());
  EXPECT_FALSE(fs::exists(dir_ / "blobs" / "deadbeef.blob"));
}

// ---------------------------------------------------------------------------
// The integrity gate: signatures and the scanner.

// The class of an error is its detail, not its wording: a message that merely
// reads like an integrity failure is not one.
TEST(IntegrityFailureTest, IsTheDetailNotTheMessage) {
  EXPECT_FALSE(IsIntegrityFailure(Status::Unprocessable("integrity check failed: looks the part")));
  EXPECT_FALSE(IsIntegrityFailure(Status::Ok()));
  EXPECT_TRUE(IsIntegrityFailure(Status(StatusCode::kUnprocessable, "refused", ErrorDetail::kIntegrityFailure)));
}

TEST_F(RegistryTest, UnsignedPushIsRefusedBeforeTheBodyUnlessThePolicyAllowsIt) {
  auto refused = registry_->BeginPush("mlp", "1", runtime::ModelFormat::kOnnx, "t");
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(IsIntegrityFailure(refused.status())) << refused.status().message();
  EXPECT_EQ(refused.status().code(), StatusCode::kUnprocessable);
  EXPECT_TRUE(refused.status().message().starts_with("integrity check failed: ")) << refused.status().message();
  EXPECT_NE(refused.status().message().find("signature"), std::string::npos);
  Reopen(/*require_signature=*/false);
  EXPECT_OK(PushWithBundle("mlp", "1", runtime::ModelFormat::kOnnx, ReadExample("mlp.onnx"), ""));
  // A stored unsigned version is not served once signatures are required again.
  Reopen(/*require_signature=*/true);
  auto failures = registry_->LoadAll();
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_TRUE(IsIntegrityFailure(failures[0])) << failures[0].message();
  EXPECT_EQ(registry_->Find("mlp", "1").status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(registry_->Find("mlp", "").status().code(), StatusCode::kUnavailable);
  // Only that name is unavailable, not names that share a prefix with it.
  EXPECT_EQ(registry_->Find("ml", "").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(registry_->Find("mlp2", "").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(registry_->Ready());  // not required: only that model is unavailable
  // Removing the version clears its failure.
  ASSERT_TRUE(registry_->Remove("mlp", "1").ok());
  EXPECT_EQ(registry_->Find("mlp", "").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(registry_->Ready());
}

TEST_F(RegistryTest, SignatureFromAnUntrustedKeyOrOutOfScopeIsRefused) {
  const std::string model = ReadExample("mlp.onnx");
  auto stranger = crypto::PrivateKey::Generate(crypto::KeyType::kEcdsaP256).value();
  auto untrusted = registry_->BeginPush("mlp", "1", runtime::ModelFormat::kOnnx, "t", Sign(model, stranger));
  ASSERT_FALSE(untrusted.ok());
  EXPECT_TRUE(IsIntegrityFailure(untrusted.status()));
  EXPECT_NE(untrusted.status().message().find("not signed by a key trusted"), std::string::npos)
      << untrusted.status().message();

  // A key trusted for fraud-* only cannot sign "mlp".
  ASSERT_OK(registry_->RemoveTrustedKey("publisher"));
  ASSERT_OK(registry_->AddTrustedKey("fraud-team", publisher_.public_key().ToPem(), "fraud-*", "admin"));
  Status scoped = Push("mlp", "1", runtime::ModelFormat::kOnnx, model);
  EXPECT_NE(scoped.message().find("no key in the trust store may sign model 'mlp'"), std::string::npos)
      << scoped.message();
  EXPECT_OK(Push("fraud-detector", "1", runtime::ModelFormat::kOnnx, model));
  auto record = store_->GetModelVersion("fraud-detector", "1");
  ASSERT_OK(record);
  ASSERT_TRUE(record->signature.has_value());
  EXPECT_EQ(record->signature->signer, "fraud-team");
  EXPECT_EQ(record->signature->fingerprint, publisher_.public_key().fingerprint());
}

TEST_F(RegistryTest, BytesThatDifferFromTheSignedOnesAreRefused) {
  std::string model = ReadExample("mlp.onnx");
  const std::string bundle = Sign(model, publisher_);
  model[model.size() / 2] ^= 0x20;
  Status refused = PushWithBundle("mlp", "1", runtime::ModelFormat::kOnnx, model, bundle);
  EXPECT_TRUE(IsIntegrityFailure(refused)) << refused.message();
  EXPECT_TRUE(fs::is_empty(dir_ / "blobs"));
  EXPECT_FALSE(store_->GetModelVersion("mlp", "1").ok());
}

TEST_F(RegistryTest, TheScannerRefusesSignedButDangerousBytes) {
  // A protocol-0 pickle calling os.system, validly signed, declared as ONNX.
  const std::string pickle = "cos\nsystem\n(S'touch /tmp/pwned'\ntR.";
  Status refused = Push("evil", "1", runtime::ModelFormat::kOnnx, pickle);
  EXPECT_TRUE(IsIntegrityFailure(refused)) << refused.message();
  EXPECT_NE(refused.message().find("system"), std::string::npos) << refused.message();
  // A clean model of another format than declared is refused too.
  Status mismatch = Push("xgb", "1", runtime::ModelFormat::kOnnx, ReadExample("xgb_classifier.json"));
  EXPECT_TRUE(IsIntegrityFailure(mismatch)) << mismatch.message();
  EXPECT_TRUE(fs::is_empty(dir_ / "blobs"));
  // Both refusals are counted for metrics; only the pickle had scanner findings.
  const IntegrityCounts counts = registry_->Integrity();
  EXPECT_EQ(counts.failures, 2u);
  EXPECT_GE(counts.scan_findings, 1u);
  EXPECT_TRUE(registry_->Served().empty());
}

TEST_F(RegistryTest, IntegrityCountsCoverPushAndLoadAndServedListsTheTable) {
  EXPECT_EQ(registry_->Integrity().failures, 0u);
  ASSERT_FALSE(registry_->BeginPush("mlp", "1", runtime::ModelFormat::kOnnx, "t").ok());  // unsigned
  EXPECT_EQ(registry_->Integrity().failures, 1u);
  // Not an integrity failure: not counted.
  ASSERT_FALSE(registry_->BeginPush("../x", "1", runtime::ModelFormat::kOnnx, "t", "b").ok());
  EXPECT_EQ(registry_->Integrity().failures, 1u);
  ASSERT_OK(Push("mlp", "1", runtime::ModelFormat::kOnnx, ReadExample("mlp.onnx")));
  ASSERT_OK(Push("mlp", "2", runtime::ModelFormat::kOnnx, ReadExample("mlp.onnx")));
  auto served = registry_->Served();
  ASSERT_EQ(served.size(), 2u);
  EXPECT_EQ(served[0]->record.version, "1");
  EXPECT_EQ(served[1]->record.version, "2");
  EXPECT_EQ(registry_->Integrity().scan_findings, 0u);
  // A tampered blob is a load-time integrity failure.
  for (const auto& entry : fs::directory_iterator(dir_ / "blobs")) {
    std::string bytes = ReadFile(entry.path()).value();
    bytes[bytes.size() - 5] ^= 1;
    ASSERT_OK(WriteFileAtomic(entry.path(), bytes, 0600));
  }
  Reopen();
  EXPECT_EQ(registry_->LoadAll().size(), 2u);
  EXPECT_EQ(registry_->Integrity().failures, 2u);
  EXPECT_TRUE(registry_->Served().empty());
}

TEST_F(RegistryTest, RemovingATrustedKeyWithdrawsWhatItSigned) {
  ASSERT_OK(Push("mlp", "1", runtime::ModelFormat::kOnnx, ReadExample("mlp.onnx")));
  auto other = crypto::PrivateKey::Generate(crypto::KeyType::kEd25519).value();
  ASSERT_OK(registry_->AddTrustedKey("other", other.public_key().ToPem(), "*", "admin"));
  ASSERT_OK(PushWithBundle("mlp", "2", runtime::ModelFormat::kOnnx, ReadExample("mlp.onnx"),
                           Sign(ReadExample("mlp.onnx"), other)));
  auto withdrawn = registry_->RemoveTrustedKey("publisher");
  ASSERT_OK(withdrawn);
  EXPECT_EQ(*withdrawn, std::vector<std::string>{"mlp/1"});
  EXPECT_STATUS_IS(registry_->Find("mlp", "1"), StatusCode::kUnavailable);
  EXPECT_OK(registry_->Find("mlp", "2"));
  EXPECT_STATUS_IS(registry_->RemoveTrustedKey("publisher"), StatusCode::kNotFound);
  // After a restart the withdrawn version stays unserved.
  Reopen();
  EXPECT_EQ(registry_->LoadAll().size(), 1u);
  EXPECT_OK(registry_->Find("mlp", "2"));
}

// Revocation has no gap: a push whose signer is removed while it uploads (after
// its signature was checked) is recorded but never served.
TEST_F(RegistryTest, AKeyRemovedWhileAPushUploadsKeepsThatPushFromServing) {
  const std::string model = ReadExample("mlp.onnx");
  auto session = registry_->BeginPush("mlp", "1", runtime::ModelFormat::kOnnx, "t", Sign(model, publisher_));
  ASSERT_TRUE(session.ok()) << session.status().message();
  ASSERT_TRUE((*session)->Write({reinterpret_cast<const uint8_t*>(model.data()), model.size()}).ok());
  auto withdrawn = registry_->RemoveTrustedKey("publisher");
  ASSERT_TRUE(withdrawn.ok());
  EXPECT_TRUE(withdrawn->empty());  // nothing it signed is served yet
  auto finished = (*session)->Finish();
  ASSERT_FALSE(finished.ok());
  EXPECT_TRUE(IsIntegrityFailure(finished.status())) << finished.status().message();
  EXPECT_EQ(registry_->Find("mlp", "1").status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(registry_->Served().empty());
  EXPECT_EQ(registry_->Integrity().failures, 1u);
}

TEST_F(RegistryTest, ADoctoredSignatureInTheStoreIsCaughtAtLoad) {
  ASSERT_OK(Push("mlp", "1", runtime::ModelFormat::kOnnx, ReadExample("mlp.onnx")));
  registry_.reset();
  store_.reset();
  // An attacker with the database swaps the stored bundle for one of another model.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "aegis.db").c_str(), &db), SQLITE_OK);
  const std::string other = Sign(ReadExample("xgb_classifier.json"), publisher_);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "UPDATE model_versions SET signature_bundle = ?", -1, &stmt, nullptr), SQLITE_OK);
  sqlite3_bind_text(stmt, 1, other.c_str(), static_cast<int>(other.size()), SQLITE_TRANSIENT);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_DONE);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  Reopen();
  auto failures = registry_->LoadAll();
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_TRUE(IsIntegrityFailure(failures[0])) << failures[0].message();
}

TEST_F(RegistryTest, TrustStoreValidatesItsInput) {
  const std::string pem = publisher_.public_key().ToPem();
  EXPECT_STATUS_IS(registry_->AddTrustedKey("../x", pem, "*", "a"), StatusCode::kInvalidArgument);
  EXPECT_STATUS_IS(registry_->AddTrustedKey("k", pem, "a/b", "a"), StatusCode::kInvalidArgument);
  EXPECT_STATUS_IS(registry_->AddTrustedKey("k", "not a pem", "*", "a"), StatusCode::kInvalidArgument);
  EXPECT_STATUS_IS(registry_->AddTrustedKey("k", pem, "*", "a"), StatusCode::kAlreadyExists);
  auto keys = registry_->ListTrustedKeys();
  ASSERT_OK(keys);
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].key_type, "ecdsa-p256");
}

}  // namespace
}  // namespace aegis::registry
