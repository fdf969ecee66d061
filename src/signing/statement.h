// Internal to src/signing: the in-toto Statement v1 that carries an OMS
// manifest, parsed from a (signature-checked) DSSE payload.
//
// Thread-safety: stateless.
#pragma once

#include <string_view>

#include "aegis/common/status.h"
#include "aegis/signing/manifest.h"

namespace aegis::signing::internal {

inline constexpr std::string_view kStatementType = "https://in-toto.io/Statement/v1";

// Builds the manifest a statement describes, refusing anything
// ValidateManifest refuses and a subject digest that does not match the
// resources. Accepts any key order and whitespace, integral floats for
// shard_size, and the older "sha256-sharded-N" hash_type spelling.
StatusOr<Manifest> ParseStatement(std::string_view payload);

}  // namespace aegis::signing::internal
