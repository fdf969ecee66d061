// The audit log's signing key (internal to the audit module): an Ed25519 key made
// on the first Open, stored wrapped by the KEK, with its public half in
// DIR/audit/key.json for verifiers.
//
// Thread-safety: stateless function.
#pragma once

#include <filesystem>

#include "aegis/common/status.h"
#include "aegis/crypto/signature.h"
#include "aegis/keys/key_provider.h"

namespace aegis::audit::internal {

// Loads the key from `key_file` (unwrapping it with `kek`), or creates it when the
// log has never been signed. Refuses a missing key once heads exist, and a
// key.json that names another key.
StatusOr<crypto::PrivateKey> LoadOrCreateSigningKey(const std::filesystem::path& key_file,
                                                    const std::filesystem::path& audit_dir,
                                                    const keys::KeyProvider& kek, bool* created);

}  // namespace aegis::audit::internal
