#include "signing_key.h"

#include <nlohmann/json.hpp>

#include "aegis/audit/log_verifier.h"
#include "aegis/common/file_util.h"
#include "aegis/crypto/encoding.h"
#include "log_files.h"

namespace aegis::audit::internal {
namespace {

// Bound as associated data: a wrapped blob moved here from elsewhere fails to unwrap.
constexpr std::string_view kWrapContext = "aegis:audit-signing-key:v1";

Status WritePublicKey(const std::filesystem::path& audit_dir, const crypto::PublicKey& key) {
  nlohmann::ordered_json j;
  j["key_id"] = key.fingerprint();
  j["algorithm"] = "ed25519";
  j["public_key"] = key.ToPem();
  return WriteFileAtomic(audit_dir / kKeyFile, j.dump() + "\n", 0644);
}

}  // namespace

StatusOr<crypto::PrivateKey> LoadOrCreateSigningKey(const std::filesystem::path& key_file,
                                                    const std::filesystem::path& audit_dir,
                                                    const keys::KeyProvider& kek, bool* created) {
  *created = false;
  const auto context = crypto::AsBytes(kWrapContext);
  std::error_code ec;
  if (!std::filesystem::exists(key_file, ec)) {
    if (std::filesystem::file_size(audit_dir / kHeadsFile, ec) > 0 && !ec) {
      return Status::DataLoss("the audit signing key " + key_file.string() +
                              " is missing but the log has signed heads; restore it from backup");
    }
    AEGIS_ASSIGN_OR_RETURN(auto key, crypto::PrivateKey::Generate(crypto::KeyType::kEd25519));
    const crypto::SecureBuffer pem = key.ToPem();
    AEGIS_ASSIGN_OR_RETURN(auto wrapped, kek.Wrap(pem.span(), context));
    AEGIS_RETURN_IF_ERROR(WriteFileExclusive(
        key_file, std::string_view(reinterpret_cast<const char*>(wrapped.data()), wrapped.size()), 0600));
    AEGIS_RETURN_IF_ERROR(SyncDirectory(key_file.parent_path()));
    AEGIS_RETURN_IF_ERROR(WritePublicKey(audit_dir, key.public_key()));
    *created = true;
    return key;
  }
  AEGIS_ASSIGN_OR_RETURN(std::string wrapped, ReadFile(key_file, 4096));
  auto pem = kek.Unwrap(crypto::AsBytes(wrapped), context);
  if (!pem.ok())
    return Status::DataLoss("cannot unwrap the audit signing key " + key_file.string() + ": " + pem.status().message());
  AEGIS_ASSIGN_OR_RETURN(auto key, crypto::PrivateKey::FromPem(pem->view()));
  if (key.type() != crypto::KeyType::kEd25519) return Status::DataLoss("the audit signing key is not Ed25519");
  if (!std::filesystem::exists(audit_dir / kKeyFile, ec)) {
    AEGIS_RETURN_IF_ERROR(WritePublicKey(audit_dir, key.public_key()));
    return key;
  }
  AEGIS_ASSIGN_OR_RETURN(auto published, ReadAuditPublicKey(audit_dir));
  if (published.fingerprint() != key.public_key().fingerprint()) {
    return Status::DataLoss("audit/key.json names key " + published.fingerprint() + ", not the audit signing key " +
                            key.public_key().fingerprint());
  }
  return key;
}

}  // namespace aegis::audit::internal
