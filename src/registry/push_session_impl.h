// The state of one push (internal to src/registry): shared by Registry::BeginPush,
// which creates it, and push_session.cc, which drives it.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "aegis/crypto/hash.h"
#include "aegis/crypto/secure_buffer.h"
#include "aegis/registry/registry.h"
#include "aegis/store/encrypted_blob.h"
#include "integrity.h"

namespace aegis::registry {

struct PushSession::Impl {
  Registry* registry = nullptr;
  ModelKey reservation;
  store::ModelVersionRecord record;
  runtime::ModelFormat format{};
  store::ArtifactId artifact_id{};
  crypto::SecureBuffer dek;
  crypto::SecureBuffer plaintext;  // kept in memory for the checks and the engine; never written
  crypto::Sha256Hasher hasher;
  std::unique_ptr<store::BlobWriter> writer;
  std::optional<internal::VerifiedSignature> signature;  // verified before the body was read
  bool done = false;
};

}  // namespace aegis::registry
